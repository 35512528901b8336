// `vmigrate rehash` and `import --rehash-weak` end to end, on copies of the
// real vpopmail fixture real-small.
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

}  // namespace
}  // namespace vmigrate::testing::cli
