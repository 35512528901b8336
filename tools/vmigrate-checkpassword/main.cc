// vmigrate-checkpassword: a login hook that sits before vchkpw in the
// checkpassword chain (sources-and-cutover.md §8.1-8.4):
//
//   qmail-popup HOST vmigrate-checkpassword [OPTIONS] vchkpw qmail-pop3d Maildir
//
// Stage 1 (before vchkpw, as qmail-popup's child) reads fd 3
// (login\0password\0timestamp\0, at most 512 bytes) and runs the real
// checkpassword program with a fresh fd 3 holding the same bytes. For a
// POP/IMAP login it also hands the login and password to its own stage 2 on
// another pipe (fd >= 5: fd 4 is Dovecot 2.3's checkpassword-reply) and
// puts stage 2 in front of the program vchkpw runs on success:
//
//   vchkpw <self> --stage2 --password-fd N [OPTIONS] -- qmail-pop3d Maildir
//
// So only a login vchkpw accepted reaches stage 2, already as the domain's
// uid in the user's home. Stage 2 pulls the mailbox of a pending user
// (`vmigrate pull`, bounded in time; the user is removed from the pending
// file only after a complete pull) and re-hashes a weak hash (`vmigrate
// rehash`), then closes the password pipe and execs the real program.
//
// Fail safe: every error of its own is one line on stderr (qmail's log) and
// the login goes on unchanged. It never wraps a program, it execs it, so the
// chain's exit codes (vchkpw's 1, 3, 12, ..., the checkpassword 2 and 111)
// reach qmail-popup untouched. It links nothing but the C and C++ runtime
// (no vmigrate library, archive, YAML or database client): the work is done
// by the `vmigrate` program it runs.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kMaxInput = 512;  // the checkpassword interface's limit
constexpr int kDefaultTimeoutSeconds = 30;
constexpr int kTempFail = 111;     // checkpassword: temporary problem
constexpr int kMisuse = 2;         // checkpassword: misuse

void Log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Log(const char* fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "vmigrate-checkpassword: %s\n", line);
  std::fflush(stderr);
}

struct Options {
  std::string pending, from, vpopmail_home, qmail_dir, ca_file, vmigrate;
  bool rehash = false;
  int timeout = kDefaultTimeoutSeconds;
  std::vector<std::string> own;  // the options above as given, for stage 2
  bool stage2 = false;
  int password_fd = -1;
  char** rest = nullptr;         // PROGRAM ARGS... (stage 1), ARGS... (stage 2)
};

bool ParseInt(const char* s, int* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1000000) return false;
  *out = static_cast<int>(v);
  return true;
}

// Options come before the program; "--" ends them (stage 2 always has it).
// Returns an error message, "" on success.
std::string ParseOptions(int argc, char** argv, Options* o) {
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.compare(0, 2, "--") != 0) break;
    std::string name = arg, value;
    bool inline_value = false;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    if (name == "--rehash" || name == "--stage2") {
      if (inline_value) return name + " takes no value";
      if (name == "--rehash") {
        o->rehash = true;
        o->own.push_back(name);
      } else {
        o->stage2 = true;
      }
      continue;
    }
    std::string* target = nullptr;
    if (name == "--pending") target = &o->pending;
    else if (name == "--from") target = &o->from;
    else if (name == "--vpopmail-home") target = &o->vpopmail_home;
    else if (name == "--qmail-dir") target = &o->qmail_dir;
    else if (name == "--ca-file") target = &o->ca_file;
    else if (name == "--vmigrate") target = &o->vmigrate;
    else if (name != "--timeout" && name != "--password-fd") return "unknown option " + name;
    if (!inline_value) {
      if (i + 1 >= argc) return name + " needs a value";
      value = argv[++i];
    }
    if (name == "--timeout" || name == "--password-fd") {
      int v = 0;
      if (!ParseInt(value.c_str(), &v)) return name + " needs a number, not '" + value + "'";
      if (name == "--timeout") o->timeout = v;
      else o->password_fd = v;
    } else {
      *target = value;
    }
    if (name != "--password-fd") {
      o->own.push_back(name);
      o->own.push_back(value);
    }
  }
  if (i >= argc) return o->stage2 ? "no program after --" : "no checkpassword program given";
  o->rest = argv + i;
  return "";
}

