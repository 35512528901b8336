// End-to-end round trips with vpopmail's MySQL backend (issue 16), through
// the CLI against a private MariaDB (support/mariadb_server.h) and the real
// vpopmail 5.4.33 MySQL fixtures: export a domain, import it, and compare
// the target with the source. After each import: every user row equals the
// source's except pw_dir (pw_uid as the target backend means it), the
// domain's dir_control row is what vadddomain + vadduser would leave,
// aliases and limits are in the target's form (valias/limits rows when the
// target has those tables, else .qmail-<alias> / .qmailadmin-limits files),
// every Maildir is byte-identical, and `vmigrate verify` finds nothing.
// Then the refusals: a domain the database already holds, a value too wide
// for vpopmail 5.4's columns, a per-domain table of another domain.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/mariadb_server.h"
#include "support/test_support.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

MariaDbServer& Server() { return MariaDbServer::Shared(); }

// One host of a test: its tree under `root`, and its database ("" = cdb).
struct Host {
  std::string root, vp_home, qmail, db;
  std::vector<std::string> Flags() const { return {"--root", root, "--vpopmail-home", vp_home, "--qmail-dir", qmail}; }
  std::string Disk(const std::string& host_path) const { return root + host_path; }
};

Host MysqlSource(const std::string& fixture, const std::string& root) {
  Host h;
  h.root = root;
  h.db = UnpackMysqlFixture(fixture, root, Server());
  h.vp_home = MysqlFixturePrefix(fixture) + "/home/vpopmail";
  h.qmail = MysqlFixturePrefix(fixture) + "/qmail";
  return h;
}

Host CdbSource(const std::string& fixture, const std::string& root) {
  UnpackFixture(fixture, root);
  return {root, kFixtureVpopmailHome, kFixtureQmailDir, ""};
}

