#include "importer/inspect.h"

#include "archive/archive_reader.h"
#include "core/strings.h"
#include "model/manifest_yaml.h"

namespace vmigrate {

Result<Manifest> ReadArchiveManifest(const std::string& archive) {
  auto reader = ArchiveReader::Open(archive);
  if (!reader.ok()) return reader.status();
  EntryHeader h;
  auto more = (*reader)->Next(&h);
  if (!more.ok()) return more.status();
  if (!*more) return Status::Corrupt(archive + ": empty archive (no manifest.yaml)");
  if (h.path != kManifestEntry || h.type != EntryType::kFile)
    return Status::Corrupt(archive + ": first entry is '" + EscapeC(h.path) +
                           "', not manifest.yaml: not a vmigrate archive");
  auto text = (*reader)->ReadAll(64u << 20);
  if (!text.ok()) return text.status();
  return ManifestFromYaml(*text);
}

}  // namespace vmigrate
