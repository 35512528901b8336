#include "core/resolve_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <deque>

#include "core/errno_status.h"
#include "core/host_paths.h"
#include "core/strings.h"

namespace vmigrate {
namespace {

// The kernel's limit (MAXSYMLINKS) for one lookup.
constexpr int kMaxLinks = 40;

std::string JoinHost(const std::vector<std::string>& parts) {
  if (parts.empty()) return "/";
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out;
}

// "/a/b/../c" -> "/a/c", without touching the disk (for hop descriptions).
std::string Lexical(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& c : Split(path, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(c);
  }
  return JoinHost(out);
}

void PushFront(std::deque<std::string>* pending, const std::string& path) {
  std::vector<std::string> parts = Split(path, '/');
  for (auto it = parts.rbegin(); it != parts.rend(); ++it)
    if (!it->empty() && *it != ".") pending->push_front(*it);
}

Result<ResolvedPath> Resolve(const std::string& root, const std::string& host_path, bool follow_last) {
  if (host_path.empty() || host_path[0] != '/')
    return Status::InvalidInput("'" + host_path + "' is not an absolute path");
  const bool rooted = !(root.empty() || root == "/");
  const std::string prefix = rooted ? NormalizePath(root) : "";
  ResolvedPath out;
  out.hops.reserve(kMaxLinks + 1);  // `via` points into it
  std::vector<std::string> done;  // resolved components, below the root
  std::deque<std::string> pending;
  PushFront(&pending, host_path);
  const SymlinkHop* via = nullptr;  // the link whose text is being walked
  bool missing = false;
  while (!pending.empty()) {
    std::string c = pending.front();
    pending.pop_front();
    if (c == "..") {
      if (!done.empty()) {
        done.pop_back();
      } else if (rooted) {
        // On the host "/.." is "/"; under --root it would leave the tree.
        if (via)
          return Status::IoError("symlink " + via->link + " -> " + via->target +
                                 " leads outside --root " + prefix);
        return Status::IoError(host_path + " leads outside --root " + prefix);
      }
      continue;
    }
    if (missing || (!follow_last && pending.empty())) {
      done.push_back(c);
      continue;
    }
    std::string disk = prefix + JoinHost(done) + (done.empty() ? "" : "/") + c;
    struct stat st;
    if (lstat(disk.c_str(), &st) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) return FromErrno("cannot stat " + disk, errno);
      missing = true;
      done.push_back(c);
      continue;
    }
    if (!S_ISLNK(st.st_mode)) {
      done.push_back(c);
      continue;
    }
    if (static_cast<int>(out.hops.size()) >= kMaxLinks)
      return Status::IoError(host_path + ": more than " + std::to_string(kMaxLinks) +
                             " symlinks on the way (a loop?)");
    char buf[4096];
    ssize_t n = readlink(disk.c_str(), buf, sizeof buf);
    if (n < 0) return FromErrno("cannot read link " + disk, errno);
    if (static_cast<size_t>(n) >= sizeof buf) return Status::IoError(disk + ": symlink target too long");
    SymlinkHop hop;
    hop.link = JoinHost(done) + (done.empty() ? "" : "/") + c;
    hop.target.assign(buf, static_cast<size_t>(n));
    hop.resolved = Lexical(hop.target[0] == '/' ? hop.target : JoinHost(done) + "/" + hop.target);
    out.hops.push_back(hop);
    via = &out.hops.back();
    if (hop.target[0] == '/') done.clear();  // re-rooted under --root
    PushFront(&pending, hop.target);
  }
  out.host = JoinHost(done);
  out.disk = rooted ? prefix + (out.host == "/" ? "" : out.host) : out.host;
  out.exists = !missing;
  return out;
}

}  // namespace

Result<ResolvedPath> ResolveUnderRoot(const std::string& root, const std::string& host_path) {
  return Resolve(root, host_path, /*follow_last=*/true);
}

Result<ResolvedPath> ResolveParentUnderRoot(const std::string& root, const std::string& host_path) {
  return Resolve(root, host_path, /*follow_last=*/false);
}

std::string DescribeHop(const SymlinkHop& hop) {
  std::string s = hop.link + " -> " + hop.target;
  if (hop.resolved != hop.target) s += " (" + hop.resolved + ")";
  return s;
}

}  // namespace vmigrate
