// Reads only the manifest of an archive (the first entry), for `inspect`.
#ifndef VMIGRATE_IMPORTER_INSPECT_H_
#define VMIGRATE_IMPORTER_INSPECT_H_

#include <string>

#include "core/status.h"
#include "model/manifest.h"

namespace vmigrate {

Result<Manifest> ReadArchiveManifest(const std::string& archive);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_INSPECT_H_
