// verify on a delta (kind "delta"): after `import DELTA`, each domain
// installed here must have exactly the state the source had when the delta
// was made (its result digest, state/state_file.h). The state covers every
// vpasswd field, alias domain, domain file and file of every home (path,
// type, mode, mtime, size; the content of small non-message files), so
// equal digests mean the target equals the source.
#ifndef VMIGRATE_VERIFY_DELTA_CHECK_H_
#define VMIGRATE_VERIFY_DELTA_CHECK_H_

#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"
#include "model/manifest.h"

namespace vmigrate {

struct DeltaVerdict {
  std::string domain;
  std::string installed;  // the state digest of the domain here ("" when it is not installed)
  std::string result;     // the delta's result digest for it
  bool match() const { return installed == result; }
};

/// One verdict per domain of `delta` (or just `only_domain`). Errors:
/// kNotFound for an --domain the delta lacks; a domain that is not
/// installed is a verdict with an empty `installed`; errors reading the
/// installed domain (exporter.h WriteState) are returned.
Status VerifyDelta(const HostPaths& paths, const Manifest& delta, const std::string& only_domain,
                   std::vector<DeltaVerdict>* out);

}  // namespace vmigrate

#endif  // VMIGRATE_VERIFY_DELTA_CHECK_H_
