#include "core/host_paths.h"

#include <pwd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "core/strings.h"

namespace vmigrate {

std::string NormalizePath(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string HostPaths::OnDisk(const std::string& host_path) const {
  if (root.empty() || root == "/") return host_path;
  return NormalizePath(root + "/" + host_path);
}

std::optional<PasswdEntry> LookupPasswd(const std::string& root, const std::string& user) {
  if (root.empty() || root == "/") {
    struct passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) return std::nullopt;
    return PasswdEntry{pw->pw_name, pw->pw_uid, pw->pw_gid, pw->pw_dir};
  }
  std::ifstream in(NormalizePath(root + "/etc/passwd"));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = Split(line, ':');
    if (f.size() < 6 || f[0] != user) continue;
    try {
      return PasswdEntry{f[0], static_cast<uid_t>(std::stoul(f[2])),
                         static_cast<gid_t>(std::stoul(f[3])), f[5]};
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

Result<HostPaths> ResolveHostPaths(const std::string& root, const std::string& vpopmail_home,
                                   const std::string& qmail_dir) {
  HostPaths paths;
  paths.root = root.empty() ? "/" : NormalizePath(root);
  if (!vpopmail_home.empty()) {
    paths.vpopmail_home = NormalizePath(vpopmail_home);
  } else {
    auto pw = LookupPasswd(paths.root, "vpopmail");
    if (!pw || pw->home.empty())
      return Status::InvalidInput("no 'vpopmail' user found" +
                                  std::string(paths.root == "/" ? "" : " under " + paths.root) +
                                  "; pass --vpopmail-home DIR");
    paths.vpopmail_home = NormalizePath(pw->home);
  }
  paths.qmail_dir = NormalizePath(qmail_dir.empty() ? "/var/qmail" : qmail_dir);
  if (paths.vpopmail_home.empty() || paths.vpopmail_home[0] != '/')
    return Status::InvalidInput("--vpopmail-home must be an absolute path: '" + vpopmail_home + "'");
  if (paths.qmail_dir[0] != '/')
    return Status::InvalidInput("--qmail-dir must be an absolute path: '" + qmail_dir + "'");
  return paths;
}

}  // namespace vmigrate
