// import --skip-existing (issue 15, item 9): a batch run again after a
// partial failure skips the domains it imported from the same archive
// (reported "skipped", exit 0) and still refuses a domain that exists but
// came from elsewhere (exit 5 alone, counted failed in a batch). End to end
// through the binary on the real-small fixture.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

class SkipExistingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
    com_ = work_ / "com.vma";
    net_ = work_ / "net.vma";
    ASSERT_EQ(Export(src_.path(), "example.com", com_).exit_code, 0);
    ASSERT_EQ(Export(src_.path(), "example.net", net_).exit_code, 0);
  }

  std::string ComDir() const { return TargetHomeDisk(dst_.path()) + "/domains/example.com"; }

  TempDir src_, dst_, work_;
  std::string com_, net_;
};

TEST_F(SkipExistingTest, BatchRerunSkipsWhatItImportedAndImportsTheRest) {
  ASSERT_EQ(Import(dst_.path(), com_).exit_code, 0);
  EXPECT_TRUE(fs::exists(ComDir() + "/.vmigrate-import")) << "the import record";
  auto com_before = TreeDigest(ComDir());

  CommandResult r = Import(dst_.path(), com_, {net_, "--skip-existing", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_NE(lines[0].find("\"domain\":\"example.com\",\"status\":\"skipped\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"reason\":\"already imported from this archive ("), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"error\":null"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"domain\":\"example.net\",\"status\":\"ok\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("\"ok\":2,\"failed\":0,\"exit\":0"), std::string::npos) << lines[2];
  EXPECT_EQ(DigestDiff(com_before, TreeDigest(ComDir())), "") << "a skipped domain was touched";
  EXPECT_TRUE(fs::is_directory(TargetHomeDisk(dst_.path()) + "/domains/example.net"));

  // Text, a third time: both skipped.
  r = Import(dst_.path(), com_, {net_, "--skip-existing"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("skipped  example.com: already imported from this archive"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skipped  example.net: already imported from this archive"), std::string::npos) << r.out;
}

TEST_F(SkipExistingTest, OneArchiveAlreadyImportedIsSkippedAndChangesNothing) {
  ASSERT_EQ(Import(dst_.path(), com_).exit_code, 0);
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), com_, {"--skip-existing", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("{\"schema\":1,\"type\":\"import\",\"status\":\"skipped\",\"domain\":\"example.com\",\"reason\":\"already imported from this "
                        "archive (",
                        0),
            0u)
      << r.out;
  r = Import(dst_.path(), com_, {"--skip-existing", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("skipped example.com: already imported from this archive", 0), 0u) << r.out;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
  // Without the flag it is the conflict it always was.
  r = Import(dst_.path(), com_);
  EXPECT_EQ(r.exit_code, 5) << r.err;
}

TEST_F(SkipExistingTest, ADomainFromAnotherArchiveOrWithoutARecordIsStillAConflict) {
  ASSERT_EQ(Import(dst_.path(), com_).exit_code, 0);
  // Another export of the same domain is another archive.
  std::string other = work_ / "com-stripped.vma";
  ASSERT_EQ(Export(src_.path(), "example.com", other, {"--strip-cleartext"}).exit_code, 0);
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), other, {"--skip-existing"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("already exists on the target"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--skip-existing: it was imported from another archive"), std::string::npos) << r.err;

  // In a batch: counted failed, the rest goes on.
  r = Import(dst_.path(), other, {net_, "--skip-existing", "--json"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_NE(lines[0].find("\"status\":\"error\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"exit\":5"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"domain\":\"example.net\",\"status\":\"ok\""), std::string::npos) << lines[1];

  // A domain vmigrate did not import (here: its record removed) is not "ours".
  fs::remove(ComDir() + "/.vmigrate-import");
  before = TreeDigest(dst_.path());
  r = Import(dst_.path(), com_, {"--skip-existing"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("it was not imported by vmigrate (no import record)"), std::string::npos) << r.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(SkipExistingTest, TheImportRecordNeverTravelsAndDoesNotChangeTheState) {
  ASSERT_EQ(Import(dst_.path(), com_).exit_code, 0);
  // Exported again from the target, the domain carries no record.
  std::string again = work_ / "again.vma";
  CommandResult e = RunVmigrate(Concat({"export", "example.com", "-o", again}, TargetFlags(dst_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult list = RunCommand({"sh", "-c", "zstd -dc '" + again + "' | tar -tf -"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.find(".vmigrate-import"), std::string::npos) << list.out;
  // Verify of the archive against the target is clean.
  CommandResult v = RunVmigrate(Concat({"verify", com_}, TargetFlags(dst_.path())));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace
}  // namespace vmigrate::testing::cli
