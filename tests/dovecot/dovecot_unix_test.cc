// Real-server test for `export --from unix` (issue 17), against the
// real-unix-mbox fixture's client-view/ (what real Dovecot 2.3.19.1 showed
// POP3 and IMAP clients on that Unix host; see client-view/README).
//
// Part 1 (the harness): a private Dovecot serves the unpacked source tree as
// client-view/README describes (mbox:~/mail:INBOX=/var/mail/%u, INDEX=MEMORY,
// separator "/", TZ=Europe/Berlin, passwd-file from etc/passwd + etc/shadow
// with CRYPT hashes, a master user for accounts that cannot log in, the tree
// read-only) and must show exactly client-view/*.txt.
// Part 2: the tree `export --from unix` + `import` made, served from Maildir
// (separator "/", same TZ, pop3_uidl_format %f: a UIDL stored in
// dovecot-uidlist wins over it), must show the same view to every migrated
// user; LIST attributes are compared as selectable or not, \Recent is left
// out, ken's ~/mbox is checked as an extra folder "mbox".
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "dovecot/dovecot_server.h"
#include "dovecot/mail_snapshot.h"
#include "dovecot/unix_view.h"
#include "support/test_support.h"

namespace vmigrate::testing::dovecot {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFixture = "real-unix-mbox";
constexpr const char* kDomain = "example.com";
constexpr const char* kZone = "Europe/Berlin";
constexpr const char* kMaster = "vmmaster";
constexpr const char* kMasterPassword = "Master-Secret-17";

/// The four POP3 runs of client-view: file suffix, Dovecot's pop3_uidl_format
/// (+ pop3_reuse_xuidl), and the --old-pop3-uidl that keeps those UIDLs.
struct UidlRun {
  std::string file;
  std::string dovecot_format;
  bool reuse_xuidl;
  std::string old_pop3_uidl;
};
const std::vector<UidlRun>& UidlRuns() {
  static const std::vector<UidlRun> runs = {
      {"default", "%08Xu%08Xv", false, "%08Xu%08Xv"},
      {"uw", "%08Xv%08Xu", false, "%08Xv%08Xu"},
      {"cyrus", "%v.%u", false, "%v.%u"},
      {"xuidl", "%08Xu%08Xv", true, "x-uidl"},
  };
  return runs;
}

/// Everything one Dovecot run showed, in client-view's line format.
struct View {
  ImapView imap;
  std::map<std::string, std::vector<std::string>> pop3;  // UidlRun::file -> lines
  std::vector<std::string> errors;
};

/// The expected view: client-view/*.txt.
struct Expected {
  std::vector<std::string> folders, messages, lsub, auth;
  std::map<std::string, std::vector<std::string>> pop3;
};
Expected ReadExpected(const std::string& dir) {
  Expected e;
  e.folders = ViewLines(ReadFile(dir + "/imap-folders.txt"));
  e.messages = ViewLines(ReadFile(dir + "/imap-messages.txt"));
  e.lsub = ViewLines(ReadFile(dir + "/imap-lsub.txt"));
  e.auth = ViewLines(ReadFile(dir + "/auth.txt"));
  for (const auto& run : UidlRuns()) e.pop3[run.file] = ViewLines(ReadFile(dir + "/pop3-uidl-" + run.file + ".txt"));
  return e;
}

/// name -> cleartext password from the tarball MANIFEST's "## users" section
/// (name, uid, gid, home, shell, scheme, set with, password, ...).
std::map<std::string, std::string> ManifestPasswords(const std::string& manifest) {
  std::map<std::string, std::string> out;
  std::istringstream in(manifest);
  std::string line;
  bool in_users = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_users = line.rfind("## users", 0) == 0;
    if (!in_users || line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = SplitTabs(line);
    if (f.size() >= 8) out[f[0]] = f[7];
  }
  return out;
}

/// Users client-view shows (the first column of imap-folders.txt).
std::vector<std::string> ViewUsers(const Expected& e) {
  std::set<std::string> users;
  for (const auto& l : e.folders) users.insert(SplitTabs(l)[0]);
  return {users.begin(), users.end()};
}

/// Users whose own password logged in to the source Dovecot (auth.txt).
std::set<std::string> OwnLoginUsers(const Expected& e) {
  std::set<std::string> out;
  for (const auto& l : e.auth) {
    std::vector<std::string> f = SplitTabs(l);
    if (f.size() >= 4 && f[1] == "dovecot-passwd-file-CRYPT" && f[2] == "correct-password" && f[3] == "OK")
      out.insert(f[0]);
  }
  return out;
}

/// How each view user logs in: with the MANIFEST password, or (accounts whose
/// password cannot log in) as "<login>*vmmaster" with the master password.
std::vector<ViewLogin> Logins(const Expected& e, const std::map<std::string, std::string>& passwords,
                              const std::function<std::string(const std::string&)>& login_of) {
  std::set<std::string> own = OwnLoginUsers(e);
  std::vector<ViewLogin> out;
  for (const auto& user : ViewUsers(e)) {
    auto it = passwords.find(user);
    if (own.count(user) && it != passwords.end())
      out.push_back({user, login_of(user), it->second});
    else
      out.push_back({user, login_of(user) + "*" + kMaster, kMasterPassword});
  }
  return out;
}

/// A master passdb (login "user*vmmaster") ahead of the users' passwd-file.
std::string AuthWithMaster(const std::string& work, const std::string& passwd_file) {
  std::string master_file = work + "/master-users";
  WriteFile(master_file, std::string(kMaster) + ":{PLAIN}" + kMasterPassword + "\n");
  chmod(master_file.c_str(), 0644);
  return "auth_master_user_separator = *\n"
         "passdb {\n  driver = passwd-file\n  master = yes\n  args = scheme=PLAIN " + master_file + "\n}\n" +
         DovecotServer::PasswdFileAuth(passwd_file);
}

/// Starts a Dovecot (a few tries: a free port may be taken meanwhile).
std::unique_ptr<DovecotServer> StartServer(const std::string& work, const std::string& auth,
                                           const DovecotSettings& settings, std::string* error) {
  DovecotIdentity id = PickIdentity();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto server = std::make_unique<DovecotServer>(work + "-" + std::to_string(attempt), auth, id, settings);
    if (server->Start(error)) return server;
  }
  return nullptr;
}

