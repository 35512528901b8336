#include "archive/archive_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "archive/archive_test_util.h"
#include "archive/archive_writer.h"
#include "core/sha256.h"
#include "support/test_support.h"

namespace vmigrate {
namespace {

using testing::Info;
using testing::ReadArchive;
using testing::ReadEntry;
using testing::TempDir;

std::string Payload(size_t n) {
  std::string s;
  std::uint32_t x = 7;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s.push_back(static_cast<char>(x >> 24));
  }
  return s;
}

// An archive with a manifest and one 200 KB file of incompressible bytes.
std::string MakeArchive(const TempDir& dir, Compression c) {
  std::string path = dir / "a.tar";
  auto w = ArchiveWriter::Open(path, c, false);
  EXPECT_TRUE(w.ok());
  if (!w.ok()) return path;
  EXPECT_TRUE((*w)->AddBytes(Info("manifest.yaml", 0644, 1, 0), "format_version: 1\n").ok());
  EXPECT_TRUE((*w)->AddBytes(Info("domains/d/files/big", 0600, 2, 0), Payload(200000)).ok());
  EXPECT_TRUE((*w)->AddBytes(Info("checksums.txt", 0644, 3, 0), "# vmigrate checksums 1\n").ok());
  EXPECT_TRUE((*w)->Close().ok());
  return path;
}

TEST(ArchiveReaderTest, MissingFileIsNotFound) {
  TempDir dir;
  auto r = ArchiveReader::Open(dir / "absent.tar");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

TEST(ArchiveReaderTest, GarbageBytesAreCorrupt) {
  TempDir dir;
  std::string path = dir / "garbage";
  testing::WriteFile(path, Payload(100000));
  Status st;
  auto e = ReadArchive(path, &st);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kCorrupt) << st.ToString();
  EXPECT_TRUE(e.empty());
}

TEST(ArchiveReaderTest, TextFileIsCorrupt) {
  TempDir dir;
  std::string path = dir / "text";
  testing::WriteFile(path, "format_version: 1\nkind: domain\n");
  Status st;
  ReadArchive(path, &st);
  EXPECT_EQ(st.code(), Status::Code::kCorrupt) << st.ToString();
}

TEST(ArchiveReaderTest, EmptyFileIsCorrupt) {
  TempDir dir;
  std::string path = dir / "empty";
  testing::WriteFile(path, "");
  Status st;
  auto e = ReadArchive(path, &st);
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(st.code(), Status::Code::kCorrupt) << st.ToString();
}

TEST(ArchiveReaderTest, TruncatedArchiveIsCorrupt) {
  const Compression kinds[] = {Compression::kZstd, Compression::kGzip, Compression::kNone};
  for (Compression c : kinds) {
    TempDir dir;
    std::string path = MakeArchive(dir, c);
    std::string full = testing::ReadFile(path);
    ASSERT_GT(full.size(), 1000u);
    // Cut in the middle of the big file's data.
    for (size_t cut : {full.size() / 2, full.size() / 3}) {
      SCOPED_TRACE("compression " + std::to_string(static_cast<int>(c)) + " cut at " +
                   std::to_string(cut));
      std::string truncated = dir / ("t" + std::to_string(cut));
      testing::WriteFile(truncated, full.substr(0, cut));
      Status st;
      auto e = ReadArchive(truncated, &st);
      EXPECT_FALSE(st.ok());
      EXPECT_EQ(st.code(), Status::Code::kCorrupt) << st.ToString();
      EXPECT_LE(e.size(), 1u);
    }
  }
}

TEST(ArchiveReaderTest, CorruptedCompressedStreamNeverCrashes) {
  // Flipped bytes inside stored (incompressible) data may pass the
  // decompressor unnoticed (checksums.txt is there for that); the reader
  // must still either fail with kCorrupt or return data, never crash.
  for (Compression c : {Compression::kZstd, Compression::kGzip}) {
    TempDir dir;
    std::string path = MakeArchive(dir, c);
    std::string bytes = testing::ReadFile(path);
    for (size_t start : {size_t{12}, bytes.size() / 2, bytes.size() - 40}) {
      std::string bad = bytes;
      for (size_t i = start; i < std::min(bad.size(), start + 32); ++i) bad[i] ^= 0x5a;
      testing::WriteFile(path + ".bad", bad);
      Status st;
      ReadArchive(path + ".bad", &st);
      EXPECT_TRUE(st.ok() || st.code() == Status::Code::kCorrupt) << st.ToString();
    }
  }
}

TEST(ArchiveReaderTest, DamagedHeaderOfLaterEntryIsCorrupt) {
  TempDir dir;
  std::string path = MakeArchive(dir, Compression::kNone);
  std::string bytes = testing::ReadFile(path);
  // pax-restricted, short ASCII names: manifest header (512) + data (512),
  // then the second entry's ustar header at 1024.
  ASSERT_EQ(bytes.substr(1024, 19), "domains/d/files/big");
  bytes[1024 + 8] = 'X';  // the header checksum no longer matches
  testing::WriteFile(path + ".bad", bytes);
  Status st;
  auto e = ReadArchive(path + ".bad", &st);
  EXPECT_EQ(st.code(), Status::Code::kCorrupt) << st.ToString();
  ASSERT_GE(e.size(), 1u);
  EXPECT_EQ(e[0].header.path, "manifest.yaml");
  for (const auto& entry : e) EXPECT_NE(entry.header.path, "domains/d/Xiles/big");
}

TEST(ArchiveReaderTest, ReadAllRefusesMoreThanLimit) {
  TempDir dir;
  std::string path = MakeArchive(dir, Compression::kNone);
  auto r = ArchiveReader::Open(path);
  ASSERT_TRUE(r.ok());
  EntryHeader h;
  ASSERT_TRUE(*(*r)->Next(&h));
  ASSERT_TRUE((*r)->ReadAll(1000).ok());
  ASSERT_TRUE(*(*r)->Next(&h));
  EXPECT_EQ(h.path, "domains/d/files/big");
  auto all = (*r)->ReadAll(1000);
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(all.status().message().find("domains/d/files/big"), std::string::npos);
}

TEST(ArchiveReaderTest, NextSkipsUnreadData) {
  TempDir dir;
  std::string path = MakeArchive(dir, Compression::kZstd);
  auto r = ArchiveReader::Open(path);
  ASSERT_TRUE(r.ok());
  EntryHeader h;
  std::vector<std::string> names;
  for (;;) {
    auto more = (*r)->Next(&h);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    names.push_back(h.path);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"manifest.yaml", "domains/d/files/big", "checksums.txt"}));
}

