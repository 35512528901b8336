#include "qmail/domains.h"

#include "core/atomic_file.h"
#include "core/strings.h"
#include "qmail/assign.h"

namespace vmigrate::qmail {

Result<DomainLocation> LocateDomain(const HostPaths& paths, const std::string& domain) {
  std::string assign_path = paths.OnDisk(paths.assign_file());
  auto text = ReadSmallFile(assign_path);
  if (!text.ok()) return text.status().WithContext("cannot read users/assign");
  std::vector<DomainAssign> entries = ParseDomainAssigns(*text);
  const std::string wanted = ToLower(domain);
  DomainLocation loc;
  bool found = false;
  for (const auto& e : entries) {
    if (ToLower(e.domain) != wanted) continue;
    if (e.is_alias())
      return Status::InvalidInput(domain + " is an alias domain of " + e.real_domain +
                                  "; export " + e.real_domain + " (its aliases come along)");
    loc.domain = e.domain;
    loc.dir = NormalizePath(e.dir);
    loc.uid = e.uid;
    loc.gid = e.gid;
    found = true;
    break;
  }
  if (!found)
    return Status::NotFound(domain + " is not a vpopmail domain in " + paths.assign_file());
  for (const auto& e : entries) {
    if (!e.is_alias()) continue;
    if (ToLower(e.real_domain) == wanted || NormalizePath(e.dir) == loc.dir)
      loc.aliases.push_back(e.domain);
  }
  return loc;
}

Result<std::vector<std::string>> ListDomains(const HostPaths& paths) {
  auto text = ReadSmallFile(paths.OnDisk(paths.assign_file()));
  if (!text.ok()) return text.status().WithContext("cannot read users/assign");
  std::vector<std::string> names;
  for (const auto& e : ParseDomainAssigns(*text))
    if (!e.is_alias()) names.push_back(e.domain);
  return names;
}

Result<DomainLocation> LocateRealDomain(const HostPaths& paths, const std::string& domain) {
  auto text = ReadSmallFile(paths.OnDisk(paths.assign_file()));
  if (!text.ok()) return text.status().WithContext("cannot read users/assign");
  std::string real = ToLower(domain);
  for (const DomainAssign& e : ParseDomainAssigns(*text)) {
    if (e.is_alias() && ToLower(e.domain) == real) {
      real = e.real_domain;
      break;
    }
  }
  return LocateDomain(paths, real);
}

}  // namespace vmigrate::qmail
