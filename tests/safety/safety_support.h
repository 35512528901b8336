// Helpers for the crash-safety, concurrency and bad-environment tests:
// starting vmigrate as a child we control (environment, stdin, signals,
// several at once), normalised target digests and mail-server views of a
// target (is a domain registered in users/assign and users/cdb? is its
// directory there?).
#ifndef VMIGRATE_TESTS_SAFETY_SAFETY_SUPPORT_H_
#define VMIGRATE_TESTS_SAFETY_SAFETY_SUPPORT_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"

namespace vmigrate::testing::safety {

namespace fs = std::filesystem;
using cli::kTargetHome;
using cli::kTargetQmail;

/// A vmigrate (or any program) started with fork/exec; stdout and stderr go
/// to files below `io_dir`, so several can run at once.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
        const std::string& io_dir, const std::string& stdin_file = "") {
    static int serial = 0;
    std::string base = io_dir + "/child-" + std::to_string(getpid()) + "-" + std::to_string(++serial);
    out_path_ = base + ".out";
    err_path_ = base + ".err";
    pid_ = fork();
    if (pid_ == 0) {
      int in = open(stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY);
      int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (in < 0 || out < 0 || err < 0) _exit(126);
      dup2(in, 0);
      dup2(out, 1);
      dup2(err, 2);
      // A clean signal state: the test runner may have blocked or ignored some.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      Wait();
    }
    unlink(out_path_.c_str());
    unlink(err_path_.c_str());
  }

  pid_t pid() const { return pid_; }

  /// Non-blocking: true once the child has exited (then result() is valid).
  bool Poll() {
    if (waited_) return true;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r != pid_) return false;
    Finish(status);
    return true;
  }

  CommandResult Wait() {
    if (!waited_) {
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      Finish(status);
    }
    return result_;
  }

  void Signal(int sig) {
    if (!waited_) kill(pid_, sig);
  }

 private:
  void Finish(int status) {
    waited_ = true;
    result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result_.out = ReadFile(out_path_);
    result_.err = ReadFile(err_path_);
  }

  pid_t pid_ = -1;
  bool waited_ = false;
  std::string out_path_, err_path_;
  CommandResult result_;
};

/// argv of `vmigrate import ARCHIVE --no-reload` into the target under `root`.
inline std::vector<std::string> ImportArgv(const std::string& root, const std::string& archive) {
  return cli::Concat({VMIGRATE_BINARY, "import", archive, "--no-reload"}, cli::TargetFlags(root));
}

/// Runs an import with extra environment settings (VMIGRATE_CRASH_AT=...).
inline CommandResult ImportWithEnv(const std::string& root, const std::string& archive,
                                   const std::vector<std::string>& env) {
  std::vector<std::string> argv = {"env"};
  argv.insert(argv.end(), env.begin(), env.end());
  auto import = ImportArgv(root, archive);
  argv.insert(argv.end(), import.begin(), import.end());
  return RunCommand(argv);
}

inline bool IsScratch(const std::string& rel) {
  std::string base = fs::path(rel).filename().string();
  return rel.find(".vmigrate-staging") != std::string::npos ||
         rel.find(".vmigrate-journal") != std::string::npos ||
         (rel.rfind("var/qmail/", 0) == 0 && base.size() > 5 &&
          base.compare(base.size() - 5, 5, ".lock") == 0);
}

/// Every ".vmigrate-staging*" or ".vmigrate-journal*" entry below `root`.
inline std::vector<std::string> Leftovers(const std::string& root) {
  std::vector<std::string> out;
  if (!fs::exists(root)) return out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string name = it->path().filename().string();
    if (name.rfind(".vmigrate-staging", 0) == 0 || name.rfind(".vmigrate-journal", 0) == 0) {
      out.push_back(it->path().string());
      if (it->is_directory()) it.disable_recursion_pending();
    }
  }
  return out;
}

/// What a mail server (and the admin) sees of a target while no import runs:
/// the TreeDigest of `root` without staging/journal dirs and qmail lock
/// files, and without the mtimes of the directories an import may touch
/// just by creating (and removing) its staging dir and lock files.
inline std::map<std::string, std::string> LiveView(const std::string& root) {
  static const std::set<std::string> touched = {"srv/vpopmail", "srv/vpopmail/domains",
                                                "var/qmail/control", "var/qmail/users"};
  std::map<std::string, std::string> out;
  for (auto& [rel, line] : TreeDigest(root)) {
    if (IsScratch(rel)) continue;
    if (touched.count(rel)) out[rel] = line.substr(0, line.find(" dir ") + 4);  // "mode dir"
    else out[rel] = line;
  }
  // A domains/ dir that only exists to hold a staging dir is no change.
  if (out.count("srv/vpopmail/domains")) {
    bool empty = true;
    for (auto& [rel, line] : out)
      if (rel.rfind("srv/vpopmail/domains/", 0) == 0) empty = false;
    if (empty) out.erase("srv/vpopmail/domains");
  }
  return out;
}

