// Walking a source domain's storage the way vpopmail, qmail-local and the
// POP/IMAP servers reach it: a symlinked domain dir, bucket dir, home or
// Maildir is followed (always under --root), any other symlink is carried
// as a link. Reference: vpopmail-qmail-formats.md (storage layout);
// README "Symlinked storage".
#ifndef VMIGRATE_EXPORTER_STORAGE_WALK_H_
#define VMIGRATE_EXPORTER_STORAGE_WALK_H_

#include <set>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/resolve_path.h"
#include "core/status.h"
#include "exporter/source_tree.h"

namespace vmigrate {

class StorageWalker {
 public:
  /// `warnings` and `followed` (not owned) receive what the walks report.
  StorageWalker(const HostPaths& paths, std::vector<std::string>* warnings, std::vector<SymlinkHop>* followed)
      : paths_(paths), warnings_(warnings), followed_(followed) {}

  /// A host path resolved under --root (ResolveUnderRoot): errors for a
  /// link that leaves --root or loops.
  Result<ResolvedPath> Resolve(const std::string& host_path) const;

  /// Lists the links `path` went through in `followed`, once each. Links
  /// above the vpopmail home (a symlinked /home) are the host's business.
  void NoteFollowed(const ResolvedPath& path);

  /// Walk() of `disk_dir` (host path `host_dir`) where a storage symlink is
  /// followed: with `buckets` (a domain dir's walk) a bucket dir, without
  /// (a home's walk) the Maildir. `visit` sees the directory a link leads
  /// to under the link's name, and the walk goes on inside it; a storage
  /// link that leads nowhere is left out with a warning naming `domain`
  /// (the importer refuses a symlink in place of a Maildir). Entries named
  /// ".vmigrate-*" (our journals and staging) are never visited.
  Status Walk(const std::string& disk_dir, const std::string& host_dir, const std::string& domain,
              const std::set<std::string>* buckets, const Visitor& visit, bool prefetch = false);

 private:
  const HostPaths& paths_;
  std::vector<std::string>* warnings_;
  std::vector<SymlinkHop>* followed_;
  std::set<std::string> noted_links_;   // host paths of links in `followed`
  std::set<std::string> warned_links_;  // storage links reported as leading nowhere
};

}  // namespace vmigrate

#endif  // VMIGRATE_EXPORTER_STORAGE_WALK_H_