// Reads `fd` to EOF, keeping at most `max` bytes. False when a read failed
// before any byte arrived (fd 3 not open: the chain fails as it would).
bool ReadAll(int fd, size_t max, std::string* out) {
  char buf[kMaxInput];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return !out->empty();
    if (n == 0) return true;
    size_t room = max - out->size();
    out->append(buf, std::min(room, static_cast<size_t>(n)));
    if (out->size() >= max) return true;  // the interface's limit: no more is read
  }
}

// A pipe holding `data` whose read end is `fd` (an exact fd), or, with
// fd < 0, the lowest free fd >= 5 (returned). -1 on failure. `data` is at
// most 512 bytes, less than any pipe's buffer, so the write never blocks.
int PipeWith(const std::string& data, int fd) {
  int p[2];
  if (pipe(p) != 0) return -1;
  bool ok = write(p[1], data.data(), data.size()) == static_cast<ssize_t>(data.size());
  close(p[1]);
  if (!ok) {
    close(p[0]);
    return -1;
  }
  if (fd < 0) {
    int high = fcntl(p[0], F_DUPFD, 5);  // not 4: Dovecot's checkpassword-reply fd
    close(p[0]);
    return high;
  }
  if (p[0] == fd) return fd;
  int r = dup2(p[0], fd);
  close(p[0]);
  return r;
}

// vchkpw's idea of an SMTP login (V54:vchkpw.c main): port 25, 465, 587;
// any port but the POP/IMAP ones when the program it runs has "true" in its
// name. Those logins carry no session to migrate.
bool IsSmtp(char** args) {
  const char* port = std::getenv("TCPLOCALPORT");
  std::string p = port ? port : "";
  if (p == "25" || p == "465" || p == "587") return true;
  if (p == "110" || p == "995" || p == "143" || p == "993") return false;
  return args[0] != nullptr && std::strstr(args[0], "true") != nullptr;
}

std::string SelfPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

// SIGPIPE as the chain had it: stage 2 ignores it while it writes to a
// vmigrate that may have died, and puts it back before any exec.
struct sigaction g_sigpipe;
bool g_sigpipe_saved = false;

void IgnoreSigpipe() {
  struct sigaction ign = {};
  ign.sa_handler = SIG_IGN;
  g_sigpipe_saved = sigaction(SIGPIPE, &ign, &g_sigpipe) == 0;
}

void RestoreSigpipe() {
  if (g_sigpipe_saved) sigaction(SIGPIPE, &g_sigpipe, nullptr);
}

[[noreturn]] void Exec(char** argv) {
  RestoreSigpipe();
  execvp(argv[0], argv);
  Log("cannot run %s: %s", argv[0], std::strerror(errno));
  _exit(kTempFail);
}

// Stage 1. `input` is what fd 3 held; `readable` false when fd 3 could not
// be read (then fd 3 is left as it was).
[[noreturn]] void Stage1(const Options& o, const std::string& input, bool readable) {
  char** prog = o.rest;
  if (!readable) Exec(prog);
  // Fresh fd 3 first: it is what the checkpassword program reads whatever
  // else happens below.
  if (PipeWith(input, 3) != 3) {
    Log("cannot make the fd 3 pipe: %s", std::strerror(errno));
    _exit(kTempFail);
  }
  size_t nul1 = input.find('\0');
  size_t nul2 = nul1 == std::string::npos ? nul1 : input.find('\0', nul1 + 1);
  bool wanted = !o.pending.empty() || o.rehash;
  if (!wanted || nul2 == std::string::npos || nul1 == 0 || nul2 == nul1 + 1 || IsSmtp(prog + 1)) Exec(prog);
  if (!o.pending.empty() && o.from.empty()) Log("--pending needs --from: no mail is pulled");
  std::string self = SelfPath();
  if (self.empty()) {
    Log("cannot find its own program (/proc/self/exe): login passed on unchanged");
    Exec(prog);
  }
  int fd = PipeWith(input.substr(0, nul2 + 1), -1);  // login\0password\0
  if (fd < 0) {
    Log("cannot make the password pipe: %s; login passed on unchanged", std::strerror(errno));
    Exec(prog);
  }
  std::vector<std::string> args = {prog[0], self, "--stage2", "--password-fd", std::to_string(fd)};
  args.insert(args.end(), o.own.begin(), o.own.end());
  args.push_back("--");
  for (char** a = prog + 1; *a != nullptr; ++a) args.push_back(*a);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Exec(argv.data());
}

