#include "unixhost/mail_folders.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "core/strings.h"
#include "support/test_support.h"
#include "unixhost/unix_fixture.h"

namespace vmigrate::unixhost {
namespace {

using vmigrate::testing::ReadFile;
using vmigrate::testing::TempDir;
using vmigrate::testing::WriteFile;

bool AnyContains(const std::vector<std::string>& lines, const std::string& what) {
  for (const std::string& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

Account User(const std::string& name) {
  Account a;
  a.name = name;
  a.home = "/home/" + name;
  return a;
}

using MailFoldersTest = UnixFixtureTest;

TEST_F(MailFoldersTest, FoldersAreWhatDovecotListedOnTheOldHost) {
  // client-view/imap-folders.txt: user, folder, decoded, UIDVALIDITY, ...; the
  // \Noselect parents have UIDVALIDITY "-" and INBOX is the spool.
  std::map<std::string, std::vector<std::string>> want;
  for (const std::string& line : SplitLines(ReadFile(root() + "/client-view/imap-folders.txt"))) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = Split(line, '\t');
    ASSERT_GE(f.size(), 4u);
    if (f[1] == "INBOX" || f[3] == "-") continue;
    want[f[0]].push_back(f[1]);
  }
  for (const char* name : {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
                           "judy", "ken", "laura"}) {
    Result<UserMail> mail = FindUserMail(root(), User(name), "", "");
    ASSERT_TRUE(mail.ok()) << mail.status().ToString();
    std::vector<std::string> got;
    for (const Folder& f : mail->folders) {
      got.push_back(f.imap_name);
      EXPECT_EQ(f.new_imap_name, f.imap_name);
      EXPECT_EQ(f.path, root() + "/home/" + name + "/mail/" + f.imap_name);
    }
    EXPECT_EQ(got, want[name]) << name;
    EXPECT_EQ(mail->spool, root() + "/var/mail/" + name) << name;
    // The fixture's folders are all mbox files; .imap/ and .subscriptions are skipped unwarned,
    // only alice's stale subscription is worth a word.
    if (std::string(name) != "alice") {
      EXPECT_TRUE(mail->warnings.empty()) << name << ": " << mail->warnings[0];
    }
  }
}

TEST_F(MailFoldersTest, AlicesFoldersAndSubscriptions) {
  Result<UserMail> mail = FindUserMail(root(), User("alice"), "", "");
  ASSERT_TRUE(mail.ok());
  std::vector<std::string> maildirs;
  for (const Folder& f : mail->folders) maildirs.push_back(f.maildir_name);
  EXPECT_EQ(maildirs, (std::vector<std::string>{".Archive.2023", ".Entw&APw-rfe", ".saved-messages",
                                                ".sent-mail", ".sent-mail-oct-2023"}));
  EXPECT_EQ(mail->mbox, "");
  EXPECT_GT(mail->bytes, 3178);  // the spool and the folders
  // UW's ~/.mailboxlist with its "mail/" prefix removed; the stale one is kept and warned.
  EXPECT_EQ(mail->subscriptions, (std::vector<std::string>{"sent-mail", "saved-messages", "Archive/2023",
                                                           "Entw&APw-rfe", "old-stuff"}));
  ASSERT_EQ(mail->warnings.size(), 1u);
  EXPECT_EQ(mail->warnings[0],
            "user 'alice': ~/.mailboxlist: 'old-stuff' names no folder (kept as a subscription)");
}

TEST_F(MailFoldersTest, DovecotSubscriptionsAreTheLsubView) {
  std::map<std::string, std::vector<std::string>> lsub;
  for (const std::string& line : SplitLines(ReadFile(root() + "/client-view/imap-lsub.txt"))) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = Split(line, '\t');
    lsub[f[0]].push_back(f[1]);
  }
  for (const char* name : {"carol", "erin"}) {
    Result<UserMail> mail = FindUserMail(root(), User(name), "", "");
    ASSERT_TRUE(mail.ok());
    std::vector<std::string> got = mail->subscriptions;
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, lsub[name]) << name;
  }
  Result<UserMail> carol = FindUserMail(root(), User("carol"), "", "");
  EXPECT_EQ(carol->subscriptions, (std::vector<std::string>{"INBOX", "receipts", "Best&AOQ-tigungen"}));
  Result<UserMail> laura = FindUserMail(root(), User("laura"), "", "");
  EXPECT_EQ(laura->subscriptions, (std::vector<std::string>{"Family", "Receipts"}));
  Result<UserMail> bob = FindUserMail(root(), User("bob"), "", "");
  EXPECT_TRUE(bob->subscriptions.empty());
}

TEST_F(MailFoldersTest, KensMboxJudysEmptySpoolAndOscarsLeftovers) {
  Result<UserMail> ken = FindUserMail(root(), User("ken"), "", "");
  ASSERT_TRUE(ken.ok());
  EXPECT_EQ(ken->mbox, root() + "/home/ken/mbox");
  EXPECT_EQ(ken->spool, root() + "/var/mail/ken");
  Result<UserMail> judy = FindUserMail(root(), User("judy"), "", "");
  ASSERT_TRUE(judy.ok());
  EXPECT_EQ(judy->spool, root() + "/var/mail/judy");
  EXPECT_EQ(judy->bytes, 0);
  EXPECT_EQ(CheckDisabledHasMail("judy", true, *judy).code(), Status::Code::kDataRefused);
  EXPECT_TRUE(CheckDisabledHasMail("judy", false, *judy).ok());
  // --spool names another spool directory (a host path under the root).
  Result<UserMail> moved = FindUserMail(root(), User("ken"), "/var/spool/mail", "");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->spool, "");
  // No home at all is not an error.
  Account ghost = User("ghost");
  Result<UserMail> none = FindUserMail(root(), ghost, "", "");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->bytes, 0);
  EXPECT_TRUE(none->folders.empty());
  EXPECT_EQ(FindUserMail(root(), ghost, "", "/etc").status().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(FindUserMail(root(), ghost, "", "../alice/mail").status().code(), Status::Code::kInvalidInput);
}

