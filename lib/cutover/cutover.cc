#include "cutover/cutover.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <set>

#include "core/atomic_file.h"
#include "core/crash_point.h"
#include "core/errno_status.h"
#include "core/file_lock.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "cutover/smtp_probe.h"
#include "qmail/control_file.h"
#include "qmail/control_update.h"
#include "qmail/domains.h"
#include "vpopmail/login_lock.h"
#include "vpopmail/user_store.h"

namespace vmigrate::cutover {
namespace {

constexpr char kRecordMagic[] = "vmigrate-cutover 1";

// The write-ahead record of a domain's cutover. Lines "key value"; the
// control lines are kept verbatim so Release() puts back exactly what
// Forward() took away.
struct Record {
  Phase phase = Phase::kHeld;
  std::int64_t held_since = 0;
  std::int64_t forwarded_at = 0;
  std::string forward_to;
  std::vector<std::string> removed_virtualdomains;
  std::vector<std::string> added_smtproutes;
  bool created_smtproutes = false;  // control/smtproutes did not exist before
};

std::int64_t Now() { return static_cast<std::int64_t>(time(nullptr)); }

std::string ToLower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// Everything a step needs to know about the domain on this host.
struct Domain {
  qmail::DomainLocation loc;
  std::string disk;         // the domain directory on disk
  std::string record_path;  // <domains>/.vmigrate-cutover.<domain>
  std::string domains_disk;
  FileLock step_lock;       // one cutover step per domain at a time
};

Result<Domain> OpenDomain(const StepOptions& opt, const std::string& name, bool lock) {
  auto loc = qmail::LocateDomain(opt.paths, name);
  if (!loc.ok()) return loc.status();
  Domain d;
  d.loc = *loc;
  auto dir = ResolveUnderRoot(opt.paths.root, d.loc.dir);
  if (!dir.ok()) return dir.status().WithContext(d.loc.domain + ": domain directory " + d.loc.dir);
  struct stat st;
  if (stat(dir->disk.c_str(), &st) != 0)
    return FromErrno(d.loc.domain + ": domain directory " + d.loc.dir, errno);
  d.disk = dir->disk;
  auto domains = ResolveUnderRoot(opt.paths.root, opt.paths.domains_dir());
  if (!domains.ok()) return domains.status();
  d.domains_disk = domains->disk;
  d.record_path = d.domains_disk + "/.vmigrate-cutover." + d.loc.domain;
  if (lock) {
    auto held = FileLock::Acquire(d.record_path + ".lock");
    if (!held.ok()) return held.status().WithContext(d.loc.domain + ": another cutover step of this domain is running");
    d.step_lock = std::move(*held);
  }
  return d;
}

Phase ParsePhase(const std::string& s, bool* ok) {
  *ok = true;
  if (s == "held") return Phase::kHeld;
  if (s == "forwarding") return Phase::kForwarding;
  if (s == "forwarded") return Phase::kForwarded;
  *ok = false;
  return Phase::kLocal;
}

Result<std::optional<Record>> ReadRecord(const std::string& path) {
  auto text = ReadSmallFile(path, 1 << 20);
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) return std::optional<Record>();
    return text.status();
  }
  std::vector<std::string> lines = SplitLines(*text);
  if (lines.empty() || lines[0] != kRecordMagic) return Status::Corrupt(path + ": not a vmigrate cutover record");
  Record r;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    size_t sp = l.find(' ');
    std::string key = l.substr(0, sp), value = sp == std::string::npos ? "" : l.substr(sp + 1);
    unsigned long long n = 0;
    bool ok = true;
    if (key == "phase") r.phase = ParsePhase(value, &ok);
    else if (key == "held_since") ok = ParseUint64(value, &n), r.held_since = static_cast<std::int64_t>(n);
    else if (key == "forwarded_at") ok = ParseUint64(value, &n), r.forwarded_at = static_cast<std::int64_t>(n);
    else if (key == "forward_to") r.forward_to = value;
    else if (key == "virtualdomains-removed") r.removed_virtualdomains.push_back(value);
    else if (key == "smtproutes-added") r.added_smtproutes.push_back(value);
    else if (key == "smtproutes-created") r.created_smtproutes = true;
    else ok = false;
    if (!ok) return Status::Corrupt(path + " line " + std::to_string(i + 1) + ": unexpected '" + EscapeC(l) + "'");
  }
  return std::optional<Record>(std::move(r));
}