/// Serves with one Dovecot per POP3 run. The first server also gives the IMAP
/// view (LIST/EXAMINE/FETCH), server number `lsub_run` the LSUB lines.
/// `while_serving` runs against the first server (login checks).
/// One server of a Collect: its passdb/userdb blocks and settings.
struct RunSetup {
  std::string auth;
  DovecotSettings settings;
};

void Collect(const std::string& work, const std::vector<ViewLogin>& logins,
             const std::function<RunSetup(const UidlRun&)>& setup_for, size_t lsub_run, View* view,
             const std::function<void(const DovecotServer&)>& while_serving) {
  for (size_t r = 0; r < UidlRuns().size(); ++r) {
    const UidlRun& run = UidlRuns()[r];
    std::string error;
    RunSetup setup = setup_for(run);
    auto server = StartServer(work + "/" + run.file, setup.auth, setup.settings, &error);
    ASSERT_TRUE(server) << "Dovecot did not start:\n" << error;
    for (const auto& u : logins) {
      try {
        if (r == 0 || r == lsub_run) {
          ImapView imap;
          CollectImap(server->imap_port(), u, &imap);
          if (r == 0) {
            view->imap.folders.insert(view->imap.folders.end(), imap.folders.begin(), imap.folders.end());
            view->imap.messages.insert(view->imap.messages.end(), imap.messages.begin(), imap.messages.end());
          }
          if (r == lsub_run) view->imap.lsub.insert(view->imap.lsub.end(), imap.lsub.begin(), imap.lsub.end());
        }
        CollectPop3(server->pop3_port(), u, &view->pop3[run.file]);
      } catch (const MailClientError& e) {
        view->errors.push_back(run.file + " run, " + u.user + " (" + u.login + "): " + e.what());
      }
    }
    if (r == 0 && while_serving) while_serving(*server);
    server->Stop();
    if (!view->errors.empty()) {
      ADD_FAILURE() << Join(view->errors) << server->LogProblems().substr(0, 20000);
      return;
    }
  }
}

