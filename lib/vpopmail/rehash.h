// Re-hashing weak vpopmail passwords (DES, MD5-crypt) to SHA-512 crypt
// with a cleartext that has just been verified against the stored hash:
// at login (`vmigrate rehash`, run by vmigrate-checkpassword --rehash) or
// at import from the stored cleartext field (`import --rehash-weak`).
// sources-and-cutover.md §8.4: the new hash is written the way vpopmail's
// vauth_setpw writes a password (V54:vcdb.c): under the domain's
// .vpasswd.lock, vpasswd rewritten in place (order and the cleartext field
// kept), then vpasswd.cdb rebuilt; for a MySQL domain one UPDATE of the
// row that still holds the old hash (a compare-and-swap). The old and the
// new hash verify the same password, so a reader that still sees the old
// one (vchkpw reading vpasswd.cdb meanwhile) still lets the user in.
#ifndef VMIGRATE_VPOPMAIL_REHASH_H_
#define VMIGRATE_VPOPMAIL_REHASH_H_

#include <cstddef>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"
#include "qmail/domains.h"

namespace vmigrate::vpopmail {

/// A fresh SHA-512 crypt of `password` (crypt_gensalt_rn("$6$", 0, ...) from
/// the system's random source, then crypt_r). kIoError when libxcrypt fails.
Result<std::string> Sha512Crypt(const std::string& password);

enum class RehashOutcome {
  kRehashed,          // the weak hash was replaced with SHA-512 crypt
  kNotWeak,           // the stored hash is not DES/MD5-crypt: nothing to do
  kNoSuchUser,        // the domain has no such account
  kPasswordMismatch,  // the password does not verify against the stored hash: nothing written
};

/// "rehashed", "not_weak", "no_such_user", "password_mismatch" (text and JSON).
const char* RehashOutcomeName(RehashOutcome outcome);

struct RehashResult {
  RehashOutcome outcome = RehashOutcome::kNotWeak;
  std::string address;     // user@real-domain
  std::string old_scheme;  // "des", "md5", or "" when not weak / no user
  std::string backend;     // "cdb" or "mysql": where the account is
};

/// The longest vpasswd line (bytes) a rehash writes: the user's line with
/// the new hash must fit what the host's vpopmail reads (names.h).
struct RehashLimits {
  size_t vpasswd_line_max = 254;  // kVpasswdLineMax54
};

/// Re-hashes the account `address` (user@domain; an alias domain stands for
/// its real domain, as vchkpw resolves it through users/assign) on the host
/// at `paths` when its hash is weak and `password` verifies against it.
/// Errors: kNotFound for a domain that is not in users/assign; kConflict
/// when .vpasswd.lock stays held, or the hash changed between the check and
/// the write (MySQL); kDataRefused when the new line would be longer than
/// limits.vpasswd_line_max, or the MySQL pw_passwd column is too narrow for
/// a SHA-512 hash (naming the column and how to widen it); kIoError. Every
/// error names the address and leaves the account as it was.
Result<RehashResult> RehashUser(const HostPaths& paths, const std::string& address, const std::string& password,
                                const RehashLimits& limits = {});

/// What `import --rehash-weak` did with one weak account.
struct WeakUserResult {
  std::string name;
  std::string scheme;    // "des" or "md5"
  bool rehashed = false;
  std::string reason;    // when not rehashed: why it is left for the login hook
};

/// Re-hashes every DES/MD5-crypt account of the live domain `where` whose
/// stored cleartext (the 8th vpasswd field / pw_clear_passwd) verifies
/// against its hash, under .vpasswd.lock (cdb) or row by row with the
/// compare-and-swap UPDATE (MySQL). `only` limits it to those names (empty:
/// every account). Accounts without a usable cleartext are returned with
/// rehashed=false and the reason ("no cleartext stored", "the stored
/// cleartext does not match the hash", "the vpasswd line would be N bytes").
/// Errors: as RehashUser, for the domain as a whole: nothing written (cdb),
/// or only the accounts before the failing row re-hashed (MySQL).
Result<std::vector<WeakUserResult>> RehashWeakUsers(const HostPaths& paths, const qmail::DomainLocation& where,
                                                    const std::vector<std::string>& only,
                                                    const RehashLimits& limits = {});

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_REHASH_H_
