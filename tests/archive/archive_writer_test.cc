#include "archive/archive_writer.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "archive/archive_reader.h"
#include "archive/archive_test_util.h"
#include "core/sha256.h"
#include "support/test_support.h"

namespace vmigrate {
namespace {

using testing::Info;
using testing::ReadArchive;
using testing::ReadEntry;
using testing::TempDir;

const Compression kAll[] = {Compression::kZstd, Compression::kGzip, Compression::kNone};

const char* Name(Compression c) {
  switch (c) {
    case Compression::kZstd: return "zstd";
    case Compression::kGzip: return "gzip";
    case Compression::kNone: return "none";
  }
  return "?";
}

// manifest, a directory, a file with binary data, an empty file, a symlink.
void WriteSample(const std::string& path, Compression c) {
  auto w = ArchiveWriter::Open(path, c, false);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->AddBytes(Info("manifest.yaml", 0644, 1767225600, 0), "format_version: 1\n").ok());
  ASSERT_TRUE((*w)->AddDirectory(Info("domains/example.com/users/alice", 0700, 1767225601, 500)).ok());
  std::string binary;
  for (int i = 0; i < 3000; ++i) binary.push_back(static_cast<char>(i % 256));
  ASSERT_TRUE((*w)->AddBytes(Info("domains/example.com/users/alice/Maildir/cur/1.2.host,S=3000:2,S",
                                  0600, 1700000000, 999999999),
                             binary).ok());
  ASSERT_TRUE((*w)->AddBytes(Info("domains/example.com/files/empty", 0640, 1, 1), "").ok());
  ASSERT_TRUE((*w)->AddSymlink(Info("domains/example.com/files/link", 0777, 1767225602, 123456789),
                               "/tmp/realvp/home/vpopmail/domains/example.com/alice").ok());
  ASSERT_TRUE((*w)->Close().ok());
  EXPECT_EQ((*w)->bytes_in(), 18u + 3000u);
}

TEST(ArchiveWriterTest, ParseCompression) {
  auto z = ParseCompression("zstd");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(*z, Compression::kZstd);
  auto g = ParseCompression("gzip");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, Compression::kGzip);
  auto n = ParseCompression("none");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, Compression::kNone);
  for (const char* bad : {"", "ZSTD", "xz", "gz", "bzip2"}) {
    auto r = ParseCompression(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
  }
  EXPECT_NE(ParseCompression("xz").status().message().find("'xz'"), std::string::npos);
}

TEST(ArchiveWriterTest, RoundTripEntriesTypesAndData) {
  for (Compression c : kAll) {
    SCOPED_TRACE(Name(c));
    TempDir dir;
    std::string path = dir / "a.tar";
    WriteSample(path, c);
    Status st;
    std::vector<ReadEntry> e = ReadArchive(path, &st);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(e.size(), 5u);

    EXPECT_EQ(e[0].header.path, "manifest.yaml");
    EXPECT_EQ(e[0].header.type, EntryType::kFile);
    EXPECT_EQ(e[0].header.mode, 0644u);
    EXPECT_EQ(e[0].header.size, 18);
    EXPECT_EQ(e[0].data, "format_version: 1\n");
    EXPECT_EQ(e[0].header.mtime_sec, 1767225600);

    EXPECT_EQ(e[1].header.path, "domains/example.com/users/alice");  // no trailing '/'
    EXPECT_EQ(e[1].header.type, EntryType::kDirectory);
    EXPECT_EQ(e[1].header.mode, 0700u);
    EXPECT_EQ(e[1].header.mtime_sec, 1767225601);
    EXPECT_EQ(e[1].data, "");

    EXPECT_EQ(e[2].header.path, "domains/example.com/users/alice/Maildir/cur/1.2.host,S=3000:2,S");
    EXPECT_EQ(e[2].header.type, EntryType::kFile);
    EXPECT_EQ(e[2].header.mode, 0600u);
    EXPECT_EQ(e[2].header.size, 3000);
    ASSERT_EQ(e[2].data.size(), 3000u);
    for (int i = 0; i < 3000; ++i) ASSERT_EQ(static_cast<unsigned char>(e[2].data[i]), i % 256);
    EXPECT_EQ(e[2].header.mtime_sec, 1700000000);

    EXPECT_EQ(e[3].header.path, "domains/example.com/files/empty");
    EXPECT_EQ(e[3].header.type, EntryType::kFile);
    EXPECT_EQ(e[3].header.mode, 0640u);
    EXPECT_EQ(e[3].header.size, 0);
    EXPECT_EQ(e[3].data, "");

    EXPECT_EQ(e[4].header.path, "domains/example.com/files/link");
    EXPECT_EQ(e[4].header.type, EntryType::kSymlink);
    EXPECT_EQ(e[4].header.link_target, "/tmp/realvp/home/vpopmail/domains/example.com/alice");
    EXPECT_EQ(e[4].header.mtime_sec, 1767225602);
  }
}

