// The MySQL UserStore against a real private MariaDB loaded with the two
// real vpopmail 5.4.33 MySQL fixtures (tests/fixtures/README.md "MySQL-backend
// fixtures"): real-mysql-many (one vpopmail table, valias, limits) and
// real-mysql-perdomain (a table per domain, .qmail files).
#include "vpopmail/mysql_store.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "qmail/domains.h"
#include "support/mariadb_server.h"
#include "support/test_support.h"
#include "vpopmail/limits_file.h"

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

class MySqlStoreTest : public ::testing::Test {
 protected:
  // Unpacks fixture `name` under root_ and points paths_ at it.
  void Load(const std::string& name) {
    db_ = UnpackMysqlFixture(name, root_.path(), server());
    ASSERT_FALSE(db_.empty());
    std::string prefix = MysqlFixturePrefix(name);  // "/tmp/realvpm": home/vpopmail and qmail below it
    paths_.root = root_.path();
    paths_.vpopmail_home = prefix + "/home/vpopmail";
    paths_.qmail_dir = prefix + "/qmail";
  }
  qmail::DomainLocation Locate(const std::string& domain) {
    auto loc = qmail::LocateDomain(paths_, domain);
    EXPECT_TRUE(loc.ok()) << loc.status().message();
    return loc.ok() ? *loc : qmail::DomainLocation{};
  }
  static MariaDbServer& server() { return MariaDbServer::Shared(); }
  static const VpasswdEntry* Find(const std::vector<VpasswdEntry>& users, const std::string& name) {
    for (const auto& u : users)
      if (u.name == name) return &u;
    return nullptr;
  }
  std::string Rows(const std::string& query) { return server().Rows(db_, query); }

  TempDir root_;
  std::string db_;
  HostPaths paths_;
};

