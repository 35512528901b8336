#include "vpopmail/add_user.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <vector>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/file_lock.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "qmail/domains.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/limits_file.h"
#include "vpopmail/login_lock.h"
#include "vpopmail/names.h"
#include "vpopmail/rehash.h"
#include "vpopmail/user_store.h"
#include "vpopmail/vpasswd_lock.h"

namespace vmigrate::vpopmail {
namespace {

std::optional<FileOwner> Owner(const qmail::DomainLocation& where) {
  if (geteuid() != 0) return std::nullopt;
  return FileOwner{static_cast<uid_t>(where.uid), static_cast<gid_t>(where.gid)};
}

// A directory of the new account: made 0700 (or, left by a killed run,
// made 0700 again), owned by the domain when run as root.
Status MakeDir(const std::string& path, const std::optional<FileOwner>& owner) {
  if (mkdir(path.c_str(), 0700) != 0) {
    if (errno != EEXIST) return FromErrno("cannot create " + path, errno);
    if (chmod(path.c_str(), 0700) != 0) return FromErrno("cannot chmod " + path, errno);
  }
  if (owner && chown(path.c_str(), owner->uid, owner->gid) != 0) return FromErrno("cannot chown " + path, errno);
  return Status::OK();
}

// A bucket as vpopmail names them: one character of its 62 per level
// ("", "0", "A", "0/7", "z/z/z"), at most three levels (§2.3).
bool IsBucket(const std::string& bucket) {
  if (bucket.empty()) return true;
  std::vector<std::string> parts = Split(bucket, '/');
  if (parts.size() > 3) return false;
  for (const std::string& p : parts)
    if (p.size() != 1 || !std::isalnum(static_cast<unsigned char>(p[0]))) return false;
  return true;
}

// The quota vadduser gives a new account from the domain's limits
// (reference §1.4, §6.1): <domaindir>/.qmailadmin-limits, else
// etc/vlimits.default; default_quota is bytes.
Result<std::string> DefaultQuota(const HostPaths& paths, const std::string& domain_disk) {
  auto text = ReadSmallFile(domain_disk + "/.qmailadmin-limits");
  if (!text.ok() && text.status().code() == Status::Code::kNotFound)
    text = ReadSmallFile(paths.OnDisk(paths.vpopmail_home + "/etc/vlimits.default"));
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) return std::string("NOQUOTA");
    return text.status();
  }
  LimitsRow row = ParseLimitsFile(*text);  // keyed by the MySQL column names
  const long bytes = std::atol(row["defaultquota"].c_str());
  const long count = std::atol(row["defaultmaxmsgcount"].c_str());
  if (bytes > 0 && count > 0) return std::to_string(bytes) + "S," + std::to_string(count) + "C";
  if (bytes > 0) return std::to_string(bytes) + "S";
  if (count > 0) return std::to_string(count) + "C";
  return std::string("NOQUOTA");
}

// The first bucket in .dir_control_free (vpopmail's backfill of deleted
// users' buckets, reference §2.3): nullopt when there is none.
Result<std::optional<std::string>> BackfillBucket(const std::string& domain_disk) {
  auto text = ReadSmallFile(domain_disk + "/.dir_control_free");
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) return std::optional<std::string>();
    return text.status();
  }
  for (const std::string& line : SplitLines(*text)) {
    std::string b = Trim(line);
    if (b.empty() || b[0] == '#') continue;
    return std::optional<std::string>(b);
  }
  return std::optional<std::string>();
}

// Takes `bucket` out of .dir_control_free (its first use), under
// .dir_control_free.lock as backfill.c does.
Status PopBackfill(const std::string& domain_disk, const std::string& bucket,
                   const std::optional<FileOwner>& owner) {
  const std::string lock_path = domain_disk + "/.dir_control_free.lock";
  auto lock = FileLock::Acquire(lock_path);
  if (!lock.ok()) return lock.status();
  // vpopmail's tools run as the domain's owner and must still take it.
  if (owner && chown(lock_path.c_str(), owner->uid, owner->gid) != 0)
    return FromErrno("cannot chown " + lock_path, errno);
  auto text = ReadSmallFile(domain_disk + "/.dir_control_free");
  if (!text.ok()) return text.status().code() == Status::Code::kNotFound ? Status::OK() : text.status();
  std::string out;
  bool taken = false;
  for (const std::string& line : SplitLines(*text)) {
    if (!taken && Trim(line) == bucket) {
      taken = true;
      continue;
    }
    out += line + "\n";
  }
  return WriteFileAtomic(domain_disk + "/.dir_control_free", out, 0600, owner);
}

