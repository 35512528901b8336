// End to end on the two real MySQL-backend fixtures (vpopmail 5.4.33 with
// --enable-auth-module=mysql, support/mariadb_server.h): export, inspect,
// list, verify against the source itself, state and export --since, export
// --all, a wrong database password; the database password never appears in
// any output, JSON or archive.
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "support/mariadb_server.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

using Json = nlohmann::json;

struct MysqlCase {
  const char* fixture;
  const char* layout;     // what the manifest and list say
  const char* domain;     // the fixture's first domain
  const char* other;      // its second domain
  size_t users, other_users;
};

const MysqlCase kMany = {"real-mysql-many", "many", "example.com", "example.net", 18, 109};
const MysqlCase kPerDomain = {"real-mysql-perdomain", "perdomain", "example-shop.com", "mail.example.net", 17, 109};

// A source host made from one MySQL fixture, and how to run vmigrate on it.
class MysqlSourceHost {
 protected:
  void Load(const MysqlCase& c) {
    db_ = UnpackMysqlFixture(c.fixture, src_.path(), server());
    ASSERT_FALSE(db_.empty());
    prefix_ = MysqlFixturePrefix(c.fixture);
  }
  static MariaDbServer& server() { return MariaDbServer::Shared(); }

  std::vector<std::string> Flags() const {
    return {"--root", src_.path(), "--vpopmail-home", prefix_ + "/home/vpopmail", "--qmail-dir", prefix_ + "/qmail"};
  }
  // Runs vmigrate with the source flags; every output is checked for the password.
  CommandResult Vm(std::vector<std::string> args) {
    // inspect reads only the archive: it takes no host flags.
    const bool host = args[0] != "inspect";
    CommandResult r = RunVmigrate(host ? Concat(std::move(args), Flags()) : std::move(args));
    ExpectNoPassword(r.out, "stdout");
    ExpectNoPassword(r.err, "stderr");
    return r;
  }
  static void ExpectNoPassword(const std::string& text, const std::string& what) {
    EXPECT_EQ(text.find(kDbPassword), std::string::npos) << what << " shows the database password";
  }
  // An uncompressed export, so its bytes can be searched and read with tar.
  CommandResult Export(const std::vector<std::string>& what, const std::string& archive) {
    CommandResult r = Vm(Concat(Concat({"export"}, what), {"-o", archive, "--compress", "none"}));
    if (r.exit_code == 0) ExpectNoPassword(ReadFile(archive), archive);
    return r;
  }
  static std::string Member(const std::string& archive, const std::string& member) {
    CommandResult r = RunCommand({"tar", "-xOf", archive, member});
    EXPECT_EQ(r.exit_code, 0) << member << ": " << r.err;
    return r.out;
  }
  static std::string Members(const std::string& archive) {
    CommandResult r = RunCommand({"tar", "-tvf", archive});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  TempDir src_, work_;
  std::string db_, prefix_;
};

class MysqlExportTest : public MysqlSourceHost, public ::testing::TestWithParam<MysqlCase> {
 protected:
  void SetUp() override { Load(GetParam()); }
};

TEST_P(MysqlExportTest, ExportInspectListAndVerifyAgainstTheSource) {
  const MysqlCase& c = GetParam();
  const std::string archive = work_ / "d.tar";
  CommandResult e = Export({c.domain, "--json"}, archive);
  ASSERT_EQ(e.exit_code, 0) << e.err << e.out;

  // The manifest names the backend and layout; pw_uid stays as MySQL wrote it.
  std::string manifest = Member(archive, "manifest.yaml");
  EXPECT_NE(manifest.find("backend: \"mysql\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find(std::string("mysql_layout: \"") + c.layout + "\""), std::string::npos);
  EXPECT_NE(manifest.find("uid: \"0\""), std::string::npos);
  EXPECT_EQ(manifest.find("uid: \"1\""), std::string::npos);
  EXPECT_EQ(Members(archive).find("vpopmail.mysql"), std::string::npos);

