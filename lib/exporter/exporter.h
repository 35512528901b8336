// vpopmail domain -> archive. Streams every file once (hashing while it
// copies), so memory does not grow with the number or size of messages.
#ifndef VMIGRATE_EXPORTER_EXPORTER_H_
#define VMIGRATE_EXPORTER_EXPORTER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "archive/archive_writer.h"
#include "core/host_paths.h"
#include "core/progress.h"
#include "core/rate_limit.h"
#include "core/resolve_path.h"
#include "core/status.h"
#include "model/manifest.h"
#include "vpopmail/names.h"

namespace vmigrate {

struct ExportOptions {
  HostPaths paths;                          // --root, --vpopmail-home, --qmail-dir
  std::string domain;                       // DOMAIN (kind "domain")
  bool all = false;                         // --all: kind "server", every domain + server config
  std::vector<std::string> only;            // --all --domains-from FILE: just these domains
  std::vector<std::string> exclude;         // --all --exclude DOMAIN
  std::string output;                       // -o FILE, "-" for stdout
  Compression compression = Compression::kZstd;  // --compress
  bool overwrite = false;                   // --force: replace an existing FILE
  bool strip_cleartext = false;             // --strip-cleartext: empty the 8th vpasswd field
  /// --skip-invalid-users: leave out (and report) every account vpopmail
  /// could not have created, instead of carrying the unreachable ones with a
  /// warning and refusing the export for one that cannot be carried.
  bool skip_invalid_users = false;
  /// --since STATE: write a delta (kind "delta") holding only what changed
  /// since the state file STATE ("-" = stdin) was taken.
  std::string since;
  /// --add-only (needs `since`): an add-only ("tail") delta: only messages
  /// new since STATE and the directories new on their way; no removals,
  /// renames, account or non-message file changes (archive-format.md,
  /// "Add-only deltas").
  bool add_only = false;
  /// --state-out FILE: the state (state/state_file.h) of exactly what this
  /// export saw, written whole or not at all, only when the export
  /// succeeded: for a delta the state its `result` describes (the source's
  /// own state, also for --add-only), for a full archive the state of what
  /// the archive carries (taken while it is written). Refused when FILE
  /// exists unless `overwrite`.
  std::string state_out;
  ProgressMeter* progress = nullptr;        // --progress; not owned
  RateLimiter* rate_limit = nullptr;        // --max-rate; not owned
  /// Set (by a SIGINT/SIGTERM handler) to stop between two pieces of data:
  /// the export then fails with kInterrupted and removes its output.
  const std::atomic<bool>* interrupted = nullptr;
};

struct ExportReport {
  Manifest manifest;
  std::uint64_t entries = 0;       // archive members written
  std::uint64_t file_bytes = 0;    // bytes of file data archived
  std::vector<std::string> warnings;
  /// Carried although vpopmail cannot reach them (also in `warnings`).
  std::vector<vpopmail::UnreachableUser> unreachable_users;
  /// Left out by --skip-invalid-users (also in `warnings`); `reason` says why.
  std::vector<vpopmail::UnreachableUser> skipped_users;
  /// Storage symlinks followed (domains/, a domain dir, a bucket dir, a
  /// home, a Maildir), each once, as vpopmail follows them; links above the
  /// vpopmail home (e.g. /home -> /usr/home) are not listed.
  std::vector<SymlinkHop> followed_links;
};

/// Writes the archive: one domain, or with `all` a server backup. On failure a partly written output file is removed.
/// A vpasswd line of any length is read (vpopmail 5.6 writes longer lines than
/// 5.4 reads; the importer checks the target's limit). An account vpopmail
/// cannot reach but that is safe to carry (vpopmail::UnreachableReason) is
/// carried and reported; one that cannot be carried safely
/// (vpopmail::ValidateEntry) fails the export with kDataRefused naming it and
/// --skip-invalid-users, which leaves out and reports both kinds.
/// With `since`, the archive is a delta (share/doc/archive-format.md):
/// kNotFound / kCorrupt for the state file (state/state_file.h), kInvalidInput
/// when a single domain is not in it, kInvalidInput for `add_only` without
/// `since`. A file that vanishes between the scan and its copy is left out
/// with a warning (a later delta brings it); in an add-only delta a message
/// that only moved to cur/ or got new flags since the scan is carried under
/// its new name. kConflict for an existing `state_out` without `overwrite`.
Status ExportDomain(const ExportOptions& options, ExportReport* report);

/// vmigrate state: what is installed for a domain (or every domain), in the
/// state format (state/state_file.h, share/doc/state-format.md). Reads
/// directories, stats files and reads small non-message files; never a
/// message's content.
struct StateOptions {
  HostPaths paths;
  std::string domain;                 // DOMAIN, or
  bool all = false;                   // --all: every domain of users/assign
  std::vector<std::string> only, exclude;  // --all --domains-from / --exclude
  /// -o FILE ("-" = stdout), written whole or not at all; "" = no file,
  /// digests only (import's base check).
  std::string output;
  bool overwrite = false;             // --force
};

struct StateReport {
  std::string content_digest;
  std::map<std::string, std::string> domain_digests;  // name -> digest
  std::uint64_t users = 0, entries = 0, messages = 0;
  std::vector<std::string> warnings;
};

/// Errors as ExportDomain's (a domain that is not here, an unreadable
/// vpasswd), and kConflict for an existing output without `overwrite`.
Status WriteState(const StateOptions& options, StateReport* report);

}  // namespace vmigrate

#endif  // VMIGRATE_EXPORTER_EXPORTER_H_