Status WriteRecord(const std::string& path, const Record& r) {
  std::string text = std::string(kRecordMagic) + "\n";
  text += std::string("phase ") + PhaseName(r.phase) + "\n";
  text += "held_since " + std::to_string(r.held_since) + "\n";
  if (r.forwarded_at) text += "forwarded_at " + std::to_string(r.forwarded_at) + "\n";
  if (!r.forward_to.empty()) text += "forward_to " + r.forward_to + "\n";
  for (const auto& l : r.removed_virtualdomains) text += "virtualdomains-removed " + l + "\n";
  for (const auto& l : r.added_smtproutes) text += "smtproutes-added " + l + "\n";
  if (r.created_smtproutes) text += "smtproutes-created\n";
  return WriteFileAtomic(path, text, 0600);
}

// The hold bit. chmod() follows a symlinked domain directory, as
// qmail-local's chdir + stat(".") does.
Result<bool> SetSticky(const Domain& d, bool on) {
  struct stat st;
  if (stat(d.disk.c_str(), &st) != 0) return FromErrno(d.loc.domain + ": cannot stat " + d.loc.dir, errno);
  bool has = (st.st_mode & S_ISVTX) != 0;
  if (has == on) return false;
  mode_t mode = (st.st_mode & 07777) ^ S_ISVTX;
  if (chmod(d.disk.c_str(), mode) != 0) return FromErrno(d.loc.domain + ": cannot chmod " + d.loc.dir, errno);
  return true;
}

Result<bool> IsSticky(const Domain& d) {
  struct stat st;
  if (stat(d.disk.c_str(), &st) != 0) return FromErrno(d.loc.domain + ": cannot stat " + d.loc.dir, errno);
  return (st.st_mode & S_ISVTX) != 0;
}

void Signal(const StepOptions& opt, int sig, StepResult* out) {
  if (!opt.reload) return;
  auto n = qmail::SignalQmailSend(sig);
  if (!n.ok()) out->warnings.push_back(n.status().message());
}

// The domain and its alias domains, lower-cased: the keys qmail routes by.
std::vector<std::string> RoutedNames(const Domain& d) {
  std::vector<std::string> names{ToLower(d.loc.domain)};
  for (const auto& a : d.loc.aliases) names.push_back(ToLower(a));
  return names;
}

// The virtualdomains lines that make the domain and its alias domains
// virtual here. vpopmail 5.4.33 writes "D:D" for the domain and "A:A" for
// an alias domain (whose users/assign line "+A-" then points at D's
// directory; FMT §3.5, §4.3, the real-small fixture); "A:D" is accepted
// too. Lines mapping them anywhere else are the admin's and stay.
std::vector<std::string> VirtualLines(const Domain& d, const qmail::ControlFile& vd) {
  std::set<std::string> names;
  for (const auto& n : RoutedNames(d)) names.insert(n);
  std::vector<std::string> out;
  for (const std::string& line : vd.lines()) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (names.count(ToLower(line.substr(0, colon))) && names.count(ToLower(line.substr(colon + 1))))
      out.push_back(line);
  }
  return out;
}

// A virtualdomains line that would catch the domain once its own line is
// gone (".suffix" or the empty key, §1.1): forwarding would then deliver
// the mail to someone else's directory, or bounce it.
std::string CatchingLine(const std::string& name, const qmail::ControlFile& vd,
                         const std::vector<std::string>& removing) {
  for (const std::string& line : vd.lines()) {
    bool ours = false;
    for (const auto& r : removing) ours |= r == line;
    size_t colon = line.find(':');
    if (ours || colon == std::string::npos) continue;
    std::string key = ToLower(line.substr(0, colon));
    if (key.empty()) return line;
    if (key[0] == '.' && name.size() > key.size() && name.compare(name.size() - key.size(), key.size(), key) == 0)
      return line;
  }
  return "";
}

std::string RouteLine(const std::string& name, const ForwardTarget& to) {
  return name + ":" + to.host + (to.port == 25 ? "" : ":" + std::to_string(to.port));
}

