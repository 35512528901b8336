// Making one vpopmail account the way vadduser makes it (reference §1.2,
// §1.4, §1.7, §2.3; V54:vpopmail.c vadduser, make_user_dir; V54:vcdb.c
// vauth_adduser), for `pull --create`: the account is made with the
// password the old server has just accepted, so the user's first login on
// the new host works with the password they already use.
#ifndef VMIGRATE_VPOPMAIL_ADD_USER_H_
#define VMIGRATE_VPOPMAIL_ADD_USER_H_

#include <string>

#include "core/host_paths.h"
#include "core/status.h"

namespace vmigrate::vpopmail {

struct AddUserResult {
  std::string address;  // user@domain, lower-cased
  std::string dir;      // pw_dir: host path of the home (<domaindir>[/<bucket>]/<user>)
  std::string quota;    // pw_shell: from the domain's default_quota / default_maxmsgcount
  bool cleartext = false;     // the 8th vpasswd field was written (the domain keeps them)
  bool login_locked = false;  // the domain is under a cutover login lock: the account is locked too
  /// false: the account existed already and nothing was written.
  bool created = false;
};

/// Creates account `address` (user@domain, a real domain of users/assign)
/// with `password` on the host at `paths`, as vadduser would:
/// - under the domain's .vpasswd.lock (cdb; vpopmail's MySQL backend takes
///   no file lock: the row is inserted only when the name is still free);
/// - the bucket from .dir_control_free (the backfill of a deleted user)
///   else from .dir-control (vpopmail's counter, §2.3), home 0700 with
///   Maildir/{cur,new,tmp} and lastauth "0.0.0.0", owned by the domain's
///   uid/gid when run as root;
/// - pw_passwd a fresh SHA-512 crypt; pw_uid 1, pw_gid 0, gecos the name;
///   the quota vadduser gives ("NS,NC", "NS", "NC" or NOQUOTA from the
///   domain's .qmailadmin-limits, else etc/vlimits.default), maildirsize
///   started when there is one;
/// - the cleartext field written only when the domain's accounts carry one
///   (its CLEAR_PASS build);
/// - in a domain under a cutover login lock, the account gets the lock's
///   bits and is recorded, so the unlock opens it with the others;
/// - through UserStore::InsertUser: vpasswd (strcmp order) and vpasswd.cdb
///   rewritten atomically, then .dir-control; or, for a MySQL domain, the
///   row and the dir_control row in one transaction.
/// The home is made before vpasswd names it; a run killed half-way leaves
/// at most an empty home that the next run takes over. With `dry_run`
/// nothing is written and `created` says whether it would be.
/// Errors, each naming the address: kInvalidInput for a name vpopmail
/// refuses (one character, upper case, over 32 bytes, ...); kNotFound for a
/// domain that is not in users/assign; kDataRefused for a vpasswd line over
/// 254 bytes, a .dir_control_free line that is not a bucket or a MySQL column too narrow for a value (5.4's pw_passwd
/// char(40) and a SHA-512 crypt: the message gives the ALTER TABLE);
/// kConflict when .vpasswd.lock stays held or the home path already holds
/// something else; kIoError.
Result<AddUserResult> AddUser(const HostPaths& paths, const std::string& address, const std::string& password,
                              bool dry_run);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_ADD_USER_H_
