// End to end: `vmigrate inspect` (text and --json) on an export of the real
// fixture, checked against counts taken from the source tree itself.
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

class InspectCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    archive_ = work_ / "example.com.vma";
    CommandResult e = Export(src_.path(), "example.com", archive_);
    ASSERT_EQ(e.exit_code, 0) << e.err;
    domain_disk_ = SourceHomeDisk(src_.path()) + "/domains/example.com";
    auto pw = vpopmail::ReadVpasswd(domain_disk_ + "/vpasswd");
    ASSERT_TRUE(pw.ok());
    std::vector<std::string> homes;
    for (const auto& e2 : *pw) homes.push_back(e2.dir.substr(std::string(kFixtureVpopmailHome).size() +
                                                             std::string("/domains/example.com/").size()));
    users_ = pw->size();
    count_ = CountMail(domain_disk_, homes);
  }

  TempDir src_, work_;
  std::string archive_;
  std::string domain_disk_;
  size_t users_ = 0;
  MailCount count_;
};

// The value after "key:" on its own line of the text output.
std::string Field(const std::string& out, const std::string& key) {
  for (const auto& line : Lines(out)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      return v.substr(v.find_first_not_of(' ') == std::string::npos ? v.size() : v.find_first_not_of(' '));
    }
  }
  return "<no " + key + " line>";
}

TEST_F(InspectCliTest, SourceTreeHoldsWhatTheFixtureReadmeSays) {
  EXPECT_EQ(users_, 13u);
  EXPECT_EQ(count_.messages, 12u);
}

TEST_F(InspectCliTest, TextOutputShowsDomainAliasUsersMessagesAndBytes) {
  CommandResult r = RunVmigrate({"inspect", archive_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(Field(r.out, "domain").find("example.com"), std::string::npos) << r.out;
  EXPECT_EQ(Field(r.out, "alias domains"), "example.org") << r.out;
  EXPECT_EQ(Field(r.out, "users"), std::to_string(users_)) << r.out;
  EXPECT_EQ(Field(r.out, "messages"), std::to_string(count_.messages)) << r.out;
  EXPECT_EQ(Field(r.out, "bytes"), std::to_string(count_.bytes)) << r.out;
  EXPECT_NE(Field(r.out, "archive").find("format 1"), std::string::npos) << r.out;
  EXPECT_NE(Field(r.out, "source host").find(kFixtureVpopmailHome), std::string::npos) << r.out;
  for (const char* user : {"alice", "bob", "carol", "ivan", "judy", "postmaster"})
    EXPECT_TRUE(std::regex_search(r.out, std::regex(std::string("\n") + user + " +\\S+ +[0-9]+ ")))
        << user << " has no row\n" << r.out;
}

TEST_F(InspectCliTest, TextOutputWarnsAboutDesAndMd5HashesButNotSha512) {
  CommandResult r = RunVmigrate({"inspect", archive_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string all = r.out + r.err;
  std::string warning;
  for (const auto& line : Lines(all))
    if (line.find("weak") != std::string::npos) warning += line + "\n";
  ASSERT_FALSE(warning.empty()) << all;
  EXPECT_NE(warning.find("judy (des)"), std::string::npos) << warning;
  EXPECT_NE(warning.find("alice (md5)"), std::string::npos) << warning;
  EXPECT_NE(warning.find("postmaster (md5)"), std::string::npos) << warning;
  EXPECT_EQ(warning.find("ivan"), std::string::npos) << "ivan has a SHA-512 hash\n" << warning;
}

TEST_F(InspectCliTest, JsonOutputCarriesTheSameNumbers) {
  CommandResult r = RunVmigrate({"inspect", archive_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string& j = r.out;
  ASSERT_FALSE(j.empty());
  EXPECT_EQ(j.front(), '{') << j;
  EXPECT_NE(j.find("\"format_version\":1"), std::string::npos) << j;
  EXPECT_NE(j.find("\"domain\":\"example.com\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"aliases\":[\"example.org\"]"), std::string::npos) << j;
  EXPECT_NE(j.find("\"messages\":" + std::to_string(count_.messages) + ","), std::string::npos) << j;
  EXPECT_NE(j.find("\"bytes\":" + std::to_string(count_.bytes) + ","), std::string::npos) << j;
  size_t names = 0;
  for (size_t p = j.find("\"name\":"); p != std::string::npos; p = j.find("\"name\":", p + 1)) ++names;
  EXPECT_EQ(names, users_) << j;
  EXPECT_TRUE(std::regex_search(j, std::regex(R"re(\{"name":"judy"[^}]*"weak_hash":"des")re"))) << j;
  EXPECT_TRUE(std::regex_search(j, std::regex(R"re(\{"name":"alice"[^}]*"weak_hash":"md5")re"))) << j;
  EXPECT_TRUE(std::regex_search(j, std::regex(R"re(\{"name":"ivan"[^}]*"weak_hash":"")re"))) << j;
}

TEST_F(InspectCliTest, PerUserMessageCountsMatchTheSourceMaildirs) {
  CommandResult r = RunVmigrate({"inspect", archive_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* user : {"alice", "bob", "postmaster", "judy"}) {
    MailCount c = CountMail(domain_disk_, {user});
    std::regex re(std::string(R"re(\{"name":")re") + user +
                  R"re("[^}]*"messages":([0-9]+),"bytes":([0-9]+))re");
    std::smatch mm;
    ASSERT_TRUE(std::regex_search(r.out, mm, re)) << user << "\n" << r.out;
    EXPECT_EQ(mm[1].str(), std::to_string(c.messages)) << user;
    EXPECT_EQ(mm[2].str(), std::to_string(c.bytes)) << user;
  }
}

TEST_F(InspectCliTest, InspectReadsTheArchiveFromStdin) {
  CommandResult r = RunVmigrate({"inspect", "-", "--json"}, archive_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"domain\":\"example.com\""), std::string::npos) << r.out;
}

TEST(InspectHashedCliTest, InspectOfTheHashedFixtureCounts261Users) {
  TempDir src, work;
  UnpackFixture("real-hashed", src.path());
  ASSERT_EQ(Export(src.path(), "big.example", work / "big.vma").exit_code, 0);
  CommandResult r = RunVmigrate({"inspect", work / "big.vma"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Field(r.out, "users"), "261") << r.out;
  std::string home = SourceHomeDisk(src.path()) + "/domains/big.example";
  auto pw = vpopmail::ReadVpasswd(home + "/vpasswd");
  ASSERT_TRUE(pw.ok());
  std::vector<std::string> homes;
  for (const auto& e : *pw) homes.push_back(e.dir.substr(home.size() - src.path().size() + 1));
  MailCount c = CountMail(home, homes);
  EXPECT_EQ(c.messages, 4u);
  EXPECT_EQ(Field(r.out, "messages"), std::to_string(c.messages)) << r.out;
  EXPECT_EQ(Field(r.out, "bytes"), std::to_string(c.bytes)) << r.out;
}

}  // namespace
}  // namespace vmigrate::testing::cli
