// The accounts of a classic Unix mail host (reference sources-and-cutover
// §6.1, §6.4): /etc/passwd joined with /etc/shadow under a --root, which of
// them are real users, and what each becomes as a vpopmail user.
#ifndef VMIGRATE_UNIXHOST_ACCOUNTS_H_
#define VMIGRATE_UNIXHOST_ACCOUNTS_H_

#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate::unixhost {

/// One etc/passwd line joined with its etc/shadow line.
struct Account {
  std::string name, gecos, home, shell;  // passwd fields 1, 5, 6, 7 verbatim
  unsigned long uid = 0, gid = 0;
  /// The hash pam_unix checks: shadow field 2 verbatim when passwd field 2
  /// is "x" and a shadow line exists; otherwise passwd field 2 ("x" with no
  /// shadow line stays "x", which no password matches).
  std::string hash;
  bool has_shadow = false;  // a shadow line for this name exists
  unsigned long line = 0;   // 1-based line in etc/passwd, for messages
};

/// Reads <root>/etc/passwd and <root>/etc/shadow (never the '-' backups the
/// shadow tools leave), in passwd order. A missing shadow file is not an
/// error (hashes then come from passwd). kNotFound when etc/passwd is
/// missing; kCorrupt naming "<file>:<line>" for a line without 7 (passwd) or
/// 2..9 (shadow) fields, a uid/gid that is not a number, an empty or
/// duplicated name; kUnsupported for NIS "+"/"-" lines; kIoError otherwise.
Result<std::vector<Account>> ReadAccounts(const std::string& root);

/// The uids of real users, both ends included.
struct UidRange {
  unsigned long min = 1000, max = 60000;  // Debian's login.defs defaults
};
/// UID_MIN / UID_MAX of <root>/etc/login.defs; Debian's defaults for a
/// missing file or key. kCorrupt naming file:line for a value that is not a
/// decimal number or a range with min > max.
Result<UidRange> ReadUidRange(const std::string& root);
/// "A-B" (--uid-range), decimal, A <= B; kInvalidInput otherwise.
Result<UidRange> ParseUidRange(const std::string& text);

/// The accounts to migrate, in passwd order (or in the order of `names`).
/// With `names` empty: every account whose uid is in `range`. With `names`:
/// exactly those (duplicates once); kNotFound for a name that has no
/// etc/passwd line, kDataRefused for one outside `range`. uid 0 and the
/// overflow account (uid 65534, "nobody") are system accounts whatever the
/// range says and never come along. kConflict when two selected names
/// become the same vpopmail name once lower-cased.
Result<std::vector<Account>> SelectAccounts(const std::vector<Account>& all, const UidRange& range,
                                            const std::vector<std::string>& names);

/// --users-from FILE: one user name a line; blank lines and lines starting
/// with '#' skipped, surrounding blanks trimmed. kNotFound / kIoError.
Result<std::vector<std::string>> ReadUserList(const std::string& path);

/// Where the account's home is under `root`: root + home, lexically
/// normalized, without a trailing '/'. "" when home is not absolute or
/// leaves root through "..": nothing is read there.
std::string HomeOnDisk(const std::string& root, const Account& a);

/// --locked: what happens to an account whose hash lets nobody log in
/// (HashScheme "locked", "disabled" or "empty").
enum class LockedPolicy { kSkip, kDisable };

/// vpopmail pw_gid bits of a disabled account (V54:vpopmail.h): NO_PASSWD_CHNG,
/// NO_POP, NO_WEBMAIL, NO_IMAP, NO_RELAY, NO_DIALUP, NO_SMTP. BOUNCE_MAIL is
/// not set: mail for the account is still delivered, as on the old host.
constexpr unsigned long kDisabledFlags = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x800;

/// What becomes the vpasswd entry of an account.
struct Converted {
  std::string name;       // lower-cased; vpopmail::ValidateUserName accepts it
  std::string passwd;     // the hash verbatim, or an unusable one when disabled
  unsigned long flags = 0;  // pw_gid bits: kDisabledFlags when disabled, else 0
  std::string scheme;     // HashScheme of the original hash
  bool disabled = false;
  std::vector<std::string> warnings;  // "user 'frank': ..." one line each
};

/// Converts one account. kDataRefused with the reason, naming the user: a
/// name vpopmail cannot hold even lower-cased; a locked/disabled/empty hash
/// with kSkip; a hash this host's libcrypt cannot verify (CanVerify), which
/// is reported, never carried. With kDisable the account comes along
/// disabled: its passwd accepts neither the old password nor an empty one
/// under vpopmail's strcmp(crypt(clear, pw), pw) (§6.3): a '!' or '*' hash is
/// kept as it is (the lock stays visible and reversible), any other one gets
/// a '!' in front ("" becomes "!"), and the flags are kDisabledFlags too.
Result<Converted> ConvertAccount(const Account& a, LockedPolicy policy);

}  // namespace vmigrate::unixhost

#endif  // VMIGRATE_UNIXHOST_ACCOUNTS_H_
