#include "verify/installed_domain.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "core/errno_status.h"

namespace vmigrate::verify {

Result<std::vector<std::string>> ListNames(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return FromErrorCode("cannot read directory " + dir, ec);
  std::vector<std::string> out;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) out.push_back(it->path().filename());
  if (ec) return FromErrorCode("cannot read directory " + dir, ec);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace vmigrate::verify
