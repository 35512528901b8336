// Crash safety of an add-only ("tail") delta import (issue 14): real-small's
// example.com is imported in full, mail arrives on the source (two
// mailboxes and a folder the target does not have yet) and the tail is
// imported with SIGKILL (VMIGRATE_CRASH_AT=N) at every crash point. Right
// after the kill every message is on the target at most once and whole;
// the next run of the same import adds the rest and leaves exactly what one
// clean tail import leaves, with no staging behind; a third run says
// "already applied".
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

constexpr int kMaxTailCrashPoints = 32;

struct TailCrashShared {
  std::unique_ptr<TempDir> src, work, base, reference;
  std::string tail;                         // the add-only delta
  std::vector<std::string> messages;        // "<maildir rel>\t<unique name>" carried by the tail
  std::vector<std::string> points;          // crash point names (N = index + 1)
  std::map<std::string, std::string> ref;   // ContentView after one clean import
  std::string error;
};

TailCrashShared* g_tail = nullptr;

// ContentView without what a tail import makes "now" and may differ between
// two runs: directory mtimes (a live target's own; the tail never puts them
// back), the maildirfolder of a folder it made, the contents of its marker.
std::map<std::string, std::string> MailView(const std::string& root) {
  auto view = ContentView(root);
  for (auto& [rel, line] : view) {
    if (rel.find("/.vmigrate-tails.") != std::string::npos) line = "marker";
    else if (fs::path(rel).filename() == "maildirfolder") line = "maildirfolder";
    else if (line.find(" dir ") != std::string::npos) line = line.substr(0, line.find(" dir ") + 4);
  }
  return view;
}

// Entries named .vmigrate-tail.* (staging) left in domains/.
std::vector<std::string> TailLeftovers(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(cli::TargetHomeDisk(root) + "/domains"))
    if (e.path().filename().string().rfind(".vmigrate-tail.", 0) == 0) out.push_back(e.path().filename());
  return out;
}

// How many files in new/ and cur/ of `maildir` carry `unique`, and in tmp/.
int CopiesOf(const std::string& maildir, const std::string& unique, bool tmp = false) {
  int n = 0;
  for (const char* sub : {"new", "cur", "tmp"}) {
    if ((std::string(sub) == "tmp") != tmp || !fs::exists(maildir + "/" + sub)) continue;
    for (const auto& e : fs::directory_iterator(maildir + "/" + sub))
      n += e.path().filename().string().rfind(unique, 0) == 0;
  }
  return n;
}

void SetUpTailShared() {
  if (g_tail) return;
  g_tail = new TailCrashShared;
  TailCrashShared& s = *g_tail;
  s.src = std::make_unique<TempDir>();
  s.work = std::make_unique<TempDir>();
  s.base = std::make_unique<TempDir>();
  s.reference = std::make_unique<TempDir>();
  UnpackFixture("real-small", s.src->path());
  std::string full = *s.work / "full.vma", state = *s.work / "s0.state";
  CommandResult r = cli::Export(s.src->path(), "example.com", full, {"--state-out", state});
  if (r.exit_code != 0) s.error += "full export: " + r.err;
  cli::MakeEmptyTarget(s.base->path());
  r = cli::Import(s.base->path(), full);
  if (r.exit_code != 0) s.error += "full import: " + r.err;
  if (!s.error.empty()) return;
  const std::string d = cli::SourceDomainDisk(s.src->path());
  s.messages.push_back("alice/Maildir\t" + cli::Deliver(d + "/alice/Maildir", "alice@example.com", 1795900001, 51001, "a1"));
  s.messages.push_back("alice/Maildir\t" + cli::Deliver(d + "/alice/Maildir", "alice@example.com", 1795900002, 51002, "a2"));
  s.messages.push_back("carol/Maildir\t" + cli::Deliver(d + "/carol/Maildir", "carol@example.com", 1795900003, 51003, "c1"));
  cli::MakeMaildir(d + "/alice/Maildir/.Held");
  cli::WriteFileMode(d + "/alice/Maildir/.Held/maildirfolder", "", 0600);
  s.messages.push_back("alice/Maildir/.Held\t" +
                       cli::Deliver(d + "/alice/Maildir/.Held", "alice@example.com", 1795900004, 51004, "h1"));
  s.tail = *s.work / "tail.vmd";
  r = cli::ExportSince(s.src->path(), "example.com", state, s.tail, {"--add-only"});
  if (r.exit_code != 0) s.error += "export --add-only: " + r.err;
  if (!s.error.empty()) return;

  TempDir listed;
  cli::CopyTree(s.base->path(), listed.path());
  r = ImportWithEnv(listed.path(), s.tail, {"VMIGRATE_CRASH_LIST=1"});
  if (r.exit_code != 0) s.error += "tail import with VMIGRATE_CRASH_LIST=1: " + r.err;
  const std::string tag = "vmigrate: crash point ";
  for (const auto& line : cli::Lines(r.err)) {
    if (line.rfind(tag, 0) != 0) continue;
    size_t colon = line.find(": ", tag.size());
    s.points.push_back(line.substr(colon + 2));
  }
  cli::CopyTree(s.base->path(), s.reference->path());
  r = cli::Import(s.reference->path(), s.tail);
  if (r.exit_code != 0) s.error += "clean tail import: " + r.err;
  s.ref = MailView(s.reference->path());
}

