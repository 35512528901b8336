// What the references that leave a domain (model/outside_refs.h, recorded
// by the exporter in the manifest) name on the import target, so that the
// plan and the summary tell the admin which ones still need fixing.
#ifndef VMIGRATE_IMPORTER_OUTSIDE_REFS_CHECK_H_
#define VMIGRATE_IMPORTER_OUTSIDE_REFS_CHECK_H_

#include <string>
#include <vector>

#include "core/host_paths.h"
#include "importer/importer.h"
#include "model/manifest.h"
#include "model/outside_refs.h"

namespace vmigrate {

/// The recorded references of every domain in `domains` that this run
/// imports (or, with `dry_run`, plans), each with a note saying whether its
/// path exists on the target (`target` paths, under --root). A reference
/// into another domain of the same server archive was rewritten for the new
/// host: it is listed only when this run does not restore that domain, or
/// after a real run when the rewritten path does not exist (the domain
/// landed in other buckets). Relative paths get no note.
std::vector<ReportedRef> CheckOutsideRefs(const Manifest& manifest, const std::vector<DomainOutcome>& domains,
                                          const HostPaths& target, bool dry_run);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_OUTSIDE_REFS_CHECK_H_
