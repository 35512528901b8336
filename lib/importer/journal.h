// The commit journal: before an import moves its domain into place it
// records what the commit will do: the domain dir and bucket dirs it
// creates, every control-file line it adds or removes, and domains/.dir-control
// before and after. If the process dies half-way (power cut, SIGKILL, full
// disk), the next import of that domain finds the journal and undoes exactly
// those changes, leaving everything else (for example a domain imported in
// between) alone, then starts again. The journal is removed once the commit
// is complete.
//
// Layout: <vpopmail>/domains/.vmigrate-journal.<domain>/ with "dircontrol.old"
// (absent if the file was), "dircontrol.new", "dircontrol.done" (once the
// commit wrote it) and "index", written before anything else changes (a
// journal without an index was never acted on). Index lines, fields
// tab-separated and C-escaped:
//   vmigrate-journal 2
//   final <dir>            the domain dir the commit creates
//   created <dir>          a bucket dir the commit creates (0 or more)
//   existed <0|1> <file>   whether a control file existed before
//   edit <+|-> <file> <line>
//   dircontrol <file>      domains/.dir-control (a cdb target)
//   sql <domain> <uid>     a MySQL target: the commit inserts the domain's rows
//                          and sets dir_control row dom_<uid> (dircontrol.old
//                          and .new hold that row's text); "sql.done" once
//                          the transaction committed
#ifndef VMIGRATE_IMPORTER_JOURNAL_H_
#define VMIGRATE_IMPORTER_JOURNAL_H_

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "vpopmail/user_store.h"

namespace vmigrate {

struct JournalPlan {
  std::string final_dir;                  // on-disk paths throughout
  std::vector<std::string> created_dirs;
  struct Edit {
    char op;  // '+' added by the commit, '-' removed by it
    std::string file;
    std::string line;
  };
  std::vector<Edit> edits;
  std::vector<std::pair<std::string, bool>> existed;  // control file -> existed before
  std::string users_cdb;                  // rebuilt from users/assign after an undo
  std::string morercpthosts_cdb;          // rebuilt from control/morercpthosts
  std::string dir_control;                // domains/.dir-control
  std::optional<std::string> dir_control_old;
  std::string dir_control_new;
  // A target whose store keeps dir_control rows (vpopmail/user_store.h
  // KeepsDirControlFiles() false): the domain the commit adds rows for and
  // the vpopmail uid of its dom_<uid> row. Empty: no SQL step.
  std::string sql_domain;
  unsigned long sql_uid = 0;
};

std::string JournalDir(const std::string& domains_dir_on_disk, const std::string& domain);

/// Writes the journal durably (contents, then index, then the directory).
Status WriteJournal(const std::string& journal_dir, const JournalPlan& plan);

/// Reads a journal's index and its dircontrol.old/new files. kNotFound
/// without an index; kCorrupt for an index it cannot parse.
Result<JournalPlan> ReadJournal(const std::string& journal_dir);

/// Takes the plan's control-file edits back ('+' lines removed, '-' lines
/// put back in vpopmail's order), keeping every other line; a file the plan
/// created and that is now empty is removed with its cdb. users/cdb and
/// morercpthosts.cdb are rebuilt when their file changed, or always with
/// `always_rebuild_cdbs` (a re-run after a crash between a file and its
/// cdb). Idempotent. The caller holds the control-file locks.
Status UndoControlEdits(const JournalPlan& plan, bool always_rebuild_cdbs);

/// Undoes what an interrupted commit did and removes the journal. Returns
/// false (and changes nothing) when there is no journal. A journal with an
/// SQL step takes the domain's rows back through `store`
/// (UserStore::RemoveDomain, idempotent) and needs it: kInvalidInput
/// without. The caller holds the control-file locks.
Result<bool> RecoverJournal(const std::string& journal_dir, vpopmail::UserStore* store = nullptr);

/// Records that domains/.dir-control now holds dir_control_new.
Status MarkDirControlWritten(const std::string& journal_dir);

/// Records that the SQL step (UserStore::CommitDomain) committed.
Status MarkSqlCommitted(const std::string& journal_dir);

/// Removes a journal after a complete commit.
Status RemoveJournal(const std::string& journal_dir);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_JOURNAL_H_
