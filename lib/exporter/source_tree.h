// Reading the source host's tree for export: which domains a server backup
// takes, the host's name, a pre-order walk of a directory in inode order
// with read-ahead, and which paths are messages (Maildir++ cur/new/tmp,
// ezmlm's archive/).
#ifndef VMIGRATE_EXPORTER_SOURCE_TREE_H_
#define VMIGRATE_EXPORTER_SOURCE_TREE_H_

#include <sys/stat.h>

#include <functional>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"

namespace vmigrate {

/// export --all: every real domain of users/assign in file order, or the
/// names in `only` (--domains-from), minus `exclude`, each once. kNotFound
/// for an --exclude name that is not a domain here (a typo must not leave a
/// domain out of a backup silently); names in `only` are checked later by
/// qmail::LocateDomain.
Result<std::vector<std::string>> SelectServerDomains(const HostPaths& paths,
                                                     const std::vector<std::string>& only,
                                                     const std::vector<std::string>& exclude);

/// The first line of <qmail>/control/me, else gethostname(3).
std::string SourceHostname(const HostPaths& paths);

/// Now, UTC, ISO 8601 ("2026-11-29T17:40:00Z").
std::string NowUtc();

/// Whether a path relative to a home or domain dir lies in a message
/// directory (cur/, new/, tmp/, ezmlm's archive/): such bytes are never rewritten.
bool InMessageDir(const std::string& rel_path);

/// Whether a path is a message: a file directly in a cur/ or new/ directory.
bool IsMessage(const std::string& rel_path);

/// Called for each entry of a walk with its path relative to the walk's
/// root, its path on disk and its lstat(2); returns whether to descend
/// into a directory.
using Visitor = std::function<Result<bool>(const std::string& rel, const std::string& disk,
                                           const struct stat& st)>;

/// Walks `disk_dir` in pre-order, children in inode order (close to disk
/// order on ext4/xfs). With `prefetch`, the next regular files of a
/// directory get POSIX_FADV_WILLNEED ahead of the visit, so cold reads
/// overlap with hashing and compression. An entry that vanishes meanwhile
/// is skipped; other errors stop the walk ("cannot read directory D",
/// "cannot stat P") as does the first error `visit` returns.
Status Walk(const std::string& disk_dir, const std::string& rel_dir, const Visitor& visit,
            bool prefetch = false);

}  // namespace vmigrate

#endif  // VMIGRATE_EXPORTER_SOURCE_TREE_H_
