// Host-specific absolute paths inside text files (.qmail*, autoresponder and
// list config, symlink targets) become placeholders in the archive and the
// target's paths on import. Pure string functions.
#ifndef VMIGRATE_MODEL_PATH_REWRITE_H_
#define VMIGRATE_MODEL_PATH_REWRITE_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace vmigrate {

/// The paths of one side of a migration, all host paths without trailing '/'.
struct HostPathSet {
  std::string vpopmail_home;
  std::string qmail_dir;
  std::string domain_dir;
  std::map<std::string, std::string> user_dirs;  // user name -> home
  /// Export only: more specific paths and what they become, for paths that
  /// lead out of the domain (model/outside_refs.h). A value equal to its key
  /// keeps such paths verbatim although the vpopmail home contains them
  /// (vpopmail's domains/ dir, another domain's dir); in a server backup,
  /// another archived domain's dir maps to its place below the vpopmail home
  /// placeholder. Like every entry, the longest match wins.
  std::map<std::string, std::string> overrides;
};

/// Replaces every occurrence of a known path (longest first, only where it
/// stands as a whole path: not preceded by a path character and not
/// followed by a name character) with its placeholder. Returns whether
/// anything changed (a path kept verbatim by `overrides` is no change).
bool ToPlaceholders(const HostPathSet& source, std::string* text);

/// Replaces every placeholder with the target's path. kCorrupt naming the
/// placeholder when it is unknown (e.g. a user the archive does not have).
Status FromPlaceholders(const HostPathSet& target, std::string* text);

/// True when `text` already holds our marker, so rewriting it would be ambiguous.
bool HasPlaceholderMarker(const std::string& text);

/// The host path of a domain entry named the way the manifest names
/// members below "domains/<d>/": "files/<rel>" (in the domain dir) or
/// "users/<u>/<rel>" (in u's home). nullopt for any other form or a user
/// `paths` does not know.
std::optional<std::string> EntryHostPath(const HostPathSet& paths, const std::string& rel_in_domain);

/// A relative symlink target for a link that moves from host path
/// `from_link` (source) to `to_link` (target): the place it reached on the
/// source, taken lexically ("a/../b" is "b"), moved with the domain when it
/// is inside the domain dir or a home of `source` (mapped as absolute paths
/// are: ToPlaceholders, FromPlaceholders with `target`; any other place,
/// e.g. another domain, stays the same host path), reached from the link's
/// new place. Returns `text` unchanged when it
/// already reaches that place (homes that keep their bucket), and nullopt
/// when it cannot be rewritten: it climbs above "/", or names a user
/// `target` does not have. Absolute `text` is returned as it is.
std::optional<std::string> RebaseRelativeLink(const HostPathSet& source, const HostPathSet& target,
                                              const std::string& from_link,
                                              const std::string& to_link, const std::string& text);

}  // namespace vmigrate

#endif  // VMIGRATE_MODEL_PATH_REWRITE_H_
