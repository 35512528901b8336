// Real-server test for vpopmail's MySQL backend: a private Dovecot whose
// passdb and userdb are SQL (dovecot-mysql, driver mysql, the private
// MariaDB's unix socket) reading vpopmail's own tables, the way a toaster
// host with Dovecot in front of a vpopmail MySQL build is set up. The source
// fixture is served from its loaded database (or, for a cdb fixture, from a
// passwd-file made from vpasswd, as in dovecot_test.cc); the target is served
// from the tables `vmigrate import` wrote. Every MANIFEST user with a
// password logs in over POP3 and IMAP on both, and the UIDL lists, every
// folder's UIDVALIDITY and FETCH (UID FLAGS RFC822.SIZE INTERNALDATE), and
// all message bytes are identical. A user whose pw_passwd is empty (ivan in
// real-mysql-perdomain, a half-made account) logs in on neither.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "dovecot/dovecot_server.h"
#include "dovecot/mail_client.h"
#include "dovecot/mail_snapshot.h"
#include "support/mariadb_server.h"
#include "support/test_support.h"

namespace vmigrate::testing::dovecot {
namespace {

namespace fs = std::filesystem;
using cli::kTargetHome;
using cli::kTargetQmail;

#define SKIP_WITHOUT_DOVECOT_MYSQL()                                                                \
  do {                                                                                              \
    if (!DovecotInstalled() || access(kDovecotMysqlDriver, R_OK) != 0)                              \
      GTEST_SKIP() << "\n*** DOVECOT OR ITS MYSQL DRIVER IS NOT INSTALLED (" << kDovecotBinary      \
                   << ", " << kDovecotMysqlDriver << "): the real-server test did NOT run. Install " \
                   << "dovecot-imapd, dovecot-pop3d and dovecot-mysql (scripts/install-deps does). " \
                   << "***\n";                                                                      \
  } while (0)

constexpr const char* kDovecotMysqlDriver = "/usr/lib/dovecot/modules/auth/libdriver_mysql.so";
/// Written by the MANIFESTs in the crypt column for an empty pw_passwd.
constexpr const char* kEmptyCrypt = "(empty)";

enum class Layout { kMany, kPerDomain };

/// vpopmail's per-domain table name: every '.' and '-' becomes '_'
/// (formats §8; example-shop.com -> example_shop_com).
std::string PerDomainTable(std::string domain) {
  std::replace(domain.begin(), domain.end(), '.', '_');
  std::replace(domain.begin(), domain.end(), '-', '_');
  return domain;
}

/// A table expression with the columns pw_name, pw_domain, pw_passwd and
/// pw_dir over the accounts of `domains`: the `vpopmail` table itself
/// (many-domains), or one SELECT per domain table glued with UNION ALL
/// (one table per domain has no pw_domain column, so it is added).
std::string AccountsTable(Layout layout, const std::vector<std::string>& domains) {
  if (layout == Layout::kMany) return "vpopmail";
  std::string sql = "(";
  for (size_t i = 0; i < domains.size(); ++i) {
    if (i > 0) sql += " UNION ALL ";
    sql += "SELECT pw_name, '" + domains[i] + "' AS pw_domain, pw_passwd, pw_dir FROM `" +
           PerDomainTable(domains[i]) + "`";
  }
  return sql + ") AS accounts";
}

/// Dovecot's SQL passdb/userdb on vpopmail's tables in `db`: the password
/// is pw_passwd as a crypt, home is pw_dir (a host path; the tree sits
/// under `root`). %n and %d are escaped by Dovecot (o'brien logs in).
std::string SqlAuth(const std::string& work, const MariaDbServer& server, const std::string& db,
                    const std::string& root, Layout layout, const std::vector<std::string>& domains,
                    const DovecotIdentity& id) {
  std::string table = AccountsTable(layout, domains);
  std::string where = " WHERE pw_name = '%n' AND pw_domain = '%d'";
  std::ostringstream conf;
  conf << "# written by tests/dovecot/dovecot_mysql_test.cc\n"
       << "driver = mysql\n"
       << "connect = host=" << server.socket() << " dbname=" << db << " user=" << kDbUser
       << " password=" << kDbPassword << "\n"
       << "default_pass_scheme = CRYPT\n"
       << "password_query = SELECT CONCAT(pw_name, '@', pw_domain) AS user, pw_passwd AS password FROM " << table
       << where << "\n"
       << "user_query = SELECT CONCAT('" << root << "', pw_dir) AS home, " << id.mail_uid << " AS uid, "
       << id.mail_gid << " AS gid FROM " << table << where << "\n";
  std::string path = work + "/dovecot-sql.conf.ext";
  WriteFile(path, conf.str());
  chmod(path.c_str(), 0644);
  // Dovecot's default auth_username_chars has no apostrophe; empty allows
  // every name (the SQL driver escapes %n): o'brien exists in real data.
  return "auth_username_chars =\npassdb {\n  driver = sql\n  args = " + path + "\n}\nuserdb {\n  driver = sql\n  args = " + path +
         "\n}\n";
}

/// Lets Dovecot's auth process (the unprivileged `dovecot` user when the
/// tests run as root) reach the MariaDB socket: search permission on the
/// directories above it.
void OpenSocketPath(const std::string& socket) {
  for (fs::path p = fs::path(socket).parent_path(); p != p.parent_path(); p = p.parent_path()) {
    struct stat st;
    if (stat(p.c_str(), &st) == 0 && (st.st_mode & 0001) == 0) chmod(p.c_str(), (st.st_mode & 07777) | 0111);
  }
}

/// Every MANIFEST user of `fixture` in `domains`.
std::vector<ManifestUser> UsersOf(const std::string& fixture, const std::vector<std::string>& domains) {
  std::vector<ManifestUser> out;
  for (const auto& u : ParseManifestUsers(ReadFile(FixtureDir() + "/" + fixture + ".MANIFEST")))
    if (std::find(domains.begin(), domains.end(), u.domain) != domains.end()) out.push_back(u);
  return out;
}

/// The emails whose MANIFEST crypt column (field 6) reads kEmptyCrypt.
std::set<std::string> EmptyCryptUsers(const std::string& fixture) {
  std::set<std::string> out;
  std::istringstream in(ReadFile(FixtureDir() + "/" + fixture + ".MANIFEST"));
  std::string line;
  bool in_users = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_users = line.rfind("## users", 0) == 0;
    if (!in_users || line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = SplitTabs(line);
    if (f.size() > 5 && f[5] == kEmptyCrypt) out.insert(f[0]);
  }
  return out;
}

/// A login with `u`'s MANIFEST password must be refused over POP3 and IMAP.
void ExpectNoLogin(const DovecotServer& server, const ManifestUser& u, const std::string& where) {
  bool pop3_in = false, imap_in = false;
  try {
    Pop3Client pop(server.pop3_port());
    pop.Login(u.email, u.password);
    pop3_in = true;
    pop.Quit();
  } catch (const MailClientError&) {
  }
  try {
    ImapClient imap(server.imap_port());
    imap.Login(u.email, u.password);
    imap_in = true;
    imap.Logout();
  } catch (const MailClientError&) {
  }
  EXPECT_FALSE(pop3_in) << u.email << " (empty pw_passwd) logged in over POP3 on the " << where;
  EXPECT_FALSE(imap_in) << u.email << " (empty pw_passwd) logged in over IMAP on the " << where;
}

/// The source must really have been served: every user logged in over both
/// protocols, and some mail came back.
void ExpectHealthy(const MailSnapshot& snap, size_t users) {
  ASSERT_EQ(snap.size(), users);
  size_t messages = 0;
  for (const auto& [user, lines] : snap) {
    for (const auto& l : lines) {
      EXPECT_EQ(l.find(" ERROR "), std::string::npos) << user << ": " << l;
      if (l.rfind("pop3 uidl ", 0) == 0) ++messages;
    }
    EXPECT_FALSE(lines.empty()) << user;
  }
  EXPECT_GT(messages, 0u) << "no POP3 message at all: the comparison would prove nothing";
}

/// A vpopmail tree whose accounts are in MySQL, as Dovecot needs it.
struct MysqlTree {
  std::string root;       // the tree is under this dir
  std::string qmail;      // host path of its qmail dir
  std::string db;         // its database in the shared server
  Layout layout = Layout::kMany;
};

class DovecotMysqlTest : public ::testing::Test {
 protected:
  MariaDbServer& server_ = MariaDbServer::Shared();

