#include "importer/delta_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/crash_point.h"
#include "core/errno_status.h"
#include "core/strings.h"
#include "qmail/assign.h"
#include "qmail/control_file.h"
#include "qmail/control_update.h"

namespace vmigrate {

constexpr const char* kJournalMagic = "vmigrate-delta-journal 1";

bool ParseJournalMtime(const std::string& s, struct timespec* t) {
  size_t dot = s.find('.');
  unsigned long long sec = 0, nsec = 0;
  if (dot == std::string::npos || s.size() - dot - 1 != 9 || !ParseUint64(s.substr(0, dot), &sec) ||
      !ParseUint64(s.substr(dot + 1), &nsec) || nsec > 999999999ULL)
    return false;
  t->tv_sec = static_cast<time_t>(sec);
  t->tv_nsec = static_cast<long>(nsec);
  return true;
}

bool ParseJournalMode(const std::string& s, mode_t* mode) {
  char* end = nullptr;
  unsigned long v = std::strtoul(s.c_str(), &end, 8);
  if (s.empty() || *end != '\0' || v > 07777) return false;
  *mode = static_cast<mode_t>(v);
  return true;
}

std::string JournalMtime(const struct timespec& t) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(t.tv_sec), t.tv_nsec);
  return buf;
}

std::string JournalMode(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status WriteDeltaJournal(const std::string& journal_dir, const std::vector<std::vector<std::string>>& steps) {
  std::string text = std::string(kJournalMagic) + "\n";
  for (const auto& step : steps) {
    std::vector<std::string> escaped;
    for (const auto& f : step) escaped.push_back(EscapeC(f));
    text += Join(escaped, "\t") + "\n";
  }
  return WriteFileAtomic(journal_dir + "/journal", text, 0600);
}

namespace {

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// Moves a staged file or symlink onto `to` across filesystems (a home on
// other storage): a copy beside `to`, synced, then renamed over it.
Status CopyInto(const std::string& from, const std::string& to) {
  struct stat st;
  if (lstat(from.c_str(), &st) != 0) return FromErrno("cannot stat " + from, errno);
  std::string tmp = DirName(to) + "/.vmigrate-tmp." + BaseName(to);
  unlink(tmp.c_str());
  if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t n = readlink(from.c_str(), buf, sizeof buf - 1);
    if (n < 0) return FromErrno("cannot read link " + from, errno);
    if (symlink(std::string(buf, static_cast<size_t>(n)).c_str(), tmp.c_str()) != 0)
      return FromErrno("cannot create " + tmp, errno);
    if (lchown(tmp.c_str(), st.st_uid, st.st_gid) != 0 && geteuid() == 0) return FromErrno("cannot chown " + tmp, errno);
  } else {
    int in = open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) return FromErrno("cannot open " + from, errno);
    int out = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
      close(in);
      return FromErrno("cannot create " + tmp, errno);
    }
    char buf[65536];
    ssize_t n;
    bool ok = true;
    while (ok && (n = read(in, buf, sizeof buf)) != 0) {
      if (n < 0) {
        if (errno == EINTR) continue;
        ok = false;
        break;
      }
      ok = write(out, buf, static_cast<size_t>(n)) == n;
    }
    if (geteuid() == 0) ok = ok && fchown(out, st.st_uid, st.st_gid) == 0;
    ok = ok && fchmod(out, st.st_mode & 07777) == 0;
    struct timespec times[2] = {st.st_mtim, st.st_mtim};
    ok = ok && futimens(out, times) == 0 && fsync(out) == 0;
    int err = errno;
    close(in);
    if (close(out) != 0 && ok) {
      ok = false;
      err = errno;
    }
    if (!ok) {
      unlink(tmp.c_str());
      return FromErrno("cannot copy " + from + " to " + tmp, err);
    }
  }
  struct timespec times[2] = {st.st_mtim, st.st_mtim};
  utimensat(AT_FDCWD, tmp.c_str(), times, AT_SYMLINK_NOFOLLOW);
  if (rename(tmp.c_str(), to.c_str()) != 0) return FromErrno("cannot move " + tmp + " to " + to, errno);
  unlink(from.c_str());
  return Status::OK();
}

// Removes an alias domain the way vdeldomain does for one: its users/assign
// line, its rcpthosts or morercpthosts line, its virtualdomains line; then
// users/cdb and morercpthosts.cdb. Idempotent (missing lines are fine).
Status RemoveAliasDomain(const HostPaths& paths, const std::string& alias) {
  qmail::ControlUpdateOptions copt;
  qmail::ControlTransaction tx(paths, copt);
  VM_RETURN_IF_ERROR(tx.Lock());
  const std::string assign_path = paths.OnDisk(paths.assign_file());
  auto assign = qmail::ControlFile::Load(assign_path, true);
  if (!assign.ok()) return assign.status();
  bool changed = false;
  for (const std::string& line : std::vector<std::string>(assign->lines()))
    if (StartsWith(line, "+" + alias + "-:")) changed |= assign->Remove(line);
  if (changed) {
    VM_RETURN_IF_ERROR(assign->Save());
    VM_RETURN_IF_ERROR(qmail::WriteUsersCdb(assign->Text(), paths.OnDisk(paths.qmail_dir + "/users/cdb")));
  }
  for (const char* name : {"rcpthosts", "morercpthosts", "virtualdomains"}) {
    const std::string path = paths.OnDisk(paths.control_file(name));
    auto cf = qmail::ControlFile::Load(path);
    if (!cf.ok()) return cf.status();
    std::string line = std::string(name) == "virtualdomains" ? alias + ":" + alias : alias;
    if (!cf->Remove(line)) continue;
    VM_RETURN_IF_ERROR(cf->Save());
    if (std::string(name) == "morercpthosts")
      VM_RETURN_IF_ERROR(qmail::WriteMoreRcpthostsCdb(cf->Text(), paths.OnDisk(paths.control_file("morercpthosts.cdb"))));
  }
  return Status::OK();
}

