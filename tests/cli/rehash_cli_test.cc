// `vmigrate rehash` and `import --rehash-weak` end to end, on copies of the
// real vpopmail fixture real-small.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "support/test_support.h"
#include "vpopmail/password.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

class RehashCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", root_.path());
    dir_ = SourceHomeDisk(root_.path()) + "/domains/example.com";
  }
  // `vmigrate rehash --user USER --password-fd 0 ...` with `password` on stdin.
  CommandResult Rehash(const std::string& user, const std::string& password, bool json = true) {
    WriteFile(root_ / "pw", password);
    std::vector<std::string> args = Concat({"rehash", "--user", user, "--password-fd", "0"}, SourceFlags(root_.path()));
    if (json) args.push_back("--json");
    return RunVmigrate(args, root_ / "pw");
  }
  std::string Hash(const std::string& name) {
    auto users = vpopmail::ReadVpasswd(dir_ + "/vpasswd");
    if (!users.ok()) return "";
    for (const auto& e : *users)
      if (e.name == name) return e.passwd;
    return "";
  }
  TempDir root_;
  std::string dir_;
};

TEST_F(RehashCliTest, RehashesOnceThenReportsNotWeakAndExitsZeroBothTimes) {
  // One trailing newline is not part of the password.
  CommandResult r = Rehash("bob@example.com", "b0b-the-builder\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "rehash");
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["user"], "bob@example.com");
  EXPECT_EQ(j["result"], "rehashed");
  EXPECT_EQ(j["weak_hash"], "md5");
  EXPECT_EQ(j["backend"], "cdb");
  EXPECT_TRUE(vpopmail::CryptMatches("b0b-the-builder", Hash("bob")));
  EXPECT_EQ(Hash("bob").rfind("$6$", 0), 0u);
  r = Rehash("bob@example.com", "b0b-the-builder");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["result"], "not_weak");
  r = Rehash("bob@example.com", "b0b-the-builder", /*json=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "bob@example.com: the stored hash is not DES or MD5-crypt; unchanged\n");
  r = Rehash("dave@example.com", "dave.dunn.2", /*json=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "dave@example.com: re-hashed (MD5-crypt -> SHA-512 crypt, cdb)\n");
}

TEST_F(RehashCliTest, WrongPasswordExitsOneAndUnknownUserSeven) {
  const std::string vpasswd = ReadFile(dir_ + "/vpasswd");
  CommandResult r = Rehash("bob@example.com", "not-bobs");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "vmigrate: rehash: bob@example.com: the password does not match the stored hash; nothing changed\n");
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "error");
  EXPECT_EQ(j["exit"], 1);
  EXPECT_EQ(j["object"], "bob@example.com");
  r = Rehash("zed@example.com", "x");
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.err, "vmigrate: rehash: zed@example.com: no such account\n");
  r = Rehash("zed@nowhere.example", "x");
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_EQ(ReadFile(dir_ + "/vpasswd"), vpasswd);
  EXPECT_EQ(r.out.find("\"x\""), std::string::npos);
}

TEST_F(RehashCliTest, AnEmptyPasswordOrBadFdIsAUsageError) {
  CommandResult r = Rehash("bob@example.com", "\n");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--password-fd 0: the password is empty"), std::string::npos) << r.err;
  r = RunVmigrate(Concat({"rehash", "--user", "bob@example.com", "--password-fd", "987"}, SourceFlags(root_.path())));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot read --password-fd 987"), std::string::npos) << r.err;
}

// import --rehash-weak: the accounts with a stored cleartext get SHA-512,
// judy (DES, no cleartext) is left for the login hook; ivan (SHA-512) is not
// weak. Text and JSON list each account.
TEST_F(RehashCliTest, ImportRehashWeakRehashesAccountsWithACleartextAndListsTheOthers) {
  TempDir dst;
  MakeEmptyTarget(dst.path());
  const std::string archive = root_ / "example.com.vmig";
  CommandResult r = Export(root_.path(), "example.com", archive);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Import(dst.path(), archive, {"--rehash-weak", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "import");
  ASSERT_TRUE(j["rehashed_users"].is_array()) << r.out;
  std::vector<std::string> names;
  for (const auto& u : j["rehashed_users"]) {
    EXPECT_EQ(u["domain"], "example.com");
    EXPECT_EQ(u["weak_hash"], "md5");
    names.push_back(u["name"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ken",
                                             "mallory", "postmaster"}));
  ASSERT_EQ(j["rehash_left"].size(), 1u) << r.out;
  EXPECT_EQ(j["rehash_left"][0]["name"], "judy");
  EXPECT_EQ(j["rehash_left"][0]["weak_hash"], "des");
  EXPECT_EQ(j["rehash_left"][0]["reason"], "no cleartext stored");
  const std::string dir = TargetHomeDisk(dst.path()) + "/domains/example.com";
  auto users = vpopmail::ReadVpasswd(dir + "/vpasswd");
  ASSERT_TRUE(users.ok());
  for (const auto& e : *users) {
    if (e.name == "judy") {
      EXPECT_EQ(e.passwd, "jjNprHSouw.GI");
    } else if (e.name != "ivan") {
      EXPECT_TRUE(vpopmail::CryptMatches(e.clear, e.passwd)) << e.name;
      EXPECT_EQ(e.passwd.rfind("$6$", 0), 0u) << e.name;
    }
    // vchkpw reads vpasswd.cdb: it has the new hash too.
    std::string line = vpopmail::FormatVpasswdLine(e);
    EXPECT_EQ(CdbLookup(dir + "/vpasswd.cdb", e.name).value_or(""), line.substr(line.find(':') + 1)) << e.name;
  }
  // The lock file the re-hash took stays the domain owner's, for vpopmail's tools.
  struct stat lock, vpasswd;
  ASSERT_EQ(stat((dir + "/.vpasswd.lock").c_str(), &lock), 0);
  ASSERT_EQ(stat((dir + "/vpasswd").c_str(), &vpasswd), 0);
  EXPECT_EQ(lock.st_uid, vpasswd.st_uid);

  // Text: one line per account; a dry run re-hashes nothing and says nothing of it.
  TempDir dst2;
  MakeEmptyTarget(dst2.path());
  r = Import(dst2.path(), archive, {"--rehash-weak", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("re-hashed"), std::string::npos) << r.out;
  r = Import(dst2.path(), archive, {"--rehash-weak"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(HasLine(r.out, "re-hashed alice@example.com (md5 -> SHA-512 crypt)")) << r.out;
  EXPECT_TRUE(HasLine(r.out, "left for the login hook: judy@example.com (des: no cleartext stored)")) << r.out;
  // Without the option nothing changes (the hashes stay as exported).
  TempDir dst3;
  MakeEmptyTarget(dst3.path());
  r = Import(dst3.path(), archive, {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(nlohmann::json::parse(r.out).contains("rehashed_users"));
  EXPECT_NE(ReadFile(TargetHomeDisk(dst3.path()) + "/domains/example.com/vpasswd").find("alice:$1$8iXIBzKs$"),
            std::string::npos);
}

}  // namespace
}  // namespace vmigrate::testing::cli
