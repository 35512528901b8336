// SignalQmailSend / SignalQmailSendOf against a fake process table: the
// tests never read the host's /proc, so a real qmail-send running on the
// machine (where admins run this suite) is neither counted nor signalled.
// The pids in the fake table are this test's own children, so kill() only
// ever reaches processes the test started.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "qmail/control_update.h"
#include "support/test_support.h"

namespace vmigrate::qmail {
namespace {

namespace fs = std::filesystem;
using vmigrate::testing::TempDir;
using vmigrate::testing::WriteFile;

// A child that waits for a signal; killed and reaped by the destructor.
class Child {
 public:
  Child() {
    pid_ = fork();
    if (pid_ == 0) {
      for (;;) pause();
    }
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  // The signal that ended the child, 0 if it is still running after 5 s.
  int TermSignal() {
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return WIFSIGNALED(status) ? WTERMSIG(status) : -1;
      }
      usleep(10000);
    }
    return 0;
  }
  bool Running() {
    int status = 0;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// One /proc/PID entry: cmdline (NUL-separated argv), comm, optional cwd link.
void AddProc(const std::string& proc, pid_t pid, const std::string& cmdline,
             const std::string& comm, const std::string& cwd = "") {
  std::string dir = proc + "/" + std::to_string(pid);
  fs::create_directories(dir);
  WriteFile(dir + "/cmdline", cmdline);
  WriteFile(dir + "/comm", comm + "\n");
  if (!cwd.empty()) fs::create_directory_symlink(cwd, dir + "/cwd");
}

std::string Argv(std::initializer_list<const char*> args) {
  std::string out;
  for (const char* a : args) out.append(a).push_back('\0');
  return out;
}

TEST(SignalQmailSendTest, AnEmptyProcessTableSignalsNothing) {
  TempDir proc;
  Result<int> n = SignalQmailSend(SIGHUP, proc.path());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0);
}

TEST(SignalQmailSendTest, SignalsQmailSendButNotItsSupervisorLoggerOrOthers) {
  TempDir proc;
  Child send, supervise, logger, other;
  AddProc(proc.path(), send.pid(), Argv({"qmail-send"}), "qmail-send");
  AddProc(proc.path(), supervise.pid(), Argv({"supervise", "qmail-send"}), "supervise");
  AddProc(proc.path(), logger.pid(), Argv({"qmail-send", "multilog", "t", "./main"}), "qmail-send");
  AddProc(proc.path(), other.pid(), Argv({"/usr/sbin/sshd", "-D"}), "sshd");
  fs::create_directories(proc.path() + "/self");  // not a pid: ignored
  Result<int> n = SignalQmailSend(SIGHUP, proc.path());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(send.TermSignal(), SIGHUP);
  EXPECT_TRUE(supervise.Running());
  EXPECT_TRUE(logger.Running());
  EXPECT_TRUE(other.Running());
}

// argv[0] rewritten (e.g. by a wrapper): the kernel's comm still says qmail-send.
TEST(SignalQmailSendTest, FindsQmailSendByCommWhenArgvIsRewritten) {
  TempDir proc;
  Child send;
  AddProc(proc.path(), send.pid(), Argv({"qmail: send"}), "qmail-send");
  Result<int> n = SignalQmailSend(SIGALRM, proc.path());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(send.TermSignal(), SIGALRM);
}

TEST(SignalQmailSendTest, AMissingProcessTableIsAnErrorNamingIt) {
  TempDir tmp;
  Result<int> n = SignalQmailSend(SIGHUP, tmp / "no-proc");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find(tmp / "no-proc"), std::string::npos) << n.status().message();
}

// Only the qmail-send whose working directory is this installation's queue.
TEST(SignalQmailSendTest, SignalQmailSendOfOnlyReachesThisInstallation) {
  TempDir proc, root, other;
  fs::create_directories(root / "var/qmail/queue");
  fs::create_directories(other / "var/qmail/queue");
  Child ours, theirs;
  AddProc(proc.path(), ours.pid(), Argv({"qmail-send"}), "qmail-send",
          fs::canonical(root / "var/qmail/queue").string());
  AddProc(proc.path(), theirs.pid(), Argv({"qmail-send"}), "qmail-send",
          fs::canonical(other / "var/qmail/queue").string());
  HostPaths paths;
  paths.root = root.path();
  paths.vpopmail_home = "/home/vpopmail";
  paths.qmail_dir = "/var/qmail";
  Result<int> n = SignalQmailSendOf(paths, SIGHUP, proc.path());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(ours.TermSignal(), SIGHUP);
  EXPECT_TRUE(theirs.Running());
}

}  // namespace
}  // namespace vmigrate::qmail
