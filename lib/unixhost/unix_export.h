// A classic Unix mail host -> vmigrate archive of one vpopmail domain
// (export --from unix). Accounts come from etc/passwd + etc/shadow, INBOX
// from the mbox spool (and ~/mbox), folders from the UW-IMAP folder dir;
// every message becomes a Maildir++ file with its bytes, flags, keywords,
// INTERNALDATE, IMAP UID/UIDVALIDITY and POP3 UIDL kept (reference
// sources-and-cutover §5.6). The result is an ordinary kind "domain"
// archive (cdb-form vpasswd entries), so import, verify and everything
// after it is the path a vpopmail source takes.
#ifndef VMIGRATE_UNIXHOST_UNIX_EXPORT_H_
#define VMIGRATE_UNIXHOST_UNIX_EXPORT_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "archive/archive_writer.h"
#include "core/progress.h"
#include "core/status.h"
#include "mbox/mbox_reader.h"
#include "model/manifest.h"
#include "unixhost/accounts.h"
#include "unixhost/crypt_check.h"

namespace vmigrate::unixhost {

struct UnixExportOptions {
  std::string root = "/";          // --root: the Unix host's tree
  std::string domain;              // DOMAIN: the vpopmail domain the users join
  /// -o FILE ("-" = stdout); with batch_size an existing directory, which
  /// gets <domain>-batch<NNN>.tar.zst (or .tar.gz / .tar).
  std::string output;
  Compression compression = Compression::kZstd;
  bool overwrite = false;          // --force
  bool dry_run = false;            // --dry-run: scan and report, write nothing
  /// Who comes along: exactly `users` when not empty (--user, --users-from),
  /// else every account with a UID in `uid_range` (--uid-range) or, without
  /// it, in UID_MIN..UID_MAX of etc/login.defs. UID 0, UIDs below the range
  /// and 65534 (nobody) never come along, even when named.
  std::vector<std::string> users;
  bool has_uid_range = false;
  UidRange uid_range;
  size_t batch_size = 0;           // --batch N: one archive per N users (merge_users)
  LockedPolicy locked = LockedPolicy::kDisable;  // --locked
  std::string quota = "NOQUOTA";   // --quota: every user's vpopmail quota
  std::string spool_dir;           // --spool DIR (host path); "" = /var/mail
  std::string folders = "mail";    // --folders DIR, relative to each home
  mbox::OldServer old_server = mbox::OldServer::kDovecot;  // --old-server
  /// --old-pop3-uidl: how the old server formed POP3 UIDLs (Dovecot
  /// pop3_uidl_format variables, or "x-uidl"); "" = Dovecot's default
  /// %08Xu%08Xv.
  std::string old_pop3_uidl;
  std::string imap_server = "dovecot";  // --imap-server dovecot|courier
  /// Zone for From_ lines without one; "" = read <root>/etc/timezone (or
  /// the etc/localtime link), else UTC with a warning.
  std::string time_zone;
  ProgressMeter* progress = nullptr;  // not owned
  const std::atomic<bool>* interrupted = nullptr;
};

/// What happened to one account that came along.
struct UnixUser {
  std::string name;                // vpopmail name (lower-cased)
  std::string unix_name;           // as in etc/passwd
  std::string scheme;              // HashScheme of the shadow hash
  bool verifiable = false;         // this machine's libcrypt verifies the hash
  bool disabled = false;           // locked/empty: carried unable to log in
  std::uint64_t messages = 0, bytes = 0;
  std::vector<std::string> folders;  // IMAP names (INBOX not listed)
  /// Which clients see the old POP3 UIDLs unchanged: "dovecot+qmail-pop3d"
  /// (the file names carry them), "dovecot" (dovecot-uidlist P only), or
  /// "none" (no INBOX mail).
  std::string uidl_kept;
  std::vector<std::string> warnings;
  size_t batch = 0;                // 0-based archive index
};

struct SkippedAccount {
  std::string name;
  unsigned long uid = 0;
  std::string reason;
};

struct UnixExportReport {
  std::vector<Manifest> manifests;    // one per archive written (or planned)
  std::vector<std::string> outputs;   // their paths, in order
  std::vector<UnixUser> users;
  std::vector<SkippedAccount> skipped;  // in range (or named) but not carried
  std::vector<std::string> warnings;  // host-level
  std::uint64_t entries = 0;          // archive members written, all archives
};

/// Reads the host under `options.root` and writes the archive(s).
/// Errors: kInvalidInput (bad domain name, --batch without a directory,
/// an unsupported --old-pop3-uidl), kNotFound (etc/passwd, a --user that
/// does not exist), kCorrupt (an unreadable passwd/shadow line), kConflict
/// (an existing output without `overwrite`), kDataRefused (no account to
/// carry), kIoError, kInterrupted. An account that cannot be carried is
/// skipped with its reason (report.skipped), never carried half.
Status ExportUnix(const UnixExportOptions& options, UnixExportReport* report);

}  // namespace vmigrate::unixhost

#endif  // VMIGRATE_UNIXHOST_UNIX_EXPORT_H_
