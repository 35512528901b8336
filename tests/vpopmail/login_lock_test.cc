#include "vpopmail/login_lock.h"

#include <gtest/gtest.h>

#include "qmail/domains.h"
#include "support/test_support.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::vpopmail {
namespace {

using vmigrate::testing::ReadFile;
using vmigrate::testing::TempDir;
using vmigrate::testing::UnpackFixture;

VpasswdEntry User(const std::string& name, const std::string& gid) {
  VpasswdEntry e;
  e.name = name;
  e.passwd = "x";
  e.uid = "1";
  e.gid = gid;
  e.dir = "/h/" + name;
  e.quota = "NOQUOTA";
  return e;
}

TEST(LoginLock, RecordsOnlyTheBitsItAddedAndTheUnlockedViewUndoesExactlyThose) {
  std::vector<VpasswdEntry> users = {User("plain", "0"), User("nopop", "2"), User("admin", "4096")};
  LoginLock lock;
  ASSERT_TRUE(ApplyLock(&lock, &users).ok());
  EXPECT_EQ(users[0].gid, "14");
  EXPECT_EQ(users[1].gid, "14");
  EXPECT_EQ(users[2].gid, std::to_string(4096 | 14));
  EXPECT_EQ(lock.added.at("plain"), 14u);
  EXPECT_EQ(lock.added.at("nopop"), 12u);  // NO_POP was the user's own
  // Locking again changes nothing: our own bits are never taken for the user's.
  std::vector<VpasswdEntry> again = users;
  LoginLock lock2 = lock;
  ASSERT_TRUE(ApplyLock(&lock2, &again).ok());
  EXPECT_EQ(lock2.added, lock.added);
  EXPECT_EQ(again, users);
  ApplyUnlockedView(lock, &users);
  EXPECT_EQ(users[0].gid, "0");
  EXPECT_EQ(users[1].gid, "2");
  EXPECT_EQ(users[2].gid, "4096");
}

TEST(LoginLock, RefusesAFlagsFieldThatIsNotANumber) {
  std::vector<VpasswdEntry> users = {User("odd", "12x")};
  LoginLock lock;
  Status s = ApplyLock(&lock, &users);
  EXPECT_EQ(s.code(), Status::Code::kCorrupt);
  EXPECT_NE(s.message().find("odd"), std::string::npos);
}

TEST(LoginLock, LockAndUnlockOnTheRealFixtureRestoreVpasswdByteForByte) {
  TempDir root;
  UnpackFixture("real-small", root.path());
  HostPaths paths;
  paths.root = root.path();
  paths.vpopmail_home = "/tmp/realvp/home/vpopmail";
  paths.qmail_dir = "/tmp/realvp/qmail";
  auto loc = qmail::LocateDomain(paths, "example.com");
  ASSERT_TRUE(loc.ok()) << loc.status().message();
  const std::string dir = root.path() + loc->dir;
  const std::string vpasswd = ReadFile(dir + "/vpasswd");
  auto cdb = ReadCdbRecords(dir + "/vpasswd.cdb");
  ASSERT_TRUE(cdb.ok());
  auto store = OpenUserStore(paths);
  auto before = store->ReadUsers(*loc);
  ASSERT_TRUE(before.ok());

  auto locked = SetLoginLock(paths, *loc, true);
  ASSERT_TRUE(locked.ok()) << locked.status().message();
  EXPECT_TRUE(*locked);
  auto raw = store->ReadUsers(*loc);
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(raw->size(), before->size());
  for (const auto& e : *raw) EXPECT_EQ(std::stoul(e.gid) & kLoginLockBits, kLoginLockBits) << e.name;
  // vchkpw reads vpasswd.cdb: it must hold the locked lines.
  EXPECT_TRUE(store->CheckConsistency(*loc, *raw).empty());
  auto view = ReadUsersUnlocked(store.get(), paths, *loc);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(*view, *before);
  auto again = SetLoginLock(paths, *loc, true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);

  auto unlocked = SetLoginLock(paths, *loc, false);
  ASSERT_TRUE(unlocked.ok()) << unlocked.status().message();
  EXPECT_TRUE(*unlocked);
  EXPECT_EQ(ReadFile(dir + "/vpasswd"), vpasswd);
  auto cdb_after = ReadCdbRecords(dir + "/vpasswd.cdb");
  ASSERT_TRUE(cdb_after.ok());
  EXPECT_EQ(*cdb_after, *cdb);
  auto lock = ReadLoginLock(dir);
  ASSERT_TRUE(lock.ok());
  EXPECT_FALSE(lock->has_value());
  auto noop = SetLoginLock(paths, *loc, false);
  ASSERT_TRUE(noop.ok());
  EXPECT_FALSE(*noop);
}

}  // namespace
}  // namespace vmigrate::vpopmail
