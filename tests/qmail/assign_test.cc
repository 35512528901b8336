#include "qmail/assign.h"

#include <sys/stat.h>

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vmigrate::qmail {
namespace {

using vmigrate::testing::CdbLookup;
using vmigrate::testing::ReadFile;
using vmigrate::testing::TempDir;
using vmigrate::testing::UnpackFixture;
using vmigrate::testing::WriteFile;

std::string FixtureQmail(const TempDir& tmp) { return tmp.path() + "/tmp/realvp/qmail"; }

// Fields joined by NUL bytes, the users/cdb value layout.
std::string NulJoined(std::initializer_list<std::string> fields) {
  std::string out;
  bool first = true;
  for (const std::string& f : fields) {
    if (!first) out.push_back('\0');
    out += f;
    first = false;
  }
  return out;
}

void ExpectUsersCdbMatchesQmailNewu(const std::string& fixture) {
  TempDir tmp;
  UnpackFixture(fixture, tmp.path());
  std::string qmail = FixtureQmail(tmp);
  std::string assign = ReadFile(qmail + "/users/assign");
  std::string real_cdb = ReadFile(qmail + "/users/cdb");
  ASSERT_FALSE(real_cdb.empty());
  std::string ours = tmp.path() + "/cdb";
  Status s = WriteUsersCdb(assign, ours);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(ReadFile(ours) == real_cdb) << fixture << ": users/cdb differs from qmail-newu's";
  struct stat st;
  ASSERT_EQ(stat(ours.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_FALSE(std::filesystem::exists(ours + ".tmp"));
}

TEST(AssignTest, UsersCdbMatchesQmailNewuOnRealSmall) { ExpectUsersCdbMatchesQmailNewu("real-small"); }

TEST(AssignTest, UsersCdbMatchesQmailNewuOnRealHashed) {
  ExpectUsersCdbMatchesQmailNewu("real-hashed");
}

TEST(AssignTest, UsersCdbHoldsKeysTheWayQmailLspawnLooksThemUp) {
  TempDir tmp;
  std::string cdb = tmp / "cdb";
  std::string assign =
      "+Example.COM-:example.com:89:89:/home/vpopmail/domains/example.com:-::\n"
      "=Joe:joe:1000:1000:/home/joe:::\n"
      "+list-:alias:7790:2108:/var/qmail/alias:-:list-:\n"
      "+x@:u:1:2:/h:-::trailing\n"
      ".\n"
      "+after-:ignored:1:1:/x:-::\n";
  ASSERT_TRUE(WriteUsersCdb(assign, cdb).ok());
  EXPECT_EQ(CdbLookup(cdb, "!example.com-"),
            NulJoined({"example.com", "89", "89", "/home/vpopmail/domains/example.com", "-", ""}));
  EXPECT_EQ(CdbLookup(cdb, std::string("!joe\0", 5)),
            NulJoined({"joe", "1000", "1000", "/home/joe", "", ""}));
  EXPECT_EQ(CdbLookup(cdb, "!list-"),
            NulJoined({"alias", "7790", "2108", "/var/qmail/alias", "-", "list-"}));
  // Text after the seventh colon is not part of the value.
  EXPECT_EQ(CdbLookup(cdb, "!x@"), NulJoined({"u", "1", "2", "/h", "-", ""}));
  // Wildcard characters in order of first appearance, no duplicates.
  EXPECT_EQ(CdbLookup(cdb, ""), std::string("-@"));
  EXPECT_EQ(CdbLookup(cdb, "!after-"), std::nullopt);
  EXPECT_EQ(CdbLookup(cdb, "!joe"), std::nullopt);
}

TEST(AssignTest, MissingTerminatorIsCorruptAndLeavesUsersCdbUnchanged) {
  TempDir tmp;
  std::string cdb = tmp / "cdb";
  WriteFile(cdb, "old cdb bytes");
  Status s = WriteUsersCdb("+example.com-:example.com:89:89:/d:-::\n", cdb);
  EXPECT_EQ(s.code(), Status::Code::kCorrupt);
  EXPECT_EQ(ReadFile(cdb), "old cdb bytes");
  EXPECT_FALSE(std::filesystem::exists(cdb + ".tmp"));
}

TEST(AssignTest, MalformedLinesAreCorrupt) {
  TempDir tmp;
  std::string cdb = tmp / "cdb";
  // Too few fields, no colon, a record cut off at EOF, a NUL byte.
  EXPECT_EQ(WriteUsersCdb("+a-:b:1:2:/d:-:\n.\n", cdb).code(), Status::Code::kCorrupt);
  EXPECT_EQ(WriteUsersCdb("+a-\n.\n", cdb).code(), Status::Code::kCorrupt);
  EXPECT_EQ(WriteUsersCdb("+a-:b:1:2:/d:-::", cdb).code(), Status::Code::kCorrupt);
  EXPECT_EQ(WriteUsersCdb(std::string("+a-:b:1:2:/d\0:-::\n.\n", 19), cdb).code(),
            Status::Code::kCorrupt);
  EXPECT_FALSE(std::filesystem::exists(cdb));
  // A terminator without a final newline is accepted, as qmail-newu does.
  EXPECT_TRUE(WriteUsersCdb("+a-:b:1:2:/d:-::\n.", cdb).ok());
  EXPECT_TRUE(WriteUsersCdb(".\n", cdb).ok());
  EXPECT_EQ(CdbLookup(cdb, ""), std::string());
}

TEST(AssignTest, ParseDomainAssignsReadsTheFixtureWithItsAliasDomain) {
  TempDir tmp;
  UnpackFixture("real-small", tmp.path());
  std::vector<DomainAssign> entries =
      ParseDomainAssigns(ReadFile(FixtureQmail(tmp) + "/users/assign"));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].domain, "example.com");
  EXPECT_EQ(entries[0].real_domain, "example.com");
  EXPECT_EQ(entries[0].uid, 89u);
  EXPECT_EQ(entries[0].gid, 89u);
  EXPECT_EQ(entries[0].dir, "/tmp/realvp/home/vpopmail/domains/example.com");
  EXPECT_FALSE(entries[0].is_alias());
  EXPECT_EQ(entries[1].domain, "example.net");
  EXPECT_FALSE(entries[1].is_alias());
  EXPECT_EQ(entries[2].domain, "example.org");
  EXPECT_EQ(entries[2].real_domain, "example.com");
  EXPECT_EQ(entries[2].dir, "/tmp/realvp/home/vpopmail/domains/example.com");
  EXPECT_TRUE(entries[2].is_alias());
}

TEST(AssignTest, ParseDomainAssignsSkipsLinesThatAreNotVpopmailDomains) {
  std::vector<DomainAssign> entries = ParseDomainAssigns(
      "=joe:joe:1000:1000:/home/joe:::\n"
      "+list:alias:1:2:/var/qmail/alias:-::\n"
      "+bad-:x:notanumber:2:/d:-::\n"
      "+short-:x:1:2\n"
      "+ok.test-:ok.test:5:6:/d/ok.test:-::\n"
      ".\n"
      "+late.test-:late.test:5:6:/d/late.test:-::\n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].domain, "ok.test");
  EXPECT_EQ(entries[0].uid, 5u);
  EXPECT_EQ(entries[0].gid, 6u);
}

TEST(AssignTest, FormatDomainAssignLineRoundTripsTheFixtureLines) {
  TempDir tmp;
  UnpackFixture("real-small", tmp.path());
  std::string assign = ReadFile(FixtureQmail(tmp) + "/users/assign");
  std::string rebuilt;
  for (const DomainAssign& e : ParseDomainAssigns(assign)) rebuilt += FormatDomainAssignLine(e) + "\n";
  EXPECT_EQ(rebuilt + ".\n", assign);
}

}  // namespace
}  // namespace vmigrate::qmail
