// One batch of a domain's users (manifest `merge_users: true`, written by
// export --from unix --batch N) added to the domain an earlier batch
// created on this host: the merge-users path of `vmigrate import`.
//
// The batch's users are added the way vadduser adds a user: each gets the
// next home from the domain's .dir-control (buckets made as needed), its
// vpasswd line joins vpasswd/vpasswd.cdb, and the counter is written back,
// all under vpopmail's <domaindir>/.vpasswd.lock. Everything else of the
// installed domain (its files, its other users, its alias domains and
// control-file lines) is left alone; the batch's domain-level members are
// checked against the archive's checksums only.
//
// A user of the batch the domain already has (or whose home directory is
// already there) is a conflict: OnConflict::kFail refuses the whole import
// before anything changes, naming every conflict; kSkip leaves those users
// out and reports them.
//
// Crash safety is DeltaApply's: homes and account files are staged in
// <domains>/.vmigrate-merge.<domain>/, a redo journal of idempotent steps
// (importer/delta_journal.h) is written and marked committed, then run. A
// run that dies before the mark leaves the domain as it was (the next run
// removes the staging); one that dies after it is completed by the next run.
// The staging records the batch (its manifest's sha256) and the users it
// adds, so that the run completing an interrupted merge of the same batch
// counts those users as added rather than as conflicts.
// share/doc/archive-format.md, "Merging a batch of users".
#ifndef VMIGRATE_IMPORTER_USER_MERGE_H_
#define VMIGRATE_IMPORTER_USER_MERGE_H_

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

class UserMerge : public EntrySink {
 public:
  UserMerge(ImportContext* ctx, const ManifestDomain* domain, qmail::DomainLocation installed);
  ~UserMerge() override;

  /// Takes the domain's .vpasswd.lock (not in a dry run), then completes
  /// (journal committed) or discards (not committed) a merge of this domain
  /// that died half-way, saying which in the report's warnings. kUnsupported
  /// for a domain whose accounts are MySQL rows (not carried out yet).
  Status RecoverInterrupted();
  /// Reads the domain's accounts, finds the conflicts and places the users
  /// to add. kConflict (nothing changed) when there are conflicts and the
  /// options say --on-conflict fail: the first line counts them, then one
  /// line per conflict. kDataRefused for a vpasswd line the target cannot read.
  /// Fills `out` (users added and skipped, homes, counts).
  Status Begin(DomainOutcome* out);
  Status Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) override;
  /// After the last entry: every added user whose home the manifest lists
  /// must have come (kCorrupt otherwise).
  Status EndOfEntries();
  /// Dry run: the same checks as Commit, nothing written.
  Status Plan(DomainOutcome* out);
  /// Journal, commit mark, the steps; the staging is removed afterwards.
  Status Commit(DomainOutcome* out);

 private:
  struct Staged {
    char type;              // 'f', 'l', 'd'
    std::string staged;     // 'f': the staged file
    std::string link;       // 'l': target text (with placeholders)
    mode_t mode = 0;
    struct timespec mtime = {0, 0};
    bool rewritten = false;
  };

  const ImportOptions& opt() const { return *ctx_->options; }
  std::string WorkPath() const;
  Status EnsureWork();
  Result<std::string> DiskPath(const std::string& user, const std::string& rel) const;
  Status BuildSteps(bool dry_run);

  ImportContext* ctx_;
  const ManifestDomain* domain_;
  qmail::DomainLocation loc_;
  std::string domain_disk_;
  std::string work_;
  bool created_ = false;                          // work_ exists
  bool done_ = false;                             // completed: keep nothing
  bool umask_sets_mode_ = false;
  struct timespec domains_mtime_ = {0, 0};        // domains/ before our staging went there
  std::uint64_t seq_ = 0;
  std::vector<VpasswdEntry> target_users_;        // installed now, verbatim (a login lock's bits kept)
  std::vector<const ManifestUser*> added_;        // the batch's users to add, in placement order
  std::set<std::string> skipped_;                 // the batch's users not written here (left out or recovered)
  std::set<std::string> recovered_;               // added by the interrupted merge of this same batch
  std::map<std::string, std::string> home_host_;  // every user (installed and added) -> home host path
  std::map<std::string, std::string> home_disk_;  // added user -> home on disk
  std::string dir_control_text_;                  // the domain's .dir-control after the additions
  std::set<std::string> new_buckets_;             // buckets of added users ("" = the domain dir)
  std::set<std::string> rewritten_;               // members holding placeholders (rel in domain)
  std::map<std::string, std::map<std::string, Staged>> members_;  // user -> rel in home -> what came
  std::vector<std::vector<std::string>> steps_;
  FileLock lock_;                                 // the domain's .vpasswd.lock (not in a dry run)
};

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_USER_MERGE_H_
