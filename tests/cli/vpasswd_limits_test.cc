// End to end, issue 12 kind 2: vpasswd line limits. vpopmail 5.6 writes
// lines longer than 5.4 reads (SHA-512 hashes, 64-byte gecos). Export reads
// them; import refuses, before writing anything, a line that with the
// target's home path is longer than the target's vpopmail reads (exit 8),
// unless --vpasswd-line-max says it reads more (then: a warning); verify
// warns about installed lines over the limit.
#include <crypt.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"
#include "vpopmail/names.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

constexpr const char* kDomain = "example.com";

class VpasswdLimitsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
    domain_disk_ = SourceHomeDisk(src_.path()) + "/domains/example.com";
  }

  // Gives ken the line vpopmail 5.6 writes with a SHA-512 hash, a 64-byte
  // gecos (5.6's MAX_PW_GECOS) and a stored cleartext; vpasswd.cdb is
  // rebuilt so the source stays consistent. Returns the line's length.
  size_t LengthenKensLine() {
    auto entries = vpopmail::ReadVpasswd(domain_disk_ + "/vpasswd");
    EXPECT_TRUE(entries.ok());
    size_t length = 0;
    for (auto& e : *entries) {
      if (e.name != "ken") continue;
      e.clear = "Correct-Horse-Battery-Staple-99";
      struct crypt_data data {};
      e.passwd = crypt_r(e.clear.c_str(), "$6$LongSalt1234abcd$", &data);
      EXPECT_EQ(e.passwd.size(), 106u);
      e.gecos = "Kenneth Alexander Montgomery-Worthington of the Accounts Departm";
      e.has_clear = true;
      length = vpopmail::FormatVpasswdLine(e).size();
    }
    EXPECT_TRUE(vpopmail::WriteVpasswdFiles(domain_disk_, *entries, std::nullopt).ok());
    return length;
  }

  std::string ExportArchive() {
    std::string archive = work_ / "example.com.vma";
    CommandResult e = Export(src_.path(), kDomain, archive);
    EXPECT_EQ(e.exit_code, 0) << e.err;
    return archive;
  }

  std::string TargetVpasswd() const {
    return ReadFile(TargetHomeDisk(dst_.path()) + "/domains/example.com/vpasswd");
  }

  TempDir src_, dst_, work_;
  std::string domain_disk_;
};

// The line on the target: the fixture home /tmp/realvp/home/vpopmail (25
// bytes) becomes /srv/vpopmail (13).
size_t OnTarget(size_t source_length) { return source_length - 12; }

TEST_F(VpasswdLimitsCliTest, ExportCarriesALineLongerThanVpopmail54Reads) {
  size_t length = LengthenKensLine();
  ASSERT_GT(length, vpopmail::kVpasswdLineMax54);
  std::string archive = work_ / "a.vma";
  CommandResult e = Export(src_.path(), kDomain, archive, {"--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = RunVmigrate({"inspect", archive, "--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("Montgomery-Worthington"), std::string::npos);
}

TEST_F(VpasswdLimitsCliTest, ImportRefusesALineTheTargetCannotReadAndChangesNothing) {
  size_t length = LengthenKensLine();
  ASSERT_GT(OnTarget(length), vpopmail::kVpasswdLineMax54);
  std::string archive = ExportArchive();
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), archive);
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("vmigrate: import: example.com: user 'ken': vpasswd line is " +
                            std::to_string(OnTarget(length)) + " bytes; the target's vpopmail reads at most 254",
                        0),
            0u)
      << r.err;
  EXPECT_NE(r.err.find("--vpasswd-line-max 298"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Correct-Horse"), std::string::npos) << "no password in messages";
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "") << "the target changed";
  EXPECT_TRUE(StagingLeftovers(dst_.path()).empty());
}

TEST_F(VpasswdLimitsCliTest, DryRunAndJsonReportTheRefusal) {
  LengthenKensLine();
  std::string archive = ExportArchive();
  auto before = TreeDigest(dst_.path());
  CommandResult dry = Import(dst_.path(), archive, {"--dry-run"});
  EXPECT_EQ(dry.exit_code, 8) << dry.err;
  EXPECT_NE(dry.err.find("user 'ken': vpasswd line is"), std::string::npos) << dry.err;
  CommandResult json = Import(dst_.path(), archive, {"--json"});
  EXPECT_EQ(json.exit_code, 8) << json.err;
  EXPECT_NE(json.out.find("\"type\":\"error\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"exit\":8"), std::string::npos) << json.out;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "") << "the target changed";
}

