// vmigrate list on the real fixtures: every domain of users/assign with its
// alias domains, users, messages, message bytes (from S= in file names,
// stat(2) otherwise), backend and bucket, as a table and as one JSON object.
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"

namespace vmigrate::testing::cli {
namespace {

// Messages and their bytes under a domain dir, counted by the test itself:
// regular files directly in a cur/ or new/ directory.
std::pair<std::uint64_t, std::uint64_t> CountMail(const std::string& dir) {
  std::uint64_t messages = 0, bytes = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    std::string parent = it->path().parent_path().filename();
    if (parent != "cur" && parent != "new") continue;
    ++messages;
    bytes += it->file_size();
  }
  return {messages, bytes};
}

CommandResult List(const std::string& root, const std::vector<std::string>& extra = {}) {
  return RunVmigrate(Concat(Concat({"list"}, SourceFlags(root)), extra));
}

class ListTest : public ::testing::Test {
 protected:
  TempDir src_;
};

TEST_F(ListTest, RealSmallAsJson) {
  UnpackFixture("real-small", src_.path());
  const std::string domains = SourceHomeDisk(src_.path()) + "/domains";
  auto [com_msgs, com_bytes] = CountMail(domains + "/example.com");
  auto [net_msgs, net_bytes] = CountMail(domains + "/example.net");
  ASSERT_GT(com_msgs, 0u);

  CommandResult r = List(src_.path(), {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(Lines(r.out).size(), 1u) << r.out;
  const std::string home = kFixtureVpopmailHome;
  EXPECT_EQ(r.out.rfind("{\"schema\":1,\"type\":\"list\",\"domains\":[", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("{\"domain\":\"example.com\",\"alias_domains\":[\"example.org\"],\"users\":13,\"messages\":" +
                       std::to_string(com_msgs) + ",\"message_bytes\":" + std::to_string(com_bytes) +
                       ",\"stat_sized_messages\":0,\"backend\":\"cdb\",\"bucket\":\"\",\"dir\":\"" + home +
                       "/domains/example.com\",\"uid\":89,\"gid\":89,\"error\":null}"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("{\"domain\":\"example.net\",\"alias_domains\":[],\"users\":4,\"messages\":" +
                       std::to_string(net_msgs) + ",\"message_bytes\":" + std::to_string(net_bytes)),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"unmatched_aliases\":[],\"users\":17,\"messages\":" + std::to_string(com_msgs + net_msgs)),
            std::string::npos)
      << r.out;
  // The alias domain is not a domain of its own.
  EXPECT_EQ(r.out.find("{\"domain\":\"example.org\""), std::string::npos) << r.out;

  // The same message count as export's.
  CommandResult e = RunVmigrate(Concat({"export", "example.com", "--dry-run", "--json"}, SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("\"users\":13,\"messages\":" + std::to_string(com_msgs)), std::string::npos) << e.out;
}

TEST_F(ListTest, RealSmallAsTable) {
  UnpackFixture("real-small", src_.path());
  CommandResult r = List(src_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_GE(lines.size(), 6u) << r.out;
  EXPECT_EQ(lines[0].rfind("DOMAIN", 0), 0u) << r.out;
  EXPECT_NE(lines[0].find("USERS  MESSAGES"), std::string::npos) << r.out;
  EXPECT_EQ(lines[1].rfind("example.com ", 0), 0u) << r.out;
  EXPECT_NE(lines[1].find(" 13 "), std::string::npos) << r.out;
  EXPECT_NE(lines[1].find(" cdb "), std::string::npos) << r.out;
  EXPECT_NE(lines[1].find(std::string(kFixtureVpopmailHome) + "/domains/example.com"), std::string::npos);
  EXPECT_EQ(lines[2].rfind("  example.org ", 0), 0u) << r.out;
  EXPECT_NE(lines[2].find("alias of example.com"), std::string::npos) << r.out;
  EXPECT_EQ(lines[3].rfind("example.net ", 0), 0u) << r.out;
  // Columns line up: USERS ends where each row's count ends.
  size_t users_end = lines[0].find("USERS") + 5;
  EXPECT_EQ(lines[1].substr(users_end - 2, 2), "13") << r.out;
  EXPECT_EQ(lines[3].substr(users_end - 1, 1), "4") << r.out;
  EXPECT_NE(r.out.find("2 domains, 1 alias domains, 17 users"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BYTES: message sizes from the S=<size> of Maildir++ file names, stat(2) for 0 messages"),
            std::string::npos)
      << r.out;
}

TEST_F(ListTest, SizesWithoutSFromStat) {
  UnpackFixture("real-small", src_.path());
  const std::string maildir = SourceHomeDisk(src_.path()) + "/domains/example.net/tom/Maildir";
  CommandResult before = List(src_.path(), {"--json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  // A message without S= (as qmail-local names them) is sized with stat;
  // tmp/ is never counted; a folder's messages are.
  fs::create_directories(maildir + "/.Archive/cur");
  WriteFile(maildir + "/.Archive/cur/1700000001.5.host:2,S", std::string(1000, 'a'));
  WriteFile(maildir + "/tmp/1700000002.6.host", std::string(777, 'b'));
  CommandResult after = List(src_.path(), {"--json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  auto [msgs, bytes] = CountMail(SourceHomeDisk(src_.path()) + "/domains/example.net");
  EXPECT_NE(after.out.find("\"domain\":\"example.net\",\"alias_domains\":[],\"users\":4,\"messages\":" +
                           std::to_string(msgs) + ",\"message_bytes\":" + std::to_string(bytes) +
                           ",\"stat_sized_messages\":1"),
            std::string::npos)
      << after.out;
}

TEST_F(ListTest, RealHashedAndABucket) {
  UnpackFixture("real-hashed", src_.path());
  CommandResult r = List(src_.path(), {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("{\"domain\":\"big.example\",\"alias_domains\":[],\"users\":261,\"messages\":4,"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"bucket\":\"\""), std::string::npos) << r.out;

  // The domain moved into hash bucket 0 (as vpopmail's many-domains
  // hashing places it): the bucket is shown.
  const std::string home = SourceHomeDisk(src_.path());
  fs::create_directories(home + "/domains/0");
  fs::rename(home + "/domains/big.example", home + "/domains/0/big.example");
  for (const std::string& file : {std::string(src_.path()) + kFixtureQmailDir + "/users/assign",
                                  home + "/domains/0/big.example/vpasswd"})
    WriteFile(file, ReplaceAll(ReadFile(file), "/domains/big.example", "/domains/0/big.example"));
  r = List(src_.path(), {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"users\":261,\"messages\":4,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"bucket\":\"0\",\"dir\":\"" + std::string(kFixtureVpopmailHome) + "/domains/0/big.example\""),
            std::string::npos)
      << r.out;
  CommandResult t = List(src_.path());
  EXPECT_NE(Lines(t.out)[1].find(" 0 "), std::string::npos) << t.out;
}

TEST_F(ListTest, MissingDomainDirIsListedAndFailsTheRun) {
  UnpackFixture("real-small", src_.path());
  fs::remove_all(SourceHomeDisk(src_.path()) + "/domains/example.net");
  CommandResult r = List(src_.path(), {"--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("vmigrate: list: example.net: domain directory"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"domain\":\"example.com\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does not exist\"}"), std::string::npos) << r.out;
}

TEST_F(ListTest, NoAssignIsAnError) {
  CommandResult r = List(src_.path());
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("vmigrate: list: "), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace vmigrate::testing::cli
