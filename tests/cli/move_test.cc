// `vmigrate move` end to end over a real OpenSSH server on 127.0.0.1: the
// old host is real-small unpacked under one --root, the "new host" an empty
// target tree under another, reached as USER@127.0.0.1 with the remote
// vmigrate pointed at it by --target-root/--target-vpopmail-home/
// --target-qmail-dir and --remote-vmigrate (the build's binary).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "cli/delta_fixture.h"
#include "support/smtp_server.h"
#include "cutover/move_record.h"
#include "support/sshd_server.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

// A listener on 127.0.0.1 that greets every connection with "220" and
// closes: enough for the dry run's SMTP check (the forward's full SMTP
// dialogue is the cutover tests' business).
class GreetingServer {
 public:
  GreetingServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) break;
        (void)!write(c, "220 new.test ESMTP\r\n", 20);
        close(c);
      }
    });
  }
  ~GreetingServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class MoveCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(HaveOpenSsh()) << "openssh-server not installed (scripts/install-deps installs it)";
    sshd_ = std::make_unique<SshdServer>();
    ASSERT_TRUE(sshd_->ok()) << sshd_->error();
    UnpackFixture("real-small", src_.path());
    ASSERT_FALSE(HasFatalFailure());
    MakeEmptyTarget(dst_.path());
  }

  // move example.com --to USER@127.0.0.1 with this test's ssh and trees.
  std::vector<std::string> MoveArgs(const std::vector<std::string>& extra) const {
    std::vector<std::string> a = {"move", "example.com", "--to", sshd_->destination(), "--ssh-command",
                                  sshd_->ssh_command(), "--remote-vmigrate", VMIGRATE_BINARY,
                                  "--target-root", dst_.path(), "--target-vpopmail-home", kTargetHome,
                                  "--target-qmail-dir", kTargetQmail};
    a = Concat(a, SourceFlags(src_.path()));
    return Concat(a, extra);
  }
  std::string MoveDirDisk() const { return SourceHomeDisk(src_.path()) + "/domains/.vmigrate-move.example.com"; }

  std::unique_ptr<SshdServer> sshd_;
  TempDir src_, dst_, work_;
};