std::string Lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

bool ReadFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  bool ok = ReadAll(fd, 16u << 20, out);
  close(fd);
  return ok;
}

std::string VpopmailHome(const Options& o) {
  if (!o.vpopmail_home.empty()) return o.vpopmail_home;
  struct passwd* pw = getpwnam("vpopmail");
  return pw != nullptr ? pw->pw_dir : "";
}

// The real domain of `domain` from users/assign: an alias domain's line
// (+alias-:real:...) names the real domain in its second field.
std::string RealDomain(const Options& o, const std::string& domain) {
  std::string text;
  std::string qmail = o.qmail_dir.empty() ? "/var/qmail" : o.qmail_dir;
  if (!ReadFile(qmail + "/users/assign", &text)) return domain;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (line.size() < 3 || line[0] != '+') continue;
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string::npos || c1 < 2 || line[c1 - 1] != '-') continue;
    if (Lower(line.substr(1, c1 - 2)) == domain) return Lower(line.substr(c1 + 1, c2 - c1 - 1));
  }
  return domain;
}

// The account a login names, as vchkpw's parse_email finds it: lower-cased,
// cut at the first of '@', '%', '/'; no domain: $VPOPMAIL_DOMAIN, else
// <vpopmail-home>/etc/defaultdomain. "" when it names none.
std::string Address(const Options& o, const std::string& login) {
  std::string l = Lower(login);
  size_t cut = l.find_first_of("@%/");
  std::string user = l.substr(0, cut);
  std::string domain = cut == std::string::npos ? "" : l.substr(cut + 1);
  if (domain.empty()) {
    const char* env = std::getenv("VPOPMAIL_DOMAIN");
    if (env != nullptr && *env != '\0') {
      domain = Lower(env);
    } else {
      std::string text;
      if (ReadFile(VpopmailHome(o) + "/etc/defaultdomain", &text)) domain = Lower(Trim(text.substr(0, text.find('\n'))));
    }
  }
  if (user.empty() || domain.empty()) return "";
  return user + "@" + RealDomain(o, domain);
}

// Lines of the pending file naming `address` (case-insensitive, blanks around ignored).
bool Names(const std::string& line, const std::string& address) { return Lower(Trim(line)) == address; }

bool IsPending(const std::string& file, const std::string& address) {
  std::string text;
  if (!ReadFile(file, &text)) {
    if (errno != ENOENT) Log("cannot read %s: %s", file.c_str(), std::strerror(errno));
    return false;
  }
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (Names(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos), address)) return true;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return false;
}