  CommandResult i = Vm({"inspect", archive, "--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  Json ij = Json::parse(i.out);
  EXPECT_EQ(ij["source"]["backend"], "mysql");
  EXPECT_EQ(ij["source"]["mysql_layout"], c.layout);
  EXPECT_EQ(ij["users"], c.users);
  CommandResult it = Vm({"inspect", archive});
  ASSERT_EQ(it.exit_code, 0) << it.err;
  EXPECT_NE(it.out.find(std::string("user backend:   mysql (") +
                        (std::string(c.layout) == "many" ? "one vpopmail table for all domains)" : "one table per domain)")),
            std::string::npos) << it.out;

  CommandResult l = Vm({"list", "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  Json lj = Json::parse(l.out);
  ASSERT_EQ(lj["domains"].size(), 2u) << l.out;
  EXPECT_EQ(lj["domains"][0]["domain"], c.domain);
  EXPECT_EQ(lj["domains"][0]["users"], c.users);
  EXPECT_EQ(lj["domains"][1]["users"], c.other_users);
  for (const auto& d : lj["domains"]) {
    EXPECT_EQ(d["backend"], "mysql");
    EXPECT_EQ(d["mysql_layout"], c.layout);
  }
  CommandResult lt = Vm({"list"});
  EXPECT_NE(lt.out.find(std::string("mysql/") + c.layout), std::string::npos) << lt.out;

  // The archive against the host it came from: nothing differs, also the
  // files the store keeps as rows (compared by content) and pw_uid.
  CommandResult v = Vm({"verify", archive});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("no differences"), std::string::npos) << v.out;
  CommandResult vj = Vm({"verify", archive, "--json"});
  EXPECT_EQ(vj.exit_code, 0) << vj.out << vj.err;
}

TEST_P(MysqlExportTest, WrongPasswordFailsWithOneLineNamingTheSocket) {
  WriteFile(src_.path() + prefix_ + "/home/vpopmail/etc/vpopmail.mysql",
            "localhost|" + server().socket() + "|" + kDbUser + "|Not-the-pw-99|" + db_ + "\n");
  const std::string archive = work_ / "d.tar";
  CommandResult e = Export({GetParam().domain}, archive);
  EXPECT_EQ(e.exit_code, 1) << e.err;
  EXPECT_FALSE(fs::exists(archive));
  EXPECT_EQ(std::count(e.err.begin(), e.err.end(), '\n'), 1) << e.err;
  EXPECT_NE(e.err.find("socket " + server().socket()), std::string::npos) << e.err;
  EXPECT_EQ(e.err.find("Not-the-pw-99"), std::string::npos) << e.err;
  CommandResult j = Vm({"export", GetParam().domain, "-o", work_ / "j.tar", "--json"});
  EXPECT_EQ(j.exit_code, 1);
  EXPECT_EQ(j.out.find("Not-the-pw-99") + j.err.find("Not-the-pw-99"), 2 * std::string::npos);
  CommandResult l = Vm({"list", "--json"});
  EXPECT_EQ(l.exit_code, 1);
  EXPECT_NE(l.err.find("socket " + server().socket()), std::string::npos) << l.err;
}

TEST_P(MysqlExportTest, StateIsStableAndADeltaCarriesAChangedRow) {
  const MysqlCase& c = GetParam();
  ASSERT_EQ(Vm({"state", c.domain, "-o", work_ / "s1"}).exit_code, 0);
  ASSERT_EQ(Vm({"state", c.domain, "-o", work_ / "s2"}).exit_code, 0);
  std::string s1 = ReadFile(work_ / "s1");
  // pw_uid in the cdb form, like a state of a cdb host (state-format.md).
  EXPECT_NE(s1.find("\tpostmaster\t"), std::string::npos);
  EXPECT_EQ(s1.substr(s1.find("\ndigest")), ReadFile(work_ / "s2").substr(ReadFile(work_ / "s2").find("\ndigest")));

  // Nothing changed: the delta carries no file.
  CommandResult none = Export({c.domain, "--since", work_ / "s1"}, work_ / "none.tar");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(Members(work_ / "none.tar").find("/files/"), std::string::npos) << Members(work_ / "none.tar");

  // A password changes in the database: the delta counts a changed user.
  std::string table = std::string(c.layout) == "many" ? "vpopmail" : "example_shop_com";
  std::string where = std::string(c.layout) == "many" ? " AND pw_domain = 'example.com'" : "";
  ASSERT_EQ(server().Sql(db_, "UPDATE " + table + " SET pw_clear_passwd = 'New-pw-1' WHERE pw_name = 'bob'" + where)
                .exit_code, 0);
  CommandResult d = Export({c.domain, "--since", work_ / "s1", "--json"}, work_ / "d1.tar");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  CommandResult di = Vm({"inspect", work_ / "d1.tar", "--json"});
  ASSERT_EQ(di.exit_code, 0) << di.err;
  Json dj = Json::parse(di.out);
  EXPECT_EQ(dj["backend"], "mysql");
  EXPECT_EQ(dj["domains"][0]["users_changed"], 1);
}

TEST_P(MysqlExportTest, ServerBackupCarriesEveryDomainButNeverTheDatabasePassword) {
  const MysqlCase& c = GetParam();
  const std::string archive = work_ / "all.tar";
  CommandResult e = Export({"--all"}, archive);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::string members = Members(archive);
  EXPECT_NE(members.find(std::string("domains/") + c.domain + "/users/postmaster"), std::string::npos);
  EXPECT_NE(members.find(std::string("domains/") + c.other + "/users/postmaster"), std::string::npos);
  EXPECT_NE(members.find("server/vpopmail/etc/vlimits.default"), std::string::npos) << members;
  EXPECT_EQ(members.find("vpopmail.mysql"), std::string::npos) << members;
  CommandResult v = Vm({"verify", archive});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MysqlExportTest, ::testing::Values(kMany, kPerDomain),
                         [](const ::testing::TestParamInfo<MysqlCase>& p) {
                           return std::string(p.param.layout);
                         });

// real-mysql-many keeps aliases in valias and limits in the limits table:
// the archive carries them as the files a cdb host has.
class MysqlManyStoreFilesTest : public MysqlSourceHost, public ::testing::Test {
 protected:
  void SetUp() override { Load(kMany); }
};

TEST_F(MysqlManyStoreFilesTest, ValiasAndLimitsRowsBecomeDomainFiles) {
  const std::string archive = work_ / "d.tar";
  ASSERT_EQ(Export({"example.com"}, archive).exit_code, 0);
  const std::string files = "domains/example.com/files/";
  EXPECT_EQ(Member(archive, files + ".qmail-info"), "alice@example.com\n");
  EXPECT_EQ(Member(archive, files + ".qmail-sales"), "bob@example.com\ncarol@example.com\norders@partner.test\n");
  EXPECT_EQ(Member(archive, files + ".qmail-first:last"), "dave@example.com\n");
  EXPECT_EQ(Member(archive, files + ".qmail-sean"), "o'brien@example.com\n");
  // Paths into the domain become placeholders, as in a real file.
  std::string carol = Member(archive, files + ".qmail-carol");
  EXPECT_EQ(carol.rfind("&carol.chen@gmail.test\n@@VMIGRATE:", 0), 0u) << carol;
  EXPECT_EQ(carol.find("/tmp/realvpm"), std::string::npos) << carol;
  std::string limits = Member(archive, files + ".qmailadmin-limits");
  EXPECT_NE(limits.find("maxpopaccounts: 50"), std::string::npos) << limits;
  std::string listing = Members(archive);
  EXPECT_NE(listing.find("-rw------- "), std::string::npos);
  EXPECT_NE(listing.find("-rw-r--r-- "), std::string::npos);
  std::string manifest = Member(archive, "manifest.yaml");
  EXPECT_NE(manifest.find("\"files/.qmail-carol\""), std::string::npos) << manifest;  // rewritten_files
  EXPECT_NE(manifest.find("\".qmail-first:last\""), std::string::npos);              // domain_files

  // Two exports of the same data are the same archive (mtimes from the domain dir).
  ASSERT_EQ(Export({"example.com"}, work_ / "again.tar").exit_code, 0);
  EXPECT_EQ(Members(archive), Members(work_ / "again.tar"));

  // A changed valias row is a difference for verify, by content.
  ASSERT_EQ(server().Sql(db_, "UPDATE valias SET valias_line = 'bob@example.com' WHERE alias = 'info'").exit_code, 0);
  CommandResult v = Vm({"verify", archive});
  EXPECT_EQ(v.exit_code, 3) << v.out << v.err;
  EXPECT_NE(v.out.find(".qmail-info: differs from the rows the user store keeps for it"), std::string::npos) << v.out;
}

}  // namespace
}  // namespace vmigrate::testing::cli
