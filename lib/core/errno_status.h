// errno and std::error_code become a Status in one place (leveldb PosixError).
#ifndef VMIGRATE_CORE_ERRNO_STATUS_H_
#define VMIGRATE_CORE_ERRNO_STATUS_H_

#include <string>
#include <system_error>

#include "core/status.h"

namespace vmigrate {

/// "where: strerror(err)"; ENOENT maps to kNotFound, anything else to kIoError.
Status FromErrno(const std::string& where, int err);
Status FromErrorCode(const std::string& where, const std::error_code& ec);

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_ERRNO_STATUS_H_
