#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate {
namespace {


std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, mode_t mode, std::optional<FileOwner> owner)
    : path_(std::move(path)), mode_(mode), owner_(owner) {
  temp_path_ = DirName(path_) + "/." + BaseName(path_) + ".vmigrate-tmp." +
               std::to_string(static_cast<long>(getpid()));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) close(fd_);
  if (!committed_ && !temp_path_.empty()) unlink(temp_path_.c_str());
}

Status AtomicFile::Open() {
  unlink(temp_path_.c_str());  // a stale temp of a crashed run with our pid
  fd_ = open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return FromErrno("cannot create " + temp_path_, errno);
  return Status::OK();
}

Status AtomicFile::Append(const std::string& data) { return Append(data.data(), data.size()); }

Status AtomicFile::Append(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FromErrno("cannot write " + temp_path_, errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Status AtomicFile::Commit() {
  if (fsync(fd_) != 0) return FromErrno("cannot fsync " + temp_path_, errno);
  if (fchmod(fd_, mode_) != 0) return FromErrno("cannot chmod " + temp_path_, errno);
  if (owner_ && fchown(fd_, owner_->uid, owner_->gid) != 0)
    return FromErrno("cannot chown " + temp_path_, errno);
  if (close(fd_) != 0) {
    fd_ = -1;
    return FromErrno("cannot close " + temp_path_, errno);
  }
  fd_ = -1;
  if (rename(temp_path_.c_str(), path_.c_str()) != 0)
    return FromErrno("cannot rename " + temp_path_ + " to " + path_, errno);
  committed_ = true;
  return SyncDirectory(DirName(path_));
}

Status WriteFileAtomic(const std::string& path, const std::string& contents, mode_t mode,
                       std::optional<FileOwner> owner) {
  AtomicFile file(path, mode, owner);
  VM_RETURN_IF_ERROR(file.Open());
  VM_RETURN_IF_ERROR(file.Append(contents));
  return file.Commit();
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FromErrno("cannot open " + path, errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return FromErrno("cannot read " + path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      close(fd);
      return Status::Corrupt(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  close(fd);
  return out;
}

Status SyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FromErrno("cannot open directory " + dir, errno);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0 && err != EINVAL) return FromErrno("cannot fsync directory " + dir, err);
  return Status::OK();
}

Status SyncFilesystemOf(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FromErrno("cannot open " + dir, errno);
  int rc = syncfs(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return FromErrno("cannot sync " + dir, err);
  return Status::OK();
}

}  // namespace vmigrate
