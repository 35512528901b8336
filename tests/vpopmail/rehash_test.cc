// Re-hashing weak hashes (vpopmail/rehash.h) on copies of the real
// vpopmail 5.4.33 trees: cdb (real-small) and MySQL (real-mysql-many, whose
// pw_passwd an admin widened to char(128); real-mysql-perdomain, still
// char(40)).
#include "vpopmail/rehash.h"

#include <gtest/gtest.h>

#include <map>

#include "support/mariadb_server.h"
#include "support/test_support.h"
#include "vpopmail/password.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::vpopmail {
namespace {

using vmigrate::testing::MariaDbServer;
using vmigrate::testing::MysqlFixturePrefix;
using vmigrate::testing::ReadFile;
using vmigrate::testing::TempDir;
using vmigrate::testing::UnpackFixture;
using vmigrate::testing::UnpackMysqlFixture;

class RehashCdbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", root_.path());
    paths_.root = root_.path();
    paths_.vpopmail_home = vmigrate::testing::kFixtureVpopmailHome;
    paths_.qmail_dir = vmigrate::testing::kFixtureQmailDir;
    dir_ = root_.path() + paths_.vpopmail_home + "/domains/example.com";
  }
  std::map<std::string, VpasswdEntry> Users() {
    auto users = ReadVpasswd(dir_ + "/vpasswd");
    EXPECT_TRUE(users.ok()) << users.status().message();
    std::map<std::string, VpasswdEntry> out;
    if (users.ok())
      for (const auto& e : *users) out[e.name] = e;
    return out;
  }
  // The value vchkpw reads for `name`: vpasswd.cdb must agree with vpasswd.
  std::string CdbValue(const std::string& name) {
    return vmigrate::testing::CdbLookup(dir_ + "/vpasswd.cdb", name).value_or("<absent>");
  }

  TempDir root_;
  HostPaths paths_;
  std::string dir_;
};

TEST_F(RehashCdbTest, AnMd5HashBecomesSha512ThatVerifiesTheSamePasswordInVpasswdAndCdb) {
  const auto before = Users();
  const std::string text_before = ReadFile(dir_ + "/vpasswd");
  auto r = RehashUser(paths_, "alice@example.com", "Alice#2023");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->outcome, RehashOutcome::kRehashed);
  EXPECT_EQ(r->old_scheme, "md5");
  EXPECT_EQ(r->backend, "cdb");
  auto after = Users();
  const VpasswdEntry& alice = after.at("alice");
  EXPECT_EQ(alice.passwd.rfind("$6$", 0), 0u) << alice.passwd;
  EXPECT_TRUE(CryptMatches("Alice#2023", alice.passwd));
  EXPECT_FALSE(CryptMatches("Alice#2024", alice.passwd));
  // Every other field, the cleartext field included, and every other user stay.
  VpasswdEntry expected = before.at("alice");
  expected.passwd = alice.passwd;
  EXPECT_EQ(alice, expected);
  for (const auto& [name, e] : before) {
    if (name == "alice") continue;
    EXPECT_EQ(after.at(name), e) << name;
  }
  // The order of the lines is kept (vauth_setpw rewrites in place).
  std::string old_line = FormatVpasswdLine(before.at("alice")), new_line = FormatVpasswdLine(alice);
  std::string text = text_before;
  text.replace(text.find(old_line), old_line.size(), new_line);
  EXPECT_EQ(ReadFile(dir_ + "/vpasswd"), text);
  EXPECT_EQ(CdbValue("alice"), new_line.substr(new_line.find(':') + 1));
  // A second run finds nothing weak.
  auto again = RehashUser(paths_, "alice@example.com", "Alice#2023");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, RehashOutcome::kNotWeak);
}

TEST_F(RehashCdbTest, AWrongPasswordAStrongHashOrAnUnknownUserChangeNothing) {
  const std::string vpasswd = ReadFile(dir_ + "/vpasswd");
  const std::string cdb = ReadFile(dir_ + "/vpasswd.cdb");
  auto wrong = RehashUser(paths_, "bob@example.com", "b0b-the-builder!");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->outcome, RehashOutcome::kPasswordMismatch);
  auto strong = RehashUser(paths_, "ivan@example.com", "ivan-sha512");
  ASSERT_TRUE(strong.ok());
  EXPECT_EQ(strong->outcome, RehashOutcome::kNotWeak);
  auto nobody = RehashUser(paths_, "nobody@example.com", "x");
  ASSERT_TRUE(nobody.ok());
  EXPECT_EQ(nobody->outcome, RehashOutcome::kNoSuchUser);
  EXPECT_EQ(ReadFile(dir_ + "/vpasswd"), vpasswd);
  EXPECT_EQ(ReadFile(dir_ + "/vpasswd.cdb"), cdb);
  auto no_domain = RehashUser(paths_, "bob@nowhere.example", "x");
  EXPECT_EQ(no_domain.status().code(), Status::Code::kNotFound);
  EXPECT_NE(no_domain.status().message().find("bob@nowhere.example"), std::string::npos);
  EXPECT_EQ(RehashUser(paths_, "bob", "x").status().code(), Status::Code::kInvalidInput);
}

TEST_F(RehashCdbTest, DesAndAnAliasDomainAndUpperCaseAreFoundAsVchkpwFindsThem) {
  // judy has a DES hash and no stored cleartext; example.org is an alias of example.com.
  const VpasswdEntry before = Users().at("judy");
  auto r = RehashUser(paths_, "JUDY@Example.ORG", "judydes8");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->outcome, RehashOutcome::kRehashed);
  EXPECT_EQ(r->old_scheme, "des");
  EXPECT_EQ(r->address, "judy@example.com");
  auto judy = Users().at("judy");
  EXPECT_TRUE(CryptMatches("judydes8", judy.passwd));
  EXPECT_EQ(judy.passwd.size(), 106u);
  VpasswdEntry expected = before;  // the (empty) cleartext field stays as it was
  expected.passwd = judy.passwd;
  EXPECT_EQ(judy, expected);
}

