#include "core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "core/strings.h"

namespace vmigrate {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

// A FILE* whose contents the test can read back.
class MemOut {
 public:
  MemOut() : file_(open_memstream(&buf_, &len_)) {}
  ~MemOut() {
    std::fclose(file_);
    std::free(buf_);
  }
  FILE* file() { return file_; }
  std::string str() {
    std::fflush(file_);
    return std::string(buf_, len_);
  }

 private:
  char* buf_ = nullptr;
  size_t len_ = 0;
  FILE* file_;
};

class ProgressTest : public ::testing::Test {
 protected:
  ProgressMeter Meter(ProgressMode mode, const std::string& verb = "export") {
    return ProgressMeter(mode, out_.file(), verb, [this] { return now_; });
  }
  // The state the exact-format tests print: a quarter of the bytes in 10 s.
  void FillQuarter(ProgressMeter* m) {
    m->SetDomain("example.com");
    m->SetTotals({17, 5000, 400 * kMiB});
    for (int i = 0; i < 3; ++i) m->UserDone();
    for (int i = 0; i < 1200; ++i) m->MessageDone();
    m->AddBytes(100 * kMiB);
    now_ = 10;
  }
  static size_t Count(const std::string& s, char c) {
    size_t n = 0;
    for (char x : s) n += x == c;
    return n;
  }

  MemOut out_;
  double now_ = 0;
};

TEST_F(ProgressTest, ParsesModeNames) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_EQ(*ParseProgressMode("", fds[1]), ProgressMode::kOff);  // a pipe is no terminal
  EXPECT_EQ(*ParseProgressMode("auto", fds[1]), ProgressMode::kOff);
  EXPECT_EQ(*ParseProgressMode("line", fds[1]), ProgressMode::kLine);
  EXPECT_EQ(*ParseProgressMode("tty", fds[1]), ProgressMode::kLine);
  EXPECT_EQ(*ParseProgressMode("JSON", fds[1]), ProgressMode::kJson);
  EXPECT_EQ(*ParseProgressMode("none", fds[1]), ProgressMode::kOff);
  EXPECT_EQ(*ParseProgressMode("off", fds[1]), ProgressMode::kOff);
  close(fds[0]);
  close(fds[1]);
}

TEST_F(ProgressTest, RejectsUnknownModeNamingIt) {
  auto r = ParseProgressMode("bars", -1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(r.status().message().find("'bars'"), std::string::npos);
}

TEST_F(ProgressTest, OffPrintsNothingAndNeverReadsTheClock) {
  int reads = 0;
  ProgressMeter m(ProgressMode::kOff, out_.file(), "export", [&] { return ++reads * 10.0; });
  m.SetTotals({1, 1, 1});
  m.UserDone();
  m.MessageDone();
  m.AddBytes(1);
  m.Finish();
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(reads, 0);
}

TEST_F(ProgressTest, NullOutputActsLikeOff) {
  ProgressMeter m(ProgressMode::kLine, nullptr, "export", [] { return 1.0; });
  m.AddBytes(1);
  m.Finish();
}

TEST_F(ProgressTest, LineModePrintsAtMostEveryQuarterSecond) {
  ProgressMeter m = Meter(ProgressMode::kLine);
  now_ = 0.1;
  m.AddBytes(1);
  EXPECT_EQ(out_.str(), "");
  now_ = 0.25;
  m.AddBytes(1);
  EXPECT_EQ(Count(out_.str(), '\r'), 1u);
  now_ = 0.4;
  m.MessageDone();
  EXPECT_EQ(Count(out_.str(), '\r'), 1u);
  now_ = 0.5;
  m.UserDone();
  EXPECT_EQ(Count(out_.str(), '\r'), 2u);
  EXPECT_EQ(Count(out_.str(), '\n'), 0u);
  m.Finish();
  EXPECT_EQ(Count(out_.str(), '\r'), 3u);
  EXPECT_TRUE(EndsWith(out_.str(), "\x1b[K\n"));
}

TEST_F(ProgressTest, LineFormatAtKnownState) {
  ProgressMeter m = Meter(ProgressMode::kLine);
  FillQuarter(&m);
  m.Finish();
  EXPECT_EQ(out_.str(),
            "\rexport example.com: users 3/17, messages 1200/5000, 100.0 MB/400.0 MB (25%), "
            "10.0 MB/s, ETA 0:30\x1b[K\n");
}

TEST_F(ProgressTest, EtaFromMessagesWhenBytesTotalUnknown) {
  ProgressMeter m = Meter(ProgressMode::kLine);
  m.SetTotals({0, 400, 0});
  for (int i = 0; i < 100; ++i) m.MessageDone();
  now_ = 10;
  m.Finish();
  EXPECT_EQ(out_.str(), "\rexport: users 0, messages 100/400 (25%), 0 B, 0 B/s, ETA 0:30\x1b[K\n");
}

TEST_F(ProgressTest, EtaUnknownWithoutTotalOrProgress) {
  {
    ProgressMeter m = Meter(ProgressMode::kLine);
    m.AddBytes(5000);
    now_ = 1;
    m.Finish();
    EXPECT_TRUE(EndsWith(out_.str(), "4.9 KB, 4.9 KB/s, ETA --\x1b[K\n")) << out_.str();
  }
  MemOut out2;
  ProgressMeter m(ProgressMode::kLine, out2.file(), "import", [this] { return now_; });
  m.SetTotals({1, 10, 1000});
  now_ = 5;
  m.Finish();  // totals known but nothing moved: rate 0
  EXPECT_TRUE(EndsWith(out2.str(), "(0%), 0 B/s, ETA --\x1b[K\n")) << out2.str();
}

TEST_F(ProgressTest, EtaShowsHoursAndStopsAtZero) {
  ProgressMeter m = Meter(ProgressMode::kLine);
  m.SetTotals({0, 3724, 0});
  m.MessageDone();
  now_ = 1;
  m.AddBytes(0);
  EXPECT_NE(out_.str().find("ETA 1:02:03"), std::string::npos) << out_.str();
  for (int i = 0; i < 4000; ++i) m.MessageDone();  // more than the estimate
  m.Finish();
  EXPECT_TRUE(EndsWith(out_.str(), "(100%), 0 B, 0 B/s, ETA 0:00\x1b[K\n")) << out_.str();
}

TEST_F(ProgressTest, LineEscapesControlBytesInDomain) {
  ProgressMeter m = Meter(ProgressMode::kLine);
  m.SetDomain("a\x1b[2Jb");
  m.Finish();
  EXPECT_NE(out_.str().find("export a\\x1b[2Jb: "), std::string::npos) << out_.str();
}

TEST_F(ProgressTest, JsonModePrintsAtMostEverySecond) {
  ProgressMeter m = Meter(ProgressMode::kJson);
  now_ = 0.5;
  m.AddBytes(1);
  EXPECT_EQ(out_.str(), "");
  now_ = 1.0;
  m.AddBytes(1);
  now_ = 1.5;
  m.AddBytes(1);
  now_ = 2.0;
  m.AddBytes(1);
  std::vector<std::string> lines = SplitLines(out_.str());
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) {
    EXPECT_TRUE(StartsWith(line, "{\"event\":\"progress\",")) << line;
    EXPECT_TRUE(EndsWith(line, "}")) << line;
    EXPECT_EQ(Count(line, '{'), 1u) << line;
    EXPECT_NE(line.find("\"eta_sec\":null"), std::string::npos) << line;
  }
  EXPECT_NE(lines[1].find("\"bytes_done\":4,"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"elapsed_sec\":2.000,"), std::string::npos) << lines[1];
}

