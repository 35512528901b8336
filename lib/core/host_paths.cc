#include "core/host_paths.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>

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

namespace {

bool IsRunningSystem(const std::string& root) { return root.empty() || root == "/"; }

// The fields of the first line of <root>/etc/<file> whose field `key_field`
// is `key` (passwd(5) and group(5) are both ':'-separated).
std::optional<std::vector<std::string>> FindEntry(const std::string& root, const char* file,
                                                  size_t key_field, const std::string& key,
                                                  size_t min_fields) {
  std::ifstream in(NormalizePath(root + "/etc/" + file));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = Split(line, ':');
    if (f.size() >= min_fields && f[key_field] == key) return f;
  }
  return std::nullopt;
}

std::optional<PasswdEntry> FromFields(const std::vector<std::string>& f) {
  unsigned long long uid = 0, gid = 0;
  if (!ParseUint64(f[2], &uid) || !ParseUint64(f[3], &gid) || uid > 0xfffffffeULL || gid > 0xfffffffeULL)
    return std::nullopt;
  return PasswdEntry{f[0], static_cast<uid_t>(uid), static_cast<gid_t>(gid), f[5]};
}

// getpw*_r with a buffer that grows on ERANGE.
template <typename Lookup>
std::optional<PasswdEntry> SystemPasswd(Lookup lookup) {
  std::vector<char> buf(4096);
  for (;;) {
    struct passwd pw, *found = nullptr;
    int rc = lookup(&pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return PasswdEntry{pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir};
  }
}

}  // namespace

std::optional<PasswdEntry> LookupPasswd(const std::string& root, const std::string& user) {
  if (IsRunningSystem(root))
    return SystemPasswd([&](struct passwd* pw, char* buf, size_t n, struct passwd** out) {
      return getpwnam_r(user.c_str(), pw, buf, n, out);
    });
  auto f = FindEntry(root, "passwd", 0, user, 6);
  return f ? FromFields(*f) : std::nullopt;
}

std::optional<PasswdEntry> LookupPasswdByUid(const std::string& root, uid_t uid) {
  if (IsRunningSystem(root))
    return SystemPasswd([&](struct passwd* pw, char* buf, size_t n, struct passwd** out) {
      return getpwuid_r(uid, pw, buf, n, out);
    });
  auto f = FindEntry(root, "passwd", 2, std::to_string(uid), 6);
  return f ? FromFields(*f) : std::nullopt;
}

std::optional<gid_t> LookupGroup(const std::string& root, const std::string& name) {
  if (IsRunningSystem(root)) {
    std::vector<char> buf(4096);
    for (;;) {
      struct group gr, *found = nullptr;
      int rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
      if (rc == ERANGE && buf.size() < (1u << 20)) {
        buf.resize(buf.size() * 2);
        continue;
      }
      if (rc != 0 || found == nullptr) return std::nullopt;
      return gr.gr_gid;
    }
  }
  auto f = FindEntry(root, "group", 0, name, 3);
  unsigned long long gid = 0;
  if (!f || !ParseUint64((*f)[2], &gid) || gid > 0xfffffffeULL) return std::nullopt;
  return static_cast<gid_t>(gid);
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
