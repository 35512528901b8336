// vpopmail's write lock on a cdb domain's accounts: an fcntl F_WRLCK on
// <domaindir>/.vpasswd.lock, taken by every tool that changes vpasswd
// (reference §1.6; V54:file_lock.c get_write_lock). Readers take none.
#ifndef VMIGRATE_VPOPMAIL_VPASSWD_LOCK_H_
#define VMIGRATE_VPOPMAIL_VPASSWD_LOCK_H_

#include "core/file_lock.h"
#include "core/host_paths.h"
#include "core/status.h"
#include "qmail/domains.h"
#include "vpopmail/user_store.h"

namespace vmigrate::vpopmail {

/// Takes .vpasswd.lock of the domain at `where` when `store` keeps it as a
/// cdb domain (vpopmail's MySQL backend takes no file lock: an empty
/// FileLock then). A lock file root just made is chowned to vpasswd's
/// owner, as make_vpasswd_cdb does, so vpopmail's tools running as the
/// domain's owner can still take it. Errors: kConflict naming the domain
/// when the lock stays held (FileLock::Acquire's wait), kIoError.
Result<FileLock> LockVpasswdIfCdb(const HostPaths& paths, const qmail::DomainLocation& where,
                                  const UserStore& store);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_VPASSWD_LOCK_H_
