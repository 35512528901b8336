// The mode a directory travels with. The sticky bit is never carried: on a
// vpopmail host no directory uses it, but `cutover hold` sets it on the
// old host's domain directory, because qmail-local's checkhome defers every
// delivery into a home whose directory has it (sources-and-cutover.md §3.1,
// §3.3: a copy that keeps it holds the domain's mail on the new host too).
// Export and state record directory modes without it, import never sets it.
#ifndef VMIGRATE_CORE_DIR_MODE_H_
#define VMIGRATE_CORE_DIR_MODE_H_

#include <sys/stat.h>
#include <sys/types.h>

namespace vmigrate {

/// A directory's permission bits as archives and states carry them:
/// `mode & 07777` without S_ISVTX.
constexpr mode_t CarriedDirMode(mode_t mode) { return mode & 07777 & ~static_cast<mode_t>(S_ISVTX); }

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_DIR_MODE_H_
