// One MySQL/MariaDB connection through MariaDB Connector/C (libmariadb).
// The only place that includes <mysql.h>: the vpopmail MySQL backend
// (vpopmail/mysql_store.h) talks SQL through this and nothing else.
// Every value goes in as a bound parameter of a prepared statement, never
// spliced into the text; only table names, which SQL cannot bind, go
// through QuoteIdentifier. The password is held only here and never
// appears in a message.
#ifndef VMIGRATE_SQL_CONNECTION_H_
#define VMIGRATE_SQL_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate::sql {

/// Where and as whom to connect (one line of vpopmail.mysql, reference
/// sources-and-cutover §9.1). `socket` wins over host/port when set.
struct ConnectSettings {
  std::string host = "localhost";
  unsigned port = 0;        // 0 = the client library's default (3306)
  std::string socket;       // unix socket path; "" = TCP to host:port
  std::string user;
  std::string password;     // never printed
  std::string database;

  /// "socket /run/x.sock, database vpopmail, user vpopmail" or
  /// "host db1:3306, ...": for messages; never holds the password.
  std::string Describe() const;
};

/// A column value: nullopt is SQL NULL; everything else is text (numbers
/// as MySQL prints them), exactly the bytes the server holds.
using Value = std::optional<std::string>;
using Row = std::vector<Value>;

class Connection {
 public:
  /// Connects (2 s connect timeout, as vpopmail's vauth_open_update) with
  /// utf8mb4 and selects `settings.database`. Errors: kIoError "cannot
  /// connect to MySQL (<Describe()>): <server or client message>", for an
  /// unreachable server, wrong credentials or a missing database alike.
  static Result<std::unique_ptr<Connection>> Open(const ConnectSettings& settings);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one statement with `?` placeholders bound to `params` (as
  /// strings; NULL for nullopt) and returns every result row, each value
  /// as text. Errors: kIoError "<first words of the statement>: <MySQL
  /// error> (errno N)"; MySQL's errno is also in error_number() afterwards.
  Result<std::vector<Row>> Query(const std::string& statement, const std::vector<Value>& params = {});

  /// The same for a statement without a result set; returns the number of
  /// affected rows.
  Result<std::uint64_t> Execute(const std::string& statement, const std::vector<Value>& params = {});

  /// START TRANSACTION / COMMIT / ROLLBACK. DDL (CREATE/ALTER/DROP TABLE)
  /// commits implicitly in MySQL: run it before Begin().
  Status Begin();
  Status Commit();
  Status Rollback();

  /// Whether `table` exists in the connected database.
  Result<bool> TableExists(const std::string& table);

  /// MySQL's errno of the last failed call (e.g. 1406 ER_DATA_TOO_LONG,
  /// 1146 ER_NO_SUCH_TABLE), 0 after a success.
  unsigned error_number() const { return last_errno_; }

  const ConnectSettings& settings() const { return settings_; }

 private:
  Connection() = default;
  // Prepares, binds and executes; collects the result rows, and the
  // affected-row count into `affected` when given.
  Result<std::vector<Row>> Run(const std::string& statement, const std::vector<Value>& params,
                               std::uint64_t* affected);
  struct Handle;
  std::unique_ptr<Handle> handle_;
  ConnectSettings settings_;
  unsigned last_errno_ = 0;
};

/// `name` as a backquoted identifier (backquotes doubled), for table names.
std::string QuoteIdentifier(const std::string& name);

}  // namespace vmigrate::sql

#endif  // VMIGRATE_SQL_CONNECTION_H_
