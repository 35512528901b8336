// The ssh runner of `vmigrate move` (cutover/remote.h), the pipeline it runs
// on (core/subprocess.h), the move record and the checks between steps.
// The quoting is checked with a real /bin/sh, which parses the remote
// command line the way the remote user's shell does; the ssh runs go to a
// real sshd (support/sshd_server.h).
#include <gtest/gtest.h>

#include <fstream>

#include "core/exit_code.h"
#include "core/subprocess.h"
#include "cutover/move_record.h"
#include "cutover/move_support.h"
#include "cutover/remote.h"
#include "support/sshd_server.h"
#include "support/test_support.h"

namespace vmigrate {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// Hostile words: blanks, both quotes, $, ;, backquotes, globs, a newline.
const std::vector<std::string> kHostile = {
    "plain", "two words", "it's", "\"dq\"", "$HOME", "a;rm -rf /tmp/x", "`id`", "*", "", "line\nbreak",
    "'''", "\\", "-n"};

TEST(ShellQuoteTest, EveryWordSingleQuoted) {
  EXPECT_EQ(ShellQuote("abc"), "'abc'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellCommandLine({"vmigrate", "import", "-"}), "'vmigrate' 'import' '-'");
}

TEST(ShellQuoteTest, ShellSeesExactlyTheWords) {
  // printf '%s\0' prints every argument it got, NUL-terminated.
  std::vector<std::string> words = {"printf", "%s\\0"};
  words.insert(words.end(), kHostile.begin(), kHostile.end());
  auto r = RunProcess({"/bin/sh", "-c", ShellCommandLine(words)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->exit_code, 0) << r->LastErrLine();
  std::string expected;
  for (const auto& w : kHostile) expected += w + std::string(1, '\0');
  EXPECT_EQ(r->out, expected);
}

TEST(SshTargetTest, SplitsTheCommandAndChecksTheDestination) {
  auto t = MakeSshTarget("ssh  -p 2222 -o BatchMode=yes", "root@new.example.com");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->ssh_command, (std::vector<std::string>{"ssh", "-p", "2222", "-o", "BatchMode=yes"}));
  EXPECT_EQ(t->host(), "new.example.com");
  EXPECT_EQ(SshArgv(*t, {"vmigrate", "state", "a b"}),
            (std::vector<std::string>{"ssh", "-p", "2222", "-o", "BatchMode=yes", "--", "root@new.example.com",
                                      "'vmigrate' 'state' 'a b'"}));
  auto d = MakeSshTarget("", "new");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ssh_command, std::vector<std::string>{"ssh"});
  EXPECT_EQ(d->host(), "new");
  for (const char* bad : {"", "-oProxyCommand=touch /tmp/x", "a b", "user@"}) {
    auto b = MakeSshTarget("ssh", bad);
    EXPECT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.status().code(), Status::Code::kInvalidInput) << bad;
  }
}

TEST(RemoteStatusTest, NamesTheHostAndTheLine) {
  auto t = *MakeSshTarget("ssh", "root@new");
  StageResult r;
  r.exit_code = 255;
  r.err_lines = {"ssh: connect to host new port 22: Connection refused", ""};
  Status s = RemoteStatus(t, "vmigrate import", r);
  EXPECT_EQ(s.code(), Status::Code::kRemoteFailed);
  EXPECT_EQ(s.message(), "new: ssh failed: ssh: connect to host new port 22: Connection refused");
  EXPECT_EQ(ToExit(s), Exit::kRemoteFailed);
  r.exit_code = 1;
  r.err_lines = {"vmigrate: import: example.com: disk full"};
  EXPECT_EQ(RemoteStatus(t, "vmigrate import", r).message(),
            "new: vmigrate import failed (exit 1): vmigrate: import: example.com: disk full");
  r.exit_code = 0;
  EXPECT_TRUE(RemoteStatus(t, "vmigrate import", r).ok());
}

