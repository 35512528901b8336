// Durable replacement of one file: write a temp file in the same directory,
// fsync it, rename it over the target, fsync the directory (qmail-newu,
// leveldb SetCurrentFile). A reader sees the old file or the new one, never
// a mix, and a crash leaves at most a stray temp file.
#ifndef VMIGRATE_CORE_ATOMIC_FILE_H_
#define VMIGRATE_CORE_ATOMIC_FILE_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/status.h"

namespace vmigrate {

struct FileOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

class AtomicFile {
 public:
  /// The temp file is "<dir>/.<name>.vmigrate-tmp.<pid>".
  AtomicFile(std::string path, mode_t mode, std::optional<FileOwner> owner = std::nullopt);
  ~AtomicFile();  // removes the temp file unless Commit() succeeded
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status Open();
  Status Append(const std::string& data);
  Status Append(const void* data, size_t size);
  /// fsync, chmod/chown, rename over the target, fsync the directory.
  Status Commit();
  const std::string& temp_path() const { return temp_path_; }
  int fd() const { return fd_; }

 private:
  std::string path_;
  std::string temp_path_;
  mode_t mode_;
  std::optional<FileOwner> owner_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Writes `contents` to `path` through AtomicFile.
Status WriteFileAtomic(const std::string& path, const std::string& contents, mode_t mode,
                       std::optional<FileOwner> owner = std::nullopt);

/// Reads a whole (small) file. kNotFound when absent.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes = 64u << 20);

/// fsync the directory `dir` so a rename inside it is durable.
Status SyncDirectory(const std::string& dir);

/// syncfs() of the filesystem holding `dir`: one flush for a whole staged
/// tree instead of an fsync per file.
Status SyncFilesystemOf(const std::string& dir);

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_ATOMIC_FILE_H_
