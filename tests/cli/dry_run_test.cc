// import --dry-run: checks the whole archive, prints the plan, changes nothing;
// the plan it prints is what a real import then does.
#include <gtest/gtest.h>

#include "cli/cli_fixture.h"

namespace vmigrate::testing::cli {
namespace {

class DryRunCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-hashed", src_.path());
    MakeEmptyTarget(dst_.path());
    archive_ = work_ / "big.vmig";
    CommandResult r = Export(src_.path(), "big.example", archive_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir src_, dst_, work_;
  std::string archive_;
};

TEST_F(DryRunCliTest, DryRunChangesNothingAndItsPlanIsWhatTheImportDoes) {
  auto before = TreeDigest(dst_.path());
  CommandResult plan = Import(dst_.path(), archive_, {"--dry-run", "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
  EXPECT_NE(plan.out.find("\"status\":\"dry-run\""), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("\"domain_dir\":\"/srv/vpopmail/domains/big.example\""), std::string::npos);
  EXPECT_NE(plan.out.find("{\"name\":\"user250\",\"dir\":\"/srv/vpopmail/domains/big.example/1/user250\"}"),
            std::string::npos);

  CommandResult real = Import(dst_.path(), archive_);
  ASSERT_EQ(real.exit_code, 0) << real.err;
  // Every control-file line the plan announced is there now.
  std::string assign = ReadFile(TargetQmailDisk(dst_.path()) + "/users/assign");
  std::string rcpthosts = ReadFile(TargetQmailDisk(dst_.path()) + "/control/rcpthosts");
  std::string virtualdomains = ReadFile(TargetQmailDisk(dst_.path()) + "/control/virtualdomains");
  EXPECT_NE(plan.out.find("\"text\":\"" + Lines(assign)[0] + "\""), std::string::npos) << assign;
  EXPECT_TRUE(HasLine(rcpthosts, "big.example"));
  EXPECT_TRUE(HasLine(virtualdomains, "big.example:big.example"));
  EXPECT_NE(plan.out.find("\"text\":\"big.example:big.example\""), std::string::npos);
  // And the users are where the plan said.
  EXPECT_TRUE(fs::is_directory(TargetHomeDisk(dst_.path()) + "/domains/big.example/1/user250/Maildir"));
  std::string dc = ReadFile(TargetHomeDisk(dst_.path()) + "/domains/.dir-control");
  std::string dc_json;
  for (char c : dc) dc_json += c == '\n' ? std::string("\\n") : std::string(1, c);
  EXPECT_NE(plan.out.find("\"domains_dir_control\":\"" + dc_json + "\""), std::string::npos);
}

TEST_F(DryRunCliTest, DryRunStillRefusesADomainThatExists) {
  ASSERT_EQ(Import(dst_.path(), archive_).exit_code, 0);
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), archive_, {"--dry-run"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("big.example"), std::string::npos);
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(DryRunCliTest, DryRunFindsADamagedMessage) {
  // Flip one byte inside an uncompressed archive's message data.
  std::string plain = work_ / "plain.vmig";
  ASSERT_EQ(Export(src_.path(), "big.example", plain, {"--compress", "none"}).exit_code, 0);
  std::string bytes = ReadFile(plain);
  size_t pos = bytes.find("Subject:");
  ASSERT_NE(pos, std::string::npos);
  bytes[pos] = 's';
  WriteFile(plain, bytes);
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), plain, {"--dry-run"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("checksum mismatch"), std::string::npos) << r.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

}  // namespace
}  // namespace vmigrate::testing::cli
