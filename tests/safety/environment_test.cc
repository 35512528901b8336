// Bad environments: a target whose vpopmail home or qmail dir is missing or
// not writable, a full disk (RLIMIT_FSIZE, and a tiny tmpfs when we may
// mount), an archive that cannot be read, stdin that ends early. Each must
// give a clear one-line error and the documented exit code, leave the
// target byte for byte as it was (mtimes included) and no staging behind.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "safety/safety_support.h"
#include "support/test_support.h"

namespace vmigrate::testing::safety {
namespace {

struct EnvShared {
  std::unique_ptr<TempDir> small, hashed, work;
  std::string com, big;
  std::string error;
};
EnvShared* g_shared = nullptr;

class SafetyEnvironmentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_shared = new EnvShared;
    EnvShared& s = *g_shared;
    s.small = std::make_unique<TempDir>();
    s.hashed = std::make_unique<TempDir>();
    s.work = std::make_unique<TempDir>();
    UnpackFixture("real-small", s.small->path());
    UnpackFixture("real-hashed", s.hashed->path());
    s.com = *s.work / "com.vma";
    s.big = *s.work / "big.vma";
    CommandResult r = cli::Export(s.small->path(), "example.com", s.com);
    if (r.exit_code != 0) s.error += "export example.com: " + r.err;
    r = cli::Export(s.hashed->path(), "big.example", s.big);
    if (r.exit_code != 0) s.error += "export big.example: " + r.err;
  }
  static void TearDownTestSuite() {
    delete g_shared;
    g_shared = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g_shared->error.empty()) << g_shared->error; }

  // Runs `argv` against a target and checks: exit code, one-line error,
  // target byte-identical, no staging or journal.
  void ExpectCleanFailure(const std::string& root, const std::vector<std::string>& argv,
                          int exit_code, const std::string& message,
                          const std::string& stdin_file = "") {
    const auto before = TreeDigest(root);
    CommandResult r = RunCommand(argv, stdin_file);
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    ExpectOneLineError(r, message);
    EXPECT_SAME_TREE(before, TreeDigest(root)) << "the target changed";
    EXPECT_EQ(Leftovers(root), std::vector<std::string>{});
  }
};

