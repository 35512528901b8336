// The MySQL UserStore's write side (StageUsers, CommitDomain, RemoveDomain,
// ReplaceUsers) against a real private MariaDB and the real MySQL fixtures.
#include <gtest/gtest.h>

#include <filesystem>

#include "qmail/domains.h"
#include "support/mariadb_server.h"
#include "support/test_support.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/mysql_store.h"

namespace vmigrate::vpopmail {
namespace {

namespace fs = std::filesystem;

qmail::DomainLocation Loc(const std::string& domain, const std::string& dir) {
  qmail::DomainLocation loc;
  loc.domain = domain;
  loc.dir = dir;
  return loc;
}
using vmigrate::testing::MariaDbServer;
using vmigrate::testing::MysqlFixturePrefix;
using vmigrate::testing::ReadFile;
using vmigrate::testing::TempDir;
using vmigrate::testing::UnpackMysqlFixture;
using vmigrate::testing::WriteFile;
using vmigrate::testing::WriteVpopmailMysql;

const char kIvanSha512[] =
    "$6$IvanSalt1234$7iOdoj0FbGewRls8pvWQgUDxyOeV3s2GRuSkNdm1NSpQEbrduYkrlB47CmdUG0BZM6dZlW/0L4IYv2nYZt6wY.";

VpasswdEntry User(const std::string& name, const std::string& dir, const std::string& passwd = "$1$ab$cd",
                  const std::string& clear = "pw") {
  VpasswdEntry e;
  e.name = name;
  e.passwd = passwd;
  e.uid = "0";
  e.gid = "0";
  e.gecos = "User " + name;
  e.dir = dir + "/" + name;
  e.quota = "NOQUOTA";
  e.clear = clear;
  e.has_clear = true;
  return e;
}

class MySqlStoreWriteTest : public ::testing::Test {
 protected:
  void Load(const std::string& name) {
    db_ = UnpackMysqlFixture(name, root_.path(), server());
    ASSERT_FALSE(db_.empty());
    std::string prefix = MysqlFixturePrefix(name);  // "/tmp/realvpm": home/vpopmail and qmail below it
    paths_.root = root_.path();
    paths_.vpopmail_home = prefix + "/home/vpopmail";
    paths_.qmail_dir = prefix + "/qmail";
  }
  // A staging dir under root with the files an archive would bring.
  std::string Staging(const std::map<std::string, std::string>& files) {
    std::string dir = root_.path() + paths_.vpopmail_home + "/domains/.staging";
    fs::create_directories(dir);
    for (const auto& [name, data] : files) WriteFile(dir + "/" + name, data);
    return dir;
  }
  std::string Rows(const std::string& query) { return server().Rows(db_, query); }
  static MariaDbServer& server() { return MariaDbServer::Shared(); }

