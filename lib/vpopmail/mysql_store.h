// vpopmail's MySQL auth backend (configure --enable-auth-module=mysql) as a
// UserStore (reference §8, sources-and-cutover §9). Two layouts:
//   many       one `vpopmail` table keyed (pw_name, pw_domain), vpopmail's
//              default (--enable-many-domains);
//   perdomain  one table per domain, named by PerDomainTable(), keyed
//              pw_name (--disable-many-domains).
// Both keep the hashing counters in `dir_control` (a row per real domain
// and `dom_<uid>` for the domain tree), and a build may keep aliases in
// `valias` (--enable-valias) and limits in `limits` (--enable-mysql-limits).
// The rest of vmigrate sees the cdb form: users as VpasswdEntry, dir_control
// rows as .dir-control text, valias rows as `.qmail-<alias>` files and the
// limits row as `.qmailadmin-limits` (ReadDomainFiles). Every value goes
// to the server as a bound parameter (sql::Connection); table names only
// through sql::QuoteIdentifier. The store connects on its first call that
// needs the database; a connection error is that call's error (kIoError
// "cannot connect to MySQL (socket ..., database ..., user ...): ...").
#ifndef VMIGRATE_VPOPMAIL_MYSQL_STORE_H_
#define VMIGRATE_VPOPMAIL_MYSQL_STORE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "sql/connection.h"
#include "vpopmail/user_store.h"

namespace vmigrate::vpopmail {

/// vpopmail's per-domain table name (vmysql.c vauth_munch_domain): the
/// domain with every '.' and '-' turned into '_'. Different domains can
/// share a name (a-b.example, a.b.example): the store tells them apart by
/// their dir_control rows and refuses the second (kConflict).
std::string PerDomainTable(const std::string& domain);

/// `.qmail-<alias>` for a valias alias ('.' -> ':', as vpopmail and
/// qmail-local name the file); "" for an alias that cannot be a file name
/// in the domain dir (empty, '/', NUL, or "default", which is the domain's
/// own .qmail-default).
std::string ValiasFileName(const std::string& alias);

class MySqlUserStore : public UserStore {
 public:
  /// Reads the connection settings from `paths` (mysql_config.h) when it
  /// first needs the database. paths.mysql_layout ("" | "many" |
  /// "perdomain") chooses the layout of a database that has neither a
  /// `vpopmail` nor a `dir_control` table; one that has them keeps its own,
  /// and a different paths.mysql_layout is refused (kInvalidInput).
  explicit MySqlUserStore(HostPaths paths);
  ~MySqlUserStore() override;

  /// "MySQL (socket /run/mysqld.sock, database vpopmail, user vpopmail)".
  std::string Describe() const override;
  std::string Backend() const override { return "mysql"; }
  /// "many" or "perdomain" (connects to find out; "unknown" when the
  /// database cannot be reached: the calls that need it report why).
  std::string Layout() const override;
  bool KeepsDirControlFiles() const override { return false; }

