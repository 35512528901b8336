// Real-server test of `vmigrate pull`: a private Dovecot on loopback is the
// OLD server (the real-small fixture's Maildirs, passwd-file from vpasswd);
// the accounts exist on the target (imported, then their Maildirs emptied).
// Each user is pulled over IMAP (with the old POP3 UIDLs from the same
// server) or over POP3 alone; then a second Dovecot serves the target, and
// what clients see must equal what the old server showed: POP3 UIDLs
// (content and order) and bodies, IMAP folders, UIDVALIDITY, UIDNEXT, UIDs,
// flags, INTERNALDATE and bodies. A second pull adds nothing.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "dovecot/dovecot_server.h"
#include "dovecot/mail_snapshot.h"
#include "support/checkpassword_login.h"
#include "support/test_support.h"
#include "qmail/domains.h"
#include "vpopmail/password.h"
#include "vpopmail/user_store.h"

namespace vmigrate::testing::dovecot {
namespace {

namespace fs = std::filesystem;
using cli::kTargetQmail;

std::vector<ManifestUser> UsersOf(const std::string& fixture, const std::string& domain) {
  std::vector<ManifestUser> out;
  for (const auto& u : ParseManifestUsers(ReadFile(FixtureDir() + "/" + fixture + ".MANIFEST")))
    if (u.domain == domain) out.push_back(u);
  return out;
}

std::vector<std::string> OnlyPop3(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines)
    if (l.rfind("pop3 ", 0) == 0) out.push_back(l);
  return out;
}

class DovecotPullTest : public ::testing::Test {
 protected:
  static constexpr const char* kDomain = "example.com";

  /// The old server's tree (src_) and the target (dst_) whose accounts exist
  /// with empty Maildirs.
  void SetUp() override {
    if (!DovecotInstalled()) return;
    UnpackFixture("real-small", src_.path());
    ASSERT_FALSE(HasFatalFailure());
    cli::MakeEmptyTarget(dst_.path());
    CommandResult e = cli::Export(src_.path(), kDomain, work_ / "d.vma");
    ASSERT_EQ(e.exit_code, 0) << e.err;
    CommandResult i = cli::Import(dst_.path(), work_ / "d.vma");
    ASSERT_EQ(i.exit_code, 0) << i.err;
    std::string dir = AssignDomainDir(ReadFile(dst_.path() + kTargetQmail + "/users/assign"), kDomain);
    for (const auto& [name, login] : ReadVpasswdLogins(ReadFile(dst_.path() + dir + "/vpasswd")))
      fs::remove_all(dst_.path() + login.dir + "/Maildir");
    users_ = UsersOf("real-small", kDomain);
    ASSERT_FALSE(users_.empty());
  }

  /// Serves src_ as the old server: snapshots every user, then runs `during`.
  void ServeOld(MailSnapshot* snapshot, const std::function<void(const DovecotServer&)>& during,
                const std::string& server_name = "old-server") {
    DovecotIdentity id = PickIdentity();
    std::string work = work_ / server_name;
    MakeWorkDir(work);
    std::string dir = AssignDomainDir(ReadFile(src_.path() + kFixtureQmailDir + "/users/assign"), kDomain);
    std::vector<std::string> maildirs;
    std::ostringstream passwd;
    for (const auto& [name, login] : ReadVpasswdLogins(ReadFile(src_.path() + dir + "/vpasswd"))) {
      std::string home = src_.path() + login.dir;
      maildirs.push_back(home + "/Maildir");
      passwd << name << "@" << kDomain << ":{CRYPT}" << login.crypt << ":" << id.mail_uid << ":" << id.mail_gid
             << "::" << home << "::\n";
    }
    WriteFile(work + "/passwd", passwd.str());
    chmod((work + "/passwd").c_str(), 0644);
    PrepareTree(src_.path(), {src_.path() + dir}, maildirs, id);
    DovecotSettings settings;
    // The snapshot's POP3 session must not mark the old mail \Seen before
    // it is pulled: the comparison is with what IMAP showed first.
    settings.extra = "pop3_no_flag_updates = yes\n";
    std::unique_ptr<DovecotServer> server;
    std::string error;
    for (int attempt = 1; attempt <= 3 && !server; ++attempt) {
      auto s = std::make_unique<DovecotServer>(work + "/s" + std::to_string(attempt),
                                               DovecotServer::PasswdFileAuth(work + "/passwd"), id, settings);
      if (s->Start(&error)) server = std::move(s);
    }
    ASSERT_TRUE(server) << "Dovecot did not start:\n" << error;
    for (const auto& u : users_) {
      SnapshotImap(server->imap_port(), u, &(*snapshot)[u.email]);
      SnapshotPop3(server->pop3_port(), u, &(*snapshot)[u.email]);
    }
    during(*server);
    server->Stop();
  }