TEST_F(MySqlStoreTest, ManyDomainsLayoutReadsEveryRowVerbatimInByteOrder) {
  Load("real-mysql-many");
  MySqlUserStore store(paths_);
  EXPECT_EQ(store.Backend(), "mysql");
  EXPECT_EQ(store.Layout(), "many");
  EXPECT_FALSE(store.KeepsDirControlFiles());
  EXPECT_NE(store.Describe().find("socket " + server().socket()), std::string::npos) << store.Describe();
  EXPECT_EQ(store.Describe().find(vmigrate::testing::kDbPassword), std::string::npos);
  auto users = store.ReadUsers(Locate("example.com"));
  ASSERT_TRUE(users.ok()) << users.status().message();
  ASSERT_EQ(users->size(), 18u);
  std::vector<std::string> names;
  for (const auto& u : *users) names.push_back(u.name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  const VpasswdEntry* ivan = Find(*users, "ivan");
  ASSERT_NE(ivan, nullptr);
  EXPECT_EQ(ivan->passwd,
            "$6$IvanSalt1234$7iOdoj0FbGewRls8pvWQgUDxyOeV3s2GRuSkNdm1NSpQEbrduYkrlB47CmdUG0BZM6dZlW/0L4IYv2nYZt6wY.");
  EXPECT_TRUE(ivan->has_clear);
  EXPECT_EQ(ivan->clear, "");
  const VpasswdEntry* obrien = Find(*users, "o'brien");
  ASSERT_NE(obrien, nullptr);
  EXPECT_EQ(obrien->dir, "/tmp/realvpm/home/vpopmail/domains/example.com/o'brien");
  EXPECT_EQ(obrien->gecos, "Sean O'Brien");
  EXPECT_EQ(obrien->clear, "0'Brien-new");
  EXPECT_EQ(obrien->uid, "0");  // MySQL's POP value (cdb has 1)
  const VpasswdEntry* heidi = Find(*users, "heidi");
  ASSERT_NE(heidi, nullptr);
  EXPECT_EQ(heidi->gid, "2080");
  const VpasswdEntry* alice = Find(*users, "alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->quota, "5000000S,1000C");
  EXPECT_EQ(alice->passwd, "$1$hFlKqeRf$qDA0N97hcvsOZIP7TQkQ./");
  EXPECT_EQ(Find(*users, "laura"), nullptr);  // deleted
  auto net = store.ReadUsers(Locate("example.net"));
  ASSERT_TRUE(net.ok()) << net.status().message();
  EXPECT_EQ(net->size(), 109u);
  const VpasswdEntry* u100 = Find(*net, "user100");
  ASSERT_NE(u100, nullptr);
  EXPECT_EQ(u100->dir, "/tmp/realvpm/home/vpopmail/domains/example.net/0/user100");
  EXPECT_EQ(u100->quota, "10485760S");
  qmail::DomainLocation nowhere = Loc("nowhere.example", paths_.vpopmail_home + "/domains/nowhere.example");
  auto none = store.ReadUsers(nowhere);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  EXPECT_NE(none.status().message().find("nowhere.example: no users in MySQL table vpopmail"), std::string::npos)
      << none.status().message();
}

TEST_F(MySqlStoreTest, PerDomainLayoutReadsTheMungedTablesAndTheHalfMadeAccount) {
  Load("real-mysql-perdomain");
  MySqlUserStore store(paths_);
  EXPECT_EQ(store.Layout(), "perdomain");
  auto users = store.ReadUsers(Locate("example-shop.com"));
  ASSERT_TRUE(users.ok()) << users.status().message();
  EXPECT_EQ(users->size(), 17u);
  const VpasswdEntry* ivan = Find(*users, "ivan");
  ASSERT_NE(ivan, nullptr);
  EXPECT_EQ(ivan->passwd, "");
  EXPECT_EQ(Find(*users, "zoe"), nullptr);
  const VpasswdEntry* wendy = Find(*users, "wendy");
  ASSERT_NE(wendy, nullptr);
  EXPECT_EQ(wendy->passwd, "$1$WendyMd5$Z1ySnqKYbFSA74ZN1Ip.y1");
  auto net = store.ReadUsers(Locate("mail.example.net"));
  ASSERT_TRUE(net.ok()) << net.status().message();
  EXPECT_EQ(net->size(), 109u);
  // No per-domain table: not found, naming the table.
  qmail::DomainLocation other = Loc("other.example", paths_.vpopmail_home + "/domains/other.example");
  auto none = store.ReadUsers(other);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  EXPECT_NE(none.status().message().find("no MySQL table other_example"), std::string::npos);
  // A domain whose munged name is another domain's table is not read from it.
  qmail::DomainLocation twin = Loc("example.shop.com", paths_.vpopmail_home + "/domains/example.shop.com");
  auto collided = store.ReadUsers(twin);
  ASSERT_FALSE(collided.ok());
  EXPECT_EQ(collided.status().code(), Status::Code::kConflict);
  EXPECT_NE(collided.status().message().find("MySQL table example_shop_com belongs to example-shop.com"),
            std::string::npos)
      << collided.status().message();
}

TEST_F(MySqlStoreTest, DirControlRowsReadAsDirControlText) {
  Load("real-mysql-many");
  MySqlUserStore store(paths_);
  auto com = store.ReadDirControl(Locate("example.com"));
  ASSERT_TRUE(com.ok()) << com.status().message();
  ASSERT_TRUE(com->has_value());
  EXPECT_EQ(**com, "19\n0\n3\n0 0 0\n61 61 61\n0 2 4\n0 0 0\n\n");
  auto net = store.ReadDirControl(Locate("example.net"));
  ASSERT_TRUE(net.ok());
  EXPECT_EQ(**net, "109\n0\n3\n0 0 0\n61 61 61\n0 2 4\n0 0 0\n0\n");
  auto dom = store.ReadDomainsDirControl(89);
  ASSERT_TRUE(dom.ok());
  ASSERT_TRUE(dom->has_value());
  EXPECT_EQ(**dom, "2\n0\n3\n0 0 0\n61 61 61\n0 2 4\n0 0 0\n\n");
  auto none = store.ReadDomainsDirControl(1234);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(MySqlStoreTest, ValiasRowsAndTheLimitsRowShowAsTheFilesACdbHostWouldHave) {
  Load("real-mysql-many");
  MySqlUserStore store(paths_);
  qmail::DomainLocation com = Locate("example.com");
  auto files = store.ReadDomainFiles(com);
  ASSERT_TRUE(files.ok()) << files.status().message();
  std::map<std::string, StoreFile> by_name;
  std::vector<std::string> order;
  for (const auto& f : *files) {
    by_name[f.rel] = f;
    order.push_back(f.rel);
  }
  EXPECT_EQ(order, (std::vector<std::string>{".qmail-abuse", ".qmail-archive", ".qmail-carol", ".qmail-first:last",
                                             ".qmail-info", ".qmail-sales", ".qmail-sean", ".qmailadmin-limits"}));
  EXPECT_EQ(by_name[".qmail-sales"].data, "bob@example.com\ncarol@example.com\norders@partner.test\n");
  EXPECT_EQ(by_name[".qmail-carol"].data,
            "&carol.chen@gmail.test\n/tmp/realvpm/home/vpopmail/domains/example.com/carol/Maildir/\n");
  EXPECT_EQ(by_name[".qmail-sean"].data, "o'brien@example.com\n");
  EXPECT_EQ(by_name[".qmail-first:last"].data, "dave@example.com\n");
  EXPECT_EQ(by_name[".qmail-sales"].mode, 0600u);
  // The limits row reads as the file real vmoddomlimits wrote on the
  // perdomain build for the same values.
  TempDir other;
  ASSERT_FALSE(UnpackMysqlFixture("real-mysql-perdomain", other.path(), server()).empty());
  std::string real = ReadFile(other.path() + MysqlFixturePrefix("real-mysql-perdomain") +
                              "/home/vpopmail/domains/example-shop.com/.qmailadmin-limits");
  ASSERT_FALSE(real.empty());
  EXPECT_EQ(by_name[".qmailadmin-limits"].data, real);
  EXPECT_EQ(by_name[".qmailadmin-limits"].mode, 0644u);
  // mtime: the domain dir's, so two exports are identical.
  struct stat st;
  ASSERT_EQ(stat((root_.path() + com.dir).c_str(), &st), 0);
  for (const auto& f : *files) {
    EXPECT_EQ(f.mtime.tv_sec, st.st_mtim.tv_sec) << f.rel;
    EXPECT_EQ(f.mtime.tv_nsec, st.st_mtim.tv_nsec) << f.rel;
  }
  auto net = store.ReadDomainFiles(Locate("example.net"));
  ASSERT_TRUE(net.ok());
  ASSERT_EQ(net->size(), 2u);
  EXPECT_EQ((*net)[0].rel, ".qmail-drop");
  EXPECT_EQ((*net)[0].data, "/tmp/realvpm/home/vpopmail/domains/example.net/0/user104/Maildir/\n");
  EXPECT_EQ((*net)[1].rel, ".qmail-help");
  EXPECT_EQ((*net)[1].data, "tom@example.net\numa@example.net\n");
  // The perdomain build keeps them as real files: nothing from the store.
  HostPaths per = paths_;
  per.root = other.path();
  per.vpopmail_home = "/tmp/realvpp/home/vpopmail";
  per.qmail_dir = "/tmp/realvpp/qmail";
  MySqlUserStore per_store(per);
  auto loc = qmail::LocateDomain(per, "example-shop.com");
  ASSERT_TRUE(loc.ok());
  auto none = per_store.ReadDomainFiles(*loc);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_TRUE(none->empty());
}

TEST_F(MySqlStoreTest, LimitsFileAndRowConvertBothWays) {
  LimitsRow row = ParseLimitsFile("maxpopaccounts 10\n# c\nquota:5\r\ndisable_imap\nperm_maillist: 73\nperm_quota: 2\n");
  EXPECT_EQ(row["maxpopaccounts"], "10");
  EXPECT_EQ(row["maxaliases"], "-1");
  EXPECT_EQ(row["diskquota"], "5");
  EXPECT_EQ(row["disable_imap"], "1");
  EXPECT_EQ(row["disable_pop"], "0");
  EXPECT_EQ(row["perm_maillist"], "73");
  EXPECT_EQ(row["perm_quota"], "2");
  std::string file = FormatLimitsFile(row);
  EXPECT_NE(file.find("maxpopaccounts: 10\n"), std::string::npos);
  EXPECT_NE(file.find("default_maxmsgcount: 0\ndisable_imap\nperm_account: 0\n"), std::string::npos) << file;
  // vpopmail's writer: list bits 0-2 in perm_maillist, the rest in perm_quota.
  EXPECT_NE(file.find("perm_maillist: 1\nperm_quota: 74\n"), std::string::npos) << file;
  EXPECT_EQ(ParseLimitsFile(file), row);
}

TEST_F(MySqlStoreTest, CheckDomainAbsentRefusesRowsTablesAndCollisions) {
  Load("real-mysql-perdomain");
  MySqlUserStore store(paths_);
  Status s = store.CheckDomainAbsent("example-shop.com");
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("MySQL table example_shop_com already exists"), std::string::npos) << s.message();
  s = store.CheckDomainAbsent("example.shop.com");
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("belongs to example-shop.com"), std::string::npos) << s.message();
  EXPECT_TRUE(store.CheckDomainAbsent("new.example").ok());
  TempDir other;
  std::string db = UnpackMysqlFixture("real-mysql-many", other.path(), server());
  HostPaths many = paths_;
  many.root = other.path();
  many.vpopmail_home = "/tmp/realvpm/home/vpopmail";
  MySqlUserStore many_store(many);
  s = many_store.CheckDomainAbsent("example.net");
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("example.net: 109 users already in MySQL table vpopmail"), std::string::npos)
      << s.message();
  EXPECT_TRUE(many_store.CheckDomainAbsent("example.org").ok());  // an alias domain has no rows
  server().Sql(db, "INSERT INTO valias VALUES ('x', 'stray.example', 'y@z')");
  s = many_store.CheckDomainAbsent("stray.example");
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("1 rows in MySQL table valias"), std::string::npos) << s.message();
}

