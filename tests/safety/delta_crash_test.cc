// Crash safety of a delta import (issue 13): real-small's example.com is
// imported in full, the source changes (cli/delta_fixture.h round 1) and
// the delta is imported with SIGKILL (VMIGRATE_CRASH_AT=N) at every crash
// point. Right after the kill the domain stays registered, and without a
// journal (domains/.vmigrate-delta.<domain>) the installed data is exactly the
// old state or exactly the new one; the next run of the same import
// completes it (rolling a committed journal forward, or discarding an
// uncommitted one and applying the delta again) and leaves exactly what one
// clean delta import leaves, with no journal or staging behind.
#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "cli/delta_fixture.h"
#include "safety/safety_support.h"
#include "support/test_support.h"

namespace vmigrate::testing::safety {
namespace {

// Upper bound of the parameterised test; instances past the real number of
// crash points skip, and EnumeratesCrashPoints fails if there are more.
constexpr int kMaxDeltaCrashPoints = 64;

struct DeltaCrashShared {
  std::unique_ptr<TempDir> src, work, base, reference;
  std::string delta;                        // the round-1 delta
  std::vector<std::string> points;          // crash point names (N = index + 1)
  std::string old_body, new_body;           // state bodies before / after the delta
  std::map<std::string, std::string> ref;   // ContentView after one clean delta import
  std::string error;
};

DeltaCrashShared* g_delta = nullptr;

// The delta import's journal and staging dir (next to the domain dir).
std::string DeltaJournal(const std::string& root) {
  return cli::TargetHomeDisk(root) + "/domains/.vmigrate-delta.example.com";
}

// ContentView without the applied-marker vmigrate keeps in domains/ (its
// bytes are bookkeeping, not mail; its presence is still compared).
std::map<std::string, std::string> MailView(const std::string& root) {
  auto view = ContentView(root);
  for (auto& [rel, line] : view)
    if (rel.find("/.vmigrate-applied.") != std::string::npos) line = "marker";
  return view;
}

// Entries named .vmigrate-delta* left in domains/ (journal, staging, lock).
std::vector<std::string> DeltaLeftovers(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(cli::TargetHomeDisk(root) + "/domains"))
    if (e.path().filename().string().rfind(".vmigrate-delta", 0) == 0) out.push_back(e.path().filename());
  return out;
}

void SetUpDeltaShared() {
  if (g_delta) return;
  g_delta = new DeltaCrashShared;
  DeltaCrashShared& s = *g_delta;
  s.src = std::make_unique<TempDir>();
  s.work = std::make_unique<TempDir>();
  s.base = std::make_unique<TempDir>();
  s.reference = std::make_unique<TempDir>();
  UnpackFixture("real-small", s.src->path());
  std::string full = *s.work / "full.vma";
  CommandResult r = cli::Export(s.src->path(), "example.com", full);
  if (r.exit_code != 0) s.error += "full export: " + r.err;
  cli::MakeEmptyTarget(s.base->path());
  r = cli::Import(s.base->path(), full);
  if (r.exit_code != 0) s.error += "full import: " + r.err;
  std::string state = *s.work / "base.state";
  r = cli::State(cli::TargetFlags(s.base->path()), "example.com", state);
  if (r.exit_code != 0) s.error += "state: " + r.err;
  if (!s.error.empty()) return;
  s.old_body = cli::StateBodyOf(cli::TargetFlags(s.base->path()), "example.com");
  cli::Round1 r1;
  cli::ApplyRound1(s.src->path(), &r1);
  s.delta = *s.work / "1.vmd";
  r = cli::ExportSince(s.src->path(), "example.com", state, s.delta);
  if (r.exit_code != 0) s.error += "export --since: " + r.err;
  s.new_body = cli::StateBodyOf(cli::SourceFlags(s.src->path()), "example.com");
  if (!s.error.empty()) return;

  // The crash points of this import, from a run that lists them.
  TempDir listed;
  cli::CopyTree(s.base->path(), listed.path());
  r = ImportWithEnv(listed.path(), s.delta, {"VMIGRATE_CRASH_LIST=1"});
  if (r.exit_code != 0) s.error += "delta import with VMIGRATE_CRASH_LIST=1: " + r.err;
  const std::string tag = "vmigrate: crash point ";
  for (const auto& line : cli::Lines(r.err)) {
    if (line.rfind(tag, 0) != 0) continue;
    size_t colon = line.find(": ", tag.size());
    s.points.push_back(line.substr(colon + 2));
  }

  cli::CopyTree(s.base->path(), s.reference->path());
  r = cli::Import(s.reference->path(), s.delta);
  if (r.exit_code != 0) s.error += "clean delta import: " + r.err;
  s.ref = MailView(s.reference->path());
  std::string ref_body = cli::StateBodyOf(cli::TargetFlags(s.reference->path()), "example.com");
  if (ref_body != s.new_body) s.error += "a clean delta import does not give the source's state:\n" +
                                        cli::TextDiff(s.new_body, ref_body);
}

class SafetyDeltaCrashTest : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() { SetUpDeltaShared(); }
  static void TearDownTestSuite() {
    delete g_delta;
    g_delta = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g_delta->error.empty()) << g_delta->error; }
};

