// The delivery side of "references that leave the domain" (issue 12, kind
// 4) for `vmigrate verify`: whatever the archive says, mail for an alias
// whose Maildir does not exist on this host is deferred until qmail gives
// up, so verify checks the installed .qmail files themselves. Works for
// archives of any vmigrate version (no manifest field needed) and on both
// hosts: on the old host right after export every target exists.
#ifndef VMIGRATE_VERIFY_DELIVERY_CHECK_H_
#define VMIGRATE_VERIFY_DELIVERY_CHECK_H_

#include <map>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "model/manifest.h"
#include "verify/verifier.h"

namespace vmigrate {

/// Reads every ".qmail" / ".qmail-*" file (model/outside_refs.h,
/// IsDotQmailName) at the top of the installed domain dir `domain_dir` and
/// of each home in `homes` (user -> host path), and returns one Difference
/// for every delivery target (DotQmailPaths: a '/' or '.' line, taken from
/// the file's directory when relative, or vdelivermail's catch-all home)
/// that does not exist on this host: a Maildir line's directory, an mbox
/// line's parent directory (qmail-local creates the file), the catch-all
/// home. Symlinked .qmail files (ezmlm lists) and unreadable files are left
/// to the member comparison.
std::vector<Difference> CheckDeliveryTargets(const HostPaths& paths, const std::string& domain_dir,
                                             const std::map<std::string, std::string>& homes);

/// One warning line per reference of `domain` that leaves it (the
/// manifest's outside_refs, except paths into another domain of the same
/// archive, which were rewritten), saying whether the path exists here.
std::vector<std::string> OutsideRefWarnings(const HostPaths& paths, const ManifestDomain& domain);

}  // namespace vmigrate

#endif  // VMIGRATE_VERIFY_DELIVERY_CHECK_H_
