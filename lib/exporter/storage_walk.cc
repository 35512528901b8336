#include "exporter/storage_walk.h"

#include <sys/stat.h>

#include "core/strings.h"

namespace vmigrate {
namespace {

// Names of our own journals, staging dirs and markers: never part of a
// domain's content.
bool IsOwnWorkName(const std::string& rel) {
  std::string base = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
  return StartsWith(base, ".vmigrate-");
}

}  // namespace

Result<ResolvedPath> StorageWalker::Resolve(const std::string& host_path) const {
  return ResolveUnderRoot(paths_.root, host_path);
}

void StorageWalker::NoteFollowed(const ResolvedPath& path) {
  const std::string& home = paths_.vpopmail_home;
  for (const SymlinkHop& hop : path.hops) {
    if (StartsWith(home, hop.link + "/") || hop.link == "/") continue;
    if (!noted_links_.insert(hop.link).second) continue;
    followed_->push_back(hop);
  }
}

Status StorageWalker::Walk(const std::string& disk_dir, const std::string& host_dir, const std::string& domain,
                           const std::set<std::string>* buckets, const Visitor& visit, bool prefetch) {
  // A bucket dir of the domain dir or the Maildir of a home: storage that
  // vpopmail, qmail-local and the POP/IMAP servers reach through a symlink.
  auto is_storage_link = [&](const std::string& rel) {
    return buckets ? buckets->count(rel) > 0 : rel == "Maildir";
  };
  Visitor follow;
  follow = [&](const std::string& rel, const std::string& disk, const struct stat& st) -> Result<bool> {
    if (IsOwnWorkName(rel)) return false;
    if (!S_ISLNK(st.st_mode) || !is_storage_link(rel)) return visit(rel, disk, st);
    const std::string host = host_dir + "/" + rel;
    auto dir = Resolve(host);
    if (!dir.ok()) return dir.status().WithContext(domain + ": " + host);
    struct stat dst;
    if (!dir->exists || stat(dir->disk.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode)) {
      if (warned_links_.insert(host).second)
        warnings_->push_back(domain + ": " + host + " is a symlink (" + DescribeHop(dir->hops.back()) +
                             ") that leads to no directory; left out");
      return false;
    }
    NoteFollowed(*dir);
    auto descend = visit(rel, dir->disk, dst);
    if (!descend.ok() || !*descend) return descend;
    VM_RETURN_IF_ERROR(vmigrate::Walk(dir->disk, rel, follow, prefetch));
    return false;
  };
  return vmigrate::Walk(disk_dir, "", follow, prefetch);
}

}  // namespace vmigrate
