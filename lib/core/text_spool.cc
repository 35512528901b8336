#include "core/text_spool.h"

#include <sys/types.h>

#include <cerrno>
#include <cstdlib>

#include "core/errno_status.h"

namespace vmigrate {

TextSpool::~TextSpool() {
  if (file_) std::fclose(file_);
  std::free(buf_);
}

Status TextSpool::Init() {
  file_ = std::tmpfile();
  if (!file_) return FromErrno("cannot create a temporary file", errno);
  return Status::OK();
}

Status TextSpool::Add(const std::string& line) {
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fputc('\n', file_) == EOF)
    return FromErrno("cannot write a temporary file", errno);
  bytes_ += line.size() + 1;
  ++lines_;
  return Status::OK();
}

Status TextSpool::Rewind() {
  if (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0)
    return FromErrno("cannot read back a temporary file", errno);
  return Status::OK();
}

bool TextSpool::ReadLine(std::string* line) {
  ssize_t n = getline(&buf_, &cap_, file_);
  if (n <= 0) return false;
  line->assign(buf_, static_cast<size_t>(n) - (buf_[n - 1] == '\n' ? 1 : 0));
  return true;
}

}  // namespace vmigrate
