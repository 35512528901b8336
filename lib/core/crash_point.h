// Fault injection for crash-safety tests: named points in the import where
// a test can have the process killed with SIGKILL, as a power cut or the
// OOM killer would. Inert unless VMIGRATE_CRASH_AT is set.
//   VMIGRATE_CRASH_AT=N     SIGKILL at the Nth crash point reached
//   VMIGRATE_CRASH_LIST=1   print "vmigrate: crash point N: NAME" to stderr at each
#ifndef VMIGRATE_CORE_CRASH_POINT_H_
#define VMIGRATE_CORE_CRASH_POINT_H_

namespace vmigrate {

void CrashPoint(const char* name);

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_CRASH_POINT_H_
