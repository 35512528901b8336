// archive -> vpopmail domain on this host. The domain is unpacked into a
// staging directory next to the target, checked against the archive's
// checksums, then renamed into place and registered with qmail under the
// locks vpopmail takes. Any failure before that point leaves the target as
// it was; a failure while registering rolls every change back.
#ifndef VMIGRATE_IMPORTER_IMPORTER_H_
#define VMIGRATE_IMPORTER_IMPORTER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/host_paths.h"
#include "core/progress.h"
#include "core/rate_limit.h"
#include "core/resolve_path.h"
#include "core/status.h"
#include "model/manifest.h"
#include "model/outside_refs.h"
#include "vpopmail/names.h"

namespace vmigrate {

struct ImportOptions {
  HostPaths paths;                   // --root, --vpopmail-home, --qmail-dir
  std::string archive;               // FILE or "-" for stdin
  /// --owner USER[:GROUP] as given (importer/target_owner.h); default: the
  /// vpopmail user, else the owner of the vpopmail home. Uid 0 is refused.
  std::string owner_spec;
  std::optional<FileOwner> owner;    // a caller's owner, used when owner_spec is empty
  bool reload = true;                // --no-reload clears it: no HUP to qmail-send
  bool use_qmail_programs = false;   // --qmail-programs: run qmail-newu/qmail-newmrh
  /// --dry-run: read and check the whole archive, work out the plan, write nothing.
  bool dry_run = false;
  /// --all: every domain of a server archive, plus its configuration files.
  /// Refused on a target that already has domains unless `merge`.
  bool all = false;
  bool merge = false;               // --merge: add only the missing domains
  /// --skip-existing: a domain already imported from this very archive
  /// (importer/import_record.h) is reported kSkipped instead of a conflict;
  /// one that exists but came from elsewhere is still a conflict.
  bool skip_existing = false;
  std::string domain;               // --domain D: just this domain of the archive
  std::string user;                 // --user U: restore one mailbox (--domain may be left out
                                    // when the archive holds one domain)
  std::string into_folder;          // --into-folder NAME: ... into Maildir/.NAME
  /// --vpasswd-line-max N: the longest vpasswd line the target's vpopmail
  /// reads (vpopmail/names.h). A user whose line, with the target's home
  /// path, is longer refuses the import (kDataRefused) before anything is
  /// written; a line over vpopmail 5.4's 254 bytes but within N is written
  /// with a warning.
  size_t vpasswd_line_max = vpopmail::kVpasswdLineMax54;
  /// --move-id ID (importer/domain_discard.h): a full import of one domain
  /// writes the move marker and its commit record into the domain dir, so
  /// that `cutover discard` can take the import back. Empty: none.
  std::string move_id;
  /// --on-conflict: a batch archive (ManifestDomain::merge_users) merged
  /// into an installed domain that already has some of its users
  /// (importer/user_merge.h). kFail refuses the import, changing nothing;
  /// kSkip leaves those users out and reports them.
  enum class OnConflict { kFail, kSkip };
  OnConflict on_conflict = OnConflict::kFail;
  /// --rehash-weak (importer/rehash_weak.h): after the import, accounts with
  /// a DES or MD5-crypt hash and a stored cleartext that verifies get a
  /// SHA-512 crypt; the others are listed for the login hook. Not in a dry run.
  bool rehash_weak = false;
  ProgressMeter* progress = nullptr;  // --progress; not owned
  RateLimiter* rate_limit = nullptr;  // --max-rate; not owned
  /// Set from a signal handler; checked between entries.
  const std::atomic<bool>* interrupted = nullptr;
};

/// The control-file lines added ('+') or removed ('-'): file, op, line.
struct ControlLineEdit {
  std::string file;
  char op;
  std::string line;
};

/// What became of one domain of the archive.
enum class DomainStatus {
  kImported,  // committed on the target
  kPlanned,   // selected: a dry run ends here, a real run goes on to kImported or kFailed
  kSkipped,   // --merge: the domain is on the target already; --skip-existing: imported from this archive before
  kFailed,    // did not commit (one domain of several; the others went on)
  kAlreadyApplied,  // a delta whose result the target already has: nothing changed
};

/// The word the CLI prints for `status` (text and JSON): "imported",
/// "planned", "skipped", "failed", "already_applied".
const char* DomainStatusName(DomainStatus status);

/// What happened (or, in a dry run, would happen) to one domain.
struct DomainOutcome {
  std::string name;
  std::vector<std::string> aliases;
  DomainStatus status = DomainStatus::kPlanned;
  std::string error;        // why skipped or failed
  std::string domain_dir;   // where it landed / would land (host path)
  std::map<std::string, std::string> user_dirs;  // user -> home (host path)
  std::uint64_t users = 0, messages = 0, bytes = 0;
  bool is_delta = false;    // applied (or planned) as a delta
  DomainDelta delta;        // with is_delta: what the delta changes here
  std::vector<std::string> aliases_added, aliases_removed;  // with is_delta
  bool add_only = false;    // with is_delta: an add-only delta (importer/tail_apply.h)
  std::uint64_t added = 0, already_there = 0;  // with add_only: messages added / found by unique name
  /// A batch of users merged into the installed domain (importer/user_merge.h):
  /// users, messages, bytes and user_dirs count only the users added.
  bool merged = false;
  std::vector<std::string> users_added;    // with merged: names, in the order they were placed
  /// With merged: the batch's users left out (--on-conflict skip): name and
  /// why ("is already in the domain (home D)", "has no account, but its home D is there already").
  std::vector<std::pair<std::string, std::string>> users_skipped;
};

/// A server configuration file (import --all).
struct ServerFileOutcome {
  std::string path;         // host path on the target
  std::string action;       // "add lines", "create", "replace", "keep (differs)", "unchanged"
};

/// A file of the archive a mailbox restore did not write, and why.
struct SkippedFile {
  std::string path;    // relative to the home on the target
  std::string reason;  // "already there", "a symlink: ...", "holds host paths: ...", "appeared meanwhile"
  bool operator==(const SkippedFile& o) const { return path == o.path && reason == o.reason; }
};

/// import [--domain D] --user U: one mailbox into an existing account.
struct MailboxOutcome {
  std::string domain, user;             // the account restored into
  std::string user_dir;                 // the account's home on the target
  std::string folder;                   // "" = into the Maildir itself, else ".NAME"
  std::uint64_t restored_messages = 0, restored_bytes = 0, restored_files = 0;
  std::vector<std::string> created_dirs;  // relative to the home
  /// Never overwritten: messages (files in a folder's cur/ or new/) whose
  /// unique name is there already, and every other file (IMAP/POP state,
  /// .qmail, ...) that exists or cannot be restored into a live account.
  std::vector<SkippedFile> skipped_messages, skipped_files;
  /// Folders added to the IMAP subscription files (Dovecot's
  /// Maildir/subscriptions, Courier's Maildir/courierimapsubscribed), as
  /// Maildir++ names (".Restored.Sent").
  std::vector<std::string> subscribed;
};

/// One weak account `import --rehash-weak` found in an imported domain.
struct WeakAccount {
  std::string domain, name;
  std::string weak_hash;  // "des" or "md5"
  std::string reason;     // left ones: why ("no cleartext stored", ...)
};

struct ImportReport {
  Manifest manifest;
  std::vector<DomainOutcome> domains;              // every domain the run handled
  std::vector<ServerFileOutcome> server_files;
  std::optional<MailboxOutcome> mailbox;
  // The first imported (or planned) domain, for single-domain callers.
  std::string domain_dir;
  std::map<std::string, std::string> user_dirs;
  FileOwner owner;                                  // uid:gid written to users/assign
  std::string owner_source;                         // where `owner` came from (TargetOwner::source)
  bool owner_guessed = false;                       // ... from the vpopmail home's owner
  bool chowned = false;                             // files were chowned to `owner`
  int qmail_send_signalled = 0;
  using Edit = ControlLineEdit;
  std::vector<Edit> control_edits;
  std::string domains_dir_control;                  // domains/.dir-control afterwards
  std::uint64_t entries = 0;
  std::uint64_t file_bytes = 0;
  std::vector<std::string> warnings;
  /// Accounts of the archive vpopmail cannot reach (an upper-case name, ...):
  /// imported as they are, and also listed in `warnings`.
  std::vector<vpopmail::UnreachableUser> unreachable_users;
  /// Paths of the restored domains that lead out of them (importer/outside_refs_check.h).
  std::vector<ReportedRef> outside_refs;
  std::vector<SymlinkHop> followed_links;  // a symlinked domains/ (or vpopmail home) placed into
  /// --rehash-weak: accounts re-hashed to SHA-512 crypt, and those left for
  /// the login hook (vmigrate-checkpassword --rehash).
  std::vector<WeakAccount> rehashed_users, rehash_left;
};

/// Imports what `options` select. For several domains (--all), each domain
/// is all or nothing; a domain that fails to commit is reported in
/// report->domains and the others go on (the returned Status is then
/// kConflict/kIoError naming how many failed).
Status ImportArchive(const ImportOptions& options, ImportReport* report);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_IMPORTER_H_
