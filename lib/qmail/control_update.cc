#include "qmail/control_update.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "core/crash_point.h"
#include "core/errno_status.h"
#include "core/strings.h"
#include "qmail/control_file.h"

namespace vmigrate::qmail {
namespace {

// vpopmail moves new domains to morercpthosts once rcpthosts has this many
// lines (count_rcpthosts counts every line, comments and blanks included).
constexpr size_t kMaxRcpthostsLines = 50;

bool RunsAsRoot() { return geteuid() == 0; }

// A control-file line naming `domain`, compared the way qmail reads these
// files: case-insensitive, trailing spaces and tabs ignored.
bool SameDomainLine(std::string_view line, std::string_view domain) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  return ToLower(line) == ToLower(domain);
}

bool ContainsDomain(const ControlFile& file, const std::string& domain) {
  for (const std::string& line : file.lines())
    if (SameDomainLine(line, domain)) return true;
  return false;
}

// Keys compared the way qmail looks them up: case-insensitive, up to ':'.
std::string LineKey(const std::string& line) { return ToLower(line.substr(0, line.find(':'))); }

// A name we are about to write into colon- and line-separated files.
Status ValidateEntry(const DomainAssign& e) {
  auto bad = [](const std::string& s) {
    if (s.empty()) return true;
    for (char c : s)
      if (c == ':' || c == '\n' || c == '\r' || c == '\0' || c == ' ' || c == '\t') return true;
    return false;
  };
  if (bad(e.domain)) return Status::InvalidInput("'" + e.domain + "': not a usable domain name");
  if (bad(e.real_domain))
    return Status::InvalidInput(e.domain + ": real domain '" + e.real_domain +
                                "' is not a usable domain name");
  if (bad(e.dir) || e.dir[0] != '/')
    return Status::InvalidInput(e.domain + ": domain dir '" + e.dir + "' is not an absolute path");
  return Status::OK();
}

}  // namespace

ControlTransaction::ControlTransaction(HostPaths paths, ControlUpdateOptions options)
    : paths_(std::move(paths)), options_(std::move(options)) {}

ControlTransaction::~ControlTransaction() {
  // Release in the reverse order of acquisition.
  while (!locks_.empty()) locks_.pop_back();
}

Status ControlTransaction::Lock() {
  if (!locks_.empty()) return Status::OK();
  // One fixed order for every vmigrate process avoids lock-order deadlocks.
  const std::string files[] = {
      paths_.assign_file(),
      paths_.control_file("rcpthosts"),
      paths_.control_file("morercpthosts"),
      paths_.control_file("virtualdomains"),
      paths_.control_file("locals"),
  };
  std::vector<FileLock> taken;
  for (const std::string& file : files) {
    Result<FileLock> lock = FileLock::Acquire(paths_.OnDisk(file) + ".lock");
    if (!lock.ok()) {
      while (!taken.empty()) taken.pop_back();
      return lock.status();
    }
    taken.push_back(std::move(*lock));
  }
  locks_ = std::move(taken);
  return Status::OK();
}

Status ControlTransaction::CheckAbsent(const std::vector<std::string>& domains) const {
  auto read = [](const std::string& path) -> Result<std::string> {
    Result<std::string> text = ReadSmallFile(path);
    if (!text.ok() && text.status().code() == Status::Code::kNotFound) return std::string();
    return text;
  };
  Result<std::string> assign = read(paths_.OnDisk(paths_.assign_file()));
  if (!assign.ok()) return assign.status();
  Result<std::string> virtualdomains = read(paths_.OnDisk(paths_.control_file("virtualdomains")));
  if (!virtualdomains.ok()) return virtualdomains.status();

  std::vector<std::string> assign_keys;  // lower-cased "+<local>" of '+' lines
  for (const std::string& line : SplitLines(*assign)) {
    if (!line.empty() && line[0] == '.') break;
    if (line.empty() || line[0] != '+') continue;
    assign_keys.push_back(ToLower(line.substr(0, line.find(':'))));
  }
  std::vector<std::string> virtual_names;
  for (const std::string& line : SplitLines(*virtualdomains))
    virtual_names.push_back(ToLower(line.substr(0, line.find(':'))));

  for (const std::string& domain : domains) {
    std::string lower = ToLower(domain);
    for (const std::string& key : assign_keys)
      if (key == "+" + lower + "-")
        return Status::Conflict(domain + " already exists on the target (users/assign)");
    for (const std::string& name : virtual_names)
      if (name == lower)
        return Status::Conflict(domain + " already exists on the target (control/virtualdomains)");
  }
  return Status::OK();
}

