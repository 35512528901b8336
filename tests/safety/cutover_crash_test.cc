// SIGKILL at every crash point of cutover hold, forward and release (as a
// power cut would): running the same step again completes it, and release
// after any of them puts the old host back exactly as it was.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "cli/cutover_fixture.h"
#include "support/smtp_server.h"
#include "support/test_support.h"

namespace vmigrate::testing::safety {
namespace {

using cli::Concat;
using cli::Contents;
using cli::SourceFlags;

// The old host as the mail system sees it: the vpopmail home and qmail's
// files. The cutover record's bytes hold times; only its presence counts.
std::map<std::string, std::string> HostView(const std::string& root) {
  std::map<std::string, std::string> view;
  for (auto [rel, line] : Contents(root + kFixtureVpopmailHome)) {
    if (rel.find(".vmigrate-cutover.") != std::string::npos) line = "record";
    view["home/" + rel] = line;
  }
  for (const auto& [rel, line] : Contents(root + kFixtureQmailDir)) {
    if (rel.size() > 5 && rel.compare(rel.size() - 5, 5, ".lock") == 0) continue;  // fcntl lock files
    view["qmail/" + rel] = line;
  }
  return view;
}

std::vector<std::string> Step(const std::string& step, const std::string& root, const std::vector<std::string>& extra,
                              const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {"env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(VMIGRATE_BINARY);
  argv.insert(argv.end(), {"cutover", step, "example.com", "--no-reload"});
  return Concat(Concat(argv, SourceFlags(root)), extra);
}

class CutoverCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SmtpTestServer::Options o;
    o.domains = {"example.com", "example.org"};
    server_ = std::make_unique<SmtpTestServer>(work_.path(), o);
    ASSERT_TRUE(server_->ok()) << server_->error();
    to_ = {"--to", "127.0.0.1:" + std::to_string(server_->port())};
  }

  std::vector<std::string> ExtraFor(const std::string& step) const {
    return step == "forward" ? to_ : std::vector<std::string>{};
  }

  // A fresh old host with `before` steps done.
  std::string FreshHost(const std::string& name, const std::vector<std::string>& before) {
    std::string root = work_ / name;
    UnpackFixture("real-small", root);
    for (const auto& s : before) {
      auto r = RunCommand(Step(s, root, ExtraFor(s)));
      EXPECT_EQ(r.exit_code, 0) << s << ": " << r.err;
    }
    return root;
  }

  // Crash points the step passes, by name (VMIGRATE_CRASH_LIST).
  std::vector<std::string> Points(const std::string& step, const std::vector<std::string>& before) {
    std::string root = FreshHost("list-" + step, before);
    auto r = RunCommand(Step(step, root, ExtraFor(step), {"VMIGRATE_CRASH_LIST=1"}));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> names;
    for (const auto& line : cli::Lines(r.err))
      if (line.rfind("vmigrate: crash point ", 0) == 0) names.push_back(line);
    return names;
  }

  void CrashEverywhere(const std::string& step, const std::vector<std::string>& before) {
    const auto original = HostView(FreshHost("original-" + step, {}));
    const auto done = HostView(FreshHost("done-" + step, Concat(before, {step})));
    const auto points = Points(step, before);
    ASSERT_GE(points.size(), 3u) << step;
    for (size_t n = 1; n <= points.size(); ++n) {
      SCOPED_TRACE(step + " killed at " + points[n - 1]);
      for (const std::string then : {"again", "release"}) {
        std::string root = FreshHost(step + "-" + std::to_string(n) + "-" + then, before);
        auto killed = RunCommand(Step(step, root, ExtraFor(step), {"VMIGRATE_CRASH_AT=" + std::to_string(n)}));
        ASSERT_NE(killed.exit_code, 0) << killed.err;
        if (then == "again") {
          auto r = RunCommand(Step(step, root, ExtraFor(step)));
          ASSERT_EQ(r.exit_code, 0) << r.err;
          EXPECT_EQ(cli::DigestDiff(done, HostView(root)), "");
        } else {
          auto r = RunCommand(Step("release", root, {}));
          ASSERT_EQ(r.exit_code, 0) << r.err;
          EXPECT_EQ(cli::DigestDiff(original, HostView(root)), "");
        }
      }
    }
  }

  TempDir work_;
  std::unique_ptr<SmtpTestServer> server_;
  std::vector<std::string> to_;
};

TEST_F(CutoverCrashTest, Hold) { CrashEverywhere("hold", {}); }
TEST_F(CutoverCrashTest, Forward) { CrashEverywhere("forward", {"hold"}); }
TEST_F(CutoverCrashTest, Release) { CrashEverywhere("release", {"hold", "forward"}); }

}  // namespace
}  // namespace vmigrate::testing::safety
