#include "support/sshd_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fcntl.h>
#include <random>
#include <thread>

namespace vmigrate::testing {
namespace {

constexpr const char* kSshd = "/usr/sbin/sshd";

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// A port nobody listens on now (sshd may still lose a race for it: the
// caller retries with another).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

}  // namespace

bool HaveOpenSsh() {
  return access(kSshd, X_OK) == 0 && access("/usr/bin/ssh", X_OK) == 0 && access("/usr/bin/ssh-keygen", X_OK) == 0;
}

std::string SshdServer::user() const {
  struct passwd* pw = getpwuid(getuid());
  return pw ? pw->pw_name : "root";
}

std::string SshdServer::destination() const { return user() + "@127.0.0.1"; }

std::vector<std::string> SshdServer::ssh_words() const {
  return {"ssh", "-F", "/dev/null", "-i", dir_ / "client_key", "-p", std::to_string(port_),
          "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
          "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"};
}

std::string SshdServer::ssh_command() const {
  std::string out;
  for (const auto& w : ssh_words()) out += (out.empty() ? "" : " ") + w;
  return out;
}

SshdServer::SshdServer() {
  if (!HaveOpenSsh()) {
    error_ = "openssh-server is not installed";
    return;
  }
  mkdir("/run/sshd", 0755);  // sshd's privilege-separation directory
  for (const char* key : {"host_key", "client_key"}) {
    auto r = RunCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmigrate-test", "-f", dir_ / key});
    if (r.exit_code != 0) {
      error_ = std::string("ssh-keygen failed: ") + r.err;
      return;
    }
  }
  WriteFile(dir_ / "authorized_keys", ReadFile(dir_ / "client_key.pub"));
  chmod((dir_ / "authorized_keys").c_str(), 0600);
  for (int attempt = 0; attempt < 10; ++attempt) {
    port_ = FreePort();
    std::string config = "ListenAddress 127.0.0.1\nPort " + std::to_string(port_) + "\nHostKey " +
                         (dir_ / "host_key") + "\nPidFile " + (dir_ / "sshd.pid") + "\nAuthorizedKeysFile " +
                         (dir_ / "authorized_keys") +
                         "\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                         "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nLogLevel ERROR\n";
    if (getuid() == 0) config += "PermitRootLogin prohibit-password\n";
    WriteFile(dir_ / "sshd_config", config);
    std::string log = dir_ / "sshd.log";
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      int null = open("/dev/null", O_RDONLY);
      if (fd < 0 || null < 0) _exit(127);
      dup2(null, 0);
      dup2(fd, 1);
      dup2(fd, 2);
      std::string cfg = dir_ / "sshd_config";
      execl(kSshd, kSshd, "-D", "-e", "-f", cfg.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid < 0) break;
    for (int i = 0; i < 100; ++i) {
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;  // exited: probably lost the port; try another
        break;
      }
      if (Accepts(port_)) {
        pid_ = pid;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  error_ = "sshd did not start: " + ReadFile(dir_ / "sshd.log");
}

SshdServer::~SshdServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

}  // namespace vmigrate::testing
