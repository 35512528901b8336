// manifest.yaml <-> Manifest. The only file that includes yaml-cpp.
#ifndef VMIGRATE_MODEL_MANIFEST_YAML_H_
#define VMIGRATE_MODEL_MANIFEST_YAML_H_

#include <string>

#include "core/status.h"
#include "model/manifest.h"

namespace vmigrate {

std::string ManifestToYaml(const Manifest& manifest);

/// Parses and checks the shape (types, required keys, version, kind). Does
/// not validate names: the importer does that with vpopmail's rules.
/// kUnsupported for a newer format_version or an unknown kind, kCorrupt
/// for anything malformed, naming the key.
Result<Manifest> ManifestFromYaml(const std::string& text);

}  // namespace vmigrate

#endif  // VMIGRATE_MODEL_MANIFEST_YAML_H_
