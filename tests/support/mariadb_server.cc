#include "support/mariadb_server.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

namespace vmigrate::testing {
namespace fs = std::filesystem;

namespace {

std::string RunUser() {
  struct passwd* pw = getpwuid(geteuid());
  return pw != nullptr ? pw->pw_name : "root";
}

}  // namespace

MariaDbServer& MariaDbServer::Shared() {
  static MariaDbServer server;  // stopped by its destructor at exit
  return server;
}

MariaDbServer::MariaDbServer() {
  // A unix socket path must fit in 108 bytes: keep it short.
  char tmpl[] = "/tmp/vmdb.XXXXXX";
  std::string base = mkdtemp(tmpl) != nullptr ? tmpl : dir_.path();
  socket_ = base + "/s.sock";
  const std::string data = dir_.path() + "/data";
  const std::string log = dir_.path() + "/error.log";
  // Its own tmpdir: servers bootstrapping at once in a shared /tmp clash on
  // their temporary tables ("Unknown table 'mysql.tmp_user_sys'").
  const std::string tmp = dir_.path() + "/tmp";
  fs::create_directories(tmp);
  CommandResult init = RunCommand({"mariadb-install-db", "--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp,
                                   "--auth-root-authentication-method=normal", "--user=" + RunUser(),
                                   "--skip-test-db"});
  if (init.exit_code != 0) {
    error_ = "mariadb-install-db failed (is mariadb-server installed?): " + init.out + init.err;
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the test process
    std::string a[] = {"/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp, "--socket=" + socket_,
                       "--skip-networking", "--pid-file=" + dir_.path() + "/mariadbd.pid",
                       "--log-error=" + log, "--user=" + RunUser(), "--innodb-buffer-pool-size=32M"};
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  for (int i = 0; i < 1200; ++i) {  // up to 60 s on a loaded machine
    if (fs::exists(socket_) &&
        RunCommand({"mariadb", "--no-defaults", "-S", socket_, "-uroot", "-e", "SELECT 1"}).exit_code == 0)
      return;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  error_ = "mariadbd did not start: " + ReadFile(log);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

MariaDbServer::~MariaDbServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(fs::path(socket_).parent_path(), ec);
}

std::string MariaDbServer::CreateDatabase(const std::string& hint) {
  std::string db;
  for (char c : hint) db += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  db = db.substr(0, 40) + "_" + std::to_string(getpid()) + "_" + std::to_string(++databases_);
  std::string sql = "DROP DATABASE IF EXISTS `" + db + "`; CREATE DATABASE `" + db + "`; " +
                    "CREATE USER IF NOT EXISTS '" + kDbUser + "'@'localhost' IDENTIFIED BY '" + kDbPassword +
                    "'; GRANT ALL PRIVILEGES ON `" + db + "`.* TO '" + kDbUser + "'@'localhost';";
  CommandResult r = Sql("", sql);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return db;
}

CommandResult MariaDbServer::Sql(const std::string& db, const std::string& sql) {
  std::vector<std::string> argv = {"mariadb", "--no-defaults", "-S", socket_, "-uroot", "-e", sql};
  if (!db.empty()) argv.push_back(db);
  return RunCommand(argv);
}

CommandResult MariaDbServer::LoadDump(const std::string& db, const std::string& dump_path) {
  return RunCommand({"mariadb", "--no-defaults", "-S", socket_, "-uroot", db}, dump_path);
}

std::string MariaDbServer::Rows(const std::string& db, const std::string& query) {
  CommandResult r = RunCommand({"mariadb", "--no-defaults", "-S", socket_, "-uroot", "-N", "-B", "-e", query, db});
  EXPECT_EQ(r.exit_code, 0) << query << ": " << r.err;
  return r.out;
}

std::string MysqlFixturePrefix(const std::string& name) {
  return name == "real-mysql-perdomain" ? "/tmp/realvpp" : "/tmp/realvpm";
}

void WriteVpopmailMysql(const std::string& path, const MariaDbServer& server, const std::string& db) {
  fs::create_directories(fs::path(path).parent_path());
  WriteFile(path, "# written by the test harness (vpopmail.mysql format)\nlocalhost|" + server.socket() + "|" +
                      kDbUser + "|" + kDbPassword + "|" + db + "\n");
}

std::string UnpackMysqlFixture(const std::string& name, const std::string& root, MariaDbServer& server) {
  std::string tarball = FixtureDir() + "/" + name + ".tar.gz";
  if (!fs::exists(tarball)) {
    ADD_FAILURE() << "fixture " << tarball << " missing";
    return "";
  }
  if (!server.ok()) {
    ADD_FAILURE() << "MariaDB test server: " << server.error();
    return "";
  }
  std::string dest = root + MysqlFixturePrefix(name);
  fs::create_directories(dest);
  CommandResult r = RunCommand({"tar", "-xzpf", tarball, "-C", dest});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string db = server.CreateDatabase(name);
  r = server.LoadDump(db, dest + "/mysql/vpopmail.sql");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  WriteVpopmailMysql(dest + "/home/vpopmail/etc/vpopmail.mysql", server, db);
  return db;
}

}  // namespace vmigrate::testing
