// Which vpopmail domains a host has and where they live, read from qmail's
// users/assign (reference §4.4), never by guessing paths: vpopmail's own
// vget_assign() answers the same way.
#ifndef VMIGRATE_QMAIL_DOMAINS_H_
#define VMIGRATE_QMAIL_DOMAINS_H_

#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"

namespace vmigrate::qmail {

/// A real (non-alias) vpopmail domain on a host.
struct DomainLocation {
  std::string domain;                // as users/assign spells it
  std::string dir;                   // host path of the domain directory
  unsigned long uid = 0;             // from its users/assign line
  unsigned long gid = 0;
  std::vector<std::string> aliases;  // alias domains: other assign lines pointing at it
};

/// Finds `domain` (case-insensitive) in <qmail>/users/assign under
/// paths.root. kNotFound when it is not a vpopmail domain there ("<d> is
/// not a vpopmail domain in <assign>"); kInvalidInput naming the real
/// domain when `domain` is an alias; the read error of users/assign
/// otherwise ("cannot read users/assign: ...").
Result<DomainLocation> LocateDomain(const HostPaths& paths, const std::string& domain);

/// As LocateDomain, but an alias domain stands for its real domain, as
/// vchkpw and vadduser resolve it through users/assign (vget_assign): the
/// real domain's location. Errors as LocateDomain (never kInvalidInput
/// for an alias).
Result<DomainLocation> LocateRealDomain(const HostPaths& paths, const std::string& domain);

/// Every real vpopmail domain of users/assign, in file order. Errors as
/// LocateDomain's read error.
Result<std::vector<std::string>> ListDomains(const HostPaths& paths);

}  // namespace vmigrate::qmail

#endif  // VMIGRATE_QMAIL_DOMAINS_H_
