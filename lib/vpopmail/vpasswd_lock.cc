#include "vpopmail/vpasswd_lock.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/errno_status.h"
#include "core/resolve_path.h"

namespace vmigrate::vpopmail {

Result<FileLock> LockVpasswdIfCdb(const HostPaths& paths, const qmail::DomainLocation& where,
                                  const UserStore& store) {
  if (store.Backend() != "cdb") return FileLock();
  auto dir = ResolveUnderRoot(paths.root, where.dir);
  if (!dir.ok()) return dir.status().WithContext(where.domain + ": domain directory " + where.dir);
  const std::string lock_path = dir->disk + "/.vpasswd.lock";
  auto lock = FileLock::Acquire(lock_path);
  if (!lock.ok())
    return lock.status().WithContext(where.domain + ": a vpopmail tool or an import holds .vpasswd.lock");
  struct stat vp, lk;
  if (geteuid() == 0 && stat((dir->disk + "/vpasswd").c_str(), &vp) == 0 && stat(lock_path.c_str(), &lk) == 0 &&
      (lk.st_uid != vp.st_uid || lk.st_gid != vp.st_gid) && chown(lock_path.c_str(), vp.st_uid, vp.st_gid) != 0)
    return FromErrno("cannot chown " + lock_path, errno);
  return lock;
}

}  // namespace vmigrate::vpopmail
