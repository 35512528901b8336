// Where a vpopmail/qmail installation lives. Paths written *into* data
// (vpasswd dirs, users/assign, .qmail files) are host paths; files are read
// and written under `root`, like dpkg --root: host path /a/b is root + /a/b.
#ifndef VMIGRATE_CORE_HOST_PATHS_H_
#define VMIGRATE_CORE_HOST_PATHS_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/status.h"

namespace vmigrate {

struct HostPaths {
  std::string root = "/";       // --root; "/" means the running system
  std::string vpopmail_home;    // --vpopmail-home (host path, no trailing slash)
  std::string qmail_dir;        // --qmail-dir (host path), default /var/qmail
  /// Which vpopmail auth backend this host uses (vpopmail/user_store.h
  /// OpenUserStore): --backend auto|cdb|mysql. "auto": MySQL when
  /// <vpopmail_home>/etc/vpopmail.mysql exists and the domain has no vpasswd.
  std::string backend = "auto";
  std::string mysql_config;     // --mysql-config FILE (on disk); "" = <vpopmail_home>/etc/vpopmail.mysql under root
  std::string mysql_socket;     // --mysql-socket PATH (on disk): replaces the file's host/port/socket
  /// --mysql-widen-columns: an import into vpopmail 5.4's narrow columns
  /// (pw_passwd char(40), pw_clear_passwd char(16)) that a value does not
  /// fit widens them as vpopmail 5.6's schema does instead of refusing.
  bool mysql_widen_columns = false;
  /// import --mysql-layout many|perdomain: the MySQL layout for a database
  /// that has none yet ("" = vpopmail's default, many); a database that
  /// has one keeps it (vpopmail/mysql_store.h).
  std::string mysql_layout;

  /// The on-disk location of a host path.
  std::string OnDisk(const std::string& host_path) const;

  std::string domains_dir() const { return vpopmail_home + "/domains"; }
  std::string assign_file() const { return qmail_dir + "/users/assign"; }
  std::string control_file(const std::string& name) const { return qmail_dir + "/control/" + name; }
};

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

/// Looks `user` up in <root>/etc/passwd (a plain file read, so it works on a
/// mounted disk); for root "/" it uses getpwnam_r so NSS sources count too.
std::optional<PasswdEntry> LookupPasswd(const std::string& root, const std::string& user);
/// The same, by uid (getpwuid_r for root "/").
std::optional<PasswdEntry> LookupPasswdByUid(const std::string& root, uid_t uid);
/// The gid of group `name` from <root>/etc/group (getgrnam_r for root "/").
std::optional<gid_t> LookupGroup(const std::string& root, const std::string& name);

/// Fills in defaults: vpopmail home from the `vpopmail` user's home and qmail
/// dir /var/qmail. Fails with kInvalidInput when no vpopmail home can be found.
Result<HostPaths> ResolveHostPaths(const std::string& root, const std::string& vpopmail_home,
                                   const std::string& qmail_dir);

/// Removes trailing slashes and collapses "//" (keeps "/" itself).
std::string NormalizePath(const std::string& path);

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_HOST_PATHS_H_