  /// The dir_control row of where.domain as .dir-control text (NULL columns
  /// read as DirControl's defaults); nullopt without a row or table.
  Result<std::optional<std::string>> ReadDirControl(const qmail::DomainLocation& where) override;
  /// The row `dom_<uid>`, the same way.
  Result<std::optional<std::string>> ReadDomainsDirControl(unsigned long uid) override;
  /// The domain's valias rows as `.qmail-<alias>` files (each valias_line +
  /// "\n", rows in the table's order, files in name order, mode 0600) and
  /// its limits row as `.qmailadmin-limits` (FormatLimitsFile, mode 0644);
  /// mtime = the domain dir's. Only for the tables the database has.
  /// kDataRefused for an alias that cannot be a file (ValiasFileName "").
  Result<std::vector<StoreFile>> ReadDomainFiles(const qmail::DomainLocation& where) override;
  /// kConflict naming what is there: user rows, a dir_control row, valias
  /// or limits rows for `domain`, or (perdomain) its table, which may
  /// belong to a colliding domain.
  Status CheckDomainAbsent(const std::string& domain) override;
  /// "lastauth: N rows (last logins) not carried", "ip_alias_map: N rows
  /// not carried", "vlog: N rows (SQL auth log) not carried" for the
  /// domain's rows, "relay: table present (POP-before-SMTP, host-wide), not
  /// carried"; only for tables the database has.
  Result<std::vector<std::string>> NotCarried(const qmail::DomainLocation& where) override;
  /// The rows of the domain ordered by pw_name's bytes (as vpasswd is
  /// sorted), pw_uid as MySQL holds it (0 = POP, see ConvertPwUid);
  /// has_clear = the table has pw_clear_passwd; NULL reads as "" (reported
  /// by CheckConsistency). kNotFound when the domain has neither rows nor a
  /// dir_control row (many) or no table (perdomain); kConflict when its
  /// per-domain table belongs to another domain.
  Result<std::vector<VpasswdEntry>> ReadUsers(const qmail::DomainLocation& where) override;
  /// See UserStore::StageUsers. Checks each value against the column it
  /// goes to (the existing table's, or vpopmail 5.4.33's layout for a table
  /// still to be made): too long for a CHAR/VARCHAR, or pw_uid/pw_gid not
  /// an integer -> kDataRefused "MySQL column pw_passwd char(40) cannot hold
  /// the value of ivan (106 characters), ...; nothing written (import
  /// --mysql-widen-columns widens them as vpopmail 5.6 does)". With
  /// paths.mysql_widen_columns the too-narrow columns are widened by
  /// CommitDomain instead. Takes `.qmail-*` files (not .qmail-default,
  /// ezmlm lists or symlinks) out of `staged_domain_disk` as valias rows
  /// when the database has a valias table, and `.qmailadmin-limits` as the
  /// limits row when it has a limits table. Writes nothing to the database.
  Status StageUsers(const std::string& staged_domain_disk, const std::vector<VpasswdEntry>& entries,
                    const std::optional<FileOwner>& owner) override;
  /// Creates the tables the rows need that are missing (vpopmail 5.4.33's
  /// layouts) and widens columns as StageUsers decided, then in ONE
  /// transaction inserts the staged users, valias rows and limits row, the
  /// domain's dir_control row (rows.dir_control) and `dom_<rows.uid>`
  /// (rows.domains_dir_control_new; kConflict when the row no longer holds
  /// rows.domains_dir_control_old, i.e. another domain was added meanwhile).
  /// A failure rolls the transaction back. kInvalidInput when nothing was
  /// staged for rows.domain.
  Status CommitDomain(const DomainRows& rows) override;
  /// Deletes the domain's rows from the user table (perdomain: drops its
  /// table, unless the table belongs to a colliding domain), valias,
  /// limits, lastauth and dir_control, and puts `dom_<uid>` back to
  /// `domains_dir_control_old` (deleted when nullopt). Idempotent.
  Status RemoveDomain(const std::string& domain, unsigned long uid,
                      const std::optional<std::string>& domains_dir_control_old) override;
  /// UPDATEs, in one transaction, the columns of each account that differ
  /// from its row (a NULL that stays "" stays NULL). kNotFound naming a
  /// user that has no row.
  Status ReplaceUsers(const qmail::DomainLocation& where, const std::vector<VpasswdEntry>& entries) override;
  /// See UserStore::ReplacePasswordHash: UPDATE of pw_passwd WHERE the row
  /// (pw_name [, pw_domain]) still holds `old_hash`, byte for byte.
  Result<bool> ReplacePasswordHash(const qmail::DomainLocation& where, const std::string& name,
                                   const std::string& old_hash, const std::string& new_hash) override;
  /// See UserStore::InsertUser: SELECT ... FOR UPDATE of the name, then the
  /// INSERT and the REPLACE of the dir_control row, in one transaction.
  Result<bool> InsertUser(const qmail::DomainLocation& where, const VpasswdEntry& entry,
                          const std::string& dir_control) override;
  /// Problems (warning = false): dir_control cur_users lower than the rows
  /// (vpopmail would hand out buckets already in use). Warnings: cur_users
  /// higher than the rows (a failed vadduser leaves that, reference
  /// fixtures README), an account with an empty pw_passwd (a half-made
  /// account; vchkpw refuses it), NULL columns (read as "").
  std::vector<StoreProblem> CheckConsistency(const qmail::DomainLocation& where,
                                             const std::vector<VpasswdEntry>& users) override;

 private:
  struct Column {
    std::string name;
    std::string type;   // "char", "varchar", "int", ...
    unsigned long length = 0;  // characters, for char/varchar
  };
  struct Staged;

  // The connection, made on first use together with the layout.
  Result<sql::Connection*> Db() const;
  Result<bool> HasTable(const std::string& table) const;
  Result<std::vector<Column>> Columns(const std::string& table) const;
  // The table holding `domain`'s users and the WHERE clause + params that
  // select them ("pw_domain = ?" for many, none for perdomain).
  std::string UserTable(const std::string& domain) const;
  std::string DomainFilter(const std::string& domain, std::vector<sql::Value>* params) const;
  // kConflict when `domain`'s per-domain table is another domain's.
  Status CheckTableOwner(const std::string& domain) const;
  Result<std::optional<std::string>> DirControlRow(const std::string& key) const;
  Status WriteDirControlRow(const std::string& key, const std::string& text);
  Result<std::vector<sql::Row>> UserRows(const std::string& domain, const std::vector<Column>& cols) const;
  // Makes the user table of `domain` and dir_control when missing (5.4.33 layouts).
  Status CreateMissingTables(const std::string& domain);
  std::string Where() const;  // "database X" for messages
  // The INSERT of one user row into `table` (pw_name[, pw_domain], the
  // other columns in VpasswdEntry order[, pw_clear_passwd]), as a prepared
  // statement with a '?' per column.
  std::string UserInsert(const std::string& table, bool has_clear) const;

  HostPaths paths_;
  mutable std::unique_ptr<sql::Connection> db_;
  mutable std::string layout_;  // "many" / "perdomain" once connected
  mutable std::map<std::string, std::vector<Column>> columns_;  // per table; empty = absent
  std::unique_ptr<Staged> staged_;
};

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_MYSQL_STORE_H_
