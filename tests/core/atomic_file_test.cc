#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vmigrate {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

mode_t PermOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return static_cast<mode_t>(-1);
  return st.st_mode & 07777;
}

TEST(AtomicFileTest, WriteFileAtomicCreatesFileWithMode) {
  TempDir dir;
  std::string path = dir / "target";
  ASSERT_TRUE(WriteFileAtomic(path, "hello\n", 0640).ok());
  EXPECT_EQ(ReadFile(path), "hello\n");
  EXPECT_EQ(PermOf(path), 0640u);
}

TEST(AtomicFileTest, WriteFileAtomicReplacesContentAndAppliesMode) {
  TempDir dir;
  std::string path = dir / "target";
  WriteFile(path, "old content that is longer than the new one\n");
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  ASSERT_TRUE(WriteFileAtomic(path, "new\n", 0644).ok());
  EXPECT_EQ(ReadFile(path), "new\n");
  EXPECT_EQ(PermOf(path), 0644u);
}

TEST(AtomicFileTest, ModeIsNotReducedByUmask) {
  TempDir dir;
  std::string path = dir / "target";
  mode_t old = umask(077);
  Status s = WriteFileAtomic(path, "x", 0664);
  umask(old);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(PermOf(path), 0664u);
}

TEST(AtomicFileTest, TempFileNameAndRemovalAfterCommit) {
  TempDir dir;
  std::string path = dir / "users.cdb";
  AtomicFile file(path, 0644);
  EXPECT_EQ(file.temp_path(),
            dir.path() + "/.users.cdb.vmigrate-tmp." + std::to_string(static_cast<long>(getpid())));
  ASSERT_TRUE(file.Open().ok());
  EXPECT_TRUE(Exists(file.temp_path()));
  ASSERT_TRUE(file.Append("abc").ok());
  ASSERT_TRUE(file.Append("def", 3).ok());
  EXPECT_FALSE(Exists(path));  // nothing visible before Commit
  ASSERT_TRUE(file.Commit().ok());
  EXPECT_FALSE(Exists(file.temp_path()));
  EXPECT_EQ(ReadFile(path), "abcdef");
}

TEST(AtomicFileTest, AbandonedWriteRemovesTempAndKeepsOldFile) {
  TempDir dir;
  std::string path = dir / "target";
  WriteFile(path, "original\n");
  std::string temp;
  {
    AtomicFile file(path, 0644);
    temp = file.temp_path();
    ASSERT_TRUE(file.Open().ok());
    ASSERT_TRUE(file.Append("partial").ok());
    EXPECT_TRUE(Exists(temp));
  }  // destructor without Commit
  EXPECT_FALSE(Exists(temp));
  EXPECT_EQ(ReadFile(path), "original\n");
}

TEST(AtomicFileTest, OpenReplacesStaleTempFile) {
  TempDir dir;
  std::string path = dir / "target";
  AtomicFile file(path, 0600);
  WriteFile(file.temp_path(), "stale from a crashed run");
  ASSERT_TRUE(file.Open().ok());
  ASSERT_TRUE(file.Append("fresh").ok());
  ASSERT_TRUE(file.Commit().ok());
  EXPECT_EQ(ReadFile(path), "fresh");
}

TEST(AtomicFileTest, OpenInMissingDirectoryIsNotFound) {
  TempDir dir;
  Status s = WriteFileAtomic(dir / "no/such/dir/file", "x", 0600);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("no/such/dir"), std::string::npos) << s.message();
}

TEST(AtomicFileTest, WithoutReplaceAnEntryThatAppearedIsKept) {
  TempDir dir;
  std::string path = dir / "target";
  AtomicFile file(path, 0600);
  file.set_replace_existing(false);
  ASSERT_TRUE(file.Open().ok());
  ASSERT_TRUE(file.Append("new").ok());
  WriteFile(path, "appeared meanwhile");
  Status s = file.Commit();
  EXPECT_EQ(s.code(), Status::Code::kConflict) << s.ToString();
  EXPECT_EQ(ReadFile(path), "appeared meanwhile");
}