TEST(ArchiveWriterTest, MtimeNanosecondsRoundTrip) {
  for (Compression c : kAll) {
    SCOPED_TRACE(Name(c));
    TempDir dir;
    std::string path = dir / "a.tar";
    WriteSample(path, c);
    Status st;
    std::vector<ReadEntry> e = ReadArchive(path, &st);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(e.size(), 5u);
    EXPECT_EQ(e[0].header.mtime_nsec, 0);
    EXPECT_EQ(e[1].header.mtime_nsec, 500);
    EXPECT_EQ(e[2].header.mtime_nsec, 999999999);
    EXPECT_EQ(e[3].header.mtime_nsec, 1);
    EXPECT_EQ(e[4].header.mtime_nsec, 123456789);
  }
}

TEST(ArchiveWriterTest, PreEpochAndLargeMtimesRoundTrip) {
  TempDir dir;
  std::string path = dir / "a.tar";
  {
    auto w = ArchiveWriter::Open(path, Compression::kNone, false);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->AddBytes(Info("old", 0600, -86400, 0), "x").ok());
    ASSERT_TRUE((*w)->AddBytes(Info("future", 0600, 4102444800, 5), "y").ok());  // 2100
    ASSERT_TRUE((*w)->Close().ok());
  }
  Status st;
  auto e = ReadArchive(path, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].header.mtime_sec, -86400);
  EXPECT_EQ(e[1].header.mtime_sec, 4102444800);
  EXPECT_EQ(e[1].header.mtime_nsec, 5);
}

TEST(ArchiveWriterTest, LongAndNonAsciiNamesRoundTrip) {
  TempDir dir;
  std::string path = dir / "a.tar";
  std::string long_name = "domains/example.com/users/alice/Maildir/.INBOX.a-very-long-folder-name/"
                          "cur/1700000000.M123456P7890V0000000000000803I0000000000123456_0."
                          "mail.example.com,S=123456:2,RS";
  std::string unicode = "domains/example.com/users/jürgen/Maildir/.Entwürfe";
  {
    auto w = ArchiveWriter::Open(path, Compression::kNone, false);
    ASSERT_TRUE(w.ok());
    ASSERT_GT(long_name.size(), 100u);
    ASSERT_TRUE((*w)->AddBytes(Info(long_name, 0600, 10, 20), "x").ok());
    ASSERT_TRUE((*w)->AddDirectory(Info(unicode, 0700, 11, 21)).ok());
    ASSERT_TRUE((*w)->AddSymlink(Info("l", 0777, 12, 0), std::string(300, 'T')).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  Status st;
  auto e = ReadArchive(path, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].header.path, long_name);
  EXPECT_EQ(e[0].header.mtime_nsec, 20);
  EXPECT_EQ(e[1].header.path, unicode);
  EXPECT_EQ(e[1].header.type, EntryType::kDirectory);
  EXPECT_EQ(e[2].header.link_target, std::string(300, 'T'));
}

TEST(ArchiveWriterTest, OutputFileHasMode0600) {
  for (Compression c : kAll) {
    SCOPED_TRACE(Name(c));
    TempDir dir;
    std::string path = dir / "a.tar";
    mode_t old = umask(0);
    WriteSample(path, c);
    umask(old);
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }
}

TEST(ArchiveWriterTest, OpenRefusesExistingFileUnlessOverwrite) {
  TempDir dir;
  std::string path = dir / "a.tar";
  testing::WriteFile(path, "precious");
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto w = ArchiveWriter::Open(path, Compression::kZstd, false);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Status::Code::kConflict);
  EXPECT_NE(w.status().message().find(path), std::string::npos);
  EXPECT_EQ(testing::ReadFile(path), "precious");

  auto o = ArchiveWriter::Open(path, Compression::kNone, true);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_TRUE((*o)->AddBytes(Info("manifest.yaml", 0644, 1, 0), "m").ok());
  ASSERT_TRUE((*o)->Close().ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  Status rs;
  auto e = ReadArchive(path, &rs);
  ASSERT_TRUE(rs.ok()) << rs.ToString();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].data, "m");
}

