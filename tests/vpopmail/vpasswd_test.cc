#include "vpopmail/vpasswd.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "core/strings.h"
#include "support/test_support.h"

namespace vmigrate::vpopmail {
namespace {

using vmigrate::testing::ReadFile;
using vmigrate::testing::TempDir;
using vmigrate::testing::UnpackFixture;
using vmigrate::testing::WriteFile;

std::string DomainsDir(const TempDir& root) {
  return root.path() + "/tmp/realvp/home/vpopmail/domains";
}

VpasswdEntry Entry(const std::string& name) {
  VpasswdEntry e;
  e.name = name;
  e.passwd = "$1$abcdefgh$0123456789012345678901";
  e.uid = "1";
  e.gid = "0";
  e.gecos = name;
  e.dir = "/home/vpopmail/domains/example.com/" + name;
  e.quota = "NOQUOTA";
  e.clear = "secret";
  e.has_clear = true;
  return e;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(VpasswdTest, ParsesAllEightFields) {
  auto e = ParseVpasswdLine("alice:$1$x$y:1:14:Alice A:/d/alice:5000000S,1000C:Alice#2023");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->name, "alice");
  EXPECT_EQ(e->passwd, "$1$x$y");
  EXPECT_EQ(e->uid, "1");
  EXPECT_EQ(e->gid, "14");
  EXPECT_EQ(e->gecos, "Alice A");
  EXPECT_EQ(e->dir, "/d/alice");
  EXPECT_EQ(e->quota, "5000000S,1000C");
  EXPECT_EQ(e->clear, "Alice#2023");
  EXPECT_TRUE(e->has_clear);
}

TEST(VpasswdTest, KeepsCryptHashVerbatim) {
  const std::string hash =
      "$6$IvanSalt1234$7iOdoj0FbGewRls8pvWQgUDxyOeV3s2GRuSkNdm1NSpQEbrduYkrlB47CmdUG0BZM6dZlW/"
      "0L4IYv2nYZt6wY.";
  auto e = ParseVpasswdLine("ivan:" + hash + ":1:0:Ivan Ivanov:/d/ivan:NOQUOTA:");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->passwd, hash);
}

TEST(VpasswdTest, CleartextFieldRunsToEndOfLineIncludingColons) {
  auto e = ParseVpasswdLine("bob:h:1:0:Bob:/d/bob:NOQUOTA:pa:ss:word:");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->quota, "NOQUOTA");
  EXPECT_EQ(e->clear, "pa:ss:word:");
  EXPECT_EQ(FormatVpasswdLine(*e), "bob:h:1:0:Bob:/d/bob:NOQUOTA:pa:ss:word:");
}

TEST(VpasswdTest, EmptyEighthFieldStillCountsAsPresent) {
  auto e = ParseVpasswdLine("ivan:h:1:0:Ivan:/d/ivan:NOQUOTA:");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->has_clear);
  EXPECT_EQ(e->clear, "");
  EXPECT_EQ(FormatVpasswdLine(*e), "ivan:h:1:0:Ivan:/d/ivan:NOQUOTA:");
}

TEST(VpasswdTest, SevenFieldLineHasNoCleartext) {
  auto e = ParseVpasswdLine("judy:jjNprHSouw.GI:1:16:Judy:/d/judy:1048576S");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->has_clear);
  EXPECT_EQ(e->quota, "1048576S");
  EXPECT_EQ(FormatVpasswdLine(*e), "judy:jjNprHSouw.GI:1:16:Judy:/d/judy:1048576S");
}

TEST(VpasswdTest, EmptyFieldsAreKept) {
  auto e = ParseVpasswdLine("x::::::");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->name, "x");
  EXPECT_EQ(e->passwd, "");
  EXPECT_EQ(e->quota, "");
  EXPECT_FALSE(e->has_clear);
}

TEST(VpasswdTest, RejectsLineWithFewerThanSevenFields) {
  auto e = ParseVpasswdLine("alice:hash:1:0:Alice:/d/alice");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Status::Code::kCorrupt);
  EXPECT_FALSE(ParseVpasswdLine("").ok());
}

