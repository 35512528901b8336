#include "core/host_paths.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vmigrate {
namespace {

using testing::TempDir;
using testing::WriteFile;

void WritePasswd(const TempDir& root, const std::string& contents) {
  ASSERT_EQ(mkdir((root / "etc").c_str(), 0755), 0);
  WriteFile(root / "etc/passwd", contents);
}

TEST(HostPathsTest, OnDiskWithSlashRootIsTheHostPath) {
  HostPaths p;
  p.root = "/";
  EXPECT_EQ(p.OnDisk("/var/qmail/users/assign"), "/var/qmail/users/assign");
  p.root = "";
  EXPECT_EQ(p.OnDisk("/var/qmail/users/assign"), "/var/qmail/users/assign");
}

TEST(HostPathsTest, OnDiskWithRootPrefixesIt) {
  HostPaths p;
  p.root = "/mnt/old";
  EXPECT_EQ(p.OnDisk("/var/qmail/users/assign"), "/mnt/old/var/qmail/users/assign");
  p.root = "/mnt/old/";
  EXPECT_EQ(p.OnDisk("/var/qmail/"), "/mnt/old/var/qmail");
}

TEST(HostPathsTest, DerivedPaths) {
  HostPaths p;
  p.vpopmail_home = "/home/vpopmail";
  p.qmail_dir = "/var/qmail";
  EXPECT_EQ(p.domains_dir(), "/home/vpopmail/domains");
  EXPECT_EQ(p.assign_file(), "/var/qmail/users/assign");
  EXPECT_EQ(p.control_file("rcpthosts"), "/var/qmail/control/rcpthosts");
}

TEST(HostPathsTest, NormalizePath) {
  EXPECT_EQ(NormalizePath("/"), "/");
  EXPECT_EQ(NormalizePath("//"), "/");
  EXPECT_EQ(NormalizePath("/a/b/"), "/a/b");
  EXPECT_EQ(NormalizePath("/a//b///c//"), "/a/b/c");
  EXPECT_EQ(NormalizePath("a/b/"), "a/b");
  EXPECT_EQ(NormalizePath(""), "");
}

TEST(HostPathsTest, ResolveExplicitValues) {
  auto r = ResolveHostPaths("/", "/srv/vpopmail/", "/opt/qmail//");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->root, "/");
  EXPECT_EQ(r->vpopmail_home, "/srv/vpopmail");
  EXPECT_EQ(r->qmail_dir, "/opt/qmail");
}

TEST(HostPathsTest, ResolveEmptyRootMeansSlash) {
  auto r = ResolveHostPaths("", "/srv/vpopmail", "/opt/qmail");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->root, "/");
}

TEST(HostPathsTest, ResolveDefaultQmailDir) {
  TempDir root;
  auto r = ResolveHostPaths(root.path(), "/home/vpopmail", "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->qmail_dir, "/var/qmail");
  EXPECT_EQ(r->root, root.path());
}

TEST(HostPathsTest, ResolveVpopmailHomeFromRootPasswd) {
  TempDir root;
  WritePasswd(root,
              "root:x:0:0:root:/root:/bin/bash\n"
              "vpopmailer:x:1:1::/wrong:/bin/false\n"
              "vpopmail:x:89:89::/tmp/realvp/home/vpopmail/:/usr/sbin/nologin\n");
  auto r = ResolveHostPaths(root.path() + "/", "", "/tmp/realvp/qmail");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->root, root.path());
  EXPECT_EQ(r->vpopmail_home, "/tmp/realvp/home/vpopmail");
  EXPECT_EQ(r->qmail_dir, "/tmp/realvp/qmail");
  EXPECT_EQ(r->OnDisk(r->assign_file()), root.path() + "/tmp/realvp/qmail/users/assign");
}

TEST(HostPathsTest, ExplicitVpopmailHomeWinsOverPasswd) {
  TempDir root;
  WritePasswd(root, "vpopmail:x:89:89::/home/vpopmail:/bin/false\n");
  auto r = ResolveHostPaths(root.path(), "/srv/vp", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->vpopmail_home, "/srv/vp");
}

TEST(HostPathsTest, LookupPasswdUnderRoot) {
  TempDir root;
  WritePasswd(root, "bad line\nvpopmail:x:89:90:gecos:/home/vpopmail:/bin/false\n");
  auto pw = LookupPasswd(root.path(), "vpopmail");
  ASSERT_TRUE(pw.has_value());
  EXPECT_EQ(pw->name, "vpopmail");
  EXPECT_EQ(pw->uid, 89u);
  EXPECT_EQ(pw->gid, 90u);
  EXPECT_EQ(pw->home, "/home/vpopmail");
  EXPECT_FALSE(LookupPasswd(root.path(), "nobody-here").has_value());
}

TEST(HostPathsTest, ErrorWhenNoVpopmailUserAndNoHome) {
  TempDir root;
  WritePasswd(root, "root:x:0:0:root:/root:/bin/bash\n");
  auto r = ResolveHostPaths(root.path(), "", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(r.status().message().find("--vpopmail-home"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(root.path()), std::string::npos) << r.status().message();
}

TEST(HostPathsTest, ErrorWhenRootHasNoPasswdFile) {
  TempDir root;
  auto r = ResolveHostPaths(root.path(), "", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
}

TEST(HostPathsTest, RelativeVpopmailHomeRejected) {
  auto r = ResolveHostPaths("/", "home/vpopmail", "/var/qmail");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(r.status().message().find("home/vpopmail"), std::string::npos);
}

TEST(HostPathsTest, RelativeQmailDirRejected) {
  auto r = ResolveHostPaths("/", "/home/vpopmail", "var/qmail");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(r.status().message().find("var/qmail"), std::string::npos);
}

TEST(HostPathsTest, RelativeHomeFromPasswdRejected) {
  TempDir root;
  WritePasswd(root, "vpopmail:x:89:89::relative/home:/bin/false\n");
  auto r = ResolveHostPaths(root.path(), "", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
}

}  // namespace
}  // namespace vmigrate
