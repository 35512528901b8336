// End to end (issue 15, items 3 and 6): every error is one line,
// "vmigrate: <command>: <object>: <what failed>: <cause>", that names the
// real cause (libarchive's format detection, the errno text) and its object
// once; the argument parser follows the same rule; progress and --max-rate
// count what they say; Ctrl-C during export is a clean "interrupted".
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"

namespace vmigrate::testing::cli {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The one error line of a failed run.
void ExpectOneLine(const CommandResult& r) {
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("vmigrate: ", 0), 0u) << r.err;
}

class ErrorsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
  }

  std::string ExportOf(const std::string& compression) {
    std::string out = work_ / ("example." + compression);
    CommandResult e = Export(src_.path(), "example.com", out, {"--compress", compression});
    EXPECT_EQ(e.exit_code, 0) << e.err;
    return out;
  }

  TempDir src_, dst_, work_;
};

TEST_F(ErrorsCliTest, TextFileIsNotATarArchiveNotEmptyInput) {
  std::string text;
  while (text.size() < 22 * 1024) text += "Subject: notes of the migration meeting, line " + std::to_string(text.size()) + "\n";
  std::string path = work_ / "notes.txt";
  WriteFile(path, text);
  for (const char* command : {"import", "inspect"}) {
    CommandResult r = std::string(command) == "import" ? Import(dst_.path(), path)
                                                        : RunVmigrate({"inspect", path});
    EXPECT_EQ(r.exit_code, 6) << r.err;
    EXPECT_EQ(r.err, "vmigrate: " + std::string(command) + ": " + path +
                         ": not a vmigrate archive: not a tar archive (text file)\n");
  }
  CommandResult in = Import(dst_.path(), "-", {}, path);
  EXPECT_EQ(in.err, "vmigrate: import: <stdin>: not a vmigrate archive: not a tar archive (text file)\n");
}

TEST_F(ErrorsCliTest, ZipFileIsNamedAsAZipFile) {
  std::string zip = work_ / "mail.zip";
  WriteFile(work_ / "a.txt", "hello\n");
  CommandResult z = RunCommand({"python3", "-c",
                                "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.write(sys.argv[2], 'a.txt')",
                                zip, work_ / "a.txt"});
  if (z.exit_code != 0) GTEST_SKIP() << "python3 cannot write a zip file here: " << z.err;
  CommandResult r = Import(dst_.path(), zip);
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_EQ(r.err, "vmigrate: import: " + zip + ": not a vmigrate archive: not a tar archive (zip file)\n");
  CommandResult i = RunVmigrate({"inspect", zip});
  EXPECT_EQ(i.err, "vmigrate: inspect: " + zip + ": not a vmigrate archive: not a tar archive (zip file)\n");
}

TEST_F(ErrorsCliTest, TruncatedZstdArchiveIsTruncatedNotForeign) {
  std::string bytes = ReadFile(ExportOf("zstd"));
  std::string cut = work_ / "cut.tar.zst";
  WriteFile(cut, bytes.substr(0, bytes.size() / 2));
  for (const std::string& archive : {cut, std::string("-")}) {
    CommandResult r = Import(dst_.path(), archive, {}, archive == "-" ? cut : "");
    EXPECT_EQ(r.exit_code, 6) << r.err;
    ExpectOneLine(r);
    EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("not a vmigrate archive"), std::string::npos) << r.err;
  }
}

TEST_F(ErrorsCliTest, DirectoryGivenAsTheArchiveIsADirectory) {
  CommandResult r = Import(dst_.path(), work_.path());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "vmigrate: import: " + work_.path() + ": cannot read: Is a directory\n");
  CommandResult i = RunVmigrate({"inspect", work_.path()});
  EXPECT_EQ(i.err, "vmigrate: inspect: " + work_.path() + ": cannot read: Is a directory\n");
}

TEST_F(ErrorsCliTest, ObjectIsNamedOnce) {
  std::string missing = work_ / "a.tar.zst";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"inspect", missing}, Concat({"verify", missing}, TargetFlags(dst_.path())),
        Concat({"import", missing, "--no-reload"}, TargetFlags(dst_.path()))}) {
    CommandResult r = RunVmigrate(args);
    EXPECT_EQ(r.exit_code, 7) << r.err;
    ExpectOneLine(r);
    EXPECT_EQ(Count(r.err, "a.tar.zst"), 1u) << r.err;
    EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
  }
}

TEST_F(ErrorsCliTest, BatchFailureIsPrintedOnce) {
  std::string good = ExportOf("zstd");
  std::string bad = work_ / "bad.tar.zst";
  WriteFile(bad, std::string(3000, 'x'));
  CommandResult r = Import(dst_.path(), good, {bad});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.err, "vmigrate: import: " + bad + ": not a vmigrate archive: not a tar archive (text file)\n");
  EXPECT_EQ(Count(r.out + r.err, "not a vmigrate archive"), 1u) << r.out << r.err;
  EXPECT_TRUE(HasLine(r.out, "FAILED   " + bad + " from " + bad + " (exit 6)")) << r.out;
}

