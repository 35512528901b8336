// Reads an archive entry by entry (any compression libarchive detects).
// It reports what the stream says and checks nothing about meaning; the
// importer decides what is acceptable. The only libarchive reader user.
#ifndef VMIGRATE_ARCHIVE_ARCHIVE_READER_H_
#define VMIGRATE_ARCHIVE_ARCHIVE_READER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

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
  /// "-" reads stdin.
  static Result<std::unique_ptr<ArchiveReader>> Open(const std::string& path);
  ~ArchiveReader();

  /// Reads the next header. Returns false at the end of the archive.
  Result<bool> Next(EntryHeader* header);
  /// Reads up to `size` bytes of the current entry; 0 at its end.
  Result<size_t> Read(void* buf, size_t size);
  /// Reads the whole current entry, refusing more than `max_bytes`.
  Result<std::string> ReadAll(size_t max_bytes);

 private:
  ArchiveReader() = default;
  Status Error(const std::string& what);
  struct Decoder;  // decompresses on a second thread (archive_reader.cc)
  std::unique_ptr<Decoder> decoder_;  // outlives a_ (freed in the destructor body)
  struct archive* a_ = nullptr;
  std::string path_;
  std::string entry_;
};

}  // namespace vmigrate

#endif  // VMIGRATE_ARCHIVE_ARCHIVE_READER_H_
