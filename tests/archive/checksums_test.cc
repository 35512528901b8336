#include "archive/checksums.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vmigrate {
namespace {

const std::string kSha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

FileRecord Rec(const std::string& path) {
  FileRecord r;
  r.type = 'f';
  r.mode = 0640;
  r.mtime_sec = 1767225600;
  r.mtime_nsec = 123456789;
  r.size = 42;
  r.sha256 = kSha;
  r.path = path;
  return r;
}

TEST(ChecksumsTest, FormatIsTheDocumentedLine) {
  FileRecord r = Rec("domains/example.com/files/.qmail-default");
  r.rewritten = true;
  EXPECT_EQ(FormatRecord(r),
            "f 0640 1767225600.123456789 42 " + kSha + " r domains/example.com/files/.qmail-default\n");
  FileRecord d;
  d.type = 'd';
  d.mode = 02755;
  d.mtime_sec = 5;
  d.mtime_nsec = 7;
  d.path = "domains/example.com/users/alice";
  EXPECT_EQ(FormatRecord(d), "d 2755 5.000000007 0 - - domains/example.com/users/alice\n");
}

TEST(ChecksumsTest, RoundTripOfAwkwardPaths) {
  const std::string paths[] = {
      "domains/example.com/users/alice/Maildir/cur/1700000000.123.mail.example.com,S=1234:2,S",
      "with spaces/ and  double  spaces /end ",
      std::string("new\nline"),
      "back\\slash\\n not an escape",
      "tab\tcr\rbell\x07" "del\x7f",
      "Jürgen/日本語/✓",
      std::string("latin1 \xfc\xe9"),
      " leading space",
  };
  for (const std::string& p : paths) {
    FileRecord r = Rec(p);
    std::string line = FormatRecord(r);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "a path must not break the line: " << p;
    line.pop_back();
    auto back = ParseRecord(line);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == r) << p;
    EXPECT_EQ(back->path, p);
  }
}

TEST(ChecksumsTest, RoundTripOfEveryTypeAndFlag) {
  FileRecord f = Rec("f");
  FileRecord d = Rec("d");
  d.type = 'd';
  d.size = 0;
  d.sha256.clear();
  d.mode = 0700;
  FileRecord l = Rec("l");
  l.type = 'l';
  l.mode = 0777;
  l.rewritten = true;
  FileRecord big = Rec("big");
  big.size = 1ll << 40;
  big.mtime_nsec = 999999999;
  big.mtime_sec = 0;
  big.mode = 07777;
  for (const FileRecord& r : {f, d, l, big}) {
    std::string line = FormatRecord(r);
    line.pop_back();
    auto back = ParseRecord(line);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == r) << line;
  }
}

TEST(ChecksumsTest, RoundTripOfPreEpochMtime) {
  // A file touched to 1969 gets a negative st_mtime; the writer formats it,
  // so the reader must take the line back.
  FileRecord r = Rec("old");
  r.mtime_sec = -86400;
  r.mtime_nsec = 0;
  std::string line = FormatRecord(r);
  line.pop_back();
  auto back = ParseRecord(line);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == r);
}

TEST(ChecksumsTest, ParseWithoutTrailingNewlineOnly) {
  auto r = ParseRecord("l 0777 1.000000000 10 " + kSha + " - a b c");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, 'l');
  EXPECT_EQ(r->mode, 0777u);
  EXPECT_EQ(r->size, 10);
  EXPECT_EQ(r->path, "a b c");
  EXPECT_FALSE(r->rewritten);
}

Status::Code ParseCode(const std::string& line) {
  auto r = ParseRecord(line);
  return r.ok() ? Status::Code::kOk : r.status().code();
}

