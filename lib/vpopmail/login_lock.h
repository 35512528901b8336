// The login lock of a cutover: every account of a domain gets vpopmail's
// NO_POP, NO_WEBMAIL and NO_IMAP flags in pw_gid (reference FMT §1.3; vchkpw
// and Dovecot's vpopmail passdb refuse the login), so the mailboxes stop
// changing while the domain moves (sources-and-cutover §3.4 step 2-3).
//
// Only the bits the lock ADDED are recorded, per user, in
// <domaindir>/.vmigrate-login-lock. That record is what makes the lock
// invisible to everything else: export, state and verify read the
// *unlocked view* (gid with the added bits cleared), so a locked domain has
// the same state digest as before, and the lock never travels in an archive
// (the walker skips ".vmigrate-*" files). A user that had NO_POP before the
// lock keeps it after the unlock, because that bit was never "added".
#ifndef VMIGRATE_VPOPMAIL_LOGIN_LOCK_H_
#define VMIGRATE_VPOPMAIL_LOGIN_LOCK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"
#include "model/vpasswd_entry.h"
#include "qmail/domains.h"
#include "vpopmail/user_store.h"

namespace vmigrate::vpopmail {

/// NO_POP (0x02) | NO_WEBMAIL (0x04) | NO_IMAP (0x08), FMT §1.3.
constexpr std::uint32_t kLoginLockBits = 0x02 | 0x04 | 0x08;

/// The name of the record inside the domain directory.
extern const char kLoginLockFile[];  // ".vmigrate-login-lock"

/// user -> the pw_gid bits the lock added (a subset of kLoginLockBits).
struct LoginLock {
  std::map<std::string, std::uint32_t> added;
};

/// Reads <domain_disk>/.vmigrate-login-lock. nullopt when the domain is not
/// locked; kCorrupt naming the line for a record we did not write.
Result<std::optional<LoginLock>> ReadLoginLock(const std::string& domain_disk);

/// Writes the record atomically (temp + fsync + rename, mode 0600).
Status WriteLoginLock(const std::string& domain_disk, const LoginLock& lock);

/// The unlocked view: clears each user's added bits in `entries` (gid
/// rewritten as decimal only for users the lock changed).
void ApplyUnlockedView(const LoginLock& lock, std::vector<VpasswdEntry>* entries);

/// Locks `entries` about to be written into a locked domain (a delta
/// import): adds kLoginLockBits to each, recording in `lock` the bits added
/// for users it did not know. kCorrupt naming the user when a pw_gid is not
/// a decimal number (vpopmail writes "%d").
Status ApplyLock(LoginLock* lock, std::vector<VpasswdEntry>* entries);

/// Reads the domain's users through `store` in the unlocked view (what
/// export, state and verify must see). Errors as UserStore::ReadUsers.
Result<std::vector<VpasswdEntry>> ReadUsersUnlocked(UserStore* store, const HostPaths& paths,
                                                    const qmail::DomainLocation& where);

/// Locks (or, with lock=false, unlocks) every login of the live domain at
/// `where`, under vpopmail's <domaindir>/.vpasswd.lock. Locking writes the
/// record first, then the accounts; unlocking writes the accounts, then
/// removes the record, so a run killed at any point is completed by running
/// it again. Returns whether anything changed. Errors: kConflict when
/// .vpasswd.lock stays held, kCorrupt for a bad pw_gid or record, kIoError.
Result<bool> SetLoginLock(const HostPaths& paths, const qmail::DomainLocation& where, bool lock);

/// Whether the domain at `where` carries a login lock record.
Result<bool> IsLoginLocked(const HostPaths& paths, const qmail::DomainLocation& where);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_LOGIN_LOCK_H_
