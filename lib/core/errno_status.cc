#include "core/errno_status.h"

#include <cerrno>
#include <cstring>

namespace vmigrate {

Status FromErrno(const std::string& where, int err) {
  std::string msg = where + ": " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IoError(msg);
}

Status FromErrorCode(const std::string& where, const std::error_code& ec) {
  if (ec.category() == std::system_category() || ec.category() == std::generic_category())
    return FromErrno(where, ec.value());
  return Status::IoError(where + ": " + ec.message());
}

}  // namespace vmigrate
