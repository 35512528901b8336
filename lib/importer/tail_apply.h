// One domain of an add-only ("tail") delta (export --since --add-only,
// share/doc/archive-format.md "Add-only deltas") applied to a live target:
// the new host of a move, where users may already read, flag and delete
// mail. There is no base check: each message is added unless the folder
// already holds one with the same Maildir unique name (in new/ or cur/,
// any flags: "already there"); nothing on the target is ever deleted,
// renamed or overwritten, and no directory mtime is put back (Dovecot and
// Courier notice new mail by them).
//
// The messages are staged in <domains>/.vmigrate-tail.<domain>/ while the
// archive is read and checked; Commit then lands each one through its
// folder's tmp/ with a rename, keeping name, mode and mtime (a missing
// folder is made as a Maildir++ folder). A run killed at any point leaves
// only whole messages; the next run removes the staging and adds what is
// still missing, by unique name, so nothing is duplicated.
// <domains>/.vmigrate-tails.<domain> records each add-only delta applied
// (its base and result digests): importing it again is "already applied"
// and does not bring back messages deleted on the target since.
#ifndef VMIGRATE_IMPORTER_TAIL_APPLY_H_
#define VMIGRATE_IMPORTER_TAIL_APPLY_H_

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/file_lock.h"
#include "importer/import_context.h"
#include "model/manifest.h"
#include "qmail/domains.h"

namespace vmigrate {

class TailApply : public EntrySink {
 public:
  TailApply(ImportContext* ctx, const ManifestDomain* domain, qmail::DomainLocation installed);
  ~TailApply() override;

  /// Takes the domain's .vpasswd.lock (not in a dry run), removes the
  /// staging of an interrupted run, reads the target's accounts. Returns
  /// true when this delta was applied here before (nothing to do).
  Result<bool> Begin();
  /// A directory (its mode, for a folder that must be made) or a message
  /// of an account; kConflict (nothing written) for an account this host
  /// does not have, kCorrupt for anything an add-only delta never carries.
  Status Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) override;
  /// Counts what would be added and what is already there (dry run).
  Status Plan(DomainOutcome* out);
  /// Lands the new messages, then records the delta as applied.
  Status Commit(DomainOutcome* out);

 private:
  struct Message {
    std::string user;
    std::string rel;        // relative to the home: Maildir[/.F]/new|cur/<name>
    std::string staged;     // the staged file ("" in a dry run)
    std::uint64_t size = 0;
  };
  const ImportOptions& opt() const { return *ctx_->options; }
  std::string MarkerPath() const;
  std::string MarkerLine() const;
  Status EnsureWork();
  /// The folder (holding cur/ new/ tmp/) of `m` on disk; `exists` says
  /// whether it is there. kConflict when the way there is not plain
  /// directories (a symlinked home or Maildir, as vpopmail follows them, is).
  Result<std::string> FolderDisk(const Message& m, bool* exists) const;
  /// Whether the folder at `folder_disk` holds the message's unique name.
  Result<bool> AlreadyThere(const std::string& folder_disk, const std::string& file_name);
  Status MakeFolder(const Message& m);
  Status Land(const Message& m, const std::string& folder_disk);
  Status Run(bool dry_run, DomainOutcome* out);

  ImportContext* ctx_;
  const ManifestDomain* domain_;
  qmail::DomainLocation loc_;
  std::string domain_disk_;
  std::string work_;                                  // the staging dir
  bool created_ = false;
  bool umask_sets_mode_ = false;
  struct timespec domains_mtime_ = {0, 0};
  std::uint64_t seq_ = 0;
  std::map<std::string, std::string> home_host_;      // user on this host -> home (host path)
  std::map<std::string, mode_t> dir_modes_;           // "users/<u>/<rel>" -> mode from the delta
  std::vector<Message> messages_;
  std::map<std::string, std::set<std::string>> present_;  // folder disk -> unique names in new/ and cur/
  FileLock lock_;
};

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_TAIL_APPLY_H_
