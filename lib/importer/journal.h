// The commit journal: before an import moves its domain into place it
// records every file the commit will change (with a copy of its contents)
// and every directory it will create. If the process dies half-way (power
// cut, SIGKILL, full disk), the next import of that domain finds the
// journal, rolls the target back to exactly its state before the commit,
// and starts again. The journal is removed once the commit is complete.
//
// Layout: <vpopmail>/domains/.vmigrate-journal.<domain>/ holding one copy per
// file ("0", "1", ...) and "index", written last (so a journal without an
// index was never acted on):
//   vmigrate-journal 1
//   final <path>                 the domain dir the commit creates
//   created <path>               a bucket dir the commit creates (0 or more)
//   file <n> <existed 0|1> <mode octal> <uid> <gid> <path>
// Paths are on-disk paths, C-escaped.
#ifndef VMIGRATE_IMPORTER_JOURNAL_H_
#define VMIGRATE_IMPORTER_JOURNAL_H_

#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate {

std::string JournalDir(const std::string& domains_dir_on_disk, const std::string& domain);

/// Writes the journal durably (files fsynced, then index, then directories).
Status WriteJournal(const std::string& journal_dir, const std::vector<std::string>& files,
                    const std::string& final_dir, const std::vector<std::string>& created_dirs);

/// Rolls back what an interrupted commit did and removes the journal.
/// Returns false (and changes nothing) when there is no journal.
Result<bool> RecoverJournal(const std::string& journal_dir);

/// Removes a journal after a complete commit.
Status RemoveJournal(const std::string& journal_dir);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_JOURNAL_H_