Status RunStep(const std::vector<std::string>& f, const HostPaths& paths, const std::optional<FileOwner>& owner) {
  const std::string& verb = f[0];
  auto need = [&](size_t n) {
    return f.size() == n ? Status::OK() : Status::Corrupt("delta journal: bad step '" + EscapeC(Join(f, " ")) + "'");
  };
  struct stat st;
  if (verb == "unlink") {
    VM_RETURN_IF_ERROR(need(2));
    if (unlink(f[1].c_str()) != 0 && errno != ENOENT) return FromErrno("cannot remove " + f[1], errno);
  } else if (verb == "rmtree") {
    VM_RETURN_IF_ERROR(need(2));
    std::error_code ec;
    std::filesystem::remove_all(f[1], ec);
    if (ec) return FromErrorCode("cannot remove " + f[1], ec);
  } else if (verb == "rename") {
    VM_RETURN_IF_ERROR(need(3));
    if (lstat(f[1].c_str(), &st) == 0 && rename(f[1].c_str(), f[2].c_str()) != 0)
      return FromErrno("cannot rename " + f[1] + " to " + f[2], errno);
  } else if (verb == "mkdir") {
    VM_RETURN_IF_ERROR(need(2));
    if (mkdir(f[1].c_str(), 0700) != 0) {
      if (errno != EEXIST) return FromErrno("cannot create " + f[1], errno);
    } else if (owner && lchown(f[1].c_str(), owner->uid, owner->gid) != 0) {
      return FromErrno("cannot chown " + f[1], errno);
    }
  } else if (verb == "put") {
    VM_RETURN_IF_ERROR(need(3));
    if (lstat(f[1].c_str(), &st) != 0) return Status::OK();  // done before
    if (rename(f[1].c_str(), f[2].c_str()) != 0) {
      if (errno != EXDEV) return FromErrno("cannot move " + f[1] + " to " + f[2], errno);
      VM_RETURN_IF_ERROR(CopyInto(f[1], f[2]));
    }
  } else if (verb == "meta") {
    VM_RETURN_IF_ERROR(need(4));
    mode_t mode;
    struct timespec t;
    if (!ParseJournalMode(f[2], &mode) || !ParseJournalMtime(f[3], &t)) return need(0);
    if (lstat(f[1].c_str(), &st) != 0) return Status::OK();
    if (!S_ISLNK(st.st_mode) && (st.st_mode & 07777) != mode && chmod(f[1].c_str(), mode) != 0)
      return FromErrno("cannot chmod " + f[1], errno);
    struct timespec times[2] = {t, t};
    if (utimensat(AT_FDCWD, f[1].c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return FromErrno("cannot set the mtime of " + f[1], errno);
  } else if (verb == "alias-add") {
    VM_RETURN_IF_ERROR(need(6));
    unsigned long long uid = 0, gid = 0;
    if (!ParseUint64(f[3], &uid) || !ParseUint64(f[4], &gid)) return need(0);
    qmail::ControlUpdateOptions copt;
    qmail::ControlTransaction tx(paths, copt);
    VM_RETURN_IF_ERROR(tx.Lock());
    qmail::DomainAssign a;
    a.domain = f[1];
    a.real_domain = f[2];
    a.uid = static_cast<uid_t>(uid);
    a.gid = static_cast<gid_t>(gid);
    a.dir = f[5];
    Status s = tx.Apply({a});
    if (!s.ok()) {
      Status rb = tx.Rollback();
      return rb.ok() ? s : s.WithContext("rollback also failed (" + rb.message() + ")");
    }
  } else if (verb == "alias-remove") {
    VM_RETURN_IF_ERROR(need(2));
    VM_RETURN_IF_ERROR(RemoveAliasDomain(paths, f[1]));
  } else {
    return need(0);
  }
  return Status::OK();
}

}  // namespace

Status RunDeltaJournal(const std::string& journal_dir, const HostPaths& paths,
                       const std::optional<FileOwner>& owner) {
  auto text = ReadSmallFile(journal_dir + "/journal", 1u << 30);
  if (!text.ok()) return text.status().WithContext("delta journal");
  std::vector<std::string> lines = SplitLines(*text);
  if (lines.empty() || lines[0] != kJournalMagic)
    return Status::Corrupt(journal_dir + "/journal: unknown format; check the domain and remove it by hand");
  size_t n = 0;
  for (size_t k = 1; k < lines.size(); ++k) {
    std::vector<std::string> raw = Split(lines[k], '\t');
    std::vector<std::string> f(raw.size());
    for (size_t i = 0; i < raw.size(); ++i)
      if (!UnescapeC(raw[i], &f[i])) return Status::Corrupt(journal_dir + "/journal: bad line " + std::to_string(k + 1));
    if (f[0] == "result") continue;
    VM_RETURN_IF_ERROR(RunStep(f, paths, owner).WithContext("applying the delta"));
    if (++n % 7 == 0) CrashPoint("delta step");
  }
  return Status::OK();
}


}  // namespace vmigrate
