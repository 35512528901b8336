// libFuzzer target: state files (vmigrate::StateFile, the --since input of
// export). Any input must open to a state whose every section loads, or
// give a non-OK Status that says something: no crash, no sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "state/state_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  char path[] = "/tmp/vmigrate-state-fuzz-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) abort();
  if (write(fd, data, size) != static_cast<ssize_t>(size)) abort();
  close(fd);
  auto state = vmigrate::StateFile::Open(path);
  if (!state.ok()) {
    if (state.status().message().empty()) abort();
  } else {
    for (const auto& domain : (*state)->domains()) {
      for (const auto& [key, pos] : domain.sections) {
        auto section = (*state)->Load(domain.name, key);
        if (!section.ok() && section.status().message().empty()) abort();
      }
    }
  }
  unlink(path);
  return 0;
}
