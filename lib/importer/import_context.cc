#include "importer/import_context.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate {

int RenameNoReplace(const std::string& from, const std::string& to) {
  return static_cast<int>(
      syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE));
}

Status MakeDirs(const std::string& dir, mode_t mode, const std::optional<FileOwner>& owner,
                std::vector<std::string>* created) {
  struct stat st;
  if (lstat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status::Conflict(dir + " exists and is not a directory");
  }
  VM_RETURN_IF_ERROR(MakeDirs(DirName(dir), mode, owner, created));
  if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return FromErrno("cannot create directory " + dir, errno);
  chmod(dir.c_str(), mode);
  if (owner && lchown(dir.c_str(), owner->uid, owner->gid) != 0)
    return FromErrno("cannot chown " + dir, errno);
  if (created) created->push_back(dir);
  return Status::OK();
}

Status ImportContext::CheckInterrupted() const {
  if (options->interrupted && options->interrupted->load())
    return Status::Interrupted("interrupted; nothing was changed on the target");
  return Status::OK();
}

Status ImportContext::HashEntry(const EntryHeader& h, FileRecord* rec) {
  return HashEntryData(reader, h, buffer_.data(), buffer_.size(), rec);
}

mode_t ImportContext::CreatedMode() {
  mode_t mask = umask(0);
  umask(mask);
  return 0600 & ~mask;
}

bool ImportContext::UmaskSetsMode(const std::string& dir) {
  return getxattr(dir.c_str(), "system.posix_acl_default", nullptr, 0) < 0 && errno != ERANGE;
}

Status ImportContext::WriteEntry(const EntryHeader& h, const std::string& disk,
                                 const std::optional<FileOwner>& owner, bool umask_sets_mode,
                                 FileRecord* rec) {
  int fd = open(disk.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' appears twice");
    return FromErrno("cannot create " + disk, errno);
  }
  std::int64_t total = 0;
  Status s;
  for (;;) {
    const char* p = nullptr;
    auto n = reader->ReadView(&p);
    if (!n.ok()) {
      s = n.status();
      break;
    }
    if (*n == 0) break;
    total += static_cast<std::int64_t>(*n);
    size_t left = *n;
    while (left > 0) {
      ssize_t w = write(fd, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        s = FromErrno("cannot write " + disk, errno);
        break;
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    if (!s.ok()) break;
  }
  if (s.ok() && total != h.size)
    s = Status::Corrupt("archive entry '" + EscapeC(h.path) + "': " + std::to_string(total) +
                        " bytes where the header says " + std::to_string(h.size));
  // Most members (messages) want exactly the mode open() gave: skip a syscall.
  const bool mode_right = umask_sets_mode && (h.mode & 07777) == created_mode_;
  if (s.ok() && !mode_right && fchmod(fd, h.mode & 07777) != 0)
    s = FromErrno("cannot chmod " + disk, errno);
  if (s.ok() && owner && fchown(fd, owner->uid, owner->gid) != 0)
    s = FromErrno("cannot chown " + disk, errno);
  struct timespec mtime = {static_cast<time_t>(h.mtime_sec), h.mtime_nsec};
  struct timespec times[2] = {mtime, mtime};
  if (s.ok() && futimens(fd, times) != 0) s = FromErrno("cannot set mtime of " + disk, errno);
  if (close(fd) != 0 && s.ok()) s = FromErrno("cannot write " + disk, errno);
  rec->size = total;
  rec->sha256 = reader->EntrySha256();  // hashed by the reader as it read
  return s;
}

Result<std::optional<std::string>> ImportContext::DomainsDirControl() const {
  if (store && !store->KeepsDirControlFiles()) return store->ReadDomainsDirControl(report->owner.uid);
  auto dc = ReadSmallFile(domains_disk + "/.dir-control", 4096);
  if (dc.ok()) return std::optional<std::string>(*dc);
  if (dc.status().code() == Status::Code::kNotFound) return std::optional<std::string>();
  return dc.status();
}

}  // namespace vmigrate