TEST_F(MySqlStoreTest, LastauthAndHostStateAreReportedAsNotCarried) {
  Load("real-mysql-many");
  MySqlUserStore store(paths_);
  qmail::DomainLocation com = Locate("example.com");
  auto notes = store.NotCarried(com);
  ASSERT_TRUE(notes.ok()) << notes.status().message();
  EXPECT_EQ(*notes, std::vector<std::string>{"lastauth: 18 rows (last logins) not carried"});
  server().Sql(db_, "CREATE TABLE relay (ip_addr char(18) not null, timestamp char(12), primary key (ip_addr))");
  server().Sql(db_, "CREATE TABLE ip_alias_map (ip_addr char(18) not null, domain char(96), primary key (ip_addr))");
  server().Sql(db_, "INSERT INTO ip_alias_map VALUES ('10.1.1.1', 'example.com')");
  MySqlUserStore fresh(paths_);
  notes = fresh.NotCarried(com);
  ASSERT_TRUE(notes.ok()) << notes.status().message();
  EXPECT_EQ(*notes, (std::vector<std::string>{"lastauth: 18 rows (last logins) not carried",
                                              "ip_alias_map: 1 rows (IP alias domains) not carried",
                                              "relay: table present (POP-before-SMTP, host-wide), not carried"}));
}