/// Every auth.txt line of the Dovecot kind ("correct-password",
/// "password-plus-x", "any-password" -> OK/FAIL) checked by IMAP LOGIN.
/// `login_of` maps a view user to the server's login name.
void CheckLogins(int port, const std::vector<std::string>& auth, const std::map<std::string, std::string>& passwords,
                 const std::function<std::string(const std::string&)>& login_of) {
  size_t checked = 0;
  for (const auto& l : auth) {
    std::vector<std::string> f = SplitTabs(l);
    if (f.size() < 4 || f[1] != "dovecot-passwd-file-CRYPT") continue;
    std::string pw = passwords.count(f[0]) ? passwords.at(f[0]) : "";
    std::vector<std::string> tries;
    if (f[2] == "correct-password") tries = {pw};
    else if (f[2] == "password-plus-x") tries = {pw + "x"};
    else if (f[2] == "any-password") tries = {"", "x", pw};
    ASSERT_FALSE(tries.empty()) << "unknown auth.txt check: " << l;
    for (const auto& t : tries) {
      bool ok = ImapLoginWorks(port, login_of(f[0]), t);
      EXPECT_EQ(ok ? "OK" : "FAIL", f[3]) << "LOGIN " << login_of(f[0]) << " (" << l << ") with \"" << t << "\"";
      ++checked;
    }
  }
  EXPECT_GT(checked, 20u) << "auth.txt gave too few Dovecot login checks";
}

/// Makes the tree under `root` read-only to everyone but root (the way
/// client-view was taken: Dovecot rewrites mbox headers of mailboxes it only
/// reads when it can) and readable by Dovecot's mail processes.
void MakeReadOnly(const std::string& top, const std::string& root) {
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_symlink()) continue;
    chmod(it->path().c_str(), it->is_directory() ? 0555 : 0444);
  }
  chmod(root.c_str(), 0555);
  for (fs::path p = fs::path(root).parent_path(); p.string().size() >= top.size(); p = p.parent_path()) {
    struct stat st;
    if (stat(p.c_str(), &st) == 0) chmod(p.c_str(), (st.st_mode & 07777) | 0111);
    if (p == p.parent_path()) break;
  }
}

/// The source's passwd-file: every etc/passwd account with its etc/shadow
/// hash verbatim, home under `root`, served as Dovecot's mail uid.
std::string SourcePasswdFile(const std::string& root, const DovecotIdentity& id) {
  std::map<std::string, std::string> shadow;
  for (const auto& l : cli::Lines(ReadFile(root + "/etc/shadow"))) {
    size_t c = l.find(':');
    if (c == std::string::npos) continue;
    size_t c2 = l.find(':', c + 1);
    shadow[l.substr(0, c)] = l.substr(c + 1, c2 == std::string::npos ? std::string::npos : c2 - c - 1);
  }
  std::ostringstream out;
  for (const auto& l : cli::Lines(ReadFile(root + "/etc/passwd"))) {
    std::vector<std::string> f;
    std::string field;
    std::istringstream fl(l);
    while (std::getline(fl, field, ':')) f.push_back(field);
    if (f.size() < 6) continue;
    std::string hash = shadow.count(f[0]) ? shadow[f[0]] : f[1];
    out << f[0] << ":{CRYPT}" << hash << ":" << id.mail_uid << ":" << id.mail_gid << "::" << root + f[5] << "::\n";
  }
  return out.str();
}

/// What client-view/README lists as the source server's settings.
std::string CommonExtra() {
  return "mailbox_list_index = no\n"
         "auth_failure_delay = 0\n"
         // No auth penalty for the login checks that must fail (anvil would
         // delay every later login from 127.0.0.1 up to 15 s).
         "login_trusted_networks = 127.0.0.0/8\n"
         "namespace inbox {\n  inbox = yes\n  separator = /\n}\n";
}

void ExpectSameView(const Expected& expected, const View& got, const std::string& label,
                    const std::function<std::vector<std::string>(std::vector<std::string>)>& folder_filter =
                        [](std::vector<std::string> v) { return v; },
                    const std::function<std::vector<std::string>(std::vector<std::string>)>& flag_filter =
                        [](std::vector<std::string> v) { return v; },
                    const std::vector<std::string>& expected_lsub = {}) {
  std::vector<std::string> diffs;
  auto add = [&](const std::vector<std::string>& d) { diffs.insert(diffs.end(), d.begin(), d.end()); };
  add(DiffView("imap-folders", folder_filter(expected.folders), folder_filter(got.imap.folders), 2));
  add(DiffView("imap-messages", flag_filter(expected.messages), flag_filter(got.imap.messages), 3));
  add(DiffView("imap-lsub", expected_lsub.empty() ? expected.lsub : expected_lsub, got.imap.lsub, 2));
  for (const auto& run : UidlRuns()) {
    auto it = got.pop3.find(run.file);
    add(DiffView("pop3-uidl-" + run.file, expected.pop3.at(run.file),
                 it == got.pop3.end() ? std::vector<std::string>{} : it->second, 2));
  }
  EXPECT_TRUE(diffs.empty()) << label << " differs from client-view/:\n" << Join(diffs, 400);
  // A view with nothing in it would prove nothing.
  EXPECT_GT(got.imap.messages.size(), 40u) << label;
}

class DovecotUnixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DovecotInstalled()) return;
    UnpackFixture(kFixture, src_.path());
    root_ = src_.path() + "/tmp/realvp";
    expected_ = ReadExpected(root_ + "/client-view");
    passwords_ = ManifestPasswords(ReadFile(root_ + "/MANIFEST"));
  }

  TempDir src_, work_;
  std::string root_;
  Expected expected_;
  std::map<std::string, std::string> passwords_;
};

// Part 1: the harness reproduces client-view on the source tree itself.
// Everything is compared exactly, FLAGS with \Recent (on a read-only mbox
// Dovecot gives it, in every session, to messages whose Status has no 'O'),
// except the UIDVALIDITYs client-view marks none-on-disk.
TEST_F(DovecotUnixTest, SourceMboxTreeShowsClientView) {
  SKIP_WITHOUT_DOVECOT();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(ViewUsers(expected_).size(), 12u);
  DovecotIdentity id = PickIdentity();
  MakeWorkDir(work_.path());
  std::string passwd_file = work_ / "passwd";
  WriteFile(passwd_file, SourcePasswdFile(root_, id));
  chmod(passwd_file.c_str(), 0644);
  std::string auth = AuthWithMaster(work_.path(), passwd_file);
  // CONTROL outside the tree for the IMAP run, Dovecot's default (~/mail,
  // where .subscriptions lives) for the others, as client-view was taken.
  std::string control = work_ / "control";
  fs::create_directories(control);
  chmod(control.c_str(), 01777);
  MakeReadOnly(src_.path(), root_);
  const std::vector<std::string> data = {"home", "var/mail"};
  std::map<std::string, std::string> before, after;
  for (const auto& d : data)
    for (const auto& [k, v] : TreeDigest(root_ + "/" + d)) before[d + "/" + k] = v;

  auto setup_for = [&](const UidlRun& run) {
    DovecotSettings s;
    s.mail_location = "mbox:~/mail:INBOX=" + root_ + "/var/mail/%u:INDEX=MEMORY";
    if (run.file == "default") s.mail_location += ":CONTROL=" + control + "/%u";
    s.pop3_uidl_format = run.dovecot_format;
    s.tz = kZone;
    // UW-compatible locks (read: flock; write must include the read locks).
    s.extra = CommonExtra() + "mbox_read_locks = flock\nmbox_write_locks = dotlock flock\n" +
              "pop3_no_flag_updates = yes\n" + (run.reuse_xuidl ? "pop3_reuse_xuidl = yes\n" : "");
    return RunSetup{auth, s};
  };
  auto same_name = [](const std::string& user) { return user; };
  std::vector<ViewLogin> logins = Logins(expected_, passwords_, same_name);
  View got;
  // LSUB from the second run: Dovecot's default CONTROL (~/mail/.subscriptions).
  Collect(work_ / "source", logins, setup_for, 1, &got,
          [&](const DovecotServer& s) { CheckLogins(s.imap_port(), expected_.auth, passwords_, same_name); });
  ASSERT_FALSE(HasFailure());
  ExpectSameView(expected_, got, "Dovecot on the source mbox tree");

  for (const auto& d : data)
    for (const auto& [k, v] : TreeDigest(root_ + "/" + d)) after[d + "/" + k] = v;
  EXPECT_EQ(before, after) << "serving the read-only source changed it";
}

/// Accounts of the fixture that must not become vpopmail users: no usable
/// password and nothing to keep (judy), deleted (oscar), root, system accounts.
const std::vector<std::string>& NotMigrated() {
  static const std::vector<std::string> names = {"judy", "oscar", "root", "postgres", "nobody", "daemon", "mail",
                                                 "debian-exim"};
  return names;
}