Status ControlTransaction::Remember(const std::string& path) {
  if (snapshots_.count(path) != 0) return Status::OK();
  Snapshot snap;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return FromErrno("cannot stat " + path, errno);
    snap.existed = false;
  } else {
    Result<std::string> text = ReadSmallFile(path);
    if (!text.ok()) return text.status();
    snap.existed = true;
    snap.contents = std::move(*text);
    snap.mode = st.st_mode & 07777;
    snap.owner = FileOwner{st.st_uid, st.st_gid};
  }
  snapshots_.emplace(path, std::move(snap));
  return Status::OK();
}

Status ControlTransaction::RunQmailProgram(const std::string& program) const {
  std::string path = paths_.qmail_dir + "/bin/" + program;
  pid_t pid = fork();
  if (pid < 0) return FromErrno("cannot fork for " + path, errno);
  if (pid == 0) {
    char* const argv[] = {const_cast<char*>(path.c_str()), nullptr};
    execv(path.c_str(), argv);
    _exit(127);
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return FromErrno("cannot wait for " + path, errno);
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::OK();
  if (WIFEXITED(wstatus))
    return Status::IoError(path + ": exited with status " + std::to_string(WEXITSTATUS(wstatus)));
  return Status::IoError(path + ": killed by signal " + std::to_string(WTERMSIG(wstatus)));
}

// qmail's programs chdir to the qmail home compiled into them, so they can
// only rebuild the running system's files; under another --root we always
// write the cdb ourselves.
Status ControlTransaction::RebuildUsersCdb(const std::string& assign_text) {
  std::string cdb = paths_.OnDisk(paths_.qmail_dir + "/users/cdb");
  VM_RETURN_IF_ERROR(Remember(cdb));
  bool real_root = paths_.root.empty() || paths_.root == "/";
  if (options_.use_qmail_programs && real_root) return RunQmailProgram("qmail-newu");
  return WriteUsersCdb(assign_text, cdb);
}

Status ControlTransaction::RebuildMoreRcpthostsCdb(const std::string& text) {
  std::string cdb = paths_.OnDisk(paths_.control_file("morercpthosts.cdb"));
  VM_RETURN_IF_ERROR(Remember(cdb));
  bool real_root = paths_.root.empty() || paths_.root == "/";
  if (options_.use_qmail_programs && real_root) return RunQmailProgram("qmail-newmrh");
  return WriteMoreRcpthostsCdb(text, cdb);
}

// Loads every file and works out every change without writing, so a bad
// file stops us before any write and a dry run reports exactly what Apply does.
Status ControlTransaction::Compute(const std::vector<DomainAssign>& entries,
                                   const ExtraLines& extras, Computed* c) const {
  for (const DomainAssign& e : entries) VM_RETURN_IF_ERROR(ValidateEntry(e));
  c->assign_path = paths_.OnDisk(paths_.assign_file());
  c->rcpthosts_path = paths_.OnDisk(paths_.control_file("rcpthosts"));
  c->more_path = paths_.OnDisk(paths_.control_file("morercpthosts"));
  c->virtual_path = paths_.OnDisk(paths_.control_file("virtualdomains"));
  c->locals_path = paths_.OnDisk(paths_.control_file("locals"));
  auto load = [](const std::string& path, bool assign_format, std::optional<ControlFile>* out) {
    Result<ControlFile> f = ControlFile::Load(path, assign_format);
    if (!f.ok()) return f.status();
    *out = std::move(*f);
    return Status::OK();
  };
  VM_RETURN_IF_ERROR(load(c->assign_path, /*assign_format=*/true, &c->assign));
  VM_RETURN_IF_ERROR(load(c->rcpthosts_path, false, &c->rcpthosts));
  VM_RETURN_IF_ERROR(load(c->more_path, false, &c->more));
  VM_RETURN_IF_ERROR(load(c->virtual_path, false, &c->virtualdomains));
  VM_RETURN_IF_ERROR(load(c->locals_path, false, &c->locals));

  // users/assign (a missing file starts as just ".") and users/cdb.
  c->assign_changed = !c->assign->present();
  // A restored server's own lines first, as the old host had them before
  // vpopmail added its domains (this also keeps rcpthosts' 50-line split).
  AddExtras(extras, c);
  for (const DomainAssign& e : entries) {
    std::string line = FormatDomainAssignLine(e);
    if (c->assign->InsertSorted(line)) {
      c->assign_changed = true;
      c->edits.push_back({paths_.assign_file(), '+', line});
    }
  }

  // rcpthosts, or morercpthosts once rcpthosts is full. A missing rcpthosts
  // would make qmail-smtpd an open relay, so it always gets the domain then.
  for (const DomainAssign& e : entries) {
    if (ContainsDomain(*c->rcpthosts, e.domain)) continue;
    if (c->rcpthosts->present() && ContainsDomain(*c->more, e.domain)) continue;
    if (c->rcpthosts->present() && c->rcpthosts->line_count() >= kMaxRcpthostsLines) {
      if (c->more->InsertSorted(e.domain)) {
        c->more_changed = true;
        c->edits.push_back({paths_.control_file("morercpthosts"), '+', e.domain});
      }
    } else if (c->rcpthosts->InsertSorted(e.domain)) {
      c->rcpthosts_changed = true;
      c->edits.push_back({paths_.control_file("rcpthosts"), '+', e.domain});
    }
  }

  // virtualdomains: "domain:domain", the prepend being the domain itself.
  for (const DomainAssign& e : entries) {
    if (c->virtualdomains->InsertSorted(e.domain + ":" + e.domain)) {
      c->virtual_changed = true;
      c->edits.push_back({paths_.control_file("virtualdomains"), '+', e.domain + ":" + e.domain});
    }
  }

  // locals wins over virtualdomains, so the domain must leave it. We only
  // rewrite an existing file: creating an empty locals would stop qmail
  // from treating control/me as local.
  if (c->locals->present()) {
    for (const DomainAssign& e : entries) {
      if (c->locals->Remove(e.domain)) {
        c->locals_changed = true;
        c->edits.push_back({paths_.control_file("locals"), '-', e.domain});
      }
    }
  }
  return Status::OK();
}

void ControlTransaction::AddExtras(const ExtraLines& extras, Computed* c) const {
  auto has_key = [](const ControlFile& file, const std::string& line) {
    for (const std::string& existing : file.lines())
      if (LineKey(existing) == LineKey(line)) return true;
    return false;
  };
  for (const std::string& line : extras.assign) {
    if (line.empty() || line == "." || has_key(*c->assign, line)) continue;
    if (c->assign->Append(line)) {
      c->assign_changed = true;
      c->edits.push_back({paths_.assign_file(), '+', line});
    }
  }
  auto add_rcpt = [&](const std::string& line, std::optional<ControlFile>* file, bool* changed,
                      const char* name) {
    if (c->rcpthosts->Contains(line) || c->more->Contains(line)) return;
    if ((*file)->Append(line)) {
      *changed = true;
      c->edits.push_back({paths_.control_file(name), '+', line});
    }
  };
  for (const std::string& line : extras.rcpthosts)
    add_rcpt(line, &c->rcpthosts, &c->rcpthosts_changed, "rcpthosts");
  for (const std::string& line : extras.morercpthosts)
    add_rcpt(line, &c->more, &c->more_changed, "morercpthosts");
  for (const std::string& line : extras.virtualdomains) {
    if (has_key(*c->virtualdomains, line)) continue;
    if (c->virtualdomains->Append(line)) {
      c->virtual_changed = true;
      c->edits.push_back({paths_.control_file("virtualdomains"), '+', line});
    }
  }
  for (const std::string& line : extras.locals) {
    if (c->locals->Append(line)) {
      c->locals_changed = true;
      c->edits.push_back({paths_.control_file("locals"), '+', line});
    }
  }
}

Result<std::vector<ControlEdit>> ControlTransaction::Plan(
    const std::vector<DomainAssign>& entries, const ExtraLines& extras) const {
  Computed c;
  VM_RETURN_IF_ERROR(Compute(entries, extras, &c));
  return c.edits;
}

Status ControlTransaction::Apply(const std::vector<DomainAssign>& entries,
                                 const ExtraLines& extras) {
  Computed c;
  VM_RETURN_IF_ERROR(Compute(entries, extras, &c));
  if (c.assign_changed) {
    VM_RETURN_IF_ERROR(Remember(c.assign_path));
    VM_RETURN_IF_ERROR(c.assign->Save());
    CrashPoint("users/assign saved");
    VM_RETURN_IF_ERROR(RebuildUsersCdb(c.assign->Text()));
    CrashPoint("users/cdb rebuilt");
  }
  if (c.rcpthosts_changed) {
    VM_RETURN_IF_ERROR(Remember(c.rcpthosts_path));
    VM_RETURN_IF_ERROR(c.rcpthosts->Save());
    CrashPoint("rcpthosts saved");
  }
  if (c.more_changed) {
    VM_RETURN_IF_ERROR(Remember(c.more_path));
    VM_RETURN_IF_ERROR(c.more->Save());
    CrashPoint("morercpthosts saved");
    VM_RETURN_IF_ERROR(RebuildMoreRcpthostsCdb(c.more->Text()));
    CrashPoint("morercpthosts.cdb rebuilt");
  }
  if (c.virtual_changed) {
    VM_RETURN_IF_ERROR(Remember(c.virtual_path));
    VM_RETURN_IF_ERROR(c.virtualdomains->Save());
    CrashPoint("virtualdomains saved");
  }
  if (c.locals_changed) {
    VM_RETURN_IF_ERROR(Remember(c.locals_path));
    VM_RETURN_IF_ERROR(c.locals->Save());
    CrashPoint("locals saved");
  }
  return Status::OK();
}

Status ControlTransaction::Rollback() {
  Status first_error;
  for (auto it = snapshots_.begin(); it != snapshots_.end();) {
    const std::string& path = it->first;
    const Snapshot& snap = it->second;
    Status s;
    if (snap.existed) {
      std::optional<FileOwner> owner;
      if (RunsAsRoot()) owner = snap.owner;
      s = WriteFileAtomic(path, snap.contents, snap.mode, owner);
    } else if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      s = FromErrno("cannot remove " + path, errno);
    }
    if (s.ok()) {
      it = snapshots_.erase(it);
    } else {
      // Keep the snapshot so a second Rollback() can retry.
      if (first_error.ok()) first_error = s;
      ++it;
    }
  }
  return first_error.WithContext("rollback");
}

