// Host-specific absolute paths inside text files (.qmail*, autoresponder and
// list config, symlink targets) become placeholders in the archive and the
// target's paths on import. Pure string functions.
#ifndef VMIGRATE_MODEL_PATH_REWRITE_H_
#define VMIGRATE_MODEL_PATH_REWRITE_H_

#include <map>
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

}  // namespace vmigrate

#endif  // VMIGRATE_MODEL_PATH_REWRITE_H_
