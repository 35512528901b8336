// A real MariaDB server (Debian mariadb-server) for the tests of the MySQL
// backend: a private mariadbd with its own datadir, listening only on a
// unix socket in a temp dir (no TCP port), started on first use by this
// test process and stopped when it exits (the server also gets SIGTERM if
// the test process dies: PR_SET_PDEATHSIG). Each test makes its own
// database in it, so tests running in parallel never see each other.
#ifndef VMIGRATE_TESTS_SUPPORT_MARIADB_SERVER_H_
#define VMIGRATE_TESTS_SUPPORT_MARIADB_SERVER_H_

#include <sys/types.h>

#include <string>

#include "support/test_support.h"

namespace vmigrate::testing {

/// The SQL account vmigrate connects as in the tests (what vpopmail.mysql names).
constexpr const char* kDbUser = "vpopmail";
constexpr const char* kDbPassword = "Vpw-t3st-pass";

class MariaDbServer {
 public:
  /// The server of this test process, started the first time. ok() tells
  /// whether it runs; error() says why not (its error log is in it).
  static MariaDbServer& Shared();

  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  const std::string& socket() const { return socket_; }

  /// A fresh, empty database named after `hint` (made unique), on which
  /// kDbUser@localhost (password kDbPassword) has every privilege.
  std::string CreateDatabase(const std::string& hint);
  /// Runs `sql` as the server's root on database `db` with the mariadb
  /// client (test side only: vmigrate itself never runs the client).
  CommandResult Sql(const std::string& db, const std::string& sql);
  /// Loads a mysqldump file into `db`.
  CommandResult LoadDump(const std::string& db, const std::string& dump_path);
  /// The rows of a query, tab-separated, one line each (mariadb -N -B).
  std::string Rows(const std::string& db, const std::string& query);

  ~MariaDbServer();
  MariaDbServer(const MariaDbServer&) = delete;
  MariaDbServer& operator=(const MariaDbServer&) = delete;

 private:
  MariaDbServer();
  TempDir dir_;
  pid_t pid_ = -1;
  std::string socket_;
  std::string error_;
  int databases_ = 0;
};

/// The vpopmail home a MySQL fixture was made with: "/tmp/realvpm/home/vpopmail"
/// for real-mysql-many, "/tmp/realvpp/home/vpopmail" for real-mysql-perdomain;
/// its qmail dir is the same prefix + "/qmail".
std::string MysqlFixturePrefix(const std::string& name);

/// Unpacks fixtures/<name>.tar.gz under <root><prefix>, loads its
/// mysql/vpopmail.sql into a fresh database of `server` and points the
/// tree's etc/vpopmail.mysql at it (the socket and kDbPassword in place of
/// @DBPASSWORD@). Returns the database name; GTEST_SKIPs when the tarball
/// is missing, fails the test when the server is not running.
std::string UnpackMysqlFixture(const std::string& name, const std::string& root, MariaDbServer& server);

/// Writes a vpopmail.mysql at `path` naming `server`'s socket and `db`.
void WriteVpopmailMysql(const std::string& path, const MariaDbServer& server, const std::string& db);

}  // namespace vmigrate::testing

#endif  // VMIGRATE_TESTS_SUPPORT_MARIADB_SERVER_H_
