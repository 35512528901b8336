// fcntl write locks, the way vpopmail and its tools take them: an F_WRLCK on
// the whole of a "<file>.lock" file (users/assign.lock, .vpasswd.lock, ...),
// retried a bounded number of times.
#ifndef VMIGRATE_CORE_FILE_LOCK_H_
#define VMIGRATE_CORE_FILE_LOCK_H_

#include <string>

#include "core/status.h"

namespace vmigrate {

class FileLock {
 public:
  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  /// Creates `lock_path` (mode 0600) if needed and takes a write lock on it,
  /// waiting up to `timeout_seconds` (vpopmail: 15 tries, 2 s apart).
  static Result<FileLock> Acquire(const std::string& lock_path, int timeout_seconds = 30);

  bool held() const { return fd_ >= 0; }
  void Release();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_FILE_LOCK_H_