class SafetyTailCrashTest : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() { SetUpTailShared(); }
  static void TearDownTestSuite() {
    delete g_tail;
    g_tail = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g_tail->error.empty()) << g_tail->error; }

  // Every carried message is in new/ or cur/ at most once (exactly once when `all`).
  static void ExpectEachMessageOnce(const std::string& root, bool all) {
    for (const std::string& m : g_tail->messages) {
      std::string maildir = cli::TargetDomainDisk(root) + "/" + m.substr(0, m.find('\t'));
      std::string unique = m.substr(m.find('\t') + 1);
      int n = CopiesOf(maildir, unique);
      if (all) {
        EXPECT_EQ(n, 1) << unique << " in " << maildir;
      } else {
        EXPECT_LE(n, 1) << unique << " duplicated in " << maildir;
      }
    }
  }
};

TEST_P(SafetyTailCrashTest, KillAtPointThenImportTheTailAgain) {
  const TailCrashShared& s = *g_tail;
  const int n = GetParam();
  if (n > static_cast<int>(s.points.size()))
    GTEST_SKIP() << "this tail import has only " << s.points.size() << " crash points";
  SCOPED_TRACE("crash point " + std::to_string(n) + ": " + s.points[n - 1]);

  TempDir dst;
  cli::CopyTree(s.base->path(), dst.path());
  CommandResult killed = ImportWithEnv(dst.path(), s.tail, {"VMIGRATE_CRASH_AT=" + std::to_string(n)});
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "not killed at point " << n << "\n" << killed.err;
  ExpectEachMessageOnce(dst.path(), /*all=*/false);

  CommandResult again = cli::Import(dst.path(), s.tail);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  ExpectEachMessageOnce(dst.path(), /*all=*/true);
  // A message left in tmp/ by the kill was moved on by the rerun.
  for (const std::string& m : s.messages)
    EXPECT_EQ(CopiesOf(cli::TargetDomainDisk(dst.path()) + "/" + m.substr(0, m.find('\t')), m.substr(m.find('\t') + 1), true), 0);
  EXPECT_SAME_TREE(s.ref, MailView(dst.path())) << "after the rerun the target differs from one clean tail import";
  EXPECT_EQ(TailLeftovers(dst.path()), std::vector<std::string>{}) << "staging left behind";
  EXPECT_EQ(Leftovers(dst.path()), std::vector<std::string>{});
  CommandResult third = cli::Import(dst.path(), s.tail);
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_NE((third.out + third.err).find("already applied"), std::string::npos) << third.out << third.err;
}

INSTANTIATE_TEST_SUITE_P(SafetyTailCrash, SafetyTailCrashTest, ::testing::Range(1, kMaxTailCrashPoints + 1));

TEST_F(SafetyTailCrashTest, EnumeratesCrashPoints) {
  const TailCrashShared& s = *g_tail;
  std::string all;
  for (size_t i = 0; i < s.points.size(); ++i) all += std::to_string(i + 1) + ": " + s.points[i] + "\n";
  SCOPED_TRACE(all);
  // Two per message (in tmp/, landed), the sync and the marker (and the
  // importer's own while it unpacks).
  size_t tail_points = 0;
  for (const auto& p : s.points) tail_points += p.rfind("tail ", 0) == 0;
  EXPECT_EQ(tail_points, 2 * s.messages.size() + 2);
  EXPECT_LE(s.points.size(), static_cast<size_t>(kMaxTailCrashPoints)) << "raise kMaxTailCrashPoints";
}

}  // namespace
}  // namespace vmigrate::testing::safety