// Run as nobody: root may enter any directory, an admin's account may not.
TEST_F(ErrorsCliTest, UnreadableDomainDirectorySaysPermissionDenied) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run vmigrate as nobody";
  if (RunCommand({"setpriv", "--version"}).exit_code != 0) GTEST_SKIP() << "setpriv(1) is not installed";
  // nobody reaches users/assign and domains/, not into the domain (0700, uid 89).
  for (const std::string& dir : {src_.path(), SourceHomeDisk(src_.path()), SourceHomeDisk(src_.path()) + "/domains"})
    chmod(dir.c_str(), 0755);
  std::string domain_dir = SourceHomeDisk(src_.path()) + "/domains/example.com";
  chmod(domain_dir.c_str(), 0700);
  chmod(work_.path().c_str(), 0777);
  std::string good = ExportOf("zstd");
  chmod(good.c_str(), 0644);
  auto as_nobody = [&](std::vector<std::string> args) {
    return RunCommand(Concat({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", VMIGRATE_BINARY}, args));
  };
  for (const std::vector<std::string>& args :
       {Concat({"export", "example.com", "-o", work_ / "x.tar.zst"}, SourceFlags(src_.path())),
        Concat({"state", "example.com", "-o", work_ / "x.state"}, SourceFlags(src_.path())),
        Concat({"verify", good}, SourceFlags(src_.path()))}) {
    CommandResult r = as_nobody(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    ExpectOneLine(r);
    EXPECT_NE(r.err.find(": Permission denied"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("does not exist"), std::string::npos) << r.err;
    EXPECT_EQ(Count(r.err, "example.com: example.com"), 0u) << r.err;
  }
  EXPECT_FALSE(fs::exists(work_ / "x.tar.zst"));
}

// A small tmpfs in a mount namespace of its own: gone with the process.
TEST_F(ErrorsCliTest, FullDiskDuringExportSaysNoSpaceLeftOnTheOutput) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  fs::create_directories(work_ / "full");
  std::string out = work_ / "full/example.tar";
  std::string cmd = "mount -t tmpfs -o size=16k tmpfs '" + work_ / "full" + "' || exit 99; '" + VMIGRATE_BINARY +
                    "' export example.com -o '" + out + "' --compress none";
  for (const auto& f : SourceFlags(src_.path())) cmd += " '" + f + "'";
  cmd += "; rc=$?; ls -A '" + work_ / "full" + "'; exit $rc";
  CommandResult r = RunCommand({"unshare", "-m", "sh", "-c", cmd});
  if (r.exit_code == 99) GTEST_SKIP() << "cannot mount a tmpfs here: " << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ExpectOneLine(r);
  EXPECT_EQ(r.err.rfind("vmigrate: export: " + out + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(": No space left on device"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("user"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "") << "left in the full file system: " << r.out;
}

TEST_F(ErrorsCliTest, ParserErrorsAreOneLineWithTheCommandAndExitTwo) {
  CommandResult r = RunVmigrate({"import", "x.tar.zst", "--owner"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "vmigrate: import: --owner: 1 required USER[:GROUP] missing; see vmigrate import --help\n");
  CommandResult c = RunVmigrate({"export", "example.com", "-o", work_ / "x", "--compress", "xz"});
  EXPECT_EQ(c.exit_code, 2);
  EXPECT_EQ(c.err.rfind("vmigrate: export: --compress: xz not in {zstd,gzip,none}", 0), 0u) << c.err;
  ExpectOneLine(c);
  CommandResult none = RunVmigrate({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err.rfind("vmigrate: missing command (one of: export, import,", 0), 0u) << none.err;
}

TEST_F(ErrorsCliTest, UnknownCommandSuggestsTheNearest) {
  CommandResult r = RunVmigrate({"exprot", "example.com"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "vmigrate: unknown command 'exprot'; did you mean 'export'? (see vmigrate --help)\n");
  CommandResult sub = RunVmigrate({"cutover", "hodl", "example.com"});
  EXPECT_EQ(sub.exit_code, 2);
  EXPECT_EQ(sub.err,
            "vmigrate: cutover: unknown command 'hodl'; did you mean 'hold'? (see vmigrate cutover --help)\n");
}

TEST_F(ErrorsCliTest, HelpCommandPrintsWhatHelpFlagPrints) {
  for (const std::vector<std::string>& words :
       {std::vector<std::string>{}, {"export"}, {"import"}, {"cutover"}, {"cutover", "forward"}}) {
    CommandResult help = RunVmigrate(Concat({"help"}, words));
    CommandResult flag = RunVmigrate(Concat(words, {"--help"}));
    EXPECT_EQ(help.exit_code, 0) << help.err;
    EXPECT_EQ(flag.exit_code, 0) << flag.err;
    EXPECT_EQ(help.out, flag.out);
    EXPECT_EQ(help.err, "");
  }
  EXPECT_EQ(RunVmigrate({"help", "nosuch"}).exit_code, 2);
}

TEST_F(ErrorsCliTest, HelpShowsTheProgramNamePlaceholdersAndDefaults) {
  for (const char* command : {"export", "import", "inspect", "verify", "state", "move", "cutover"}) {
    CommandResult h = RunVmigrate({command, "--help"});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find(std::string("Usage: vmigrate ") + command + " "), std::string::npos) << h.out;
    for (const char* generic : {" TEXT", " UINT", " INT", " FLOAT"})
      EXPECT_EQ(h.out.find(generic), std::string::npos) << command << " shows" << generic << ":\n" << h.out;
  }
  std::string e = RunVmigrate({"export", "--help"}).out;
  for (const char* shown : {"--root DIR=/", "--vpopmail-home DIR", "--qmail-dir DIR", "-o,--output FILE",
                            "--max-rate BYTES", "--compress METHOD=zstd", "--progress[=MODE]", "-q,--quiet"})
    EXPECT_NE(e.find(shown), std::string::npos) << shown << "\n" << e;
  std::string i = RunVmigrate({"import", "--help"}).out;
  EXPECT_NE(i.find("--vpasswd-line-max BYTES=254"), std::string::npos) << i;
  EXPECT_NE(i.find("--domain DOMAIN"), std::string::npos) << i;
}

TEST_F(ErrorsCliTest, ProgressModeAsTheNextWordOnlyWhenItIsAMode) {
  std::string archive = work_ / "e.tar.zst";
  CommandResult e = Export(src_.path(), "example.com", archive, {"--progress", "json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto lines = Lines(e.err);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().front(), '{') << e.err;
  // "json" is a mode; an archive path is not: a bare --progress leaves it.
  CommandResult i = RunVmigrate(Concat({"import", "--progress", archive, "--no-reload"}, TargetFlags(dst_.path())));
  EXPECT_EQ(i.exit_code, 0) << i.err;
}

TEST_F(ErrorsCliTest, QuietLeavesOnlyErrorsAndJson) {
  std::string archive = work_ / "e.tar.zst";
  CommandResult e = Export(src_.path(), "example.com", archive, {"-q"});
  EXPECT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out + e.err, "");
  CommandResult i = Import(dst_.path(), archive, {"--quiet"});
  EXPECT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(i.out + i.err, "");
  CommandResult j = RunVmigrate({"-q", "inspect", archive, "--json"});
  EXPECT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(j.out.front(), '{');
  CommandResult fail = Import(dst_.path(), archive, {"-q"});  // the domain is there now
  EXPECT_EQ(fail.exit_code, 5);
  ExpectOneLine(fail);
}

// The last {"event":"done",...} line of a --progress=json run.
std::string DoneLine(const std::string& err) {
  auto lines = Lines(err);
  return lines.empty() ? "" : lines.back();
}

std::uint64_t Field(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return UINT64_MAX;
  return std::stoull(json.substr(at + key.size() + 3));
}

TEST_F(ErrorsCliTest, ProgressBytesNeverExceedTheTotal) {
  std::string archive = work_ / "e.tar.zst";
  CommandResult e = Export(src_.path(), "example.com", archive, {"--progress=json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::string done = DoneLine(e.err);
  EXPECT_EQ(Field(done, "bytes_done"), Field(done, "bytes_total")) << done;
  CommandResult i = Import(dst_.path(), archive, {"--progress=json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  for (const auto& line : Lines(i.err)) EXPECT_LE(Field(line, "bytes_done"), Field(line, "bytes_total")) << line;
}

// 8094 bytes at 1000 B/s: about 8 s, long enough for the 0.25 s burst the
// limiter allows at the start to stay under 5 %.
TEST_F(ErrorsCliTest, MaxRateKeepsTheLongRunRateWithinFivePercent) {
  CommandResult e = Export(src_.path(), "example.com", work_ / "e.tar.zst", {"--progress=json", "--max-rate", "1000"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::string done = DoneLine(e.err);
  double bytes = static_cast<double>(Field(done, "bytes_done"));
  size_t at = done.find("\"elapsed_sec\":");
  ASSERT_NE(at, std::string::npos) << done;
  double seconds = std::stod(done.substr(at + 14));
  ASSERT_GT(seconds, 1.0) << done;
  EXPECT_LE(bytes / seconds, 1050.0) << done;
  EXPECT_GE(bytes / seconds, 900.0) << done;
}

TEST_F(ErrorsCliTest, InterruptedExportIsCleanLikeImport) {
  std::string out = work_ / "slow.tar.zst";
  std::vector<std::string> args =
      Concat(Concat({VMIGRATE_BINARY, "export", "example.com", "-o", out, "--max-rate", "1000"}, SourceFlags(src_.path())), {});
  std::string err_path = work_ / "err.txt";
  pid_t pid = fork();
  if (pid == 0) {
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(err, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_EQ(ReadFile(err_path), "vmigrate: export: example.com: interrupted; " + out + " was not written\n");
  for (const auto& entry : fs::directory_iterator(work_.path()))
    EXPECT_EQ(entry.path().filename(), "err.txt") << "left behind: " << entry.path();
}

}  // namespace
}  // namespace vmigrate::testing::cli
