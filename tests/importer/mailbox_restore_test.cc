// One account's mail back from an archive (ImportArchive with --domain and
// --user, which drives MailboxRestore): what comes back, what is reported
// as already there, the Maildir++ delta, a dry run, and an account that is
// not on the target. The CLI suites check the same through the binary on a
// whole-server backup; here the outcome struct is checked directly.
#include "importer/mailbox_restore.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "exporter/exporter.h"
#include "importer/importer.h"
#include "support/test_support.h"

namespace vmigrate {
namespace {

namespace fs = std::filesystem;
using testing::kFixtureQmailDir;
using testing::kFixtureVpopmailHome;
using testing::ReadFile;
using testing::TempDir;
using testing::TreeDigest;
using testing::UnpackFixture;
using testing::WriteFile;

constexpr const char* kTargetHome = "/srv/vpopmail";
constexpr const char* kTargetQmail = "/var/qmail";
// Two of alice's messages in the fixture (vdelivermail's names).
constexpr const char* kNewMessage = "Maildir/new/1795424452.28218.mail.example.com,S=462";
constexpr const char* kSeenMessage = "Maildir/cur/1795424448.28190.mail.example.com,S=675:2,S";

bool HasPath(const std::vector<SkippedFile>& files, const std::string& path) {
  for (const auto& f : files)
    if (f.path == path) return true;
  return false;
}

class MailboxRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    ExportOptions e;
    e.paths.root = src_.path();
    e.paths.vpopmail_home = kFixtureVpopmailHome;
    e.paths.qmail_dir = kFixtureQmailDir;
    e.domain = "example.com";
    e.output = archive_ = work_ / "example.com.tar.zst";
    ExportReport er;
    Status s = ExportDomain(e, &er);
    ASSERT_TRUE(s.ok()) << s.ToString();

    fs::create_directories(dst_.path() + kTargetHome);
    fs::create_directories(dst_.path() + kTargetQmail + "/control");
    fs::create_directories(dst_.path() + kTargetQmail + "/users");
    WriteFile(dst_.path() + kTargetQmail + "/control/me", "mail.target.test\n");
    home_ = dst_.path() + kTargetHome + "/domains/example.com/alice";
  }

  ImportOptions Options() const {
    ImportOptions o;
    o.paths.root = dst_.path();
    o.paths.vpopmail_home = kTargetHome;
    o.paths.qmail_dir = kTargetQmail;
    o.archive = archive_;
    // Never root: an import refuses uid 0 (qmail-lspawn does not deliver to it).
    o.owner = geteuid() == 0 ? FileOwner{89, 89} : FileOwner{getuid(), getgid()};
    o.reload = false;
    return o;
  }

  ImportOptions AliceOptions() const {
    ImportOptions o = Options();
    o.domain = "example.com";
    o.user = "alice";
    return o;
  }