TEST_F(MySqlStoreTest, ConsistencyWarnsAboutTheCounterAndTheHalfMadeAccount) {
  Load("real-mysql-perdomain");
  MySqlUserStore store(paths_);
  qmail::DomainLocation shop = Locate("example-shop.com");
  auto users = store.ReadUsers(shop);
  ASSERT_TRUE(users.ok());
  auto problems = store.CheckConsistency(shop, *users);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].file, "dir_control");
  EXPECT_NE(problems[0].what.find("cur_users 18 for 17 accounts"), std::string::npos) << problems[0].what;
  EXPECT_TRUE(problems[0].warning);
  EXPECT_EQ(problems[1].user, "ivan");
  EXPECT_TRUE(problems[1].warning);
  server().Sql(db_, "UPDATE dir_control SET cur_users = 5 WHERE domain = 'example-shop.com'");
  server().Sql(db_, "UPDATE example_shop_com SET pw_gecos = NULL WHERE pw_name = 'bob'");
  problems = store.CheckConsistency(shop, *users);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_FALSE(problems[0].warning);
  EXPECT_NE(problems[0].what.find("cur_users 5 for 17 accounts"), std::string::npos);
  EXPECT_EQ(problems[2].user, "bob");
  EXPECT_EQ(problems[2].what, "pw_gecos is NULL (read as empty)");
  auto again = store.ReadUsers(shop);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Find(*again, "bob")->gecos, "");
}

