#include "verify/installed_domain.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>

#include "core/errno_status.h"

namespace vmigrate::verify {

Result<std::vector<std::string>> ListNames(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return FromErrno("cannot read directory " + dir, errno);
  std::vector<std::string> out;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace vmigrate::verify
