#include "pull/pulled_folder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "pull/pull.h"
#include "support/test_support.h"

namespace vmigrate::pull {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

TEST(UidListTest, ParsesAndFormatsVersion3) {
  std::string text = "3 V1234 N10 G3a\n1 P0001abcd :1700000000.M1.host\n7 W512 :1700000001.M2.host\n";
  auto l = ParseUidList(text, "x");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->uidvalidity, 1234u);
  EXPECT_EQ(l->uidnext, 10u);
  ASSERT_EQ(l->records.size(), 2u);
  EXPECT_EQ(l->records[0].pop3_uidl, "0001abcd");
  EXPECT_EQ(l->records[1].uid, 7u);
  EXPECT_EQ(l->records[1].extra, "W512");
  EXPECT_EQ(l->records[1].base, "1700000001.M2.host");
  EXPECT_EQ(FormatUidList(*l), "3 V1234 N10\n1 P0001abcd :1700000000.M1.host\n7 W512 :1700000001.M2.host\n");
}

TEST(UidListTest, RefusesOtherVersionsAndBrokenLines) {
  EXPECT_EQ(ParseUidList("1 1234 10\n", "x").status().code(), Status::Code::kUnsupported);
  EXPECT_EQ(ParseUidList("3 V1 N2\nabc :x\n", "x").status().code(), Status::Code::kCorrupt);
  EXPECT_EQ(ParseUidList("3 V1 N2\n5 nofilename\n", "x").status().code(), Status::Code::kCorrupt);
}

TEST(PulledFolderTest, AddsMessagesOnlyOnCommitAndKeepsState) {
  TempDir d;
  std::string maildir = d.path() + "/Maildir";
  fs::create_directories(maildir);
  WriteFile(maildir + "/maildirsize", "1000S\n");
  PulledFolder f(maildir + "/.Sent", maildir, getuid(), getgid());
  ASSERT_TRUE(f.Open(false, false).ok());
  EXPECT_TRUE(fs::exists(maildir + "/.Sent/maildirfolder"));
  size_t dropped = 0;
  std::string letters = f.FlagLetters({"\\Seen", "\\Flagged", "$Forwarded", "\\Recent", "\\Bogus"}, &dropped);
  EXPECT_EQ(letters, "FSa");
  EXPECT_EQ(dropped, 1u);
  ASSERT_TRUE(f.Add("100.V5U1.host", "Subject: x\n\nhi\n", 100, true, letters).ok());
  EXPECT_TRUE(fs::is_empty(maildir + "/.Sent/cur")) << "visible before Commit";
  EXPECT_TRUE(f.HasBase("100.V5U1.host"));
  ASSERT_TRUE(f.Commit().ok());
  std::string file = maildir + "/.Sent/cur/100.V5U1.host:2,FSa";
  ASSERT_TRUE(fs::exists(file));
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 100);
  EXPECT_EQ(ReadFile(maildir + "/maildirsize"), "1000S\n15 1\n");
  UidList l;
  l.uidvalidity = 5;
  l.uidnext = 9;
  l.records.push_back({1, "", "100.V5U1.host", ""});
  PullState st2;
  st2.source = "imap://h u";
  st2.uidvalidity = 5;
  st2.next_uid = 2;
  ASSERT_TRUE(f.Finish(l, st2).ok());
  EXPECT_EQ(ReadFile(maildir + "/.Sent/dovecot-uidlist"), "3 V5 N9\n1 :100.V5U1.host\n");
  EXPECT_EQ(ReadFile(maildir + "/.Sent/dovecot-keywords"), "0 $Forwarded\n");
  EXPECT_FALSE(fs::exists(maildir + "/.Sent/dovecot-uidlist.lock"));

  PulledFolder again(maildir + "/.Sent", maildir, getuid(), getgid());
  ASSERT_TRUE(again.Open(false, false).ok());
  EXPECT_TRUE(again.HasBase("100.V5U1.host"));
  ASSERT_TRUE(again.state().has_value());
  EXPECT_EQ(again.state()->next_uid, 2u);
  EXPECT_TRUE(again.OwnsUidList());
  EXPECT_EQ(again.FlagLetters({"$Forwarded"}, &dropped), "a") << "the keyword keeps its letter";
  auto removed = again.RemovePreviousPull();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  EXPECT_TRUE(fs::is_empty(maildir + "/.Sent/cur"));
}

TEST(PulledFolderTest, KilledRunLeavesNothingVisibleAndIsCleanedUp) {
  TempDir d;
  std::string maildir = d.path() + "/Maildir";
  {
    PulledFolder f(maildir, maildir, getuid(), getgid());
    ASSERT_TRUE(f.Open(true, false).ok());
    ASSERT_TRUE(f.Add("a", "x\n", 1, false, "").ok());
    // No Commit: as if killed.
  }
  EXPECT_TRUE(fs::is_empty(maildir + "/new"));
  EXPECT_FALSE(fs::is_empty(maildir + "/tmp"));
  PulledFolder f(maildir, maildir, getuid(), getgid());
  ASSERT_TRUE(f.Open(true, false).ok());
  EXPECT_TRUE(fs::is_empty(maildir + "/tmp")) << "our leftovers in tmp/ are removed";
  EXPECT_FALSE(f.HasBase("a"));
  EXPECT_FALSE(fs::exists(maildir + "/maildirfolder")) << "INBOX is no Maildir++ folder";
}

