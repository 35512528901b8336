// One domain of a delta archive (kind "delta", export --since) applied to
// the domain installed on this host. The entries are staged first (nothing
// on the target changes); Commit then checks every record against the
// target, writes a redo journal of idempotent steps, marks it committed and
// runs it. A run that dies before the mark leaves the target as it was (the
// next run discards the staging); one that dies after it is completed by
// the next run (roll forward). share/doc/archive-format.md, "Deltas".
//
// Layout: <domains>/.vmigrate-delta.<domain>/ with staged/<n> (files and
// symlinks as they will land), users/ (vpasswd, vpasswd.cdb), journal,
// committed; and <domains>/.vmigrate-applied.<domain> after a delta was
// applied (its result digest and the state digest the target then had).
#ifndef VMIGRATE_IMPORTER_DELTA_APPLY_H_
#define VMIGRATE_IMPORTER_DELTA_APPLY_H_

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/file_lock.h"
#include "importer/import_context.h"
#include "model/manifest.h"
#include "qmail/domains.h"

namespace vmigrate {

class DeltaApply : public EntrySink {
 public:
  /// What the target has compared with the delta's base.
  enum class BaseCheck { kApply, kAlreadyApplied };

  DeltaApply(ImportContext* ctx, const ManifestDomain* domain, qmail::DomainLocation installed);
  ~DeltaApply() override;

  /// Completes (journal committed) or discards (not committed) a delta
  /// import of this domain that died half-way; reports which in warnings.
  Status RecoverInterrupted();
  /// Computes the installed domain's state digest (exporter.h WriteState)
  /// and compares it with the delta's base and result. kConflict when it is
  /// neither: "the delta's base state does not match what is installed".
  Result<BaseCheck> CheckBase();
  /// Creates the staging dir (a dry run stages nothing).
  Status Begin();
  /// One delta.txt record of this domain: "remove" with one path, or
  /// "rename" with from, to, mode, mtime (paths relative to domains/<d>/).
  Status AddRecord(const std::vector<std::string>& fields);
  Status Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) override;

  /// Checks every record against the target and fills the counts of
  /// `out->delta`; a dry run ends here.
  Status Plan(DomainOutcome* out);
  /// Plan, then journal, commit mark, the steps, the applied marker.
  Status Commit(DomainOutcome* out);

 private:
  struct Staged {
    char type;              // 'f', 'l', 'd'
    std::string staged;     // 'f': the staged file
    std::string link;       // 'l': target text (with placeholders)
    mode_t mode = 0;
    struct timespec mtime = {0, 0};
    std::int64_t size = 0;  // 'f': bytes
    bool rewritten = false;
  };
  struct Rename {
    std::string from, to;   // relative to domains/<d>/
    mode_t mode;
    struct timespec mtime;
  };

  const ImportOptions& opt() const { return *ctx_->options; }
  std::string JournalDirPath() const;
  std::string AppliedMarker() const;
  Status ReadTargetUsers();
  Result<std::string> InstalledDigest() const;
  Result<std::string> DiskPath(const std::string& rel_in_domain) const;
  Status BuildSteps(bool dry_run, DomainOutcome* out);
  Status FinishStaged();
  Status WriteAppliedMarker(const std::string& result);
  Status EnsureWork();

  ImportContext* ctx_;
  const ManifestDomain* domain_;
  qmail::DomainLocation loc_;
  std::string domain_disk_;
  std::string work_;                              // the journal/staging dir
  bool umask_sets_mode_ = false;
  bool created_ = false;                          // work_ exists (EnsureWork)
  bool done_ = false;                             // committed and completed: keep nothing
  struct timespec domains_mtime_ = {0, 0};        // domains/ before our journal went there
  std::uint64_t seq_ = 0;
  std::map<std::string, VpasswdEntry> target_users_;    // installed now
  std::map<std::string, std::string> home_disk_;        // user -> home on disk (after the delta)
  std::map<std::string, std::string> home_host_;        // user -> home host path (after the delta)
  std::string dir_control_text_;                        // the domain's .dir-control after new users
  std::set<std::string> new_buckets_;                   // buckets of new users ("" = the domain dir)
  std::map<std::string, Staged> members_;               // rel_in_domain -> what came
  std::vector<std::string> removals_;
  std::vector<Rename> renames_;
  std::vector<std::vector<std::string>> steps_;          // the journal, in order
  std::set<std::string> rewritten_;
  FileLock lock_;                                 // the domain's .vpasswd.lock (not in a dry run)
};

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_DELTA_APPLY_H_
