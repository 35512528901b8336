// lib/sql/connection against a real private MariaDB (support/mariadb_server.h).
#include "sql/connection.h"

#include <gtest/gtest.h>

#include "support/mariadb_server.h"

namespace vmigrate::sql {
namespace {

using testing::MariaDbServer;

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server().ok()) << server().error();
    db_ = server().CreateDatabase("conn");
    settings_.socket = server().socket();
    settings_.user = vmigrate::testing::kDbUser;
    settings_.password = vmigrate::testing::kDbPassword;
    settings_.database = db_;
  }
  static MariaDbServer& server() { return MariaDbServer::Shared(); }
  std::string db_;
  ConnectSettings settings_;
};

TEST_F(ConnectionTest, ParametersCarryQuotesNullsAndBytesVerbatim) {
  auto c = Connection::Open(settings_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE((*c)->Execute("CREATE TABLE t (name char(32) NOT NULL, v text, n int)").ok());
  std::string odd = "o'brien\"; DROP TABLE t; --\\";
  auto n = (*c)->Execute("INSERT INTO t VALUES (?, ?, ?)", {odd, std::nullopt, std::string("42")});
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(*n, 1u);
  std::string big(65535, 'x');  // a text column's limit
  ASSERT_TRUE((*c)->Execute("INSERT INTO t VALUES ('b', ?, NULL)", {big}).ok());
  auto rows = (*c)->Query("SELECT name, v, n FROM t WHERE name = ?", {odd});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0], odd);
  EXPECT_FALSE((*rows)[0][1].has_value());
  EXPECT_EQ((*rows)[0][2], "42");
  rows = (*c)->Query("SELECT v, n FROM t WHERE name = 'b'");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0][0], big);
  EXPECT_FALSE((*rows)[0][1].has_value());
  auto exists = (*c)->TableExists("t");
  ASSERT_TRUE(exists.ok());
  EXPECT_TRUE(*exists);
  EXPECT_FALSE(*(*c)->TableExists("nope"));
  EXPECT_EQ(QuoteIdentifier("a`b"), "`a``b`");
}

TEST_F(ConnectionTest, RollbackLeavesNothingAndErrorsCarryMysqlErrno) {
  auto c = Connection::Open(settings_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Execute("CREATE TABLE t (name char(4) NOT NULL)").ok());
  ASSERT_TRUE((*c)->Begin().ok());
  ASSERT_TRUE((*c)->Execute("INSERT INTO t VALUES ('ok')").ok());
  auto too_long = (*c)->Execute("INSERT INTO t VALUES (?)", {std::string("toolong")});
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ((*c)->error_number(), 1406u) << too_long.status().message();  // ER_DATA_TOO_LONG (strict mode)
  EXPECT_NE(too_long.status().message().find("Data too long"), std::string::npos);
  ASSERT_TRUE((*c)->Rollback().ok());
  auto rows = (*c)->Query("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0][0], "0");
  auto missing = (*c)->Query("SELECT * FROM nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ((*c)->error_number(), 1146u);
}

TEST_F(ConnectionTest, ConnectErrorsNameTheServerNeverThePassword) {
  ConnectSettings wrong = settings_;
  wrong.password = "not-the-Secret-pw";
  auto c = Connection::Open(wrong);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("cannot connect to MySQL (socket " + server().socket()), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("Access denied"), std::string::npos) << c.status().message();
  EXPECT_EQ(c.status().message().find("not-the-Secret-pw"), std::string::npos);
  ConnectSettings nowhere = settings_;
  nowhere.socket = "/nonexistent/mysqld.sock";
  c = Connection::Open(nowhere);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/mysqld.sock"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace vmigrate::sql
