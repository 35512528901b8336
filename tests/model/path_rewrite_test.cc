#include "model/path_rewrite.h"

#include <string>

#include <gtest/gtest.h>

#include "model/manifest.h"
#include "support/test_support.h"

namespace vmigrate {
namespace {

const std::string kHome = "/tmp/realvp/home/vpopmail";
const std::string kQmail = "/tmp/realvp/qmail";
const std::string kDomainDir = kHome + "/domains/example.com";

HostPathSet Source() {
  HostPathSet s;
  s.vpopmail_home = kHome;
  s.qmail_dir = kQmail;
  s.domain_dir = kDomainDir;
  s.user_dirs["alice"] = kDomainDir + "/alice";
  s.user_dirs["bob"] = kDomainDir + "/bob";
  s.user_dirs["carol"] = kDomainDir + "/carol";
  s.user_dirs["user150"] = kDomainDir + "/0/user150";
  return s;
}

HostPathSet Target() {
  HostPathSet t;
  t.vpopmail_home = "/home/vpopmail";
  t.qmail_dir = "/var/qmail";
  t.domain_dir = "/home/vpopmail/domains/1/example.com";
  t.user_dirs["alice"] = "/home/vpopmail/domains/1/example.com/alice";
  t.user_dirs["bob"] = "/home/vpopmail/domains/1/example.com/bob";
  t.user_dirs["carol"] = "/home/vpopmail/domains/1/example.com/carol";
  t.user_dirs["user150"] = "/home/vpopmail/domains/1/example.com/0/user150";
  return t;
}

std::string To(const std::string& in, bool expect_changed = true) {
  std::string text = in;
  EXPECT_EQ(ToPlaceholders(Source(), &text), expect_changed) << in;
  return text;
}

TEST(PathRewriteTest, UserDirWinsOverDomainDir) {
  EXPECT_EQ(To(kDomainDir + "/bob/Maildir/\n"), "@@VMIGRATE:USER_DIR:bob@@/Maildir/\n");
  EXPECT_EQ(To(kDomainDir + "/0/user150/Maildir/"), "@@VMIGRATE:USER_DIR:user150@@/Maildir/");
  EXPECT_EQ(To(kDomainDir + "/bob"), "@@VMIGRATE:USER_DIR:bob@@");
}

TEST(PathRewriteTest, DomainDirWinsOverVpopmailHome) {
  EXPECT_EQ(To(kDomainDir + "/dave/Maildir/"), "@@VMIGRATE:DOMAIN_DIR@@/dave/Maildir/");
  EXPECT_EQ(To(kDomainDir), "@@VMIGRATE:DOMAIN_DIR@@");
  EXPECT_EQ(To(kHome + "/bin/vchkpw"), "@@VMIGRATE:VPOPMAIL_HOME@@/bin/vchkpw");
}

TEST(PathRewriteTest, UserDirThatIsAPrefixOfAnotherNameMatchesOnlyItsOwn) {
  // "al" must not match inside ".../alice", and ".../alice" must not lose to ".../al".
  HostPathSet s = Source();
  s.user_dirs["al"] = kDomainDir + "/al";
  std::string text = kDomainDir + "/al/x " + kDomainDir + "/alice/y";
  ASSERT_TRUE(ToPlaceholders(s, &text));
  EXPECT_EQ(text, "@@VMIGRATE:USER_DIR:al@@/x @@VMIGRATE:USER_DIR:alice@@/y");
}

TEST(PathRewriteTest, QmailDir) {
  EXPECT_EQ(To("|" + kQmail + "/bin/preline -f /usr/bin/procmail"),
            "|@@VMIGRATE:QMAIL_DIR@@/bin/preline -f /usr/bin/procmail");
  EXPECT_EQ(To(kQmail), "@@VMIGRATE:QMAIL_DIR@@");
}

TEST(PathRewriteTest, LongerNameIsNotRewritten) {
  std::string text = "/tmp/realvp/home/vpopmail2/bin/x";
  EXPECT_FALSE(ToPlaceholders(Source(), &text));
  EXPECT_EQ(text, "/tmp/realvp/home/vpopmail2/bin/x");
  std::string other = "/tmp/realvp/qmail-1.03/bin";
  EXPECT_FALSE(ToPlaceholders(Source(), &other));
  std::string user = kDomainDir + "/bob2/Maildir/";  // only the domain part matches
  ASSERT_TRUE(ToPlaceholders(Source(), &user));
  EXPECT_EQ(user, "@@VMIGRATE:DOMAIN_DIR@@/bob2/Maildir/");
}

TEST(PathRewriteTest, PathInsideAnotherPathIsNotRewritten) {
  std::string text = "/x/tmp/realvp/home/vpopmail/bin";
  EXPECT_FALSE(ToPlaceholders(Source(), &text));
  EXPECT_EQ(text, "/x/tmp/realvp/home/vpopmail/bin");
  std::string dbl = "//tmp/realvp/home/vpopmail";
  EXPECT_FALSE(ToPlaceholders(Source(), &dbl));
  std::string word = "abc/tmp/realvp/qmail";
  EXPECT_FALSE(ToPlaceholders(Source(), &word));
}

TEST(PathRewriteTest, LongerDomainNameIsNotTheDomainDir) {
  std::string text = kHome + "/domains/example.com.au/alice/Maildir/";
  ASSERT_TRUE(ToPlaceholders(Source(), &text));
  EXPECT_EQ(text, "@@VMIGRATE:VPOPMAIL_HOME@@/domains/example.com.au/alice/Maildir/");
  EXPECT_EQ(text.find("DOMAIN_DIR"), std::string::npos);
  EXPECT_EQ(text.find("USER_DIR"), std::string::npos);
}

TEST(PathRewriteTest, PathsAfterSeparatorsAreRewritten) {
  EXPECT_EQ(To("dir=" + kHome + " '" + kQmail + "'\t\"" + kDomainDir + "\""),
            "dir=@@VMIGRATE:VPOPMAIL_HOME@@ '@@VMIGRATE:QMAIL_DIR@@'\t\"@@VMIGRATE:DOMAIN_DIR@@\"");
}

TEST(PathRewriteTest, TextWithoutPathsIsUnchanged) {
  std::string text = "alice@example.com\n&carol.chen@gmail.test\n";
  EXPECT_FALSE(ToPlaceholders(Source(), &text));
  EXPECT_EQ(text, "alice@example.com\n&carol.chen@gmail.test\n");
  std::string empty;
  EXPECT_FALSE(ToPlaceholders(Source(), &empty));
}

TEST(PathRewriteTest, VdelivermailLineOfRealQmailDefault) {
  testing::TempDir root;
  testing::UnpackFixture("real-small", root.path());
  std::string text =
      testing::ReadFile(root.path() + kHome + "/domains/example.com/.qmail-default");
  ASSERT_EQ(text, "| " + kHome + "/bin/vdelivermail '' alice@example.com\n");
  ASSERT_TRUE(ToPlaceholders(Source(), &text));
  EXPECT_EQ(text, "| @@VMIGRATE:VPOPMAIL_HOME@@/bin/vdelivermail '' alice@example.com\n");
  ASSERT_TRUE(FromPlaceholders(Target(), &text).ok());
  EXPECT_EQ(text, "| /home/vpopmail/bin/vdelivermail '' alice@example.com\n");

  std::string dot_qmail =
      testing::ReadFile(root.path() + kHome + "/domains/example.com/carol/.qmail");
  ASSERT_TRUE(ToPlaceholders(Source(), &dot_qmail));
  EXPECT_EQ(dot_qmail, "&carol.chen@gmail.test\n@@VMIGRATE:USER_DIR:carol@@/Maildir/\n");
}

TEST(PathRewriteTest, FromPlaceholdersUsesTargetPaths) {
  std::string text =
      "| @@VMIGRATE:VPOPMAIL_HOME@@/bin/vdelivermail '' bounce-no-mailbox\n"
      "@@VMIGRATE:USER_DIR:bob@@/Maildir/\n"
      "@@VMIGRATE:USER_DIR:user150@@/Maildir/\n"
      "@@VMIGRATE:DOMAIN_DIR@@/.qmail-x @@VMIGRATE:QMAIL_DIR@@/bin/qmail-inject\n";
  ASSERT_TRUE(FromPlaceholders(Target(), &text).ok());
  EXPECT_EQ(text,
            "| /home/vpopmail/bin/vdelivermail '' bounce-no-mailbox\n"
            "/home/vpopmail/domains/1/example.com/bob/Maildir/\n"
            "/home/vpopmail/domains/1/example.com/0/user150/Maildir/\n"
            "/home/vpopmail/domains/1/example.com/.qmail-x /var/qmail/bin/qmail-inject\n");
}

TEST(PathRewriteTest, FromPlaceholdersWithoutMarkerIsIdentity) {
  std::string text = "plain text with @@ and @@VMIGRATE but no colon\n";
  ASSERT_TRUE(FromPlaceholders(Target(), &text).ok());
  EXPECT_EQ(text, "plain text with @@ and @@VMIGRATE but no colon\n");
}

TEST(PathRewriteTest, UnknownUserPlaceholderIsCorrupt) {
  std::string text = "@@VMIGRATE:USER_DIR:mallory@@/Maildir/";
  Status s = FromPlaceholders(Target(), &text);
  EXPECT_EQ(s.code(), Status::Code::kCorrupt);
  EXPECT_NE(s.message().find("mallory"), std::string::npos) << s.message();
}

TEST(PathRewriteTest, UnknownTokenIsCorrupt) {
  std::string text = "x @@VMIGRATE:HOME_DIR@@/y";
  Status s = FromPlaceholders(Target(), &text);
  EXPECT_EQ(s.code(), Status::Code::kCorrupt);
  EXPECT_NE(s.message().find("HOME_DIR"), std::string::npos) << s.message();
}

TEST(PathRewriteTest, UnterminatedPlaceholderIsCorrupt) {
  std::string text = "x @@VMIGRATE:QMAIL_DIR/bin";
  Status s = FromPlaceholders(Target(), &text);
  EXPECT_EQ(s.code(), Status::Code::kCorrupt);
  std::string user = "@@VMIGRATE:USER_DIR:bob";
  EXPECT_EQ(FromPlaceholders(Target(), &user).code(), Status::Code::kCorrupt);
}

TEST(PathRewriteTest, HasPlaceholderMarker) {
  EXPECT_TRUE(HasPlaceholderMarker("a @@VMIGRATE:QMAIL_DIR@@ b"));
  EXPECT_TRUE(HasPlaceholderMarker("@@VMIGRATE:"));
  EXPECT_FALSE(HasPlaceholderMarker("@@VMIGRATE"));
  EXPECT_FALSE(HasPlaceholderMarker(kHome));
}

TEST(PathRewriteTest, RoundTripWithSamePathsIsIdentity) {
  const std::string texts[] = {
      "| " + kHome + "/bin/vdelivermail '' alice@example.com\n",
      "| " + kHome + "/bin/vdelivermail '' bounce-no-mailbox\n",
      "&carol.chen@gmail.test\n" + kDomainDir + "/carol/Maildir/\n",
      kDomainDir + "/bob/Maildir/\n",
      "bob@example.com\ncarol@example.com\norders@partner.test\n",
      "|" + kQmail + "/bin/preline " + kHome + "/bin/autorespond 86400 3 " + kDomainDir +
          "/alice/vacation/message " + kDomainDir + "/alice/vacation\n" + kDomainDir +
          "/alice/Maildir/\n",
      "/tmp/realvp/home/vpopmail2 /x/tmp/realvp/home/vpopmail " + kHome +
          "/domains/example.com.au/ " + kDomainDir + "/0/user150/Maildir/ " + kDomainDir +
          "/bob2\n",
      "no newline at end " + kDomainDir,
      "",
  };
  for (const std::string& original : texts) {
    std::string text = original;
    ToPlaceholders(Source(), &text);
    Status s = FromPlaceholders(Source(), &text);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(text, original);
  }
}

TEST(PathRewriteTest, RoundTripOfRealFixtureDotQmailFiles) {
  testing::TempDir root;
  testing::UnpackFixture("real-small", root.path());
  const char* files[] = {"example.com/.qmail-default", "example.com/.qmail-archive",
                         "example.com/.qmail-sales",   "example.com/carol/.qmail",
                         "example.net/.qmail-default", "example.net/.qmail-help"};
  for (const char* f : files) {
    std::string original = testing::ReadFile(root.path() + kHome + "/domains/" + f);
    ASSERT_FALSE(original.empty()) << f;
    std::string text = original;
    ToPlaceholders(Source(), &text);
    EXPECT_EQ(text.find(kHome), std::string::npos) << f << ": " << text;
    ASSERT_TRUE(FromPlaceholders(Source(), &text).ok()) << f;
    EXPECT_EQ(text, original) << f;
  }
}

TEST(PathRewriteTest, EmptyPathsInSetAreIgnored) {
  HostPathSet s;
  s.vpopmail_home = kHome;
  s.user_dirs["ghost"] = "";
  std::string text = "/ " + kHome + "/x";
  ASSERT_TRUE(ToPlaceholders(s, &text));
  EXPECT_EQ(text, "/ @@VMIGRATE:VPOPMAIL_HOME@@/x");
}

// --- relative symlink targets (shared folders) across fresh hashing -----

TEST(PathRewriteTest, EntryHostPathNamesDomainFilesAndHomes) {
  EXPECT_EQ(EntryHostPath(Source(), "files/.qmail-info"), kDomainDir + "/.qmail-info");
  EXPECT_EQ(EntryHostPath(Source(), "users/user150/Maildir/.Shared"),
            kDomainDir + "/0/user150/Maildir/.Shared");
  EXPECT_EQ(EntryHostPath(Source(), "users/bob"), kDomainDir + "/bob");
  EXPECT_FALSE(EntryHostPath(Source(), "users/nobody/x").has_value());
  EXPECT_FALSE(EntryHostPath(Source(), "other/x").has_value());
}

TEST(PathRewriteTest, RelativeLinkBetweenHomesThatKeepTheirPlaceIsKeptVerbatim) {
  // bob and alice stay siblings: the text still reaches alice's folder.
  HostPathSet t = Target();
  auto out = RebaseRelativeLink(Source(), t, kDomainDir + "/bob/Maildir/.Shared",
                                t.user_dirs["bob"] + "/Maildir/.Shared", "../../alice/Maildir/.Shared");
  EXPECT_EQ(out, "../../alice/Maildir/.Shared");
}

TEST(PathRewriteTest, RelativeLinkFollowsAHomeThatMovesToAnotherBucket) {
  // Source: user150 in bucket 0/, bob at the top. Target: user150 at the top.
  HostPathSet t = Target();
  t.user_dirs["user150"] = "/home/vpopmail/domains/1/example.com/user150";
  auto out = RebaseRelativeLink(Source(), t, kDomainDir + "/bob/Maildir/.Shared",
                                t.user_dirs["bob"] + "/Maildir/.Shared",
                                "../../0/user150/Maildir/.Shared");
  EXPECT_EQ(out, "../../user150/Maildir/.Shared");
  // And from the moved home back to bob: one level less to climb.
  out = RebaseRelativeLink(Source(), t, kDomainDir + "/0/user150/Maildir/.Bob",
                           t.user_dirs["user150"] + "/Maildir/.Bob", "../../../bob/Maildir/.Shared/");
  EXPECT_EQ(out, "../../bob/Maildir/.Shared/");
}

TEST(PathRewriteTest, RelativeLinkOutOfTheDomainReachesTheSameHostPath) {
  // Another domain does not move with this one (as an absolute path into
  // it is carried unchanged); the domain lands one bucket deeper.
  HostPathSet t = Target();
  t.vpopmail_home = kHome;
  t.domain_dir = kHome + "/domains/1/example.com";
  t.user_dirs["bob"] = t.domain_dir + "/bob";
  auto out = RebaseRelativeLink(Source(), t, kDomainDir + "/link", t.domain_dir + "/link",
                                "../example.net/tom/Maildir");
  EXPECT_EQ(out, "../../example.net/tom/Maildir");
  out = RebaseRelativeLink(Source(), t, kDomainDir + "/bob/x", t.user_dirs["bob"] + "/x",
                           "../../../../../../../srv/shared");
  EXPECT_EQ(out, "../../../../../../../../srv/shared");
  // Unchanged text when the link's place did not move.
  out = RebaseRelativeLink(Source(), Source(), kDomainDir + "/link", kDomainDir + "/link", "../example.net");
  EXPECT_EQ(out, "../example.net");
}

TEST(PathRewriteTest, RelativeLinkThatCannotBeRewrittenIsNamed) {
  HostPathSet t = Target();
  EXPECT_FALSE(RebaseRelativeLink(Source(), t, kDomainDir + "/x", t.domain_dir + "/x",
                                  "../../../../../../../../../../x")
                   .has_value());  // climbs above "/"
  HostPathSet no_bob = t;
  no_bob.user_dirs.erase("bob");
  EXPECT_FALSE(RebaseRelativeLink(Source(), no_bob, kDomainDir + "/alice/x", t.user_dirs["alice"] + "/x",
                                  "../bob/Maildir")
                   .has_value());  // bob's home has no place on the target
  EXPECT_EQ(RebaseRelativeLink(Source(), t, kDomainDir + "/x", t.domain_dir + "/x", "/abs/path"),
            "/abs/path");
}

}  // namespace
}  // namespace vmigrate
