// The real-unix-mbox fixture (tests/fixtures/README.md "Classic Unix mail
// host fixture") unpacked once for the unixhost tests.
#ifndef VMIGRATE_TESTS_UNIXHOST_UNIX_FIXTURE_H_
#define VMIGRATE_TESTS_UNIXHOST_UNIX_FIXTURE_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "support/test_support.h"

namespace vmigrate::unixhost {

/// Unpacks real-unix-mbox once per suite; root() is the host's "/".
class UnixFixtureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (dir_ != nullptr) return;
    dir_ = new vmigrate::testing::TempDir();
    vmigrate::testing::UnpackFixture("real-unix-mbox", dir_->path());
  }
  void SetUp() override {
    if (!Unpacked()) GTEST_SKIP() << "fixture real-unix-mbox missing";
  }
  static bool Unpacked() { return dir_ != nullptr && !ReadMaybe(root() + "/etc/passwd").empty(); }
  static std::string root() { return dir_->path() + "/tmp/realvp"; }
  static std::string ReadMaybe(const std::string& path) {
    FILE* f = fopen(path.c_str(), "rb");
    if (f == nullptr) return "";
    fclose(f);
    return vmigrate::testing::ReadFile(path);
  }
  /// The cleartext passwords of the MANIFEST's users table.
  static const std::map<std::string, std::string>& Passwords() {
    static const std::map<std::string, std::string> kPasswords = {
        {"alice", "Wonder-Land#1"},   {"bob", "bob's b1rthday"},   {"carol", "Gr\xc3\xbc\xc3\x9f" "e-Carol"},
        {"dave", "Dave_md5!"},        {"erin", "Erin-bcrypt-7"},   {"frank", "frank2024"},
        {"grace", "Gr@ce-mail-only"}, {"heidi", "Heidi-locked-1"}, {"ken", "Ken-0penssl"},
        {"laura", "Laura Rounds 50k"}, {"root", "Root-Mailhost-9"}};
    return kPasswords;
  }

 private:
  static inline vmigrate::testing::TempDir* dir_ = nullptr;  // lives for the whole run
};

}  // namespace vmigrate::unixhost

#endif  // VMIGRATE_TESTS_UNIXHOST_UNIX_FIXTURE_H_