/// The view lines without `user`'s.
std::vector<std::string> WithoutUser(const std::vector<std::string>& lines, const std::string& user) {
  std::vector<std::string> out;
  for (const auto& l : lines)
    if (SplitTabs(l)[0] != user) out.push_back(l);
  return out;
}

/// imap-folders with the LIST attributes reduced to "selectable or not":
/// \NoInferiors, \UnMarked (mbox) and \HasNoChildren (Maildir++) describe the
/// storage, not the mail. A \Noselect entry (mbox: the directory holding a
/// folder file, "Archive" of "Archive/2023") is left out: it holds no mail,
/// and Dovecot 2.3 on Maildir++ without a list index does not list such a
/// parent of ".Archive.2023" (seen with this configuration); the child's
/// name still shows the hierarchy.
std::vector<std::string> SelectableOnly(std::vector<std::string> lines) {
  std::vector<std::string> out;
  for (auto& l : lines) {
    std::vector<std::string> f = SplitTabs(l);
    if (f.back().find("\\Noselect") != std::string::npos) continue;
    f.back() = "()";
    out.push_back(JoinTabs(f));
  }
  return out;
}

/// imap-messages without \Recent: it is session state (Dovecot gives it to the
/// first session that sees a message: on mbox, messages whose Status has no
/// 'O'; on Maildir, files in new/), not mail state. Everything else in FLAGS
/// is compared.
std::vector<std::string> WithoutRecentFlag(std::vector<std::string> lines) {
  for (auto& l : lines) {
    std::vector<std::string> f = SplitTabs(l);
    std::string flags = WithoutRecent(f[3]);
    f[3] = SortedFlags(flags.substr(1, flags.size() - 2));
    l = JoinTabs(f);
  }
  return lines;
}

/// A migrated tree: `export --from unix` of the source with
/// `--old-pop3-uidl FORMAT`, imported into an empty vpopmail target.
struct Target {
  std::unique_ptr<TempDir> dir;
  std::string domain_disk;                      // on-disk domain dir
  std::map<std::string, VpasswdLogin> logins;  // vpasswd
};