TEST(ArchiveWriterTest, NothingUnderTheFinalNameUntilClose) {
  TempDir dir;
  std::string path = dir / "a.tar";
  {
    auto w = ArchiveWriter::Open(path, Compression::kZstd, false);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->AddBytes(Info("manifest.yaml", 0644, 1, 0), "m").ok());
    struct stat st;
    EXPECT_NE(lstat(path.c_str(), &st), 0) << "the archive is visible before Close";
  }  // abandoned: the temp file goes too
  size_t entries = 0;
  for (auto it = std::filesystem::directory_iterator(dir.path()); it != std::filesystem::directory_iterator(); ++it)
    ++entries;
  EXPECT_EQ(entries, 0u);

  testing::WriteFile(path, "old");
  auto o = ArchiveWriter::Open(path, Compression::kNone, true);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE((*o)->AddBytes(Info("manifest.yaml", 0644, 1, 0), "m").ok());
  EXPECT_EQ(testing::ReadFile(path), "old") << "--force replaced the file before Close";
  ASSERT_TRUE((*o)->Close().ok());
  EXPECT_NE(testing::ReadFile(path), "old");
}

TEST(ArchiveWriterTest, OpenInMissingDirectoryFails) {
  TempDir dir;
  auto w = ArchiveWriter::Open(dir / "missing/a.tar", Compression::kGzip, false);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Status::Code::kNotFound);
}

TEST(ArchiveWriterTest, WrongDataSizeIsAnError) {
  TempDir dir;
  auto w = ArchiveWriter::Open(dir / "a.tar", Compression::kNone, false);
  ASSERT_TRUE(w.ok());
  EntryInfo i = Info("f", 0600, 1, 0);
  i.size = 4;
  ASSERT_TRUE((*w)->BeginFile(i).ok());
  EXPECT_FALSE((*w)->WriteData("12345", 5).ok());  // grew
  ASSERT_TRUE((*w)->WriteData("12", 2).ok());
  EXPECT_FALSE((*w)->EndFile().ok());  // shrank
}

TEST(ArchiveWriterTest, LargeEntryStreamedInChunksRoundTrips) {
  for (Compression c : {Compression::kZstd, Compression::kNone}) {
    SCOPED_TRACE(Name(c));
    TempDir dir;
    std::string path = dir / "big.tar";
    const size_t kSize = 5u << 20;
    const size_t kChunk = 65536 + 17;
    std::string chunk(kChunk, '\0');
    Sha256 written;
    {
      auto w = ArchiveWriter::Open(path, c, false);
      ASSERT_TRUE(w.ok());
      EntryInfo i = Info("domains/example.com/users/alice/Maildir/cur/big", 0600, 1700000000, 42);
      i.size = static_cast<std::int64_t>(kSize);
      ASSERT_TRUE((*w)->BeginFile(i).ok());
      std::uint32_t x = 12345;
      for (size_t done = 0; done < kSize;) {
        size_t n = std::min(kChunk, kSize - done);
        for (size_t k = 0; k < n; ++k) {
          x = x * 1103515245u + 12345u;
          chunk[k] = static_cast<char>(x >> 24);
        }
        written.Update(chunk.data(), n);
        ASSERT_TRUE((*w)->WriteData(chunk.data(), n).ok());
        done += n;
      }
      ASSERT_TRUE((*w)->EndFile().ok());
      ASSERT_TRUE((*w)->AddBytes(Info("checksums.txt", 0644, 1, 0), "after\n").ok());
      ASSERT_TRUE((*w)->Close().ok());
      EXPECT_EQ((*w)->bytes_in(), kSize + 6);
    }
    auto r = ArchiveReader::Open(path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EntryHeader h;
    auto more = (*r)->Next(&h);
    ASSERT_TRUE(more.ok() && *more);
    EXPECT_EQ(h.size, static_cast<std::int64_t>(kSize));
    Sha256 read;
    size_t total = 0;
    std::vector<char> buf(40000);
    for (;;) {
      auto n = (*r)->Read(buf.data(), buf.size());
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      if (*n == 0) break;
      read.Update(buf.data(), *n);
      total += *n;
    }
    EXPECT_EQ(total, kSize);
    EXPECT_EQ(read.HexDigest(), written.HexDigest());
    more = (*r)->Next(&h);
    ASSERT_TRUE(more.ok() && *more);
    EXPECT_EQ(h.path, "checksums.txt");
    auto tail = (*r)->ReadAll(100);
    ASSERT_TRUE(tail.ok());
    EXPECT_EQ(*tail, "after\n");
    more = (*r)->Next(&h);
    ASSERT_TRUE(more.ok());
    EXPECT_FALSE(*more);
  }
}

TEST(ArchiveWriterTest, DestructorWithoutCloseDoesNotCrash) {
  TempDir dir;
  auto w = ArchiveWriter::Open(dir / "a.tar", Compression::kZstd, false);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->AddBytes(Info("manifest.yaml", 0644, 1, 0), "m").ok());
  // goes out of scope without Close()
}

}  // namespace
}  // namespace vmigrate
