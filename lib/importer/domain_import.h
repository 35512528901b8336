// One domain of an archive onto this host: unpacked into a staging
// directory next to the target, then renamed into place and registered
// with qmail under the locks vpopmail takes, journaled so that a crash is
// undone by the next run. Until Commit() succeeds the target is as it was;
// the destructor removes whatever an unfinished import created.
#ifndef VMIGRATE_IMPORTER_DOMAIN_IMPORT_H_
#define VMIGRATE_IMPORTER_DOMAIN_IMPORT_H_

#include <sys/stat.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "importer/import_context.h"
#include "model/manifest.h"
#include "model/path_rewrite.h"
#include "qmail/assign.h"
#include "qmail/control_update.h"

namespace vmigrate {

class DomainImport : public EntrySink {
 public:
  DomainImport(ImportContext* ctx, const ManifestDomain* domain);
  ~DomainImport() override;

  const ManifestDomain& domain() const { return *domain_; }
  /// The domain and its alias domains.
  std::vector<std::string> AllNames() const;
  bool RowCounters() const;

  /// Rolls back an earlier run of this domain's import that died half-way.
  Status RecoverInterrupted();
  /// kConflict when the domain, an alias or its directory exists on the target.
  Status CheckAbsent() const;
  /// Places users in buckets (fresh hashing, in the source's bucket order)
  /// and creates the staging dir (a dry run only names one).
  Status Begin();
  /// A member of this domain (name.part kDomainFiles or kUserHome). `rec`
  /// comes with everything but a file's size and hash filled in.
  Status Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) override;
  /// After the last entry: what the manifest promised must have come.
  Status EndOfEntries();

  /// Dry run: where the domain would land given domains/.dir-control text
  /// `dir_control` (advanced as the real commit would), and its assign entries.
  std::vector<qmail::DomainAssign> PlanPlacement(std::optional<std::string>* dir_control,
                                                 DomainOutcome* out);
  /// Dry run: kDataRefused when a MySQL target's columns cannot hold the
  /// accounts as placed in `out` (UserStore::StageUsers); cdb: OK.
  Status CheckRowsFit(const DomainOutcome& out);
  /// Moves the staged domain into place and registers it (its own journal
  /// and control transaction). On failure everything is rolled back.
  Status Commit(DomainOutcome* out);

 private:
  struct PendingDir {
    std::string disk;
    mode_t mode;
    struct timespec mtime;
  };
  struct PendingLink {
    std::string disk;
    std::string target;  // with placeholders
    struct timespec mtime;
    std::string rel;     // "files/<rel>" or "users/<u>/<rel>"
  };

  const ImportOptions& opt() const { return *ctx_->options; }
  Status PlanUsers();
  Result<std::string> PredictedDomainDir() const;
  Status CheckVpasswdLines(const std::string& host_dir, bool warn) const;
  Result<std::string> StagingParent() const;
  Status MakeStaging();
  Result<std::string> StagingPath(const EntryHeader& h, const MemberName& name) const;
  Status CheckFirstUse(const EntryHeader& h, const std::string& disk);
  Status EnsureDir(const std::string& dir);  // MakeDirs, remembering the last one
  Status ValidatePlaceholders();
  std::vector<qmail::DomainAssign> AssignEntries(const std::string& host_dir) const;
  Status FinishStaging(const HostPathSet& target);
  std::vector<VpasswdEntry> TargetEntries(const HostPathSet& target) const;
  // The target keeps vpasswd files (cdb): their line limit and lock file apply.
  bool WritesVpasswd() const { return ctx_->store->Backend() == "cdb"; }
  std::string RebaseLink(const HostPathSet& target, const PendingLink& link, const std::string& text);
  Status WriteDefaultDelivery(const HostPathSet& target);

  ImportContext* ctx_;
  const ManifestDomain* domain_;
  std::string staging_;
  bool umask_sets_mode_ = false;     // no default ACL on staging_ (see WriteEntry)
  std::string last_dir_;             // EnsureDir: the directory made or found last
  bool committed_ = false;
  std::vector<std::string> created_dirs_;
  std::string touched_dir_;          // parent of the staging dir (or of domains/ we created)
  struct timespec touched_mtime_ = {0, 0};
  std::map<std::string, std::string> user_rel_;  // user -> "bucket/name" in the new domain dir
  std::string dir_control_text_;
  std::set<std::string> rewritten_members_;
  std::set<std::string> home_roots_;  // user homes and their Maildirs: never symlinks
  std::vector<std::string> rewrite_files_;
  std::vector<PendingDir> dirs_;
  std::vector<PendingLink> links_;
  std::set<std::string> seen_files_;   // dry run only: duplicate detection without files
  std::set<std::string> dir_paths_;    // staging paths of directory members
  std::set<std::string> links_seen_;   // staging paths of symlink members
  std::set<std::string> homes_seen_;   // users whose home directory member arrived
  std::set<std::string> rewritten_seen_;
  std::vector<std::string> lock_files_created_;  // by Lock(); removed again if we fail
  std::vector<std::pair<std::string, struct timespec>> qmail_dir_mtimes_;
};

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_DOMAIN_IMPORT_H_