TEST_P(SafetyDeltaCrashTest, KillAtPointThenImportTheDeltaAgain) {
  const DeltaCrashShared& s = *g_delta;
  const int n = GetParam();
  if (n > static_cast<int>(s.points.size()))
    GTEST_SKIP() << "this delta import has only " << s.points.size() << " crash points";
  SCOPED_TRACE("crash point " + std::to_string(n) + ": " + s.points[n - 1]);

  TempDir dst;
  cli::CopyTree(s.base->path(), dst.path());
  CommandResult killed = ImportWithEnv(dst.path(), s.delta, {"VMIGRATE_CRASH_AT=" + std::to_string(n)});
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "not killed at point " << n << "\n" << killed.err;

  // Mail keeps flowing to the domain at every instant.
  DomainState com = StateOf(dst.path(), "example.com");
  DomainState org = StateOf(dst.path(), "example.org", "domains/example.com");
  EXPECT_TRUE(com.present && com.in_assign && com.in_cdb) << com.str();
  EXPECT_TRUE(org.in_assign && org.in_cdb) << org.str();
  const bool journal = fs::exists(DeltaJournal(dst.path()));
  if (!journal) {
    std::string body = cli::StateBodyOf(cli::TargetFlags(dst.path()), "example.com");
    EXPECT_TRUE(body == s.old_body || body == s.new_body)
        << "killed without a journal, the target is neither the old nor the new state:\nvs old:\n"
        << cli::TextDiff(s.old_body, body) << "vs new:\n" << cli::TextDiff(s.new_body, body);
  }

  CommandResult again = cli::Import(dst.path(), s.delta);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(cli::TextDiff(s.new_body, cli::StateBodyOf(cli::TargetFlags(dst.path()), "example.com")), "")
      << "after the rerun the target is not the source's state";
  EXPECT_SAME_TREE(s.ref, MailView(dst.path())) << "after the rerun the target differs from one clean delta import";
  EXPECT_EQ(DeltaLeftovers(dst.path()), std::vector<std::string>{}) << "journal, staging or lock left behind";
  EXPECT_EQ(Leftovers(dst.path()), std::vector<std::string>{});
  EXPECT_EQ(again.err.find("differs from the source's state"), std::string::npos)
      << "the recovered domain is the source's state, yet:\n" << again.err;
  CommandResult third = cli::Import(dst.path(), s.delta);
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_NE((third.out + third.err).find("already applied"), std::string::npos) << third.out << third.err;
}

INSTANTIATE_TEST_SUITE_P(SafetyDeltaCrash, SafetyDeltaCrashTest, ::testing::Range(1, kMaxDeltaCrashPoints + 1));

TEST_F(SafetyDeltaCrashTest, EnumeratesCrashPoints) {
  const DeltaCrashShared& s = *g_delta;
  std::string all;
  for (size_t i = 0; i < s.points.size(); ++i) all += std::to_string(i + 1) + ": " + s.points[i] + "\n";
  SCOPED_TRACE(all);
  // Staging, the journal, and at least one point inside the commit.
  EXPECT_GE(s.points.size(), 4u);
  EXPECT_LE(s.points.size(), static_cast<size_t>(kMaxDeltaCrashPoints)) << "raise kMaxDeltaCrashPoints";
  bool journal_point = false;
  for (const auto& p : s.points)
    if (p.find("journal") != std::string::npos) journal_point = true;
  EXPECT_TRUE(journal_point) << "no crash point names the journal";
}

// Killed twice: during the import and again during the recovering run; the
// third run still ends in the new state.
TEST_F(SafetyDeltaCrashTest, KilledAgainWhileRecovering) {
  const DeltaCrashShared& s = *g_delta;
  ASSERT_GE(s.points.size(), 2u);
  for (size_t n = 1; n <= s.points.size(); n += 3) {
    SCOPED_TRACE("first kill at point " + std::to_string(n) + ": " + s.points[n - 1]);
    TempDir dst;
    cli::CopyTree(s.base->path(), dst.path());
    CommandResult k1 = ImportWithEnv(dst.path(), s.delta, {"VMIGRATE_CRASH_AT=" + std::to_string(n)});
    ASSERT_EQ(k1.exit_code, 128 + SIGKILL) << k1.err;
    CommandResult k2 = ImportWithEnv(dst.path(), s.delta, {"VMIGRATE_CRASH_AT=1"});
    EXPECT_TRUE(k2.exit_code == 128 + SIGKILL || k2.exit_code == 0) << k2.exit_code << " " << k2.err;
    CommandResult done = cli::Import(dst.path(), s.delta);
    EXPECT_EQ(done.exit_code, 0) << done.err;
    EXPECT_SAME_TREE(s.ref, MailView(dst.path()));
    EXPECT_EQ(DeltaLeftovers(dst.path()), std::vector<std::string>{});
  }
}

}  // namespace
}  // namespace vmigrate::testing::safety