TEST(ChecksumsTest, RejectsBadType) {
  EXPECT_EQ(ParseCode("x 0644 1.0 1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("ff 0644 1.0 1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode(" 0644 1.0 1 " + kSha + " - p"), Status::Code::kCorrupt);
  auto r = ParseRecord("x 0644 1.0 1 " + kSha + " - p");
  EXPECT_NE(r.status().message().find("bad type"), std::string::npos) << r.status().message();
}

TEST(ChecksumsTest, RejectsBadMode) {
  EXPECT_EQ(ParseCode("f 644 1.0 1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0648 1.0 1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 00644 1.0 1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f -644 1.0 1 " + kSha + " - p"), Status::Code::kCorrupt);
}

TEST(ChecksumsTest, RejectsBadSha) {
  EXPECT_EQ(ParseCode("f 0644 1.0 1 " + kSha.substr(1) + " - p"), Status::Code::kCorrupt);
  std::string upper = kSha;
  upper[0] = 'B';
  EXPECT_EQ(ParseCode("f 0644 1.0 1 " + upper + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 1 " + kSha + "0 - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 1 -- - p"), Status::Code::kCorrupt);
}

TEST(ChecksumsTest, RejectsTooFewFields) {
  EXPECT_EQ(ParseCode(""), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 1 " + kSha), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 1 " + kSha + " -"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 1 " + kSha + " - "), Status::Code::kCorrupt);  // empty path
}

TEST(ChecksumsTest, RejectsBadMtimeAndSize) {
  EXPECT_EQ(ParseCode("f 0644 1.1000000000 1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.999999999 1 " + kSha + " - p"), Status::Code::kOk);
  EXPECT_EQ(ParseCode("f 0644 1 1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1. 1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 .5 1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 -1 " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 x " + kSha + " - p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 99999999999999999999 " + kSha + " - p"), Status::Code::kCorrupt);
}

TEST(ChecksumsTest, RejectsBadFlagsAndBadPathEscape) {
  EXPECT_EQ(ParseCode("f 0644 1.0 1 " + kSha + " x p"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 1 " + kSha + " - bad\\q"), Status::Code::kCorrupt);
  EXPECT_EQ(ParseCode("f 0644 1.0 1 " + kSha + " - bad\\"), Status::Code::kCorrupt);
}

TEST(ChecksumsTest, ErrorMessageQuotesTheLine) {
  auto r = ParseRecord("f 0644 1.0 1 nothex - some/path");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("checksums.txt"), std::string::npos);
  EXPECT_NE(r.status().message().find("some/path"), std::string::npos);
}

TEST(ChecksumsTest, RecordSpoolAddRewindRead) {
  RecordSpool spool;
  ASSERT_TRUE(spool.Init().ok());
  std::vector<FileRecord> records;
  for (int i = 0; i < 1000; ++i) {
    FileRecord r = Rec("dir/file " + std::to_string(i) + (i % 7 == 0 ? "\nx" : ""));
    r.size = i;
    records.push_back(r);
    ASSERT_TRUE(spool.Add(r).ok());
  }
  EXPECT_EQ(spool.count(), 1000u);
  ASSERT_TRUE(spool.Rewind().ok());
  std::string line;
  std::uint64_t bytes = 0;
  size_t n = 0;
  while (spool.ReadLine(&line)) {
    ASSERT_LT(n, records.size());
    EXPECT_EQ(line, FormatRecord(records[n]));
    bytes += line.size();
    ASSERT_EQ(line.back(), '\n');
    line.pop_back();
    auto back = ParseRecord(line);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == records[n]);
    ++n;
  }
  EXPECT_EQ(n, records.size());
  EXPECT_EQ(bytes, spool.bytes());
  EXPECT_FALSE(spool.ReadLine(&line));
  // A second rewind reads the same lines again.
  ASSERT_TRUE(spool.Rewind().ok());
  ASSERT_TRUE(spool.ReadLine(&line));
  EXPECT_EQ(line, FormatRecord(records[0]));
}

TEST(ChecksumsTest, EmptySpoolReadsNothing) {
  RecordSpool spool;
  ASSERT_TRUE(spool.Init().ok());
  ASSERT_TRUE(spool.Rewind().ok());
  std::string line = "junk";
  EXPECT_FALSE(spool.ReadLine(&line));
  EXPECT_EQ(spool.count(), 0u);
  EXPECT_EQ(spool.bytes(), 0u);
}

}  // namespace
}  // namespace vmigrate