  void ImportDomain() {
    ImportReport r;
    Status s = ImportArchive(Options(), &r);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  TempDir src_, dst_, work_;
  std::string archive_;
  std::string home_;
};

TEST_F(MailboxRestoreTest, OnlyMissingMessagesComeBackAndRenamedOnesAreSkipped) {
  ImportDomain();
  std::string original = ReadFile(home_ + "/" + kNewMessage);
  fs::remove(home_ + "/" + kNewMessage);
  // Read and answered since: the same message (same unique name), new flags.
  fs::rename(home_ + "/" + kSeenMessage, home_ + "/Maildir/cur/1795424448.28190.mail.example.com,S=675:2,RS");
  std::string maildirsize = ReadFile(home_ + "/Maildir/maildirsize");

  ImportReport r;
  Status s = ImportArchive(AliceOptions(), &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(r.mailbox.has_value());
  const MailboxOutcome& m = *r.mailbox;
  EXPECT_EQ(m.user_dir, std::string(kTargetHome) + "/domains/example.com/alice");
  EXPECT_EQ(m.folder, "");
  EXPECT_EQ(m.restored_messages, 1u);
  EXPECT_EQ(m.restored_bytes, 462u);
  EXPECT_TRUE(m.created_dirs.empty());
  EXPECT_TRUE(HasPath(m.skipped_messages, kSeenMessage));
  EXPECT_FALSE(HasPath(m.skipped_messages, kNewMessage));
  EXPECT_FALSE(HasPath(m.skipped_files, kSeenMessage)) << "a message is not a state file";

  EXPECT_EQ(ReadFile(home_ + "/" + kNewMessage), original);
  EXPECT_FALSE(fs::exists(home_ + "/" + kSeenMessage)) << "a renamed message must not come back twice";
  EXPECT_EQ(ReadFile(home_ + "/Maildir/maildirsize"), maildirsize + "462 1\n");

  // Nothing is left to restore the second time.
  ImportReport again;
  s = ImportArchive(AliceOptions(), &again);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(again.mailbox->restored_messages, 0u);
  EXPECT_EQ(again.mailbox->restored_files, 0u);
}

TEST_F(MailboxRestoreTest, DryRunReportsTheSameOutcomeAndWritesNothing) {
  ImportDomain();
  fs::remove(home_ + "/" + kNewMessage);
  auto before = TreeDigest(dst_.path());
  ImportOptions dry = AliceOptions();
  dry.dry_run = true;
  ImportReport plan;
  Status s = ImportArchive(dry, &plan);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(TreeDigest(dst_.path()), before);

  ImportReport real;
  s = ImportArchive(AliceOptions(), &real);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(plan.mailbox && real.mailbox);
  EXPECT_EQ(plan.mailbox->restored_messages, real.mailbox->restored_messages);
  EXPECT_EQ(plan.mailbox->restored_bytes, real.mailbox->restored_bytes);
  EXPECT_EQ(plan.mailbox->restored_files, real.mailbox->restored_files);
  EXPECT_EQ(plan.mailbox->skipped_messages, real.mailbox->skipped_messages);
  EXPECT_EQ(plan.mailbox->skipped_files, real.mailbox->skipped_files);
  EXPECT_EQ(real.mailbox->restored_messages, 1u);
}

// --into-folder: every folder of the archive lands below Maildir/.NAME as
// new Maildir++ folders; the mailbox itself is not touched.
TEST_F(MailboxRestoreTest, IntoFolderCreatesNewFoldersBesideTheMailbox) {
  ImportDomain();
  auto inbox_before = ReadFile(home_ + "/" + kSeenMessage);
  ImportOptions o = AliceOptions();
  o.into_folder = "Restored";
  ImportReport r;
  Status s = ImportArchive(o, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const MailboxOutcome& m = *r.mailbox;
  EXPECT_EQ(m.folder, ".Restored");
  EXPECT_TRUE(m.skipped_messages.empty());
  EXPECT_TRUE(m.skipped_files.empty());
  EXPECT_NE(std::find(m.created_dirs.begin(), m.created_dirs.end(), "Maildir/.Restored"), m.created_dirs.end());
  EXPECT_NE(std::find(m.created_dirs.begin(), m.created_dirs.end(), "Maildir/.Restored.Sent"),
            m.created_dirs.end());
  // Every message of the account came back, each into the new folders.
  std::uint64_t found = 0;
  for (const auto& e : fs::recursive_directory_iterator(home_ + "/Maildir")) {
    std::string rel = fs::relative(e.path(), home_ + "/Maildir").string();
    std::string parent = e.path().parent_path().filename().string();
    if (rel.rfind(".Restored", 0) == 0 && e.is_regular_file() && (parent == "cur" || parent == "new"))
      ++found;
  }
  EXPECT_EQ(m.restored_messages, 6u);
  EXPECT_EQ(found, m.restored_messages);
  EXPECT_TRUE(fs::exists(home_ + "/Maildir/.Restored/maildirfolder"));
  EXPECT_EQ(ReadFile(home_ + "/" + kSeenMessage), inbox_before);
}

TEST_F(MailboxRestoreTest, AccountMissingOnTheTargetIsNotFoundAndNothingChanges) {
  auto before = TreeDigest(dst_.path());
  ImportReport r;
  Status s = ImportArchive(AliceOptions(), &r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_EQ(TreeDigest(dst_.path()), before);
}

}  // namespace
}  // namespace vmigrate