TEST(PipelineTest, StreamsBetweenStagesAndCapturesEachStderr) {
  TempDir dir;
  // 8 MiB through two stages: more than any pipe buffer, so both must run at once.
  auto r = RunPipeline({{"sh", "-c", "head -c 8388608 /dev/zero; echo first-err >&2"},
                        {"sh", "-c", "wc -c; echo second-err >&2; exit 3"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].exit_code, 0);
  EXPECT_EQ((*r)[0].LastErrLine(), "first-err");
  EXPECT_EQ((*r)[1].exit_code, 3);
  EXPECT_EQ((*r)[1].LastErrLine(), "second-err");
  EXPECT_EQ(std::stoul((*r)[1].out), 8388608u);
}

TEST(PipelineTest, ReportsACommandThatCannotRunAndKeepsStdoutBounded) {
  auto r = RunProcess({"/nonexistent/program", "x"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 127);
  EXPECT_NE(r->LastErrLine().find("cannot run /nonexistent/program"), std::string::npos) << r->LastErrLine();
  PipelineOptions opt;
  opt.max_stdout = 10;
  auto big = RunProcess({"head", "-c", "100000", "/dev/zero"}, opt);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->exit_code, 0);
  EXPECT_EQ(big->out.size(), 10u);
  EXPECT_TRUE(big->out_truncated);
  auto killed = RunProcess({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->exit_code, -1);
  EXPECT_EQ(killed->signal, 9);
}

TEST(MoveRecordTest, RoundTripsAndRefusesGarbage) {
  TempDir dir;
  const std::string d = dir / ".vmigrate-move.example.com";
  EXPECT_EQ(ReadMoveRecord(d).status().code(), Status::Code::kNotFound);
  MoveRecord r;
  r.move_id = *NewMoveId();
  EXPECT_EQ(r.move_id.size(), 32u);
  EXPECT_NE(r.move_id, *NewMoveId());
  r.domain = "example.com";
  r.target = "root@new";
  r.done = MoveStep::kHold;
  r.full_started = true;
  r.rounds = 2;
  r.state = "state.3";
  r.pending = "state.4";
  r.started = 1700000000;
  r.hold_time = 1700000100;
  r.transfers = {{"full", 1000, 10, 1.5}, {"round", 20, 1, 0.25}};
  ASSERT_TRUE(WriteMoveRecord(d, r).ok());
  auto back = ReadMoveRecord(d);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->move_id, r.move_id);
  EXPECT_EQ(back->done, MoveStep::kHold);
  EXPECT_TRUE(back->full_started);
  EXPECT_EQ(back->rounds, 2);
  EXPECT_EQ(back->state, "state.3");
  EXPECT_EQ(back->pending, "state.4");
  EXPECT_EQ(back->hold_time, 1700000100);
  EXPECT_EQ(back->forward_time, 0);
  ASSERT_EQ(back->transfers.size(), 2u);
  EXPECT_EQ(back->transfers[1].label, "round");
  EXPECT_EQ(back->transfers[1].bytes, 20u);
  EXPECT_DOUBLE_EQ(back->transfers[1].seconds, 0.25);
  WriteFile(d + "/record", ReadFile(d + "/record") + "done\tteleport\n");
  auto bad = ReadMoveRecord(d);
  EXPECT_EQ(bad.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(bad.status().message().find("line 15: unknown step 'teleport'"), std::string::npos)
      << bad.status().message();
  ASSERT_TRUE(RemoveMoveDir(d).ok());
  EXPECT_EQ(ReadMoveRecord(d).status().code(), Status::Code::kNotFound);
}

TEST(MoveSupportTest, ChildStatusKeepsTheChildsExitCode) {
  StageResult r;
  r.exit_code = 9;
  r.err_lines = {"vmigrate: cutover: example.com: new:25 answered 553 to RCPT TO"};
  Status s = ChildStatus("vmigrate cutover forward", r);
  EXPECT_EQ(ToExit(s), Exit::kPeerRefused);
  EXPECT_EQ(s.message(), "vmigrate cutover forward failed (exit 9): example.com: new:25 answered 553 to RCPT TO");
  r.exit_code = 7;
  EXPECT_EQ(ToExit(ChildStatus("x", r)), Exit::kNotFound);
  r.exit_code = 0;
  EXPECT_TRUE(ChildStatus("x", r).ok());
}

TEST(MoveSupportTest, VersionsMustShareMajorMinor) {
  std::string ours = std::string("vmigrate ") + VMIGRATE_VERSION;
  EXPECT_TRUE(CheckCompatibleVersion("new", ours + "\n").ok());
  Status other = CheckCompatibleVersion("new", "vmigrate 99.1.0");
  EXPECT_EQ(other.code(), Status::Code::kRemoteFailed);
  EXPECT_NE(other.message().find("new: vmigrate 99.1.0 there is not compatible"), std::string::npos)
      << other.message();
  EXPECT_EQ(CheckCompatibleVersion("new", "bash: vmigrate: command not found").code(),
            Status::Code::kRemoteFailed);
}

TEST(MoveSupportTest, StateFileDigestIsTheLastLine) {
  TempDir dir;
  std::string digest(64, 'a');
  WriteFile(dir / "s", "vmigrate-state 1\nsection\tfiles\nend-domain\tx\t" + std::string(64, 'b') +
                           "\ndigest\t" + digest + "\n");
  auto d = StateFileDigest(dir / "s");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(*d, digest);
  WriteFile(dir / "cut", "vmigrate-state 1\nsection\tfiles\n");
  EXPECT_EQ(StateFileDigest(dir / "cut").status().code(), Status::Code::kCorrupt);
  EXPECT_EQ(StateFileDigest(dir / "none").status().code(), Status::Code::kNotFound);
}

TEST(MoveSupportTest, SmtpCheckRefusesAClosedPort) {
  // Port 1 on the loopback: nothing listens there in a test sandbox.
  Status s = CheckSmtpGreeting("127.0.0.1", 1);
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_NE(s.message().find("127.0.0.1:1: cannot connect for SMTP"), std::string::npos) << s.message();
}

class SshdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::HaveOpenSsh()) GTEST_SKIP() << "openssh-server not installed (scripts/install-deps)";
    server_ = std::make_unique<testing::SshdServer>();
    ASSERT_TRUE(server_->ok()) << server_->error();
  }
  std::unique_ptr<testing::SshdServer> server_;
};