// An empty target (MakeEmptyTarget) whose vpopmail.mysql names a database
// laid out as the fixture's build makes it, with no domain in it yet: the
// fixture's dump loaded and emptied (its per-domain tables dropped).
Host MysqlTarget(const std::string& root, const std::string& layout_fixture) {
  MakeEmptyTarget(root);
  Host h{root, kTargetHome, kTargetQmail, Server().CreateDatabase("target")};
  WriteVpopmailMysql(root + kTargetHome + "/etc/vpopmail.mysql", Server(), h.db);
  if (layout_fixture.empty()) return h;
  TempDir dump;
  CommandResult r = RunCommand({"tar", "-xzf", FixtureDir() + "/" + layout_fixture + ".tar.gz", "-C", dump.path(),
                                "mysql/vpopmail.sql"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Server().LoadDump(h.db, dump.path() + "/mysql/vpopmail.sql");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string tables = Server().Rows(h.db, "SHOW TABLES");
  for (const std::string& t : Lines(tables)) {
    bool keep = t == "vpopmail" || t == "dir_control" || t == "lastauth" || t == "valias" || t == "limits";
    r = Server().Sql(h.db, keep ? "DELETE FROM `" + t + "`" : "DROP TABLE `" + t + "`");
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return h;
}

Host CdbTarget(const std::string& root) {
  MakeEmptyTarget(root);
  return {root, kTargetHome, kTargetQmail, ""};
}

bool HasTable(const Host& h, const std::string& table) {
  return !h.db.empty() && !Server().Rows(h.db, "SHOW TABLES LIKE '" + table + "'").empty();
}

std::string UserTable(const Host& h, const std::string& domain) {
  if (HasTable(h, "vpopmail")) return "vpopmail";
  std::string t = domain;
  std::replace(t.begin(), t.end(), '.', '_');
  std::replace(t.begin(), t.end(), '-', '_');
  return t;
}

// The domain's dir on the host (host path), from users/assign.
std::string DomainDir(const Host& h, const std::string& domain) {
  for (const std::string& line : Lines(ReadFile(h.Disk(h.qmail + "/users/assign")))) {
    std::vector<std::string> f;
    std::string cur;
    for (char c : line) {
      if (c == ':') {
        f.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (f.size() >= 5 && f[0] == "+" + domain + "-") return f[4];
  }
  ADD_FAILURE() << domain << " is not in " << h.qmail << "/users/assign";
  return "";
}

// A user as both backends can show it: pw_uid in the cdb meaning (1 POP,
// 2 APOP), the home kept apart.
struct UserRow {
  std::string line;  // name passwd uid gid gecos shell clear, tab-separated
  std::string dir;
};

std::map<std::string, UserRow> Users(const Host& h, const std::string& domain) {
  std::map<std::string, UserRow> out;
  if (h.db.empty()) {
    auto users = vpopmail::ReadVpasswd(h.Disk(DomainDir(h, domain)) + "/vpasswd");
    EXPECT_TRUE(users.ok()) << users.status().ToString();
    if (!users.ok()) return out;
    for (const auto& e : *users)
      out[e.name] = {e.name + "\t" + e.passwd + "\t" + e.uid + "\t" + e.gid + "\t" + e.gecos + "\t" + e.quota +
                         "\t" + e.clear,
                     e.dir};
    return out;
  }
  std::string table = UserTable(h, domain);
  std::string where = table == "vpopmail" ? " WHERE pw_domain = '" + domain + "'" : "";
  std::string rows = Server().Rows(h.db, "SELECT pw_name, pw_passwd, pw_uid, pw_gid, pw_gecos, pw_shell, "
                                         "pw_clear_passwd, pw_dir FROM `" + table + "`" + where);
  for (const std::string& row : Lines(rows)) {
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t tab = row.find('\t'); ; tab = row.find('\t', start)) {
      f.push_back(row.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (f.size() != 8) {
      ADD_FAILURE() << "odd row " << row;
      continue;
    }
    std::string uid = f[2] == "0" ? "1" : f[2] == "1" ? "2" : f[2];
    out[f[0]] = {f[0] + "\t" + f[1] + "\t" + uid + "\t" + f[3] + "\t" + f[4] + "\t" + f[5] + "\t" + f[6], f[7]};
  }
  return out;
}

// The domain's dir_control row as DirControl (MySQL), or its .dir-control.
std::string DirControlText(const Host& h, const std::string& domain) {
  if (h.db.empty()) return ReadFile(h.Disk(DomainDir(h, domain)) + "/.dir-control");
  std::string row = Server().Rows(h.db, "SELECT cur_users, level_cur, level_max, level_index0, level_index1, "
                                        "level_index2, the_dir FROM dir_control WHERE domain = '" + domain + "'");
  return row;
}

// What vadddomain + vadduser of `n` users leave, in the form DirControlText gives.
std::string ExpectedDirControl(const Host& h, size_t n) {
  std::string text = vpopmail::AllocateBuckets(std::nullopt, n).final_text;
  if (h.db.empty()) return text;
  vpopmail::DirControl dc = vpopmail::DirControl::Parse(text);
  return std::to_string(dc.cur_users) + "\t" + std::to_string(dc.level_cur) + "\t" + std::to_string(dc.level_max) +
         "\t" + std::to_string(dc.level_index[0]) + "\t" + std::to_string(dc.level_index[1]) + "\t" +
         std::to_string(dc.level_index[2]) + "\t" + dc.the_dir + "\n";
}

// valias rows as "alias\tline" (sorted), or the .qmail-<alias> files' lines
// (alias ':' -> '.'), whichever the host keeps.
std::multiset<std::string> Aliases(const Host& h, const std::string& domain) {
  std::multiset<std::string> out;
  if (HasTable(h, "valias")) {
    for (const std::string& row :
         Lines(Server().Rows(h.db, "SELECT alias, valias_line FROM valias WHERE domain = '" + domain + "'")))
      out.insert(row);
    return out;
  }
  std::string dir = h.Disk(DomainDir(h, domain));
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(".qmail-", 0) != 0 || name == ".qmail-default" || !e.is_regular_file()) continue;
    std::string alias = name.substr(7);
    std::replace(alias.begin(), alias.end(), ':', '.');
    for (const std::string& line : Lines(ReadFile(e.path().string()))) out.insert(alias + "\t" + line);
  }
  return out;
}

// Host paths inside alias lines differ between hosts: compare without them.
std::multiset<std::string> WithoutHome(const std::multiset<std::string>& lines, const Host& h,
                                       const std::string& domain) {
  std::multiset<std::string> out;
  for (const std::string& l : lines) out.insert(ReplaceAll(l, DomainDir(h, domain), "@DOMAIN_DIR@"));
  return out;
}

std::string Limits(const Host& h, const std::string& domain) {
  if (HasTable(h, "limits")) return Server().Rows(h.db, "SELECT * FROM limits WHERE domain = '" + domain + "'");
  std::string path = h.Disk(DomainDir(h, domain)) + "/.qmailadmin-limits";
  return fs::exists(path) ? ReadFile(path) : "";
}

class MysqlRoundTripTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Server().ok()) << Server().error(); }

  // export `domain` from `src`, import into `dst` with `extra`, then compare.
  void RoundTrip(const Host& src, const Host& dst, const std::string& domain,
                 const std::vector<std::string>& extra = {}) {
    std::string archive = work_.path() + "/" + domain + ".vma";
    CommandResult r = RunVmigrate(Concat({"export", domain, "-o", archive}, src.Flags()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunVmigrate(Concat(Concat({"import", archive, "--no-reload"}, dst.Flags()), extra));
    ASSERT_EQ(r.exit_code, 0) << r.err;

    auto src_users = Users(src, domain);
    auto dst_users = Users(dst, domain);
    ASSERT_FALSE(src_users.empty());
    ASSERT_EQ(src_users.size(), dst_users.size());
    for (const auto& [name, row] : src_users) {
      SCOPED_TRACE("user " + name);
      ASSERT_TRUE(dst_users.count(name));
      EXPECT_EQ(dst_users[name].line, row.line);
      EXPECT_EQ(dst_users[name].dir.rfind(DomainDir(dst, domain) + "/", 0), 0u) << dst_users[name].dir;
      // Fresh hashing in the source's bucket order: the same place below the domain.
      EXPECT_EQ(dst_users[name].dir.substr(DomainDir(dst, domain).size()),
                row.dir.substr(DomainDir(src, domain).size()));
      EXPECT_EQ(TreeDigest(dst.Disk(dst_users[name].dir) + "/Maildir"),
                TreeDigest(src.Disk(row.dir) + "/Maildir"))
          << "Maildir of " << name << " differs";
    }
    EXPECT_EQ(DirControlText(dst, domain), ExpectedDirControl(dst, dst_users.size()));
    if (!dst.db.empty()) {
      EXPECT_FALSE(fs::exists(dst.Disk(DomainDir(dst, domain)) + "/.dir-control"));
      EXPECT_FALSE(fs::exists(dst.Disk(DomainDir(dst, domain)) + "/vpasswd"));
      EXPECT_FALSE(fs::exists(dst.Disk(dst.vp_home) + "/domains/.dir-control"));
      EXPECT_NE(Server().Rows(dst.db, "SELECT cur_users FROM dir_control WHERE domain LIKE 'dom\\_%'"), "");
    }
    EXPECT_EQ(WithoutHome(Aliases(dst, domain), dst, domain), WithoutHome(Aliases(src, domain), src, domain));
    if (HasTable(dst, "valias")) {
      for (const auto& e : fs::directory_iterator(dst.Disk(DomainDir(dst, domain)))) {
        EXPECT_TRUE(e.path().filename().string().rfind(".qmail-", 0) != 0 ||
                    e.path().filename() == ".qmail-default")
            << e.path() << " should be a valias row";
      }
    }
    if (HasTable(src, "limits") == HasTable(dst, "limits")) {
      EXPECT_EQ(Limits(dst, domain), Limits(src, domain));
    } else {
      EXPECT_EQ(Limits(dst, domain).empty(), Limits(src, domain).empty());
    }

    r = RunVmigrate(Concat({"verify", archive}, dst.Flags()));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(StagingLeftovers(dst.root), std::vector<std::string>{});
  }

  TempDir work_, src_, dst_;
};

TEST_F(MysqlRoundTripTest, ManyToMany) {
  Host src = MysqlSource("real-mysql-many", src_.path());
  Host dst = MysqlTarget(dst_.path(), "real-mysql-many");
  RoundTrip(src, dst, "example.com");
  RoundTrip(src, dst, "example.net");
}

TEST_F(MysqlRoundTripTest, PerdomainToPerdomain) {
  Host src = MysqlSource("real-mysql-perdomain", src_.path());
  Host dst = MysqlTarget(dst_.path(), "real-mysql-perdomain");
  RoundTrip(src, dst, "example-shop.com");
  RoundTrip(src, dst, "mail.example.net");
  EXPECT_TRUE(HasTable(dst, "example_shop_com"));
  EXPECT_FALSE(HasTable(dst, "vpopmail"));
}

// The many fixture's ivan/zoe hold SHA-512 crypts (its pw_passwd was
// widened by hand); a per-domain table is made with 5.4's char(40).
TEST_F(MysqlRoundTripTest, ManyToPerdomainWidensOnRequest) {
  Host src = MysqlSource("real-mysql-many", src_.path());
  Host dst = MysqlTarget(dst_.path(), "real-mysql-perdomain");
  RoundTrip(src, dst, "example.com", {"--mysql-widen-columns"});
  EXPECT_NE(Server().Rows(dst.db, "SHOW COLUMNS FROM example_com LIKE 'pw_passwd'").find("varchar(128)"),
            std::string::npos);
}

TEST_F(MysqlRoundTripTest, PerdomainToManyInAnEmptyDatabase) {
  Host src = MysqlSource("real-mysql-perdomain", src_.path());
  Host dst = MysqlTarget(dst_.path(), "");
  RoundTrip(src, dst, "example-shop.com");
  EXPECT_TRUE(HasTable(dst, "vpopmail"));
}

TEST_F(MysqlRoundTripTest, EmptyDatabaseTakesTheLayoutAsked) {
  Host src = MysqlSource("real-mysql-perdomain", src_.path());
  Host dst = MysqlTarget(dst_.path(), "");
  RoundTrip(src, dst, "mail.example.net", {"--mysql-layout", "perdomain"});
  EXPECT_TRUE(HasTable(dst, "mail_example_net"));
  EXPECT_FALSE(HasTable(dst, "vpopmail"));
}

TEST_F(MysqlRoundTripTest, MysqlToCdb) {
  Host src = MysqlSource("real-mysql-many", src_.path());
  Host dst = CdbTarget(dst_.path());
  RoundTrip(src, dst, "example.com");
}

TEST_F(MysqlRoundTripTest, CdbSmallToMysqlMany) {
  Host src = CdbSource("real-small", src_.path());
  Host dst = MysqlTarget(dst_.path(), "real-mysql-many");
  RoundTrip(src, dst, "example.com");
  RoundTrip(src, dst, "example.net");
}

TEST_F(MysqlRoundTripTest, CdbHashedToMysqlPerdomain) {
  Host src = CdbSource("real-hashed", src_.path());
  Host dst = MysqlTarget(dst_.path(), "real-mysql-perdomain");
  RoundTrip(src, dst, "big.example");
}

// A dry run checks everything and writes no row, no table, no file.
TEST_F(MysqlRoundTripTest, DryRunWritesNothing) {
  Host src = MysqlSource("real-mysql-perdomain", src_.path());
  Host dst = MysqlTarget(dst_.path(), "real-mysql-many");
  std::string archive = work_.path() + "/shop.vma";
  ASSERT_EQ(RunVmigrate(Concat({"export", "example-shop.com", "-o", archive}, src.Flags())).exit_code, 0);
  auto before = TreeDigest(dst.root);
  std::string tables = Server().Rows(dst.db, "SHOW TABLES");
  CommandResult r = RunVmigrate(Concat({"import", archive, "--dry-run"}, dst.Flags()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(TreeDigest(dst.root), before);
  EXPECT_EQ(Server().Rows(dst.db, "SHOW TABLES"), tables);
  for (const char* t : {"vpopmail", "dir_control", "valias", "limits"})
    EXPECT_EQ(Server().Rows(dst.db, std::string("SELECT COUNT(*) FROM ") + t), "0\n") << t;
}

// The database already holds the domain (no dir, no users/assign line).
// A delta's user changes are written as vpasswd files: into a domain whose
// accounts are MySQL rows it is refused before anything changes.
TEST_F(MysqlRoundTripTest, DeltaIntoAMysqlDomainIsRefusedAndChangesNothing) {
  Host src = MysqlSource("real-mysql-many", src_.path());
  Host dst = MysqlTarget(dst_.path(), "real-mysql-many");
  std::string state = work_.path() + "/com.state";
  ASSERT_EQ(RunVmigrate(Concat({"state", "example.com", "-o", state}, src.Flags())).exit_code, 0);
  RoundTrip(src, dst, "example.com");
  std::string delta = work_.path() + "/com.delta";
  CommandResult r = RunVmigrate(Concat({"export", "example.com", "--since", state, "-o", delta}, src.Flags()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string rows = Server().Rows(dst.db, "SELECT * FROM vpopmail ORDER BY pw_name");
  auto before = TreeDigest(dst.root);
  r = RunVmigrate(Concat({"import", delta, "--no-reload"}, dst.Flags()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("example.com: importing a delta into a domain whose accounts are in MySQL"), std::string::npos)
      << r.err;
  EXPECT_EQ(Server().Rows(dst.db, "SELECT * FROM vpopmail ORDER BY pw_name"), rows);
  EXPECT_EQ(TreeDigest(dst.root), before);
}

TEST_F(MysqlRoundTripTest, DomainAlreadyInTheDatabaseIsRefused) {
  Host src = MysqlSource("real-mysql-many", src_.path());
  std::string archive = work_.path() + "/com.vma";
  ASSERT_EQ(RunVmigrate(Concat({"export", "example.com", "-o", archive}, src.Flags())).exit_code, 0);
  MakeEmptyTarget(dst_.path());
  Host dst{dst_.path(), kTargetHome, kTargetQmail, src.db};  // the source's own database
  WriteVpopmailMysql(dst_.path() + kTargetHome + "/etc/vpopmail.mysql", Server(), src.db);
  std::string rows = Server().Rows(src.db, "SELECT COUNT(*) FROM vpopmail");
  auto before = TreeDigest(dst.root);
  CommandResult r = RunVmigrate(Concat({"import", archive, "--no-reload"}, dst.Flags()));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("example.com"), std::string::npos) << r.err;
  EXPECT_EQ(Server().Rows(src.db, "SELECT COUNT(*) FROM vpopmail"), rows);
  EXPECT_EQ(TreeDigest(dst.root), before);
}

TEST_F(MysqlRoundTripTest, NarrowColumnIsRefusedNamingUsersAndColumn) {
  Host src = MysqlSource("real-mysql-many", src_.path());
  Host dst = MysqlTarget(dst_.path(), "real-mysql-perdomain");
  std::string archive = work_.path() + "/com.vma";
  ASSERT_EQ(RunVmigrate(Concat({"export", "example.com", "-o", archive}, src.Flags())).exit_code, 0);
  auto before = TreeDigest(dst.root);
  for (bool dry : {true, false}) {
    SCOPED_TRACE(dry ? "dry run" : "real run");
    std::vector<std::string> args = {"import", archive, "--no-reload"};
    if (dry) args.push_back("--dry-run");
    CommandResult r = RunVmigrate(Concat(args, dst.Flags()));
    EXPECT_EQ(r.exit_code, 8) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    for (const char* word : {"pw_passwd", "ivan", "zoe", "--mysql-widen-columns"})
      EXPECT_NE(r.err.find(word), std::string::npos) << word << " not in: " << r.err;
    EXPECT_EQ(TreeDigest(dst.root), before);
    EXPECT_FALSE(HasTable(dst, "example_com"));
    EXPECT_EQ(Server().Rows(dst.db, "SELECT COUNT(*) FROM dir_control"), "0\n");
  }
}

// a-b.example and a.b.example share the table a_b_example.
TEST_F(MysqlRoundTripTest, PerDomainTableOfAnotherDomainIsRefused) {
  Host src = MysqlSource("real-mysql-perdomain", src_.path());
  Host dst = MysqlTarget(dst_.path(), "real-mysql-perdomain");
  std::string archive = work_.path() + "/shop.vma";
  ASSERT_EQ(RunVmigrate(Concat({"export", "example-shop.com", "-o", archive}, src.Flags())).exit_code, 0);
  CommandResult r = Server().Sql(dst.db,
                                 "CREATE TABLE example_shop_com (pw_name char(32) NOT NULL, pw_passwd char(40), "
                                 "pw_uid int, pw_gid int, pw_gecos char(48), pw_dir char(160), pw_shell char(20), "
                                 "pw_clear_passwd char(16), PRIMARY KEY (pw_name));"
                                 "INSERT INTO example_shop_com VALUES ('bob', 'x', 0, 0, 'Bob', "
                                 "'/srv/vpopmail/domains/example.shop.com/bob', 'NOQUOTA', '');"
                                 "INSERT INTO dir_control (domain, cur_users) VALUES ('example.shop.com', 1)");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto before = TreeDigest(dst.root);
  r = RunVmigrate(Concat({"import", archive, "--no-reload"}, dst.Flags()));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("example_shop_com"), std::string::npos) << r.err;
  EXPECT_EQ(Server().Rows(dst.db, "SELECT pw_name FROM example_shop_com"), "bob\n");
  EXPECT_EQ(TreeDigest(dst.root), before);
}

}  // namespace
}  // namespace vmigrate::testing::cli
