// Crash safety on a MySQL target (issue 16): the importer is killed with
// SIGKILL (VMIGRATE_CRASH_AT=N, lib/core/crash_point.h) at every crash
// point of an import of real-small example.com into a target whose
// vpopmail.mysql names a private MariaDB database (support/mariadb_server.h).
// The commit order there is journal -> domain dir -> one SQL transaction
// (users, dir_control row, dom_<uid>) -> control files. After each kill a
// mail server must see the domain either absent or complete, any state in
// between covered by the journal; the next run must recover (taking the
// rows back through the journal) and complete the import, leaving exactly
// the files and rows of one clean import.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "safety/safety_support.h"
#include "support/mariadb_server.h"
#include "support/test_support.h"

namespace vmigrate::testing::safety {
namespace {

constexpr int kMaxMysqlCrashPoints = 48;
const std::string kMysqlConfig = "srv/vpopmail/etc/vpopmail.mysql";

MariaDbServer& Server() { return MariaDbServer::Shared(); }

// A target whose vpopmail.mysql names a new database holding only the
// many-domains user table with vpopmail 5.6's widths (real-small's SHA-512
// crypts do not fit 5.4's pw_passwd char(40)).
std::string MakeMysqlTarget(const std::string& root) {
  cli::MakeEmptyTarget(root);
  std::string db = Server().CreateDatabase("crash");
  CommandResult made = Server().Sql(
      db, "CREATE TABLE vpopmail (pw_name varchar(64) NOT NULL, pw_domain varchar(96) NOT NULL, "
          "pw_passwd varchar(128), pw_uid int, pw_gid int, pw_gecos varchar(64), pw_dir varchar(160), "
          "pw_shell varchar(20), pw_clear_passwd varchar(128), PRIMARY KEY (pw_name, pw_domain))");
  EXPECT_EQ(made.exit_code, 0) << made.err;
  WriteVpopmailMysql(root + "/" + kMysqlConfig, Server(), db);
  return db;
}

// The rows an import leaves (every table vpopmail keeps, in a stable order).
std::string DbView(const std::string& db) {
  std::string out;
  for (const std::string& t : cli::Lines(Server().Rows(db, "SHOW TABLES")))
    out += "## " + t + "\n" + Server().Rows(db, "SELECT * FROM `" + t + "` ORDER BY 1, 2");
  return out;
}

// ContentView without vpopmail.mysql (it names each test's own database).
std::map<std::string, std::string> Content(const std::string& root) {
  auto view = ContentView(root);
  view.erase(kMysqlConfig);
  return view;
}

bool UserRows(const std::string& db) {
  std::string tables = Server().Rows(db, "SHOW TABLES LIKE 'vpopmail'");
  return !tables.empty() && Server().Rows(db, "SELECT COUNT(*) FROM vpopmail") != "0\n";
}

struct MysqlCrashShared {
  std::unique_ptr<TempDir> src, work, reference;
  std::string com;
  std::vector<std::string> points;
  std::map<std::string, std::string> ref;
  std::string ref_db;
  std::string error;
  int IndexOf(const std::string& name) const {
    for (size_t i = 0; i < points.size(); ++i)
      if (points[i] == name) return static_cast<int>(i) + 1;
    return -1;
  }
};

MysqlCrashShared* g_mysql = nullptr;

void SetUpMysqlShared() {
  if (g_mysql) return;
  g_mysql = new MysqlCrashShared;
  MysqlCrashShared& s = *g_mysql;
  if (!Server().ok()) {
    s.error = "MariaDB test server: " + Server().error();
    return;
  }
  s.src = std::make_unique<TempDir>();
  s.work = std::make_unique<TempDir>();
  s.reference = std::make_unique<TempDir>();
  UnpackFixture("real-small", s.src->path());
  s.com = *s.work / "com.vma";
  CommandResult r = cli::Export(s.src->path(), "example.com", s.com);
  if (r.exit_code != 0) s.error += "export example.com: " + r.err;
  if (!s.error.empty()) return;

  TempDir listed;
  MakeMysqlTarget(listed.path());
  r = ImportWithEnv(listed.path(), s.com, {"VMIGRATE_CRASH_LIST=1"});
  if (r.exit_code != 0) s.error += "import with VMIGRATE_CRASH_LIST=1: " + r.err;
  const std::string tag = "vmigrate: crash point ";
  for (const auto& line : cli::Lines(r.err)) {
    if (line.rfind(tag, 0) != 0) continue;
    size_t colon = line.find(": ", tag.size());
    s.points.push_back(line.substr(colon + 2));
  }

  s.ref_db = MakeMysqlTarget(s.reference->path());
  r = cli::Import(s.reference->path(), s.com);
  if (r.exit_code != 0) s.error += "clean import: " + r.err;
  s.ref = Content(s.reference->path());
}

class SafetyCrashMysqlTest : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() { SetUpMysqlShared(); }
  static void TearDownTestSuite() {
    delete g_mysql;
    g_mysql = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g_mysql->error.empty()) << g_mysql->error; }
};