  /// Serves `tree` with an SQL passdb/userdb and snapshots `users`; every
  /// user in `locked_out` must fail to log in meanwhile.
  void ServeFromSql(const MysqlTree& tree, const std::vector<std::string>& domains,
                    const std::vector<ManifestUser>& users, const std::vector<ManifestUser>& locked_out,
                    const std::string& work, const std::string& where, MailSnapshot* snapshot) {
    DovecotIdentity id = PickIdentity();
    MakeWorkDir(work);
    OpenSocketPath(server_.socket());
    std::string assign = ReadFile(tree.root + tree.qmail + "/users/assign");
    std::vector<std::string> domain_disks, maildirs;
    for (const auto& d : domains) {
      std::string dir = AssignDomainDir(assign, d);
      ASSERT_FALSE(dir.empty()) << d << " is not in " << tree.root + tree.qmail << "/users/assign";
      domain_disks.push_back(tree.root + dir);
    }
    std::string dirs = server_.Rows(
        tree.db, "SELECT pw_dir FROM " + AccountsTable(tree.layout, domains) + " ORDER BY pw_domain, pw_name");
    std::istringstream in(dirs);
    std::string dir;
    while (std::getline(in, dir))
      if (!dir.empty()) maildirs.push_back(tree.root + dir + "/Maildir");
    ASSERT_GE(maildirs.size(), users.size()) << "the accounts of " << tree.db << ":\n" << dirs;
    std::string auth = SqlAuth(work, server_, tree.db, tree.root, tree.layout, domains, id);
    ServeUsers(tree.root, auth, domain_disks, maildirs, users, work, snapshot, [&](const DovecotServer& s) {
      for (const auto& u : locked_out) ExpectNoLogin(s, u, where);
    });
  }