TEST_F(MailFoldersTest, OscarsSpoolHasNoAccount) {
  Result<std::vector<Account>> all = ReadAccounts(root());
  ASSERT_TRUE(all.ok());
  Result<std::vector<std::string>> orphans = OrphanSpools(root(), "", *all);
  ASSERT_TRUE(orphans.ok()) << orphans.status().ToString();
  EXPECT_EQ(*orphans, (std::vector<std::string>{"oscar"}));
  Result<std::vector<std::string>> none = OrphanSpools(root(), "/var/spool/mail", *all);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(MailFoldersTreeTest, NamesThatMaildirPlusPlusCannotHoldAreMappedNeverLost) {
  TempDir dir;
  namespace fs = std::filesystem;
  const std::string mail = dir / "home/joe/Mail";
  fs::create_directories(mail + "/lists.2023");
  fs::create_directories(mail + "/Maildir/cur");
  fs::create_directories(mail + "/Maildir/new");
  fs::create_directories(mail + "/.imap");
  const std::string msg = "From a@b Mon Oct 30 15:59:00 2023\nSubject: x\n\nbody\n";
  WriteFile(mail + "/foo.bar", msg);
  WriteFile(mail + "/foo_bar", msg);
  WriteFile(mail + "/Entw\xc3\xbc" "rfe", msg);
  WriteFile(mail + "/R&D", "");
  WriteFile(mail + "/inbox", msg);
  WriteFile(mail + "/lists.2023/debian", msg);
  WriteFile(mail + "/notes.txt", "just text\n");
  WriteFile(mail + "/sent", msg);
  WriteFile(mail + "/sent.lock", "");
  WriteFile(mail + "/.hidden", msg);
  WriteFile(dir / "home/joe/.mailboxlist", "Mail/foo.bar\nINBOX\nMail/lists.2023/debian\nmail/other\n");
  ASSERT_EQ(symlink("/etc/passwd", (mail + "/link").c_str()), 0);
  Account joe = User("joe");
  Result<UserMail> r = FindUserMail(dir.path(), joe, "", "~/Mail/");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> names, maildirs, sources;
  for (const Folder& f : r->folders) {
    names.push_back(f.new_imap_name);
    maildirs.push_back(f.maildir_name);
    sources.push_back(f.imap_name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Entw&APw-rfe", "R&-D", "foo_bar", "foo_bar_2", "inbox_folder",
                                             "lists_2023/debian", "sent"}));
  EXPECT_EQ(maildirs, (std::vector<std::string>{".Entw&APw-rfe", ".R&-D", ".foo_bar", ".foo_bar_2",
                                                ".inbox_folder", ".lists_2023.debian", ".sent"}));
  // The folder whose own name fits keeps it; the one with a '.' takes the next free name.
  EXPECT_EQ(sources, (std::vector<std::string>{"Entw&APw-rfe", "R&-D", "foo_bar", "foo.bar", "inbox",
                                               "lists.2023/debian", "sent"}));
  EXPECT_TRUE(AnyContains(r->warnings, "Mail/Maildir': a Maildir, not a mbox folder"));
  EXPECT_TRUE(AnyContains(r->warnings, "folder 'inbox' becomes 'inbox_folder'"));
  EXPECT_TRUE(AnyContains(r->warnings, "R&D': name is not modified UTF-7; named 'R&-D'"));
  EXPECT_TRUE(AnyContains(r->warnings, "notes.txt': does not start with a From_ line"));
  EXPECT_TRUE(AnyContains(r->warnings, "link': symbolic link"));
  EXPECT_TRUE(AnyContains(r->warnings, "sent.lock': a dotlock"));
  EXPECT_TRUE(AnyContains(r->warnings, "folder 'foo.bar' becomes 'foo_bar_2' ('.' cannot be in a Maildir++ name)"));
  EXPECT_TRUE(AnyContains(r->warnings, "'mail/other' is outside ~/Mail"));
  EXPECT_FALSE(AnyContains(r->warnings, ".hidden"));
  EXPECT_FALSE(AnyContains(r->warnings, ".imap"));
  // Subscriptions follow the renames.
  EXPECT_EQ(r->subscriptions, (std::vector<std::string>{"foo_bar_2", "INBOX", "lists_2023/debian"}));
}

