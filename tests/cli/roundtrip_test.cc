// End to end: `vmigrate export` of the real vpopmail fixtures, then
// `vmigrate import` into an empty target whose vpopmail home is a different
// path; the imported domain must match the source in every detail.
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

Owner HomeOwner(const std::string& root) {
  struct stat st;
  stat(TargetHomeDisk(root).c_str(), &st);
  return Owner{static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid)};
}

DomainMapping Mapping(const std::string& domain, const TempDir& src, const TempDir& dst) {
  DomainMapping m;
  m.domain = domain;
  m.src_root = src.path();
  m.dst_root = dst.path();
  m.src_rel = "domains/" + domain;
  m.dst_rel = "domains/" + domain;
  return m;
}

void ExportImportOk(const TempDir& src, const TempDir& dst, const std::string& domain,
                    const std::string& archive) {
  CommandResult e = Export(src.path(), domain, archive);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = Import(dst.path(), archive);
  ASSERT_EQ(i.exit_code, 0) << i.err;
}

TEST(RoundtripCliTest, RealSmallExampleComArrivesIdenticalUnderADifferentVpopmailHome) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  ExportImportOk(src, dst, "example.com", work / "example.com.vma");
  ExpectImportedLikeSource(Mapping("example.com", src, dst), {"example.org"}, HomeOwner(dst.path()));
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/domains/.dir-control"), DomainsDirControlAfter(1));
  std::string assign = ReadFile(TargetQmailDisk(dst.path()) + "/users/assign");
  const std::string o = HomeOwner(dst.path()).str();
  EXPECT_EQ(assign,
            "+example.com-:example.com:" + o + ":/srv/vpopmail/domains/example.com:-::\n"
            "+example.org-:example.com:" + o + ":/srv/vpopmail/domains/example.com:-::\n"
            ".\n");
}

TEST(RoundtripCliTest, RealSmallRewritesEveryFixturePathInQmailFiles) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  ExportImportOk(src, dst, "example.com", work / "a.vma");
  std::string d = TargetHomeDisk(dst.path()) + "/domains/example.com";
  EXPECT_EQ(ReadFile(d + "/.qmail-default"), "| /srv/vpopmail/bin/vdelivermail '' alice@example.com\n");
  EXPECT_EQ(ReadFile(d + "/.qmail-archive"), "/srv/vpopmail/domains/example.com/bob/Maildir/\n");
  EXPECT_EQ(ReadFile(d + "/carol/.qmail"),
            "&carol.chen@gmail.test\n/srv/vpopmail/domains/example.com/carol/Maildir/\n");
  EXPECT_EQ(ReadFile(d + "/.qmail-first:last"), "dave@example.com\n");
  EXPECT_EQ(ReadFile(d + "/.qmailadmin-limits"),
            ReadFile(SourceHomeDisk(src.path()) + "/domains/example.com/.qmailadmin-limits"));
}

TEST(RoundtripCliTest, RealSmallExampleNetArrivesIdentical) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  ExportImportOk(src, dst, "example.net", work / "example.net.vma");
  ExpectImportedLikeSource(Mapping("example.net", src, dst), {}, HomeOwner(dst.path()));
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/domains/.dir-control"), DomainsDirControlAfter(1));
}

TEST(RoundtripCliTest, BothRealSmallDomainsImportIntoOneTarget) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  ExportImportOk(src, dst, "example.com", work / "com.vma");
  ExportImportOk(src, dst, "example.net", work / "net.vma");
  Owner owner = HomeOwner(dst.path());
  ExpectImportedLikeSource(Mapping("example.com", src, dst), {"example.org"}, owner);
  ExpectImportedLikeSource(Mapping("example.net", src, dst), {}, owner);
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/domains/.dir-control"), DomainsDirControlAfter(2));
  std::string assign = ReadFile(TargetQmailDisk(dst.path()) + "/users/assign");
  const std::string o = owner.str();
  EXPECT_EQ(assign,
            "+example.com-:example.com:" + o + ":/srv/vpopmail/domains/example.com:-::\n"
            "+example.net-:example.net:" + o + ":/srv/vpopmail/domains/example.net:-::\n"
            "+example.org-:example.com:" + o + ":/srv/vpopmail/domains/example.com:-::\n"
            ".\n");
  // vpopmail's sort key puts mail.target.test ("target.test.mail") last.
  EXPECT_EQ(ReadFile(TargetQmailDisk(dst.path()) + "/control/rcpthosts"),
            "example.com\nexample.net\nexample.org\nmail.target.test\n");
  EXPECT_EQ(ReadFile(TargetQmailDisk(dst.path()) + "/control/virtualdomains"),
            "example.com:example.com\nexample.net:example.net\nexample.org:example.org\n");
}

