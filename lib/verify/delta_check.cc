#include "verify/delta_check.h"

#include "core/strings.h"
#include "exporter/exporter.h"
#include "qmail/domains.h"

namespace vmigrate {

Status VerifyDelta(const HostPaths& paths, const Manifest& delta, const std::string& only_domain,
                   std::vector<DeltaVerdict>* out) {
  bool found = only_domain.empty();
  for (const ManifestDomain& d : delta.domains) {
    if (!only_domain.empty() && ToLower(d.name) != ToLower(only_domain)) continue;
    found = true;
    DeltaVerdict v;
    v.domain = d.name;
    v.result = d.delta.result;
    auto loc = qmail::LocateDomain(paths, d.name);
    if (!loc.ok() && loc.status().code() != Status::Code::kNotFound) return loc.status();
    if (loc.ok()) {
      StateOptions so;
      so.paths = paths;
      so.domain = loc->domain;
      StateReport report;
      VM_RETURN_IF_ERROR(WriteState(so, &report).WithContext(d.name));
      v.installed = report.domain_digests[loc->domain];
    }
    out->push_back(v);
  }
  if (!found) return Status::NotFound("the delta has no domain " + only_domain);
  return Status::OK();
}

}  // namespace vmigrate