// Removes `address` from the pending file: under an fcntl lock on
// FILE.lock, the file is rewritten to FILE.tmp.<pid>, fsynced and renamed
// over it (then the directory is fsynced), so a reader sees the old or the
// new list, never a part. Other lines are kept byte for byte.
bool RemovePending(const std::string& file, const std::string& address) {
  const std::string lock_path = file + ".lock";
  int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) {
    Log("cannot open %s: %s", lock_path.c_str(), std::strerror(errno));
    return false;
  }
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  int tries = 0;
  while (fcntl(lock, F_SETLK, &fl) != 0) {
    if ((errno != EACCES && errno != EAGAIN) || ++tries > 100) {
      Log("cannot lock %s: %s", lock_path.c_str(), std::strerror(errno));
      close(lock);
      return false;
    }
    usleep(100 * 1000);
  }
  bool ok = false;
  std::string text, kept;
  struct stat st;
  if (!ReadFile(file, &text) || stat(file.c_str(), &st) != 0) {
    Log("cannot read %s: %s", file.c_str(), std::strerror(errno));
  } else {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      size_t end = nl == std::string::npos ? text.size() : nl + 1;
      std::string line = text.substr(pos, end - pos);
      if (!Names(line.substr(0, line.find('\n')), address)) kept += line;
      pos = end;
    }
    const std::string tmp = file + ".tmp." + std::to_string(getpid());
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
    if (fd < 0) {
      Log("cannot write %s: %s", tmp.c_str(), std::strerror(errno));
    } else {
      ok = write(fd, kept.data(), kept.size()) == static_cast<ssize_t>(kept.size()) && fsync(fd) == 0;
      ok = close(fd) == 0 && ok;
      ok = ok && rename(tmp.c_str(), file.c_str()) == 0;
      if (!ok) {
        Log("cannot replace %s: %s", file.c_str(), std::strerror(errno));
        unlink(tmp.c_str());
      } else {
        std::string dir = file.find('/') == std::string::npos ? "." : file.substr(0, file.rfind('/') + 1);
        int d = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d >= 0) {
          fsync(d);
          close(d);
        }
      }
    }
  }
  close(lock);
  return ok;
}

// The vmigrate program: --vmigrate, else next to this program, else PATH.
std::string VmigratePath(const Options& o) {
  if (!o.vmigrate.empty()) return o.vmigrate;
  std::string self = SelfPath();
  size_t slash = self.rfind('/');
  if (slash != std::string::npos) {
    std::string next = self.substr(0, slash + 1) + "vmigrate";
    if (access(next.c_str(), X_OK) == 0) return next;
  }
  return "vmigrate";
}

// Runs `vmigrate ARGS` with the password on its fd 3, stdin from
// /dev/null and stdout into our stderr (stdout is the client's
// connection), in its own process group, killed after o.timeout seconds.
// Returns its exit code, or -1 (logged) when it did not exit by itself.
int RunVmigrate(const Options& o, const std::vector<std::string>& args, const std::string& password) {
  const std::string path = VmigratePath(o);
  std::vector<std::string> all = {path};
  all.insert(all.end(), args.begin(), args.end());
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    Log("cannot make a pipe: %s", std::strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    Log("cannot fork: %s", std::strerror(errno));
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    // The pipe onto fd 3 first (dup2 clears close-on-exec; a pipe that is
    // fd 3 already needs it cleared), then /dev/null, which lands above it.
    if (p[0] == 3 ? fcntl(3, F_SETFD, 0) != 0 : dup2(p[0], 3) != 3) _exit(127);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) != 0 || dup2(2, 1) != 1) _exit(127);
    close_range(4, ~0U, 0);  // Dovecot's fd 4, the password fd of stage 2, ...
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    RestoreSigpipe();
    execvp(argv[0], argv.data());
    Log("cannot run %s: %s", path.c_str(), std::strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  close(p[0]);
  if (write(p[1], password.data(), password.size()) < 0) Log("cannot hand the password to vmigrate: %s", std::strerror(errno));
  close(p[1]);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  bool terminated = false;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid, &st, terminated ? 0 : WNOHANG);
    if (r == pid) {
      if (terminated) return -1;
      if (WIFEXITED(st)) return WEXITSTATUS(st);
      Log("vmigrate %s died of signal %d", args[0].c_str(), WTERMSIG(st));
      return -1;
    }
    if (r < 0 && errno != EINTR) return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= o.timeout) {
      Log("vmigrate %s took more than %d seconds: stopped", args[0].c_str(), o.timeout);
      kill(-pid, SIGTERM);
      // A few seconds to remove its temp files, then SIGKILL.
      for (int i = 0; i < 50 && waitpid(pid, &st, WNOHANG) == 0; ++i) usleep(100 * 1000);
      kill(-pid, SIGKILL);
      terminated = true;
      continue;
    }
    usleep(20 * 1000);
  }
}

