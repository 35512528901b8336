#include "model/outside_refs.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "model/path_rewrite.h"

namespace vmigrate {
namespace {

const std::string kHome = "/old/vpopmail";
const std::string kQmail = "/var/qmail";
const std::string kDir = kHome + "/domains/example.com";

RefScope Scope(std::set<std::string> existing = {}) {
  RefScope s;
  s.vpopmail_home = kHome;
  s.qmail_dir = kQmail;
  s.domain_dir = kDir;
  s.user_dirs = {kDir + "/alice", kDir + "/0/bob", "/data/carol"};
  s.other_domains = {{kHome + "/domains/example.net", "example.net"},
                     {kHome + "/domains/0/example.org", "example.org"},
                     {"/data/domains/example.biz", "example.biz"}};
  s.exists = [existing](const std::string& p) { return existing.count(p) > 0; };
  return s;
}

// The reason ClassifyPath gives, or "" when the path stays inside.
std::string Why(const RefScope& scope, const std::string& path, bool delivery = true,
                const std::string& dir = kDir, std::string* domain = nullptr) {
  OutsideRef ref;
  if (!ClassifyPath(scope, FoundPath{1, path, delivery}, dir, &ref)) return "";
  if (domain) *domain = ref.domain;
  EXPECT_EQ(ref.path, path);
  return ref.reason;
}

TEST(OutsideRefsTest, DotQmailNamesAreTheDeliveryFiles) {
  EXPECT_TRUE(IsDotQmailName(".qmail"));
  EXPECT_TRUE(IsDotQmailName(".qmail-support"));
  EXPECT_TRUE(IsDotQmailName(".qmail-list-default"));
  EXPECT_FALSE(IsDotQmailName(".qmailadmin-limits"));
  EXPECT_FALSE(IsDotQmailName("qmail-support"));
}

TEST(OutsideRefsTest, DeliveryLinesAreDeliveryTargetsAndAddressesHoldNoPath) {
  auto found = DotQmailPaths("# a comment /x/y/\n&tom@example.net\numa@example.net\n" + kHome +
                             "/domains/example.net/tom/Maildir/  \t\n./Maildir/\n/var/mail/tom\n");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].line, 4u);
  EXPECT_EQ(found[0].path, kHome + "/domains/example.net/tom/Maildir/");  // trailing blanks dropped
  EXPECT_TRUE(found[0].delivery);
  EXPECT_EQ(found[1].path, "./Maildir/");
  EXPECT_EQ(found[2].path, "/var/mail/tom");
  EXPECT_EQ(found[2].line, 6u);
}

TEST(OutsideRefsTest, ProgramIsNotAPathButItsPathArgumentsAre) {
  auto found = DotQmailPaths("|/usr/bin/autorespond 10000 5 '" + kDir + "/HELP/message' " + kDir +
                             "/HELP\n| /usr/bin/ezmlm-send '/x/list'\n");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].path, kDir + "/HELP/message");  // quotes removed
  EXPECT_FALSE(found[0].delivery);
  EXPECT_EQ(found[1].path, kDir + "/HELP");
  EXPECT_EQ(found[2].path, "/x/list");
  EXPECT_EQ(found[2].line, 2u);
}

TEST(OutsideRefsTest, VdelivermailCatchAllHomeIsADeliveryTarget) {
  auto found = DotQmailPaths("| " + kHome + "/bin/vdelivermail '' " + kHome + "/domains/example.net/tom\n");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].path, kHome + "/domains/example.net/tom");
  EXPECT_TRUE(found[0].delivery);
  EXPECT_TRUE(DotQmailPaths("| " + kHome + "/bin/vdelivermail '' bounce-no-mailbox\n").empty());
  EXPECT_TRUE(DotQmailPaths("| " + kHome + "/bin/vdelivermail '' alice@example.com\n").empty());
}

TEST(OutsideRefsTest, EveryCommandOfAProgramLineHasItsOwnProgram) {
  auto found = DotQmailPaths("|preline /usr/bin/maildrop /etc/mailfilter; FOO=1 /bin/cat /x/y\n");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].path, "/usr/bin/maildrop");  // preline's argument (outside home: not reported)
  EXPECT_EQ(found[1].path, "/etc/mailfilter");
  EXPECT_EQ(found[2].path, "/x/y");               // /bin/cat is the second command's program
}

TEST(OutsideRefsTest, ConfigPathsFindWholePathsWithTheirLines) {
  auto found = ConfigPaths("D:" + kDir + "/list\nT:" + kDir + "/.qmail-list\nsee http://example.net/x and/or\n'/q/z'");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].path, kDir + "/list");
  EXPECT_EQ(found[0].line, 1u);
  EXPECT_EQ(found[1].path, kDir + "/.qmail-list");
  EXPECT_EQ(found[1].line, 2u);
  EXPECT_EQ(found[2].path, "/q/z");
  EXPECT_EQ(found[2].line, 4u);
  EXPECT_FALSE(found[0].delivery);
}

TEST(OutsideRefsTest, LexicalPathResolvesDotsAndRelativePaths) {
  EXPECT_EQ(LexicalPath("/a/b", "./Maildir/"), "/a/b/Maildir");
  EXPECT_EQ(LexicalPath("/a/b", "../c//d/./e/"), "/a/c/d/e");
  EXPECT_EQ(LexicalPath("/ignored", "/x/../../y"), "/y");
}

