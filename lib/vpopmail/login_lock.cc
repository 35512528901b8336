#include "vpopmail/login_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/atomic_file.h"
#include "core/crash_point.h"
#include "core/errno_status.h"
#include "core/file_lock.h"
#include "core/resolve_path.h"
#include "core/strings.h"

namespace vmigrate::vpopmail {

const char kLoginLockFile[] = ".vmigrate-login-lock";

namespace {

constexpr char kMagic[] = "vmigrate-login-lock 1";

bool ParseGid(const std::string& text, std::uint32_t* out) {
  unsigned long long v = 0;
  if (!ParseUint64(text, &v) || v > 0xffffffffULL) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

Result<std::string> DomainDisk(const HostPaths& paths, const qmail::DomainLocation& where) {
  auto dir = ResolveUnderRoot(paths.root, where.dir);
  if (!dir.ok()) return dir.status().WithContext(where.domain + ": domain directory " + where.dir);
  return dir->disk;
}

}  // namespace

Result<std::optional<LoginLock>> ReadLoginLock(const std::string& domain_disk) {
  const std::string path = domain_disk + "/" + kLoginLockFile;
  auto text = ReadSmallFile(path, 16u << 20);
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) return std::optional<LoginLock>();
    return text.status();
  }
  std::vector<std::string> lines = SplitLines(*text);
  if (lines.empty() || lines[0] != kMagic) return Status::Corrupt(path + ": not a vmigrate login lock record");
  LoginLock lock;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t tab = lines[i].rfind('\t');
    unsigned long long bits = 0;
    if (tab == std::string::npos || tab == 0 || !ParseUint64(lines[i].substr(tab + 1), &bits) ||
        (bits & ~static_cast<unsigned long long>(kLoginLockBits)) != 0)
      return Status::Corrupt(path + " line " + std::to_string(i + 1) + ": expected USER<TAB>BITS");
    lock.added[lines[i].substr(0, tab)] = static_cast<std::uint32_t>(bits);
  }
  return std::optional<LoginLock>(std::move(lock));
}

Status WriteLoginLock(const std::string& domain_disk, const LoginLock& lock) {
  std::string text = std::string(kMagic) + "\n";
  // vpasswd names never hold a tab or newline (vpopmail refuses them), so
  // the name needs no escaping.
  for (const auto& [name, bits] : lock.added) text += name + "\t" + std::to_string(bits) + "\n";
  return WriteFileAtomic(domain_disk + "/" + kLoginLockFile, text, 0600);
}

void ApplyUnlockedView(const LoginLock& lock, std::vector<VpasswdEntry>* entries) {
  for (VpasswdEntry& e : *entries) {
    auto it = lock.added.find(e.name);
    std::uint32_t gid = 0;
    if (it == lock.added.end() || it->second == 0 || !ParseGid(e.gid, &gid)) continue;
    if ((gid & it->second) != 0) e.gid = std::to_string(gid & ~it->second);
  }
}

Status ApplyLock(LoginLock* lock, std::vector<VpasswdEntry>* entries) {
  for (VpasswdEntry& e : *entries) {
    std::uint32_t gid = 0;
    if (!ParseGid(e.gid, &gid))
      return Status::Corrupt("user '" + EscapeC(e.name) + "': pw_gid '" + EscapeC(e.gid) + "' is not a number");
    auto it = lock->added.find(e.name);
    // The bits this user had before any lock: a user already recorded keeps
    // its record, so a re-run never mistakes our own bits for the user's.
    std::uint32_t original = it == lock->added.end() ? gid : gid & ~it->second;
    std::uint32_t added = kLoginLockBits & ~original;
    lock->added[e.name] = added;
    if ((original | added) != gid) e.gid = std::to_string(original | added);
  }
  return Status::OK();
}

Result<std::vector<VpasswdEntry>> ReadUsersUnlocked(UserStore* store, const HostPaths& paths,
                                                    const qmail::DomainLocation& where) {
  auto users = store->ReadUsers(where);
  if (!users.ok()) return users;
  auto dir = DomainDisk(paths, where);
  if (!dir.ok()) return dir.status();
  auto lock = ReadLoginLock(*dir);
  if (!lock.ok()) return lock.status().WithContext(where.domain);
  if (lock->has_value()) ApplyUnlockedView(**lock, &*users);
  return users;
}

namespace {

// The domain directory's mtime is part of the domain's state
// (state-format.md): the lock's own writes inside it (the record, the
// renamed vpasswd files) must not make a locked domain look changed.
// Restored once on every return, under .vpasswd.lock, which keeps vpopmail's
// tools from writing there meanwhile.
class KeepMtime {
 public:
  explicit KeepMtime(std::string dir) : dir_(std::move(dir)) {
    struct stat st;
    ok_ = stat(dir_.c_str(), &st) == 0;
    if (ok_) mtime_ = st.st_mtim;
  }
  ~KeepMtime() {
    if (!ok_) return;
    struct timespec t[2];
    t[0].tv_sec = 0;
    t[0].tv_nsec = UTIME_OMIT;
    t[1] = mtime_;
    utimensat(AT_FDCWD, dir_.c_str(), t, 0);
  }
  KeepMtime(const KeepMtime&) = delete;
  KeepMtime& operator=(const KeepMtime&) = delete;

 private:
  std::string dir_;
  bool ok_ = false;
  struct timespec mtime_ {};
};

}  // namespace

Result<bool> SetLoginLock(const HostPaths& paths, const qmail::DomainLocation& where, bool lock) {
  auto dir = DomainDisk(paths, where);
  if (!dir.ok()) return dir.status();
  auto held = FileLock::Acquire(*dir + "/.vpasswd.lock");
  if (!held.ok())
    return held.status().WithContext(where.domain + ": a vpopmail tool or an import holds .vpasswd.lock");
  KeepMtime keep(*dir);
  auto record = ReadLoginLock(*dir);
  if (!record.ok()) return record.status().WithContext(where.domain);
  auto store = OpenUserStore(paths);
  auto users = store->ReadUsers(where);
  if (!users.ok()) return users.status();
  const std::vector<VpasswdEntry> before = *users;
  bool changed = false;
  if (lock) {
    LoginLock next = record->value_or(LoginLock{});
    VM_RETURN_IF_ERROR(ApplyLock(&next, &*users).WithContext(where.domain));
    // The record first: from then on every reader sees the unlocked view,
    // whether or not the accounts below were written yet.
    if (!record->has_value() || record->value().added != next.added) {
      VM_RETURN_IF_ERROR(WriteLoginLock(*dir, next).WithContext(where.domain));
      changed = true;
    }
    CrashPoint("login-lock: record written");
    if (*users != before) {
      VM_RETURN_IF_ERROR(store->ReplaceUsers(where, *users));
      changed = true;
    }
    return changed;
  }
  if (!record->has_value()) return false;
  ApplyUnlockedView(**record, &*users);
  if (*users != before) VM_RETURN_IF_ERROR(store->ReplaceUsers(where, *users));
  CrashPoint("login-unlock: accounts written");
  const std::string path = *dir + "/" + kLoginLockFile;
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return FromErrno("cannot remove " + path, errno);
  VM_RETURN_IF_ERROR(SyncDirectory(*dir));
  return true;
}

Result<bool> IsLoginLocked(const HostPaths& paths, const qmail::DomainLocation& where) {
  auto dir = DomainDisk(paths, where);
  if (!dir.ok()) return dir.status();
  auto record = ReadLoginLock(*dir);
  if (!record.ok()) return record.status();
  return record->has_value();
}

}  // namespace vmigrate::vpopmail