  TempDir root_;
  std::string db_;
  HostPaths paths_;
};

TEST_F(MySqlStoreWriteTest, ANarrowColumnRefusesNamingUsersAndColumnsAndWritesNothing) {
  Load("real-mysql-perdomain");  // unmodified 5.4.33: pw_passwd char(40)
  MySqlUserStore store(paths_);
  std::string dir = "/tmp/realvpp/home/vpopmail/domains/new.example";
  std::string staging = Staging({{".qmail-info", "x@y\n"}});
  Status s = store.StageUsers(staging, {User("postmaster", dir), User("ivan", dir, kIvanSha512),
                                        User("pat", dir, "$1$ab$cd", "Patricia-Long-123")},
                              std::nullopt);
  ASSERT_EQ(s.code(), Status::Code::kDataRefused);
  EXPECT_NE(s.message().find("MySQL column pw_passwd char(40) cannot hold the value of ivan (up to 102 characters)"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("pw_clear_passwd char(16) cannot hold the value of pat (up to 17 characters)"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("--mysql-widen-columns"), std::string::npos);
  EXPECT_EQ(s.message().find(kIvanSha512), std::string::npos);  // no secrets in messages
  EXPECT_TRUE(fs::exists(staging + "/.qmail-info"));
  EXPECT_EQ(store.CommitDomain({"new.example", 89, "", std::nullopt, ""}).code(), Status::Code::kInvalidInput);
  EXPECT_EQ(Rows("SHOW TABLES"), "dir_control\nexample_shop_com\nlastauth\nmail_example_net\n");
  // pw_uid must be a number for the int column.
  VpasswdEntry odd = User("odd", dir);
  odd.uid = "x1";
  s = store.StageUsers(staging, {odd}, std::nullopt);
  ASSERT_EQ(s.code(), Status::Code::kDataRefused);
  EXPECT_NE(s.message().find("pw_uid int cannot hold 'x1' of odd"), std::string::npos) << s.message();
}

TEST_F(MySqlStoreWriteTest, ManyLayoutCommitsUsersAliasesLimitsAndCountersInOneGoAndRemoveUndoesIt) {
  Load("real-mysql-many");
  MySqlUserStore store(paths_);
  std::string dir = "/tmp/realvpm/home/vpopmail/domains/copy.example";
  std::string limits =
      "maxpopaccounts: 7\nmaxaliases: -1\nmaxforwards: -1\nmaxautoresponders: -1\nmaxmailinglists: -1\n"
           "quota: 0\nmaxmsgcount: 0\ndefault_quota: 0\ndefault_maxmsgcount: 0\ndisable_imap\nperm_account: 0\n"
           "perm_alias: 0\nperm_forward: 0\nperm_autoresponder: 0\nperm_maillist: 0\nperm_quota: 0\n"
           "perm_defaultquota: 0\n";
  std::string staging = Staging({{".qmail-sales", "bob@copy.example\n&o'brien@copy.example\n"},
                                 {".qmail-first:last", "dave@copy.example\n"},
                                 {".qmail-default", "| vdelivermail '' bounce-no-mailbox\n"},
                                 {".qmailadmin-limits", limits}});
  fs::create_symlink(".qmail-sales", staging + "/.qmail-list");  // a symlink stays a file
  std::vector<VpasswdEntry> users = {User("o'brien", dir), User("zoe", dir, "$5$ZoeSalt5678$x")};
  ASSERT_TRUE(store.StageUsers(staging, users, std::nullopt).ok());
  // The rows' files are taken out of the staging dir; .qmail-default and the symlink stay.
  EXPECT_FALSE(fs::exists(staging + "/.qmail-sales"));
  EXPECT_FALSE(fs::exists(staging + "/.qmail-first:last"));
  EXPECT_FALSE(fs::exists(staging + "/.qmailadmin-limits"));
  EXPECT_TRUE(fs::exists(staging + "/.qmail-default"));
  EXPECT_TRUE(fs::is_symlink(staging + "/.qmail-list"));
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM vpopmail WHERE pw_domain = 'copy.example'"), "0\n");  // nothing yet
  auto old = store.ReadDomainsDirControl(89);
  ASSERT_TRUE(old.ok() && old->has_value());
  BucketAllocation domain_alloc = AllocateBuckets(*old, 1, /*exact=*/true);
  BucketAllocation user_alloc = AllocateBuckets(std::nullopt, users.size());
  DomainRows rows{"copy.example", 89, user_alloc.final_text, *old, domain_alloc.final_text};
  Status s = store.CommitDomain(rows);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Rows("SELECT pw_name, pw_passwd, pw_uid, pw_dir, pw_clear_passwd FROM vpopmail WHERE pw_domain = "
                 "'copy.example' ORDER BY pw_name"),
            "o'brien\t$1$ab$cd\t0\t" + dir + "/o'brien\tpw\nzoe\t$5$ZoeSalt5678$x\t0\t" + dir + "/zoe\tpw\n");
  EXPECT_EQ(Rows("SELECT alias, valias_line FROM valias WHERE domain = 'copy.example'"),
            "first.last\tdave@copy.example\nsales\tbob@copy.example\nsales\t&o'brien@copy.example\n");
  EXPECT_EQ(Rows("SELECT maxpopaccounts, maxaliases, disable_imap, disable_pop FROM limits WHERE domain = "
                 "'copy.example'"),
            "7\t-1\t1\t0\n");
  EXPECT_EQ(Rows("SELECT cur_users, the_dir FROM dir_control WHERE domain = 'copy.example'"), "2\t\n");
  EXPECT_EQ(Rows("SELECT cur_users, level_mod0, level_mod1, level_mod2 FROM dir_control WHERE domain = 'dom_89'"),
            "3\t0\t2\t4\n");  // as vpopmail's own vadddomain leaves the row
  // Read back, the rows are the files again.
  fs::create_directories(root_.path() + dir);
  qmail::DomainLocation where = Loc("copy.example", dir);
  auto files = store.ReadDomainFiles(where);
  ASSERT_TRUE(files.ok()) << files.status().message();
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[1].rel, ".qmail-sales");
  EXPECT_EQ((*files)[1].data, "bob@copy.example\n&o'brien@copy.example\n");
  EXPECT_EQ((*files)[2].data, limits);
  auto back = store.ReadUsers(where);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, users);
  EXPECT_EQ(store.CheckDomainAbsent("copy.example").code(), Status::Code::kConflict);
  // RemoveDomain takes all of it back, and again is no error.
  ASSERT_TRUE(store.RemoveDomain("copy.example", 89, *old).ok());
  ASSERT_TRUE(store.RemoveDomain("copy.example", 89, *old).ok());
  EXPECT_TRUE(store.CheckDomainAbsent("copy.example").ok());
  EXPECT_EQ(Rows("SELECT cur_users FROM dir_control WHERE domain = 'dom_89'"), "2\n");
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM vpopmail"), "127\n");
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM valias"), "13\n");
}

TEST_F(MySqlStoreWriteTest, ACounterMovedSinceTheReadRollsEverythingBack) {
  Load("real-mysql-many");
  MySqlUserStore store(paths_);
  std::string dir = "/tmp/realvpm/home/vpopmail/domains/late.example";
  ASSERT_TRUE(store.StageUsers(Staging({}), {User("postmaster", dir)}, std::nullopt).ok());
  auto old = store.ReadDomainsDirControl(89);
  ASSERT_TRUE(old.ok());
  server().Sql(db_, "UPDATE dir_control SET cur_users = 3 WHERE domain = 'dom_89'");  // another vadddomain
  Status s = store.CommitDomain({"late.example", 89, AllocateBuckets(std::nullopt, 1).final_text, *old,
                                 AllocateBuckets(*old, 1, true).final_text});
  ASSERT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("dir_control row dom_89 changed"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("rolled back"), std::string::npos);
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM vpopmail WHERE pw_domain = 'late.example'"), "0\n");
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM dir_control WHERE domain = 'late.example'"), "0\n");
}

TEST_F(MySqlStoreWriteTest, WideningFollowsVpopmail56AndNeverTruncates) {
  Load("real-mysql-perdomain");
  paths_.mysql_widen_columns = true;
  MySqlUserStore store(paths_);
  std::string dir = "/tmp/realvpp/home/vpopmail/domains/new-shop.example";
  std::vector<VpasswdEntry> users = {User("ivan", dir, kIvanSha512, "a-cleartext-of-20-ch")};
  std::string staging = Staging({{".qmail-info", "x@new-shop.example\n"}});
  ASSERT_TRUE(store.StageUsers(staging, users, std::nullopt).ok());
  EXPECT_TRUE(fs::exists(staging + "/.qmail-info"));  // no valias table: stays a file
  auto old = store.ReadDomainsDirControl(89);
  ASSERT_TRUE(old.ok());
  Status s = store.CommitDomain({"new-shop.example", 89, AllocateBuckets(std::nullopt, 1).final_text, *old,
                                 AllocateBuckets(*old, 1, true).final_text});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Rows("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + db_ +
                 "' AND TABLE_NAME = 'new_shop_example' AND COLUMN_NAME IN ('pw_passwd', 'pw_clear_passwd', "
                 "'pw_gecos') ORDER BY COLUMN_NAME"),
            "pw_clear_passwd\tvarchar(128)\npw_gecos\tchar(48)\npw_passwd\tvarchar(128)\n");
  EXPECT_EQ(Rows("SELECT pw_passwd, pw_clear_passwd FROM new_shop_example"),
            std::string(kIvanSha512) + "\ta-cleartext-of-20-ch\n");
  // A value wider than vpopmail 5.6's column is refused even so.
  VpasswdEntry huge = User("huge", dir, std::string(129, 'h'));
  s = store.StageUsers(staging, {huge}, std::nullopt);
  EXPECT_EQ(s.code(), Status::Code::kDataRefused);
  // Remove drops the domain's own table, never a colliding domain's.
  ASSERT_TRUE(store.RemoveDomain("new-shop.example", 89, *old).ok());
  EXPECT_EQ(Rows("SHOW TABLES LIKE 'new_shop_example'"), "");
  ASSERT_TRUE(store.RemoveDomain("example.shop.com", 89, *old).ok());
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM example_shop_com"), "17\n");
}