  /// An empty target (cli::MakeEmptyTarget) whose etc/vpopmail.mysql names
  /// a fresh, empty database.
  MysqlTree MakeMysqlTarget(Layout layout) {
    cli::MakeEmptyTarget(dst_.path());
    MysqlTree t{dst_.path(), kTargetQmail, server_.CreateDatabase("dovecot_target"), layout};
    WriteVpopmailMysql(cli::TargetHomeDisk(dst_.path()) + "/etc/vpopmail.mysql", server_, t.db);
    return t;
  }

  /// Exports each domain from the source under src_ (vpopmail home `home`,
  /// qmail dir `qmail`, backend auto) and imports it into the target.
  void Migrate(const std::string& home, const std::string& qmail, const std::vector<std::string>& domains,
               const std::vector<std::string>& import_flags) {
    for (const auto& d : domains) {
      std::string archive = work_ / (d + ".vma");
      CommandResult e = RunVmigrate(
          {"export", d, "-o", archive, "--root", src_.path(), "--vpopmail-home", home, "--qmail-dir", qmail});
      ASSERT_EQ(e.exit_code, 0) << e.err;
      CommandResult i = cli::Import(dst_.path(), archive, import_flags);
      ASSERT_EQ(i.exit_code, 0) << i.err;
    }
  }

  /// real-mysql-<layout> -> a MySQL target of `target_layout`; both served
  /// from SQL and compared.
  void ExpectMysqlServesTheSame(const std::string& fixture, Layout source_layout, Layout target_layout,
                                const std::vector<std::string>& domains, size_t expected_users,
                                size_t expected_locked_out) {
    ASSERT_TRUE(server_.ok()) << server_.error();
    std::string prefix = MysqlFixturePrefix(fixture);
    MysqlTree source{src_.path(), prefix + "/qmail", UnpackMysqlFixture(fixture, src_.path(), server_),
                     source_layout};
    ASSERT_FALSE(HasFatalFailure());
    MysqlTree target = MakeMysqlTarget(target_layout);
    // An empty database gets vpopmail 5.4's pw_passwd char(40); ivan's and
    // zoe's SHA-512 crypts in real-mysql-many (whose column was widened by
    // hand) need 5.6's width.
    Migrate(prefix + "/home/vpopmail", source.qmail, domains,
            {"--mysql-layout", target_layout == Layout::kMany ? "many" : "perdomain", "--mysql-widen-columns"});
    ASSERT_FALSE(HasFatalFailure());

    std::vector<ManifestUser> users, locked_out;
    std::set<std::string> empty = EmptyCryptUsers(fixture);
    for (const auto& u : UsersOf(fixture, domains)) (empty.count(u.email) ? locked_out : users).push_back(u);
    ASSERT_EQ(users.size(), expected_users);
    ASSERT_EQ(locked_out.size(), expected_locked_out);

    MailSnapshot from_source, from_target;
    ServeFromSql(source, domains, users, locked_out, work_ / "dovecot-source", "source", &from_source);
    ASSERT_FALSE(HasFatalFailure());
    ExpectHealthy(from_source, users.size());
    ServeFromSql(target, domains, users, locked_out, work_ / "dovecot-target", "target", &from_target);
    ASSERT_FALSE(HasFatalFailure());
    std::vector<std::string> diffs = CompareSnapshots(from_source, from_target);
    EXPECT_TRUE(diffs.empty()) << "Dovecot serves different mail after the migration:\n" << Join(diffs);
  }