TEST(PulledFolderTest, ForeignUidListIsNotOurs) {
  TempDir d;
  std::string maildir = d.path() + "/Maildir";
  fs::create_directories(maildir + "/cur");
  WriteFile(maildir + "/dovecot-uidlist", "3 V77 N3\n1 :1.M1.h\n2 :2.M2.h\n");
  PulledFolder f(maildir, maildir, getuid(), getgid());
  ASSERT_TRUE(f.Open(true, false).ok());
  EXPECT_FALSE(f.OwnsUidList());
  WriteFile(maildir + "/dovecot-uidlist", "3 V77 N1\n");
  PulledFolder g(maildir, maildir, getuid(), getgid());
  ASSERT_TRUE(g.Open(true, false).ok());
  EXPECT_TRUE(g.OwnsUidList()) << "a list without records may be replaced";
}

TEST(PulledFolderTest, SubscriptionsAreAddedOnce) {
  TempDir d;
  ASSERT_TRUE(AddSubscriptions(d.path(), {"Sent", "Archive/2023"}, getuid(), getgid()).ok());
  EXPECT_EQ(ReadFile(d.path() + "/subscriptions"), "V\t2\n\nSent\nArchive\t2023\n");
  ASSERT_TRUE(AddSubscriptions(d.path(), {"Sent", "Drafts"}, getuid(), getgid()).ok());
  EXPECT_EQ(ReadFile(d.path() + "/subscriptions"), "V\t2\n\nSent\nArchive\t2023\nDrafts\n");
}

TEST(PullNamesTest, MapsImapNamesToMaildirPlusPlus) {
  std::string dir, name;
  bool changed = false;
  MapFolderName("INBOX", '/', &dir, &name, &changed);
  EXPECT_EQ(dir, "");
  EXPECT_EQ(name, "INBOX");
  MapFolderName("inbox", '.', &dir, &name, &changed);
  EXPECT_EQ(dir, "");
  MapFolderName("Archive/2023", '/', &dir, &name, &changed);
  EXPECT_EQ(dir, ".Archive.2023");
  EXPECT_EQ(name, "Archive/2023");
  EXPECT_FALSE(changed);
  MapFolderName("INBOX.Sent", '.', &dir, &name, &changed);
  EXPECT_EQ(dir, ".Sent");
  EXPECT_EQ(name, "Sent");
  MapFolderName("v1.2/Entw&APw-rfe", '/', &dir, &name, &changed);
  EXPECT_EQ(dir, ".v1_2.Entw&APw-rfe");
  EXPECT_TRUE(changed);
}

TEST(PullNamesTest, HeaderDateTakesTheFirstReceivedThenDate) {
  std::string m =
      "Return-Path: <a@b>\r\nReceived: from x by y;\r\n\tTue, 3 Jan 2023 10:00:00 +0100\r\n"
      "Received: from z; Mon, 2 Jan 2023 09:00:00 +0000\r\nDate: Sun, 1 Jan 2023 00:00:00 +0000\r\n\r\nbody\r\n";
  auto t = HeaderDate(m);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, 1672736400);  // 2023-01-03 09:00:00 UTC
  auto d = HeaderDate("Date: 1 Jan 2023 00:00 -0500\n\nx\n");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, 1672549200);
  EXPECT_FALSE(HeaderDate("Subject: none\n\nDate: 1 Jan 2023 00:00:00 +0000\n").has_value());
}

TEST(PullNamesTest, HeaderHashIsTheSameFromPop3AndImapAndIgnoresWhatServersAdd) {
  // IMAP's BODY.PEEK[HEADER]: CRLF. qmail-pop3d's TOP n 0 of the same
  // Maildir file: CRLF too on the wire. An mbox server's POP3 shows
  // Status/X-UIDL/X-UID lines IMAP hides, and may strip trailing blanks.
  const std::string imap =
      "Received: from a by b;\r\n\tThu, 1 Feb 2024 10:00:00 +0000\r\nSubject: hello \r\nFrom: x@example.net\r\n\r\n";
  const std::string pop3 =
      "Return-Path: <x@example.net>\r\nReceived: from a by b;\r\n\tThu, 1 Feb 2024 10:00:00 +0000\r\n"
      "Status: RO\r\nX-UIDL: 3a5b\r\nX-UID: 7\r\nSubject: hello\r\nFrom: x@example.net\r\n\r\n";
  EXPECT_EQ(HeaderHash(imap), HeaderHash(pop3));
  EXPECT_EQ(HeaderHash(imap), HeaderHash("Received: from a by b;\n\tThu, 1 Feb 2024 10:00:00 +0000\nSubject: "
                                         "hello\nFrom: x@example.net\n\nthe body is not part of it\n"));
  // Another message, or the same one with a field changed, differs.
  EXPECT_NE(HeaderHash(imap), HeaderHash("Subject: hello\r\nFrom: x@example.net\r\n\r\n"));
  std::string other = imap;
  other.replace(other.find("hello"), 5, "Hello");
  EXPECT_NE(HeaderHash(imap), HeaderHash(other));
  // A line without a field name is left out with its continuation.
  EXPECT_EQ(HeaderHash("Subject: a\r\n\r\n"), HeaderHash("Subject: a\r\nbroken line\r\n\tcontinued\r\n\r\n"));
}

}  // namespace
}  // namespace vmigrate::pull
