// libFuzzer target: manifest.yaml parsing (vmigrate::ManifestFromYaml).
// Any input must give either a Manifest or a non-OK Status: no crash, no
// exception escaping, no sanitizer report. A parsed manifest must also
// serialise again and parse back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "model/manifest_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto m = vmigrate::ManifestFromYaml(text);
  if (!m.ok()) {
    if (m.status().message().empty()) abort();  // errors must say something
    return 0;
  }
  // Round trip: what we write from a manifest we accepted must be readable.
  std::string again = vmigrate::ManifestToYaml(*m);
  auto m2 = vmigrate::ManifestFromYaml(again);
  if (!m2.ok()) {
    fprintf(stderr, "re-parsing our own output failed: %s\n%s\n",
            m2.status().message().c_str(), again.c_str());
    abort();
  }
  return 0;
}
