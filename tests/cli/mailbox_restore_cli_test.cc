// Mailbox restore details (issue 15, item 8), end to end through the binary
// on the real-small fixture (alice has Dovecot's Maildir/subscriptions, bob
// Courier's courierimapsubscribed):
// - --into-folder subscribes the new folders, atomically, without duplicates;
// - an unsafe --into-folder name is refused saying why;
// - --user works without --domain when the archive holds one domain;
// - the skipped list separates messages from state files.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

class MailboxRestoreCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
    archive_ = work_ / "example.com.vma";
    ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
    ASSERT_EQ(Import(dst_.path(), archive_).exit_code, 0);
  }

  std::string Maildir(const std::string& user) const {
    return TargetHomeDisk(dst_.path()) + "/domains/example.com/" + user + "/Maildir";
  }

  TempDir src_, dst_, work_;
  std::string archive_;
};

TEST_F(MailboxRestoreCliTest, IntoFolderSubscribesTheNewFoldersInDovecotsFileOnce) {
  const std::string subs = Maildir("alice") + "/subscriptions";
  ASSERT_EQ(ReadFile(subs), "Sent\nTrash\nDrafts\n");
  // Already subscribed (the admin prepared it): not added twice.
  WriteFile(subs, "Sent\nTrash\nDrafts\nRestored\n");
  CommandResult r = Import(dst_.path(), archive_, {"--user", "alice", "--into-folder", "Restored", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"subscribed_folders\":[\".Restored.Sent\",\".Restored.Trash\"]"), std::string::npos)
      << r.out;
  EXPECT_EQ(ReadFile(subs), "Sent\nTrash\nDrafts\nRestored\nRestored.Sent\nRestored.Trash\n");
  EXPECT_FALSE(fs::exists(Maildir("alice") + "/courierimapsubscribed"));
  for (const auto& e : fs::directory_iterator(Maildir("alice")))
    EXPECT_EQ(e.path().filename().string().find(".vmigrate-tmp"), std::string::npos) << e.path();

  // Dovecot's version 2 file: levels joined by a tab, its header kept.
  WriteFile(subs, "V\t2\n\nSent\n");
  r = Import(dst_.path(), archive_, {"--user", "alice", "--into-folder", "Again.2026"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("subscribed  .Again.2026"), std::string::npos) << r.out;
  EXPECT_EQ(ReadFile(subs), "V\t2\n\nSent\nAgain\t2026\nAgain\t2026\tSent\nAgain\t2026\tTrash\n");
}

TEST_F(MailboxRestoreCliTest, IntoFolderSubscribesInCouriersFileWhenTheAccountHasIt) {
  const std::string courier = Maildir("bob") + "/courierimapsubscribed";
  ASSERT_EQ(ReadFile(courier), "INBOX.Trash\nINBOX.Sent\n");
  CommandResult plan = Import(dst_.path(), archive_, {"--user", "bob", "--into-folder", "Old", "--dry-run"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("would subscribe  .Old"), std::string::npos) << plan.out;
  EXPECT_EQ(ReadFile(courier), "INBOX.Trash\nINBOX.Sent\n") << "a dry run wrote";
  CommandResult r = Import(dst_.path(), archive_, {"--user", "bob", "--into-folder", "Old"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text = ReadFile(courier);
  EXPECT_EQ(text, "INBOX.Trash\nINBOX.Sent\nINBOX.Old\nINBOX.Old.Trash\n");
  EXPECT_FALSE(fs::exists(Maildir("bob") + "/subscriptions")) << "a Courier account got Dovecot's file";
  EXPECT_TRUE(fs::is_directory(Maildir("bob") + "/.Old"));
}

TEST_F(MailboxRestoreCliTest, UnsafeFolderNamesAreRefusedSayingWhy) {
  auto before = TreeDigest(dst_.path());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"../x", "'/' would lead out of the Maildir"},
      {"a/b", "'/' would lead out of the Maildir"},
      {".Hidden", "without the leading '.'"},
      {"..", "without the leading '.'"},
      {"a..b", "an empty folder level"},
      {"Trailing.", "an empty folder level"},
      {"R\xc3\xa9sum\xc3\xa9", "non-ASCII"},
      {"Tom&Jerry", "modified UTF-7"},
      {"All*", "IMAP wildcards"},
      {"INBOX", "INBOX is the Maildir itself"},
      {"tab\there", "control characters"},
  };
  for (const auto& [name, why] : cases) {
    SCOPED_TRACE(name);
    CommandResult r = Import(dst_.path(), archive_, {"--user", "alice", "--into-folder", name});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find("--into-folder '"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(MailboxRestoreCliTest, UserWithoutDomainWorksWhenTheArchiveHoldsOneDomain) {
  fs::remove(Maildir("alice") + "/new/1795424452.28218.mail.example.com,S=462");
  CommandResult r = Import(dst_.path(), archive_, {"--user", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("restored 1 messages (462 bytes, 1 files in all) for alice@example.com into ", 0), 0u)
      << r.out;
  EXPECT_TRUE(fs::exists(Maildir("alice") + "/new/1795424452.28218.mail.example.com,S=462"));

  // A server archive with two domains: which one must be said.
  std::string server = work_ / "server.vma";
  ASSERT_EQ(RunVmigrate(Concat({"export", "--all", "-o", server}, SourceFlags(src_.path()))).exit_code, 0);
  r = Import(dst_.path(), server, {"--user", "alice"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("the archive holds 2 domains (example.com, example.net); say which with --domain D"),
            std::string::npos)
      << r.err;
}

TEST_F(MailboxRestoreCliTest, SkippedMessagesAndSkippedStateFilesAreListedApart) {
  CommandResult r = Import(dst_.path(), archive_, {"--user", "alice", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"restored_messages\":0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"path\":\"Maildir/cur/1795424448.28190.mail.example.com,S=675:2,S\","
                       "\"reason\":\"already there\"}"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("{\"path\":\"Maildir/dovecot-uidlist\",\"reason\":\"already there\"}"), std::string::npos)
      << r.out;
  // Each list holds only its kind.
  size_t messages = r.out.find("\"skipped_message_list\":");
  size_t files = r.out.find("\"skipped_file_list\":");
  ASSERT_NE(messages, std::string::npos);
  ASSERT_NE(files, std::string::npos);
  ASSERT_LT(messages, files);
  std::string message_list = r.out.substr(messages, files - messages);
  std::string file_list = r.out.substr(files);
  EXPECT_EQ(message_list.find("dovecot-uidlist"), std::string::npos) << message_list;
  EXPECT_EQ(message_list.find("maildirsize"), std::string::npos) << message_list;
  EXPECT_EQ(file_list.find("/cur/"), std::string::npos) << file_list;
  EXPECT_EQ(file_list.find("/new/"), std::string::npos) << file_list;
  EXPECT_NE(r.out.find("\"skipped_messages\":"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"skipped_files\":"), std::string::npos) << r.out;

  CommandResult t = Import(dst_.path(), archive_, {"--user", "alice"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("messages already there (never overwritten):\n  Maildir/"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("other files (IMAP/POP state, ...; never overwritten):\n"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("  Maildir/dovecot-uidlist (already there)\n"), std::string::npos) << t.out;
}

}  // namespace
}  // namespace vmigrate::testing::cli
