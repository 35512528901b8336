// Reads a file line by line through one fixed buffer, so a multi-gigabyte spool
// is never held in memory; a line longer than the buffer is reported with its
// first bytes only. Internal to lib/mbox.
#ifndef VMIGRATE_MBOX_LINE_READER_H_
#define VMIGRATE_MBOX_LINE_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate::mbox {

struct Line {
  std::int64_t offset = 0;   // file offset of the first byte
  std::int64_t length = 0;   // bytes including the line end
  bool has_newline = false;  // false only for a last line without '\n'
  bool crlf = false;         // ends with "\r\n"
  bool has_nul = false;
  const char* head = nullptr;  // the first head_size bytes (the whole line when it fits)
  size_t head_size = 0;

  bool Blank() const {
    return has_newline && (length == 1 || (length == 2 && crlf));
  }
  bool StartsWith(const char* prefix, size_t n) const;
};

class LineReader {
 public:
  /// `fd` stays owned by the caller.
  explicit LineReader(int fd, size_t buffer_size = 1 << 16);

  /// The next line; false at the end of the file or on a read error (see status()).
  bool Next(Line* line);
  const Status& status() const { return status_; }
  /// 1-based number of the line last returned.
  std::uint64_t line_number() const { return line_number_; }

 private:
  bool Fill();  // reads more after compacting; false at EOF or error

  int fd_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  std::int64_t buf_offset_ = 0;  // file offset of buf_[0]
  bool eof_ = false;
  std::string long_head_;        // head of a line longer than the buffer
  std::uint64_t line_number_ = 0;
  Status status_;
};

}  // namespace vmigrate::mbox

#endif  // VMIGRATE_MBOX_LINE_READER_H_
