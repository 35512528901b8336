// Real-server test: a private, unprivileged Dovecot (IMAP + POP3 on loopback,
// passwd-file passdb/userdb generated from vpasswd, maildir:%h/Maildir,
// pop3_uidl_format = %f) serves the source fixture tree and then the tree
// `vmigrate import` built from its export. Every MANIFEST user logs in with
// the MANIFEST password over POP3 and IMAP; the UIDL lists, every folder's
// UIDVALIDITY and FETCH (UID FLAGS RFC822.SIZE INTERNALDATE), and all message
// bytes must be identical. Each tree is served once, from a pristine copy.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "dovecot/dovecot_server.h"
#include "dovecot/mail_snapshot.h"
#include "support/test_support.h"

namespace vmigrate::testing::dovecot {
namespace {

namespace fs = std::filesystem;
using cli::kTargetQmail;

std::vector<ManifestUser> UsersOf(const std::string& fixture, const std::vector<std::string>& domains) {
  std::vector<ManifestUser> out;
  for (const auto& u : ParseManifestUsers(ReadFile(FixtureDir() + "/" + fixture + ".MANIFEST")))
    if (std::find(domains.begin(), domains.end(), u.domain) != domains.end()) out.push_back(u);
  return out;
}

/// The source must really have been served: every user logged in over both
/// protocols, and some mail came back.
void ExpectHealthy(const MailSnapshot& snap, size_t users) {
  ASSERT_EQ(snap.size(), users);
  size_t messages = 0;
  for (const auto& [user, lines] : snap) {
    for (const auto& l : lines) {
      EXPECT_EQ(l.find(" ERROR "), std::string::npos) << user << ": " << l;
      if (l.rfind("pop3 uidl ", 0) == 0) ++messages;
    }
    EXPECT_FALSE(lines.empty()) << user;
  }
  EXPECT_GT(messages, 0u) << "no POP3 message at all: the comparison would prove nothing";
}

class DovecotServerTest : public ::testing::Test {
 protected:
  /// Unpacks `fixture`, exports each domain and imports it into an empty
  /// target. The source tree is untouched by the export.
  void Migrate(const std::string& fixture, const std::vector<std::string>& domains) {
    UnpackFixture(fixture, src_.path());
    ASSERT_FALSE(HasFatalFailure());
    cli::MakeEmptyTarget(dst_.path());
    for (const auto& d : domains) {
      CommandResult e = cli::Export(src_.path(), d, work_ / (d + ".vma"));
      ASSERT_EQ(e.exit_code, 0) << e.err;
      CommandResult i = cli::Import(dst_.path(), work_ / (d + ".vma"));
      ASSERT_EQ(i.exit_code, 0) << i.err;
    }
  }

  void ServeBoth(const std::vector<ManifestUser>& users, MailSnapshot* source, MailSnapshot* target) {
    auto t0 = std::chrono::steady_clock::now();
    ServeAndSnapshot(src_.path(), kFixtureQmailDir, users, work_ / "dovecot-source", source);
    ASSERT_FALSE(HasFatalFailure());
    ExpectHealthy(*source, users.size());
    ServeAndSnapshot(dst_.path(), kTargetQmail, users, work_ / "dovecot-target", target);
    ASSERT_FALSE(HasFatalFailure());
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    std::printf("[ dovecot  ] %zu users served from source and target in %lld ms\n", users.size(),
                static_cast<long long>(ms.count()));
  }

  void ExpectServesTheSame(const std::string& fixture, const std::vector<std::string>& domains,
                           size_t expected_users) {
    Migrate(fixture, domains);
    ASSERT_FALSE(HasFatalFailure());
    std::vector<ManifestUser> users = UsersOf(fixture, domains);
    ASSERT_EQ(users.size(), expected_users);
    MailSnapshot source, target;
    ServeBoth(users, &source, &target);
    ASSERT_FALSE(HasFatalFailure());
    std::vector<std::string> diffs = CompareSnapshots(source, target);
    EXPECT_TRUE(diffs.empty()) << "Dovecot serves different mail after the migration:\n" << Join(diffs);
  }

  TempDir src_, dst_, work_;
};

TEST_F(DovecotServerTest, RealSmallServesTheSameMailAfterMigration) {
  SKIP_WITHOUT_DOVECOT();
  ExpectServesTheSame("real-small", {"example.com", "example.net"}, 17);
}

TEST_F(DovecotServerTest, RealHashedServesTheSameMailAfterMigration) {
  SKIP_WITHOUT_DOVECOT();
  ExpectServesTheSame("real-hashed", {"big.example"}, 261);
}

/// The first message file (sorted) of alice's INBOX cur/ on the target.
std::string AliceMessage(const std::string& dst_root) {
  std::string cur = cli::TargetHomeDisk(dst_root) + "/domains/example.com/alice/Maildir/cur";
  std::vector<std::string> names;
  if (fs::is_directory(cur))
    for (const auto& e : fs::directory_iterator(cur)) names.push_back(e.path().string());
  std::sort(names.begin(), names.end());
  return names.empty() ? "" : names.front();
}

TEST_F(DovecotServerTest, RenamedMaildirFileOnTheTargetIsADifference) {
  SKIP_WITHOUT_DOVECOT();
  Migrate("real-small", {"example.com"});
  ASSERT_FALSE(HasFatalFailure());
  std::string file = AliceMessage(dst_.path());
  ASSERT_FALSE(file.empty());
  // A different base name (the part before ":2,"), same bytes, same mtime.
  fs::path p(file);
  std::string renamed = (p.parent_path() / ("1" + p.filename().string())).string();
  ASSERT_EQ(rename(file.c_str(), renamed.c_str()), 0);

  std::vector<ManifestUser> users = UsersOf("real-small", {"example.com"});
  MailSnapshot source, target;
  ServeBoth(users, &source, &target);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::string> diffs = CompareSnapshots(source, target);
  EXPECT_FALSE(diffs.empty()) << "a renamed Maildir file went unnoticed";
  bool uidl_diff = false;
  for (const auto& d : diffs)
    if (d.rfind("alice@example.com: source [pop3 uidl ", 0) == 0) uidl_diff = true;
  EXPECT_TRUE(uidl_diff) << Join(diffs);
  for (const auto& d : diffs) EXPECT_EQ(d.rfind("alice@example.com: ", 0), 0u) << d;
}

TEST_F(DovecotServerTest, ChangedMtimeOnTheTargetIsADifference) {
  SKIP_WITHOUT_DOVECOT();
  Migrate("real-small", {"example.com"});
  ASSERT_FALSE(HasFatalFailure());
  std::string file = AliceMessage(dst_.path());
  ASSERT_FALSE(file.empty());
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  times[1].tv_sec -= 3600;  // one hour earlier, name and bytes unchanged
  ASSERT_EQ(utimensat(AT_FDCWD, file.c_str(), times, 0), 0);

  std::vector<ManifestUser> users = UsersOf("real-small", {"example.com"});
  MailSnapshot source, target;
  ServeBoth(users, &source, &target);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::string> diffs = CompareSnapshots(source, target);
  EXPECT_FALSE(diffs.empty()) << "a changed mtime went unnoticed";
  bool date_diff = false;
  for (const auto& d : diffs)
    if (d.find("INTERNALDATE") != std::string::npos) date_diff = true;
  EXPECT_TRUE(date_diff) << Join(diffs);
  for (const auto& d : diffs) EXPECT_EQ(d.rfind("alice@example.com: ", 0), 0u) << d;
}

}  // namespace
}  // namespace vmigrate::testing::dovecot