// A mount we made, unmounted (lazily, if busy) when the test ends.
class ScopedMount {
 public:
  ScopedMount(const std::string& dir, const std::string& options) : dir_(dir) {
    if (geteuid() != 0) {
      error_ = "not root";
      return;
    }
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      error_ = std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~ScopedMount() {
    if (mounted_ && umount2(dir_.c_str(), 0) != 0) umount2(dir_.c_str(), MNT_DETACH);
  }
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool Remount(unsigned long flags, const std::string& options) {
    return mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | flags, options.c_str()) == 0;
  }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

unsigned long long FreeBlocks(const std::string& dir) {
  struct statvfs st;
  if (statvfs(dir.c_str(), &st) != 0) return 0;
  return st.f_bfree;
}

#define SKIP_LOUDLY(what, why)                                                                   \
  GTEST_SKIP() << "\n*** SKIPPED: " << what << " needs root and mount(2) (" << why << ")."       \
               << " Run the suite as root (CI does) to test it. ***"

TEST_F(SafetyEnvironmentTest, VpopmailHomeMissing) {
  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  fs::remove_all(dst / "srv/vpopmail");
  ExpectCleanFailure(dst.path(), ImportArgv(dst.path(), g_shared->com), 7, "vpopmail home");
  EXPECT_FALSE(fs::exists(dst / "srv/vpopmail"));
}

TEST_F(SafetyEnvironmentTest, QmailDirMissing) {
  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  fs::remove_all(dst / "var/qmail");
  ExpectCleanFailure(dst.path(), ImportArgv(dst.path(), g_shared->com), 7, "qmail");
  EXPECT_FALSE(fs::exists(dst / "var/qmail"));
  EXPECT_FALSE(fs::exists(dst / "srv/vpopmail/domains"));
}

TEST_F(SafetyEnvironmentTest, QmailUsersDirMissing) {
  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  fs::remove_all(dst / "var/qmail/users");
  ExpectCleanFailure(dst.path(), ImportArgv(dst.path(), g_shared->com), 7, "var/qmail/users");
}

TEST_F(SafetyEnvironmentTest, VpopmailHomeNotWritable) {
  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  std::unique_ptr<ScopedMount> ro;
  if (geteuid() == 0) {
    // Root writes through any mode bits: make the home a read-only mount.
    ro = std::make_unique<ScopedMount>(dst / "srv/vpopmail", "size=1m,mode=755");
    if (!ro->ok()) SKIP_LOUDLY("a read-only vpopmail home", ro->error());
    ASSERT_TRUE(ro->Remount(MS_RDONLY, "size=1m,mode=755")) << std::strerror(errno);
  } else {
    chmod((dst / "srv/vpopmail").c_str(), 0555);
  }
  ExpectCleanFailure(dst.path(), ImportArgv(dst.path(), g_shared->com), 1, "not writable");
  if (!ro) chmod((dst / "srv/vpopmail").c_str(), 0755);
}

// The qmail control dir read-only: found only when the import locks the
// control files, after the whole domain has been staged.
TEST_F(SafetyEnvironmentTest, QmailControlDirNotWritable) {
  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  std::unique_ptr<ScopedMount> ro;
  if (geteuid() == 0) {
    ro = std::make_unique<ScopedMount>(dst / "var/qmail/control", "size=1m,mode=755");
    if (!ro->ok()) SKIP_LOUDLY("a read-only qmail control dir", ro->error());
    WriteFile(dst / "var/qmail/control/me", std::string(cli::kTargetMe) + "\n");
    WriteFile(dst / "var/qmail/control/rcpthosts", std::string(cli::kTargetMe) + "\n");
    ASSERT_TRUE(ro->Remount(MS_RDONLY, "size=1m,mode=755")) << std::strerror(errno);
  } else {
    chmod((dst / "var/qmail/control").c_str(), 0555);
  }
  ExpectCleanFailure(dst.path(), ImportArgv(dst.path(), g_shared->com), 1, "control");
  if (!ro) chmod((dst / "var/qmail/control").c_str(), 0755);
  DomainState st = StateOf(dst.path(), "example.com");
  EXPECT_FALSE(st.present || st.in_assign || st.in_cdb) << st.str();
}

TEST_F(SafetyEnvironmentTest, ArchiveDoesNotExist) {
  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  std::string missing = g_shared->work->path() + "/no-such-archive.vma";
  ExpectCleanFailure(dst.path(), ImportArgv(dst.path(), missing), 7, missing);
}

TEST_F(SafetyEnvironmentTest, ArchiveIsADirectory) {
  TempDir dst, dir;
  cli::MakeEmptyTarget(dst.path());
  const auto before = TreeDigest(dst.path());
  CommandResult r = RunCommand(ImportArgv(dst.path(), dir.path()));
  EXPECT_TRUE(r.exit_code == 6 || r.exit_code == 7 || r.exit_code == 1) << r.exit_code << " " << r.err;
  EXPECT_NE(r.exit_code, 0);
  ExpectOneLineError(r, dir.path());
  EXPECT_SAME_TREE(before, TreeDigest(dst.path()));
  EXPECT_EQ(Leftovers(dst.path()), std::vector<std::string>{});
}

TEST_F(SafetyEnvironmentTest, ArchiveNotReadable) {
  if (geteuid() == 0)
    GTEST_SKIP() << "root reads a mode 000 file; ArchiveIsADirectory and ArchiveDoesNotExist cover "
                    "an archive that cannot be read";
  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  std::string copy = g_shared->work->path() + "/unreadable.vma";
  fs::copy_file(g_shared->com, copy, fs::copy_options::overwrite_existing);
  chmod(copy.c_str(), 0);
  ExpectCleanFailure(dst.path(), ImportArgv(dst.path(), copy), 1, copy);
  chmod(copy.c_str(), 0600);
}

TEST_F(SafetyEnvironmentTest, StdinEndsEarly) {
  for (const std::string& archive : {g_shared->com, g_shared->big}) {
    SCOPED_TRACE(archive);
    TempDir dst;
    cli::MakeEmptyTarget(dst.path());
    std::string bytes = ReadFile(archive);
    std::string half = g_shared->work->path() + "/half.vma";
    WriteFile(half, bytes.substr(0, bytes.size() / 2));
    ExpectCleanFailure(dst.path(), ImportArgv(dst.path(), "-"), 6, "", half);
  }
}

TEST_F(SafetyEnvironmentTest, EmptyStdin) {
  TempDir dst;
  cli::MakeEmptyTarget(dst.path());
  ExpectCleanFailure(dst.path(), ImportArgv(dst.path(), "-"), 6, "");
}

// RLIMIT_FSIZE: every write past the limit fails with EFBIG (vmigrate
// ignores SIGXFSZ), as on a full disk. Several limits, so the failure hits
// different files (staged mail, vpasswd, control files).
TEST_F(SafetyEnvironmentTest, DiskFullFileSizeLimit) {
  if (RunCommand({"prlimit", "--version"}).exit_code != 0)
    GTEST_SKIP() << "\n*** SKIPPED: prlimit (util-linux) is not installed ***";
  int failures = 0;
  // (Not below ~600: the limit also applies to the child's stderr file.)
  for (const char* limit : {"600", "1000", "3000", "20000"}) {
    SCOPED_TRACE(std::string("--fsize=") + limit);
    TempDir dst;
    cli::MakeEmptyTarget(dst.path());
    const auto before = TreeDigest(dst.path());
    std::vector<std::string> argv = {"prlimit", std::string("--fsize=") + limit};
    auto import = ImportArgv(dst.path(), g_shared->big);
    argv.insert(argv.end(), import.begin(), import.end());
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(Leftovers(dst.path()), std::vector<std::string>{});
    if (r.exit_code == 0) {
      // Every file fitted under this limit: then it must be a normal import.
      DomainState st = StateOf(dst.path(), "big.example");
      EXPECT_TRUE(st.present && st.in_assign && st.in_cdb) << st.str();
      continue;
    }
    ++failures;
    EXPECT_EQ(r.exit_code, 1) << r.err;
    ExpectOneLineError(r, "too large");
    EXPECT_SAME_TREE(before, TreeDigest(dst.path())) << "the target changed";
  }
  EXPECT_GE(failures, 2) << "the file size limit never made the import fail";
}

// A real full file system: the target on a 200 KiB tmpfs.
TEST_F(SafetyEnvironmentTest, DiskFullTmpfs) {
  TempDir dir;
  const std::string root = dir / "root";
  fs::create_directories(root);
  ScopedMount m(root, "size=200k,mode=755");
  if (!m.ok()) SKIP_LOUDLY("the full-tmpfs test", m.error());
  cli::MakeEmptyTarget(root);
  const auto before = TreeDigest(root);
  const unsigned long long free_before = FreeBlocks(root);
  CommandResult r = RunCommand(ImportArgv(root, g_shared->big));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ExpectOneLineError(r, "No space left on device");
  EXPECT_SAME_TREE(before, TreeDigest(root)) << "the target changed";
  EXPECT_EQ(Leftovers(root), std::vector<std::string>{});
  // And every block is given back.
  EXPECT_EQ(FreeBlocks(root), free_before);
}

}  // namespace
}  // namespace vmigrate::testing::safety
