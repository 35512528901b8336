// The qmail part of `vmigrate verify`: is the domain (and each alias
// domain) registered the way vpopmail's vadddomain leaves it (reference
// §4)? users/assign and users/cdb point at the installed domain dir,
// rcpthosts or morercpthosts(.cdb) accept it, virtualdomains routes it to
// vpopmail, and locals does not claim it.
#ifndef VMIGRATE_VERIFY_QMAIL_CHECK_H_
#define VMIGRATE_VERIFY_QMAIL_CHECK_H_

#include "verify/installed_domain.h"
#include "verify/verifier.h"

namespace vmigrate::verify {

/// Adds a difference (user "", path the control file's host path) for each
/// registration that is missing or points elsewhere, and for each alias
/// domain of this host the archive does not have. Unreadable control files
/// count as empty; an unreadable users/cdb is a difference.
void CheckQmailRegistration(const InstalledDomain& domain, VerifyReport* report);

}  // namespace vmigrate::verify

#endif  // VMIGRATE_VERIFY_QMAIL_CHECK_H_
