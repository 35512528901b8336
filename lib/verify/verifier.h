// `vmigrate verify`: compares a domain installed on this host with the
// archive it was exported to (or imported from). Streams the archive once:
// every member is compared with its installed counterpart (type, mode,
// mtime with nanoseconds, size, SHA-256; path placeholders replaced by this
// host's paths first), then the installed homes and domain dir are walked
// for files the archive does not have. Users (every vpasswd field, the
// cleartext against the hash with crypt_r), vpasswd.cdb, alias domains and
// the qmail control entries are checked too. Read-only: nothing is written.
#ifndef VMIGRATE_VERIFY_VERIFIER_H_
#define VMIGRATE_VERIFY_VERIFIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"
#include "model/outside_refs.h"
#include "vpopmail/names.h"

namespace vmigrate {

struct VerifyOptions {
  HostPaths paths;        // --root, --vpopmail-home, --qmail-dir
  std::string archive;    // FILE or "-" for stdin
  bool uidl = false;      // --uidl: build the POP3 UIDL / IMAP UID report
  std::string domain;     // --domain: which domain of a server archive ("" = the first)
};

/// One difference between the archive and this host.
struct Difference {
  std::string user;  // empty for domain-level files and control files
  std::string path;  // relative to the user's home or the domain dir; host path for control files
  std::string what;  // e.g. "missing", "SHA-256 differs", "mtime 1.5 in the archive, 2.0 installed"
};

/// The POP3/IMAP view of one Maildir++ folder (INBOX = Maildir/, others = Maildir/.X).
struct FolderUidl {
  std::string user;
  std::string folder;              // "INBOX", "Sent", "Trash", ...
  std::uint64_t messages = 0;      // files in cur/ and new/ in the archive
  std::uint64_t uidl_kept = 0;     // messages whose POP3 UIDL exists on this host
  bool pop3_order_kept = true;     // INBOX: qmail-pop3d lists the same UIDLs in the same order
  std::string uid_source;          // "dovecot-uidlist", "courierimapuiddb" or "" (none)
  std::uint64_t uid_kept = 0;      // messages whose IMAP UID (and the UIDVALIDITY) stay the same
  std::vector<std::string> changes;  // one line per message whose UIDL or UID would change
};

struct VerifyReport {
  std::string domain;
  std::string domain_dir;          // installed domain dir (host path)
  std::vector<std::string> aliases;
  std::uint64_t users = 0;
  std::uint64_t entries = 0;       // archive members compared
  std::uint64_t passwords_checked = 0;  // cleartexts verified against the hash
  std::vector<Difference> differences;
  std::vector<std::string> warnings;
  std::vector<FolderUidl> uidl;    // with VerifyOptions::uidl
  /// Accounts of the archive vpopmail cannot reach (also in `warnings`).
  std::vector<vpopmail::UnreachableUser> unreachable_users;
  /// The archive's references that leave the domain, noted with whether
  /// each path exists here (verify/delivery_check.h).
  std::vector<ReportedRef> outside_refs;
};

/// Fills `report`. Differences are not an error: the Status is OK and
/// report->differences says what differs. Errors (unreadable or corrupt
/// archive, domain not on this host) are returned as a Status.
Status Verify(const VerifyOptions& options, VerifyReport* report);

}  // namespace vmigrate

#endif  // VMIGRATE_VERIFY_VERIFIER_H_