TEST_F(MySqlStoreTest, AutoPicksMysqlWhenTheConfigExistsButAVpasswdDomainStaysCdb) {
  Load("real-mysql-many");
  qmail::DomainLocation com = Locate("example.com");
  qmail::DomainLocation net = Locate("example.net");
  auto store = OpenUserStore(paths_);
  EXPECT_EQ(store->Backend(), "mysql");
  EXPECT_EQ(store->Layout(), "many");
  EXPECT_EQ(OpenUserStoreFor(paths_, com)->Backend(), "mysql");
  // A domain dir that still has a vpasswd is read from it.
  WriteFile(root_.path() + net.dir + "/vpasswd", "solo:$1$x$y:1:0:Solo:" + net.dir + "/solo:NOQUOTA:pw\n");
  auto users = store->ReadUsers(net);
  ASSERT_TRUE(users.ok()) << users.status().message();
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].name, "solo");
  EXPECT_EQ(OpenUserStoreFor(paths_, net)->Backend(), "cdb");
  auto com_users = store->ReadUsers(com);
  ASSERT_TRUE(com_users.ok());
  EXPECT_EQ(com_users->size(), 18u);
  // --backend cdb ignores the config; no config: cdb.
  HostPaths cdb = paths_;
  cdb.backend = "cdb";
  EXPECT_EQ(OpenUserStore(cdb)->Backend(), "cdb");
  fs::remove(root_.path() + paths_.vpopmail_home + "/etc/vpopmail.mysql");
  EXPECT_EQ(OpenUserStore(paths_)->Backend(), "cdb");
  EXPECT_EQ(OpenUserStoreFor(paths_, com)->Backend(), "cdb");
  HostPaths forced = paths_;
  forced.backend = "mysql";
  auto missing = OpenUserStore(forced)->ReadUsers(com);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("MySQL settings: "), std::string::npos) << missing.status().message();
}

TEST_F(MySqlStoreTest, AnUnreachableServerOrWrongPasswordIsOneLineNamingTheSocketNeverThePassword) {
  Load("real-mysql-many");
  std::string conf = root_.path() + paths_.vpopmail_home + "/etc/vpopmail.mysql";
  WriteFile(conf, "localhost|/nonexistent/mysqld.sock|vpopmail|Not-The-Pw-42|" + db_ + "\n");
  MySqlUserStore store(paths_);
  EXPECT_EQ(store.Layout(), "unknown");
  auto users = store.ReadUsers(Locate("example.com"));
  ASSERT_FALSE(users.ok());
  EXPECT_EQ(users.status().code(), Status::Code::kIoError);
  EXPECT_NE(users.status().message().find("cannot connect to MySQL (socket /nonexistent/mysqld.sock, database " + db_),
            std::string::npos)
      << users.status().message();
  EXPECT_EQ(users.status().message().find("Not-The-Pw-42"), std::string::npos);
  EXPECT_EQ(users.status().message().find('\n'), std::string::npos);
  WriteFile(conf, "localhost|" + server().socket() + "|vpopmail|Not-The-Pw-42|" + db_ + "\n");
  MySqlUserStore wrong(paths_);
  auto denied = wrong.ReadDirControl(Locate("example.com"));
  ASSERT_FALSE(denied.ok());
  EXPECT_NE(denied.status().message().find("Access denied"), std::string::npos) << denied.status().message();
  EXPECT_EQ(denied.status().message().find("Not-The-Pw-42"), std::string::npos);
}

}  // namespace
}  // namespace vmigrate::vpopmail
