// Where a Unix user's mail lives and what its folders are called after the
// move (reference sources-and-cutover §5.3): the spool, ~/mbox, the mbox
// folders below ~/mail (UW-IMAP's mail-subdirectory, Dovecot's mbox:~/mail),
// their Maildir++ names, and the subscriptions of both servers.
#ifndef VMIGRATE_UNIXHOST_MAIL_FOLDERS_H_
#define VMIGRATE_UNIXHOST_MAIL_FOLDERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "unixhost/accounts.h"

namespace vmigrate::unixhost {

struct Folder {
  std::string path;         // absolute path of the mbox file under root
  std::string imap_name;    // as Dovecot named it on the old host: "Archive/2023", "Entw&APw-rfe"
  /// The name clients see after the move (namespace separator "/"): equal to
  /// imap_name unless a component had to change to fit Maildir++ (a '.', a
  /// clash with INBOX or with another folder's new name; warned).
  std::string new_imap_name;
  std::string maildir_name;  // Maildir++ dir below Maildir/: ".Archive.2023"
  std::int64_t bytes = 0;    // size of the mbox file
};

struct UserMail {
  std::string spool;  // <root><spool_dir>/<user>, "" if absent
  std::string mbox;   // <root><home>/mbox, "" if absent
  /// Below <root><home>/<folders_rel>, recursive, sorted by new_imap_name;
  /// skips dot entries (.imap/, .subscriptions), symlinks, Maildirs,
  /// dotlocks and files that are not mbox (each warned but dot entries).
  std::vector<Folder> folders;
  /// New IMAP names (Folder::new_imap_name, or "INBOX"): ~/<folders_rel>/.subscriptions
  /// (Dovecot, first) then ~/.mailboxlist (UW, its "<folders_rel>/" prefix
  /// removed); once each. Names of folders that no longer exist are kept (both
  /// servers listed them in LSUB) and warned; names outside the folder
  /// directory are dropped and warned.
  std::vector<std::string> subscriptions;
  std::int64_t bytes = 0;  // spool + mbox + folders
  std::vector<std::string> warnings;  // "user 'alice': ..." one line each
};

/// Finds `a`'s mail under `root`. `spool_dir` is the spool directory as a
/// host path (--spool; "" = /var/mail), read under root; `folders_rel` is
/// the folder directory relative to the home (--folders; "" = "mail"; a
/// leading "~/" is dropped). An absent spool, home or folder directory is
/// no error. kIoError (naming the path) when something exists but cannot be
/// read; kInvalidInput for a folders_rel that is absolute or has "..".
Result<UserMail> FindUserMail(const std::string& root, const Account& a, const std::string& spool_dir,
                              const std::string& folders_rel);

/// Spool files in <root><spool_dir> ("" = /var/mail) named after no account
/// of `all` (a user removed with userdel but not his mail: oscar), sorted;
/// dot files and dotlocks ("*.lock") left out. For the report: such mail
/// has no owner to migrate to. An absent spool directory gives none.
Result<std::vector<std::string>> OrphanSpools(const std::string& root, const std::string& spool_dir,
                                              const std::vector<Account>& all);

/// kDataRefused for a disabled account (Converted::disabled) without any
/// mail (UserMail::bytes == 0): nobody can log in and there is nothing to
/// keep (judy: '*' hash, 0-byte spool). OK otherwise.
Status CheckDisabledHasMail(const std::string& name, bool disabled, const UserMail& mail);

/// Modified UTF-7 (RFC 3501 5.1.3) of a UTF-8 name: printable ASCII but '&'
/// unchanged, '&' as "&-", other characters as "&<modified base64 of UTF-16>-".
/// A byte that is not part of valid UTF-8 is taken as Latin-1 (old hosts).
std::string EncodeModifiedUtf7(const std::string& utf8);
/// True when `name` is printable ASCII and valid modified UTF-7 (what
/// Dovecot and c-client write on disk for non-ASCII names).
bool IsModifiedUtf7(const std::string& name);

/// Dovecot's subscriptions file (Maildir/subscriptions for Maildir++,
/// lib-storage/list/subscription-file.c, version 2): "V\t2\n\n", then one
/// line per name, its hierarchy levels ('/'-separated in `names`) joined by
/// TAB and each tab-escaped (\001 -> \0011, \t -> \001t, \r -> \001r,
/// \n -> \001n). Names are IMAP names (modified UTF-7), not Maildir++ dirs.
std::string FormatSubscriptions(const std::vector<std::string>& names);

}  // namespace vmigrate::unixhost

#endif  // VMIGRATE_UNIXHOST_MAIL_FOLDERS_H_
