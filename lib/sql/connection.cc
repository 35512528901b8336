#include "sql/connection.h"

#include <mysql.h>

#include <cstring>

namespace vmigrate::sql {

struct Connection::Handle {
  MYSQL* mysql = nullptr;
  ~Handle() {
    if (mysql != nullptr) mysql_close(mysql);
  }
};

namespace {

// The first words of a statement, to say which one failed without
// echoing a long text.
std::string StatementLabel(const std::string& statement) {
  std::string label = statement.substr(0, 60);
  if (statement.size() > 60) label += "...";
  return label;
}

// Frees a prepared statement on every path out of Query.
struct StmtCloser {
  MYSQL_STMT* stmt;
  ~StmtCloser() {
    if (stmt != nullptr) mysql_stmt_close(stmt);
  }
};

}  // namespace

std::string ConnectSettings::Describe() const {
  std::string where = !socket.empty() ? "socket " + socket
                                      : "host " + host + (port != 0 ? ":" + std::to_string(port) : "");
  return where + ", database " + database + ", user " + user;
}

std::string QuoteIdentifier(const std::string& name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  return out + "`";
}

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectSettings& settings) {
  std::unique_ptr<Connection> c(new Connection());
  c->settings_ = settings;
  c->handle_ = std::make_unique<Handle>();
  c->handle_->mysql = mysql_init(nullptr);
  if (c->handle_->mysql == nullptr) return Status::IoError("cannot connect to MySQL: out of memory");
  MYSQL* m = c->handle_->mysql;
  unsigned timeout = 2;  // vpopmail's vauth_open_update uses 2 s
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // Never read ~/.my.cnf or /etc/mysql: the settings are exactly what vpopmail uses.
  const char* host = settings.socket.empty() ? settings.host.c_str() : "localhost";
  const char* sock = settings.socket.empty() ? nullptr : settings.socket.c_str();
  if (mysql_real_connect(m, host, settings.user.c_str(), settings.password.c_str(),
                         settings.database.c_str(), settings.port, sock, 0) == nullptr) {
    return Status::IoError("cannot connect to MySQL (" + settings.Describe() + "): " + mysql_error(m));
  }
  return c;
}

Connection::~Connection() = default;

Result<std::vector<Row>> Connection::Query(const std::string& statement, const std::vector<Value>& params) {
  return Run(statement, params, nullptr);
}

Result<std::vector<Row>> Connection::Run(const std::string& statement, const std::vector<Value>& params,
                                         std::uint64_t* affected) {
  last_errno_ = 0;
  MYSQL* m = handle_->mysql;
  StmtCloser closer{mysql_stmt_init(m)};
  MYSQL_STMT* stmt = closer.stmt;
  auto fail = [&](MYSQL_STMT* s) {
    last_errno_ = s != nullptr ? mysql_stmt_errno(s) : mysql_errno(m);
    std::string msg = s != nullptr ? mysql_stmt_error(s) : mysql_error(m);
    return Status::IoError(StatementLabel(statement) + ": " + msg + " (errno " + std::to_string(last_errno_) + ")");
  };
  if (stmt == nullptr) return fail(nullptr);
  if (mysql_stmt_prepare(stmt, statement.data(), statement.size()) != 0) return fail(stmt);
  if (mysql_stmt_param_count(stmt) != params.size())
    return Status::InvalidInput(StatementLabel(statement) + ": expects " +
                                std::to_string(mysql_stmt_param_count(stmt)) + " parameters, got " +
                                std::to_string(params.size()));
  std::vector<MYSQL_BIND> in(params.size());
  std::vector<unsigned long> in_len(params.size());
  std::vector<my_bool> in_null(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    std::memset(&in[i], 0, sizeof(MYSQL_BIND));
    in[i].buffer_type = MYSQL_TYPE_STRING;
    in_null[i] = params[i].has_value() ? 0 : 1;
    in[i].is_null = &in_null[i];
    if (params[i]) {
      in[i].buffer = const_cast<char*>(params[i]->data());
      in_len[i] = params[i]->size();
      in[i].buffer_length = in_len[i];
      in[i].length = &in_len[i];
    }
  }
  if (!params.empty() && mysql_stmt_bind_param(stmt, in.data()) != 0) return fail(stmt);
  if (mysql_stmt_execute(stmt) != 0) return fail(stmt);
  if (affected != nullptr) *affected = static_cast<std::uint64_t>(mysql_stmt_affected_rows(stmt));

  std::vector<Row> rows;
  MYSQL_RES* meta = mysql_stmt_result_metadata(stmt);
  if (meta == nullptr) return rows;  // no result set
  const unsigned columns = mysql_num_fields(meta);
  mysql_free_result(meta);
  if (mysql_stmt_store_result(stmt) != 0) return fail(stmt);
  // Each column is bound with no buffer; a fetch then reports its length
  // and mysql_stmt_fetch_column reads it whole, however long it is.
  std::vector<MYSQL_BIND> out(columns);
  std::vector<unsigned long> out_len(columns);
  std::vector<my_bool> out_null(columns);
  for (unsigned i = 0; i < columns; ++i) {
    std::memset(&out[i], 0, sizeof(MYSQL_BIND));
    out[i].buffer_type = MYSQL_TYPE_STRING;
    out[i].length = &out_len[i];
    out[i].is_null = &out_null[i];
  }
  if (mysql_stmt_bind_result(stmt, out.data()) != 0) return fail(stmt);
  for (;;) {
    int r = mysql_stmt_fetch(stmt);
    if (r == MYSQL_NO_DATA) break;
    if (r == 1) return fail(stmt);
    Row row(columns);
    for (unsigned i = 0; i < columns; ++i) {
      if (out_null[i]) continue;
      std::string value(out_len[i], '\0');
      if (out_len[i] > 0) {
        MYSQL_BIND one;
        std::memset(&one, 0, sizeof(one));
        unsigned long got = 0;
        one.buffer_type = MYSQL_TYPE_STRING;
        one.buffer = value.data();
        one.buffer_length = value.size();
        one.length = &got;
        if (mysql_stmt_fetch_column(stmt, &one, i, 0) != 0) return fail(stmt);
      }
      row[i] = std::move(value);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::uint64_t> Connection::Execute(const std::string& statement, const std::vector<Value>& params) {
  std::uint64_t affected = 0;
  auto rows = Run(statement, params, &affected);
  if (!rows.ok()) return rows.status();
  return affected;
}

Status Connection::Begin() { return Execute("START TRANSACTION").status(); }

Status Connection::Commit() {
  last_errno_ = 0;
  if (mysql_commit(handle_->mysql) != 0) {
    last_errno_ = mysql_errno(handle_->mysql);
    return Status::IoError(std::string("COMMIT: ") + mysql_error(handle_->mysql));
  }
  return Status::OK();
}

Status Connection::Rollback() {
  last_errno_ = 0;
  if (mysql_rollback(handle_->mysql) != 0) {
    last_errno_ = mysql_errno(handle_->mysql);
    return Status::IoError(std::string("ROLLBACK: ") + mysql_error(handle_->mysql));
  }
  return Status::OK();
}

Result<bool> Connection::TableExists(const std::string& table) {
  auto rows = Query(
      "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
      {table});
  if (!rows.ok()) return rows.status();
  return !rows->empty() && (*rows)[0][0].value_or("0") != "0";
}

}  // namespace vmigrate::sql