namespace {

// Every qmail-send process (not its supervisor or logger), with `only_cwd`
// set: only those whose working directory is that directory. The process
// table is read from `proc_dir` (normally /proc).
Result<int> SignalQmailSendWhere(int signal, const std::string& only_cwd,
                                 const std::string& proc_dir) {
  DIR* proc = opendir(proc_dir.c_str());
  if (proc == nullptr) return FromErrno("cannot open " + proc_dir, errno);
  const pid_t self = getpid();
  int signalled = 0;
  Status error;
  while (struct dirent* entry = readdir(proc)) {
    unsigned long long pid_value = 0;
    if (!ParseUint64(entry->d_name, &pid_value)) continue;
    pid_t pid = static_cast<pid_t>(pid_value);
    if (pid == self) continue;
    std::string dir = proc_dir + "/" + entry->d_name;
    Result<std::string> cmdline = ReadSmallFile(dir + "/cmdline", 1 << 16);
    if (!cmdline.ok()) continue;  // the process may have exited meanwhile
    std::string argv0 = cmdline->substr(0, cmdline->find('\0'));
    size_t slash = argv0.rfind('/');
    std::string name = slash == std::string::npos ? argv0 : argv0.substr(slash + 1);
    if (name != "qmail-send") {
      // Fall back to the kernel's command name (argv may have been rewritten).
      Result<std::string> comm = ReadSmallFile(dir + "/comm", 256);
      if (!comm.ok()) continue;
      std::string c = *comm;
      while (!c.empty() && c.back() == '\n') c.pop_back();
      if (c != "qmail-send") continue;
    }
    std::string flat = *cmdline;
    for (char& ch : flat)
      if (ch == '\0') ch = ' ';
    if (flat.find("supervise") != std::string::npos || flat.find("multilog") != std::string::npos ||
        flat.find("runsv") != std::string::npos || flat.find("svscan") != std::string::npos)
      continue;
    if (!only_cwd.empty()) {
      char cwd[4096];
      ssize_t n = readlink((dir + "/cwd").c_str(), cwd, sizeof cwd - 1);
      if (n < 0 || std::string(cwd, static_cast<size_t>(n)) != only_cwd) continue;
    }
    if (kill(pid, signal) == 0) {
      ++signalled;
    } else if (errno != ESRCH && error.ok()) {
      error = FromErrno(std::string("cannot send ") + (signal == SIGHUP ? "SIGHUP" : signal == SIGALRM ? "SIGALRM" : "a signal") + " to qmail-send (pid " + std::to_string(pid) + ")", errno);
    }
  }
  closedir(proc);
  if (!error.ok()) return error;
  return signalled;
}

}  // namespace

Result<int> SignalQmailSend(int signal, const std::string& proc_dir) {
  return SignalQmailSendWhere(signal, "", proc_dir);
}

Result<int> SignalQmailSendOf(const HostPaths& paths, int signal, const std::string& proc_dir) {
  const std::string queue = paths.OnDisk(paths.qmail_dir + "/queue");
  char* real = realpath(queue.c_str(), nullptr);
  if (real == nullptr) return 0;  // no queue here: no qmail-send uses it
  std::string resolved(real);
  free(real);
  return SignalQmailSendWhere(signal, resolved, proc_dir);
}

}  // namespace vmigrate::qmail
