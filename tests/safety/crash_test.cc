// Crash safety: the importer is killed with SIGKILL (VMIGRATE_CRASH_AT=N,
// see lib/core/crash_point.h) at every crash point of an import of
// real-small example.com (alias example.org) into an empty target. After
// each kill the target must look, to a mail server, either untouched or
// fully imported, with any in-between state covered by the commit journal;
// running the same import again must complete it (or, when the killed run
// had already finished, refuse with exit 5), leaving exactly what one clean
// import leaves and no staging or journal behind.
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "safety/safety_support.h"
#include "support/test_support.h"

namespace vmigrate::testing::safety {
namespace {

// Upper bound of the parameterised test below; instances past the real
// number of crash points skip. EnumeratesCrashPoints fails if the import
// ever grows more points than this, so none goes untested.
constexpr int kMaxCrashPoints = 48;

const char* const kCommitPoints[] = {
    "staging complete",  "journal written",     "domain dir renamed into place",
    "domains/.dir-control written", "users/assign saved", "users/cdb rebuilt",
    "rcpthosts saved",   "virtualdomains saved", "control files written",
    "journal removed"};

struct CrashShared {
  std::unique_ptr<TempDir> src, work, reference, reference_both;
  std::string com, net;                      // archives of example.com and example.net
  std::vector<std::string> points;           // crash point names, in order (N = index + 1)
  std::map<std::string, std::string> ref;    // ContentView after one clean import of example.com
  std::map<std::string, std::string> ref_both;  // ... of example.com and then example.net
  std::string error;

