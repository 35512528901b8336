// The users part of `vmigrate verify`: every account of the archive against
// the one installed (each vpasswd field, the cleartext against the
// installed hash with crypt_r), weak hashes, and the user store's own
// consistency (cdb: vpasswd.cdb against vpasswd).
#ifndef VMIGRATE_VERIFY_USER_CHECK_H_
#define VMIGRATE_VERIFY_USER_CHECK_H_

#include "verify/installed_domain.h"
#include "verify/verifier.h"
#include "vpopmail/user_store.h"

namespace vmigrate::verify {

/// Compares domain.archived->users with domain.users_by_name. Adds a
/// difference per user missing on either side and per field that differs
/// (path "vpasswd"; pw_uid converted from the archive's backend to this
/// host's, vpopmail::ConvertPwUid), counts the cleartexts checked in
/// report->passwords_checked, and warns once about DES/MD5-crypt hashes,
/// about each account vpopmail cannot reach (report->unreachable_users) and
/// about each installed vpasswd line longer than vpopmail 5.4 reads
/// (vpopmail::VpasswdLineWarning).
void CheckUsers(const InstalledDomain& domain, VerifyReport* report);

/// Adds store->CheckConsistency(domain.loc, domain.users) as differences.
void CheckUserStore(const InstalledDomain& domain, vpopmail::UserStore* store, VerifyReport* report);

}  // namespace vmigrate::verify

#endif  // VMIGRATE_VERIFY_USER_CHECK_H_