TEST_F(MoveCliTest, DryRunChecksAndChangesNothing) {
  GreetingServer smtp;
  ASSERT_GT(smtp.port(), 0);
  auto src_before = TreeDigest(src_.path());
  auto dst_before = TreeDigest(dst_.path());
  CommandResult r = RunVmigrate(MoveArgs({"--dry-run", "--smtp-port", std::to_string(smtp.port())}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ssh to " + sshd_->destination() + " works, vmigrate " VMIGRATE_VERSION " there"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("example.com is here and not on 127.0.0.1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("127.0.0.1:" + std::to_string(smtp.port()) + " answers SMTP"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("plan: forward:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dry run: checks passed; nothing was changed"), std::string::npos) << r.out;
  EXPECT_EQ(DigestDiff(src_before, TreeDigest(src_.path())), "");
  EXPECT_EQ(DigestDiff(dst_before, TreeDigest(dst_.path())), "");

  // --json: one object per line, each with its "type".
  CommandResult j = RunVmigrate(MoveArgs({"--dry-run", "--json", "--smtp-port", std::to_string(smtp.port())}));
  ASSERT_EQ(j.exit_code, 0) << j.err;
  for (const auto& line : Lines(j.out)) {
    WriteFile(work_ / "event.json", line);
    CommandResult q = RunCommand({"jq", "-e", ".type", work_ / "event.json"});
    EXPECT_EQ(q.exit_code, 0) << line;
  }
  EXPECT_NE(j.out.find("{\"schema\":1,\"type\":\"step\",\"step\":\"check\",\"check\":\"ssh\""), std::string::npos) << j.out;
}

TEST_F(MoveCliTest, DryRunUnreachableHostIsExit10WithOneLine) {
  auto words = sshd_->ssh_words();
  for (size_t i = 0; i + 1 < words.size(); ++i)
    if (words[i] == "-p") words[i + 1] = "1";
  std::string cmd;
  for (const auto& w : words) cmd += w + " ";
  std::vector<std::string> args = MoveArgs({"--dry-run"});
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--ssh-command") args[i + 1] = cmd;
  CommandResult r = RunVmigrate(args);
  EXPECT_EQ(r.exit_code, 10) << r.err;
  ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("vmigrate: move: example.com: check: 127.0.0.1: ssh failed: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("Connection refused"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(MoveDirDisk()));
}

TEST_F(MoveCliTest, TargetAlreadyHasTheDomainIsExit5) {
  std::string archive = work_ / "full.vma";
  ASSERT_EQ(Export(src_.path(), "example.com", archive).exit_code, 0);
  CommandResult i = Import(dst_.path(), archive);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  auto dst_before = TreeDigest(dst_.path());
  for (bool dry : {true, false}) {
    CommandResult r = RunVmigrate(MoveArgs(dry ? std::vector<std::string>{"--dry-run"} : std::vector<std::string>{}));
    EXPECT_EQ(r.exit_code, 5) << r.err;
    ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find("127.0.0.1 already has example.com"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(MoveDirDisk()));
  }
  EXPECT_EQ(DigestDiff(dst_before, TreeDigest(dst_.path())), "");
}

TEST_F(MoveCliTest, ASecondMoveWhileOneIsRecordedIsRefused) {
  MoveRecord rec;
  rec.move_id = "00ff";
  rec.domain = "example.com";
  rec.target = sshd_->destination();
  rec.done = MoveStep::kBlockLogins;
  ASSERT_TRUE(WriteMoveRecord(MoveDirDisk(), rec).ok());
  CommandResult r = RunVmigrate(MoveArgs({}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err, "vmigrate: move: example.com: a move to " + sshd_->destination() +
                       " is under way (block-logins done): continue it with --resume or undo it with --abort\n");
  ASSERT_TRUE(RemoveMoveDir(MoveDirDisk()).ok());
  CommandResult nothing = RunVmigrate(MoveArgs({"--abort"}));
  EXPECT_EQ(nothing.exit_code, 7) << nothing.err;
  EXPECT_NE(nothing.err.find("example.com: no move to abort"), std::string::npos) << nothing.err;
}


class MoveEndToEndTest : public MoveCliTest {
 protected:
  void SetUp() override {
    MoveCliTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    SmtpTestServer::Options o;
    o.domains = {"example.com", "example.org"};
    smtp_ = std::make_unique<SmtpTestServer>(work_.path(), o);
    ASSERT_TRUE(smtp_->ok()) << smtp_->error();
  }
  std::vector<std::string> Args(std::vector<std::string> extra) const {
    return MoveArgs(Concat({"--smtp-port", std::to_string(smtp_->port())}, extra));
  }
  std::string StateDigest(const std::vector<std::string>& flags, const std::string& name) {
    CommandResult s = RunVmigrate(Concat({"state", "example.com", "-o", work_ / name, "--json", "--force"}, flags));
    EXPECT_EQ(s.exit_code, 0) << s.err;
    size_t at = s.out.find("\"digest\":\"");
    return at == std::string::npos ? "" : s.out.substr(at + 10, 64);
  }
  std::unique_ptr<SmtpTestServer> smtp_;
};

TEST_F(MoveEndToEndTest, MovesTheDomainAndForwardsIt) {
  CommandResult r = RunVmigrate(Args({"--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* step : {"\"step\":\"full\"", "\"step\":\"block-logins\"", "\"step\":\"round\"",
                           "\"step\":\"hold\"", "\"step\":\"final\"", "\"step\":\"verify\"",
                           "\"step\":\"forward\"", "\"step\":\"tail\"", "\"step\":\"open-logins\"",
                           "\"type\":\"summary\"", "\"hold_window_seconds\":"})
    EXPECT_NE(r.out.find(step), std::string::npos) << step << "\n" << r.out;
  // The new host has what the old one has (the unlocked view on both).
  std::string here = StateDigest(SourceFlags(src_.path()), "here.state");
  EXPECT_EQ(StateDigest(TargetFlags(dst_.path()), "there.state"), here);
  // Logins open there again.
  EXPECT_FALSE(std::filesystem::exists(TargetDomainDisk(dst_.path()) + "/.vmigrate-login-lock"));
  // Forwarded here; the move record is gone.
  std::string routes = ReadFile(src_.path() + kFixtureQmailDir + "/control/smtproutes");
  EXPECT_NE(routes.find("example.com:127.0.0.1:" + std::to_string(smtp_->port())), std::string::npos) << routes;
  EXPECT_FALSE(std::filesystem::exists(MoveDirDisk()));
}

// SIGKILL the move once the record says the rounds are done (or later),
// then --resume finishes it; and a move killed after its full copy is
// undone on both hosts by --abort.
TEST_F(MoveEndToEndTest, ResumeAfterKillAndAbortRestoresBothSides) {
  auto domain_before = TreeDigest(SourceDomainDisk(src_.path()));
  std::vector<std::string> args = Concat({VMIGRATE_BINARY}, Args({}));
  // Kills the move once its record's last finished step is one of
  // `done_lines`. A step can be short (the local `cutover hold` after the
  // rounds takes milliseconds), so the poll is tight and a later step
  // before the forward counts too: the resume test holds from any of them.
  auto KillWhen = [&](const std::vector<std::string>& done_lines) {
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0), dup2(null, 1), dup2(null, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    bool seen = false;
    for (int i = 0; i < 6000 && !seen; ++i) {
      const std::string record = ReadFile(MoveDirDisk() + "/record");
      for (const auto& line : done_lines) seen = seen || record.find(line) != std::string::npos;
      if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    return seen;
  };
  ASSERT_TRUE(KillWhen({"done\tfull\n"}));
  CommandResult again = RunVmigrate(Args({}));
  EXPECT_EQ(again.exit_code, 5) << again.err;  // a move is recorded: resume or abort
  CommandResult abort = RunVmigrate(Args({"--abort"}));
  ASSERT_EQ(abort.exit_code, 0) << abort.out << abort.err;
  EXPECT_FALSE(std::filesystem::exists(MoveDirDisk()));
  EXPECT_FALSE(std::filesystem::exists(TargetDomainDisk(dst_.path())));
  EXPECT_EQ(ReadFile(TargetQmailDisk(dst_.path()) + "/users/assign").find("example.com"), std::string::npos);
  EXPECT_EQ(DigestDiff(domain_before, TreeDigest(SourceDomainDisk(src_.path()))), "");
  std::string here = StateDigest(SourceFlags(src_.path()), "after-abort.state");

  ASSERT_TRUE(KillWhen({"done\trounds\n", "done\thold\n", "done\tfinal\n", "done\tverify\n"}));
  CommandResult resumed = RunVmigrate(Args({"--resume"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("moved example.com to " + sshd_->destination()), std::string::npos) << resumed.out;
  EXPECT_EQ(StateDigest(TargetFlags(dst_.path()), "there.state"), here);
  EXPECT_FALSE(std::filesystem::exists(MoveDirDisk()));
  // After the forward, abort has nothing to undo (the record is gone).
  CommandResult late = RunVmigrate(Args({"--abort"}));
  EXPECT_EQ(late.exit_code, 7) << late.err;
}

}  // namespace
}  // namespace vmigrate::testing::cli