TEST(RoundtripCliTest, RealHashedBigExampleKeepsItsBucketsAndDirControl) {
  TempDir src, dst, work;
  UnpackFixture("real-hashed", src.path());
  MakeEmptyTarget(dst.path());
  ExportImportOk(src, dst, "big.example", work / "big.vma");
  ExpectImportedLikeSource(Mapping("big.example", src, dst), {}, HomeOwner(dst.path()));
  std::string d = TargetHomeDisk(dst.path()) + "/domains/big.example";
  EXPECT_EQ(ReadFile(d + "/.dir-control"), "261\n0\n3\n0 0 0\n61 61 61\n0 2 2\n1 0 0\n1\n");
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/domains/.dir-control"), DomainsDirControlAfter(1));
  auto pw = vpopmail::ReadVpasswd(d + "/vpasswd");
  ASSERT_TRUE(pw.ok());
  ASSERT_EQ(pw->size(), 261u);
  int top = 0, b0 = 0, b1 = 0;
  for (const auto& e : *pw) {
    std::string rel = e.dir.substr(std::string("/srv/vpopmail/domains/big.example/").size());
    if (rel.rfind("0/", 0) == 0) ++b0;
    else if (rel.rfind("1/", 0) == 0) ++b1;
    else ++top;
  }
  EXPECT_EQ(top, 99);
  EXPECT_EQ(b0, 100);
  EXPECT_EQ(b1, 62);
  EXPECT_EQ(ReadFile(d + "/.qmail-drop"), "/srv/vpopmail/domains/big.example/1/user250/Maildir/\n");
}

TEST(RoundtripCliTest, RealHashedAndRealSmallShareOneTarget) {
  TempDir small, hashed, dst, work;
  UnpackFixture("real-small", small.path());
  UnpackFixture("real-hashed", hashed.path());
  MakeEmptyTarget(dst.path());
  ExportImportOk(hashed, dst, "big.example", work / "big.vma");
  ExportImportOk(small, dst, "example.com", work / "com.vma");
  Owner owner = HomeOwner(dst.path());
  ExpectImportedLikeSource(Mapping("big.example", hashed, dst), {}, owner);
  ExpectImportedLikeSource(Mapping("example.com", small, dst), {"example.org"}, owner);
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/domains/.dir-control"), DomainsDirControlAfter(2));
}

TEST(RoundtripCliTest, TargetVpopmailUserFromEtcPasswdOwnsTheImportedDomain) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  fs::create_directories(dst / "etc");
  WriteFile(dst / "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\n"
            "vpopmail:x:89:89:vpopmail:/srv/vpopmail:/usr/sbin/nologin\n");
  CommandResult e = Export(src.path(), "example.com", work / "a.vma");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = Import(dst.path(), work / "a.vma", {"--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("\"owner\":{\"uid\":89,\"gid\":89,\"taken_from\":\"etc/passwd user vpopmail under " +
                       dst.path() + "\"}"),
            std::string::npos)
      << i.out;
  ExpectImportedLikeSource(Mapping("example.com", src, dst), {"example.org"}, Owner{89, 89});
  std::string assign = ReadFile(TargetQmailDisk(dst.path()) + "/users/assign");
  EXPECT_TRUE(HasLine(assign, "+example.com-:example.com:89:89:/srv/vpopmail/domains/example.com:-::"))
      << assign;
  EXPECT_TRUE(HasLine(assign, "+example.org-:example.com:89:89:/srv/vpopmail/domains/example.com:-::"))
      << assign;
}

