#include "core/crash_point.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace vmigrate {

void CrashPoint(const char* name) {
  static const char* at = std::getenv("VMIGRATE_CRASH_AT");
  static const char* list = std::getenv("VMIGRATE_CRASH_LIST");
  static long count = 0;
  if (!at && !list) return;
  ++count;
  if (list) std::fprintf(stderr, "vmigrate: crash point %ld: %s\n", count, name);
  if (at && std::atol(at) == count) std::raise(SIGKILL);
}

}  // namespace vmigrate
