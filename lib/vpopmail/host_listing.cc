#include "vpopmail/host_listing.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "qmail/assign.h"
#include "qmail/domains.h"
#include "vpopmail/login_lock.h"
#include "vpopmail/user_store.h"

namespace vmigrate::vpopmail {
namespace {

// The <bytes> of ",S=<bytes>" in the unique part of a Maildir++ name (before
// the ":2," flags, whose "S" means Seen).
bool SizeFromName(const char* name, std::uint64_t* size) {
  std::string_view n(name);
  n = n.substr(0, n.find(':'));
  size_t at = n.find(",S=");
  if (at == std::string_view::npos) return false;
  std::string_view digits = n.substr(at + 3);
  digits = digits.substr(0, digits.find(','));
  unsigned long long v = 0;
  if (!ParseUint64(digits, &v)) return false;
  *size = v;
  return true;
}

// Whether the entry `ent` of the directory `fd` is of `type` (S_IFREG,
// S_IFDIR), with `st` filled when fstatat was needed. d_type saves the
// stat on ext4, xfs, btrfs and tmpfs.
bool IsType(int fd, const struct dirent* ent, mode_t type, struct stat* st, bool* stated) {
  *stated = false;
  if (ent->d_type == DT_REG) return type == S_IFREG;
  if (ent->d_type == DT_DIR) return type == S_IFDIR;
  if (ent->d_type != DT_UNKNOWN) return false;
  if (fstatat(fd, ent->d_name, st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  *stated = true;
  return (st->st_mode & S_IFMT) == type;
}

// The messages of one cur/ or new/ directory; a missing one is empty.
Status CountMessageDir(const std::string& dir, MailCount* count) {
  DIR* d = opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::OK();
    return FromErrno("cannot read directory " + dir, errno);
  }
  int fd = dirfd(d);
  while (struct dirent* ent = readdir(d)) {
    if (ent->d_name[0] == '.' && (ent->d_name[1] == '\0' || (ent->d_name[1] == '.' && ent->d_name[2] == '\0')))
      continue;
    struct stat st;
    bool stated = false;
    if (!IsType(fd, ent, S_IFREG, &st, &stated)) continue;
    ++count->messages;
    std::uint64_t size = 0;
    if (SizeFromName(ent->d_name, &size)) {
      count->bytes += size;
      continue;
    }
    if (!stated && fstatat(fd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    count->bytes += static_cast<std::uint64_t>(st.st_size);
    ++count->stat_sized;
  }
  closedir(d);
  return Status::OK();
}

Status CountFolder(const std::string& folder, MailCount* count) {
  VM_RETURN_IF_ERROR(CountMessageDir(folder + "/cur", count));
  return CountMessageDir(folder + "/new", count);
}

std::string BucketOf(const std::string& dir, const std::string& vpopmail_home) {
  const std::string domains = vpopmail_home + "/domains/";
  if (!StartsWith(dir, domains)) return "";
  std::string rel = dir.substr(domains.size());
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

// Users and mail of one domain; the first problem goes to `d->error`.
void CountDomain(const HostPaths& paths, UserStore* store, const qmail::DomainLocation& loc,
                 DomainListing* d) {
  auto dir = ResolveUnderRoot(paths.root, loc.dir);
  struct stat st;
  if (!dir.ok()) {
    d->error = dir.status().message();
    return;
  }
  if (!dir->exists || stat(dir->disk.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    d->error = "domain directory " + loc.dir + " does not exist";
    return;
  }
  auto users = ReadUsersUnlocked(store, paths, loc);
  if (!users.ok()) {
    d->error = users.status().message();
    return;
  }
  d->users = users->size();
  for (const VpasswdEntry& e : *users) {
    auto maildir = ResolveUnderRoot(paths.root, NormalizePath(e.dir) + "/Maildir");
    if (!maildir.ok()) {
      if (d->error.empty()) d->error = maildir.status().WithContext("user " + e.name).message();
      continue;
    }
    if (!maildir->exists) continue;  // no mail yet (export warns about a missing home)
    auto count = CountMaildir(maildir->disk);
    if (!count.ok()) {
      if (d->error.empty()) d->error = count.status().WithContext("user " + e.name).message();
      continue;
    }
    d->mail.Add(*count);
  }
}

}  // namespace

Result<MailCount> CountMaildir(const std::string& maildir_disk) {
  MailCount count;
  DIR* d = opendir(maildir_disk.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return count;
    return FromErrno("cannot read directory " + maildir_disk, errno);
  }
  std::vector<std::string> folders;
  int fd = dirfd(d);
  while (struct dirent* ent = readdir(d)) {
    std::string_view name(ent->d_name);
    if (name.size() < 2 || name[0] != '.' || name == "..") continue;
    struct stat st;
    bool stated = false;
    if (IsType(fd, ent, S_IFDIR, &st, &stated)) folders.emplace_back(name);
  }
  closedir(d);
  VM_RETURN_IF_ERROR(CountFolder(maildir_disk, &count));
  for (const std::string& f : folders) VM_RETURN_IF_ERROR(CountFolder(maildir_disk + "/" + f, &count));
  return count;
}

Result<HostListing> ListHost(const HostPaths& paths) {
  auto text = ReadSmallFile(paths.OnDisk(paths.assign_file()));
  if (!text.ok()) return text.status().WithContext("cannot read users/assign");
  std::vector<qmail::DomainAssign> entries = qmail::ParseDomainAssigns(*text);
  std::unique_ptr<UserStore> store = OpenUserStore(paths);
  HostListing out;
  for (const auto& e : entries) {
    if (e.is_alias()) continue;
    DomainListing d;
    d.domain = e.domain;
    d.dir = NormalizePath(e.dir);
    d.bucket = BucketOf(d.dir, paths.vpopmail_home);
    d.backend = store->Backend();
    if (d.backend == "mysql") d.mysql_layout = store->Layout();
    d.uid = e.uid;
    d.gid = e.gid;
    out.domains.push_back(std::move(d));
  }
  // An alias belongs to the domain it names, or to the one whose directory
  // it shares (qmail::LocateDomain's rule).
  for (const auto& e : entries) {
    if (!e.is_alias()) continue;
    DomainListing* owner = nullptr;
    for (DomainListing& d : out.domains)
      if (ToLower(d.domain) == ToLower(e.real_domain) || d.dir == NormalizePath(e.dir)) {
        owner = &d;
        break;
      }
    if (owner) owner->alias_domains.push_back(e.domain);
    else out.unmatched_aliases.push_back({e.domain, e.real_domain, NormalizePath(e.dir)});
  }
  for (DomainListing& d : out.domains) {
    qmail::DomainLocation loc;
    loc.domain = d.domain;
    loc.dir = d.dir;
    loc.uid = d.uid;
    loc.gid = d.gid;
    loc.aliases = d.alias_domains;
    CountDomain(paths, store.get(), loc, &d);
  }
  return out;
}

}  // namespace vmigrate::vpopmail
