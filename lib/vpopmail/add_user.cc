#include "vpopmail/add_user.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

Status MakeDir(const std::string& path, const std::optional<FileOwner>& owner) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return FromErrno("cannot create " + path, errno);
  if (owner && chown(path.c_str(), owner->uid, owner->gid) != 0) return FromErrno("cannot chown " + path, errno);
  return Status::OK();
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
  auto lock = FileLock::Acquire(domain_disk + "/.dir_control_free.lock");
  if (!lock.ok()) return lock.status();
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

Status MakeHome(const std::string& domain_disk, const std::string& bucket, const std::string& home,
                const std::string& quota, const std::optional<FileOwner>& owner) {
  // Buckets nest ("0/7"): each level as r_mkdir makes it.
  std::string at = domain_disk;
  if (!bucket.empty())
    for (const std::string& part : Split(bucket, '/')) {
      at += "/" + part;
      VM_RETURN_IF_ERROR(MakeDir(at, owner));
    }
  VM_RETURN_IF_ERROR(MakeDir(home, owner));
  VM_RETURN_IF_ERROR(MakeDir(home + "/Maildir", owner));
  for (const char* sub : {"cur", "new", "tmp"}) VM_RETURN_IF_ERROR(MakeDir(home + "/Maildir/" + sub, owner));
  // vadduser's lastauth: no login yet (NULL_REMOTE_IP, reference §1.7).
  VM_RETURN_IF_ERROR(WriteFileAtomic(home + "/lastauth", "0.0.0.0", 0600, owner));
  // vsetuserquota starts maildirsize with the quota (reference §1.4); the
  // pull appends what it delivers.
  if (!StartsWith(quota, "NO"))
    VM_RETURN_IF_ERROR(WriteFileAtomic(home + "/Maildir/maildirsize", quota + "\n0 0\n", 0600, owner));
  VM_RETURN_IF_ERROR(SyncDirectory(home + "/Maildir"));
  VM_RETURN_IF_ERROR(SyncDirectory(home));
  return SyncDirectory(DirName(home));
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
  auto where = qmail::LocateDomain(paths, address.substr(at + 1));
  if (!where.ok()) return where.status().WithContext(result.address);
  result.address = user + "@" + where->domain;
  auto store = OpenUserStoreFor(paths, *where);
  const bool cdb = store->Backend() == "cdb";
  auto domain_dir = ResolveUnderRoot(paths.root, where->dir);
  if (!domain_dir.ok()) return domain_dir.status().WithContext(result.address);
  const std::string domain_disk = domain_dir->disk;
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
  if (bucket.find("..") != std::string::npos || StartsWith(bucket, "/"))
    return Status::Corrupt(result.address + ": .dir_control_free names '" + EscapeC(bucket) + "', not a bucket");

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
  const std::string home_disk = paths.OnDisk(e.dir);
  struct stat st;
  if (lstat(home_disk.c_str(), &st) == 0 && (!S_ISDIR(st.st_mode) || !IsEmptySkeleton(home_disk)))
    return Status::Conflict(result.address + ": " + e.dir + " already exists and no account uses it; "
                            "move it away or vadduser the account");
  result.created = true;
  if (dry_run) return result;

  VM_RETURN_IF_ERROR(MakeHome(domain_disk, bucket, home_disk, e.quota, owner).WithContext(result.address));
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
