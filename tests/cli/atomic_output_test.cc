// Outputs are written whole or not at all (issue 15, item 4), through the
// binary: an export killed with SIGKILL, SIGINT or SIGTERM, or failing half
// way, never leaves a file under the final name and never touches an
// existing one (--force replaces it only at the end); a later run removes
// the temp file a SIGKILLed run left; an archive is never written to a
// terminal; state -o follows the same rules.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "safety/safety_support.h"

namespace vmigrate::testing::cli {
namespace {

using safety::Child;
using safety::WaitFor;

class AtomicOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    // One big message, so that --max-rate makes the export take seconds.
    std::string big(1 << 20, 'x');
    WriteFile(SourceHomeDisk(src_.path()) + "/domains/example.com/alice/Maildir/cur/1700000000.1.big,S=1048576:2,S",
              "Subject: big\n\n" + big);
    archive_ = work_ / "out.tar.zst";
  }

  std::vector<std::string> SlowExportArgv(const std::vector<std::string>& extra = {}) const {
    return Concat(Concat({VMIGRATE_BINARY, "export", "example.com", "-o", archive_, "--max-rate", "200k"},
                         SourceFlags(src_.path())),
                  extra);
  }

  // Names in the output directory that look like our temp files.
  std::vector<std::string> TempFiles() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(work_.path()))
      if (e.path().filename().string().find(".vmigrate-tmp.") != std::string::npos)
        out.push_back(e.path().filename());
    return out;
  }

  // Starts a slow export and waits until its temp file exists.
  void StartAndWaitForTemp(Child* c) {
    ASSERT_TRUE(WaitFor([&]() { return !TempFiles().empty() || c->Poll(); }, 20000));
    ASSERT_FALSE(TempFiles().empty()) << "the export ended before its temp file was seen: "
                                      << c->Wait().err;
  }

  TempDir src_, work_;
  std::string archive_;
};

TEST_F(AtomicOutputTest, SigkillLeavesNoFileUnderTheFinalName) {
  {
    Child c(SlowExportArgv(), {}, work_.path());
    StartAndWaitForTemp(&c);
    c.Signal(SIGKILL);
    CommandResult r = c.Wait();
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  }
  EXPECT_FALSE(fs::exists(archive_)) << "a killed export left a file under the final name";
  // The temp file stays (nobody ran to remove it), named after the dead pid.
  std::vector<std::string> temps = TempFiles();
  ASSERT_EQ(temps.size(), 1u);
  EXPECT_EQ(temps[0].rfind(".out.tar.zst.vmigrate-tmp.", 0), 0u) << temps[0];

  // The next export to the same name removes it and succeeds.
  CommandResult again = Export(src_.path(), "example.com", archive_);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(TempFiles().empty());
  CommandResult inspect = RunVmigrate({"inspect", archive_});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
}

TEST_F(AtomicOutputTest, SigkillWithForceKeepsTheOldArchive) {
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  const std::string before = ReadFile(archive_);
  {
    Child c(SlowExportArgv({"--force"}), {}, work_.path());
    StartAndWaitForTemp(&c);
    c.Signal(SIGKILL);
    c.Wait();
  }
  EXPECT_EQ(ReadFile(archive_), before) << "--force replaced the archive before the export was complete";
}

TEST_F(AtomicOutputTest, SigintAndSigtermRemoveTheTempFile) {
  for (int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGTERM");
    Child c(SlowExportArgv(), {}, work_.path());
    StartAndWaitForTemp(&c);
    c.Signal(sig);
    CommandResult r = c.Wait();
    EXPECT_EQ(r.exit_code, 130) << r.err;
    EXPECT_FALSE(fs::exists(archive_));
    EXPECT_TRUE(TempFiles().empty()) << TempFiles()[0];
  }
}