TEST_F(MySqlStoreWriteTest, AnEmptyDatabaseGetsTheChosenLayoutAndAMismatchIsRefused) {
  ASSERT_TRUE(server().ok()) << server().error();
  db_ = server().CreateDatabase("empty");
  fs::create_directories(root_.path() + "/home/vpopmail/etc");
  paths_.root = root_.path();
  paths_.vpopmail_home = "/home/vpopmail";
  WriteVpopmailMysql(root_.path() + "/home/vpopmail/etc/vpopmail.mysql", server(), db_);
  EXPECT_EQ(MySqlUserStore(paths_).Layout(), "many");
  paths_.mysql_layout = "perdomain";
  MySqlUserStore store(paths_);
  EXPECT_EQ(store.Layout(), "perdomain");
  std::string dir = "/home/vpopmail/domains/a-b.example";
  ASSERT_TRUE(store.StageUsers(Staging({}), {User("postmaster", dir)}, std::nullopt).ok());
  Status s = store.CommitDomain({"a-b.example", 89, AllocateBuckets(std::nullopt, 1).final_text, std::nullopt,
                                 AllocateBuckets(std::nullopt, 1).final_text});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Rows("SHOW TABLES"), "a_b_example\ndir_control\n");
  EXPECT_EQ(Rows("SELECT domain, cur_users FROM dir_control ORDER BY domain"), "a-b.example\t1\ndom_89\t1\n");
  s = store.CheckDomainAbsent("a.b.example");
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("belongs to a-b.example"), std::string::npos) << s.message();
  paths_.mysql_layout = "many";
  auto users = MySqlUserStore(paths_).ReadUsers(Loc("a-b.example", dir));
  ASSERT_FALSE(users.ok());
  EXPECT_EQ(users.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(users.status().message().find("--mysql-layout many: database " + db_ + " has the perdomain layout"),
            std::string::npos)
      << users.status().message();
}

