// Reads only the manifest of an archive (the first entry), for `inspect`.
#ifndef VMIGRATE_IMPORTER_INSPECT_H_
#define VMIGRATE_IMPORTER_INSPECT_H_

#include <string>

#include "core/status.h"
#include "model/manifest.h"

namespace vmigrate {

Result<Manifest> ReadArchiveManifest(const std::string& archive);

/// Crypt schemes vpopmail users may carry that are weak today (DES, MD5).
/// Returns "des", "md5" or "" for stronger or unknown schemes.
std::string WeakHashScheme(const std::string& crypt);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_INSPECT_H_
