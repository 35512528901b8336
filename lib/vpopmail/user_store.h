// Where a vpopmail host keeps its accounts: the backend behind vpopmail's
// auth calls (vauth_getall, vauth_adduser). Export reads users through it,
// import stages them for a new domain through it, mailbox restore looks an
// account up through it, verify compares through it. Today: the cdb backend
// (<domaindir>/vpasswd + vpasswd.cdb, reference §1.2, §1.5); the MySQL
// backend (a later issue) plugs in here and nowhere else.
#ifndef VMIGRATE_VPOPMAIL_USER_STORE_H_
#define VMIGRATE_VPOPMAIL_USER_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/host_paths.h"
#include "core/status.h"
#include "model/vpasswd_entry.h"
#include "qmail/domains.h"

namespace vmigrate::vpopmail {

/// One inconsistency inside the store itself (e.g. vpasswd.cdb disagrees
/// with vpasswd), for `verify`.
struct StoreProblem {
  std::string user;   // "" for the store as a whole
  std::string file;   // what is wrong where, e.g. "vpasswd.cdb"
  std::string what;   // "user is missing from vpasswd.cdb"
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  /// "vpasswd (cdb backend)", for reports.
  virtual std::string Describe() const = 0;

  /// vpopmail's name of the auth module (configure --enable-auth-module):
  /// "cdb" today, "mysql" once that backend plugs in; for `vmigrate list`.
  virtual std::string Backend() const = 0;

  /// Every account of the domain at `where`, every field verbatim, in the
  /// backend's order. kNotFound when the domain has no user database;
  /// kCorrupt naming the line for an unreadable entry.
  virtual Result<std::vector<VpasswdEntry>> ReadUsers(const qmail::DomainLocation& where) = 0;

  /// Writes the accounts of a domain that is being staged for import into
  /// `staged_domain_disk` (the staging directory, on disk), with `entries`
  /// already holding the target's home paths. cdb: vpasswd (strcmp order,
  /// 0600) and vpasswd.cdb (make_vpasswd_cdb layout), atomically, chowned
  /// to `owner` when given. Nothing reaches the live host before the
  /// importer's commit renames the staging dir into place.
  virtual Status StageUsers(const std::string& staged_domain_disk,
                            const std::vector<VpasswdEntry>& entries,
                            const std::optional<FileOwner>& owner) = 0;

  /// Rewrites the accounts of a live domain at `where` (the same users with
  /// changed fields, e.g. flags in pw_gid), keeping their order; the caller
  /// holds the domain's .vpasswd.lock, as vpopmail's own tools take it.
  /// cdb: vpasswd then vpasswd.cdb, each atomically (temp + fsync + rename),
  /// keeping vpasswd's owner. Errors: kIoError with errno text.
  virtual Status ReplaceUsers(const qmail::DomainLocation& where,
                              const std::vector<VpasswdEntry>& entries) = 0;

  /// The store's own consistency for `where` given the users ReadUsers
  /// returned (cdb: every vpasswd line has the same vpasswd.cdb record and
  /// no record is extra). Problems are data, not errors.
  virtual std::vector<StoreProblem> CheckConsistency(const qmail::DomainLocation& where,
                                                     const std::vector<VpasswdEntry>& users) = 0;
};

/// The cdb backend on the host described by `paths` (files under --root).
std::unique_ptr<UserStore> MakeCdbUserStore(const HostPaths& paths);

/// The store the host at `paths` uses. Today always the cdb backend.
std::unique_ptr<UserStore> OpenUserStore(const HostPaths& paths);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_USER_STORE_H_
