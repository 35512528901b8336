#include "core/resolve_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vmigrate {
namespace {

using testing::TempDir;

// A host tree under `root`: /home/vpopmail/domains and /data2/mail.
class ResolvePathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(root_ / "home/vpopmail/domains");
    std::filesystem::create_directories(root_ / "data2/mail/example.com/bob");
  }
  void Link(const std::string& target, const std::string& rel) {
    ASSERT_EQ(symlink(target.c_str(), (root_ / rel).c_str()), 0) << rel;
  }
  TempDir root_;
};

TEST_F(ResolvePathTest, PlainPathIsRootPlusHostPath) {
  auto r = ResolveUnderRoot(root_.path(), "/home/vpopmail/domains");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->exists);
  EXPECT_EQ(r->host, "/home/vpopmail/domains");
  EXPECT_EQ(r->disk, root_.path() + "/home/vpopmail/domains");
  EXPECT_TRUE(r->hops.empty());
}

TEST_F(ResolvePathTest, RelativeLinkIsFollowedAndListed) {
  Link("../../../data2/mail/example.com", "home/vpopmail/domains/example.com");
  auto r = ResolveUnderRoot(root_.path(), "/home/vpopmail/domains/example.com/bob");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->exists);
  EXPECT_EQ(r->host, "/data2/mail/example.com/bob");
  EXPECT_EQ(r->disk, root_.path() + "/data2/mail/example.com/bob");
  ASSERT_EQ(r->hops.size(), 1u);
  EXPECT_EQ(r->hops[0].link, "/home/vpopmail/domains/example.com");
  EXPECT_EQ(r->hops[0].target, "../../../data2/mail/example.com");
  EXPECT_EQ(r->hops[0].resolved, "/data2/mail/example.com");
  EXPECT_EQ(DescribeHop(r->hops[0]),
            "/home/vpopmail/domains/example.com -> ../../../data2/mail/example.com (/data2/mail/example.com)");
}

TEST_F(ResolvePathTest, AbsoluteLinkIsTakenUnderTheRoot) {
  // On the mounted disk of a dead server, /data2 means ROOT/data2, not this host's /data2.
  Link("/data2/mail/example.com", "home/vpopmail/domains/example.com");
  auto r = ResolveUnderRoot(root_.path(), "/home/vpopmail/domains/example.com/bob");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->disk, root_.path() + "/data2/mail/example.com/bob");
  EXPECT_EQ(DescribeHop(r->hops[0]), "/home/vpopmail/domains/example.com -> /data2/mail/example.com");
}

TEST_F(ResolvePathTest, LinkThatClimbsOutOfTheRootIsRefused) {
  Link("../../../../../etc", "home/vpopmail/domains/example.com");
  auto r = ResolveUnderRoot(root_.path(), "/home/vpopmail/domains/example.com/bob");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIoError);
  EXPECT_EQ(r.status().message(), "symlink /home/vpopmail/domains/example.com -> ../../../../../etc leads "
                                  "outside --root " + root_.path());
}

TEST_F(ResolvePathTest, WithoutARootDotDotStopsAtSlash) {
  auto r = ResolveUnderRoot("/", root_.path() + "/../../../../../../../../" + root_.path());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->disk, root_.path());
}

TEST_F(ResolvePathTest, MissingComponentsAreKeptAsGiven) {
  Link("../../../data2/mail/example.com", "home/vpopmail/domains/example.com");
  auto r = ResolveUnderRoot(root_.path(), "/home/vpopmail/domains/example.com/carol/Maildir");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->exists);
  EXPECT_EQ(r->host, "/data2/mail/example.com/carol/Maildir");
  // A dangling link resolves to where it points.
  Link("/nowhere/x", "home/vpopmail/domains/gone.com");
  r = ResolveUnderRoot(root_.path(), "/home/vpopmail/domains/gone.com");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->exists);
  EXPECT_EQ(r->disk, root_.path() + "/nowhere/x");
}

TEST_F(ResolvePathTest, ParentFormDoesNotFollowTheLastComponent) {
  Link("../../data2/mail", "home/vpopmail/domains2");
  Link("example.com", "data2/mail/alias.com");
  auto r = ResolveParentUnderRoot(root_.path(), "/home/vpopmail/domains2/alias.com");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->exists);
  EXPECT_EQ(r->disk, root_.path() + "/data2/mail/alias.com");
  ASSERT_EQ(r->hops.size(), 1u);
}

TEST_F(ResolvePathTest, LoopIsAnError) {
  Link("b", "home/a");
  Link("a", "home/b");
  auto r = ResolveUnderRoot(root_.path(), "/home/a/x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than 40 symlinks"), std::string::npos) << r.status().message();
}

TEST_F(ResolvePathTest, RelativeHostPathIsRefused) {
  EXPECT_EQ(ResolveUnderRoot(root_.path(), "home/x").status().code(), Status::Code::kInvalidInput);
}

}  // namespace
}  // namespace vmigrate