TEST_F(SafetyCrashMysqlTest, TheSqlStepHasItsCrashPointsAndNoDirControlFile) {
  const MysqlCrashShared& s = *g_mysql;
  EXPECT_LE(s.points.size(), static_cast<size_t>(kMaxMysqlCrashPoints)) << "raise kMaxMysqlCrashPoints";
  int renamed = s.IndexOf("domain dir renamed into place");
  int rows = s.IndexOf("rows committed");
  int control = s.IndexOf("control files written");
  EXPECT_GT(renamed, s.IndexOf("journal written"));
  EXPECT_GT(rows, renamed);
  EXPECT_GT(control, rows);
  EXPECT_EQ(s.IndexOf("domains/.dir-control written"), -1);
  EXPECT_TRUE(UserRows(s.ref_db));
  EXPECT_EQ(s.ref.count("srv/vpopmail/domains/.dir-control"), 0u);
  EXPECT_EQ(s.ref.count("srv/vpopmail/domains/example.com/vpasswd"), 0u);
}

TEST_P(SafetyCrashMysqlTest, KillAtPointThenImportAgain) {
  const MysqlCrashShared& s = *g_mysql;
  const int n = GetParam();
  if (n > static_cast<int>(s.points.size()))
    GTEST_SKIP() << "this import has only " << s.points.size() << " crash points";
  SCOPED_TRACE("crash point " + std::to_string(n) + ": " + s.points[n - 1]);
  const int journal_at = s.IndexOf("journal written");
  const int rows_at = s.IndexOf("rows committed");
  const int done_at = s.IndexOf("journal removed");
  ASSERT_GT(journal_at, 0);
  ASSERT_GT(rows_at, journal_at);

  TempDir dst;
  std::string db = MakeMysqlTarget(dst.path());
  const auto original = LiveView(dst.path());
  CommandResult killed = ImportWithEnv(dst.path(), s.com, {"VMIGRATE_CRASH_AT=" + std::to_string(n)});
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "not killed at point " << n << "\n" << killed.err;

  const bool journal = fs::exists(JournalPath(dst.path(), "example.com"));
  DomainState com = StateOf(dst.path(), "example.com");
  if (com.in_assign || com.in_cdb) {
    EXPECT_TRUE(com.present && UserRows(db)) << "registered with qmail without its dir or its rows: " << com.str();
  }
  if (n < journal_at) {
    EXPECT_FALSE(journal);
    EXPECT_FALSE(UserRows(db)) << "rows before the journal";
    EXPECT_SAME_TREE(original, LiveView(dst.path())) << "killed before the journal, yet the target changed";
  } else if (n < done_at) {
    EXPECT_TRUE(journal) << "killed during the commit with no journal";
    EXPECT_EQ(UserRows(db), n >= rows_at);
  } else {
    EXPECT_FALSE(journal);
  }

  CommandResult again = cli::Import(dst.path(), s.com);
  if (n == done_at) {
    EXPECT_EQ(again.exit_code, 5) << again.err;
  } else {
    EXPECT_EQ(again.exit_code, 0) << again.err;
    if (journal) {
      EXPECT_NE(again.err.find("rolled back an interrupted earlier import"), std::string::npos) << again.err;
    }
  }
  EXPECT_SAME_TREE(s.ref, Content(dst.path())) << "after the second run the files differ from one clean import";
  EXPECT_EQ(DbView(db), DbView(s.ref_db)) << "after the second run the rows differ from one clean import";
  EXPECT_EQ(Leftovers(dst.path()), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(SafetyCrashMysql, SafetyCrashMysqlTest, ::testing::Range(1, kMaxMysqlCrashPoints + 1));

}  // namespace
}  // namespace vmigrate::testing::safety
