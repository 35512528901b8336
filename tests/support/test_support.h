// Shared helpers for the test suite: temp dirs kept on failure, the real
// vpopmail fixture trees, whole-tree digests and running the built binary.
#ifndef VMIGRATE_TESTS_SUPPORT_TEST_SUPPORT_H_
#define VMIGRATE_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vmigrate::testing {

/// A fresh directory under $TMPDIR; removed on destruction unless the
/// current test failed or VMIGRATE_KEEP_TEST_DIRS=1.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

/// The fixture directory: $VMIGRATE_FIXTURES, else the repository's
/// tests/fixtures/ (real vpopmail 5.4.33 trees, see tests/fixtures/README.md).
std::string FixtureDir();

/// The vpopmail home and qmail dir the fixtures were made with.
constexpr const char* kFixtureVpopmailHome = "/tmp/realvp/home/vpopmail";
constexpr const char* kFixtureQmailDir = "/tmp/realvp/qmail";

/// Unpacks fixtures/<name>.tar.gz under <root>/tmp/realvp so that --root root
/// with the fixture paths finds it. Aborts the test when tar fails; skips it
/// (GTEST_SKIP, with the reason) when the tarball is missing, so a caller in
/// SetUp() keeps the test body from running.
void UnpackFixture(const std::string& name, const std::string& root);

/// One line per entry below `dir` (sorted): "path type mode size mtime sha256|target".
/// Directories' mtimes are included. `skip` lists relative paths to leave out.
std::map<std::string, std::string> TreeDigest(const std::string& dir,
                                              const std::vector<std::string>& skip = {});

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
/// Runs argv (no shell); stdin from `input_file` if non-empty, else /dev/null.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input_file = "");
/// Runs the built vmigrate with `args`.
CommandResult RunVmigrate(const std::vector<std::string>& args, const std::string& input_file = "");

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& contents);

/// The value stored under `key` in the cdb file at `path` (read with tinycdb,
/// the library vmigrate writes its cdbs with); nullopt when the key is absent
/// or the file is missing or unreadable.
std::optional<std::string> CdbLookup(const std::string& path, const std::string& key);
/// Whether the cdb file at `path` has `key`; false when missing or unreadable.
bool CdbHas(const std::string& path, const std::string& key);

}  // namespace vmigrate::testing

#endif  // VMIGRATE_TESTS_SUPPORT_TEST_SUPPORT_H_