// The recipients of forward's SMTP check: one real user of the domain
// (not postmaster when there is another), postmaster@ of the domain and of
// each alias domain.
Result<std::vector<std::string>> ProbeRecipients(const StepOptions& opt, const Domain& d) {
  auto store = vpopmail::OpenUserStore(opt.paths);
  auto users = vpopmail::ReadUsersUnlocked(store.get(), opt.paths, d.loc);
  if (!users.ok()) return users.status();
  std::vector<std::string> rcpts;
  for (const auto& u : *users) {
    if (u.name != "postmaster") {
      rcpts.push_back(u.name + "@" + d.loc.domain);
      break;
    }
  }
  rcpts.push_back("postmaster@" + d.loc.domain);
  for (const auto& a : d.loc.aliases) rcpts.push_back("postmaster@" + a);
  return rcpts;
}

std::string HeloName(const StepOptions& opt) {
  auto me = ReadSmallFile(opt.paths.OnDisk(opt.paths.control_file("me")), 4096);
  if (me.ok()) {
    std::vector<std::string> lines = SplitLines(*me);
    if (!lines.empty() && !lines[0].empty()) return lines[0];
  }
  return "localhost";
}

// Runs qmail-tcpok (§2.3): held mail relayed to the new host must not wait
// for an address qmail-remote marked as failing earlier. Only on the
// running system; a missing program is not an error.
void TcpOk(const StepOptions& opt, StepResult* out) {
  if (opt.paths.root != "/" || !opt.reload) return;
  const std::string prog = opt.paths.qmail_dir + "/bin/qmail-tcpok";
  if (access(prog.c_str(), X_OK) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    execl(prog.c_str(), prog.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int wstatus = 0;
  if (pid < 0 || waitpid(pid, &wstatus, 0) < 0 || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
    out->warnings.push_back(prog + " failed; mail relayed to the new host may wait for qmail's next retry");
}

void QueueWarnings(const StepOptions& opt, const Domain& d, std::int64_t now, CutoverStatus* st) {
  auto lifetime = ReadQueueLifetime(opt.paths.OnDisk(opt.paths.qmail_dir + "/control"));
  st->queuelifetime = lifetime.ok() ? *lifetime : 604800;
  auto count = CountQueued(opt.paths.OnDisk(opt.paths.qmail_dir + "/queue"), RoutedNames(d));
  if (!count.ok()) {
    if (count.status().code() != Status::Code::kNotFound)
      st->warnings.push_back("cannot read qmail's queue: " + count.status().message());
    return;
  }
  st->queue = *count;
  st->queue_read = true;
  if (st->queue.oldest_birth > 0) {
    std::int64_t age = now - st->queue.oldest_birth;
    // A held message bounces once it is queuelifetime old (§2.3); warn at half.
    if (age * 2 >= st->queuelifetime) {
      st->warnings.push_back("the oldest message queued for " + d.loc.domain + " is " + std::to_string(age / 3600) +
                             " h old; qmail bounces it at queuelifetime (" +
                             std::to_string(st->queuelifetime / 3600) +
                             " h): forward or release the domain before then");
    }
  }
}

Status RemoveRecord(const Domain& d) {
  if (unlink(d.record_path.c_str()) != 0 && errno != ENOENT) return FromErrno("cannot remove " + d.record_path, errno);
  return SyncDirectory(d.domains_disk);
}

}  // namespace

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kLocal: return "local";
    case Phase::kHeld: return "held";
    case Phase::kForwarding: return "forwarding";
    case Phase::kForwarded: return "forwarded";
  }
  return "local";
}

std::string ForwardTarget::Text() const { return host + ":" + std::to_string(port); }

Result<ForwardTarget> ParseForwardTarget(const std::string& text) {
  const Status bad = Status::InvalidInput("--to " + text + ": expected HOST[:PORT]");
  ForwardTarget t;
  std::string rest;
  if (!text.empty() && text[0] == '[') {  // [IPv6]:port, as smtproutes writes it
    size_t close = text.find(']');
    if (close == std::string::npos) return bad;
    t.host = text.substr(0, close + 1);
    rest = text.substr(close + 1);
  } else {
    size_t colon = text.find(':');
    if (colon != std::string::npos && text.find(':', colon + 1) != std::string::npos) return bad;
    t.host = text.substr(0, colon);
    if (colon != std::string::npos) rest = text.substr(colon);
  }
  if (t.host.empty() || t.host.find_first_of(" \t\n@/") != std::string::npos) return bad;
  if (!rest.empty()) {
    unsigned long long p = 0;
    if (rest[0] != ':' || !ParseUint64(rest.substr(1), &p) || p == 0 || p > 65535)
      return Status::InvalidInput("--to " + text + ": the port must be a number from 1 to 65535");
    t.port = static_cast<std::uint16_t>(p);
  }
  return t;
}

