// Where a vpopmail host keeps its accounts: the backend behind vpopmail's
// auth calls (vauth_getall, vauth_adduser). Export reads users through it,
// import stages them for a new domain through it, mailbox restore looks an
// account up through it, verify compares through it. Two backends: cdb
// (<domaindir>/vpasswd + vpasswd.cdb, reference §1.2, §1.5) and MySQL
// (vpopmail/mysql_store.h; reference §8, sources-and-cutover §9). What the
// MySQL backend keeps in tables but a cdb host keeps in files (valias rows,
// the limits row, dir_control rows) is shown to the rest of vmigrate in the
// cdb form, so the archive is the same whichever backend wrote it.
#ifndef VMIGRATE_VPOPMAIL_USER_STORE_H_
#define VMIGRATE_VPOPMAIL_USER_STORE_H_

#include <sys/types.h>
#include <time.h>

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
  /// Something vpopmail itself leaves behind and works with (e.g. MySQL's
  /// dir_control counter above the accounts after a failed vadduser):
  /// verify reports it as a warning, not a difference.
  bool warning = false;
};

/// A domain-level file as a cdb host would have it, made from rows the
/// backend keeps instead (MySQL: a `.qmail-<alias>` file per valias alias,
/// `.qmailadmin-limits` from the limits row). `rel` is relative to the
/// domain dir; `data` holds host paths as the rows have them.
struct StoreFile {
  std::string rel;
  std::string data;
  mode_t mode = 0600;
  struct timespec mtime = {0, 0};
};

/// What the commit of an imported domain hands the backend (CommitDomain).
struct DomainRows {
  std::string domain;                 // the real domain
  unsigned long uid = 0;              // the vpopmail uid: its domain-tree counter is dom_<uid>
  std::string dir_control;            // the domain's user counter (.dir-control text)
  std::optional<std::string> domains_dir_control_old;  // the domain-tree counter before
  std::string domains_dir_control_new;                  // ... and after this domain's allocation
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  /// "vpasswd (cdb backend)", for reports.
  virtual std::string Describe() const = 0;

  /// vpopmail's name of the auth module (configure --enable-auth-module):
  /// "cdb" today, "mysql" once that backend plugs in; for `vmigrate list`.
  virtual std::string Backend() const = 0;

  /// The layout, for the manifest and reports: "cdb", or "many" / "perdomain"
  /// for MySQL (one `vpopmail` table with pw_domain, or one table per domain).
  virtual std::string Layout() const { return "cdb"; }

  /// Whether this host keeps .dir-control files (cdb) or dir_control rows
  /// (MySQL). The importer writes <domaindir>/.dir-control and
  /// domains/.dir-control only when true; otherwise CommitDomain stores them.
  virtual bool KeepsDirControlFiles() const { return true; }

  /// The domain's user hashing counter as .dir-control text (reference §2.2):
  /// cdb reads <domaindir>/.dir-control, MySQL its dir_control row.
  /// nullopt when there is none.
  virtual Result<std::optional<std::string>> ReadDirControl(const qmail::DomainLocation& where) = 0;

  /// The domain-tree counter (where the next domain goes): cdb reads
  /// domains/.dir-control, MySQL the dir_control row `dom_<uid>` for the
  /// vpopmail uid `uid`. nullopt when there is none.
  virtual Result<std::optional<std::string>> ReadDomainsDirControl(unsigned long uid) = 0;

  /// Domain-level files the backend keeps as rows (see StoreFile), in name
  /// order. cdb: none, they are real files and the exporter walks them.
  virtual Result<std::vector<StoreFile>> ReadDomainFiles(const qmail::DomainLocation& where) = 0;

  /// Whether the backend already holds anything for `domain` (users, a
  /// dir_control row, for per-domain MySQL a table under its name, or a
  /// colliding one): an import refuses such a domain (kConflict naming what
  /// is there). cdb: false (the importer checks the directory).
  virtual Status CheckDomainAbsent(const std::string& domain) = 0;

  /// What the backend keeps about the domain at `where` that vmigrate does
  /// not carry, one report line each (e.g. "lastauth: 18 rows (last logins)
  /// not carried"). MySQL: lastauth, ip_alias_map and vlog rows of the
  /// domain, a relay table (host-wide). cdb: none.
  virtual Result<std::vector<std::string>> NotCarried(const qmail::DomainLocation& where) {
    (void)where;
    return std::vector<std::string>{};
  }

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
  ///
  /// MySQL: writes nothing yet. It checks every value fits its column
  /// (refusing with kDataRefused naming users and columns, or widening them
  /// with HostPaths::mysql_widen_columns), takes the staged domain files it
  /// keeps as rows (`.qmail-<alias>` files on a valias build,
  /// `.qmailadmin-limits` on a mysql-limits build) out of the staging dir,
  /// and holds the rows for CommitDomain.
  virtual Status StageUsers(const std::string& staged_domain_disk,
                            const std::vector<VpasswdEntry>& entries,
                            const std::optional<FileOwner>& owner) = 0;