TEST(ArchiveReaderTest, ReadsStdinWhenPathIsDash) {
  TempDir dir;
  std::string path = MakeArchive(dir, Compression::kGzip);
  int saved = dup(0);
  ASSERT_GE(saved, 0);
  FILE* in = fopen(path.c_str(), "rb");
  ASSERT_NE(in, nullptr);
  ASSERT_EQ(dup2(fileno(in), 0), 0);
  Status st;
  auto e = ReadArchive("-", &st);
  dup2(saved, 0);
  close(saved);
  fclose(in);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].data, "format_version: 1\n");
  EXPECT_EQ(e[1].data, Payload(200000));
}

// Reads `path` as stdin ("-"), which takes the single-threaded path.
std::vector<ReadEntry> ReadViaStdin(const std::string& path, Status* st) {
  int saved = dup(0);
  FILE* in = fopen(path.c_str(), "rb");
  if (saved < 0 || in == nullptr || dup2(fileno(in), 0) != 0) {
    *st = Status::IoError("test: cannot redirect stdin");
    return {};
  }
  auto e = ReadArchive("-", st);
  dup2(saved, 0);
  close(saved);
  fclose(in);
  return e;
}

// A regular file is read (decompressed, parsed, hashed) on a second thread,
// stdin on the caller's: both must see the same entries, bytes and errors
// (only the name in the messages differs).
TEST(ArchiveReaderTest, ReadingThreadReadsWhatTheSingleThreadedReaderReads) {
  for (Compression c : {Compression::kZstd, Compression::kGzip, Compression::kNone}) {
    TempDir dir;
    std::string path = MakeArchive(dir, c);
    std::string full = testing::ReadFile(path);
    std::vector<std::string> variants = {full, full.substr(0, full.size() / 2),
                                         full.substr(0, full.size() / 3), full.substr(0, 7)};
    std::string flipped = full;
    for (size_t i = full.size() / 2; i < full.size() / 2 + 32; ++i) flipped[i] ^= 0x5a;
    variants.push_back(flipped);
    for (size_t v = 0; v < variants.size(); ++v) {
      SCOPED_TRACE("compression " + std::to_string(static_cast<int>(c)) + " variant " +
                   std::to_string(v));
      std::string file = dir / ("v" + std::to_string(v));
      testing::WriteFile(file, variants[v]);
      Status threaded, single;
      auto a = ReadArchive(file, &threaded);
      auto b = ReadViaStdin(file, &single);
      EXPECT_EQ(threaded.code(), single.code());
      std::string msg = threaded.message();
      if (msg.compare(0, file.size(), file) == 0) msg = "<stdin>" + msg.substr(file.size());
      EXPECT_EQ(msg, single.message());
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].header.path, b[i].header.path);
        EXPECT_EQ(a[i].data, b[i].data);
      }
      if (v == 0) {
        EXPECT_TRUE(threaded.ok()) << threaded.ToString();
      }
    }
  }
}

