// Real-server test of `vmigrate pull --create` from a classic Unix mail host:
// a private Dovecot serves the real-unix-mbox fixture (the users' mbox
// spools in var/mail and UW/Dovecot folders in ~/mail, made by real tools)
// as the OLD server over IMAP and POP3. Every user who can log in is pulled
// over IMAP with the POP3 UIDLs of the same server into a vpopmail target
// where the account does not exist yet (--create makes it with the password
// the old server accepted). A Dovecot serving the target must then show each
// user what the old one showed: folders, UIDVALIDITY, UIDNEXT, UIDs, flags,
// keywords, INTERNALDATE and bodies over IMAP; UIDLs (content and order) and
// bodies over POP3 — and log them in with their old password.
#include <sys/stat.h>
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
#include "support/test_support.h"

namespace vmigrate::testing::dovecot {
namespace {

namespace fs = std::filesystem;
using cli::kTargetQmail;

// The target domain: real-small's example.net (postmaster, tom, uma,
// victor), which shares no name with the Unix host's users.
constexpr const char* kDomain = "example.net";

// Users of the fixture MANIFEST's "## users" table that should migrate and
// have a cleartext password (columns: name ... cleartext password, should migrate).
std::vector<ManifestUser> UnixUsers(const std::string& manifest) {
  std::vector<ManifestUser> out;
  std::istringstream in(manifest);
  std::string line;
  bool in_users = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_users = line.rfind("## users", 0) == 0;
    if (!in_users || line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = SplitTabs(line);
    if (f.size() < 9 || f[8] != "yes" || f[7] == "-" || f[7].empty()) continue;
    ManifestUser u;
    u.email = f[0] + "@" + kDomain;
    u.domain = kDomain;
    u.password = f[7];
    out.push_back(u);
  }
  return out;
}

TEST(DovecotPullMboxTest, CreatePullsAUnixHostsMboxUsersAsItsServerShowedThem) {
  SKIP_WITHOUT_DOVECOT();
  TempDir src, dst, work;
  UnpackFixture("real-unix-mbox", src.path());
  ASSERT_FALSE(HasFatalFailure());
  const std::string root = src.path() + "/tmp/realvp";
  ASSERT_TRUE(fs::is_directory(root + "/var/mail")) << "fixture real-unix-mbox missing";
  std::vector<ManifestUser> users = UnixUsers(ReadFile(root + "/MANIFEST"));
  ASSERT_GE(users.size(), 8u);

  // The target: real-small's example.net imported; the Unix users are not there.
  {
    TempDir small;
    UnpackFixture("real-small", small.path());
    cli::MakeEmptyTarget(dst.path());
    CommandResult e = cli::Export(small.path(), kDomain, work / "d.vma");
    ASSERT_EQ(e.exit_code, 0) << e.err;
    CommandResult i = cli::Import(dst.path(), work / "d.vma");
    ASSERT_EQ(i.exit_code, 0) << i.err;
  }

  // The old server: the users' own spools and folders, writable by it (a
  // live server keeps its index and X-IMAPbase there).
  DovecotIdentity id = PickIdentity();
  const std::string old_work = work / "old-server";
  MakeWorkDir(old_work);
  std::ostringstream passwd;
  for (const auto& u : users) {
    const std::string name = u.email.substr(0, u.email.find('@'));
    passwd << u.email << ":{PLAIN}" << u.password << ":" << id.mail_uid << ":" << id.mail_gid << "::" << root
           << "/home/" << name << "::\n";
  }
  WriteFile(old_work + "/passwd", passwd.str());
  chmod((old_work + "/passwd").c_str(), 0644);
  if (id.as_root) {
    for (const char* d : {"/home", "/var/mail"})
      for (auto it = fs::recursive_directory_iterator(root + d); it != fs::recursive_directory_iterator(); ++it)
        (void)!lchown(it->path().c_str(), id.mail_uid, id.mail_gid);
    for (const char* d : {"/home", "/var/mail", "/var", ""}) chmod((root + d).c_str(), 0755);
    for (fs::path p = fs::path(root).parent_path(); p.string().size() >= src.path().size(); p = p.parent_path()) {
      struct stat st;
      if (stat(p.c_str(), &st) == 0) chmod(p.c_str(), (st.st_mode & 07777) | 0111);
      if (p == p.parent_path()) break;
    }
  }
  DovecotSettings settings;
  settings.mail_location = "mbox:~/mail:INBOX=" + root + "/var/mail/%n";
  settings.pop3_uidl_format = "%08Xu%08Xv";  // Dovecot's default
  // The new host's Maildir++ shows '.' between levels: the old server too,
  // so that the names compare.
  settings.extra = "mbox_read_locks = fcntl\nmbox_write_locks = fcntl\npop3_no_flag_updates = yes\n"
                   "mailbox_list_index = no\nnamespace inbox {\n  inbox = yes\n  separator = .\n}\n";
  std::unique_ptr<DovecotServer> server;
  std::string error;
  for (int attempt = 1; attempt <= 3 && !server; ++attempt) {
    auto s = std::make_unique<DovecotServer>(old_work + "/s" + std::to_string(attempt),
                                             DovecotServer::PasswdFileAuth(old_work + "/passwd"), id, settings);
    if (s->Start(&error)) server = std::move(s);
  }
  ASSERT_TRUE(server) << "Dovecot did not start:\n" << error;
  const std::string imap = "imap://127.0.0.1:" + std::to_string(server->imap_port());
  const std::string pop3 = "pop3://127.0.0.1:" + std::to_string(server->pop3_port());
  // A first look lets the old server settle what a live one already has
  // (UIDVALIDITY and UIDs of spools it never opened); the second is the view.
  MailSnapshot warm, old_view;
  for (const auto& u : users) {
    SnapshotImap(server->imap_port(), u, &warm[u.email]);
    SnapshotPop3(server->pop3_port(), u, &warm[u.email]);
  }
  for (const auto& u : users) {
    SnapshotImap(server->imap_port(), u, &old_view[u.email]);
    SnapshotPop3(server->pop3_port(), u, &old_view[u.email]);
  }
  size_t pulled = 0;
  for (const auto& u : users) {
    const std::string pw = work / ("pw-" + u.email);
    WriteFile(pw, u.password + "\n");
    CommandResult r = RunVmigrate(cli::Concat({"pull", "--from", imap, "--uidls-from", pop3, "--user", u.email,
                                               "--password-file", pw, "--into", u.email, "--create", "--json"},
                                              cli::TargetFlags(dst.path())));
    ASSERT_EQ(r.exit_code, 0) << u.email << "\n" << r.err << r.out << server->LogProblems().substr(0, 4000);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    EXPECT_TRUE(j.value("created", false)) << r.out;
    EXPECT_TRUE(j.value("imap_uids_kept", false)) << r.out;
    EXPECT_TRUE(j.value("dovecot_pop3_uidls_kept", false)) << u.email << ": " << r.out << r.err;
    pulled += j.value("messages", 0u);
  }
  server->Stop();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_GT(pulled, 40u) << "the pull carried almost nothing: the comparison would prove little";
  MailSnapshot new_view;
  ServeAndSnapshot(dst.path(), kTargetQmail, users, work / "new-server", &new_view);
  ASSERT_FALSE(HasFatalFailure());
  size_t bodies = 0, uidls = 0;
  for (const auto& [user, lines] : old_view)
    for (const auto& l : lines) {
      if (l.find(" body UID ") != std::string::npos) ++bodies;
      if (l.rfind("pop3 uidl ", 0) == 0) ++uidls;
    }
  EXPECT_GT(bodies, 40u) << "the old server showed almost nothing: the comparison would prove little";
  EXPECT_GT(uidls, 20u);
  std::vector<std::string> diffs = CompareSnapshots(old_view, new_view);
  EXPECT_TRUE(diffs.empty()) << "the pulled Unix users look different to clients:\n" << Join(diffs);
}

}  // namespace
}  // namespace vmigrate::testing::dovecot