// Whether `home` holds only what an interrupted AddUser leaves: an empty
// Maildir skeleton and lastauth. Anything else is somebody's data.
bool IsEmptySkeleton(const std::string& home) {
  // A killed run's temp files (AtomicFile's, whose writer is gone) first.
  RemoveStaleTempFiles(home + "/lastauth");
  RemoveStaleTempFiles(home + "/Maildir/maildirsize");
  auto entries_of = [](const std::string& dir, std::vector<std::string>* names) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return false;
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names->push_back(n);
    }
    closedir(d);
    return true;
  };
  std::vector<std::string> top, maildir;
  if (!entries_of(home, &top)) return false;
  for (const std::string& n : top)
    if (n != "Maildir" && n != "lastauth") return false;
  if (std::find(top.begin(), top.end(), "Maildir") == top.end()) return true;
  if (!entries_of(home + "/Maildir", &maildir)) return false;
  for (const std::string& n : maildir) {
    if (n != "cur" && n != "new" && n != "tmp" && n != "maildirsize") return false;
    if (n == "maildirsize") continue;
    std::vector<std::string> inside;
    if (!entries_of(home + "/Maildir/" + n, &inside) || !inside.empty()) return false;
  }
  return true;
}

// Makes the home `home` (a host path, <domaindir>[/<bucket>]/<user>) under
// paths.root. Each directory is resolved under the root first, so a bucket
// that is a symlink (storage moved to another disk) is followed the way
// vpopmail follows it, and one leading out of --root is refused.
Status MakeHome(const HostPaths& paths, const std::string& domain_dir, const std::string& bucket,
                const std::string& home, const std::string& quota, const std::optional<FileOwner>& owner) {
  std::string at = domain_dir;
  std::vector<std::string> dirs;
  if (!bucket.empty())
    for (const std::string& part : Split(bucket, '/')) dirs.push_back(at += "/" + part);
  dirs.push_back(home);
  std::string home_disk;
  for (const std::string& dir : dirs) {
    auto where = ResolveUnderRoot(paths.root, dir);
    if (!where.ok()) return where.status();
    VM_RETURN_IF_ERROR(MakeDir(where->disk, owner));
    home_disk = where->disk;
  }
  VM_RETURN_IF_ERROR(MakeDir(home_disk + "/Maildir", owner));
  for (const char* sub : {"cur", "new", "tmp"}) VM_RETURN_IF_ERROR(MakeDir(home_disk + "/Maildir/" + sub, owner));
  // vadduser's lastauth: no login yet (NULL_REMOTE_IP, reference §1.7).
  VM_RETURN_IF_ERROR(WriteFileAtomic(home_disk + "/lastauth", "0.0.0.0", 0600, owner));
  // vsetuserquota starts maildirsize with the quota (reference §1.4); the
  // pull appends what it delivers.
  if (!StartsWith(quota, "NO"))
    VM_RETURN_IF_ERROR(WriteFileAtomic(home_disk + "/Maildir/maildirsize", quota + "\n0 0\n", 0600, owner));
  VM_RETURN_IF_ERROR(SyncDirectory(home_disk + "/Maildir"));
  VM_RETURN_IF_ERROR(SyncDirectory(home_disk));
  return SyncDirectory(DirName(home_disk));
}

}  // namespace

