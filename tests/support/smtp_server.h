// Runs tests/support/smtp_test_server.py (Debian's python3-aiosmtpd) for the
// SMTP forward-check tests: started on an OS-chosen loopback port that it
// reports on stdout, stopped (SIGTERM, then waited for) when the object goes
// away, with the commands it received readable from its log.
#ifndef VMIGRATE_TESTS_SUPPORT_SMTP_SERVER_H_
#define VMIGRATE_TESTS_SUPPORT_SMTP_SERVER_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace vmigrate::testing {

constexpr const char* kPython = "/usr/bin/python3";

class SmtpTestServer {
 public:
  struct Options {
    std::vector<std::string> domains;  // RCPT accepted for these, 553 for others
    std::string mode = "accept";       // accept | tempfail-rcpt | tempfail-greeting | no-ehlo
    int greeting_lines = 1;            // >1: a multi-line 220 greeting
    std::string host = "127.0.0.1";    // the address to listen on ("::1" for IPv6)
  };

  /// `work_dir` holds the command log. Check ok() (or error()) before use.
  SmtpTestServer(const std::string& work_dir, const Options& options)
      : log_path_(work_dir + "/smtp-commands.log") {
    std::vector<std::string> argv = {kPython, std::string(VMIGRATE_SOURCE_DIR) +
                                                  "/tests/support/smtp_test_server.py",
                                      "--log", log_path_, "--mode", options.mode,
                                      "--greeting-lines", std::to_string(options.greeting_lines),
                                      "--host", options.host};
    argv.insert(argv.end(), options.domains.begin(), options.domains.end());
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      error_ = "pipe failed";
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the test binary
      dup2(out[1], 1);
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    if (pid_ < 0) {
      close(out[0]);
      error_ = "fork failed";
      return;
    }
    // The port line; the server prints it once it listens.
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[64];
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    int port = 0;
    try {
      port = std::stoi(line);
    } catch (...) {
      port = 0;
    }
    if (port <= 0 || port > 65535) {
      error_ = "smtp_test_server.py did not report a port (got '" + line + "')";
      return;
    }
    port_ = static_cast<uint16_t>(port);
  }

  ~SmtpTestServer() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  SmtpTestServer(const SmtpTestServer&) = delete;
  SmtpTestServer& operator=(const SmtpTestServer&) = delete;

  bool ok() const { return port_ != 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }

  /// The commands received so far, one "VERB argument" each.
  std::vector<std::string> Commands() const {
    std::vector<std::string> commands;
    std::ifstream in(log_path_);
    for (std::string line; std::getline(in, line);) commands.push_back(line);
    return commands;
  }

 private:
  std::string log_path_;
  std::string error_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace vmigrate::testing

#endif  // VMIGRATE_TESTS_SUPPORT_SMTP_SERVER_H_
