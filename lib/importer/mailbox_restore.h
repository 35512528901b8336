// import --domain D --user U [--into-folder NAME]: one account's mail from
// an archive into the same account on this host, which must exist. Nothing
// already there is touched: a message whose unique name (the part before
// ":2,") is in the folder already, or any other file whose name exists, is
// skipped and reported. New files are staged inside the home, synced once,
// then renamed into place without replacing anything; maildirsize gets one
// Maildir++ delta line for what came back, and each new folder is added to
// the account's IMAP subscriptions (Dovecot's Maildir/subscriptions,
// Courier's Maildir/courierimapsubscribed) so that mail clients show it.
#ifndef VMIGRATE_IMPORTER_MAILBOX_RESTORE_H_
#define VMIGRATE_IMPORTER_MAILBOX_RESTORE_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "importer/import_context.h"
#include "model/manifest.h"

namespace vmigrate {

/// Checks an --into-folder NAME: one Maildir++ folder name without its
/// leading dot ("Restored-2026-11-23", "Restored.Sent" for a subfolder).
/// kInvalidInput saying why for anything that would leave the Maildir
/// ('/', a leading '.'), make an empty level ("a..b"), or that an IMAP
/// server cannot show as written (control characters, non-ASCII, '&',
/// the wildcards '*' and '%', INBOX).
Status ValidateIntoFolder(const std::string& name);

class MailboxRestore : public EntrySink {
 public:
  MailboxRestore(ImportContext* ctx, const ManifestDomain* domain, const ManifestUser* user);
  ~MailboxRestore() override;

  /// Finds the account on the target and prepares the staging dir.
  Status Begin();
  /// A member under the user's home (name.part kUserHome, its user).
  Status Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) override;
  /// After the archive checked out: moves the staged files in (a dry run
  /// only reports). Fills `out`.
  Status Finish(MailboxOutcome* out);

 private:
  struct DirInfo {
    mode_t mode;
  };
  /// Where an archive path under the user's home goes, relative to the home
  /// on the target; "" when a mailbox restore does not carry it.
  std::string TargetRel(const std::string& rel) const;
  bool AlreadyThere(const std::string& target_rel);
  void PlanDirs(const std::string& target_rel);
  Status MoveIn(const std::string& staged_dir, const std::string& rel);
  void Skip(const std::string& target_rel, const std::string& reason);
  /// Adds `folders` ("Maildir/.X") to the subscription files (a dry run only
  /// lists them in out_.subscribed).
  Status Subscribe(const std::vector<std::string>& folders);

  ImportContext* ctx_;
  const ManifestDomain* domain_;
  const ManifestUser* user_;
  std::string home_;      // the account's home on disk
  std::string home_host_; // ... as a host path
  std::optional<FileOwner> owner_;
  std::string staging_;
  struct timespec home_mtime_ = {0, 0};
  bool home_root_changed_ = false;  // something new right in the home, not below it
  std::string folder_;    // ".NAME" or ""
  std::map<std::string, std::set<std::string>> folder_names_;  // folder -> unique names there
  std::map<std::string, DirInfo> archive_dirs_;  // target rel -> mode from the archive
  std::set<std::string> planned_dirs_;           // target rels that exist or will
  MailboxOutcome out_;
  std::uint64_t quota_bytes_ = 0, quota_count_ = 0;  // restored messages outside .Trash
};

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_MAILBOX_RESTORE_H_
