#include "exporter/source_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <set>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/strings.h"
#include "qmail/domains.h"

namespace vmigrate {
namespace {

struct DirChild {
  std::string name;
  ino_t ino;
  unsigned char type;  // d_type; DT_UNKNOWN if the filesystem does not say
};

// Children of a directory in inode order, which keeps reads close to disk
// order on ext4/xfs and avoids seek storms on big Maildirs.
Result<std::vector<DirChild>> ListDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return FromErrno("cannot read directory " + dir, errno);
  std::vector<DirChild> out;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    out.push_back({name, e->d_ino, e->d_type});
  }
  closedir(d);
  std::sort(out.begin(), out.end(),
            [](const DirChild& a, const DirChild& b) { return a.ino < b.ino; });
  return out;
}

// Starts reading the first bytes of a regular file in the background
// (POSIX_FADV_WILLNEED), so that on a cold cache several files' reads are in
// flight while the current one is hashed and compressed, instead of one
// synchronous disk read per file. Only DT_REG entries: opening a FIFO or a
// device has side effects.
constexpr size_t kPrefetchFiles = 32;
constexpr off_t kPrefetchBytes = 128 * 1024;  // the kernel's readahead does the rest

void Prefetch(int dir_fd, const DirChild& child) {
  if (dir_fd < 0 || child.type != DT_REG) return;
  // Relative to the directory: one name to look up, not the whole path.
  const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  int fd = openat(dir_fd, child.name.c_str(), flags | O_NOATIME);
  // O_NOATIME needs ownership; an export run as a reader still prefetches.
  if (fd < 0 && errno == EPERM) fd = openat(dir_fd, child.name.c_str(), flags);
  if (fd < 0) return;
  posix_fadvise(fd, 0, kPrefetchBytes, POSIX_FADV_WILLNEED);
  close(fd);
}

}  // namespace

// Message files live in cur/new/tmp; ezmlm keeps list mail in archive/.
// Their bytes are never rewritten.
bool InMessageDir(const std::string& rel_path) {
  std::vector<std::string> parts = Split(rel_path, '/');
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    if (parts[i] == "cur" || parts[i] == "new" || parts[i] == "tmp" || parts[i] == "archive")
      return true;
  return false;
}

bool IsMessage(const std::string& rel_path) {
  std::vector<std::string> parts = Split(rel_path, '/');
  return parts.size() >= 2 &&
         (parts[parts.size() - 2] == "cur" || parts[parts.size() - 2] == "new");
}

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string SourceHostname(const HostPaths& paths) {
  auto me = ReadSmallFile(paths.OnDisk(paths.control_file("me")), 4096);
  if (me.ok()) {
    auto lines = SplitLines(*me);
    if (!lines.empty() && !lines[0].empty()) return lines[0];
  }
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

Status Walk(const std::string& disk_dir, const std::string& rel_dir, const Visitor& visit,
            bool prefetch) {
  auto children = ListDir(disk_dir);
  if (!children.ok()) return children.status();
  size_t prefetched = 0;  // children [0, prefetched) have been prefetched
  struct DirFd {
    int fd;
    ~DirFd() {
      if (fd >= 0) close(fd);
    }
  } dir{prefetch ? open(disk_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1};
  for (size_t i = 0; i < children->size(); ++i) {
    const DirChild& child = (*children)[i];
    if (prefetch) {
      for (; prefetched < children->size() && prefetched < i + kPrefetchFiles; ++prefetched)
        Prefetch(dir.fd, (*children)[prefetched]);
    }
    std::string disk = disk_dir + "/" + child.name;
    std::string rel = rel_dir.empty() ? child.name : rel_dir + "/" + child.name;
    struct stat st;
    if (lstat(disk.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // vanished (e.g. a delivery moved it): not ours to carry
      return FromErrno("cannot stat " + disk, errno);
    }
    auto descend = visit(rel, disk, st);
    if (!descend.ok()) return descend.status();
    if (*descend && S_ISDIR(st.st_mode)) VM_RETURN_IF_ERROR(Walk(disk, rel, visit, prefetch));
  }
  return Status::OK();
}


Result<std::vector<std::string>> SelectServerDomains(const HostPaths& paths,
                                                   const std::vector<std::string>& only,
                                                   const std::vector<std::string>& exclude) {
  auto all = qmail::ListDomains(paths);
  if (!all.ok()) return all.status();
  std::set<std::string> known;
  for (const auto& name : *all) known.insert(ToLower(name));
  for (const auto& name : exclude)
    if (!known.count(ToLower(name)))
      return Status::NotFound("--exclude " + name + ": not a vpopmail domain in " + paths.assign_file());
  std::set<std::string> excluded;
  for (const auto& name : exclude) excluded.insert(ToLower(name));
  std::vector<std::string> out;
  std::set<std::string> taken;
  const std::vector<std::string>& wanted = only.empty() ? *all : only;
  for (const auto& name : wanted) {
    std::string lower = ToLower(name);
    if (excluded.count(lower) || !taken.insert(lower).second) continue;
    out.push_back(name);  // LocateDomain names an alias or unknown domain
  }
  return out;
}

}  // namespace vmigrate
