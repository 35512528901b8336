// Runs a checkpassword program the way qmail-popup does (checkpassword
// interface, sources-and-cutover §8.1): the login, the password and a
// timestamp, each NUL-terminated, on a pipe at fd 3; stdin /dev/null; no
// other descriptors open. Used by the login hook's tests.
#ifndef VMIGRATE_TESTS_SUPPORT_CHECKPASSWORD_LOGIN_H_
#define VMIGRATE_TESTS_SUPPORT_CHECKPASSWORD_LOGIN_H_

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace vmigrate::testing {

struct LoginResult {
  int exit_code = -1;  // -1: it did not exit normally
  std::string out, err;
};

/// The fd 3 bytes of a login: "login\0password\0timestamp\0".
inline std::string CheckpasswordFd3(const std::string& login, const std::string& password,
                                    const std::string& timestamp = "<12345.1700000000@mail.example.com>") {
  return login + std::string(1, '\0') + password + std::string(1, '\0') + timestamp + std::string(1, '\0');
}

/// Runs `argv` (argv[0] a path) with `fd3` on fd 3 and `env` added to the
/// environment; its stdout and stderr go to files in `work_dir`, which are
/// read back into the result.
inline LoginResult RunCheckpassword(const std::string& work_dir, const std::vector<std::string>& argv,
                                    const std::string& fd3, const std::map<std::string, std::string>& env) {
  const std::string out = work_dir + "/login.out", err = work_dir + "/login.err";
  pid_t pid = fork();
  if (pid == 0) {
    int p[2];
    if (pipe(p) != 0 || write(p[1], fd3.data(), fd3.size()) != static_cast<ssize_t>(fd3.size())) _exit(120);
    close(p[1]);
    if (p[0] != 3 && (dup2(p[0], 3) != 3 || close(p[0]) != 0)) _exit(120);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int n = open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || n < 0 || dup2(n, 0) != 0 || dup2(o, 1) != 1 || dup2(e, 2) != 2) _exit(120);
    close_range(4, ~0U, 0);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(121);
  }
  LoginResult r;
  int st = 0;
  if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st)) r.exit_code = WEXITSTATUS(st);
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

}  // namespace vmigrate::testing

#endif  // VMIGRATE_TESTS_SUPPORT_CHECKPASSWORD_LOGIN_H_