TEST(VpasswdTest, ReadsRealFixtureAndFormatsEveryLineBack) {
  TempDir root;
  UnpackFixture("real-small", root.path());
  std::string path = DomainsDir(root) + "/example.com/vpasswd";
  auto entries = ReadVpasswd(path);
  ASSERT_TRUE(entries.ok()) << entries.status().message();
  ASSERT_EQ(entries->size(), 13u);
  std::string text;
  for (const auto& e : *entries) text += FormatVpasswdLine(e) + "\n";
  EXPECT_EQ(text, ReadFile(path));
  const VpasswdEntry& judy = (*entries)[9];
  EXPECT_EQ(judy.name, "judy");
  EXPECT_EQ(judy.passwd, "jjNprHSouw.GI");
  EXPECT_EQ(judy.gid, "16");
  EXPECT_TRUE(judy.has_clear);
  EXPECT_EQ(judy.clear, "");
}

TEST(VpasswdTest, ReadNamesTheLineNumberOfABlankLine) {
  TempDir dir;
  WriteFile(dir / "vpasswd", "a:h:1:0:A:/d/a:NOQUOTA:x\nb:h:1:0:B:/d/b:NOQUOTA:y\n\n");
  auto entries = ReadVpasswd(dir / "vpasswd");
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(entries.status().message().find("vpasswd line 3: expected 7 or 8"),
            std::string::npos)
      << entries.status().message();
}

TEST(VpasswdTest, ReadErrorNeverShowsTheLine) {
  TempDir dir;
  WriteFile(dir / "vpasswd", "carol:topsecret-hash:1\n");
  auto entries = ReadVpasswd(dir / "vpasswd");
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().message().find("topsecret"), std::string::npos);
}

TEST(VpasswdTest, ReadReportsMissingFileAsNotFound) {
  TempDir dir;
  auto entries = ReadVpasswd(dir / "vpasswd");
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().code(), Status::Code::kNotFound);
}

TEST(VpasswdTest, EmptyFileHasNoEntries) {
  TempDir dir;
  WriteFile(dir / "vpasswd", "");
  auto entries = ReadVpasswd(dir / "vpasswd");
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
}

