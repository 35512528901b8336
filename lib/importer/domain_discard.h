// Taking back a domain that `import --move-id ID` created, as if that import
// had never happened (`vmigrate cutover discard`, the new host's half of
// `move --abort`).
//
// The import leaves two things in the domain dir, staged with it so they
// land atomically with the domain:
//   .vmigrate-move-id        ID and a newline (0600, the domain's owner)
//   .vmigrate-move-journal/  the import's commit journal (importer/journal.h
//                            format): the control-file lines it added or
//                            removed, the bucket dirs it created and
//                            domains/.dir-control before and after.
// Both are skipped by export, state and verify (names ".vmigrate-*").
//
// The discard takes those lines back (plus the lines of alias domains a
// delta added since), gives domains/.dir-control back if it still holds what
// the import wrote, and removes the domain dir. It is journaled in
// <domains>/.vmigrate-discard-journal.<domain>/ (same format, plus
// "move-id"), written before anything changes, so a re-run after SIGKILL
// at any point completes it. Order: control files first (qmail stops
// routing mail to the domain), then .dir-control, then the directory is
// renamed to <domains>/.vmigrate-discard.<domain> and removed.
#ifndef VMIGRATE_IMPORTER_DOMAIN_DISCARD_H_
#define VMIGRATE_IMPORTER_DOMAIN_DISCARD_H_

#include <optional>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/host_paths.h"
#include "core/status.h"
#include "importer/importer.h"
#include "importer/journal.h"

namespace vmigrate {

inline constexpr const char* kMoveMarkerName = ".vmigrate-move-id";
inline constexpr const char* kMoveRecordName = ".vmigrate-move-journal";

/// A move ID: 8 to 64 characters, each of [0-9a-f].
bool IsValidMoveId(const std::string& id);

/// Writes the marker and the import's journal `plan` into the staged domain
/// dir `staged_dir` (see the file comment), owned by `owner` when given.
Status WriteMoveRecord(const std::string& staged_dir, const std::string& move_id, const JournalPlan& plan,
                       const std::optional<FileOwner>& owner);

struct DiscardOptions {
  HostPaths paths;       // --root, --vpopmail-home, --qmail-dir
  std::string domain;    // DOMAIN
  std::string move_id;   // --move-id ID
  bool dry_run = false;  // --dry-run: report what would change, change nothing
  bool reload = true;    // --no-reload clears it: no SIGHUP to qmail-send
};

struct DiscardReport {
  std::string domain;           // as users/assign spells it (else as given)
  bool changed = false;         // false: nothing to discard (or a dry run)
  bool resumed = false;         // finished a discard a killed run had started
  std::string domain_dir;       // host path of the domain dir removed (or to be)
  /// Control-file lines taken back: op '-' removed, '+' put back (a line
  /// the import had removed, e.g. from control/locals). Host paths.
  std::vector<ControlLineEdit> control_edits;
  /// domains/.dir-control: "restored" (back to its text before the import),
  /// "kept" (changed since the import: left, with a warning) or "" (no record).
  std::string dir_control;
  std::vector<std::string> warnings;
  int qmail_send_signalled = 0;
};

/// Removes `options.domain` if an import with `options.move_id` created it.
/// OK with changed=false when the domain is not on this host (nothing to
/// discard). kConflict (nothing changed) when the domain has no marker or
/// another ID ("D was not created by move ID; not removing it"), or when its
/// import record is missing; kInvalidInput for an alias domain (naming the
/// real one); kIoError naming the file otherwise (a re-run continues).
Status DiscardDomain(const DiscardOptions& options, DiscardReport* report);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_DOMAIN_DISCARD_H_
