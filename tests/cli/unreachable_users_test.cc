// End to end, issue 12 kind 3: accounts vpopmail itself cannot reach. A
// hand-edited vpasswd line with an upper-case name ("Dave.Dunn": vpopmail
// lower-cases every login and recipient) never blocks the other accounts:
// export carries it with a warning (or leaves it out with
// --skip-invalid-users), import takes it with a warning, inspect, verify and
// the JSON of export and import name it. A name that is unsafe on disk
// stops the export (exit 8) unless it is skipped.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

constexpr const char* kDomain = "example.com";

class UnreachableUsersCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
    domain_disk_ = SourceHomeDisk(src_.path()) + "/domains/example.com";
    archive_ = work_ / "example.com.vma";
  }

  // Renames user `from` to `to` in vpasswd (and vpasswd.cdb) and on disk,
  // as a hand edit would.
  void RenameUser(const std::string& from, const std::string& to) {
    auto entries = vpopmail::ReadVpasswd(domain_disk_ + "/vpasswd");
    ASSERT_TRUE(entries.ok());
    for (auto& e : *entries) {
      if (e.name != from) continue;
      e.name = to;
      e.dir = e.dir.substr(0, e.dir.rfind('/') + 1) + to;
    }
    ASSERT_TRUE(vpopmail::WriteVpasswdFiles(domain_disk_, *entries, std::nullopt).ok());
    std::filesystem::rename(domain_disk_ + "/" + from, domain_disk_ + "/" + to);
  }

  CommandResult ExportIt(const std::vector<std::string>& extra = {}) {
    return Export(src_.path(), kDomain, archive_, extra);
  }

  std::string TargetDomain() const { return TargetHomeDisk(dst_.path()) + "/domains/example.com"; }

  TempDir src_, dst_, work_;
  std::string domain_disk_;
  std::string archive_;
};

