// Host paths reached through symlinks, resolved the way the kernel would
// resolve them on the host itself, but under --root: an absolute link
// target is taken relative to the root (as if the root were "/"), and a
// link whose target leads above the root is refused. vpopmail, qmail-local
// and the POP/IMAP servers follow symlinked storage (domains/, a domain
// dir, a bucket dir, a home, a Maildir), so export, import and verify
// resolve those paths with this one function.
#ifndef VMIGRATE_CORE_RESOLVE_PATH_H_
#define VMIGRATE_CORE_RESOLVE_PATH_H_

#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate {

/// One symlink followed on the way.
struct SymlinkHop {
  std::string link;      // host path of the symlink itself
  std::string target;    // its text, as readlink(2) gives it
  std::string resolved;  // host path the text names (lexically; later hops are listed too)
};

struct ResolvedPath {
  std::string host;              // host path with every symlink followed
  std::string disk;              // on disk: root + host
  bool exists = false;           // false when a component is missing (the rest is kept as given)
  std::vector<SymlinkHop> hops;  // in the order they were followed
};

/// Resolves the absolute host path `host_path` under `root` ("/" or empty:
/// the running system), component by component with lstat(2) and
/// readlink(2). A component that does not exist ends the resolution: the
/// remaining components are appended as given and `exists` is false
/// (like `realpath -m`). Errors: kIoError naming the link when a link
/// leads outside `root` (through "..": absolute targets are re-rooted),
/// when more than 40 links are followed (a loop), or when lstat/readlink
/// fail for another reason than a missing component; kInvalidInput when
/// `host_path` is not absolute.
Result<ResolvedPath> ResolveUnderRoot(const std::string& root, const std::string& host_path);

/// Like ResolveUnderRoot, but the last component itself is not followed
/// and not looked at (lstat semantics): where an entry named by `host_path`
/// would be created or found; `exists` then says whether its parent does. Used for "does the target already have this" checks and for
/// placing a new directory through a symlinked parent.
Result<ResolvedPath> ResolveParentUnderRoot(const std::string& root, const std::string& host_path);

/// "LINK -> TARGET" plus " (RESOLVED)" when TARGET is not already that path.
std::string DescribeHop(const SymlinkHop& hop);

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_RESOLVE_PATH_H_
