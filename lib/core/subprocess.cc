#include "core/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "core/errno_status.h"

namespace vmigrate {
namespace {

// Closes a descriptor once, whatever path the code takes.
struct Fd {
  int fd = -1;
  Fd() = default;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

Status MakePipe(Fd* read_end, Fd* write_end) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return FromErrno("cannot create a pipe", errno);
  read_end->fd = p[0];
  write_end->fd = p[1];
  return Status::OK();
}

// Collects a stream into lines, keeping the last `max` of them.
struct LineSink {
  std::string partial;
  std::vector<std::string>* lines;
  size_t max;
  void Add(const char* data, size_t n) {
    partial.append(data, n);
    size_t start = 0, nl;
    while ((nl = partial.find('\n', start)) != std::string::npos) {
      Push(partial.substr(start, nl - start));
      start = nl + 1;
    }
    partial.erase(0, start);
  }
  void Finish() {
    if (!partial.empty()) Push(partial);
    partial.clear();
  }
  void Push(std::string line) {
    lines->push_back(std::move(line));
    if (lines->size() > max) lines->erase(lines->begin());
  }
};

// In the child, after fork: only async-signal-safe calls.
[[noreturn]] void ExecChild(char* const* argv, int in, int out, int err) {
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
  signal(SIGPIPE, SIG_DFL);
  execvp(argv[0], argv);
  const char* why = strerror(errno);
  (void)!write(2, "cannot run ", 11);
  (void)!write(2, argv[0], strlen(argv[0]));
  (void)!write(2, ": ", 2);
  (void)!write(2, why, strlen(why));
  (void)!write(2, "\n", 1);
  _exit(127);
}

}  // namespace

std::string StageResult::LastErrLine() const {
  for (auto it = err_lines.rbegin(); it != err_lines.rend(); ++it)
    if (!it->empty()) return *it;
  return "";
}

Result<std::vector<StageResult>> RunPipeline(const std::vector<std::vector<std::string>>& stages,
                                             const PipelineOptions& options) {
  if (stages.empty()) return Status::InvalidInput("empty pipeline");
  const size_t n = stages.size();
  Fd first_in;
  first_in.fd = open(options.stdin_path.empty() ? "/dev/null" : options.stdin_path.c_str(),
                     O_RDONLY | O_CLOEXEC);
  if (first_in.fd < 0)
    return FromErrno("cannot open " + (options.stdin_path.empty() ? std::string("/dev/null") : options.stdin_path),
                     errno);
  std::vector<Fd> links_r(n), links_w(n);  // links[i]: stage i stdout -> stage i+1 stdin
  std::vector<Fd> err_r(n), err_w(n);
  for (size_t i = 0; i < n; ++i) {
    VM_RETURN_IF_ERROR(MakePipe(&links_r[i], &links_w[i]));
    VM_RETURN_IF_ERROR(MakePipe(&err_r[i], &err_w[i]));
  }
  // Build every argv before forking: the child only calls exec.
  std::vector<std::vector<char*>> argvs(n);
  for (size_t i = 0; i < n; ++i) {
    if (stages[i].empty()) return Status::InvalidInput("empty command in a pipeline");
    for (const auto& a : stages[i]) argvs[i].push_back(const_cast<char*>(a.c_str()));
    argvs[i].push_back(nullptr);
  }
  std::vector<pid_t> pids(n, -1);
  std::vector<StageResult> results(n);
  Status spawn_error;
  for (size_t i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid < 0) {
      spawn_error = FromErrno("cannot start " + stages[i][0], errno);
      break;
    }
    if (pid == 0) ExecChild(argvs[i].data(), i == 0 ? first_in.fd : links_r[i - 1].fd, links_w[i].fd, err_w[i].fd);
    pids[i] = pid;
    // The parent keeps only the read ends it captures: a stage then sees
    // EOF when the one before it exits, as in a shell pipeline.
    if (i > 0) links_r[i - 1].Close();
    links_w[i].Close();
    err_w[i].Close();
  }
  first_in.Close();
  if (!spawn_error.ok()) {
    // Stages already started get EOF or SIGPIPE now that their pipes close.
    for (auto& f : links_r) f.Close();
    for (auto& f : err_r) f.Close();
    for (pid_t pid : pids)
      if (pid > 0) waitpid(pid, nullptr, 0);
    return spawn_error;
  }

  std::vector<LineSink> sinks;
  for (size_t i = 0; i < n; ++i) sinks.push_back({"", &results[i].err_lines, options.max_stderr_lines});
  StageResult& last = results[n - 1];
  char buf[65536];
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<int> owner;  // stage index of each pollfd; -1 = last stage's stdout
    if (links_r[n - 1].fd >= 0) {
      fds.push_back({links_r[n - 1].fd, POLLIN, 0});
      owner.push_back(-1);
    }
    for (size_t i = 0; i < n; ++i)
      if (err_r[i].fd >= 0) {
        fds.push_back({err_r[i].fd, POLLIN, 0});
        owner.push_back(static_cast<int>(i));
      }
    if (fds.empty()) break;
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return FromErrno("poll", errno);
    }
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      ssize_t got = read(fds[k].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      bool eof = got <= 0;
      if (owner[k] < 0) {
        if (eof) {
          links_r[n - 1].Close();
          continue;
        }
        size_t room = options.max_stdout - std::min(options.max_stdout, last.out.size());
        size_t take = std::min(room, static_cast<size_t>(got));
        last.out.append(buf, take);
        if (take < static_cast<size_t>(got)) last.out_truncated = true;
      } else {
        size_t i = static_cast<size_t>(owner[k]);
        if (eof) {
          sinks[i].Finish();
          err_r[i].Close();
          continue;
        }
        sinks[i].Add(buf, static_cast<size_t>(got));
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    int status = 0;
    while (waitpid(pids[i], &status, 0) < 0) {
      if (errno != EINTR) return FromErrno("waitpid", errno);
    }
    if (WIFEXITED(status)) {
      results[i].exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      results[i].exit_code = -1;
      results[i].signal = WTERMSIG(status);
    }
  }
  return results;
}

Result<StageResult> RunProcess(const std::vector<std::string>& argv, const PipelineOptions& options) {
  auto r = RunPipeline({argv}, options);
  if (!r.ok()) return r.status();
  return std::move((*r)[0]);
}

}  // namespace vmigrate
