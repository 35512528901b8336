// Where a domain and its users come from on the source host. Today: the
// cdb backend (users/assign + <domaindir>/vpasswd). The MySQL backend and
// other sources (/etc/passwd, mbox, a live IMAP server) plug in behind
// UserSource without touching the exporter.
#ifndef VMIGRATE_EXPORTER_DOMAIN_SOURCE_H_
#define VMIGRATE_EXPORTER_DOMAIN_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"
#include "model/vpasswd_entry.h"

namespace vmigrate {

struct DomainLocation {
  std::string domain;
  std::string dir;   // host path of the domain directory, from users/assign
  unsigned long uid = 0;
  unsigned long gid = 0;
  std::vector<std::string> aliases;  // other assign lines pointing at this domain
};

/// Finds `domain` through <qmail>/users/assign, never by guessing paths.
/// kNotFound when it is not a vpopmail domain there; kInvalidInput naming
/// the real domain when `domain` is an alias.
Result<DomainLocation> LocateDomain(const HostPaths& paths, const std::string& domain);

/// Every real (non-alias) vpopmail domain in users/assign, in file order.
Result<std::vector<std::string>> ListDomains(const HostPaths& paths);

class UserSource {
 public:
  virtual ~UserSource() = default;
  /// Every account of the domain, every field verbatim, in backend order.
  virtual Result<std::vector<VpasswdEntry>> ReadUsers(const DomainLocation& where) = 0;
  virtual std::string Describe() const = 0;
};

/// The cdb backend: reads <domaindir>/vpasswd (the text file is the source
/// of truth; vpasswd.cdb is rebuilt on import).
std::unique_ptr<UserSource> MakeVpasswdUserSource(const HostPaths& paths);

}  // namespace vmigrate

#endif  // VMIGRATE_EXPORTER_DOMAIN_SOURCE_H_