Result<StepResult> Hold(const StepOptions& opt, const std::string& name) {
  auto d = OpenDomain(opt, name, true);
  if (!d.ok()) return d.status();
  auto record = ReadRecord(d->record_path);
  if (!record.ok()) return record.status();
  StepResult out;
  out.phase = Phase::kHeld;
  if (record->has_value() && (*record)->phase != Phase::kHeld) {
    return Status::Conflict(d->loc.domain + " is already " + PhaseName((*record)->phase) + " to " +
                            (*record)->forward_to + "; `vmigrate cutover release " + d->loc.domain +
                            "` first to hold it again");
  }
  if (!record->has_value()) {
    Record r;
    r.held_since = Now();
    VM_RETURN_IF_ERROR(WriteRecord(d->record_path, r));
    out.changed = true;
  }
  CrashPoint("hold: record written");
  auto sticky = SetSticky(*d, true);
  if (!sticky.ok()) return sticky.status();
  if (*sticky) out.actions.push_back("sticky bit set on " + d->loc.dir + ": qmail defers its mail");
  CrashPoint("hold: sticky bit set");
  auto logins = vpopmail::SetLoginLock(opt.paths, d->loc, true);
  if (!logins.ok()) return logins.status();
  if (*logins) out.actions.push_back("logins blocked (NO_POP, NO_IMAP, NO_WEBMAIL)");
  out.changed = out.changed || *sticky || *logins;
  CutoverStatus st;
  QueueWarnings(opt, *d, Now(), &st);
  out.warnings = st.warnings;
  return out;
}