std::vector<std::string> PathArgs(const Options& o) {
  std::vector<std::string> a;
  if (!o.vpopmail_home.empty()) a.insert(a.end(), {"--vpopmail-home", o.vpopmail_home});
  if (!o.qmail_dir.empty()) a.insert(a.end(), {"--qmail-dir", o.qmail_dir});
  return a;
}

// Stage 2: vchkpw accepted the login and runs us as the domain's uid.
[[noreturn]] void Stage2(const Options& o) {
  std::string data;
  bool read_ok = o.password_fd >= 0 && ReadAll(o.password_fd, kMaxInput, &data);
  if (o.password_fd >= 0) close(o.password_fd);
  size_t nul1 = data.find('\0');
  size_t nul2 = nul1 == std::string::npos ? nul1 : data.find('\0', nul1 + 1);
  if (!read_ok || nul2 == std::string::npos) {
    Log("no login on --password-fd %d: login passed on unchanged", o.password_fd);
    Exec(o.rest);
  }
  const std::string login = data.substr(0, nul1);
  const std::string password = data.substr(nul1 + 1, nul2 - nul1 - 1);
  const std::string address = Address(o, login);
  IgnoreSigpipe();  // a vmigrate that died must not take the login with it
  if (address.empty()) {
    Log("login '%s' names no account (no domain and no default domain): nothing done", login.c_str());
  } else if (password.find('\n') != std::string::npos) {
    Log("%s: the password holds a newline, which vmigrate --password-fd cannot take: nothing done", address.c_str());
  } else {
    if (!o.pending.empty() && !o.from.empty() && IsPending(o.pending, address)) {
      std::vector<std::string> args = {"pull",   "--from",        o.from, "--user",
                                       login,    "--password-fd", "3",    "--into",
                                       address,  "--check-local-password"};
      if (!o.ca_file.empty()) args.insert(args.end(), {"--ca-file", o.ca_file});
      for (const std::string& a : PathArgs(o)) args.push_back(a);
      args.push_back("--json");
      int rc = RunVmigrate(o, args, password);
      if (rc == 0) {
        if (RemovePending(o.pending, address)) Log("%s: mail pulled from %s; no longer pending", address.c_str(), o.from.c_str());
      } else {
        Log("%s: pull from %s failed (exit %d); still pending, tried again at the next login", address.c_str(),
            o.from.c_str(), rc);
      }
    }
    if (o.rehash) {
      std::vector<std::string> args = {"rehash", "--user", address, "--password-fd", "3"};
      for (const std::string& a : PathArgs(o)) args.push_back(a);
      args.push_back("--json");
      int rc = RunVmigrate(o, args, password);
      if (rc != 0) Log("%s: rehash failed (exit %d); the hash is unchanged", address.c_str(), rc);
    }
  }
  Exec(o.rest);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string err = ParseOptions(argc, argv, &o);
  if (o.stage2) {
    // vchkpw accepted the login: whatever is wrong here, the session runs.
    if (!err.empty()) {
      Log("stage 2: %s", err.c_str());
      if (o.rest == nullptr) _exit(kTempFail);
    }
    Stage2(o);
  }
  if (!err.empty()) {
    Log("%s; usage: vmigrate-checkpassword [--pending FILE] [--from URL] [--rehash] [--vpopmail-home D] "
        "[--qmail-dir D] [--ca-file FILE] [--timeout SECONDS] [--vmigrate PATH] CHECKPASSWORD-PROGRAM ARGS...",
        err.c_str());
    // Nothing was read from fd 3 and no program is known for sure.
    return kMisuse;
  }
  std::string input;
  bool readable = ReadAll(3, kMaxInput, &input);
  close(3);
  Stage1(o, input, readable);
}
