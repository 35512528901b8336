// Lines spooled to an anonymous temporary file and read back in order, so
// that a list as long as a domain's messages never has to sit in memory.
#ifndef VMIGRATE_CORE_TEXT_SPOOL_H_
#define VMIGRATE_CORE_TEXT_SPOOL_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/status.h"

namespace vmigrate {

class TextSpool {
 public:
  TextSpool() = default;
  ~TextSpool();
  TextSpool(const TextSpool&) = delete;
  TextSpool& operator=(const TextSpool&) = delete;

  /// Creates the file (tmpfile(3)); kIoError naming errno.
  Status Init();
  /// Appends `line` and a newline. `line` must not contain '\n'.
  Status Add(const std::string& line);
  /// Rewinds for reading; ReadLine gives each line without its newline
  /// and false at the end.
  Status Rewind();
  bool ReadLine(std::string* line);
  std::uint64_t bytes() const { return bytes_; }   // with the newlines
  std::uint64_t lines() const { return lines_; }

 private:
  FILE* file_ = nullptr;
  char* buf_ = nullptr;  // getline() buffer, reused
  size_t cap_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t lines_ = 0;
};

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_TEXT_SPOOL_H_
