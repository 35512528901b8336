// Writes the archive as one tar stream (pax) through libarchive, compressed
// with zstd (default), gzip or nothing. Streams: file data goes through in
// fixed-size chunks and is never held whole. The only libarchive writer user.
#ifndef VMIGRATE_ARCHIVE_ARCHIVE_WRITER_H_
#define VMIGRATE_ARCHIVE_ARCHIVE_WRITER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

struct archive;

namespace vmigrate {

enum class Compression { kZstd, kGzip, kNone };
/// "zstd", "gzip", "none" -> Compression; kInvalidInput otherwise.
Result<Compression> ParseCompression(const std::string& name);

struct EntryInfo {
  std::string path;          // archive path, relative, '/'-separated
  mode_t mode = 0600;        // permission bits only
  std::int64_t mtime_sec = 0;
  long mtime_nsec = 0;
  std::int64_t size = 0;     // regular files: exact byte count that follows
};

class ArchiveWriter {
 public:
  /// `path` "-" writes to stdout. A file is created with mode 0600 (the
  /// archive holds password hashes) and must not exist unless `overwrite`.
  static Result<std::unique_ptr<ArchiveWriter>> Open(const std::string& path,
                                                     Compression compression, bool overwrite);
  ~ArchiveWriter();

  Status AddBytes(const EntryInfo& info, const std::string& data);
  /// BeginFile, then WriteData exactly info.size bytes, then EndFile.
  Status BeginFile(const EntryInfo& info);
  Status WriteData(const void* data, size_t size);
  Status EndFile();
  Status AddDirectory(const EntryInfo& info);
  Status AddSymlink(const EntryInfo& info, const std::string& target);
  /// Flushes and closes; the archive is complete only after this succeeds.
  Status Close();
  std::uint64_t bytes_in() const { return bytes_in_; }
  /// True once writing to the output failed (libarchive or the file): the
  /// error is the output's (e.g. "No space left on device"), not the data's.
  bool failed() const { return failed_; }

 private:
  ArchiveWriter() = default;
  Status Header(const EntryInfo& info, unsigned int type, const std::string* link);
  Status Error(const std::string& what);

  struct archive* a_ = nullptr;
  std::string path_;
  bool closed_ = false;
  bool failed_ = false;
  std::int64_t remaining_ = 0;
  std::uint64_t bytes_in_ = 0;
};

}  // namespace vmigrate

#endif  // VMIGRATE_ARCHIVE_ARCHIVE_WRITER_H_