TEST(RoundtripCliTest, ExplicitOwnerFlagWinsOverTheHomeDirOwner) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  CommandResult e = Export(src.path(), "example.net", work / "a.vma");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = Import(dst.path(), work / "a.vma", {"--owner", "1234:5678"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  ExpectImportedLikeSource(Mapping("example.net", src, dst), {}, Owner{1234, 5678});
}

// The importer skips fchmod when open(..., 0600) already gave a member its
// mode under the umask. A default ACL on the target decides new files' modes
// instead (here: owner read-only), so then every mode must still be set.
TEST(RoundtripCliTest, DefaultAclOnTheTargetDoesNotChangeImportedModes) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the ACL makes new dirs read-only for their owner";
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  // posix_acl_xattr: version 2, then {tag, perm, id}: USER_OBJ r-x, GROUP_OBJ ---, OTHER ---.
  const unsigned char acl[] = {2, 0, 0, 0,
                               0x01, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
                               0x04, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                               0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  if (setxattr(TargetHomeDisk(dst.path()).c_str(), "system.posix_acl_default", acl, sizeof acl, 0) != 0)
    GTEST_SKIP() << "no POSIX ACLs on this filesystem";
  ExportImportOk(src, dst, "example.com", work / "a.vma");
  ExpectImportedLikeSource(Mapping("example.com", src, dst), {"example.org"}, HomeOwner(dst.path()));
}

// --- pipes and compression -------------------------------------------------

// Everything of an imported domain dir that does not depend on when the
// import ran (vpasswd, vpasswd.cdb, .dir-control, .vpasswd.lock are written
// fresh: their bytes are compared, not their mtimes).
std::map<std::string, std::string> StableDigest(const std::string& domain_disk) {
  // .vmigrate-import names the archive, which differs between the runs compared.
  auto d = TreeDigest(domain_disk, {"vpasswd", "vpasswd.cdb", ".dir-control", ".vpasswd.lock", ".vmigrate-import"});
  d.erase("0");  // bucket dirs are created at import time
  d.erase("1");
  for (const char* f : {"vpasswd", "vpasswd.cdb", ".dir-control"})
    d[std::string("content:") + f] = ReadFile(domain_disk + "/" + f);
  return d;
}

TEST(RoundtripCliTest, ExportToStdoutPipesIntoImportFromStdin) {
  for (const std::pair<const char*, const char*>& fx :
       {std::pair<const char*, const char*>{"real-small", "example.com"}, {"real-hashed", "big.example"}}) {
    SCOPED_TRACE(fx.second);
    TempDir src, via_file, via_pipe, work;
    UnpackFixture(fx.first, src.path());
    MakeEmptyTarget(via_file.path());
    MakeEmptyTarget(via_pipe.path());
    ExportImportOk(src, via_file, fx.second, work / "file.vma");

    CommandResult e = RunVmigrate(Concat({"export", fx.second, "-o", "-"}, SourceFlags(src.path())));
    ASSERT_EQ(e.exit_code, 0) << e.err;
    ASSERT_FALSE(e.out.empty());
    WriteFile(work / "stdout.vma", e.out);
    CommandResult i = Import(via_pipe.path(), "-", {}, work / "stdout.vma");
    ASSERT_EQ(i.exit_code, 0) << i.err;

    ExpectImportedLikeSource(Mapping(fx.second, src, via_pipe), fx.second == std::string("example.com")
                                                                    ? std::vector<std::string>{"example.org"}
                                                                    : std::vector<std::string>{},
                             HomeOwner(via_pipe.path()));
    std::string rel = std::string(kTargetHome) + "/domains/" + fx.second;
    EXPECT_EQ(DigestDiff(StableDigest(via_file.path() + rel), StableDigest(via_pipe.path() + rel)), "");
  }
}

TEST(RoundtripCliTest, GzipAndUncompressedArchivesImportTheSameTreeAsZstd) {
  TempDir src, work;
  UnpackFixture("real-small", src.path());
  std::map<std::string, std::map<std::string, std::string>> trees;
  const std::map<std::string, std::string> magic = {
      {"zstd", std::string("\x28\xb5\x2f\xfd", 4)}, {"gzip", std::string("\x1f\x8b", 2)}, {"none", ""}};
  for (const std::string comp : {"zstd", "gzip", "none"}) {
    SCOPED_TRACE(comp);
    TempDir dst;
    MakeEmptyTarget(dst.path());
    std::string archive = work / ("a." + comp);
    CommandResult e = Export(src.path(), "example.com", archive, {"--compress", comp});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    std::string bytes = ReadFile(archive);
    if (comp == "none") {
      ASSERT_GT(bytes.size(), 262u);
      EXPECT_EQ(bytes.substr(257, 5), "ustar") << "an uncompressed tar";
    } else {
      EXPECT_EQ(bytes.substr(0, magic.at(comp).size()), magic.at(comp));
    }
    CommandResult i = Import(dst.path(), archive);
    ASSERT_EQ(i.exit_code, 0) << i.err;
    ExpectImportedLikeSource(Mapping("example.com", src, dst), {"example.org"}, HomeOwner(dst.path()));
    trees[comp] = StableDigest(TargetHomeDisk(dst.path()) + "/domains/example.com");
  }
  EXPECT_EQ(DigestDiff(trees["zstd"], trees["gzip"]), "");
  EXPECT_EQ(DigestDiff(trees["zstd"], trees["none"]), "");
}

}  // namespace
}  // namespace vmigrate::testing::cli
