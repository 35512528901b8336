// Who owns what an import writes (issue 15, items 1 and 2), end to end
// through the binary on the real-small fixture:
// - the domain's owner (files and the users/assign uid:gid) is never root:
//   qmail-lspawn does not deliver to uid 0, so such an import is refused,
//   changing nothing, also as a dry run;
// - --owner takes names, looked up in etc/passwd and etc/group under --root;
// - the import says where the owner came from;
// - qmail's files stay qmail's: new ones root:root 0644, existing ones keep
//   their owner and mode.
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

class ImportOwnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
    archive_ = work_ / "example.com.vma";
    CommandResult e = Export(src_.path(), "example.com", archive_);
    ASSERT_EQ(e.exit_code, 0) << e.err;
  }

  std::string Home() const { return TargetHomeDisk(dst_.path()); }
  std::string Qmail() const { return TargetQmailDisk(dst_.path()); }

  // The target of the issue: no vpopmail user, a vpopmail home owned by root.
  void MakeRootOwnedTargetWithoutVpopmailUser() {
    WriteFile(dst_ / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    ASSERT_EQ(chown(Home().c_str(), 0, 0), 0);
  }

  // "uid:gid mode" of a file on disk.
  static std::string OwnerMode(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return "missing";
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) + " " + mode;
  }

  TempDir src_, dst_, work_;
  std::string archive_;
};