TEST(OutsideRefsTest, PathIntoAnotherDomainLeaves) {
  std::string domain;
  EXPECT_EQ(Why(Scope(), kHome + "/domains/example.net/tom/Maildir/", true, kDir, &domain), kRefOtherDomain);
  EXPECT_EQ(domain, "example.net");
  EXPECT_EQ(Why(Scope(), kHome + "/domains/0/example.org/x", false, kDir, &domain), kRefOtherDomain);
  EXPECT_EQ(domain, "example.org");
  // A domain dir outside the vpopmail home is still another domain.
  EXPECT_EQ(Why(Scope(), "/data/domains/example.biz/ann/Maildir/", true, kDir, &domain), kRefOtherDomain);
  EXPECT_EQ(domain, "example.biz");
  // Reached through "..": the lexical path decides.
  EXPECT_EQ(Why(Scope(), "./../example.net/tom/Maildir/"), kRefOtherDomain);
}

TEST(OutsideRefsTest, PathIntoADomainOfTheSameArchiveIsMarkedAsSuch) {
  RefScope s = Scope();
  s.archive_domains.insert("example.net");
  EXPECT_EQ(Why(s, kHome + "/domains/example.net/tom/Maildir/"), kRefArchiveDomain);
}

TEST(OutsideRefsTest, ArchivedHomesAndExistingDomainFilesStayInside) {
  EXPECT_EQ(Why(Scope(), kDir + "/alice/Maildir/"), "");
  EXPECT_EQ(Why(Scope(), kDir + "/0/bob/Maildir/.Sent/"), "");
  EXPECT_EQ(Why(Scope(), "/data/carol/Maildir/"), "");  // a home outside the domain dir
  EXPECT_EQ(Why(Scope(), "./Maildir/", true, kDir + "/alice"), "");
  EXPECT_EQ(Why(Scope({kDir + "/list/editor"}), kDir + "/list/editor", false), "");
}

TEST(OutsideRefsTest, MissingPathInsideTheDomainIsNotInTheArchive) {
  EXPECT_EQ(Why(Scope(), kDir + "/ghost/Maildir/"), kRefNotInArchive);
  EXPECT_EQ(Why(Scope(), kHome + "/domains/deleted.example/x/Maildir/"), kRefNotInArchive);
  EXPECT_EQ(Why(Scope(), kHome + "/users/bob/Maildir/"), kRefNotInArchive);
}

TEST(OutsideRefsTest, InstalledProgramsAndTheirFilesAreNotReported) {
  EXPECT_EQ(Why(Scope(), kHome + "/bin/vdelivermail", false), "");
  EXPECT_EQ(Why(Scope(), kQmail + "/bin/preline", false), "");
  EXPECT_EQ(Why(Scope(), "/etc/mailfilter", false), "");
  EXPECT_EQ(Why(Scope(), "/usr/bin/ezmlm-send", false), "");
  // ... but a program argument into another domain's tree is.
  EXPECT_EQ(Why(Scope(), kHome + "/domains/example.net/HELP/message", false), kRefOtherDomain);
}

TEST(OutsideRefsTest, DeliveryOutsideVpopmailHomeLeaves) {
  EXPECT_EQ(Why(Scope(), "/var/mail/tom"), kRefOutsideHome);
  EXPECT_EQ(Why(Scope(), "/home/tom/Maildir/"), kRefOutsideHome);
  EXPECT_EQ(Why(Scope(), "/srv/shared/.Public", true, kDir + "/alice/Maildir"), kRefOutsideHome);
}

TEST(OutsideRefsTest, RelativeConfigValuesAreNeverClassified) {
  EXPECT_EQ(Why(Scope(), "../example.net/x", false), "");
}

TEST(OutsideRefsTest, DescriptionNamesFileLineTargetAndReason) {
  OutsideRef ref{"files/.qmail-support", 1, kHome + "/domains/example.net/tom/Maildir/", kRefOtherDomain,
                 "example.net"};
  EXPECT_EQ(DescribeOutsideRef("example.com", ref),
            "example.com: .qmail-support line 1: '" + kHome +
                "/domains/example.net/tom/Maildir/' leads into domain example.net, which is not in "
                "the archive; carried unchanged");
  OutsideRef link{"users/bob/Maildir/.Shared", 0, "/srv/shared", kRefOutsideHome, ""};
  EXPECT_EQ(DescribeOutsideRef("example.com", link),
            "example.com: user bob: Maildir/.Shared (symlink): '/srv/shared' is outside vpopmail's "
            "home; carried unchanged, it must exist on the new host");
}

TEST(OutsideRefsTest, OverridesKeepPathsThatLeaveVerbatim) {
  HostPathSet s;
  s.vpopmail_home = kHome;
  s.qmail_dir = kQmail;
  s.domain_dir = kDir;
  s.overrides[kHome + "/domains"] = kHome + "/domains";
  s.overrides[kHome + "/domains/example.org"] = "@@VMIGRATE:VPOPMAIL_HOME@@/domains/example.org";
  std::string other = kHome + "/domains/example.net/tom/Maildir/\n";
  EXPECT_FALSE(ToPlaceholders(s, &other));
  EXPECT_EQ(other, kHome + "/domains/example.net/tom/Maildir/\n");
  std::string mixed = "| " + kHome + "/bin/vdelivermail '' " + kDir + "/alice\n";
  EXPECT_TRUE(ToPlaceholders(s, &mixed));
  EXPECT_EQ(mixed, "| @@VMIGRATE:VPOPMAIL_HOME@@/bin/vdelivermail '' @@VMIGRATE:DOMAIN_DIR@@/alice\n");
  std::string archived = kHome + "/domains/example.org/ann/Maildir/";
  EXPECT_TRUE(ToPlaceholders(s, &archived));
  EXPECT_EQ(archived, "@@VMIGRATE:VPOPMAIL_HOME@@/domains/example.org/ann/Maildir/");
}

}  // namespace
}  // namespace vmigrate