Result<StepResult> Forward(const StepOptions& opt, const std::string& name, const ForwardTarget& to) {
  auto d = OpenDomain(opt, name, true);
  if (!d.ok()) return d.status();
  auto read = ReadRecord(d->record_path);
  if (!read.ok()) return read.status();
  if (!read->has_value())
    return Status::InvalidInput(d->loc.domain + " is not held: run `vmigrate cutover hold " + d->loc.domain +
                                "`, import the final delta on " + to.host + ", then forward");
  Record r = **read;
  StepResult out;
  if (r.phase != Phase::kHeld && r.forward_to != to.Text())
    return Status::Conflict(d->loc.domain + " is already " + PhaseName(r.phase) + " to " + r.forward_to +
                            "; release it first to forward it elsewhere");
  const std::string vd_path = opt.paths.OnDisk(opt.paths.control_file("virtualdomains"));
  const std::string routes_path = opt.paths.OnDisk(opt.paths.control_file("smtproutes"));
  if (r.phase == Phase::kHeld) {
    // The new host must take the domain before anything is routed to it:
    // a 553 there would bounce every forwarded message (§1.2, §3.2).
    auto rcpts = ProbeRecipients(opt, *d);
    if (!rcpts.ok()) return rcpts.status();
    SmtpProbeResult probe;
    Status s = ProbeSmtp(to.host, to.port, HeloName(opt), *rcpts, opt.smtp_timeout_seconds, &probe);
    if (!s.ok()) return s.WithContext(d->loc.domain + ": the new host does not accept the domain; nothing was changed");
    auto vd = qmail::ControlFile::Load(vd_path);
    if (!vd.ok()) return vd.status();
    auto routes = qmail::ControlFile::Load(routes_path);
    if (!routes.ok()) return routes.status();
    r.removed_virtualdomains = VirtualLines(*d, *vd);
    r.created_smtproutes = !routes->present();
    for (const auto& n : RoutedNames(*d)) {
      std::string catching = CatchingLine(n, *vd, r.removed_virtualdomains);
      if (!catching.empty())
        return Status::Conflict(d->loc.domain + ": control/virtualdomains line '" + catching + "' would catch " + n +
                                " once its own line is removed; nothing was changed");
      std::string mine = RouteLine(n, to);
      for (const std::string& line : routes->lines()) {
        if (line != mine && ToLower(line.substr(0, line.find(':'))) == n)
          return Status::Conflict(d->loc.domain + ": control/smtproutes already routes " + n + " ('" + line +
                                  "'); nothing was changed");
      }
      r.added_smtproutes.push_back(mine);
    }
    r.phase = Phase::kForwarding;
    r.forward_to = to.Text();
    VM_RETURN_IF_ERROR(WriteRecord(d->record_path, r));
    out.changed = true;
  }
  CrashPoint("forward: record written");
  {
    // The route first: mail that goes remote the moment virtualdomains
    // loses the domain must already find it.
    auto vd_lock = FileLock::Acquire(vd_path + ".lock");
    if (!vd_lock.ok()) return vd_lock.status().WithContext("control/virtualdomains.lock");
    auto routes_lock = FileLock::Acquire(routes_path + ".lock");
    if (!routes_lock.ok()) return routes_lock.status().WithContext("control/smtproutes.lock");
    auto routes = qmail::ControlFile::Load(routes_path);
    if (!routes.ok()) return routes.status();
    bool routes_changed = false;
    for (const auto& l : r.added_smtproutes) routes_changed |= routes->Append(l);
    if (routes_changed) {
      VM_RETURN_IF_ERROR(routes->Save());
      out.actions.push_back("control/smtproutes routes the domain to " + to.Text());
    }
    CrashPoint("forward: smtproutes written");
    auto vd = qmail::ControlFile::Load(vd_path);
    if (!vd.ok()) return vd.status();
    bool vd_changed = false;
    for (const auto& l : r.removed_virtualdomains) vd_changed |= vd->Remove(l);
    if (vd_changed) {
      VM_RETURN_IF_ERROR(vd->Save());
      out.actions.push_back("control/virtualdomains no longer maps the domain: new mail goes to " + to.host);
    }
    CrashPoint("forward: virtualdomains written");
    out.changed = out.changed || routes_changed || vd_changed;
  }
  Signal(opt, SIGHUP, &out);
  // Un-hold: held deliveries stay on the local channel (§1.1) and land in
  // the old Maildirs, for the tail delta; forwards and the catch-all are
  // re-queued and relayed to the new host (§3.3).
  auto sticky = SetSticky(*d, false);
  if (!sticky.ok()) return sticky.status();
  if (*sticky) out.actions.push_back("sticky bit cleared: held mail is delivered (Maildirs here, forwards to " + to.host + ")");
  CrashPoint("forward: sticky bit cleared");
  TcpOk(opt, &out);
  Signal(opt, SIGALRM, &out);
  if (r.phase != Phase::kForwarded) {
    r.phase = Phase::kForwarded;
    r.forwarded_at = Now();
    VM_RETURN_IF_ERROR(WriteRecord(d->record_path, r));
    out.changed = true;
  }
  out.changed = out.changed || *sticky;
  out.phase = Phase::kForwarded;
  return out;
}

