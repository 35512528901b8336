#include "verify/member_check.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include "archive/layout.h"
#include "core/dir_mode.h"
#include "core/errno_status.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "model/manifest.h"
#include "model/path_rewrite.h"
#include "vpopmail/names.h"

namespace vmigrate::verify {
namespace {

constexpr size_t kBuffer = 256 * 1024;
constexpr size_t kMaxRewriteBytes = 1u << 20;

// ISO 8601 UTC with nanoseconds ("2026-11-30T01:02:03.000000000Z"), so that
// an admin reads the two times without converting epoch seconds.
std::string MtimeText(std::int64_t sec, long nsec) {
  time_t t = static_cast<time_t>(sec);
  struct tm tm;
  char day[40] = "?";
  if (gmtime_r(&t, &tm) != nullptr) strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s.%09ldZ", day, nsec);
  return buf;
}

std::string ModeText(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

const char* TypeName(EntryType t) {
  switch (t) {
    case EntryType::kFile: return "a file";
    case EntryType::kDirectory: return "a directory";
    case EntryType::kSymlink: return "a symlink";
    default: return "something else";
  }
}

const char* TypeName(mode_t m) {
  if (S_ISREG(m)) return "a file";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISLNK(m)) return "a symlink";
  return "a special file";
}

bool TypeMatches(EntryType t, mode_t m) {
  return (t == EntryType::kFile && S_ISREG(m)) || (t == EntryType::kDirectory && S_ISDIR(m)) ||
         (t == EntryType::kSymlink && S_ISLNK(m));
}

// 64-bit FNV-1a: the set of installed paths the archive covers is kept as
// hashes, 8 bytes per file however long the paths are.
std::uint64_t PathKey(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Hashes a file on disk, streaming through `buf` (kBuffer bytes).
Status HashFile(const std::string& path, std::string* digest, char* buf) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return FromErrno("cannot open " + path, errno);
  Sha256 sha;
  for (;;) {
    ssize_t n = read(fd, buf, kBuffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return FromErrno("cannot read " + path, err);
    }
    if (n == 0) break;
    sha.Update(buf, static_cast<size_t>(n));
  }
  close(fd);
  *digest = sha.HexDigest();
  return Status::OK();
}

}  // namespace

MemberCheck::MemberCheck(const InstalledDomain& domain, ArchiveReader* reader, RecordSpool* spool,
                         UidlReport* uidl, VerifyReport* report)
    : domain_(domain), reader_(reader), spool_(spool), uidl_(uidl), report_(report), buffer_(kBuffer) {
  for (const auto& f : domain_.archived->rewritten_files) rewritten_.insert(f);
  for (const auto& [name, dir] : domain_.target.user_dirs) {
    if (!StartsWith(dir, domain_.loc.dir + "/")) continue;
    std::string rel = dir.substr(domain_.loc.dir.size() + 1);
    home_rels_.insert(rel);
    for (size_t slash = rel.rfind('/'); slash != std::string::npos; slash = rel.rfind('/')) {
      rel.resize(slash);
      bucket_rels_.insert(rel);
    }
  }
}

// --- archive members ----------------------------------------------------------

Status MemberCheck::Map(const std::string& member, Mapped* m) const {
  auto name = ParseMemberName(member);
  if (!name.ok()) return name.status();
  const bool ours = name->domain == domain_.archived->name;
  const std::string below = name->rel.empty() ? "" : "/" + name->rel;
  m->shown = name->rel.empty() ? "." : name->rel;
  m->rel_in_domain = name->rel_in_domain;
  if (ours && name->part == MemberPart::kDomainFiles) {
    auto disk = StorageBase(domain_.loc.dir, name->rel, true);
    if (!disk.ok()) return disk.status();
    m->disk = *disk;
    return Status::OK();
  }
  if (ours && name->part == MemberPart::kUserHome) {
    m->user = name->user;
    auto it = domain_.target.user_dirs.find(m->user);
    if (it == domain_.target.user_dirs.end()) {
      m->installed = false;
      return Status::OK();
    }
    auto disk = StorageBase(it->second, name->rel, false);
    if (!disk.ok()) return disk.status();
    m->disk = *disk;
    return Status::OK();
  }
  return Status::Corrupt("archive entry '" + EscapeC(member) + "' is outside the domain the manifest names");
}

// The storage links export follows: a bucket dir of the domain dir, the
// Maildir of a home (the domain dir and the homes themselves are resolved
// whole). Other symlinks are members of their own and never walked through.
bool MemberCheck::IsStorageLink(const std::string& rel, bool domain_level) const {
  return domain_level ? bucket_rels_.count(rel) > 0 : rel == "Maildir";
}

// On-disk path of `rel` below the domain dir or home `host_dir`: through
// the resolved storage dir that holds it, the rest taken as it is.
Result<std::string> MemberCheck::StorageBase(const std::string& host_dir, const std::string& rel,
                                             bool domain_level) const {
  std::string storage;  // the longest storage link prefix of rel
  for (size_t slash = rel.find('/'); ; slash = rel.find('/', slash + 1)) {
    std::string prefix = rel.substr(0, slash);
    if (IsStorageLink(prefix, domain_level)) storage = prefix;
    if (slash == std::string::npos) break;
  }
  auto base = domain_.StorageDisk(storage.empty() ? host_dir : host_dir + "/" + storage);
  if (!base.ok()) return base.status();
  std::string rest = rel.substr(storage.size());
  if (!storage.empty()) return *base + rest;
  return rest.empty() ? *base : *base + "/" + rest;
}

bool MemberCheck::UnderMissingDir(const std::string& disk) const {
  for (size_t slash = disk.rfind('/'); slash != std::string::npos && slash > 0;
       slash = disk.rfind('/', slash - 1)) {
    if (missing_dirs_.count(disk.substr(0, slash))) return true;
  }
  return false;
}

Status MemberCheck::Compare(const EntryHeader& h) {
  VM_RETURN_IF_ERROR(CheckEntryHeader(h));
  Mapped m;
  VM_RETURN_IF_ERROR(Map(h.path, &m));
  if (uidl_ && !m.user.empty()) uidl_->NoteUser(m.user);

  FileRecord rec = RecordFromHeader(h);
  if (h.type == EntryType::kFile) rec.rewritten = rewritten_.count(m.rel_in_domain) > 0;

  if (h.type == EntryType::kFile && m.user.empty()) {
    auto row = domain_.store_files.find(m.shown);
    if (row != domain_.store_files.end()) {
      store_seen_.insert(m.shown);
      VM_RETURN_IF_ERROR(CompareStoreFile(h, m, row->second, &rec));
      return spool_->Add(rec);
    }
  }

  struct stat st;
  bool present = false;
  VM_RETURN_IF_ERROR(FindInstalled(h, m, &st, &present));
  if (present) CompareMetadata(h, m, st);

  switch (h.type) {
    case EntryType::kDirectory:
      if (uidl_ && !m.user.empty()) uidl_->NoteDir(m.shown);
      break;
    case EntryType::kSymlink:
      if (present) CompareSymlink(h, m);
      break;
    case EntryType::kFile:
      VM_RETURN_IF_ERROR(CompareFile(h, m, present, present ? &st : nullptr, &rec));
      break;
    default:
      break;
  }
  return spool_->Add(rec);
}

Status MemberCheck::FindInstalled(const EntryHeader& h, const Mapped& m, struct stat* st, bool* present) {
  *present = false;
  if (!m.installed) return Status::OK();
  seen_.push_back(PathKey(m.disk));
  if (UnderMissingDir(m.disk)) return Status::OK();
  if (lstat(m.disk.c_str(), st) != 0) {
    const int err = errno;
    if (err != ENOENT && err != ENOTDIR) return FromErrno("cannot stat " + m.disk, err);
    Add(m.user, m.shown, std::string("missing (") + TypeName(h.type) + " in the archive)");
    if (h.type == EntryType::kDirectory) missing_dirs_.insert(m.disk);
    return Status::OK();
  }
  if (!TypeMatches(h.type, st->st_mode)) {
    Add(m.user, m.shown,
        std::string("is ") + TypeName(h.type) + " in the archive, " + TypeName(st->st_mode) + " installed");
    if (h.type == EntryType::kDirectory) missing_dirs_.insert(m.disk);
    return Status::OK();
  }
  *present = true;
  return Status::OK();
}

void MemberCheck::CompareMetadata(const EntryHeader& h, const Mapped& m, const struct stat& st) {
  // A directory's sticky bit never travels (core/dir_mode.h), also not
  // from an archive of an older vmigrate.
  const bool dir = h.type == EntryType::kDirectory;
  if (h.type != EntryType::kSymlink && (dir ? CarriedDirMode(st.st_mode) != CarriedDirMode(h.mode)
                                            : (st.st_mode & 07777) != (h.mode & 07777)))
    Add(m.user, m.shown, "mode " + ModeText(h.mode) + " in the archive, " + ModeText(st.st_mode) + " installed");
  if (st.st_mtim.tv_sec != h.mtime_sec || st.st_mtim.tv_nsec != h.mtime_nsec)
    Add(m.user, m.shown, "mtime " + MtimeText(h.mtime_sec, h.mtime_nsec) + " in the archive, " +
                             MtimeText(st.st_mtim.tv_sec, st.st_mtim.tv_nsec) + " installed");
}

void MemberCheck::CompareSymlink(const EntryHeader& h, const Mapped& m) {
  std::string expected = h.link_target;
  Status s = FromPlaceholders(domain_.target, &expected);
  // A relative target was rebased by import when fresh hashing moved homes.
  auto from = EntryHostPath(domain_.source, m.rel_in_domain);
  auto to = EntryHostPath(domain_.target, m.rel_in_domain);
  if (s.ok() && from && to) {
    auto rebased = RebaseRelativeLink(domain_.source, domain_.target, *from, *to, expected);
    if (rebased) expected = *rebased;
  }
  char buf[4096];
  ssize_t n = readlink(m.disk.c_str(), buf, sizeof buf - 1);
  std::string actual = n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
  if (!s.ok())
    Add(m.user, m.shown, "symlink target cannot be rewritten for this host: " + s.message());
  else if (actual != expected)
    Add(m.user, m.shown,
        "symlink points to '" + EscapeC(actual) + "', the archive says '" + EscapeC(expected) + "'");
}

Status MemberCheck::CompareFile(const EntryHeader& h, const Mapped& m, bool present, const struct stat* st,
                                FileRecord* rec) {
  const bool uidl_file = uidl_ && !m.user.empty() && UidlReport::IsUidlistFile(m.shown);
  // Files with placeholders (and UID lists, for the report) are small
  // enough to hold; the rest streams through the hash.
  if (rec->rewritten || (uidl_file && h.size >= 0 && static_cast<size_t>(h.size) <= kMaxUidlistBytes)) {
    auto data = reader_->ReadAll(rec->rewritten ? kMaxRewriteBytes : kMaxUidlistBytes);
    if (!data.ok()) return data.status();
    rec->size = static_cast<std::int64_t>(data->size());
    rec->sha256 = Sha256::Of(*data);
    if (uidl_file) uidl_->NoteUidlist(m.shown, *data);
    if (!present) return Status::OK();
    std::string expected = *data;
    if (rec->rewritten) {
      Status s = FromPlaceholders(domain_.target, &expected);
      if (!s.ok()) {
        Add(m.user, m.shown, "cannot be rewritten for this host: " + s.message());
        return Status::OK();
      }
    }
    return CompareContent(m, *st, static_cast<std::int64_t>(expected.size()), Sha256::Of(expected),
                          rec->rewritten);
  }
  VM_RETURN_IF_ERROR(HashEntryData(reader_, h, buffer_.data(), buffer_.size(), rec));
  if (uidl_ && !m.user.empty()) uidl_->NoteMessage(m.shown, h.mtime_sec, h.mtime_nsec);
  if (!present) return Status::OK();
  return CompareContent(m, *st, rec->size, rec->sha256, false);
}

Status MemberCheck::CompareStoreFile(const EntryHeader& h, const Mapped& m,
                                     const vpopmail::StoreFile& installed, FileRecord* rec) {
  (void)h;
  auto data = reader_->ReadAll(kMaxRewriteBytes);
  if (!data.ok()) return data.status();
  rec->size = static_cast<std::int64_t>(data->size());
  rec->sha256 = Sha256::Of(*data);
  std::string expected = *data;
  if (rec->rewritten) {
    Status s = FromPlaceholders(domain_.target, &expected);
    if (!s.ok()) {
      Add(m.user, m.shown, "cannot be rewritten for this host: " + s.message());
      return Status::OK();
    }
  }
  if (expected != installed.data)
    Add(m.user, m.shown, std::string("differs from the rows the user store keeps for it") +
                             (rec->rewritten ? " (after path rewriting)" : ""));
  return Status::OK();
}

Status MemberCheck::CompareContent(const Mapped& m, const struct stat& st, std::int64_t size,
                                   const std::string& sha256, bool rewritten) {
  const char* after = rewritten ? " (after path rewriting)" : "";
  if (st.st_size != static_cast<off_t>(size)) {
    Add(m.user, m.shown, "size " + std::to_string(size) + " in the archive" + after + ", " +
                             std::to_string(st.st_size) + " installed");
    return Status::OK();
  }
  std::string digest;
  VM_RETURN_IF_ERROR(HashFile(m.disk, &digest, buffer_.data()));
  if (digest != sha256) Add(m.user, m.shown, std::string("SHA-256 differs") + after + ": the content changed");
  return Status::OK();
}

// --- installed files the archive does not have ---------------------------------

bool MemberCheck::Seen(const std::string& disk) const {
  return std::binary_search(seen_.begin(), seen_.end(), PathKey(disk));
}

Status MemberCheck::WalkExtras(const std::string& disk_dir, const std::string& rel_dir,
                               const std::string& user, bool domain_level) {
  auto names = ListNames(disk_dir);
  if (!names.ok()) {
    if (names.status().code() == Status::Code::kNotFound) return Status::OK();
    return names.status();
  }
  for (const auto& name : *names) {
    std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
    std::string disk = disk_dir + "/" + name;
    if (domain_level) {
      if (rel_dir.empty() && vpopmail::IsRegeneratedDomainFile(name)) continue;
      if (home_rels_.count(rel)) continue;
    }
    struct stat st;
    if (lstat(disk.c_str(), &st) != 0) continue;
    if (IsStorageLink(rel, domain_level)) {
      // Walked where it leads, as export walks it.
      const std::string host = (domain_level ? domain_.loc.dir : domain_.target.user_dirs.at(user)) + "/" + rel;
      auto real = domain_.StorageDisk(host);
      if (!real.ok()) return real.status();
      if (stat(real->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        report_->warnings.push_back(domain_.archived->name + ": " + host +
                                    " is a symlink that leads to no directory (export leaves it out)");
        continue;
      }
      disk = *real;
      if (domain_level) {  // a bucket: no member of its own
        VM_RETURN_IF_ERROR(WalkExtras(disk, rel, user, true));
        continue;
      }
    }
    if (!Seen(disk)) {
      if (domain_level && rel == ".qmail-default") {
        report_->warnings.push_back(domain_.archived->name +
                                    ": .qmail-default is not in the archive (import writes one "
                                    "from the template when the archive has none)");
        continue;
      }
      Add(user, rel, std::string("not in the archive (") + TypeName(st.st_mode) + " installed)");
      continue;
    }
    if (S_ISDIR(st.st_mode)) VM_RETURN_IF_ERROR(WalkExtras(disk, rel, user, domain_level));
  }
  return Status::OK();
}

Status MemberCheck::FindExtras() {
  std::sort(seen_.begin(), seen_.end());
  for (const auto& [rel, f] : domain_.store_files)
    if (!store_seen_.count(rel)) Add("", rel, "not in the archive (rows of the user store installed)");
  if (!missing_dirs_.count(domain_.disk)) VM_RETURN_IF_ERROR(WalkExtras(domain_.disk, "", "", true));
  for (const ManifestUser& u : domain_.archived->users) {
    auto it = domain_.target.user_dirs.find(u.entry.name);
    if (it == domain_.target.user_dirs.end()) continue;
    auto home_disk = domain_.StorageDisk(it->second);  // a symlinked home is followed
    if (!home_disk.ok()) return home_disk.status();
    const std::string& home = *home_disk;
    if (missing_dirs_.count(home)) continue;
    struct stat st;
    if (lstat(home.c_str(), &st) != 0) continue;
    if (!u.home_present) {
      Add(u.entry.name, ".", "home directory exists; the archive has none (it was missing at export)");
      continue;
    }
    if (S_ISDIR(st.st_mode)) VM_RETURN_IF_ERROR(WalkExtras(home, "", u.entry.name, false));
  }
  return Status::OK();
}

}  // namespace vmigrate::verify