TEST_F(MySqlStoreWriteTest, ReplaceUsersUpdatesOnlyChangedColumnsInPlace) {
  Load("real-mysql-many");
  MySqlUserStore store(paths_);
  auto loc = qmail::LocateDomain(paths_, "example.com");
  ASSERT_TRUE(loc.ok());
  server().Sql(db_, "UPDATE vpopmail SET pw_gecos = NULL WHERE pw_name = 'bob'");
  auto users = store.ReadUsers(*loc);
  ASSERT_TRUE(users.ok());
  for (auto& u : *users)
    if (u.name == "bob" || u.name == "o'brien") u.gid = std::to_string(std::stoi(u.gid) | 14);
  ASSERT_TRUE(store.ReplaceUsers(*loc, *users).ok());
  EXPECT_EQ(Rows("SELECT pw_name, pw_gid, pw_gecos IS NULL FROM vpopmail WHERE pw_name IN ('bob', 'o''brien', "
                 "'carol') AND pw_domain = 'example.com' ORDER BY pw_name"),
            "bob\t14\t1\ncarol\t14\t0\no'brien\t14\t0\n");
  auto again = store.ReadUsers(*loc);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *users);
  std::vector<VpasswdEntry> ghost = {User("ghost", "/x")};
  Status s = store.ReplaceUsers(*loc, ghost);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("user ghost has no row in MySQL table vpopmail"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vmigrate::vpopmail
