#include "mbox/line_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/errno_status.h"

namespace vmigrate::mbox {
namespace {
// A line longer than the buffer keeps this much of its start: enough for any
// header the scanner reads (From_, Status, X-UID, X-Keywords, X-IMAPbase ...).
constexpr size_t kLongHeadBytes = 8192;
}  // namespace

bool Line::StartsWith(const char* prefix, size_t n) const {
  return head_size >= n && std::memcmp(head, prefix, n) == 0;
}

LineReader::LineReader(int fd, size_t buffer_size) : fd_(fd), buf_(buffer_size) {}

bool LineReader::Fill() {
  if (eof_ || !status_.ok()) return false;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
    buf_offset_ += static_cast<std::int64_t>(pos_);
    len_ -= pos_;
    pos_ = 0;
  }
  if (len_ == buf_.size()) return false;  // full: the caller handles a long line
  for (;;) {
    ssize_t n = read(fd_, buf_.data() + len_, buf_.size() - len_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status_ = FromErrno("read at offset " + std::to_string(buf_offset_ + static_cast<std::int64_t>(len_)), errno);
      return false;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    len_ += static_cast<size_t>(n);
    return true;
  }
}

bool LineReader::Next(Line* line) {
  *line = Line();
  size_t scanned = pos_;  // bytes before this were already searched for '\n'
  for (;;) {
    const char* start = buf_.data() + pos_;
    const char* nl = static_cast<const char*>(
        std::memchr(buf_.data() + scanned, '\n', len_ - scanned));
    if (nl != nullptr) {
      size_t n = static_cast<size_t>(nl - start) + 1;
      line->offset = buf_offset_ + static_cast<std::int64_t>(pos_);
      line->length = static_cast<std::int64_t>(n);
      line->has_newline = true;
      line->crlf = n >= 2 && start[n - 2] == '\r';
      line->has_nul = std::memchr(start, '\0', n) != nullptr;
      line->head = start;
      line->head_size = n;
      pos_ += n;
      ++line_number_;
      return true;
    }
    size_t have = len_ - pos_;
    if (have == buf_.size()) break;  // longer than the buffer
    size_t before = have;
    if (!Fill()) {
      if (!status_.ok()) return false;
      if (!eof_) break;               // buffer full after compaction
      if (len_ == pos_) return false;  // clean end of file
      // The last line has no '\n'.
      start = buf_.data() + pos_;
      line->offset = buf_offset_ + static_cast<std::int64_t>(pos_);
      line->length = static_cast<std::int64_t>(len_ - pos_);
      line->has_nul = std::memchr(start, '\0', len_ - pos_) != nullptr;
      line->head = start;
      line->head_size = len_ - pos_;
      pos_ = len_;
      ++line_number_;
      return true;
    }
    scanned = pos_ + before;  // Fill() compacted: pos_ is 0 now
  }
  // A line longer than the buffer: keep its head, stream over the rest.
  line->offset = buf_offset_ + static_cast<std::int64_t>(pos_);
  long_head_.assign(buf_.data() + pos_, std::min(kLongHeadBytes, len_ - pos_));
  std::int64_t length = 0;
  bool nul = false;
  char last = '\0';  // last byte of the previous chunk, for a "\r" | "\n" split
  for (;;) {
    const char* start = buf_.data() + pos_;
    size_t have = len_ - pos_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', have));
    size_t take = nl != nullptr ? static_cast<size_t>(nl - start) + 1 : have;
    nul = nul || std::memchr(start, '\0', take) != nullptr;
    length += static_cast<std::int64_t>(take);
    if (nl != nullptr) {
      line->has_newline = true;
      line->crlf = take >= 2 ? start[take - 2] == '\r' : last == '\r';
      pos_ += take;
      break;
    }
    if (take > 0) last = start[take - 1];
    buf_offset_ += static_cast<std::int64_t>(len_);
    pos_ = len_ = 0;
    if (!Fill()) {
      if (!status_.ok()) return false;
      break;  // end of file inside the line
    }
  }
  line->length = length;
  line->has_nul = nul;
  line->head = long_head_.data();
  line->head_size = long_head_.size();
  ++line_number_;
  return true;
}

}  // namespace vmigrate::mbox