TEST_F(VpasswdLimitsCliTest, ExplicitLimitAcceptsWithAWarningAndTheDomainExportsAgain) {
  size_t length = LengthenKensLine();
  std::string archive = ExportArchive();
  CommandResult r = Import(dst_.path(), archive, {"--vpasswd-line-max", "298", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string warning = "warning: example.com: user 'ken': vpasswd line is " +
                        std::to_string(OnTarget(length)) + " bytes; vpopmail 5.4 reads at most 254";
  EXPECT_NE(r.err.find(warning), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("vpasswd line is"), std::string::npos) << "the JSON warnings: " << r.out;
  std::string vpasswd = TargetVpasswd();
  bool found = false;
  for (const auto& line : Lines(vpasswd)) {
    if (line.rfind("ken:", 0) != 0) continue;
    found = true;
    EXPECT_EQ(line.size(), OnTarget(length));
    EXPECT_NE(line.find(std::string(kTargetHome) + "/domains/example.com/ken:"), std::string::npos) << line;
  }
  EXPECT_TRUE(found) << vpasswd;
  // The new host can be moved or backed up again.
  CommandResult again = RunVmigrate(Concat({"export", kDomain, "-o", work_ / "again.vma"},
                                           TargetFlags(dst_.path())));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  // verify: no difference, a warning about the line.
  CommandResult v = RunVmigrate(Concat({"verify", archive}, TargetFlags(dst_.path())));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.err.find("vmigrate: verify: warning: example.com: user 'ken': vpasswd line is " +
                       std::to_string(OnTarget(length)) + " bytes; vpopmail 5.4 reads at most 254 (5.6 reads it)"),
            std::string::npos)
      << v.err;
}

TEST_F(VpasswdLimitsCliTest, VerifyOnTheSourceWarnsAboutALongLine) {
  size_t length = LengthenKensLine();
  std::string archive = ExportArchive();
  CommandResult v = RunVmigrate(Concat({"verify", archive, "--json"}, SourceFlags(src_.path())));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("user 'ken': vpasswd line is " + std::to_string(length) + " bytes"), std::string::npos)
      << v.out;
  EXPECT_NE(v.out.find("\"status\":\"ok\""), std::string::npos) << v.out;
}

// A server restore refuses the same way, before any domain is written.
TEST_F(VpasswdLimitsCliTest, ServerRestoreRefusesBeforeWritingAnyDomain) {
  LengthenKensLine();
  std::string backup = work_ / "server.vma";
  CommandResult e = RunVmigrate(Concat({"export", "--all", "-o", backup}, SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), backup, {"--all"});
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_NE(r.err.find("user 'ken': vpasswd line is"), std::string::npos) << r.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "") << "the target changed";
  CommandResult ok = Import(dst_.path(), backup, {"--all", "--vpasswd-line-max", "298"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.err.find("warning: example.com: user 'ken': vpasswd line is"), std::string::npos) << ok.err;
}

TEST_F(VpasswdLimitsCliTest, ALimitTheLineStillBreaksIsRefused) {
  size_t length = LengthenKensLine();
  std::string archive = ExportArchive();
  std::string max = std::to_string(OnTarget(length) - 1);
  CommandResult r = Import(dst_.path(), archive, {"--vpasswd-line-max", max});
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_NE(r.err.find("reads at most " + max), std::string::npos) << r.err;
}

TEST_F(VpasswdLimitsCliTest, LimitOutsideItsRangeIsAUsageError) {
  std::string archive = ExportArchive();
  for (const char* bad : {"10", "abc", "1000000"}) {
    CommandResult r = Import(dst_.path(), archive, {"--vpasswd-line-max", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
  }
}

TEST_F(VpasswdLimitsCliTest, ImportHelpDocumentsTheLimit) {
  CommandResult r = RunVmigrate({"import", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--vpasswd-line-max"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("298 for 5.6"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vmigrate::testing::cli
