#include "importer/rehash_weak.h"

#include "qmail/domains.h"
#include "vpopmail/rehash.h"

namespace vmigrate {

void RehashWeakImported(const ImportOptions& options, ImportReport* report) {
  vpopmail::RehashLimits limits;
  limits.vpasswd_line_max = options.vpasswd_line_max;
  for (const DomainOutcome& d : report->domains) {
    if (d.status != DomainStatus::kImported) continue;
    if (d.merged && d.users_added.empty()) continue;
    auto warn = [&](const Status& s) {
      report->warnings.push_back(d.name + ": --rehash-weak: " + s.message() + "; the hashes are as imported");
    };
    auto where = qmail::LocateDomain(options.paths, d.name);
    if (!where.ok()) {
      warn(where.status());
      continue;
    }
    const std::vector<std::string> only = d.merged ? d.users_added : std::vector<std::string>{};
    auto results = vpopmail::RehashWeakUsers(options.paths, *where, only, limits);
    if (!results.ok()) {
      warn(results.status());
      continue;
    }
    for (const vpopmail::WeakUserResult& r : *results) {
      WeakAccount a{d.name, r.name, r.scheme, r.reason};
      (r.rehashed ? report->rehashed_users : report->rehash_left).push_back(std::move(a));
    }
  }
}

}  // namespace vmigrate