  /// The importer's commit, after the domain dir was renamed into place:
  /// MySQL inserts the staged rows, the domain's dir_control row and the
  /// new `dom_<uid>` row in one transaction (a failure leaves none of
  /// them). cdb: nothing (the files were staged).
  virtual Status CommitDomain(const DomainRows& rows) { (void)rows; return Status::OK(); }

  /// Takes back what CommitDomain wrote for `domain` (an import that failed
  /// or died after it): MySQL deletes the domain's rows from every table
  /// (drops its per-domain table) and puts `dom_<uid>` back to
  /// `domains_dir_control_old` (removed when nullopt). Idempotent: nothing
  /// there is not an error. cdb: nothing.
  virtual Status RemoveDomain(const std::string& domain, unsigned long uid,
                              const std::optional<std::string>& domains_dir_control_old) {
    (void)domain, (void)uid, (void)domains_dir_control_old;
    return Status::OK();
  }

  /// Rewrites the accounts of a live domain at `where` (the same users with
  /// changed fields, e.g. flags in pw_gid), keeping their order; the caller
  /// holds the domain's .vpasswd.lock, as vpopmail's own tools take it.
  /// cdb: vpasswd then vpasswd.cdb, each atomically (temp + fsync + rename),
  /// keeping vpasswd's owner. Errors: kIoError with errno text.
  virtual Status ReplaceUsers(const qmail::DomainLocation& where,
                              const std::vector<VpasswdEntry>& entries) = 0;

  /// Replaces the pw_passwd of account `name` of the live domain at `where`
  /// with `new_hash` only while it still holds `old_hash` (a compare-and-
  /// swap: a password changed meanwhile is kept); every other field stays.
  /// Returns whether it was replaced (false: no such account, or another
  /// hash now). cdb: ReadUsers + ReplaceUsers; the caller holds the
  /// domain's .vpasswd.lock. MySQL: one UPDATE ... WHERE pw_passwd = old
  /// (compared as bytes); kDataRefused naming the column when pw_passwd is
  /// narrower than `new_hash` (vpopmail 5.4's char(40)). Used by
  /// vpopmail/rehash.h (sources-and-cutover §8.4).
  virtual Result<bool> ReplacePasswordHash(const qmail::DomainLocation& where, const std::string& name,
                                           const std::string& old_hash, const std::string& new_hash);

  /// Adds account `entry` (cdb form: pw_uid 1 = POP) to the live domain at
  /// `where`, as vauth_adduser does, and stores `dir_control` (.dir-control
  /// text) as the domain's user counter. Returns false, writing nothing,
  /// when the domain already has an account of that name. cdb: the caller
  /// holds .vpasswd.lock; vpasswd gets the line before
  /// the first greater name (strcmp order), vpasswd and vpasswd.cdb are
  /// rewritten as ReplaceUsers does, then .dir-control (atomic, owned as
  /// vpasswd). MySQL: in one transaction the row (pw_uid 0 = POP, as
  /// ConvertPwUid) and the dir_control row; kDataRefused naming the column
  /// and the ALTER TABLE that widens it when a value does not fit (5.4's
  /// pw_passwd char(40) cannot hold a SHA-512 crypt). Used by
  /// vpopmail/add_user.h.
  virtual Result<bool> InsertUser(const qmail::DomainLocation& where, const VpasswdEntry& entry,
                                  const std::string& dir_control) = 0;

  /// The store's own consistency for `where` given the users ReadUsers
  /// returned (cdb: every vpasswd line has the same vpasswd.cdb record and
  /// no record is extra). Problems are data, not errors.
  virtual std::vector<StoreProblem> CheckConsistency(const qmail::DomainLocation& where,
                                                     const std::vector<VpasswdEntry>& users) = 0;
};

/// The cdb backend on the host described by `paths` (files under --root).
std::unique_ptr<UserStore> MakeCdbUserStore(const HostPaths& paths);

/// The store the host at `paths` uses: paths.backend "cdb" or "mysql", or
/// "auto": MySQL when <vpopmail_home>/etc/vpopmail.mysql (or
/// paths.mysql_config) exists, except that a domain whose dir has a vpasswd
/// is still read from it (the calls taking a DomainLocation go to the cdb
/// store for such a domain; Backend() and Layout() say "mysql" and the
/// database's layout: use OpenUserStoreFor for one domain's). A MySQL store
/// connects on first use, so a connection error comes from the first call
/// that needs the database.
std::unique_ptr<UserStore> OpenUserStore(const HostPaths& paths);

/// The store that holds the domain at `where`, so that its Backend() and
/// Layout() are that domain's (for the manifest and reports): as
/// OpenUserStore, with "auto" choosing cdb for a domain dir that has a
/// vpasswd, MySQL when the host has a vpopmail.mysql, cdb otherwise.
std::unique_ptr<UserStore> OpenUserStoreFor(const HostPaths& paths, const qmail::DomainLocation& where);

/// pw_uid means POP/APOP as 1/2 in vpasswd and 0/1 in MySQL (reference
/// §8.1): `uid` as written by backend `from` ("cdb"/"mysql"), converted for
/// backend `to`. Anything that is not one of those numbers is kept.
std::string ConvertPwUid(const std::string& uid, const std::string& from, const std::string& to);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_USER_STORE_H_
