// Durable replacement of one file: write a temp file in the same directory,
// fsync it, rename it over the target, fsync the directory (qmail-newu,
// leveldb SetCurrentFile). A reader sees the old file or the new one, never
// a mix, and a crash leaves at most a stray temp file.
//
// Every output vmigrate produces (archives, state files, control files) goes
// through this class. The temp file is removed when the object dies without
// Commit(), and by RemoveLiveTempFiles() from a SIGINT/SIGTERM handler; only
// SIGKILL (or a power cut) leaves one behind, never under the final name.
// While it is written the temp file holds an flock(2), so a later run can
// prove a leftover is stale (RemoveStaleTempFiles) and remove it.
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

  /// Creates the temp file (replacing a stale one of our own pid) and
  /// locks it. kNotFound when the directory is missing, kIoError otherwise.
  Status Open();
  Status Append(const std::string& data);
  Status Append(const void* data, size_t size);
  /// fsync, chmod/chown, rename over the target, fsync the directory.
  /// With set_replace_existing(false), an entry that appeared under the
  /// final name meanwhile is never replaced: kConflict "<path>: already
  /// exists" and the temp file is removed.
  Status Commit();
  /// Whether Commit may replace an existing file (default true: --force).
  void set_replace_existing(bool replace) { replace_ = replace; }
  const std::string& temp_path() const { return temp_path_; }
  int fd() const { return fd_; }

 private:
  std::string path_;
  std::string temp_path_;
  mode_t mode_;
  std::optional<FileOwner> owner_;
  int fd_ = -1;
  int live_slot_ = -1;  // RemoveLiveTempFiles' entry for temp_path_, -1 if none
  bool committed_ = false;
  bool replace_ = true;
};

/// Unlinks the temp file of every AtomicFile that is open and not yet
/// committed. Async-signal-safe: meant for a SIGINT/SIGTERM handler that
/// then _exit()s (destructors do not run there). At most 16 files at once
/// are tracked; paths longer than PATH_MAX are not.
void RemoveLiveTempFiles();

/// Removes the temp files AtomicFile left for `path` in earlier runs that
/// were killed (".<name>.vmigrate-tmp.<pid>" beside it): only regular files
/// owned by us whose flock(2) is free, i.e. whose writer is gone. Returns how
/// many were removed; errors are ignored (a leftover is only clutter).
int RemoveStaleTempFiles(const std::string& path);

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