/// The result of an import as content: LiveView without owners, and without
/// the mtimes of everything the import writes at import time (qmail control
/// files, users/assign+cdb, domains/.dir-control, the regenerated vpasswd
/// files of each domain). The moved mail keeps its mtimes and is compared
/// with them.
inline std::map<std::string, std::string> ContentView(const std::string& root) {
  const std::string domains = "srv/vpopmail/domains/";
  std::map<std::string, std::string> out;
  for (auto& [rel, line0] : LiveView(root)) {
    std::string line = cli::WithoutOwner(line0);
    bool keep_mtime = false;
    if (rel.rfind(domains, 0) == 0) {
      std::string r = rel.substr(domains.size());
      size_t slash = r.find('/');
      std::string base = fs::path(rel).filename().string();
      bool regenerated = slash != std::string::npos && r.find('/', slash + 1) == std::string::npos &&
                         (base == "vpasswd" || base == "vpasswd.cdb" || base == ".dir-control" ||
                          base == ".vpasswd.lock");
      keep_mtime = (slash != std::string::npos || line.find(" dir") != std::string::npos) && !regenerated;
    }
    if (!keep_mtime) {
      // "mode dir MTIME" -> "mode dir"; "mode file SIZE MTIME SHA" -> "mode file SIZE SHA"
      std::vector<std::string> f;
      std::string w;
      for (char c : line + " ") {
        if (c == ' ') {
          f.push_back(w);
          w.clear();
        } else {
          w += c;
        }
      }
      if (f.size() >= 3 && f[1] == "dir") line = f[0] + " dir";
      else if (f.size() >= 5 && f[1] == "file") line = f[0] + " file " + f[2] + " " + f[4];
    }
    out[rel] = line;
  }
  return out;
}

/// Equal digests, or the list of differences (printed once, unlike EXPECT_EQ).
inline ::testing::AssertionResult SameTree(const std::map<std::string, std::string>& expected,
                                           const std::map<std::string, std::string>& actual) {
  std::string diff = cli::DigestDiff(expected, actual);
  if (diff.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "trees differ:\n" << diff;
}
#define EXPECT_SAME_TREE(expected, actual) EXPECT_TRUE(SameTree((expected), (actual)))

/// A mail server's view of one domain on the target.
struct DomainState {
  bool in_assign = false;   // users/assign has "+DOMAIN-:"
  bool in_cdb = false;      // users/cdb has "!DOMAIN-" (what qmail-lspawn reads)
  bool present = false;     // the domain dir exists where it is planned
  std::string str() const {
    return std::string("assign=") + (in_assign ? "yes" : "no") + " cdb=" + (in_cdb ? "yes" : "no") +
           " dir=" + (present ? "yes" : "no");
  }
};

inline DomainState StateOf(const std::string& root, const std::string& domain,
                           const std::string& planned_rel = "") {
  DomainState s;
  const std::string qmail = root + kTargetQmail;
  for (const auto& line : cli::Lines(ReadFile(qmail + "/users/assign")))
    if (line.rfind("+" + domain + "-:", 0) == 0) s.in_assign = true;
  s.in_cdb = CdbHas(qmail + "/users/cdb", "!" + domain + "-");
  std::string rel = planned_rel.empty() ? "domains/" + domain : planned_rel;
  s.present = fs::is_directory(root + kTargetHome + "/" + rel);
  return s;
}

inline std::string JournalPath(const std::string& root, const std::string& domain) {
  return root + kTargetHome + "/domains/.vmigrate-journal." + domain;
}

/// One line of stderr, starting "vmigrate: ".
inline void ExpectOneLineError(const CommandResult& r, const std::string& must_contain = "") {
  std::vector<std::string> lines;
  for (const auto& l : cli::Lines(r.err))
    if (l.find(": warning: ") == std::string::npos) lines.push_back(l);
  EXPECT_EQ(lines.size(), 1u) << "stderr:\n" << r.err;
  if (!lines.empty()) {
    EXPECT_EQ(lines[0].rfind("vmigrate: ", 0), 0u) << lines[0];
    if (!must_contain.empty()) {
      EXPECT_NE(lines[0].find(must_contain), std::string::npos)
          << "'" << must_contain << "' not in: " << lines[0];
    }
  }
}

/// Waits (up to `timeout_ms`) until `pred` is true; false on timeout.
template <typename Pred>
bool WaitFor(Pred pred, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return pred();
}

}  // namespace vmigrate::testing::safety

#endif  // VMIGRATE_TESTS_SAFETY_SAFETY_SUPPORT_H_
