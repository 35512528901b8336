// export --dry-run: the counts, bytes and warnings of a real export, an
// estimated archive size close to the real uncompressed tar, and nothing
// written; -o is optional and only checked.
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"

namespace vmigrate::testing::cli {
namespace {

class ExportDryRunTest : public ::testing::Test {
 protected:
  void SetUp() override { UnpackFixture("real-small", src_.path()); }

  CommandResult DryRun(const std::vector<std::string>& args) {
    return RunVmigrate(Concat(Concat({"export"}, args), Concat({"--dry-run"}, SourceFlags(src_.path()))));
  }

  // The number after "KEY": in a JSON text (first occurrence).
  static std::uint64_t NumberAfter(const std::string& json, const std::string& key) {
    size_t at = json.find("\"" + key + "\":");
    if (at == std::string::npos) return 0;
    return std::stoull(json.substr(at + key.size() + 3));
  }

  size_t Entries() const {
    size_t n = 0;
    for (auto it = fs::directory_iterator(work_.path()); it != fs::directory_iterator(); ++it) ++n;
    return n;
  }

  TempDir src_, work_;
};

TEST_F(ExportDryRunTest, SameCountsAsTheExportAndNothingWritten) {
  const std::string out = work_ / "com.tar";
  CommandResult d = DryRun({"example.com", "-o", out, "--json", "--compress", "none"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(Entries(), 0u) << "a dry run wrote something";
  EXPECT_EQ(d.out.rfind("{\"schema\":1,\"type\":\"export\",\"dry_run\":true,\"kind\":\"domain\",\"output\":\"" + out + "\"", 0),
            0u)
      << d.out;
  EXPECT_NE(d.out.find("{\"domain\":\"example.com\",\"alias_domains\":[\"example.org\"],\"users\":13,"), std::string::npos)
      << d.out;
  // real-small example.com has 8 .qmail-<alias> files besides .qmail-default.
  EXPECT_GT(NumberAfter(d.out, "mail_aliases"), 0u) << d.out;

  CommandResult e = Export(src_.path(), "example.com", out, {"--json", "--compress", "none"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  for (const char* key : {"messages", "bytes"})
    EXPECT_EQ(NumberAfter(d.out, key), NumberAfter(e.out, key)) << key << "\n" << d.out << "\n" << e.out;
  EXPECT_EQ(d.err, e.err) << "the dry run's warnings differ from the export's";

  // The estimate is within 10% of the real (uncompressed) archive.
  double real = static_cast<double>(fs::file_size(out));
  double estimate = static_cast<double>(NumberAfter(d.out, "estimated_tar_bytes"));
  EXPECT_NEAR(estimate / real, 1.0, 0.10) << "estimate " << estimate << ", real " << real;
}

TEST_F(ExportDryRunTest, TextWithoutOutput) {
  CommandResult d = DryRun({"example.com"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("dry run: nothing written\n"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("example.com: 13 users, "), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("alias domains: example.org"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("estimated archive size: "), std::string::npos) << d.out;
  // Without --dry-run, -o stays required.
  CommandResult e = Export(src_.path(), "example.com", "", {});
  EXPECT_EQ(e.exit_code, 2);
}

TEST_F(ExportDryRunTest, OutputIsCheckedNotCreated) {
  WriteFile(work_ / "exists.tar.zst", "old");
  CommandResult exists = DryRun({"example.com", "-o", work_ / "exists.tar.zst"});
  EXPECT_EQ(exists.exit_code, 5) << exists.err;
  EXPECT_EQ(ReadFile(work_ / "exists.tar.zst"), "old");
  CommandResult forced = DryRun({"example.com", "-o", work_ / "exists.tar.zst", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(ReadFile(work_ / "exists.tar.zst"), "old");
  CommandResult missing = DryRun({"example.com", "-o", work_ / "no/such/dir/a.tar.zst"});
  EXPECT_EQ(missing.exit_code, 7) << missing.err;
  EXPECT_NE(missing.err.find("no/such/dir/a.tar.zst"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(work_ / "no"));
  CommandResult state = DryRun({"example.com", "--state-out", work_ / "s.state"});
  EXPECT_EQ(state.exit_code, 0) << state.err;
  EXPECT_FALSE(fs::exists(work_ / "s.state"));
}

TEST_F(ExportDryRunTest, WarningsOfTheExport) {
  // An account vpopmail cannot reach: reported as the export reports it.
  const std::string vpasswd = SourceHomeDisk(src_.path()) + "/domains/example.net/vpasswd";
  std::string text = ReadFile(vpasswd);
  std::string tom = text.substr(text.find("tom:"), text.find('\n', text.find("tom:")) - text.find("tom:") + 1);
  WriteFile(vpasswd, text + ReplaceAll(tom, "tom:", "Tom:"));
  CommandResult d = DryRun({"example.net", "--json"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("\"unreachable_users\":[{\"domain\":\"example.net\",\"name\":\"Tom\""), std::string::npos)
      << d.out;
  EXPECT_NE(d.err.find("vmigrate: export: warning: "), std::string::npos) << d.err;
  CommandResult e = Export(src_.path(), "example.net", work_ / "net.tar.zst");
  EXPECT_EQ(d.err, e.err);
}

TEST_F(ExportDryRunTest, DeltaCountsWhatItWouldSend) {
  const std::string state = work_ / "s.state";
  CommandResult s = RunVmigrate(Concat({"state", "example.com", "-o", state}, SourceFlags(src_.path())));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  WriteFile(SourceHomeDisk(src_.path()) + "/domains/example.com/bob/Maildir/new/1700000003.7.host,S=5000",
            std::string(5000, 'n'));
  CommandResult d = DryRun({"example.com", "--since", state, "--json"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("\"kind\":\"delta\""), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("\"delta_counts\":{\"files\":2,\"bytes\":5000,\"messages\":1,"), std::string::npos) << d.out;
  EXPECT_EQ(Entries(), 1u) << "only the state file";
  CommandResult e = Export(src_.path(), "example.com", work_ / "d.tar", {"--since", state, "--compress", "none"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  double real = static_cast<double>(fs::file_size(work_ / "d.tar"));
  double estimate = static_cast<double>(NumberAfter(d.out, "estimated_tar_bytes"));
  EXPECT_NEAR(estimate / real, 1.0, 0.15) << "estimate " << estimate << ", real " << real;
}

TEST_F(ExportDryRunTest, AllAndEach) {
  CommandResult all = DryRun({"--all", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find("\"kind\":\"server\""), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("\"domain\":\"example.com\""), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("\"domain\":\"example.net\""), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("\"users\":17,"), std::string::npos) << all.out;
  EXPECT_EQ(all.out.find("\"server_files\":[]"), std::string::npos) << all.out;

  CommandResult each = DryRun({"--each", "example.com", "example.net", "nope.example", "-o", work_.path(), "--json"});
  EXPECT_EQ(each.exit_code, 4) << each.err;
  EXPECT_NE(each.out.find("\"output\":\"" + work_ / "example.net.tar.zst" + "\""), std::string::npos) << each.out;
  EXPECT_NE(each.err.find("nope.example"), std::string::npos) << each.err;
  EXPECT_EQ(Entries(), 0u);
}

}  // namespace
}  // namespace vmigrate::testing::cli
