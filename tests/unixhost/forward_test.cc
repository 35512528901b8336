#include "unixhost/forward.h"

#include <gtest/gtest.h>

#include "unixhost/unix_fixture.h"

namespace vmigrate::unixhost {
namespace {

bool AnyContains(const std::vector<std::string>& lines, const std::string& what) {
  for (const std::string& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

using ForwardFixtureTest = UnixFixtureTest;

Account User(const std::string& name) {
  Account a;
  a.name = name;
  a.home = "/home/" + name;
  return a;
}

TEST_F(ForwardFixtureTest, DaveKeepsALocalCopyAndForwards) {
  Result<ForwardResult> r = ReadUserForward(root(), User("dave"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->qmail_lines, (std::vector<std::string>{"@@VMIGRATE:USER_DIR:dave@@/Maildir/",
                                                      "&dave.d@gmail.test"}));
  EXPECT_TRUE(r->warnings.empty());
}

TEST_F(ForwardFixtureTest, CarolsProcmailPipeIsReportedNotCarried) {
  Result<ForwardResult> r = ReadUserForward(root(), User("carol"));
  ASSERT_TRUE(r.ok());
  // Nothing forwarded: no .qmail, vdelivermail delivers to the Maildir.
  EXPECT_TRUE(r->qmail_lines.empty());
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_NE(r->warnings[0].find("program '|IFS=' ' && exec /usr/bin/procmail -f- || exit 75 #carol'"),
            std::string::npos)
      << r->warnings[0];
  EXPECT_NE(r->warnings[1].find(".procmailrc"), std::string::npos);
}

TEST_F(ForwardFixtureTest, BobHasOnlyAProcmailrc) {
  Result<ForwardResult> r = ReadUserForward(root(), User("bob"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->qmail_lines.empty());
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("user 'bob': ~/.procmailrc not carried"), std::string::npos);
  Result<ForwardResult> alice = ReadUserForward(root(), User("alice"));
  ASSERT_TRUE(alice.ok());
  EXPECT_TRUE(alice->qmail_lines.empty());
  EXPECT_TRUE(alice->warnings.empty());
}

TEST(ConvertForwardTest, EachEntryKind) {
  ForwardResult r = ConvertForward(
      "# to work and home\n"
      "joe@work.example, <joe@home.example>\n"
      "\"|/usr/bin/vacation joe\"\n"
      "/home/joe/archive.mbox, :include:/etc/mail/joe.list\n"
      "\\sam, fred\n"
      "joe@work.example\n",
      "joe", "example.com");
  EXPECT_EQ(r.qmail_lines,
            (std::vector<std::string>{"&joe@work.example", "&joe@home.example", "&fred@example.com",
                                      "@@VMIGRATE:USER_DIR:joe@@/Maildir/"}));
  EXPECT_TRUE(AnyContains(r.warnings, "program '|/usr/bin/vacation joe'"));
  EXPECT_TRUE(AnyContains(r.warnings, "file delivery '/home/joe/archive.mbox'"));
  EXPECT_TRUE(AnyContains(r.warnings, "':include:/etc/mail/joe.list' not carried"));
  EXPECT_TRUE(AnyContains(r.warnings, "'\\\\sam'"));
  EXPECT_TRUE(AnyContains(r.warnings, "a local copy is kept"));
  EXPECT_EQ(r.warnings.size(), 5u);
}

TEST(ConvertForwardTest, SelfWithoutBackslashAndBareNamesWithoutDomain) {
  ForwardResult self = ConvertForward("Joe, joe@elsewhere.example", "joe");
  EXPECT_EQ(self.qmail_lines, (std::vector<std::string>{"@@VMIGRATE:USER_DIR:joe@@/Maildir/",
                                                        "&joe@elsewhere.example"}));
  ForwardResult bare = ConvertForward("fred\n", "joe");
  EXPECT_EQ(bare.qmail_lines, (std::vector<std::string>{"&fred"}));
  EXPECT_TRUE(AnyContains(bare.warnings, "without a domain"));
  ForwardResult empty = ConvertForward("# nothing\n\n", "joe");
  EXPECT_TRUE(empty.qmail_lines.empty());
  EXPECT_TRUE(empty.warnings.empty());
  // A program alone keeps nothing to forward: the Maildir gets the mail
  // (no .qmail) and no extra line is needed.
  ForwardResult pipe = ConvertForward("|/usr/bin/procmail", "joe");
  EXPECT_TRUE(pipe.qmail_lines.empty());
  EXPECT_EQ(pipe.warnings.size(), 1u);
}

}  // namespace
}  // namespace vmigrate::unixhost