  TempDir src_, dst_, work_;
};

TEST_F(DovecotMysqlTest, ManyDomainsToManyDomainsServesTheSameMail) {
  SKIP_WITHOUT_DOVECOT_MYSQL();
  ExpectMysqlServesTheSame("real-mysql-many", Layout::kMany, Layout::kMany, {"example.com", "example.net"},
                           18 + 109, 0);
}

TEST_F(DovecotMysqlTest, PerDomainToPerDomainServesTheSameMailAndIvanStaysLockedOut) {
  SKIP_WITHOUT_DOVECOT_MYSQL();
  ExpectMysqlServesTheSame("real-mysql-perdomain", Layout::kPerDomain, Layout::kPerDomain,
                           {"example-shop.com", "mail.example.net"}, 16 + 109, 1);
}

TEST_F(DovecotMysqlTest, ManyDomainsToPerDomainServesTheSameMail) {
  SKIP_WITHOUT_DOVECOT_MYSQL();
  ExpectMysqlServesTheSame("real-mysql-many", Layout::kMany, Layout::kPerDomain, {"example.com", "example.net"},
                           18 + 109, 0);
}

TEST_F(DovecotMysqlTest, PerDomainToManyDomainsServesTheSameMail) {
  SKIP_WITHOUT_DOVECOT_MYSQL();
  ExpectMysqlServesTheSame("real-mysql-perdomain", Layout::kPerDomain, Layout::kMany,
                           {"example-shop.com", "mail.example.net"}, 16 + 109, 1);
}

/// cdb -> MySQL: the source is served from a passwd-file made from its
/// vpasswd files, the target from the rows the import wrote.
TEST_F(DovecotMysqlTest, CdbRealSmallToMysqlServesTheSameMail) {
  SKIP_WITHOUT_DOVECOT_MYSQL();
  ASSERT_TRUE(server_.ok()) << server_.error();
  const std::vector<std::string> domains = {"example.com", "example.net"};
  UnpackFixture("real-small", src_.path());
  ASSERT_FALSE(HasFatalFailure());
  MysqlTree target = MakeMysqlTarget(Layout::kMany);
  // real-small's ivan has a SHA-512 crypt: an empty database gets vpopmail
  // 5.4's pw_passwd char(40), which cannot hold it.
  Migrate(kFixtureVpopmailHome, kFixtureQmailDir, domains, {"--mysql-widen-columns"});
  ASSERT_FALSE(HasFatalFailure());
  std::vector<ManifestUser> users = UsersOf("real-small", domains);
  ASSERT_EQ(users.size(), 17u);

  MailSnapshot from_source, from_target;
  ServeAndSnapshot(src_.path(), kFixtureQmailDir, users, work_ / "dovecot-source", &from_source);
  ASSERT_FALSE(HasFatalFailure());
  ExpectHealthy(from_source, users.size());
  ServeFromSql(target, domains, users, {}, work_ / "dovecot-target", "target", &from_target);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::string> diffs = CompareSnapshots(from_source, from_target);
  EXPECT_TRUE(diffs.empty()) << "Dovecot serves different mail after the migration:\n" << Join(diffs);
}

}  // namespace
}  // namespace vmigrate::testing::dovecot
