// One Maildir++ folder of a vpopmail account that `vmigrate pull` fills from
// an old server: which messages it already holds, writing new ones (tmp/ ->
// cur/ or new/ only when complete and durable), and the identifier files that
// make the new host show the old UIDs and UIDLs.
//
// Formats: dovecot-uidlist v3 (sources-and-cutover.md §4.3: "3 V<uidvalidity>
// N<uidnext>", then "<uid> [P<pop3 uidl>] :<base name>"), written the way
// Dovecot writes it (into dovecot-uidlist.lock, then rename); dovecot-keywords
// ("<index> <name>", letters a-z in file names); Maildir++ info ":2,<flags>"
// (FMT §7.3); maildirsize (Maildir++ quota: appended "<bytes> <count>" lines).
// How pulled mail keeps its identifiers: sources-and-cutover.md §7.4.
#ifndef VMIGRATE_PULL_PULLED_FOLDER_H_
#define VMIGRATE_PULL_PULLED_FOLDER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate::pull {

/// One record of a dovecot-uidlist.
struct UidRecord {
  uint32_t uid = 0;
  std::string pop3_uidl;  // the P field; "" when none
  std::string base;       // Maildir base name (no ":2,...")
  std::string extra;      // other fields, kept verbatim (e.g. "W1234")
};

/// A dovecot-uidlist as read.
struct UidList {
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 0;
  std::vector<UidRecord> records;  // in file order (UID order)
};

/// Parses dovecot-uidlist `text` (version 3 only; version 1 is refused as
/// Unsupported). Errors: Corrupt naming `path` and the line.
Result<UidList> ParseUidList(const std::string& text, const std::string& path);

/// Formats `list` as dovecot-uidlist v3.
std::string FormatUidList(const UidList& list);

/// What pull left in a folder the previous time: the file
/// "<folder>/vmigrate-pull" ("vmigrate-pull 1", "source <url> <login>",
/// "uidvalidity N", "next-uid N"; for POP3 also "uidl <uidl>" lines).
/// Without a leading '.' so Dovecot never takes it for a Maildir++ folder;
/// qmail-pop3d reads only new/ and cur/.
struct PullState {
  std::string source;        // "<url> <login>"
  uint32_t uidvalidity = 0;  // IMAP: the old folder's; POP3: the one we gave INBOX
  uint32_t next_uid = 0;     // IMAP: pull UIDs >= this; POP3: next UID to give
  std::set<std::string> uidls;  // POP3: UIDLs pulled
};

/// A folder being filled. Not thread-safe; one per folder at a time (the
/// account is locked by the caller).
class PulledFolder {
 public:
  /// `dir`: the folder's directory on disk (the Maildir itself for INBOX);
  /// `maildir`: the account's Maildir (for maildirsize). `owner_uid/gid`:
  /// what new files and directories get when we run as root (the Maildir's
  /// owner); ignored otherwise.
  PulledFolder(std::string dir, std::string maildir, uid_t owner_uid, gid_t owner_gid);

  /// Creates the folder (tmp/ new/ cur/ and, below the Maildir, the
  /// "maildirfolder" marker) when absent, unless `dry_run`. Reads the base
  /// names present in cur/ and new/, dovecot-uidlist, dovecot-keywords and
  /// the pull state; removes our leftovers in tmp/ ("vmigrate-pull.*").
  /// Errors: IoError naming the path; Corrupt for an unreadable uidlist.
  Status Open(bool is_inbox, bool dry_run);

  const std::string& dir() const { return dir_; }
  bool HasBase(const std::string& base) const { return bases_.count(base) > 0; }
  const std::optional<UidList>& uidlist() const { return uidlist_; }
  const std::optional<PullState>& state() const { return state_; }
  /// Whether the uidlist present was written by pull (a pull state exists) or
  /// has no record, so pull may rewrite it.
  bool OwnsUidList() const;

  /// Removes every message file named by our previous uidlist (used when the
  /// old server's UIDVALIDITY changed: the folder starts over). Returns how
  /// many files were removed.
  Result<size_t> RemovePreviousPull();

  /// The Maildir++ flag letters for `flags` (IMAP system flags and keywords):
  /// keywords get dovecot-keywords letters, new ones are added (26 at most;
  /// more are counted in `dropped`). Sorted, as Maildir++ wants.
  std::string FlagLetters(const std::vector<std::string>& flags, size_t* dropped);

  /// Writes one message: `body` (already LF) to tmp/, mtime `mtime`
  /// (seconds), not yet visible. Commit() makes the batch visible.
  /// `to_cur`: cur/<base>:2,<letters>, else new/<base>.
  Status Add(const std::string& base, const std::string& body, int64_t mtime, bool to_cur,
             const std::string& letters);
  size_t pending() const { return pending_.size(); }
  uint64_t pending_bytes() const { return pending_bytes_; }

  /// Makes the added messages durable (one syncfs) and renames them into
  /// cur/ or new/; then appends their size to maildirsize when the account
  /// has one. Errors: IoError.
  Status Commit();

  /// Writes dovecot-uidlist (when `list` has a value), dovecot-keywords (when
  /// keywords were added) and the pull state. Call after Commit().
  Status Finish(const std::optional<UidList>& list, const PullState& state);

 private:
  struct Pending {
    std::string tmp, final_path;
    uint64_t bytes;
  };
  Status Chown(const std::string& path) const;
  Status WriteOwned(const std::string& path, const std::string& contents) const;

  std::string dir_;
  std::string maildir_;
  uid_t uid_;
  gid_t gid_;
  std::set<std::string> bases_;
  std::optional<UidList> uidlist_;
  std::optional<PullState> state_;
  std::vector<std::string> keywords_;
  bool keywords_changed_ = false;
  std::vector<Pending> pending_;
  uint64_t pending_bytes_ = 0;
  uint64_t seq_ = 0;
};

/// Dovecot's subscriptions file with `names` added (Maildir/subscriptions,
/// unixhost::FormatSubscriptions); names already there are kept once.
Status AddSubscriptions(const std::string& maildir, const std::vector<std::string>& names,
                        uid_t owner_uid, gid_t owner_gid);

}  // namespace vmigrate::pull

#endif  // VMIGRATE_PULL_PULLED_FOLDER_H_