// ReadView gives the same bytes as Read, and the reader's digest of them.
std::string ViewEntry(ArchiveReader* r, std::string* digest) {
  std::string out;
  for (;;) {
    const char* data = nullptr;
    auto n = r->ReadView(&data);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0) break;
    out.append(data, *n);
  }
  *digest = r->EntrySha256();
  return out;
}

TEST(ArchiveReaderTest, ReadViewAndDigestOnBothPaths) {
  TempDir dir;
  std::string path = MakeArchive(dir, Compression::kZstd);
  for (bool via_stdin : {false, true}) {
    SCOPED_TRACE(via_stdin ? "stdin" : "file");
    int saved = dup(0);
    FILE* in = fopen(path.c_str(), "rb");
    ASSERT_NE(in, nullptr);
    if (via_stdin) {
      ASSERT_EQ(dup2(fileno(in), 0), 0);
    }
    auto r = ArchiveReader::Open(via_stdin ? "-" : path);
    ASSERT_TRUE(r.ok());
    EntryHeader h;
    ASSERT_TRUE(*(*r)->Next(&h));
    ASSERT_TRUE(*(*r)->Next(&h));  // the manifest's data is skipped unread
    EXPECT_EQ(h.path, "domains/d/files/big");
    std::string digest;
    EXPECT_EQ(ViewEntry(r->get(), &digest), Payload(200000));
    EXPECT_EQ(digest, Sha256::Of(Payload(200000)));
    ASSERT_TRUE(*(*r)->Next(&h));
    EXPECT_EQ(ViewEntry(r->get(), &digest), "# vmigrate checksums 1\n");
    EXPECT_EQ(digest, Sha256::Of("# vmigrate checksums 1\n"));
    EXPECT_FALSE(*(*r)->Next(&h));
    dup2(saved, 0);
    close(saved);
    fclose(in);
  }
}

// Many MB through the reading thread's queue, and a reader that stops
// early while the reading thread waits for room: it must not hang.
TEST(ArchiveReaderTest, LargeArchiveThroughTheReadingThreadAndEarlyClose) {
  TempDir dir;
  std::string path = dir / "big.tar";
  std::vector<std::string> payloads;
  {
    auto w = ArchiveWriter::Open(path, Compression::kZstd, false);
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 12; ++i) {
      payloads.push_back(Payload(700000 + i * 1000));
      ASSERT_TRUE((*w)->AddBytes(Info("f" + std::to_string(i), 0600, i, 0), payloads.back()).ok());
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  Status st;
  auto e = ReadArchive(path, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(e.size(), payloads.size());
  for (size_t i = 0; i < e.size(); ++i) EXPECT_EQ(e[i].data, payloads[i]) << i;

  for (int stop_after = 0; stop_after < 3; ++stop_after) {
    auto r = ArchiveReader::Open(path);
    ASSERT_TRUE(r.ok());
    EntryHeader h;
    for (int i = 0; i < stop_after; ++i) ASSERT_TRUE(*(*r)->Next(&h));
    // The reader is destroyed here with most of the archive unread.
  }
}

}  // namespace
}  // namespace vmigrate
