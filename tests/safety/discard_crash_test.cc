// Crash safety of `cutover discard`: the discard of example.com (alias
// example.org), imported with --move-id into a target that already hosts
// example.net, is killed with SIGKILL (VMIGRATE_CRASH_AT=N) at each of its
// crash points. A mail server must never see the domain registered without
// its directory, and running the discard again must complete it: the target
// then reads exactly as before the import, with nothing of ours left behind.
#include <signal.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "safety/safety_support.h"
#include "support/test_support.h"

namespace vmigrate::testing::safety {
namespace {

constexpr const char* kId = "feedc0de00112233";

std::vector<std::string> DiscardArgv(const std::string& root, const std::vector<std::string>& env) {
  std::vector<std::string> argv = {"env"};
  argv.insert(argv.end(), env.begin(), env.end());
  auto rest = cli::Concat({VMIGRATE_BINARY, "cutover", "discard", "example.com", "--move-id", kId, "--no-reload"},
                          cli::TargetFlags(root));
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

// Our own names anywhere below the vpopmail home (journals, the directory
// moved aside, staging dirs), but the import record an installed domain
// keeps (importer/import_record.h).
std::vector<std::string> OwnLeftovers(const std::string& root) {
  std::vector<std::string> out;
  const std::string domains = root + kTargetHome + "/domains";
  if (!fs::exists(domains)) return out;
  for (auto it = fs::recursive_directory_iterator(domains); it != fs::recursive_directory_iterator(); ++it) {
    std::string name = it->path().filename().string();
    if (name.rfind(".vmigrate-", 0) == 0 && name != ".vmigrate-import") {
      out.push_back(it->path().string());
      if (it->is_directory()) it.disable_recursion_pending();
    }
  }
  return out;
}

class DiscardCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    com_ = work_ / "com.vma";
    net_ = work_ / "net.vma";
    CommandResult r = cli::Export(src_.path(), "example.com", com_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = cli::Export(src_.path(), "example.net", net_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A target with example.net and a locals file naming example.com; its
  // ContentView before example.com was imported with --move-id.
  std::map<std::string, std::string> PrepareTarget(const std::string& root) {
    cli::MakeEmptyTarget(root);
    CommandResult r = cli::Import(root, net_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    WriteFile(root + kTargetQmail + "/control/locals", "example.com\nlocalhost\n");
    chmod((root + kTargetQmail + "/control/locals").c_str(), 0644);
    auto before = ContentView(root);
    r = cli::Import(root, com_, {"--move-id", kId});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return before;
  }

  TempDir src_, work_;
  std::string com_, net_;
};

TEST_F(DiscardCrashTest, KillAtEachPointThenDiscardAgain) {
  std::vector<std::string> points;
  {
    TempDir listed;
    PrepareTarget(listed.path());
    CommandResult r = RunCommand(DiscardArgv(listed.path(), {"VMIGRATE_CRASH_LIST=1"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string tag = "vmigrate: crash point ";
    for (const auto& line : cli::Lines(r.err))
      if (line.rfind(tag, 0) == 0) points.push_back(line.substr(line.find(": ", tag.size()) + 2));
  }
  const std::vector<std::string> expected = {
      "discard journal written",        "discard: assign restored",
      "discard: rcpthosts restored",    "discard: virtualdomains restored",
      "discard: locals restored",       "discard: domains/.dir-control restored",
      "discard: domain dir moved aside", "discard: domain dir removed",
      "discard: journal removed"};
  ASSERT_EQ(points, expected);

  for (size_t n = 1; n <= points.size(); ++n) {
    SCOPED_TRACE("crash point " + std::to_string(n) + ": " + points[n - 1]);
    TempDir dst;
    const auto before = PrepareTarget(dst.path());
    CommandResult killed = RunCommand(DiscardArgv(dst.path(), {"VMIGRATE_CRASH_AT=" + std::to_string(n)}));
    ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.err;

    // Control files go first: the domain is never registered without its dir.
    for (const char* name : {"example.com", "example.org"}) {
      DomainState s = StateOf(dst.path(), name, "domains/example.com");
      if (s.in_assign || s.in_cdb) {
        EXPECT_TRUE(s.present) << name << ": " << s.str();
      }
    }

    CommandResult again = RunCommand(DiscardArgv(dst.path(), {}));
    EXPECT_EQ(again.exit_code, 0) << again.err;
    if (n < points.size()) {
      EXPECT_NE(again.out.find("finished an interrupted discard: discarded example.com"), std::string::npos)
          << again.out;
    }
    EXPECT_SAME_TREE(before, ContentView(dst.path()));
    EXPECT_EQ(OwnLeftovers(dst.path()), std::vector<std::string>{});
    // And once more: nothing left to do.
    CommandResult third = RunCommand(DiscardArgv(dst.path(), {}));
    EXPECT_EQ(third.exit_code, 0) << third.err;
    EXPECT_NE(third.out.find("nothing to discard"), std::string::npos) << third.out;
  }
}

// `move --abort` after the import itself was killed during its commit: the
// domain is half-registered and the import's journal is there. The discard
// rolls that import back (its directory carries the marker).
TEST_F(DiscardCrashTest, RollsBackAnImportOfTheMoveKilledDuringItsCommit) {
  int at = 0;
  {
    TempDir listed;
    cli::MakeEmptyTarget(listed.path());
    CommandResult r = ImportWithEnv(listed.path(), com_, {"VMIGRATE_CRASH_LIST=1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    int n = 0;
    for (const auto& line : cli::Lines(r.err)) {
      if (line.rfind("vmigrate: crash point ", 0) != 0) continue;
      ++n;
      if (line.find(": control files written") != std::string::npos) at = n;
    }
  }
  ASSERT_GT(at, 0);
  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  ASSERT_EQ(cli::Import(dst.path(), net_).exit_code, 0);
  const auto before = ContentView(dst.path());
  std::vector<std::string> argv = {"env", "VMIGRATE_CRASH_AT=" + std::to_string(at)};
  auto import = cli::Concat(ImportArgv(dst.path(), com_), {"--move-id", kId});
  argv.insert(argv.end(), import.begin(), import.end());
  CommandResult killed = RunCommand(argv);
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.err;
  ASSERT_TRUE(StateOf(dst.path(), "example.com").in_assign);
  ASSERT_TRUE(fs::exists(JournalPath(dst.path(), "example.com")));

  CommandResult d = RunCommand(DiscardArgv(dst.path(), {}));
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.err.find("rolled back an import of move"), std::string::npos) << d.err;
  EXPECT_SAME_TREE(before, ContentView(dst.path()));
  EXPECT_EQ(OwnLeftovers(dst.path()), std::vector<std::string>{});
}

}  // namespace
}  // namespace vmigrate::testing::safety
