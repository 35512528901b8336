// End to end: bad command input and broken archives. Each must fail with
// its documented exit code and leave the target exactly as it was, with no
// staging directory behind.
#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

class BadInputCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
  }

  // Imports `archive` and expects `exit_code` with the target unchanged.
  void ExpectImportFailsCleanly(const std::string& archive, int exit_code,
                                const std::string& stdin_file = "") {
    auto before = TreeDigest(dst_.path());
    CommandResult r = Import(dst_.path(), archive, {}, stdin_file);
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_FALSE(r.err.empty());
    auto after = TreeDigest(dst_.path());
    EXPECT_TRUE(StagingLeftovers(dst_.path()).empty());
    // First every file and entry, then (strictly) the mtimes of the
    // directories the importer stages in, so a failure says which it is.
    auto lenient_before = before, lenient_after = after;
    for (const char* d : {"srv/vpopmail", "srv/vpopmail/domains"}) {
      lenient_before.erase(d);
      lenient_after.erase(d);
    }
    EXPECT_EQ(DigestDiff(lenient_before, lenient_after), "") << r.err;
    EXPECT_EQ(DigestDiff(before, after), "")
        << "a failed import must not even change the mtime of the directory it staged in\n" << r.err;
  }

  // An export of example.com cut in the middle of its data.
  std::string Truncated(const std::string& compression) {
    std::string full = work_ / ("full." + compression);
    CommandResult e = Export(src_.path(), "example.com", full, {"--compress", compression});
    EXPECT_EQ(e.exit_code, 0) << e.err;
    std::string bytes = ReadFile(full);
    EXPECT_GT(bytes.size(), 2048u);
    std::string cut = work_ / ("cut." + compression);
    WriteFile(cut, bytes.substr(0, bytes.size() / 2));
    return cut;
  }

  // A second domain already on the target, so that domains/ exists.
  void ImportExampleNet() {
    ASSERT_EQ(Export(src_.path(), "example.net", work_ / "net.vma").exit_code, 0);
    CommandResult r = Import(dst_.path(), work_ / "net.vma");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  TempDir src_, dst_, work_;
};

TEST_F(BadInputCliTest, ExportOfAnUnknownDomainExitsNotFoundAndWritesNothing) {
  auto before = TreeDigest(src_.path());
  CommandResult r = Export(src_.path(), "nosuch.example", work_ / "x.vma");
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("nosuch.example"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work_ / "x.vma"));
  EXPECT_EQ(DigestDiff(before, TreeDigest(src_.path())), "");
}

TEST_F(BadInputCliTest, ExportOfAnAliasDomainIsAUsageErrorNamingTheRealDomain) {
  CommandResult r = Export(src_.path(), "example.org", work_ / "x.vma");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("example.com"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work_ / "x.vma"));
}

TEST_F(BadInputCliTest, ImportOfATextFileIsABadArchive) {
  WriteFile(work_ / "notes.txt", "this is not a vmigrate archive\njust some text\n");
  ExpectImportFailsCleanly(work_ / "notes.txt", 6);
}

TEST_F(BadInputCliTest, ImportOfAnEmptyFileIsABadArchive) {
  WriteFile(work_ / "empty.vma", "");
  ExpectImportFailsCleanly(work_ / "empty.vma", 6);
}

TEST_F(BadInputCliTest, ImportOfEmptyStdinIsABadArchive) {
  WriteFile(work_ / "empty.vma", "");
  ExpectImportFailsCleanly("-", 6, work_ / "empty.vma");
}

TEST_F(BadInputCliTest, ImportOfAPlainTarWithoutManifestIsABadArchive) {
  fs::create_directories(work_ / "t/dir");
  WriteFile(work_ / "t/dir/file", "hello\n");
  CommandResult t = RunCommand({"tar", "-cf", work_ / "plain.tar", "-C", work_ / "t", "dir"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  ExpectImportFailsCleanly(work_ / "plain.tar", 6);
}

TEST_F(BadInputCliTest, ImportOfAMissingFileIsNotFound) {
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), work_ / "does-not-exist.vma");
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(BadInputCliTest, ImportOfATruncatedUncompressedArchiveIsABadArchive) {
  ExpectImportFailsCleanly(Truncated("none"), 6);
}

TEST_F(BadInputCliTest, ImportOfATruncatedZstdArchiveIsABadArchive) {
  ExpectImportFailsCleanly(Truncated("zstd"), 6);
}

TEST_F(BadInputCliTest, ImportOfATruncatedGzipArchiveIsABadArchive) {
  ExpectImportFailsCleanly(Truncated("gzip"), 6);
}

TEST_F(BadInputCliTest, TruncatedArchiveLeavesATargetWithDomainsUntouched) {
  ImportExampleNet();
  ExpectImportFailsCleanly(Truncated("none"), 6);
}

TEST_F(BadInputCliTest, TruncatedArchiveFromStdinLeavesTheTargetUntouched) {
  ImportExampleNet();
  ExpectImportFailsCleanly("-", 6, Truncated("zstd"));
}

// Big enough that a gzip stream cut in half still yields its first members:
// the import fails in the middle of unpacking, after staging began.
TEST_F(BadInputCliTest, HashedArchiveCutInTheMiddleOfUnpackingFromStdinLeavesTheTargetUntouched) {
  ImportExampleNet();
  TempDir hashed;
  UnpackFixture("real-hashed", hashed.path());
  std::string full = work_ / "big.gz";
  ASSERT_EQ(Export(hashed.path(), "big.example", full, {"--compress", "gzip"}).exit_code, 0);
  std::string bytes = ReadFile(full);
  WriteFile(work_ / "big-cut.gz", bytes.substr(0, bytes.size() / 2));
  ExpectImportFailsCleanly("-", 6, work_ / "big-cut.gz");
  EXPECT_FALSE(fs::exists(TargetHomeDisk(dst_.path()) + "/domains/big.example"));
}

TEST_F(BadInputCliTest, ArchiveWithAFlippedByteInAMessageIsABadArchive) {
  ImportExampleNet();
  std::string full = work_ / "full.tar";
  ASSERT_EQ(Export(src_.path(), "example.com", full, {"--compress", "none"}).exit_code, 0);
  std::string bytes = ReadFile(full);
  size_t at = bytes.find("Delivered-To:");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'd';
  WriteFile(work_ / "flipped.tar", bytes);
  ExpectImportFailsCleanly(work_ / "flipped.tar", 6);
}

}  // namespace
}  // namespace vmigrate::testing::cli