TEST(MailFoldersTreeTest, ReadsBothDovecotSubscriptionVersions) {
  TempDir dir;
  const std::string mail = dir / "home/joe/mail";
  std::filesystem::create_directories(mail + "/a");
  const std::string msg = "From a@b Mon Oct 30 15:59:00 2023\n\nx\n";
  WriteFile(mail + "/a/b", msg);
  WriteFile(mail + "/c", msg);
  WriteFile(mail + "/.subscriptions", "V\t2\n\na\tb\nc\n");
  Result<UserMail> v2 = FindUserMail(dir.path(), User("joe"), "", "");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->subscriptions, (std::vector<std::string>{"a/b", "c"}));
  WriteFile(mail + "/.subscriptions", "a/b\nc\n");
  Result<UserMail> v1 = FindUserMail(dir.path(), User("joe"), "", "");
  EXPECT_EQ(v1->subscriptions, (std::vector<std::string>{"a/b", "c"}));
  EXPECT_TRUE(v1->warnings.empty());
}

TEST(ModifiedUtf7Test, EncodesLikeRfc3501) {
  EXPECT_EQ(EncodeModifiedUtf7("INBOX"), "INBOX");
  EXPECT_EQ(EncodeModifiedUtf7("Entw\xc3\xbc" "rfe"), "Entw&APw-rfe");
  EXPECT_EQ(EncodeModifiedUtf7("Best\xc3\xa4tigungen"), "Best&AOQ-tigungen");
  EXPECT_EQ(EncodeModifiedUtf7("R&D"), "R&-D");
  // RFC 3501 5.1.3's example: "~peter/mail/台北/日本語".
  EXPECT_EQ(EncodeModifiedUtf7("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(EncodeModifiedUtf7("\xf0\x9f\x98\x80"), "&2D3eAA-");  // U+1F600: a surrogate pair
  EXPECT_EQ(EncodeModifiedUtf7("Entw\xfc" "rfe"), "Entw&APw-rfe");  // Latin-1 byte
  EXPECT_EQ(EncodeModifiedUtf7("a\tb"), "a&AAk-b");
}

TEST(ModifiedUtf7Test, RecognisesValidNames) {
  for (const char* good : {"INBOX", "Entw&APw-rfe", "R&-D", "&U,BTFw-", "&2D3eAA-", "a b"})
    EXPECT_TRUE(IsModifiedUtf7(good)) << good;
  for (const char* bad : {"R&D", "&", "&APw", "Entw\xc3\xbc" "rfe", "&A-", "&APx-"})
    EXPECT_FALSE(IsModifiedUtf7(bad)) << bad;
}

TEST(SubscriptionsFileTest, DovecotVersion2WithTabsBetweenLevels) {
  EXPECT_EQ(FormatSubscriptions({"INBOX", "Archive/2023", "Entw&APw-rfe", "a\tb"}),
            "V\t2\n\nINBOX\nArchive\t2023\nEntw&APw-rfe\na\001tb\n");
  // What Dovecot 2.3.19.1 wrote for carol (client-view's source) has this form.
  EXPECT_EQ(FormatSubscriptions({"INBOX", "receipts", "Best&AOQ-tigungen"}),
            "V\t2\n\nINBOX\nreceipts\nBest&AOQ-tigungen\n");
}

TEST_F(MailFoldersTest, FormatMatchesTheFileDovecotWrote) {
  EXPECT_EQ(FormatSubscriptions({"INBOX", "receipts", "Best&AOQ-tigungen"}),
            ReadFile(root() + "/home/carol/mail/.subscriptions"));
  EXPECT_EQ(FormatSubscriptions({"Sent", "Drafts", "Trash"}), ReadFile(root() + "/home/erin/mail/.subscriptions"));
}

}  // namespace
}  // namespace vmigrate::unixhost