Result<StepResult> Release(const StepOptions& opt, const std::string& name) {
  auto d = OpenDomain(opt, name, true);
  if (!d.ok()) return d.status();
  auto read = ReadRecord(d->record_path);
  if (!read.ok()) return read.status();
  StepResult out;
  out.phase = Phase::kLocal;
  if (read->has_value() && (!(*read)->removed_virtualdomains.empty() || !(*read)->added_smtproutes.empty())) {
    const Record& r = **read;
    const std::string vd_path = opt.paths.OnDisk(opt.paths.control_file("virtualdomains"));
    const std::string routes_path = opt.paths.OnDisk(opt.paths.control_file("smtproutes"));
    auto vd_lock = FileLock::Acquire(vd_path + ".lock");
    if (!vd_lock.ok()) return vd_lock.status().WithContext("control/virtualdomains.lock");
    auto routes_lock = FileLock::Acquire(routes_path + ".lock");
    if (!routes_lock.ok()) return routes_lock.status().WithContext("control/smtproutes.lock");
    // virtualdomains back before the route goes: a message must always
    // find either its local mapping or its route.
    auto vd = qmail::ControlFile::Load(vd_path);
    if (!vd.ok()) return vd.status();
    bool vd_changed = false;
    for (const auto& l : r.removed_virtualdomains) vd_changed |= vd->InsertSorted(l);
    if (vd_changed) {
      VM_RETURN_IF_ERROR(vd->Save());
      out.actions.push_back("control/virtualdomains maps the domain here again");
    }
    CrashPoint("release: virtualdomains written");
    auto routes = qmail::ControlFile::Load(routes_path);
    if (!routes.ok()) return routes.status();
    bool routes_changed = false;
    for (const auto& l : r.added_smtproutes) routes_changed |= routes->Remove(l);
    if (routes_changed && r.created_smtproutes && routes->lines().empty()) {
      // Forward created the file: it goes, as it was before.
      if (unlink(routes_path.c_str()) != 0 && errno != ENOENT) return FromErrno("cannot remove " + routes_path, errno);
      VM_RETURN_IF_ERROR(SyncDirectory(opt.paths.OnDisk(opt.paths.qmail_dir + "/control")));
      out.actions.push_back("control/smtproutes no longer routes the domain");
    } else if (routes_changed) {
      VM_RETURN_IF_ERROR(routes->Save());
      out.actions.push_back("control/smtproutes no longer routes the domain");
    }
    CrashPoint("release: smtproutes written");
    if (vd_changed) Signal(opt, SIGHUP, &out);
    out.changed = vd_changed || routes_changed;
  }
  auto sticky = SetSticky(*d, false);
  if (!sticky.ok()) return sticky.status();
  if (*sticky) out.actions.push_back("sticky bit cleared: held mail is delivered here");
  CrashPoint("release: sticky bit cleared");
  auto logins = vpopmail::SetLoginLock(opt.paths, d->loc, false);
  if (!logins.ok()) return logins.status();
  if (*logins) out.actions.push_back("logins open again");
  Signal(opt, SIGALRM, &out);
  if (read->has_value()) VM_RETURN_IF_ERROR(RemoveRecord(*d));
  out.changed = out.changed || *sticky || *logins || read->has_value();
  return out;
}

Result<StepResult> SetLogins(const StepOptions& opt, const std::string& name, bool block) {
  auto d = OpenDomain(opt, name, true);
  if (!d.ok()) return d.status();
  StepResult out;
  auto changed = vpopmail::SetLoginLock(opt.paths, d->loc, block);
  if (!changed.ok()) return changed.status();
  out.changed = *changed;
  if (*changed) out.actions.push_back(block ? "logins blocked (NO_POP, NO_IMAP, NO_WEBMAIL)" : "logins open again");
  auto read = ReadRecord(d->record_path);
  if (read.ok() && read->has_value()) out.phase = (*read)->phase;
  return out;
}

Result<CutoverStatus> ReadStatus(const StepOptions& opt, const std::string& name) {
  auto d = OpenDomain(opt, name, false);
  if (!d.ok()) return d.status();
  auto read = ReadRecord(d->record_path);
  if (!read.ok()) return read.status();
  CutoverStatus st;
  st.domain = d->loc.domain;
  st.aliases = d->loc.aliases;
  st.now = Now();
  auto sticky = IsSticky(*d);
  if (!sticky.ok()) return sticky.status();
  st.sticky = *sticky;
  auto logins = vpopmail::IsLoginLocked(opt.paths, d->loc);
  if (!logins.ok()) return logins.status();
  st.logins_blocked = *logins;
  if (read->has_value()) {
    const Record& r = **read;
    st.phase = r.phase;
    st.held_since = r.held_since;
    st.forwarded_at = r.forwarded_at;
    st.forwarded_to = r.forward_to;
    if (r.phase == Phase::kHeld && !st.sticky)
      st.warnings.push_back("the hold was interrupted: run `vmigrate cutover hold " + st.domain + "` again");
    if (r.phase == Phase::kForwarding)
      st.warnings.push_back("the forward was interrupted: run `vmigrate cutover forward " + st.domain + " --to " +
                            r.forward_to + "` again, or release");
  } else if (st.sticky) {
    st.warnings.push_back(d->loc.dir + " has the sticky bit, so qmail defers all its mail, but no cutover holds it: "
                          "`vmigrate cutover release " + st.domain + "` clears it");
  }
  QueueWarnings(opt, *d, st.now, &st);
  if (st.phase == Phase::kForwarded && st.pending() > 0)
    st.warnings.push_back(std::to_string(st.pending()) + " message(s) for the domain are still in this host's "
                          "queue: run the tail delta again once they are delivered");
  return st;
}

}  // namespace vmigrate::cutover