TEST_F(RehashCdbTest, ALineTooLongForTheHostsVpopmailIsRefusedAndKept) {
  const std::string vpasswd = ReadFile(dir_ + "/vpasswd");
  RehashLimits limits;
  limits.vpasswd_line_max = 150;  // alice's line fits with the MD5 hash, not with 72 more bytes
  auto r = RehashUser(paths_, "alice@example.com", "Alice#2023", limits);
  ASSERT_EQ(r.status().code(), Status::Code::kDataRefused);
  EXPECT_NE(r.status().message().find("alice@example.com: not re-hashed: "), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("Alice#2023"), std::string::npos);  // no password in messages
  EXPECT_EQ(ReadFile(dir_ + "/vpasswd"), vpasswd);
}

TEST_F(RehashCdbTest, WeakUsersWithAStoredCleartextAreRehashedTheOthersLeftWithAReason) {
  auto loc = qmail::LocateDomain(paths_, "example.com");
  ASSERT_TRUE(loc.ok());
  const auto before = Users();
  auto results = RehashWeakUsers(paths_, *loc, {});
  ASSERT_TRUE(results.ok()) << results.status().message();
  std::map<std::string, WeakUserResult> by_name;
  for (const auto& r : *results) by_name[r.name] = r;
  EXPECT_EQ(by_name.count("ivan"), 0u);  // SHA-512 already
  ASSERT_EQ(by_name.count("judy"), 1u);
  EXPECT_FALSE(by_name["judy"].rehashed);
  EXPECT_EQ(by_name["judy"].scheme, "des");
  EXPECT_EQ(by_name["judy"].reason, "no cleartext stored");
  auto after = Users();
  size_t rehashed = 0;
  for (const auto& [name, r] : by_name) {
    if (!r.rehashed) continue;
    ++rehashed;
    EXPECT_TRUE(CryptMatches(before.at(name).clear, after.at(name).passwd)) << name;
    EXPECT_EQ(after.at(name).passwd.rfind("$6$", 0), 0u) << name;
    std::string line = FormatVpasswdLine(after.at(name));
    EXPECT_EQ(CdbValue(name), line.substr(line.find(':') + 1)) << name;
  }
  EXPECT_EQ(rehashed, 11u);  // the 13 accounts less ivan (SHA-512) and judy (no cleartext)
  EXPECT_EQ(after.at("judy"), before.at("judy"));
  // `only` limits it to the named users.
  TempDir other;
  UnpackFixture("real-small", other.path());
  HostPaths p2 = paths_;
  p2.root = other.path();
  auto some = RehashWeakUsers(p2, *loc, {"bob", "judy"});
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->size(), 2u);
}

class RehashMysqlTest : public ::testing::Test {
 protected:
  void Load(const std::string& name) {
    db_ = UnpackMysqlFixture(name, root_.path(), MariaDbServer::Shared());
    ASSERT_FALSE(db_.empty());
    std::string prefix = MysqlFixturePrefix(name);
    paths_.root = root_.path();
    paths_.vpopmail_home = prefix + "/home/vpopmail";
    paths_.qmail_dir = prefix + "/qmail";
  }
  std::string Rows(const std::string& q) { return MariaDbServer::Shared().Rows(db_, q); }
  TempDir root_;
  std::string db_;
  HostPaths paths_;
};

TEST_F(RehashMysqlTest, TheRowGetsASha512HashWhenItStillHoldsTheOldOne) {
  Load("real-mysql-many");
  const std::string others = Rows("SELECT pw_name, pw_passwd FROM vpopmail WHERE pw_name <> 'alice' ORDER BY pw_name, pw_domain");
  auto r = RehashUser(paths_, "alice@example.com", "Alice#2023");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->outcome, RehashOutcome::kRehashed);
  EXPECT_EQ(r->backend, "mysql");
  std::string hash = Rows("SELECT pw_passwd FROM vpopmail WHERE pw_name = 'alice' AND pw_domain = 'example.com'");
  ASSERT_FALSE(hash.empty());
  hash.pop_back();  // the newline
  EXPECT_TRUE(CryptMatches("Alice#2023", hash)) << hash;
  EXPECT_EQ(Rows("SELECT pw_clear_passwd FROM vpopmail WHERE pw_name = 'alice' AND pw_domain = 'example.com'"),
            "Alice#2023\n");
  EXPECT_EQ(Rows("SELECT pw_name, pw_passwd FROM vpopmail WHERE pw_name <> 'alice' ORDER BY pw_name, pw_domain"),
            others);
}

TEST_F(RehashMysqlTest, ANarrowPwPasswdColumnIsRefusedNamingItAndTheRowIsKept) {
  Load("real-mysql-perdomain");  // pw_passwd char(40), as vpopmail 5.4.33 makes it
  const std::string before = Rows("SELECT pw_passwd FROM example_shop_com WHERE pw_name = 'alice'");
  auto r = RehashUser(paths_, "alice@example-shop.com", "Alice#2023");
  ASSERT_EQ(r.status().code(), Status::Code::kDataRefused);
  EXPECT_NE(r.status().message().find("pw_passwd char(40) cannot hold a SHA-512 crypt"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("varchar(128)"), std::string::npos);
  EXPECT_EQ(Rows("SELECT pw_passwd FROM example_shop_com WHERE pw_name = 'alice'"), before);
}

}  // namespace
}  // namespace vmigrate::vpopmail
