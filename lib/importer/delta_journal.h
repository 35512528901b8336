// The redo journal of a delta import (importer/delta_apply.h): one step a
// line, tab-separated C-escaped fields, every step idempotent so that a
// journal run half-way is simply run again.
//   vmigrate-delta-journal 1
//   unlink <path>            remove a file or symlink (absent is fine)
//   rmtree <path>            remove a directory and everything in it
//   rename <from> <to>       a message that moved (done when <from> is gone)
//   mkdir <path>             0700, chowned; existing is fine
//   put <staged> <path>      rename the staged file over <path> (copy across filesystems)
//   meta <path> <mode> <sec>.<nsec>   chmod (not symlinks) and mtime
//   alias-add <alias> <domain> <uid> <gid> <dir>   register an alias domain (vaddaliasdomain)
//   alias-remove <alias>     its users/assign, rcpthosts/morercpthosts, virtualdomains lines
// Paths are on-disk paths of this host.
#ifndef VMIGRATE_IMPORTER_DELTA_JOURNAL_H_
#define VMIGRATE_IMPORTER_DELTA_JOURNAL_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/host_paths.h"
#include "core/status.h"

namespace vmigrate {

/// Writes `steps` as <journal_dir>/journal, durably (temp, fsync, rename).
Status WriteDeltaJournal(const std::string& journal_dir, const std::vector<std::vector<std::string>>& steps);

/// Runs <journal_dir>/journal to its end. kCorrupt for a journal it cannot
/// read ("check the domain and remove it by hand"); a step's own error
/// (kIoError, ...) stops the run, and the next run starts again.
Status RunDeltaJournal(const std::string& journal_dir, const HostPaths& paths,
                       const std::optional<FileOwner>& owner);

/// The journal's (and delta.txt's) mode and mtime fields: "0600",
/// "<sec>.<nsec>" with nine digits. The parsers refuse anything else.
std::string JournalMode(mode_t mode);
std::string JournalMtime(const struct timespec& t);
bool ParseJournalMode(const std::string& s, mode_t* mode);
bool ParseJournalMtime(const std::string& s, struct timespec* t);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_DELTA_JOURNAL_H_
