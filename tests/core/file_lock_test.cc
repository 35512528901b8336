#include "core/file_lock.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vmigrate {
namespace {

using testing::TempDir;

// Exit codes of the child process.
constexpr int kChildGotLock = 10;
constexpr int kChildConflict = 11;
constexpr int kChildOtherError = 12;

// Forks a child that tries to take `path` with `timeout` seconds and reports
// the outcome through its exit code. fcntl locks only conflict between
// processes, so a child is the only honest second locker.
int TryLockInChild(const std::string& path, int timeout) {
  pid_t pid = fork();
  if (pid == 0) {
    auto r = FileLock::Acquire(path, timeout);
    int code = r.ok() ? kChildGotLock
                      : r.status().code() == Status::Code::kConflict ? kChildConflict
                                                                     : kChildOtherError;
    _exit(code);
  }
  if (pid < 0) return -1;
  int st = 0;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

TEST(FileLockTest, AcquireCreatesLockFileWithMode0600) {
  TempDir dir;
  std::string path = dir / "assign.lock";
  mode_t old = umask(0);
  auto lock = FileLock::Acquire(path, 1);
  umask(old);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_TRUE(lock->held());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(FileLockTest, SecondProcessTimesOutWithConflictWhileHeld) {
  TempDir dir;
  std::string path = dir / "x.lock";
  auto lock = FileLock::Acquire(path, 1);
  ASSERT_TRUE(lock.ok());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(TryLockInChild(path, 1), kChildConflict);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(900));  // it did wait for the timeout
}

TEST(FileLockTest, ConflictMessageNamesLockFile) {
  TempDir dir;
  std::string path = dir / "x.lock";
  auto lock = FileLock::Acquire(path, 1);
  ASSERT_TRUE(lock.ok());
  // Child writes the message to a file so the parent can check it.
  std::string out = dir / "msg";
  pid_t pid = fork();
  if (pid == 0) {
    auto r = FileLock::Acquire(path, 0);
    testing::WriteFile(out, r.ok() ? std::string("ok") : r.status().message());
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  std::string msg = testing::ReadFile(out);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(FileLockTest, ReleaseLetsAnotherProcessAcquire) {
  TempDir dir;
  std::string path = dir / "x.lock";
  auto lock = FileLock::Acquire(path, 1);
  ASSERT_TRUE(lock.ok());
  lock->Release();
  EXPECT_FALSE(lock->held());
  EXPECT_EQ(TryLockInChild(path, 1), kChildGotLock);
  lock->Release();  // a second Release is harmless
}

TEST(FileLockTest, DestructorReleases) {
  TempDir dir;
  std::string path = dir / "x.lock";
  {
    auto lock = FileLock::Acquire(path, 1);
    ASSERT_TRUE(lock.ok());
  }
  EXPECT_EQ(TryLockInChild(path, 1), kChildGotLock);
}

TEST(FileLockTest, MoveKeepsTheLock) {
  TempDir dir;
  std::string path = dir / "x.lock";
  auto lock = FileLock::Acquire(path, 1);
  ASSERT_TRUE(lock.ok());
  FileLock moved = std::move(*lock);
  EXPECT_TRUE(moved.held());
  EXPECT_FALSE(lock->held());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(TryLockInChild(path, 0), kChildConflict);
  FileLock assigned;
  assigned = std::move(moved);
  EXPECT_TRUE(assigned.held());
  EXPECT_EQ(TryLockInChild(path, 0), kChildConflict);
  assigned.Release();
  EXPECT_EQ(TryLockInChild(path, 0), kChildGotLock);
}

TEST(FileLockTest, MissingDirectoryIsNotFound) {
  TempDir dir;
  auto lock = FileLock::Acquire(dir / "missing/x.lock", 0);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), Status::Code::kNotFound);
}

TEST(FileLockTest, SymlinkLockFileIsRefused) {
  TempDir dir;
  testing::WriteFile(dir / "real", "");
  ASSERT_EQ(symlink((dir / "real").c_str(), (dir / "x.lock").c_str()), 0);
  auto lock = FileLock::Acquire(dir / "x.lock", 0);
  EXPECT_FALSE(lock.ok());
}

}  // namespace
}  // namespace vmigrate
