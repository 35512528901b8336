// --progress and --max-rate through the CLI: nothing on a pipe by default,
// JSON lines on request with the real counts, bad values refused.
#include <string>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"

namespace vmigrate::testing::cli {
namespace {

class ProgressCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-hashed", src_.path());
    MakeEmptyTarget(dst_.path());
    archive_ = work_ / "big.tar.zst";
  }
  TempDir src_, dst_, work_;
  std::string archive_;
};

TEST_F(ProgressCliTest, NothingOnAPipeUnlessAsked) {
  CommandResult e = Export(src_.path(), "big.example", archive_);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.err, "");
  CommandResult i = Import(dst_.path(), archive_);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(i.err, "");
}

TEST_F(ProgressCliTest, JsonProgressEndsWithTheTotals) {
  CommandResult e = Export(src_.path(), "big.example", archive_, {"--progress=json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto lines = Lines(e.err);
  ASSERT_FALSE(lines.empty());
  for (const auto& l : lines) EXPECT_EQ(l.front(), '{') << l;
  const std::string& done = lines.back();
  EXPECT_NE(done.find("\"event\":\"done\""), std::string::npos) << done;
  EXPECT_NE(done.find("\"domain\":\"big.example\""), std::string::npos) << done;
  EXPECT_NE(done.find("\"users_done\":261,\"users_total\":261"), std::string::npos) << done;
  EXPECT_NE(done.find("\"messages_done\":4,\"messages_total\":4"), std::string::npos) << done;

  CommandResult i = Import(dst_.path(), archive_, {"--progress=json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  lines = Lines(i.err);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("\"event\":\"done\""), std::string::npos) << i.err;
  EXPECT_NE(lines.back().find("\"messages_done\":4,\"messages_total\":4"), std::string::npos) << i.err;
  EXPECT_NE(lines.back().find("\"users_done\":261,\"users_total\":261"), std::string::npos) << i.err;
}

TEST_F(ProgressCliTest, BareProgressFlagDoesNotSwallowTheArchive) {
  ASSERT_EQ(Export(src_.path(), "big.example", archive_).exit_code, 0);
  CommandResult i = RunVmigrate(Concat({"import", "--progress", archive_, "--no-reload"}, TargetFlags(dst_.path())));
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.err.find("import big.example: users 261/261"), std::string::npos) << i.err;
}

TEST_F(ProgressCliTest, MaxRateIsParsedAndBadValuesAreUsageErrors) {
  CommandResult ok = Export(src_.path(), "big.example", archive_, {"--max-rate", "50M"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  for (const char* bad : {"0", "fast", "10x"}) {
    CommandResult r = Export(src_.path(), "big.example", work_ / "x.tar.zst", {"--max-rate", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("--max-rate"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(work_ / "x.tar.zst"));
  }
  CommandResult mode = Export(src_.path(), "big.example", work_ / "y.tar.zst", {"--progress=loud"});
  EXPECT_EQ(mode.exit_code, 2) << mode.err;
}

}  // namespace
}  // namespace vmigrate::testing::cli
