// vmigrate pull: one mailbox from a live POP3 or IMAP server into an existing
// vpopmail account on this host, keeping what the old server's clients saw
// (sources-and-cutover.md §7.4): IMAP folders, subscriptions, flags,
// keywords, INTERNALDATE (as mtime), UIDVALIDITY and UIDs (dovecot-uidlist);
// POP3 UIDLs (dovecot-uidlist P records, and the Maildir base name where the
// UIDL can be one, which is what qmail-pop3d shows). Re-runs pull only what
// is new: by UID under the same UIDVALIDITY, by UIDL for POP3.
#ifndef VMIGRATE_PULL_PULL_H_
#define VMIGRATE_PULL_PULL_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/progress.h"
#include "core/rate_limit.h"
#include "core/status.h"
#include "mailsource/mail_source.h"

namespace vmigrate::pull {

struct PullOptions {
  mailsource::SourceUrl url;
  mailsource::ConnectOptions connect;
  mailsource::Credentials credentials;
  /// With an IMAP url: a POP3 server of the same mailbox whose UIDLs INBOX
  /// keeps, matched to the IMAP messages by size in order
  /// (sources-and-cutover.md §7.3, the size pass).
  std::optional<mailsource::SourceUrl> uidls_from;
  /// With an IMAP url and no uidls_from: the old POP3 server's UIDL format
  /// (Dovecot's pop3_uidl_format with %u/%v, e.g. "%08Xu%08Xv"; UW ipop3d's
  /// is "%08Xv%08Xu"), so INBOX keeps the UIDLs derived from UID and
  /// UIDVALIDITY (mbox/pop3_uidl.h FormatUidl). "" = none.
  std::string old_pop3_uidl;
  std::string address;  // user@domain of the target account
  HostPaths paths;
  bool dry_run = false;
  bool no_uidl = false;  // POP3 server without UIDL: pull anyway (clients re-download)
  /// Pull only when the password verifies against the account's stored hash
  /// (the login hook: an APOP or CRAM digest is not a password).
  bool check_local_password = false;
  /// The account does not exist here: make it (vpopmail/add_user.h) with
  /// the password, once the old server has accepted the login with it.
  bool create = false;
  RateLimiter* limiter = nullptr;     // not owned; may be null
  ProgressMeter* progress = nullptr;  // not owned; may be null
  const std::atomic<bool>* interrupted = nullptr;
};

struct FolderReport {
  std::string name;      // on the old server (modified UTF-7, its delimiter)
  std::string new_name;  // on the new host ('/' separated), "INBOX" for INBOX
  std::string maildir;   // "" for INBOX, ".Sent", ".Archive.2023"
  uint32_t uidvalidity = 0;
  uint32_t on_server = 0;   // messages the old server lists
  uint32_t pulled = 0;      // written this run (or, with dry_run, would be)
  uint64_t bytes = 0;       // bytes of those (as the server counts them)
  uint32_t already = 0;     // present from an earlier run
  bool restarted = false;   // UIDVALIDITY changed: the earlier pull was removed
  uint32_t removed = 0;     // messages of the earlier pull removed
  bool uids_kept = false;   // dovecot-uidlist carries the old UIDs
};

struct PullReport {
  std::string address;
  std::string source;  // URL as given
  std::string login;
  std::vector<FolderReport> folders;
  uint32_t pulled = 0;
  uint64_t bytes = 0;
  uint32_t already = 0;
  /// Which clients keep the old identifiers after this pull.
  bool imap_uids_kept = false;      // IMAP source and dovecot-uidlist ours
  bool dovecot_pop3_uidls = false;  // every INBOX message has its P record
  bool qmail_pop3d_uidls = false;   // every INBOX message is named by its UIDL
  uint32_t uidls_known = 0;         // INBOX messages whose old UIDL is known
  /// create: the account was made by this run (with dry_run: would be).
  bool created = false;
  std::string created_quota;        // its quota (pw_shell) when created
  std::vector<std::string> warnings;
};

/// Pulls per `options`. Errors (each naming the account and the object):
///   NotFound     - the domain or account does not exist here (the
///                  account: unless `create`)
///   InvalidInput - `create` and a name vpopmail refuses
///   PeerRefused  - unreachable, TLS/certificate, login refused, dropped
///                  connection, a message of another size than announced
///   DataRefused  - a folder name that is not modified UTF-7; a POP3 server
///                  without UIDL (unless no_uidl); a password that is not
///                  the account's (check_local_password); `create` and a
///                  MySQL column too narrow for the new account's values
///   Conflict     - another pull into the same account is running; `create`
///                  and the home path already holds something
///   IoError      - writing the Maildir failed
///   Interrupted  - `interrupted` was set (messages already moved to cur/
///                  stay; a re-run continues)
/// With `create` the account is made only after the old server accepted
/// the login, so a wrong password creates nothing.
/// On any error the Maildir holds only complete messages (tmp/ -> cur/ or
/// new/ after a flush), and the identifier files of finished folders.
Result<PullReport> PullAccount(const PullOptions& options);

/// The Maildir++ directory (".Sent", ".Archive.2023") and the new IMAP name
/// ('/' separated) of an old IMAP name with delimiter `delimiter`. INBOX
/// (any case) gives "" and "INBOX"; a personal "INBOX<delim>" prefix is
/// dropped. A '.' inside a level (and a '/' with a '.' delimiter) becomes
/// '_', as export --from unix does (`changed` set).
void MapFolderName(const std::string& name, char delimiter, std::string* maildir, std::string* new_name,
                   bool* changed);

/// The hash the header pass of POP3 UIDL matching compares (Dovecot's
/// pop3-migration, sources-and-cutover §7.3): SHA-256 (hex) of `header`'s
/// fields up to the first empty line, CR and trailing blanks removed,
/// without Content-Length, Return-Path, Status, X-IMAP, X-IMAPbase,
/// X-Keywords, X-Message-Flag, X-Status, X-UID, X-UIDL,
/// X-Yahoo-Newman-Property and lines without a valid field name (with
/// their continuation lines). The same message gives the same hash from
/// POP3 TOP n 0 and from IMAP BODY.PEEK[HEADER].
std::string HeaderHash(const std::string& header);

/// Seconds since the epoch of the first Received: header's date (after its
/// last ';'), else of Date:, in `message`'s header; nullopt when neither parses.
std::optional<int64_t> HeaderDate(const std::string& message);

}  // namespace vmigrate::pull

#endif  // VMIGRATE_PULL_PULL_H_
