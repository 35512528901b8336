#include "core/file_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "core/errno_status.h"

namespace vmigrate {

FileLock::~FileLock() { Release(); }

FileLock::FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void FileLock::Release() {
  if (fd_ >= 0) {
    close(fd_);  // closing drops the fcntl lock
    fd_ = -1;
  }
}

Result<FileLock> FileLock::Acquire(const std::string& lock_path, int timeout_seconds) {
  int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return FromErrno("cannot open lock " + lock_path, errno);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  for (;;) {
    if (fcntl(fd, F_SETLK, &fl) == 0) return FileLock(fd);
    int err = errno;
    if (err != EACCES && err != EAGAIN && err != EINTR) {
      close(fd);
      return FromErrno("cannot lock " + lock_path, err);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      close(fd);
      return Status::Conflict(lock_path + ": still locked by another process after " +
                              std::to_string(timeout_seconds) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace vmigrate
