// Helpers shared by the vmigrate fuzz targets (not part of the library).
#ifndef VMIGRATE_FUZZ_FUZZ_UTIL_H_
#define VMIGRATE_FUZZ_FUZZ_UTIL_H_

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace vmigrate_fuzz {

// A file holding the current input, reachable by a path (the library opens
// archives by name). A memfd is used when available, so nothing hits the disk;
// otherwise one temp file per process, rewritten for each input.
class InputFile {
 public:
  InputFile() {
#ifdef MFD_CLOEXEC
    fd_ = memfd_create("vmigrate-fuzz-input", MFD_CLOEXEC);
#endif
    if (fd_ >= 0) {
      path_ = "/proc/self/fd/" + std::to_string(fd_);
    } else {
      char tmpl[] = "/tmp/vmigrate-fuzz-input-XXXXXX";
      fd_ = mkstemp(tmpl);
      if (fd_ < 0) abort();
      path_ = tmpl;
      unlink_ = true;
    }
  }
  ~InputFile() {
    if (fd_ >= 0) close(fd_);
    if (unlink_) unlink(path_.c_str());
  }
  // Replaces the file's contents with `data`; returns the path to open.
  const std::string& Write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0) abort();
    size_t off = 0;
    while (off < size) {
      ssize_t n = pwrite(fd_, data + off, size - off, static_cast<off_t>(off));
      if (n <= 0) abort();
      off += static_cast<size_t>(n);
    }
    return path_;
  }

 private:
  int fd_ = -1;
  bool unlink_ = false;
  std::string path_;
};

}  // namespace vmigrate_fuzz

#endif  // VMIGRATE_FUZZ_FUZZ_UTIL_H_
