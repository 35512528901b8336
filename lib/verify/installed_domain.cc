#include "verify/installed_domain.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "core/errno_status.h"
#include "core/resolve_path.h"

namespace vmigrate::verify {

Result<std::string> InstalledDomain::StorageDisk(const std::string& host_path) const {
  auto it = storage_disk_.find(host_path);
  if (it != storage_disk_.end()) return it->second;
  auto r = ResolveUnderRoot(paths->root, host_path);
  if (!r.ok()) return r.status().WithContext(archived->name + ": " + host_path);
  storage_disk_[host_path] = r->disk;
  return r->disk;
}

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