TEST_F(ImportOwnerTest, RootOwnedHomeWithoutVpopmailUserIsRefusedAndNothingChanges) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the vpopmail home must be owned by root";
  MakeRootOwnedTargetWithoutVpopmailUser();
  auto before = TreeDigest(dst_.path());
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--dry-run"}}) {
    SCOPED_TRACE(extra.empty() ? "import" : "import --dry-run");
    CommandResult r = Import(dst_.path(), archive_, extra);
    EXPECT_EQ(r.exit_code, 8) << r.out << r.err;
    ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("vmigrate: import: example.com: refusing owner uid 0 (root, taken from the owner of "
                          "/srv/vpopmail",
                          0),
              0u)
        << r.err;
    EXPECT_NE(r.err.find("qmail-lspawn never delivers to root"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("give --owner vpopmail:vchkpw"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "") << "a refused import changed the target";
  }
  CommandResult j = Import(dst_.path(), archive_, {"--json"});
  EXPECT_EQ(j.exit_code, 8) << j.err;
  EXPECT_NE(j.out.find("\"exit\":8"), std::string::npos) << j.out;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(ImportOwnerTest, ExplicitRootOwnerIsRefusedByNumberAndByName) {
  auto before = TreeDigest(dst_.path());
  for (const char* owner : {"0:0", "0:89", "root", "root:vchkpw"}) {
    SCOPED_TRACE(owner);
    CommandResult r = Import(dst_.path(), archive_, {"--owner", owner});
    EXPECT_EQ(r.exit_code, 8) << r.err;
    EXPECT_NE(r.err.find("refusing owner uid 0 (root, taken from --owner " + std::string(owner)),
              std::string::npos)
        << r.err;
  }
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(ImportOwnerTest, OwnerNamesAreLookedUpInTheFilesUnderRoot) {
  // Ids no host has, so that only the files under --root can supply them.
  WriteFile(dst_ / "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nvmail:x:2001:3001::/srv/vpopmail:/usr/sbin/nologin\n");
  WriteFile(dst_ / "etc/group", "root:x:0:\nvmail:x:3001:\nmailgrp:x:4001:\n");
  CommandResult r = Import(dst_.path(), archive_, {"--owner", "vmail:mailgrp", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"owner\":{\"uid\":2001,\"gid\":4001,\"taken_from\":\"--owner vmail:mailgrp (2001:4001 from the "
                       "files under " +
                       dst_.path() + ")\"}"),
            std::string::npos)
      << r.out;
  std::string assign = ReadFile(Qmail() + "/users/assign");
  EXPECT_TRUE(HasLine(assign, "+example.com-:example.com:2001:4001:/srv/vpopmail/domains/example.com:-::")) << assign;
  if (geteuid() == 0) {
    EXPECT_EQ(OwnerMode(Home() + "/domains/example.com").substr(0, 9), "2001:4001");
  }

  // USER alone: the user's primary group.
  TempDir other;
  MakeEmptyTarget(other.path());
  WriteFile(other / "etc/passwd", ReadFile(dst_ / "etc/passwd"));
  CommandResult u = Import(other.path(), archive_, {"--owner", "vmail"});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_TRUE(HasLine(ReadFile(TargetQmailDisk(other.path()) + "/users/assign"),
                      "+example.com-:example.com:2001:3001:/srv/vpopmail/domains/example.com:-::"));
}

TEST_F(ImportOwnerTest, UnknownOwnerNamesAreUsageErrorsNamingTheFile) {
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), archive_, {"--owner", "nosuchuser:vchkpw"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--owner 'nosuchuser:vchkpw': no user 'nosuchuser' in " + dst_.path() + "/etc/passwd"),
            std::string::npos)
      << r.err;
  r = Import(dst_.path(), archive_, {"--owner", "vpopmail:nosuchgroup"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no group 'nosuchgroup' in " + dst_.path() + "/etc/group"), std::string::npos) << r.err;
  r = Import(dst_.path(), archive_, {"--owner", "89:"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(ImportOwnerTest, NumericOwnerStillWorksAndEverySourceIsReported) {
  CommandResult r = Import(dst_.path(), archive_, {"--owner", "1234:5678", "--dry-run", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"owner\":{\"uid\":1234,\"gid\":5678,\"taken_from\":\"--owner 1234:5678\"}"), std::string::npos)
      << r.out;
  auto [uid, gid] = TargetVpopmailIds();
  const std::string ids = std::to_string(uid) + ":" + std::to_string(gid);
  r = Import(dst_.path(), archive_, {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("owner:         " + ids + " (etc/passwd user vpopmail under " + dst_.path() + ")"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.err, "") << "no notice for the vpopmail user";
}

TEST_F(ImportOwnerTest, OwnerTakenFromTheHomeDirIsANotice) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown the vpopmail home";
  WriteFile(dst_ / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  ASSERT_EQ(chown(Home().c_str(), 1234, 5678), 0);
  CommandResult r = Import(dst_.path(), archive_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "vmigrate: import: notice: owner 1234:5678 taken from the owner of /srv/vpopmail, as no vpopmail "
                   "user was found under " +
                       dst_.path() + "; give --owner to choose\n");
  EXPECT_TRUE(HasLine(ReadFile(Qmail() + "/users/assign"),
                      "+example.com-:example.com:1234:5678:/srv/vpopmail/domains/example.com:-::"));
}

// qmail's install makes its files root's, 0644 (notqmail hier.c); vpopmail's
// owner must not end up owning them, and files that exist keep what they have.
TEST_F(ImportOwnerTest, QmailFilesCreatedByAnImportAreRootsAndExistingOnesKeepTheirs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: files of other owners";
  // Existing files with their own owner and mode: rcpthosts (a line is
  // added) and locals (the domain's line is removed).
  ASSERT_EQ(chown((Qmail() + "/control/rcpthosts").c_str(), 0, 123), 0);
  ASSERT_EQ(chmod((Qmail() + "/control/rcpthosts").c_str(), 0640), 0);
  WriteFile(Qmail() + "/control/locals", "localhost\nexample.com\n");
  ASSERT_EQ(chown((Qmail() + "/control/locals").c_str(), 7, 77), 0);
  ASSERT_EQ(chmod((Qmail() + "/control/locals").c_str(), 0600), 0);
  CommandResult r = Import(dst_.path(), archive_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* created : {"/users/assign", "/users/cdb", "/control/virtualdomains"}) {
    SCOPED_TRACE(created);
    EXPECT_EQ(OwnerMode(Qmail() + created), "0:0 0644");
  }
  EXPECT_EQ(OwnerMode(Qmail() + "/control/rcpthosts"), "0:123 0640");
  EXPECT_EQ(OwnerMode(Qmail() + "/control/locals"), "7:77 0600");
  EXPECT_EQ(ReadFile(Qmail() + "/control/locals"), "localhost\n");
  // The domain itself is vpopmail's.
  EXPECT_EQ(OwnerMode(Home() + "/domains/example.com").substr(0, 5), "89:89");

  // A second domain rewrites users/assign and users/cdb: they stay root's
  // even when someone made them another owner's meanwhile.
  ASSERT_EQ(chown((Qmail() + "/users/assign").c_str(), 0, 5), 0);
  ASSERT_EQ(chmod((Qmail() + "/users/assign").c_str(), 0640), 0);
  ASSERT_EQ(Export(src_.path(), "example.net", work_ / "net.vma").exit_code, 0);
  r = Import(dst_.path(), work_ / "net.vma");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(OwnerMode(Qmail() + "/users/assign"), "0:5 0640");
  EXPECT_EQ(OwnerMode(Qmail() + "/users/cdb"), "0:0 0644");
}

}  // namespace
}  // namespace vmigrate::testing::cli