Result<AddUserResult> AddUser(const HostPaths& paths, const std::string& address, const std::string& password,
                              bool dry_run) {
  const size_t at = address.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == address.size())
    return Status::InvalidInput("'" + EscapeC(address) + "' is not USER@DOMAIN");
  AddUserResult result;
  const std::string user = ToLower(address.substr(0, at));
  result.address = user + "@" + ToLower(address.substr(at + 1));
  // vadduser's checks: a name vchkpw can find, and (USERS_BIG_DIR) not one
  // character, which could collide with a bucket directory (§2.3).
  Status valid = ValidateUserName(user);
  if (!valid.ok()) return Status::InvalidInput(result.address + ": vpopmail cannot have this account: " + valid.message());
  if (user.size() < 2)
    return Status::InvalidInput(result.address + ": vpopmail refuses one-character names (they could be a bucket directory)");
  auto where = qmail::LocateRealDomain(paths, address.substr(at + 1));
  if (!where.ok()) return where.status().WithContext(result.address);
  result.address = user + "@" + where->domain;
  auto store = OpenUserStoreFor(paths, *where);
  const bool cdb = store->Backend() == "cdb";
  auto domain_dir = ResolveUnderRoot(paths.root, where->dir);
  if (!domain_dir.ok()) return domain_dir.status().WithContext(result.address);
  const std::string domain_disk = domain_dir->disk;
  if (!domain_dir->exists)
    return Status::NotFound(result.address + ": the domain directory " + where->dir + " (users/assign) does not exist");
  const std::optional<FileOwner> owner = Owner(*where);

  std::optional<FileLock> lock;
  if (!dry_run) {
    auto held = LockVpasswdIfCdb(paths, *where, *store);
    if (!held.ok()) return held.status().WithContext(result.address);
    lock.emplace(std::move(*held));
  }
  auto users = store->ReadUsers(*where);
  if (!users.ok() && users.status().code() != Status::Code::kNotFound) return users.status().WithContext(result.address);
  std::vector<VpasswdEntry> entries = users.ok() ? std::move(*users) : std::vector<VpasswdEntry>{};
  if (cdb && !dry_run) {
    // A run killed while vpasswd was rewritten leaves temp files (with
    // every hash in them) and maybe a vpasswd.cdb behind vpasswd: under the
    // lock, the first go and the second is rebuilt, as vmkpasswd would.
    RemoveStaleTempFiles(domain_disk + "/vpasswd");
    RemoveStaleTempFiles(domain_disk + "/vpasswd.cdb");
    if (!entries.empty() && !store->CheckConsistency(*where, entries).empty())
      VM_RETURN_IF_ERROR(store->ReplaceUsers(*where, entries).WithContext(result.address));
  }
  for (const VpasswdEntry& e : entries)
    if (e.name == user) {
      result.dir = e.dir;
      result.quota = e.quota;
      return result;  // made meanwhile (another login, vadduser): keep it
    }

  // The bucket: a freed one first, else the counter's next.
  auto backfill = BackfillBucket(domain_disk);
  if (!backfill.ok()) return backfill.status().WithContext(result.address);
  auto counter_text = store->ReadDirControl(*where);
  if (!counter_text.ok()) return counter_text.status().WithContext(result.address);
  // A MySQL dir_control row is read column by column, a file with vpopmail's quirks.
  DirControl counter = !*counter_text ? DirControl()
                       : cdb          ? DirControl::Parse(**counter_text)
                                      : DirControl::ParseExact(**counter_text);
  std::string bucket;
  if (*backfill) {
    bucket = **backfill;
    ++counter.cur_users;  // backfill.c: the count goes up, the_dir stays
  } else {
    bucket = counter.Next();
  }
  if (!IsBucket(bucket))
    return Status::DataRefused(result.address + ": " + (*backfill ? ".dir_control_free" : ".dir-control") +
                               " names '" + EscapeC(bucket) + "', not a vpopmail bucket; nothing written");

  auto quota = DefaultQuota(paths, domain_disk);
  if (!quota.ok()) return quota.status().WithContext(result.address);
  VpasswdEntry e;
  e.name = user;
  e.uid = "1";  // POP (vauth_adduser_line; APOP would be 2); the MySQL store writes 0
  e.gid = "0";
  e.gecos = user;
  e.dir = where->dir + (bucket.empty() ? "" : "/" + bucket) + "/" + user;
  e.quota = *quota;
  // The domain's CLEAR_PASS policy, as its accounts show it (a MySQL
  // table always has the column; a build without CLEAR_PASS leaves it '').
  e.has_clear = std::any_of(entries.begin(), entries.end(),
                            [](const VpasswdEntry& u) { return u.has_clear && !u.clear.empty(); });
  auto hash = Sha512Crypt(password);
  if (!hash.ok()) return hash.status().WithContext(result.address);
  e.passwd = *hash;
  if (e.has_clear) e.clear = password;
  result.dir = e.dir;
  result.quota = e.quota;
  result.cleartext = e.has_clear;
  if (e.has_clear && (password.find_first_of("\n\r") != std::string::npos || password.size() > 128))
    return Status::DataRefused(result.address + ": the password cannot be kept in the domain's cleartext field "
                               "(a line break, or over 128 bytes)");
  if (cdb) {
    Status line = CheckVpasswdLineLength(e, kVpasswdLineMax54);
    if (!line.ok()) return Status::DataRefused(result.address + ": not created: " + line.message());
  }

  auto login_lock = ReadLoginLock(domain_disk);
  if (!login_lock.ok()) return login_lock.status().WithContext(result.address);
  result.login_locked = login_lock->has_value();
  auto home = ResolveParentUnderRoot(paths.root, e.dir);
  if (!home.ok()) return home.status().WithContext(result.address);
  const std::string home_disk = home->disk;
  struct stat st;
  if (lstat(home_disk.c_str(), &st) == 0 && (!S_ISDIR(st.st_mode) || !IsEmptySkeleton(home_disk)))
    return Status::Conflict(result.address + ": " + e.dir + " already exists and no account uses it; "
                            "move it away or vadduser the account");
  result.created = true;
  if (dry_run) return result;

  VM_RETURN_IF_ERROR(MakeHome(paths, where->dir, bucket, e.dir, e.quota, owner).WithContext(result.address));
  std::vector<VpasswdEntry> added{e};
  if (*login_lock) {
    // Record first, then the account (as SetLoginLock does): an unlock
    // then opens this account with the others.
    LoginLock record = **login_lock;
    VM_RETURN_IF_ERROR(ApplyLock(&record, &added).WithContext(result.address));
    VM_RETURN_IF_ERROR(WriteLoginLock(domain_disk, record).WithContext(result.address));
  }
  auto inserted = store->InsertUser(*where, added.front(), counter.Serialize());
  if (!inserted.ok()) return inserted.status().WithContext(result.address);
  if (!*inserted) {
    result.created = false;  // made meanwhile by another tool (MySQL: no file lock)
    return result;
  }
  // The counters are hints (§2.3): the freed bucket is taken out after the
  // account is in, so a run killed before picks the same bucket again.
  if (*backfill) VM_RETURN_IF_ERROR(PopBackfill(domain_disk, bucket, owner).WithContext(result.address));
  return result;
}

}  // namespace vmigrate::vpopmail