TEST_F(UnreachableUsersCliTest, ExportCarriesAnUpperCaseAccountWithAWarning) {
  RenameUser("dave", "Dave.Dunn");
  CommandResult e = ExportIt({"--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.err.find("vmigrate: export: warning: example.com: user 'Dave.Dunn': upper-case letters: "
                       "vpopmail lower-cases every login and recipient"),
            std::string::npos)
      << e.err;
  EXPECT_NE(e.out.find("\"unreachable_users\":[{\"domain\":\"example.com\",\"name\":\"Dave.Dunn\""),
            std::string::npos)
      << e.out;
  EXPECT_NE(e.out.find("\"skipped_users\":[]"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("\"users\":13"), std::string::npos) << e.out;
}

TEST_F(UnreachableUsersCliTest, ImportTakesTheAccountAndItsMailWithAWarning) {
  RenameUser("dave", "Dave.Dunn");
  ASSERT_EQ(ExportIt().exit_code, 0);
  CommandResult r = Import(dst_.path(), archive_, {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("vmigrate: import: warning: example.com: user 'Dave.Dunn': upper-case"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("\"unreachable_users\":[{\"domain\":\"example.com\",\"name\":\"Dave.Dunn\""),
            std::string::npos)
      << r.out;
  auto entries = vpopmail::ReadVpasswd(TargetDomain() + "/vpasswd");
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), 13u);
  std::string home;
  for (const auto& e : *entries)
    if (e.name == "Dave.Dunn") home = e.dir;
  ASSERT_NE(home, "");
  EXPECT_EQ(home, std::string(kTargetHome) + "/domains/example.com/Dave.Dunn");
  auto src = TreeDigest(domain_disk_ + "/Dave.Dunn");
  auto dst = TreeDigest(dst_.path() + home);
  EXPECT_FALSE(src.empty());
  EXPECT_EQ(src.size(), dst.size());
}

TEST_F(UnreachableUsersCliTest, SkipInvalidUsersLeavesTheAccountAndItsHomeOut) {
  RenameUser("dave", "Dave.Dunn");
  CommandResult e = ExportIt({"--skip-invalid-users", "--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.err.find("warning: example.com: user 'Dave.Dunn': upper-case"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("left out (--skip-invalid-users)"), std::string::npos) << e.err;
  EXPECT_NE(e.out.find("\"skipped_users\":[{\"domain\":\"example.com\",\"name\":\"Dave.Dunn\""),
            std::string::npos)
      << e.out;
  EXPECT_NE(e.out.find("\"unreachable_users\":[]"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("\"users\":12"), std::string::npos) << e.out;
  // Not carried as a user, nor as a stray directory of the domain.
  CommandResult i = RunVmigrate({"inspect", archive_, "--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(i.out.find("Dave.Dunn"), std::string::npos) << i.out;
  CommandResult r = Import(dst_.path(), archive_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(TargetDomain() + "/Dave.Dunn"));
  EXPECT_EQ(ReadFile(TargetDomain() + "/vpasswd").find("Dave.Dunn"), std::string::npos);
}

TEST_F(UnreachableUsersCliTest, AnUnsafeNameStopsTheExportUnlessSkipped) {
  RenameUser("dave", "dave@old");
  CommandResult e = ExportIt();
  EXPECT_EQ(e.exit_code, 8) << e.err;
  EXPECT_NE(e.err.find("example.com: cannot export user 'dave@old': contains '/', '\\', ':' or '@'"),
            std::string::npos)
      << e.err;
  EXPECT_NE(e.err.find("--skip-invalid-users"), std::string::npos) << e.err;
  EXPECT_FALSE(std::filesystem::exists(archive_));
  CommandResult s = ExportIt({"--skip-invalid-users", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("\"skipped_users\":[{\"domain\":\"example.com\",\"name\":\"dave@old\""),
            std::string::npos)
      << s.out;
  EXPECT_NE(s.err.find("user 'dave@old': contains"), std::string::npos) << s.err;
}

TEST_F(UnreachableUsersCliTest, InspectNamesTheAccountInTextAndJson) {
  RenameUser("dave", "Dave.Dunn");
  ASSERT_EQ(ExportIt().exit_code, 0);
  CommandResult t = RunVmigrate({"inspect", archive_});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("warning: accounts vpopmail cannot reach (carried as they are):"), std::string::npos)
      << t.out;
  EXPECT_NE(t.out.find("  Dave.Dunn: upper-case letters"), std::string::npos) << t.out;
  CommandResult j = RunVmigrate({"inspect", archive_, "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_NE(j.out.find("\"unreachable_users\":[{\"domain\":\"example.com\",\"name\":\"Dave.Dunn\""),
            std::string::npos)
      << j.out;
  EXPECT_NE(j.out.find("\"name\":\"Dave.Dunn\",\"reachable\":false"), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"name\":\"alice\",\"reachable\":true"), std::string::npos) << j.out;
}

// verify right after the export (source) and after the import (target):
// no difference, a warning naming the account, and the JSON list.
TEST_F(UnreachableUsersCliTest, VerifyWarnsAboutTheAccountOnBothHosts) {
  RenameUser("dave", "Dave.Dunn");
  ASSERT_EQ(ExportIt().exit_code, 0);
  CommandResult src = RunVmigrate(Concat({"verify", archive_}, SourceFlags(src_.path())));
  EXPECT_EQ(src.exit_code, 0) << src.out << src.err;
  EXPECT_NE(src.err.find("vmigrate: verify: warning: example.com: user 'Dave.Dunn': upper-case"),
            std::string::npos)
      << src.err;
  ASSERT_EQ(Import(dst_.path(), archive_).exit_code, 0);
  CommandResult dst = RunVmigrate(Concat({"verify", archive_, "--json"}, TargetFlags(dst_.path())));
  EXPECT_EQ(dst.exit_code, 0) << dst.out << dst.err;
  EXPECT_NE(dst.out.find("\"type\":\"warning\",\"domain\":\"example.com\",\"message\":\"example.com: user 'Dave.Dunn'"),
            std::string::npos)
      << dst.out;
  EXPECT_NE(dst.out.find("\"unreachable_users\":[{\"domain\":\"example.com\",\"name\":\"Dave.Dunn\""),
            std::string::npos)
      << dst.out;
}

// A whole-server backup and its restore carry the account the same way.
TEST_F(UnreachableUsersCliTest, ServerBackupCarriesTheAccountWithAWarning) {
  RenameUser("dave", "Dave.Dunn");
  std::string backup = work_ / "server.vma";
  CommandResult e = RunVmigrate(Concat({"export", "--all", "-o", backup, "--json"}, SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.err.find("warning: example.com: user 'Dave.Dunn': upper-case"), std::string::npos) << e.err;
  EXPECT_NE(e.out.find("\"unreachable_users\":[{\"domain\":\"example.com\",\"name\":\"Dave.Dunn\""),
            std::string::npos)
      << e.out;
  CommandResult r = Import(dst_.path(), backup, {"--all", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"unreachable_users\":[{\"domain\":\"example.com\",\"name\":\"Dave.Dunn\""),
            std::string::npos)
      << r.out;
  EXPECT_NE(ReadFile(TargetDomain() + "/vpasswd").find("Dave.Dunn:"), std::string::npos);
}

TEST_F(UnreachableUsersCliTest, ExportHelpDocumentsSkipInvalidUsers) {
  CommandResult r = RunVmigrate({"export", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--skip-invalid-users"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vmigrate::testing::cli
