// A real OpenSSH server (Debian openssh-server) on 127.0.0.1 for the tests
// of `vmigrate move`: its own host key, config and authorized client key in
// a temp dir, run in the foreground (`sshd -D -e`) and killed at the end.
// The "new host" of a move is then this machine reached over real ssh.
#ifndef VMIGRATE_TESTS_SUPPORT_SSHD_SERVER_H_
#define VMIGRATE_TESTS_SUPPORT_SSHD_SERVER_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "support/test_support.h"

namespace vmigrate::testing {

class SshdServer {
 public:
  /// Generates the keys and the config and starts sshd on a free port,
  /// waiting until it accepts connections. ok() tells whether it did;
  /// error() says why not (the sshd log is in it).
  SshdServer();
  ~SshdServer();  // kills sshd
  SshdServer(const SshdServer&) = delete;
  SshdServer& operator=(const SshdServer&) = delete;

  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  /// The user ssh logs in as (the one running the tests).
  std::string user() const;
  /// "USER@127.0.0.1", the --to of a move.
  std::string destination() const;
  /// The client side as words: ssh -i KEY -p PORT -o ... (no destination),
  /// for --ssh-command (joined by blanks; the temp dir has no blank in it).
  std::vector<std::string> ssh_words() const;
  std::string ssh_command() const;

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string error_;
};

/// Whether /usr/sbin/sshd and ssh-keygen are installed (tests skip otherwise).
bool HaveOpenSsh();

}  // namespace vmigrate::testing

#endif  // VMIGRATE_TESTS_SUPPORT_SSHD_SERVER_H_