TEST_F(SshdTest, RunsARemoteCommandAndStreamsThroughIt) {
  auto t = MakeSshTarget(server_->ssh_command(), server_->destination());
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto r = RunProcess(SshArgv(*t, {"true"}));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(RemoteStatus(*t, "true", *r).ok()) << RemoteStatus(*t, "true", *r).message();
  // 4 MiB through ssh: `head | ssh HOST sh -c 'wc -c'`, streamed.
  auto piped = RunPipeline({{"head", "-c", "4194304", "/dev/urandom"}, SshArgv(*t, {"wc", "-c"})});
  ASSERT_TRUE(piped.ok());
  ASSERT_EQ((*piped)[1].exit_code, 0) << (*piped)[1].LastErrLine();
  EXPECT_EQ(std::stoul((*piped)[1].out), 4194304u);
  // The hostile words arrive intact on the other side.
  std::vector<std::string> words = {"printf", "%s\\0"};
  words.insert(words.end(), kHostile.begin(), kHostile.end());
  auto echoed = RunProcess(SshArgv(*t, words));
  ASSERT_TRUE(echoed.ok());
  std::string expected;
  for (const auto& w : kHostile) expected += w + std::string(1, '\0');
  EXPECT_EQ(echoed->out, expected);
  // The remote command's own failure: its exit code and line, not ssh's.
  auto failed = RunProcess(SshArgv(*t, {"sh", "-c", "echo it broke >&2; exit 7"}));
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->exit_code, 7);
  EXPECT_EQ(RemoteStatus(*t, "vmigrate state", *failed).message(),
            "127.0.0.1: vmigrate state failed (exit 7): it broke");
}

TEST_F(SshdTest, UnreachableHostIsRemoteFailed) {
  auto words = server_->ssh_words();
  // Same key and options, a port where no sshd listens.
  for (size_t i = 0; i + 1 < words.size(); ++i)
    if (words[i] == "-p") words[i + 1] = "1";
  std::string cmd;
  for (const auto& w : words) cmd += w + " ";
  auto t = MakeSshTarget(cmd, server_->destination());
  ASSERT_TRUE(t.ok());
  auto r = RunProcess(SshArgv(*t, {"true"}));
  ASSERT_TRUE(r.ok());
  Status s = RemoteStatus(*t, "true", *r);
  EXPECT_EQ(s.code(), Status::Code::kRemoteFailed);
  EXPECT_EQ(s.message().rfind("127.0.0.1: ssh failed: ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("Connection refused"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vmigrate