// Part 2: the tree export --from unix + import made shows every migrated user
// what client-view shows, for each of the four POP3 UIDL formats.
TEST_F(DovecotUnixTest, ImportedVpopmailTreeShowsClientView) {
  SKIP_WITHOUT_DOVECOT();
  ASSERT_FALSE(HasFatalFailure());
  DovecotIdentity id = PickIdentity();
  MakeWorkDir(work_.path());
  std::map<std::string, Target> targets;  // UidlRun::file -> target
  std::map<std::string, std::string> auths;
  for (const auto& run : UidlRuns()) {
    std::string archive = work_ / ("unix-" + run.file + ".vma");
    CommandResult e = RunVmigrate({"export", "--from", "unix", kDomain, "-o", archive, "--root", root_,
                                   "--old-pop3-uidl", run.old_pop3_uidl, "--locked", "disable"});
    ASSERT_EQ(e.exit_code, 0) << "export --from unix --old-pop3-uidl " << run.old_pop3_uidl << ":\n" << e.err;
    Target& t = targets[run.file];
    t.dir = std::make_unique<TempDir>();
    cli::MakeEmptyTarget(t.dir->path());
    CommandResult i = cli::Import(t.dir->path(), archive);
    ASSERT_EQ(i.exit_code, 0) << "import of " << archive << ":\n" << i.err;

    std::string dir = AssignDomainDir(ReadFile(cli::TargetQmailDisk(t.dir->path()) + "/users/assign"), kDomain);
    ASSERT_FALSE(dir.empty()) << kDomain << " not in the target's users/assign";
    t.domain_disk = t.dir->path() + dir;
    t.logins = ReadVpasswdLogins(ReadFile(t.domain_disk + "/vpasswd"));
    std::ostringstream passwd;
    std::vector<std::string> maildirs;
    for (const auto& [name, login] : t.logins) {
      std::string home = t.dir->path() + login.dir;
      maildirs.push_back(home + "/Maildir");
      passwd << name << "@" << kDomain << ":{CRYPT}" << login.crypt << ":" << id.mail_uid << ":" << id.mail_gid
             << "::" << home << "::\n";
    }
    PrepareTree(t.dir->path(), {t.domain_disk}, maildirs, id);
    std::string passwd_file = work_ / ("passwd-" + run.file);
    WriteFile(passwd_file, passwd.str());
    chmod(passwd_file.c_str(), 0644);
    auths[run.file] = AuthWithMaster(work_.path(), passwd_file);
  }

  // Exactly the users that should migrate are vpopmail users.
  std::set<std::string> names;
  for (const auto& [name, login] : targets.at("default").logins) names.insert(name);
  std::set<std::string> want;
  for (const auto& u : ViewUsers(expected_))
    if (u != "judy") want.insert(u);
  EXPECT_EQ(names, want);
  for (const auto& n : NotMigrated()) EXPECT_EQ(names.count(n), 0u) << n << " must not be a vpopmail user";

  auto login_of = [](const std::string& user) { return user + "@" + kDomain; };
  Expected expected = expected_;
  expected.folders = WithoutUser(expected.folders, "judy");
  expected.messages = WithoutUser(expected.messages, "judy");
  // Subscriptions: Dovecot's ~/mail/.subscriptions plus UW's ~/.mailboxlist
  // ("mail/" prefix dropped). A stale entry (alice's old-stuff) is kept, as
  // both servers list a subscription whose folder is gone.
  std::vector<std::string> lsub = expected.lsub;
  for (const auto& user : ViewUsers(expected)) {
    std::string file = root_ + "/home/" + user + "/.mailboxlist";
    if (!fs::exists(file)) continue;
    for (const auto& name : cli::Lines(ReadFile(file))) {
      std::string folder = name.rfind("mail/", 0) == 0 ? name.substr(5) : name;
      if (folder.empty()) continue;
      std::string line = JoinTabs({user, folder, DecodeModifiedUtf7(folder), "()"});
      if (std::find(lsub.begin(), lsub.end(), line) == lsub.end()) lsub.push_back(line);
    }
  }

  std::vector<ViewLogin> logins;
  for (const auto& l : Logins(expected_, passwords_, login_of))
    if (l.user != "judy") logins.push_back(l);
  auto setup_for = [&](const UidlRun& run) {
    DovecotSettings s;  // Maildir below the vpasswd home, UIDL = file base name
    s.tz = kZone;
    s.extra = CommonExtra();
    return RunSetup{auths.at(run.file), s};
  };
  View got;
  Collect(work_ / "target", logins, setup_for, 0, &got, [&](const DovecotServer& s) {
    CheckLogins(s.imap_port(), expected_.auth, passwords_, login_of);
    // Not even the master user opens an account that was not migrated.
    for (const auto& n : NotMigrated())
      EXPECT_FALSE(ImapLoginWorks(s.imap_port(), login_of(n) + "*" + kMaster, kMasterPassword)) << n;
  });
  ASSERT_FALSE(HasFailure());

  // ken's ~/mbox (read mail moved there by mail(1), invisible to the old
  // Dovecot) becomes the folder "mbox" with --old-server dovecot: its 2
  // messages under the UIDVALIDITY of its X-IMAPbase. It is not in client-view.
  std::vector<std::string> ken_mbox_folder, ken_mbox_messages;
  auto split_off = [](std::vector<std::string>* lines, std::vector<std::string>* out) {
    std::vector<std::string> keep;
    for (const auto& l : *lines) {
      std::vector<std::string> f = SplitTabs(l);
      (f[0] == "ken" && f[1] == "mbox" ? out : &keep)->push_back(l);
    }
    *lines = keep;
  };
  split_off(&got.imap.folders, &ken_mbox_folder);
  split_off(&got.imap.messages, &ken_mbox_messages);
  ASSERT_EQ(ken_mbox_folder.size(), 1u) << "ken's ~/mbox is not the folder \"mbox\"";
  std::vector<std::string> f = SplitTabs(ken_mbox_folder[0]);
  EXPECT_EQ(f[3], "1686117630") << ken_mbox_folder[0];
  EXPECT_EQ(f[5], "2") << ken_mbox_folder[0];
  EXPECT_EQ(ken_mbox_messages.size(), 2u);

  ExpectSameView(expected, got, "Dovecot on the imported vpopmail tree", SelectableOnly, WithoutRecentFlag, lsub);
}

}  // namespace
}  // namespace vmigrate::testing::dovecot
