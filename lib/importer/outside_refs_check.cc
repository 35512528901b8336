#include "importer/outside_refs_check.h"

#include <sys/stat.h>

#include <set>

#include "core/resolve_path.h"
#include "core/strings.h"

namespace vmigrate {
namespace {

// Symlinks followed under --root, as the mail system on the host would.
bool ExistsOn(const HostPaths& target, const std::string& host_path) {
  auto r = ResolveUnderRoot(target.root, LexicalPath("/", host_path));
  struct stat st;
  return r.ok() && r->exists && stat(r->disk.c_str(), &st) == 0;
}

bool Restored(const DomainOutcome& d) {
  return d.status == DomainStatus::kImported || d.status == DomainStatus::kPlanned;
}

}  // namespace

std::vector<ReportedRef> CheckOutsideRefs(const Manifest& manifest, const std::vector<DomainOutcome>& domains,
                                          const HostPaths& target, bool dry_run) {
  std::set<std::string> restored;
  for (const DomainOutcome& d : domains)
    if (Restored(d)) restored.insert(d.name);
  const std::string& old_home = manifest.source.vpopmail_home;
  std::vector<ReportedRef> out;
  for (const ManifestDomain& md : manifest.domains) {
    if (!restored.count(md.name)) continue;
    for (const OutsideRef& ref : md.outside_refs) {
      ReportedRef r{md.name, ref, ""};
      if (ref.reason == kRefArchiveDomain) {
        // The exporter wrote it below the vpopmail home placeholder.
        if (!StartsWith(ref.path, old_home + "/")) continue;
        std::string now = target.vpopmail_home + ref.path.substr(old_home.size());
        bool here = ExistsOn(target, now);
        if (restored.count(ref.domain)) {
          if (dry_run || here) continue;  // placed by this very run, where the path says
          r.note = "rewritten to '" + EscapeC(now) + "', which does not exist on this host";
        } else {
          r.note = "this run does not restore " + EscapeC(ref.domain) + "; rewritten to '" + EscapeC(now) +
                   "', which " + (here ? "exists" : "does not exist") + " on this host";
        }
      } else if (StartsWith(ref.path, "/")) {
        r.note = ExistsOn(target, ref.path) ? "it exists on this host" : "it does not exist on this host";
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace vmigrate