TEST_F(ProgressTest, JsonFinishPrintsDoneWithAllKeys) {
  ProgressMeter m = Meter(ProgressMode::kJson, "import");
  FillQuarter(&m);
  m.Finish();
  EXPECT_EQ(out_.str(),
            "{\"event\":\"done\",\"verb\":\"import\",\"domain\":\"example.com\","
            "\"users_done\":3,\"users_total\":17,\"messages_done\":1200,\"messages_total\":5000,"
            "\"bytes_done\":104857600,\"bytes_total\":419430400,"
            "\"rate_bytes_per_sec\":10485760,\"elapsed_sec\":10.000,\"eta_sec\":30}\n");
}

TEST_F(ProgressTest, FinishPrintsOnceAndSilencesLaterUpdates) {
  ProgressMeter m = Meter(ProgressMode::kJson);
  m.Finish();
  now_ = 5;
  m.AddBytes(1);
  m.Finish();
  std::vector<std::string> lines = SplitLines(out_.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(StartsWith(lines[0], "{\"event\":\"done\",")) << lines[0];
}

// Mail that arrives during a run is counted done: the known total grows
// with it, so a line never reads 8.4 KB/7.9 KB (issue 15).
TEST_F(ProgressTest, CountsPastAKnownTotalTakeTheTotalAlong) {
  ProgressMeter m = Meter(ProgressMode::kJson);
  m.SetTotals({1, 1, 100});
  m.AddBytes(150);
  m.MessageDone();
  m.MessageDone();
  m.UserDone();
  m.Finish();
  std::string line = out_.str();
  EXPECT_NE(line.find("\"messages_done\":2,\"messages_total\":2"), std::string::npos) << line;
  EXPECT_NE(line.find("\"bytes_done\":150,\"bytes_total\":150"), std::string::npos) << line;
  EXPECT_NE(line.find("\"users_done\":1,\"users_total\":1"), std::string::npos) << line;
}

TEST_F(ProgressTest, AnUnknownTotalStaysUnknown) {
  ProgressMeter m = Meter(ProgressMode::kJson);
  m.AddBytes(150);
  m.Finish();
  EXPECT_NE(out_.str().find("\"bytes_done\":150,\"bytes_total\":0"), std::string::npos) << out_.str();
}

}  // namespace
}  // namespace vmigrate
