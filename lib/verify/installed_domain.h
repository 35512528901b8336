// What the checks of `vmigrate verify` share: the domain as the archive
// describes it and as this host has it (located through users/assign, its
// accounts read through the UserStore). Verify() builds it once before any
// check runs; the checks only read it.
#ifndef VMIGRATE_VERIFY_INSTALLED_DOMAIN_H_
#define VMIGRATE_VERIFY_INSTALLED_DOMAIN_H_

#include <map>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"
#include "model/manifest.h"
#include "model/path_rewrite.h"
#include "model/vpasswd_entry.h"
#include "qmail/domains.h"
#include "verify/verifier.h"
#include "vpopmail/user_store.h"

namespace vmigrate::verify {

struct InstalledDomain {
  const HostPaths* paths = nullptr;          // --root, --vpopmail-home, --qmail-dir
  const ManifestDomain* archived = nullptr;  // the manifest's entry for the domain
  qmail::DomainLocation loc;                 // from users/assign
  std::string disk;                          // loc.dir under --root
  std::vector<VpasswdEntry> users;           // installed, in the store's order
  std::map<std::string, VpasswdEntry> users_by_name;
  HostPathSet target;  // this host's paths for the archive's placeholders (homes by user)
  HostPathSet source;  // the source host's (manifest), for relative symlink targets
  /// The archive's source.backend and this host's UserStore::Backend():
  /// pw_uid is compared after vpopmail::ConvertPwUid(uid, source_backend, backend).
  std::string source_backend = "cdb", backend = "cdb";
  /// The domain files this host's store keeps as rows (UserStore::
  /// ReadDomainFiles), by name relative to the domain dir: compared by
  /// content only, since rows have no mode or mtime.
  std::map<std::string, vpopmail::StoreFile> store_files;

  /// A storage dir (a home, its Maildir, a bucket dir) on disk, its symlinks
  /// followed under --root as vpopmail and export follow them
  /// (ResolveUnderRoot; cached). Errors: a link leading outside --root.
  Result<std::string> StorageDisk(const std::string& host_path) const;

 private:
  mutable std::map<std::string, std::string> storage_disk_;
};

/// Appends one difference to report->differences.
inline void AddDifference(VerifyReport* report, const std::string& user, const std::string& path,
                          const std::string& what) {
  report->differences.push_back({user, path, what});
}

/// The names in directory `dir` (on disk), sorted, without "." and "..".
/// kNotFound when it does not exist; the errno as a Status otherwise.
Result<std::vector<std::string>> ListNames(const std::string& dir);

}  // namespace vmigrate::verify

#endif  // VMIGRATE_VERIFY_INSTALLED_DOMAIN_H_