TEST(VpasswdTest, WriteSortsByByteOrderOfName) {
  TempDir dir;
  ASSERT_TRUE(WriteVpasswdFiles(dir.path(), {Entry("bob"), Entry("alice"), Entry("Zed"),
                                             Entry("al"), Entry("_x")},
                                std::nullopt)
                  .ok());
  auto entries = ReadVpasswd(dir / "vpasswd");
  ASSERT_TRUE(entries.ok());
  std::vector<std::string> names;
  for (const auto& e : *entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Zed", "_x", "al", "alice", "bob"}));
}

TEST(VpasswdTest, WritesBothFilesWithMode0600) {
  TempDir dir;
  ASSERT_TRUE(WriteVpasswdFiles(dir.path(), {Entry("alice")}, std::nullopt).ok());
  EXPECT_EQ(ModeOf(dir / "vpasswd"), 0600u);
  EXPECT_EQ(ModeOf(dir / "vpasswd.cdb"), 0600u);
}

TEST(VpasswdTest, CdbValueIsTheLineAfterTheName) {
  TempDir dir;
  VpasswdEntry seven = Entry("judy");
  seven.has_clear = false;
  seven.clear.clear();
  ASSERT_TRUE(WriteVpasswdFiles(dir.path(), {Entry("alice"), seven}, std::nullopt).ok());
  auto records = ReadCdbRecords(dir / "vpasswd.cdb");
  ASSERT_TRUE(records.ok()) << records.status().message();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ(records->at("alice"),
            "$1$abcdefgh$0123456789012345678901:1:0:alice:/home/vpopmail/domains/example.com/"
            "alice:NOQUOTA:secret");
  EXPECT_EQ(records->at("judy"),
            "$1$abcdefgh$0123456789012345678901:1:0:judy:/home/vpopmail/domains/example.com/"
            "judy:NOQUOTA");
}

// Real vpopmail 5.4.33 wrote these cdbs; ours must match byte for byte so a
// migrated domain is indistinguishable from one vpopmail built itself.
TEST(VpasswdTest, CdbIsByteIdenticalToTheOneRealVpopmailWrote) {
  TempDir root;
  UnpackFixture("real-small", root.path());
  UnpackFixture("real-hashed", root.path());
  for (const std::string domain : {"example.com", "example.net", "big.example"}) {
    SCOPED_TRACE(domain);
    std::string src = DomainsDir(root) + "/" + domain;
    auto entries = ReadVpasswd(src + "/vpasswd");
    ASSERT_TRUE(entries.ok()) << entries.status().message();
    TempDir out;
    ASSERT_TRUE(WriteVpasswdFiles(out.path(), *entries, std::nullopt).ok());
    EXPECT_EQ(ReadFile(out / "vpasswd"), ReadFile(src + "/vpasswd"));
    EXPECT_TRUE(ReadFile(out / "vpasswd.cdb") == ReadFile(src + "/vpasswd.cdb"))
        << "vpasswd.cdb differs from real vpopmail's";
  }
}

TEST(VpasswdTest, ReadsEveryRecordOfARealCdb) {
  TempDir root;
  UnpackFixture("real-small", root.path());
  std::string dir = DomainsDir(root) + "/example.com";
  auto records = ReadCdbRecords(dir + "/vpasswd.cdb");
  ASSERT_TRUE(records.ok()) << records.status().message();
  auto entries = ReadVpasswd(dir + "/vpasswd");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(records->size(), entries->size());
  for (const auto& e : *entries) {
    std::string line = FormatVpasswdLine(e);
    EXPECT_EQ(records->at(e.name), line.substr(e.name.size() + 1));
  }
}

TEST(VpasswdTest, RejectsDuplicateNames) {
  TempDir dir;
  Status s = WriteVpasswdFiles(dir.path(), {Entry("bob"), Entry("bob")}, std::nullopt);
  EXPECT_EQ(s.code(), Status::Code::kInvalidInput);
  struct stat st;
  EXPECT_NE(stat((dir / "vpasswd").c_str(), &st), 0);
}

TEST(VpasswdTest, RefusesFieldThatWouldBreakTheLineAndWritesNothing) {
  TempDir dir;
  VpasswdEntry bad = Entry("eve");
  bad.gecos = "Eve:Evil";
  EXPECT_EQ(WriteVpasswdFiles(dir.path(), {bad}, std::nullopt).code(),
            Status::Code::kInvalidInput);
  VpasswdEntry newline = Entry("eve");
  newline.clear = "a\nb";
  EXPECT_FALSE(WriteVpasswdFiles(dir.path(), {newline}, std::nullopt).ok());
  struct stat st;
  EXPECT_NE(stat((dir / "vpasswd").c_str(), &st), 0);
  EXPECT_NE(stat((dir / "vpasswd.cdb").c_str(), &st), 0);
}

TEST(VpasswdTest, ReplacesExistingFiles) {
  TempDir dir;
  ASSERT_TRUE(WriteVpasswdFiles(dir.path(), {Entry("alice"), Entry("bob")}, std::nullopt).ok());
  ASSERT_TRUE(WriteVpasswdFiles(dir.path(), {Entry("carol")}, std::nullopt).ok());
  auto records = ReadCdbRecords(dir / "vpasswd.cdb");
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 1u);
  EXPECT_EQ(records->count("carol"), 1u);
  EXPECT_EQ(SplitLines(ReadFile(dir / "vpasswd")).size(), 1u);
}

TEST(VpasswdTest, ReadCdbRecordsRejectsAFileThatIsNotACdb) {
  TempDir dir;
  WriteFile(dir / "vpasswd.cdb", "not a cdb");
  auto records = ReadCdbRecords(dir / "vpasswd.cdb");
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), Status::Code::kCorrupt);
  EXPECT_EQ(ReadCdbRecords(dir / "missing.cdb").status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace vmigrate::vpopmail