TEST(AtomicFileTest, WithoutReplaceANewFileIsCommitted) {
  TempDir dir;
  AtomicFile file(dir / "target", 0600);
  file.set_replace_existing(false);
  ASSERT_TRUE(file.Open().ok());
  ASSERT_TRUE(file.Append("new").ok());
  ASSERT_TRUE(file.Commit().ok());
  EXPECT_EQ(ReadFile(dir / "target"), "new");
  EXPECT_FALSE(Exists(file.temp_path()));
}

TEST(AtomicFileTest, RemoveLiveTempFilesRemovesOnlyUncommittedOnes) {
  TempDir dir;
  AtomicFile open_one(dir / "a", 0600), done(dir / "b", 0600);
  ASSERT_TRUE(open_one.Open().ok());
  ASSERT_TRUE(done.Open().ok());
  ASSERT_TRUE(done.Commit().ok());
  RemoveLiveTempFiles();
  EXPECT_FALSE(Exists(open_one.temp_path()));
  EXPECT_TRUE(Exists(dir / "b"));
}

TEST(AtomicFileTest, RemoveStaleTempFilesKeepsLockedAndForeignNames) {
  TempDir dir;
  std::string path = dir / "out.tar";
  WriteFile(dir / ".out.tar.vmigrate-tmp.123", "stale");
  WriteFile(dir / ".out.tar.vmigrate-tmp.456", "live");
  WriteFile(dir / ".out.tar.vmigrate-tmp.x", "not a pid");
  WriteFile(dir / ".other.vmigrate-tmp.123", "another file's");
  int fd = open((dir / ".out.tar.vmigrate-tmp.456").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  EXPECT_EQ(RemoveStaleTempFiles(path), 1);
  close(fd);
  EXPECT_FALSE(Exists(dir / ".out.tar.vmigrate-tmp.123"));
  EXPECT_TRUE(Exists(dir / ".out.tar.vmigrate-tmp.456"));
  EXPECT_TRUE(Exists(dir / ".out.tar.vmigrate-tmp.x"));
  EXPECT_TRUE(Exists(dir / ".other.vmigrate-tmp.123"));
  // A writer in this process holds its temp file locked while it writes.
  AtomicFile live(path, 0600);
  ASSERT_TRUE(live.Open().ok());
  EXPECT_EQ(RemoveStaleTempFiles(path), 1);  // the .456 one, now unlocked
  EXPECT_TRUE(Exists(live.temp_path()));
}

TEST(AtomicFileTest, ReadSmallFileReadsWholeFile) {
  TempDir dir;
  std::string big(200000, 'x');
  big[150000] = '\0';
  WriteFile(dir / "f", big);
  auto r = ReadSmallFile(dir / "f");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, big);
}

TEST(AtomicFileTest, ReadSmallFileEmptyFile) {
  TempDir dir;
  WriteFile(dir / "empty", "");
  auto r = ReadSmallFile(dir / "empty");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
}

TEST(AtomicFileTest, ReadSmallFileLimit) {
  TempDir dir;
  WriteFile(dir / "f", "0123456789");
  auto exact = ReadSmallFile(dir / "f", 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(*exact, "0123456789");
  auto over = ReadSmallFile(dir / "f", 9);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(over.status().message().find(dir / "f"), std::string::npos);
}

TEST(AtomicFileTest, ReadSmallFileMissingIsNotFound) {
  TempDir dir;
  auto r = ReadSmallFile(dir / "absent");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("absent"), std::string::npos);
}

TEST(AtomicFileTest, ReadSmallFileOfDirectoryIsIoError) {
  TempDir dir;
  auto r = ReadSmallFile(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIoError);
}

TEST(AtomicFileTest, SyncDirectory) {
  TempDir dir;
  EXPECT_TRUE(SyncDirectory(dir.path()).ok());
  EXPECT_EQ(SyncDirectory(dir / "missing").code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace vmigrate