  CommandResult Pull(const ManifestUser& u, const std::vector<std::string>& how) {
    std::string pw = work_ / ("pw-" + u.email);
    WriteFile(pw, u.password + "\n");
    std::vector<std::string> args = {"pull", "--user", u.email, "--password-file", pw, "--into", u.email, "--json"};
    args.insert(args.end(), how.begin(), how.end());
    return RunVmigrate(cli::Concat(args, cli::TargetFlags(dst_.path())));
  }

  static nlohmann::json Json(const CommandResult& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  TempDir src_, dst_, work_;
  std::vector<ManifestUser> users_;
};

TEST_F(DovecotPullTest, ImapPullWithPop3UidlsShowsWhatTheOldServerShowed) {
  SKIP_WITHOUT_DOVECOT();
  MailSnapshot old_view, new_view;
  size_t messages = 0;
  ServeOld(&old_view, [&](const DovecotServer& s) {
    std::string imap = "imap://127.0.0.1:" + std::to_string(s.imap_port());
    std::string pop3 = "pop3://127.0.0.1:" + std::to_string(s.pop3_port());
    for (const auto& u : users_) {
      CommandResult r = Pull(u, {"--from", imap, "--uidls-from", pop3});
      ASSERT_EQ(r.exit_code, 0) << u.email << "\n" << r.err << r.out;
      auto j = Json(r);
      messages += j.value("messages", 0u);
      EXPECT_TRUE(j.value("imap_uids_kept", false)) << r.out;
      EXPECT_TRUE(j.value("dovecot_pop3_uidls_kept", false)) << r.out;
      EXPECT_TRUE(j.value("qmail_pop3d_uidls_kept", false)) << r.out;
    }
    // Again: nothing new on the old server, nothing pulled, nothing doubled.
    for (const auto& u : users_) {
      CommandResult r = Pull(u, {"--from", imap, "--uidls-from", pop3});
      ASSERT_EQ(r.exit_code, 0) << u.email << "\n" << r.err;
      auto j = Json(r);
      EXPECT_EQ(j.value("messages", 99u), 0u) << r.out;
    }
  });
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_GT(messages, 10u) << "the pull carried almost nothing: the comparison would prove little";
  ServeAndSnapshot(dst_.path(), kTargetQmail, users_, work_ / "new-server", &new_view);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::string> diffs = CompareSnapshots(old_view, new_view);
  EXPECT_TRUE(diffs.empty()) << "the pulled mail looks different to clients:\n" << Join(diffs);
}

TEST_F(DovecotPullTest, Pop3PullKeepsUidlsAndOrder) {
  SKIP_WITHOUT_DOVECOT();
  MailSnapshot old_view, new_view;
  ServeOld(&old_view, [&](const DovecotServer& s) {
    std::string pop3 = "pop3://127.0.0.1:" + std::to_string(s.pop3_port());
    for (const auto& u : users_) {
      CommandResult r = Pull(u, {"--from", pop3});
      ASSERT_EQ(r.exit_code, 0) << u.email << "\n" << r.err << r.out;
      auto j = Json(r);
      EXPECT_TRUE(j.value("dovecot_pop3_uidls_kept", false)) << r.out;
      EXPECT_FALSE(j.value("imap_uids_kept", true)) << r.out;
      CommandResult again = Pull(u, {"--from", pop3});
      ASSERT_EQ(again.exit_code, 0) << again.err;
      EXPECT_EQ(Json(again).value("messages", 99u), 0u) << again.out;
    }
  });
  ASSERT_FALSE(HasFatalFailure());
  ServeAndSnapshot(dst_.path(), kTargetQmail, users_, work_ / "new-server", &new_view);
  ASSERT_FALSE(HasFatalFailure());
  MailSnapshot old_pop3, new_pop3;
  for (const auto& [u, lines] : old_view) old_pop3[u] = OnlyPop3(lines);
  for (const auto& [u, lines] : new_view) new_pop3[u] = OnlyPop3(lines);
  std::vector<std::string> diffs = CompareSnapshots(old_pop3, new_pop3);
  EXPECT_TRUE(diffs.empty()) << "POP3 clients see other UIDLs or mail:\n" << Join(diffs);
}

TEST_F(DovecotPullTest, ChangedUidvalidityStartsTheFolderOverWithoutDuplicates) {
  SKIP_WITHOUT_DOVECOT();
  auto pull_all = [&](const DovecotServer& s, std::vector<nlohmann::json>* out) {
    for (const auto& u : users_) {
      CommandResult r = Pull(u, {"--from", "imap://127.0.0.1:" + std::to_string(s.imap_port()), "--uidls-from",
                                 "pop3://127.0.0.1:" + std::to_string(s.pop3_port())});
      ASSERT_EQ(r.exit_code, 0) << u.email << "\n" << r.err;
      out->push_back(Json(r));
    }
  };
  MailSnapshot first, second, new_view;
  std::vector<nlohmann::json> runs1, runs2;
  ServeOld(&first, [&](const DovecotServer& s) { pull_all(s, &runs1); }, "old-1");
  ASSERT_FALSE(HasFatalFailure());
  // The old server renumbers alice's INBOX (a restore, a rebuilt index).
  std::string dir = AssignDomainDir(ReadFile(src_.path() + kFixtureQmailDir + "/users/assign"), kDomain);
  std::string uidlist = src_.path() + dir + "/alice/Maildir/dovecot-uidlist";
  std::string text = ReadFile(uidlist);
  ASSERT_EQ(text.rfind("3 V", 0), 0u) << text;
  size_t sp = text.find(' ', 3);
  long old_v = std::stol(text.substr(3, sp - 3));
  WriteFile(uidlist, "3 V" + std::to_string(old_v + 1000) + text.substr(sp));
  ServeOld(&second, [&](const DovecotServer& s) { pull_all(s, &runs2); }, "old-2");
  ASSERT_FALSE(HasFatalFailure());
  bool saw_restart = false;
  for (const auto& j : runs2) {
    for (const auto& f : j["folders"]) {
      if (j["user"] == "alice@example.com" && f["name"] == "INBOX") {
        EXPECT_TRUE(f["restarted"].get<bool>()) << j.dump();
        EXPECT_EQ(f["removed"], f["on_server"]) << j.dump();
        EXPECT_EQ(f["messages"], f["on_server"]) << j.dump();
        saw_restart = true;
      } else {
        EXPECT_FALSE(f["restarted"].get<bool>()) << j.dump();
        EXPECT_EQ(f["messages"], 0) << j.dump();
      }
    }
  }
  EXPECT_TRUE(saw_restart);
  ServeAndSnapshot(dst_.path(), kTargetQmail, users_, work_ / "new-server", &new_view);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::string> diffs = CompareSnapshots(second, new_view);
  EXPECT_TRUE(diffs.empty()) << "after the UIDVALIDITY change:\n" << Join(diffs);
}

// The login hook with the real pull: vmigrate-checkpassword in front of a
// vchkpw stand-in (tests/hook/fake_vchkpw.cc) on the target, the old server
// a real Dovecot. The first good login pulls the user's mail and takes the
// user off the pending list; the second pulls nothing; a wrong password
// pulls nothing and keeps its exit code.
TEST_F(DovecotPullTest, LoginHookPullsAtTheFirstGoodLoginOnly) {
  SKIP_WITHOUT_DOVECOT();
  const ManifestUser& u = users_.front();
  std::string pending = work_ / "pending";
  WriteFile(pending, u.email + "\n");
  // The hook runs vmigrate without --root; this wrapper points it at the sandbox.
  std::string wrapper = work_ / "vmigrate-in-sandbox";
  WriteFile(wrapper, std::string("#!/bin/sh\ncmd=$1; shift\nexec '") + VMIGRATE_BINARY + "' \"$cmd\" --root '" +
                         dst_.path() + "' --vpopmail-home " + cli::kTargetHome + " --qmail-dir " + kTargetQmail +
                         " \"$@\"\n");
  chmod(wrapper.c_str(), 0755);
  std::string dir = AssignDomainDir(ReadFile(dst_.path() + kTargetQmail + "/users/assign"), kDomain);
  std::map<std::string, std::string> env = {{"FAKE_VCHKPW_DOMAINS", dst_.path() + cli::kTargetHome + "/domains"},
                                            {"TCPLOCALPORT", "110"}};
  MailSnapshot old_view, new_view;
  ServeOld(&old_view, [&](const DovecotServer& s) {
    std::vector<std::string> argv = {VMIGRATE_CHECKPASSWORD, "--pending", pending, "--from",
                                     "imap://127.0.0.1:" + std::to_string(s.imap_port()), "--vmigrate", wrapper,
                                     VMIGRATE_FAKE_VCHKPW, "/bin/true"};
    LoginResult r = RunCheckpassword(work_.path(), argv, CheckpasswordFd3(u.email, u.password + "x"), env);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(ReadFile(pending), u.email + "\n") << "a wrong password must not take the user off the list";
    r = RunCheckpassword(work_.path(), argv, CheckpasswordFd3(u.email, u.password), env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("no longer pending"), std::string::npos) << r.err;
    EXPECT_EQ(ReadFile(pending), "");
    r = RunCheckpassword(work_.path(), argv, CheckpasswordFd3(u.email, u.password), env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("pull"), std::string::npos) << "the second login pulled again: " << r.err;
  });
  ASSERT_FALSE(HasFatalFailure());
  std::vector<ManifestUser> just_u = {u};
  ServeAndSnapshot(dst_.path(), kTargetQmail, just_u, work_ / "new-server", &new_view);
  ASSERT_FALSE(HasFatalFailure());
  MailSnapshot old_imap, new_imap;
  for (const auto& l : old_view[u.email])
    if (l.rfind("imap ", 0) == 0) old_imap[u.email].push_back(l);
  for (const auto& l : new_view[u.email])
    if (l.rfind("imap ", 0) == 0) new_imap[u.email].push_back(l);
  EXPECT_GT(old_imap[u.email].size(), 3u);
  std::vector<std::string> diffs = CompareSnapshots(old_imap, new_imap);
  EXPECT_TRUE(diffs.empty()) << "IMAP clients see other mail after the login-time pull:\n" << Join(diffs);
}

TEST_F(DovecotPullTest, WrongPasswordAndUnreachableServerPullNothing) {
  SKIP_WITHOUT_DOVECOT();
  MailSnapshot old_view;
  const ManifestUser& u = users_.front();
  ServeOld(&old_view, [&](const DovecotServer& s) {
    ManifestUser wrong = u;
    wrong.password = u.password + "x";
    CommandResult r = Pull(wrong, {"--from", "imap://127.0.0.1:" + std::to_string(s.imap_port())});
    EXPECT_EQ(r.exit_code, 9) << r.err << r.out;
    EXPECT_NE(r.err.find("login refused"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(wrong.password), std::string::npos) << "the password is in the error: " << r.err;
  });
  ASSERT_FALSE(HasFatalFailure());
  CommandResult r = Pull(u, {"--from", "imap://127.0.0.1:" + std::to_string(FreeLoopbackPort())});
  EXPECT_EQ(r.exit_code, 9) << r.err;
  EXPECT_EQ(r.out.find("\"type\":\"pull\""), std::string::npos) << r.out;
  std::string dir = AssignDomainDir(ReadFile(dst_.path() + kTargetQmail + "/users/assign"), kDomain);
  std::string local = u.email.substr(0, u.email.find('@'));
  for (const auto& [name, login] : ReadVpasswdLogins(ReadFile(dst_.path() + dir + "/vpasswd"))) {
    if (name != local) continue;
    std::string cur = dst_.path() + login.dir + "/Maildir/cur";
    EXPECT_TRUE(!fs::exists(cur) || fs::is_empty(cur)) << cur;
  }
}

// pull --create: the account is missing on the new host; it is made only
// after the old server accepted the password, with that password (the new
// host's Dovecot logs in with it), and the mail is what the old server showed.
TEST_F(DovecotPullTest, CreateMakesTheMissingAccountWithThePasswordTheOldServerAccepted) {
  SKIP_WITHOUT_DOVECOT();
  // alice (mail in INBOX, Sent, Drafts, Trash), taken out of the target's vpasswd.
  ManifestUser u = users_.front();
  for (const auto& m : users_)
    if (m.email == std::string("alice@") + kDomain) u = m;
  ASSERT_EQ(u.email, std::string("alice@") + kDomain);
  const std::string local = u.email.substr(0, u.email.find('@'));
  HostPaths paths;
  paths.root = dst_.path();
  paths.vpopmail_home = cli::kTargetHome;
  paths.qmail_dir = kTargetQmail;
  auto where = qmail::LocateDomain(paths, kDomain);
  ASSERT_TRUE(where.ok()) << where.status().message();
  auto store = vpopmail::MakeCdbUserStore(paths);
  auto users = store->ReadUsers(*where);
  ASSERT_TRUE(users.ok());
  std::vector<VpasswdEntry> rest;
  std::string old_dir;
  for (const auto& e : *users) {
    if (e.name == local) old_dir = e.dir;
    else rest.push_back(e);
  }
  ASSERT_FALSE(old_dir.empty());
  ASSERT_TRUE(store->ReplaceUsers(*where, rest).ok());
  fs::remove_all(dst_.path() + old_dir);
  const std::string vpasswd = dst_.path() + where->dir + "/vpasswd";
  const std::string before = ReadFile(vpasswd);

  MailSnapshot old_view, new_view;
  ServeOld(&old_view, [&](const DovecotServer& s) {
    std::string imap = "imap://127.0.0.1:" + std::to_string(s.imap_port());
    std::string pop3 = "pop3://127.0.0.1:" + std::to_string(s.pop3_port());
    // Without --create: the missing account is an error naming it.
    CommandResult plain = Pull(u, {"--from", imap});
    EXPECT_NE(plain.exit_code, 0) << plain.out;
    EXPECT_NE(plain.err.find(u.email), std::string::npos) << plain.err;
    // A password the old server refuses creates nothing.
    ManifestUser wrong = u;
    wrong.password = u.password + "x";
    CommandResult refused = Pull(wrong, {"--from", imap, "--create"});
    EXPECT_EQ(refused.exit_code, 9) << refused.err << refused.out;
    EXPECT_EQ(ReadFile(vpasswd), before);
    // The dry run says it would create, and writes nothing.
    CommandResult dry = Pull(u, {"--from", imap, "--uidls-from", pop3, "--create", "--dry-run"});
    ASSERT_EQ(dry.exit_code, 0) << dry.err << dry.out;
    EXPECT_TRUE(Json(dry).value("created", false)) << dry.out;
    EXPECT_GT(Json(dry).value("messages", 0u), 0u) << dry.out;
    EXPECT_EQ(ReadFile(vpasswd), before);
    EXPECT_FALSE(fs::exists(dst_.path() + old_dir));

    CommandResult made = Pull(u, {"--from", imap, "--uidls-from", pop3, "--create"});
    ASSERT_EQ(made.exit_code, 0) << made.err << made.out;
    EXPECT_TRUE(Json(made).value("created", false)) << made.out;
    EXPECT_GT(Json(made).value("messages", 0u), 3u) << made.out;
    CommandResult again = Pull(u, {"--from", imap, "--uidls-from", pop3, "--create"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_FALSE(Json(again).value("created", true)) << again.out;
    EXPECT_EQ(Json(again).value("messages", 99u), 0u) << again.out;
  });
  ASSERT_FALSE(HasFatalFailure());
  auto now = store->ReadUsers(*where);
  ASSERT_TRUE(now.ok());
  bool found = false;
  for (const auto& e : *now) {
    if (e.name != local) continue;
    found = true;
    EXPECT_EQ(e.passwd.rfind("$6$", 0), 0u) << e.passwd;
    EXPECT_TRUE(vpopmail::CryptMatches(u.password, e.passwd));
    EXPECT_EQ(e.dir, old_dir);  // bucket "" and the same name: where vadduser puts it
  }
  EXPECT_TRUE(found) << ReadFile(vpasswd);
  ServeAndSnapshot(dst_.path(), kTargetQmail, {u}, work_ / "new-server", &new_view);
  ASSERT_FALSE(HasFatalFailure());
  MailSnapshot old_one;
  old_one[u.email] = old_view[u.email];
  std::vector<std::string> diffs = CompareSnapshots(old_one, new_view);
  EXPECT_TRUE(diffs.empty()) << "the created account's mail looks different to clients:\n" << Join(diffs);
}

}  // namespace
}  // namespace vmigrate::testing::dovecot