  int IndexOf(const std::string& name) const {
    auto it = std::find(points.begin(), points.end(), name);
    return it == points.end() ? -1 : static_cast<int>(it - points.begin()) + 1;
  }
};

CrashShared* g_shared = nullptr;

void SetUpShared() {
  if (g_shared) return;
  g_shared = new CrashShared;
  CrashShared& s = *g_shared;
  s.src = std::make_unique<TempDir>();
  s.work = std::make_unique<TempDir>();
  s.reference = std::make_unique<TempDir>();
  s.reference_both = std::make_unique<TempDir>();
  UnpackFixture("real-small", s.src->path());
  s.com = *s.work / "com.vma";
  s.net = *s.work / "net.vma";
  CommandResult r = cli::Export(s.src->path(), "example.com", s.com);
  if (r.exit_code != 0) s.error += "export example.com: " + r.err;
  r = cli::Export(s.src->path(), "example.net", s.net);
  if (r.exit_code != 0) s.error += "export example.net: " + r.err;
  if (!s.error.empty()) return;

  // The crash points of this import, from a run that lists them.
  TempDir listed;
  cli::MakeEmptyTarget(listed.path());
  r = ImportWithEnv(listed.path(), s.com, {"VMIGRATE_CRASH_LIST=1"});
  if (r.exit_code != 0) s.error += "import with VMIGRATE_CRASH_LIST=1: " + r.err;
  const std::string tag = "vmigrate: crash point ";
  for (const auto& line : cli::Lines(r.err)) {
    if (line.rfind(tag, 0) != 0) continue;
    size_t colon = line.find(": ", tag.size());
    int n = std::stoi(line.substr(tag.size(), colon - tag.size()));
    if (n != static_cast<int>(s.points.size()) + 1) s.error += "crash points out of order: " + line + "\n";
    s.points.push_back(line.substr(colon + 2));
  }

  cli::MakeEmptyTarget(s.reference->path());
  r = cli::Import(s.reference->path(), s.com);
  if (r.exit_code != 0) s.error += "clean import: " + r.err;
  s.ref = ContentView(s.reference->path());

  cli::MakeEmptyTarget(s.reference_both->path());
  r = cli::Import(s.reference_both->path(), s.com);
  if (r.exit_code != 0) s.error += "clean import of example.com: " + r.err;
  r = cli::Import(s.reference_both->path(), s.net);
  if (r.exit_code != 0) s.error += "clean import of example.net: " + r.err;
  s.ref_both = ContentView(s.reference_both->path());
}

void TearDownShared() {
  delete g_shared;
  g_shared = nullptr;
}

class SafetyCrashTest : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() { SetUpShared(); }
  static void TearDownTestSuite() { TearDownShared(); }
  void SetUp() override { ASSERT_TRUE(g_shared->error.empty()) << g_shared->error; }
};

// What a mail server sees right after a kill: never a domain registered
// without its directory; a directory without (complete) registration, or
// registration of only the main name or only the alias, only while the
// journal that lets the next run roll it back exists.
void ExpectConsistentAfterKill(const std::string& root, bool journal) {
  DomainState com = StateOf(root, "example.com");
  DomainState org = StateOf(root, "example.org", "domains/example.com");
  SCOPED_TRACE("example.com: " + com.str() + "; example.org: " + org.str() +
               "; journal=" + (journal ? "yes" : "no"));
  if (com.in_assign || com.in_cdb || org.in_assign || org.in_cdb) {
    EXPECT_TRUE(com.present) << "a registered domain without its directory: mail to it would be lost";
  }
  bool complete = com.present && com.in_assign && com.in_cdb && org.in_assign && org.in_cdb;
  bool absent = !com.present && !com.in_assign && !com.in_cdb && !org.in_assign && !org.in_cdb;
  if (!complete && !absent) {
    EXPECT_TRUE(journal) << "a half-imported domain with no journal to roll it back";
  }
}

TEST_P(SafetyCrashTest, KillAtPointThenImportAgain) {
  const CrashShared& s = *g_shared;
  const int n = GetParam();
  if (n > static_cast<int>(s.points.size()))
    GTEST_SKIP() << "this import has only " << s.points.size() << " crash points";
  const std::string name = s.points[n - 1];
  SCOPED_TRACE("crash point " + std::to_string(n) + ": " + name);
  const int journal_at = s.IndexOf("journal written");
  const int done_at = s.IndexOf("journal removed");
  ASSERT_GT(journal_at, 0);
  ASSERT_GT(done_at, journal_at);

  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  const auto original = LiveView(dst.path());
  CommandResult killed = ImportWithEnv(dst.path(), s.com, {"VMIGRATE_CRASH_AT=" + std::to_string(n)});
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "not killed at point " << n << "\n" << killed.err;

  const bool journal = fs::exists(JournalPath(dst.path(), "example.com"));
  ExpectConsistentAfterKill(dst.path(), journal);
  if (n < journal_at) {
    EXPECT_FALSE(journal);
    EXPECT_SAME_TREE(original, LiveView(dst.path()))
        << "killed before the journal was written, yet the live target changed";
  } else if (n < done_at) {
    EXPECT_TRUE(journal) << "killed during the commit with no journal";
  } else {
    EXPECT_FALSE(journal);
    EXPECT_SAME_TREE(s.ref, ContentView(dst.path()))
        << "killed after the commit, yet the target differs from a clean import";
  }

  CommandResult again = cli::Import(dst.path(), s.com);
  if (n == done_at) {
    EXPECT_EQ(again.exit_code, 5) << again.err;
    ExpectOneLineError(again, "example.com");
  } else {
    EXPECT_EQ(again.exit_code, 0) << again.err;
    if (journal) {
      EXPECT_NE(again.err.find("rolled back an interrupted earlier import"), std::string::npos)
          << "the second run did not say it recovered:\n" << again.err;
    }
  }
  EXPECT_SAME_TREE(s.ref, ContentView(dst.path()))
      << "after the second run the target differs from one clean import";
  EXPECT_EQ(Leftovers(dst.path()), std::vector<std::string>{});
  DomainState com = StateOf(dst.path(), "example.com");
  EXPECT_TRUE(com.present && com.in_assign && com.in_cdb) << com.str();
}

INSTANTIATE_TEST_SUITE_P(SafetyCrash, SafetyCrashTest, ::testing::Range(1, kMaxCrashPoints + 1));

// Not parameterised (suite "SafetyCrashTest", same fixture and shared setup).
TEST_F(SafetyCrashTest, EnumeratesCrashPoints) {
  const CrashShared& s = *g_shared;
  std::string all;
  for (size_t i = 0; i < s.points.size(); ++i) all += std::to_string(i + 1) + ": " + s.points[i] + "\n";
  SCOPED_TRACE(all);
  EXPECT_GE(s.points.size(), 30u);
  EXPECT_LE(s.points.size(), static_cast<size_t>(kMaxCrashPoints)) << "raise kMaxCrashPoints";
  int unpacking = static_cast<int>(std::count(s.points.begin(), s.points.end(), "unpacking"));
  EXPECT_GE(unpacking, 20);
  // The commit points, each once and in this order, after all the unpacking.
  std::vector<std::string> commit;
  for (const auto& p : s.points)
    if (p != "unpacking") commit.push_back(p);
  EXPECT_EQ(commit, std::vector<std::string>(std::begin(kCommitPoints), std::end(kCommitPoints)));
  ASSERT_GT(s.IndexOf("staging complete"), unpacking);
}

// A crash of example.com's commit, then a complete import of another domain
// (example.net) into the same target, then the rerun of example.com: the
// rerun must recover example.com without undoing example.net.
TEST_F(SafetyCrashTest, OtherDomainBetweenCrashAndRecovery) {
  const CrashShared& s = *g_shared;
  for (const char* point : {"journal written", "domain dir renamed into place",
                            "domains/.dir-control written", "users/assign saved", "users/cdb rebuilt",
                            "rcpthosts saved", "virtualdomains saved", "control files written"}) {
    SCOPED_TRACE(std::string("example.com killed at '") + point + "'");
    int n = s.IndexOf(point);
    ASSERT_GT(n, 0);
    TempDir dst;
    cli::MakeEmptyTarget(dst.path());
    CommandResult killed = ImportWithEnv(dst.path(), s.com, {"VMIGRATE_CRASH_AT=" + std::to_string(n)});
    ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.err;
    ASSERT_TRUE(fs::exists(JournalPath(dst.path(), "example.com")));

    CommandResult net = cli::Import(dst.path(), s.net);
    EXPECT_EQ(net.exit_code, 0) << net.err;
    EXPECT_TRUE(fs::exists(JournalPath(dst.path(), "example.com")))
        << "importing example.net removed example.com's journal";
    DomainState net_state = StateOf(dst.path(), "example.net");
    EXPECT_TRUE(net_state.present && net_state.in_assign && net_state.in_cdb) << net_state.str();

    CommandResult again = cli::Import(dst.path(), s.com);
    EXPECT_EQ(again.exit_code, 0) << again.err;
    net_state = StateOf(dst.path(), "example.net");
    DomainState com_state = StateOf(dst.path(), "example.com");
    EXPECT_TRUE(net_state.present && net_state.in_assign && net_state.in_cdb)
        << "recovering example.com undid example.net: " << net_state.str();
    EXPECT_TRUE(com_state.present && com_state.in_assign && com_state.in_cdb) << com_state.str();
    EXPECT_SAME_TREE(s.ref_both, ContentView(dst.path()))
        << "the target differs from clean imports of example.com and example.net";
    EXPECT_EQ(Leftovers(dst.path()), std::vector<std::string>{});
  }
}

}  // namespace
}  // namespace vmigrate::testing::safety