TEST_F(AtomicOutputTest, ExportFailingHalfWayLeavesNoFileAndKeepsTheOldOne) {
  // A file-size limit makes the archive write fail with EFBIG after some
  // data went out (SIGXFSZ ignored, as an admin's ulimit -f would).
  auto limited = [&](const std::vector<std::string>& extra) {
    std::string cmd = "trap '' XFSZ; ulimit -f 64; exec \"$@\"";
    return RunCommand(Concat(Concat({"bash", "-c", cmd, "bash", VMIGRATE_BINARY, "export", "example.com", "-o",
                                     archive_, "--compress", "none"},
                                    SourceFlags(src_.path())),
                             extra));
  };
  CommandResult r = limited({});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(fs::exists(archive_)) << r.err;
  EXPECT_TRUE(TempFiles().empty());

  WriteFile(archive_, "the old archive");
  r = limited({"--force"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(ReadFile(archive_), "the old archive") << r.err;
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(AtomicOutputTest, ErrorBeforeWritingLeavesNoFile) {
  CommandResult r = Export(src_.path(), "no-such.example", archive_);
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_FALSE(fs::exists(archive_));
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(AtomicOutputTest, EachAndAllOutputsAreWrittenThroughTempFiles) {
  // A directory of --each outputs and an --all archive: complete files
  // only, no temp files, the archive mode 0600.
  fs::create_directories(work_ / "each");
  CommandResult e = RunVmigrate(Concat({"export", "--each", "example.com", "example.net", "-o", work_ / "each"},
                                       SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::vector<std::string> names;
  for (const auto& ent : fs::directory_iterator(work_ / "each")) names.push_back(ent.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"example.com.tar.zst", "example.net.tar.zst"}));
  CommandResult a = RunVmigrate(Concat({"export", "--all", "-o", archive_}, SourceFlags(src_.path())));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  struct stat st;
  ASSERT_EQ(stat(archive_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(AtomicOutputTest, ExistingOutputIsRefusedWithoutForce) {
  WriteFile(archive_, "keep me");
  CommandResult r = Export(src_.path(), "example.com", archive_);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(ReadFile(archive_), "keep me");
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(AtomicOutputTest, ASymlinkedOutputReplacesTheFileItNames) {
  ASSERT_EQ(Export(src_.path(), "example.net", work_ / "real.tar.zst").exit_code, 0);
  fs::create_symlink("real.tar.zst", archive_);
  CommandResult r = Export(src_.path(), "example.com", archive_, {"--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(archive_));
  CommandResult i = RunVmigrate({"inspect", work_ / "real.tar.zst", "--json"});
  EXPECT_NE(i.out.find("example.com"), std::string::npos) << i.out;
}

TEST_F(AtomicOutputTest, DevNullIsWrittenDirectly) {
  CommandResult r = Export(src_.path(), "example.com", "/dev/null", {"--force"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
}

// Runs `argv` on a new pseudo-terminal (python3's pty module) and returns
// what it printed there and its exit code.
CommandResult RunOnTerminal(const std::vector<std::string>& argv) {
  const char* script =
      "import os, pty, sys\n"
      "out = []\n"
      "def read(fd):\n"
      "    data = os.read(fd, 4096)\n"
      "    out.append(data)\n"
      "    return data\n"
      "status = pty.spawn(sys.argv[1:], read)\n"
      "sys.stdout.buffer.write(b''.join(out))\n"
      "sys.exit(os.waitstatus_to_exitcode(status))\n";
  return RunCommand(Concat({"python3", "-c", script}, argv));
}

TEST_F(AtomicOutputTest, ArchiveIsNeverWrittenToATerminal) {
  CommandResult r = RunOnTerminal(Concat({VMIGRATE_BINARY, "export", "example.com", "-o", "-"}, SourceFlags(src_.path())));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("vmigrate: export: -o -: refusing to write a binary archive to a terminal"), std::string::npos)
      << r.out;
  EXPECT_LT(r.out.size(), 400u) << "archive bytes reached the terminal";

  r = RunOnTerminal(Concat({VMIGRATE_BINARY, "export", "example.com", "-o", "/dev/tty", "--force"},
                           SourceFlags(src_.path())));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("/dev/tty: refusing to write a binary archive to a terminal"), std::string::npos) << r.out;

  // A pipe or file as stdout is fine, also when started from a terminal.
  CommandResult piped = RunOnTerminal(
      {"bash", "-c", std::string(VMIGRATE_BINARY) + " export example.com -o - --root " + src_.path() +
                         " --vpopmail-home " + kFixtureVpopmailHome + " --qmail-dir " + kFixtureQmailDir +
                         " | wc -c"});
  EXPECT_EQ(piped.exit_code, 0) << piped.out;
}

TEST_F(AtomicOutputTest, StateOutputIsAtomicAndCleansStaleTempFiles) {
  const std::string state = work_ / "s.state";
  // A temp file of a killed run (nobody holds its lock) is removed; one
  // that a live writer holds locked is left alone.
  const std::string stale = work_ / ".s.state.vmigrate-tmp.999999";
  const std::string live = work_ / ".s.state.vmigrate-tmp.999998";
  WriteFile(stale, "half a state");
  WriteFile(live, "being written");
  int fd = open(live.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  CommandResult s = RunVmigrate(Concat({"state", "example.com", "-o", state}, SourceFlags(src_.path())));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  close(fd);
  unlink(live.c_str());

  // Failure: no file, no temp file; an existing state stays.
  CommandResult bad = RunVmigrate(Concat({"state", "no-such.example", "-o", work_ / "bad.state"}, SourceFlags(src_.path())));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_FALSE(fs::exists(work_ / "bad.state"));
  const std::string before = ReadFile(state);
  bad = RunVmigrate(Concat({"state", "no-such.example", "-o", state, "--force"}, SourceFlags(src_.path())));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(ReadFile(state), before);
  EXPECT_TRUE(TempFiles().empty());
}

}  // namespace
}  // namespace vmigrate::testing::cli
