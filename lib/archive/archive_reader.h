// Reads an archive entry by entry (any compression libarchive detects).
// It reports what the stream says and checks nothing about meaning; the
// importer decides what is acceptable. The only libarchive reader user.
#ifndef VMIGRATE_ARCHIVE_ARCHIVE_READER_H_
#define VMIGRATE_ARCHIVE_ARCHIVE_READER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "core/status.h"

struct archive;

namespace vmigrate {

enum class EntryType { kFile, kDirectory, kSymlink, kHardlink, kOther };

struct EntryHeader {
  std::string path;
  EntryType type = EntryType::kOther;
  mode_t mode = 0;          // permission bits
  std::int64_t mtime_sec = 0;
  long mtime_nsec = 0;
  std::int64_t size = 0;
  std::string link_target;  // symlinks and hard links
};

class ArchiveReader {
 public:
  /// "-" reads stdin. Errors name the path (or "<stdin>") and the cause:
  /// the errno text when opening or reading fails (kNotFound for ENOENT,
  /// kIoError otherwise, also for a directory), "empty input (no bytes)",
  /// "not a tar archive (zip file)" and the like for another format (named
  /// by libarchive's format detection), "truncated or corrupt archive" for a
  /// compressed stream that ends early: all kCorrupt.
  static Result<std::unique_ptr<ArchiveReader>> Open(const std::string& path);
  ~ArchiveReader();

  /// Reads the next header. Returns false at the end of the archive.
  Result<bool> Next(EntryHeader* header);
  /// Reads up to `size` bytes of the current entry; 0 at its end.
  Result<size_t> Read(void* buf, size_t size);
  /// Like Read, without a copy: points `*data` at the next bytes of the
  /// current entry (valid until the next call on this reader); 0 at its end.
  Result<size_t> ReadView(const char** data);
  /// Lower-case hex SHA-256 of the current entry's data, once Read has
  /// returned 0 for it (hashed by the reader, on its thread when it has one).
  const std::string& EntrySha256() const;
  /// Reads the whole current entry, refusing more than `max_bytes`.
  Result<std::string> ReadAll(size_t max_bytes);

 private:
  ArchiveReader() = default;
  // The libarchive calls, on the caller's thread or on the pipeline's.
  Result<bool> DirectNext(EntryHeader* header);
  Result<size_t> DirectRead(void* buf, size_t size);
  Status Error(const std::string& what);

  struct Source;    // the file descriptor libarchive reads (archive_reader.cc)
  struct Pipeline;  // reads ahead on a second thread (archive_reader.cc)
  Status OpenError();
  std::unique_ptr<Source> source_;
  std::unique_ptr<Pipeline> pipeline_;
  struct archive* a_ = nullptr;
  std::string path_;
  std::string shown_entry_;  // the entry the caller is on
  std::vector<char> view_;   // ReadView's buffer without a pipeline
  // Used by DirectNext/DirectRead only (so by the pipeline's thread if any).
  std::string entry_;
  Sha256 sha_;
  bool hashing_ = false;  // sha_ holds part of the current entry
  std::string digest_;
};

}  // namespace vmigrate

#endif  // VMIGRATE_ARCHIVE_ARCHIVE_READER_H_
