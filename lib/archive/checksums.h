// checksums.txt, the archive's last entry: one line per member, in stream
// order, so a reader can check every byte and every header without seeking
// and without holding the list in memory:
//   <type f|d|l> <mode 4 octal> <mtime sec.nsec> <size> <sha256|-> <flags> <path>
// flags: "r" = text with path placeholders, "-" = verbatim. Paths are
// C-escaped (core/strings.h EscapeC) so a line never breaks.
#ifndef VMIGRATE_ARCHIVE_CHECKSUMS_H_
#define VMIGRATE_ARCHIVE_CHECKSUMS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vmigrate {

class ArchiveReader;
struct EntryHeader;

constexpr const char* kChecksumsHeader = "# vmigrate checksums 1";

struct FileRecord {
  char type = 'f';            // 'f' file, 'd' directory, 'l' symlink
  mode_t mode = 0;
  std::int64_t mtime_sec = 0;
  long mtime_nsec = 0;
  std::int64_t size = 0;      // files: bytes stored; symlinks: target length
  std::string sha256;         // files: of the bytes stored; symlinks: of the target; dirs: "-"
  bool rewritten = false;
  std::string path;           // archive path

  bool operator==(const FileRecord& o) const;
};

std::string FormatRecord(const FileRecord& record);  // with trailing '\n'
Result<FileRecord> ParseRecord(std::string_view line);

/// A spill file for records (anonymous temp file): memory stays flat however
/// many files the archive holds.
class RecordSpool {
 public:
  RecordSpool();
  ~RecordSpool();
  Status Init();
  Status Add(const FileRecord& record);
  /// Rewinds for reading; ReadLine returns false at the end.
  Status Rewind();
  bool ReadLine(std::string* line);
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t count() const { return count_; }

 private:
  FILE* file_ = nullptr;
  char* line_buf_ = nullptr;  // getline() buffer, reused for every line
  size_t line_cap_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t count_ = 0;
};

/// Reads the checksums.txt entry `reader` is positioned on and compares it,
/// line by line, with `ours` (the records the reader computed for what it
/// received). kCorrupt naming the first member that is missing, unlisted
/// or different. Memory stays flat: both sides are streamed.
Status CompareWithIndex(ArchiveReader* reader, RecordSpool* ours);

/// Reads the data of the current file entry to its end through `buf`,
/// hashing as it goes (never the whole file in memory), and fills
/// rec->size and rec->sha256. kCorrupt when the data is not the size the
/// header `h` says.
Status HashEntryData(ArchiveReader* reader, const EntryHeader& h, char* buf, size_t buf_size,
                     FileRecord* rec);

}  // namespace vmigrate

#endif  // VMIGRATE_ARCHIVE_CHECKSUMS_H_
