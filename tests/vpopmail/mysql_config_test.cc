// vpopmail.mysql parsing (sources-and-cutover §9.1) and where the file is.
#include "vpopmail/mysql_config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.h"

namespace vmigrate::vpopmail {
namespace {

using vmigrate::testing::TempDir;
using vmigrate::testing::WriteFile;

TEST(MysqlConfig, TheSecondConnectionLineIsTheOneUsedAndCommentsAndEmptyLinesAreSkipped) {
  auto s = ParseVpopmailMysql(
      "# host|port|user|password|database\n\nreadhost|3307|ro|ro-pw|vpopmail\n#\nwritehost|0|rw|Rw-Secret|vpm\n"
      "third|1|x|y|z\n",
      "vpopmail.mysql");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->host, "writehost");
  EXPECT_EQ(s->port, 0u);
  EXPECT_EQ(s->socket, "");
  EXPECT_EQ(s->user, "rw");
  EXPECT_EQ(s->password, "Rw-Secret");
  EXPECT_EQ(s->database, "vpm");
}

TEST(MysqlConfig, OneLineServesBothAndASlashInFieldTwoIsASocket) {
  auto s = ParseVpopmailMysql("localhost|/tmp/realvpm-db/mysqld.sock|vpopmail|pw|vpopmail\n", "f");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->host, "localhost");
  EXPECT_EQ(s->socket, "/tmp/realvpm-db/mysqld.sock");
  EXPECT_EQ(s->port, 0u);
  s = ParseVpopmailMysql("db.example|3306|u|p|d", "f");  // no final newline
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->port, 3306u);
  EXPECT_EQ(s->socket, "");
  s = ParseVpopmailMysql("db.example|abc|u|p|d|extra\n", "f");  // atoi, and strtok stops after 5
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->port, 0u);
  EXPECT_EQ(s->database, "d");
}

TEST(MysqlConfig, AnEmptyFieldIsRefusedNamingTheLineButNeverThePassword) {
  // strtok collapses "||": vpopmail would read the password as the database.
  auto s = ParseVpopmailMysql("# c\nlocalhost|0||S3cret-pw|vpopmail\n", "/etc/vpopmail.mysql");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kIoError);
  EXPECT_NE(s.status().message().find("/etc/vpopmail.mysql line 2: 4 of the 5 fields"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(s.status().message().find("S3cret-pw"), std::string::npos);
  s = ParseVpopmailMysql("# only comments\n\n", "f");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("f: no connection line"), std::string::npos);
  s = ParseVpopmailMysql("h|0|u|" + std::string(300, 'p') + "|d\n", "f");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("f line 1: longer than the 255 bytes"), std::string::npos);
  EXPECT_EQ(s.status().message().find("ppp"), std::string::npos);
}

TEST(MysqlConfig, TheFileComesFromTheVpopmailHomeUnderRootOrTheOptionAndTheSocketOptionWins) {
  TempDir root;
  HostPaths paths;
  paths.root = root.path();
  paths.vpopmail_home = "/home/vpopmail";
  EXPECT_EQ(VpopmailMysqlPath(paths), root.path() + "/home/vpopmail/etc/vpopmail.mysql");
  auto missing = LoadConnectSettings(paths);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kIoError);
  EXPECT_NE(missing.status().message().find("MySQL settings: "), std::string::npos);
  EXPECT_NE(missing.status().message().find("home/vpopmail/etc/vpopmail.mysql"), std::string::npos);
  std::filesystem::create_directories(root / "home/vpopmail/etc");
  WriteFile(root / "home/vpopmail/etc/vpopmail.mysql", "db1|3306|vpopmail|pw|vpopmail\n");
  auto s = LoadConnectSettings(paths);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->host, "db1");
  EXPECT_EQ(s->port, 3306u);
  paths.mysql_socket = "/run/mysqld/mysqld.sock";
  s = LoadConnectSettings(paths);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->socket, "/run/mysqld/mysqld.sock");
  EXPECT_EQ(s->user, "vpopmail");
  WriteFile(root / "other.mysql", "h|/s.sock|other|pw2|odb\n");
  paths.mysql_config = root / "other.mysql";
  paths.mysql_socket.clear();
  EXPECT_EQ(VpopmailMysqlPath(paths), root / "other.mysql");
  s = LoadConnectSettings(paths);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->database, "odb");
  EXPECT_EQ(s->socket, "/s.sock");
}

}  // namespace
}  // namespace vmigrate::vpopmail
