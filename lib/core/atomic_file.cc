#include "core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate {
namespace {

constexpr char kTempInfix[] = ".vmigrate-tmp.";

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The temp files a signal handler must remove. A slot is claimed (1), filled,
// then armed (2); the handler only reads armed slots, so it never sees a
// half-copied path. Lock-free atomics are async-signal-safe.
constexpr int kLiveSlots = 16;
struct LiveTemp {
  std::atomic<int> state{0};  // 0 free, 1 claimed, 2 armed
  char path[PATH_MAX];
};
LiveTemp g_live[kLiveSlots];

int ArmLiveTemp(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kLiveSlots; ++i) {
    int expected = 0;
    if (!g_live[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_live[i].path, path.c_str(), path.size() + 1);
    g_live[i].state.store(2);
    return i;
  }
  return -1;
}

void DisarmLiveTemp(int* slot) {
  if (*slot < 0) return;
  g_live[*slot].state.store(0);
  *slot = -1;
}

// rename(2) that never replaces an existing entry: renameat2 NOREPLACE, or
// link+unlink where the file system lacks it (both fail with EEXIST).
int RenameNoReplace(const char* from, const char* to) {
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  if (link(from, to) != 0) return -1;
  unlink(from);
  return 0;
}

}  // namespace

void RemoveLiveTempFiles() {
  for (LiveTemp& t : g_live)
    if (t.state.load() == 2) unlink(t.path);
}

int RemoveStaleTempFiles(const std::string& path) {
  const std::string dir = DirName(path);
  const std::string prefix = "." + BaseName(path) + kTempInfix;
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  int removed = 0;
  while (struct dirent* ent = readdir(d)) {
    std::string name = ent->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string rest = name.substr(prefix.size());
    if (rest.empty() || rest.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string temp = dir + "/" + name;
    int fd = open(temp.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) continue;
    struct stat st, now;
    // Its writer holds the lock until it commits or dies: a free lock proves
    // the file is a leftover. The inode check keeps a temp file that a new
    // writer with the same pid created meanwhile.
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        flock(fd, LOCK_EX | LOCK_NB) == 0 && lstat(temp.c_str(), &now) == 0 &&
        now.st_ino == st.st_ino && now.st_dev == st.st_dev && unlink(temp.c_str()) == 0)
      ++removed;
    close(fd);
  }
  closedir(d);
  return removed;
}

AtomicFile::AtomicFile(std::string path, mode_t mode, std::optional<FileOwner> owner)
    : path_(std::move(path)), mode_(mode), owner_(owner) {
  temp_path_ = DirName(path_) + "/." + BaseName(path_) + ".vmigrate-tmp." +
               std::to_string(static_cast<long>(getpid()));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) close(fd_);
  if (!committed_ && !temp_path_.empty()) unlink(temp_path_.c_str());
  DisarmLiveTemp(&live_slot_);
}

Status AtomicFile::Open() {
  unlink(temp_path_.c_str());  // a stale temp of a crashed run with our pid
  // Armed before it exists: a signal between open() and the arming would
  // otherwise leave the file behind.
  live_slot_ = ArmLiveTemp(temp_path_);
  fd_ = open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return FromErrno("cannot create " + temp_path_, errno);
  // Held until close: RemoveStaleTempFiles of a later run leaves it alone.
  flock(fd_, LOCK_EX | LOCK_NB);
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
  // Renamed while still open, so the flock keeps a concurrent
  // RemoveStaleTempFiles away until the name is final.
  if (!replace_) {
    if (RenameNoReplace(temp_path_.c_str(), path_.c_str()) != 0) {
      if (errno == EEXIST) return Status::Conflict(path_ + ": already exists");
      return FromErrno("cannot rename " + temp_path_ + " to " + path_, errno);
    }
  } else if (rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return FromErrno("cannot rename " + temp_path_ + " to " + path_, errno);
  }
  committed_ = true;
  DisarmLiveTemp(&live_slot_);
  int fd = fd_;
  fd_ = -1;
  if (close(fd) != 0) return FromErrno("cannot close " + path_, errno);
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
