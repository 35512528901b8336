// What changed in one section of a state (the domain-level files or one
// user's home) between a base state and now: the rule export --since
// follows (share/doc/state-format.md). A message is identified by its
// Maildir folder, unique name and size, so a message that moved from new/
// to cur/ or whose flags changed is a rename, never new bytes; any other
// entry by its path, type, mode, mtime, size and digest.
#ifndef VMIGRATE_STATE_STATE_DIFF_H_
#define VMIGRATE_STATE_STATE_DIFF_H_

#include <string>
#include <vector>

#include "state/state_file.h"

namespace vmigrate {

struct StateRename {
  std::string from, to;  // paths relative to the section root
  StateEntry after;      // the entry as it is now (mode and mtime to set)
};

struct SectionChanges {
  /// New or changed files and symlinks, and directories that are new or
  /// whose mode or mtime changed: their content (or metadata) travels.
  std::vector<StateEntry> send;
  /// Paths in the base that are gone now (or changed type), deepest first,
  /// so a directory comes after everything in it.
  std::vector<std::string> remove;
  std::vector<StateRename> renames;
  bool user_changed = false;  // the `user` record (a vpasswd field) differs

  bool empty() const { return send.empty() && remove.empty() && renames.empty() && !user_changed; }
};

/// Compares `base` with `current` (entries of one section, any order) and
/// the user record lines. Pure: no I/O.
SectionChanges DiffSection(const StateSection& base, const std::vector<StateEntry>& current,
                           const std::string& current_user_line);

}  // namespace vmigrate

#endif  // VMIGRATE_STATE_STATE_DIFF_H_
