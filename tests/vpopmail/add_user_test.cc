// Making an account as vadduser does (vpopmail/add_user.h), on copies of the
// real vpopmail 5.4.33 cdb tree real-small: example.com keeps cleartext
// passwords and has .qmailadmin-limits (default_quota 52428800,
// default_maxmsgcount 5000) and .dir-control at 13 users.
#include "vpopmail/add_user.h"

#include <sys/stat.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "qmail/domains.h"
#include "support/test_support.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/login_lock.h"
#include "vpopmail/password.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::vpopmail {
namespace {

namespace fs = std::filesystem;
using vmigrate::testing::ReadFile;
using vmigrate::testing::TempDir;
using vmigrate::testing::UnpackFixture;
using vmigrate::testing::WriteFile;

class AddUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", root_.path());
    paths_.root = root_.path();
    paths_.vpopmail_home = vmigrate::testing::kFixtureVpopmailHome;
    paths_.qmail_dir = vmigrate::testing::kFixtureQmailDir;
    host_dir_ = paths_.vpopmail_home + "/domains/example.com";
    dir_ = root_.path() + host_dir_;
  }
  std::map<std::string, VpasswdEntry> Users(const std::string& domain = "example.com") {
    auto users = ReadVpasswd(root_.path() + paths_.vpopmail_home + "/domains/" + domain + "/vpasswd");
    EXPECT_TRUE(users.ok()) << users.status().message();
    std::map<std::string, VpasswdEntry> out;
    if (users.ok())
      for (const auto& e : *users) out[e.name] = e;
    return out;
  }
  std::string CdbValue(const std::string& name) {
    return vmigrate::testing::CdbLookup(dir_ + "/vpasswd.cdb", name).value_or("<absent>");
  }

  TempDir root_;
  HostPaths paths_;
  std::string host_dir_, dir_;
};

TEST_F(AddUserTest, MakesTheAccountAsVadduserWould) {
  const auto before = Users();
  auto r = AddUser(paths_, "Nancy@Example.com", "Nancy#2026", false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->address, "nancy@example.com");
  EXPECT_EQ(r->dir, host_dir_ + "/nancy");  // the 14th user: no bucket yet
  EXPECT_EQ(r->quota, "52428800S,5000C");   // default_quota bytes, default_maxmsgcount
  EXPECT_TRUE(r->cleartext);
  auto after = Users();
  ASSERT_EQ(after.size(), before.size() + 1);
  const VpasswdEntry& n = after.at("nancy");
  EXPECT_EQ(n.passwd.rfind("$6$", 0), 0u) << n.passwd;
  EXPECT_TRUE(CryptMatches("Nancy#2026", n.passwd));
  EXPECT_EQ(n.uid, "1");
  EXPECT_EQ(n.gid, "0");
  EXPECT_EQ(n.gecos, "nancy");
  EXPECT_EQ(n.quota, "52428800S,5000C");
  EXPECT_TRUE(n.has_clear);
  EXPECT_EQ(n.clear, "Nancy#2026");
  for (const auto& [name, e] : before) EXPECT_EQ(after.at(name), e) << name;
  // strcmp order: between mallory and postmaster.
  std::string text = ReadFile(dir_ + "/vpasswd");
  EXPECT_LT(text.find("\nmallory:"), text.find("\nnancy:"));
  EXPECT_LT(text.find("\nnancy:"), text.find("\npostmaster:"));
  // vchkpw reads vpasswd.cdb: it has the same line.
  std::string line = FormatVpasswdLine(n);
  EXPECT_EQ(CdbValue("nancy"), line.substr(line.find(':') + 1));
  // The home, as make_user_dir and vadduser leave it.
  const std::string home = root_.path() + r->dir;
  for (const char* d : {"", "/Maildir", "/Maildir/cur", "/Maildir/new", "/Maildir/tmp"}) {
    struct stat st;
    ASSERT_EQ(stat((home + d).c_str(), &st), 0) << home << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u) << d;
  }
  EXPECT_EQ(ReadFile(home + "/lastauth"), "0.0.0.0");
  EXPECT_EQ(ReadFile(home + "/Maildir/maildirsize"), "52428800S,5000C\n0 0\n");
  // The counter moved on by one, as one vadduser run moves it.
  DirControl dc = DirControl::Parse(ReadFile(dir_ + "/.dir-control"));
  EXPECT_EQ(dc.cur_users, 14u);
  EXPECT_EQ(dc.the_dir, "");
}

TEST_F(AddUserTest, AnExistingAccountIsLeftAsItIs) {
  const std::string vpasswd = ReadFile(dir_ + "/vpasswd"), counter = ReadFile(dir_ + "/.dir-control");
  auto r = AddUser(paths_, "alice@example.com", "whatever", false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->created);
  EXPECT_EQ(ReadFile(dir_ + "/vpasswd"), vpasswd);
  EXPECT_EQ(ReadFile(dir_ + "/.dir-control"), counter);
}

TEST_F(AddUserTest, DryRunWritesNothing) {
  const std::string vpasswd = ReadFile(dir_ + "/vpasswd"), counter = ReadFile(dir_ + "/.dir-control");
  auto r = AddUser(paths_, "nancy@example.com", "Nancy#2026", true);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->created);
  EXPECT_EQ(ReadFile(dir_ + "/vpasswd"), vpasswd);
  EXPECT_EQ(ReadFile(dir_ + "/.dir-control"), counter);
  EXPECT_FALSE(fs::exists(dir_ + "/nancy"));
}

TEST_F(AddUserTest, TheHundredthUserOpensBucketZero) {
  DirControl dc = DirControl::Parse(ReadFile(dir_ + "/.dir-control"));
  dc.cur_users = 99;
  WriteFile(dir_ + "/.dir-control", dc.Serialize());
  auto r = AddUser(paths_, "nancy@example.com", "Nancy#2026", false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->dir, host_dir_ + "/0/nancy");
  EXPECT_TRUE(fs::is_directory(dir_ + "/0/nancy/Maildir/new"));
  DirControl after = DirControl::Parse(ReadFile(dir_ + "/.dir-control"));
  EXPECT_EQ(after.cur_users, 100u);
  EXPECT_EQ(after.the_dir, "0");
}

TEST_F(AddUserTest, AFreedBucketIsReusedFirst) {
  WriteFile(dir_ + "/.dir_control_free", "# freed by vdeluser\n7\nB\n");
  auto r = AddUser(paths_, "nancy@example.com", "Nancy#2026", false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->dir, host_dir_ + "/7/nancy");
  EXPECT_EQ(ReadFile(dir_ + "/.dir_control_free"), "# freed by vdeluser\nB\n");
  DirControl after = DirControl::Parse(ReadFile(dir_ + "/.dir-control"));
  EXPECT_EQ(after.cur_users, 14u);
  EXPECT_EQ(after.the_dir, "");
}

TEST_F(AddUserTest, ADomainWithoutCleartextGetsNoneAndTheQuotaOfVlimitsDefault) {
  // example.net has no .qmailadmin-limits: etc/vlimits.default counts.
  const std::string net = root_.path() + paths_.vpopmail_home + "/domains/example.net";
  auto where = qmail::LocateDomain(paths_, "example.net");
  ASSERT_TRUE(where.ok());
  auto store = MakeCdbUserStore(paths_);
  auto users = store->ReadUsers(*where);
  ASSERT_TRUE(users.ok());
  for (auto& e : *users) e.has_clear = false, e.clear.clear();
  ASSERT_TRUE(store->ReplaceUsers(*where, *users).ok());
  WriteFile(root_.path() + paths_.vpopmail_home + "/etc/vlimits.default", "default_quota 1048576\n");
  auto r = AddUser(paths_, "nancy@example.net", "Nancy#2026", false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->cleartext);
  EXPECT_EQ(r->quota, "1048576S");
  const VpasswdEntry n = Users("example.net").at("nancy");
  EXPECT_FALSE(n.has_clear);
  EXPECT_EQ(ReadFile(net + "/nancy/Maildir/maildirsize"), "1048576S\n0 0\n");
  // Without any limits: NOQUOTA, and no maildirsize.
  fs::remove(root_.path() + paths_.vpopmail_home + "/etc/vlimits.default");
  auto o = AddUser(paths_, "oscar@example.net", "Oscar#2026", false);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->quota, "NOQUOTA");
  EXPECT_FALSE(fs::exists(net + "/oscar/Maildir/maildirsize"));
}

TEST_F(AddUserTest, ALockedDomainGetsALockedAccountThatTheUnlockOpens) {
  auto where = qmail::LocateDomain(paths_, "example.com");
  ASSERT_TRUE(where.ok());
  ASSERT_TRUE(SetLoginLock(paths_, *where, true).ok());
  auto r = AddUser(paths_, "nancy@example.com", "Nancy#2026", false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->login_locked);
  EXPECT_EQ(Users().at("nancy").gid, std::to_string(kLoginLockBits));
  ASSERT_TRUE(SetLoginLock(paths_, *where, false).ok());
  EXPECT_EQ(Users().at("nancy").gid, "0");
}

TEST_F(AddUserTest, LeftoversAndBadNames) {
  // An empty home an interrupted run left is taken over...
  fs::create_directories(dir_ + "/nancy/Maildir/cur");
  auto r = AddUser(paths_, "nancy@example.com", "Nancy#2026", false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->created);
  // ...a home with somebody's files is not.
  fs::create_directories(dir_ + "/oscar/Maildir/cur");
  WriteFile(dir_ + "/oscar/Maildir/cur/1.host:2,S", "From: x\n\nold mail\n");
  const std::string with_nancy = ReadFile(dir_ + "/vpasswd");
  auto o = AddUser(paths_, "oscar@example.com", "Oscar#2026", false);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), Status::Code::kConflict) << o.status().message();
  EXPECT_NE(o.status().message().find("oscar@example.com"), std::string::npos);
  EXPECT_EQ(ReadFile(dir_ + "/vpasswd"), with_nancy);
  EXPECT_EQ(ReadFile(dir_ + "/oscar/Maildir/cur/1.host:2,S"), "From: x\n\nold mail\n");

  auto one = AddUser(paths_, "x@example.com", "pw", false);
  EXPECT_EQ(one.status().code(), Status::Code::kInvalidInput);
  auto bad = AddUser(paths_, "a:b@example.com", "pw", false);
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidInput);
  auto nodomain = AddUser(paths_, "nancy@nowhere.example", "pw", false);
  EXPECT_EQ(nodomain.status().code(), Status::Code::kNotFound);
  auto notaddr = AddUser(paths_, "nancy", "pw", false);
  EXPECT_EQ(notaddr.status().code(), Status::Code::kInvalidInput);
}

TEST_F(AddUserTest, ABucketThatIsASymlinkIsFollowedUnderTheRootAndNeverOutOfIt) {
  DirControl dc = DirControl::Parse(ReadFile(dir_ + "/.dir-control"));
  dc.cur_users = 99;  // the next user opens bucket "0"
  WriteFile(dir_ + "/.dir-control", dc.Serialize());
  // Storage moved to another disk: an absolute link, taken under the root.
  fs::create_directories(root_.path() + "/disk2/b0");
  fs::create_directory_symlink("/disk2/b0", dir_ + "/0");
  auto r = AddUser(paths_, "nancy@example.com", "Nancy#2026", false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->dir, host_dir_ + "/0/nancy");
  EXPECT_TRUE(fs::is_directory(root_.path() + "/disk2/b0/nancy/Maildir/new"));
  // A link leading out of the root is refused, and nothing is made there.
  TempDir outside;
  dc = DirControl::Parse(ReadFile(dir_ + "/.dir-control"));
  dc.cur_users = 199;  // bucket "1"
  WriteFile(dir_ + "/.dir-control", dc.Serialize());
  const std::string before = ReadFile(dir_ + "/vpasswd");
  fs::create_directory_symlink(std::string(fs::relative(outside.path(), dir_)), dir_ + "/1");
  auto o = AddUser(paths_, "oscar@example.com", "Oscar#2026", false);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("outside"), std::string::npos) << o.status().message();
  EXPECT_TRUE(fs::is_empty(outside.path()));
  EXPECT_EQ(ReadFile(dir_ + "/vpasswd"), before);
}

TEST_F(AddUserTest, WhatAKilledRunLeftIsRepairedOrTakenOver) {
  // Killed between the vpasswd and vpasswd.cdb renames: vpasswd names the
  // user, vpasswd.cdb (all vchkpw reads) does not; a temp file holds hashes.
  const std::string old_cdb = ReadFile(dir_ + "/vpasswd.cdb");
  ASSERT_TRUE(AddUser(paths_, "nancy@example.com", "Nancy#2026", false).ok());
  WriteFile(dir_ + "/vpasswd.cdb", old_cdb);
  WriteFile(dir_ + "/.vpasswd.vmigrate-tmp.99999", ReadFile(dir_ + "/vpasswd"));
  ASSERT_EQ(CdbValue("nancy"), "<absent>");
  auto again = AddUser(paths_, "nancy@example.com", "Nancy#2026", false);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_FALSE(again->created);
  const std::string line = FormatVpasswdLine(Users().at("nancy"));
  EXPECT_EQ(CdbValue("nancy"), line.substr(line.find(':') + 1));
  EXPECT_FALSE(fs::exists(dir_ + "/.vpasswd.vmigrate-tmp.99999"));
  // Killed while the home was made: a temp file of lastauth is no data.
  fs::create_directories(dir_ + "/oscar/Maildir/cur");
  WriteFile(dir_ + "/oscar/.lastauth.vmigrate-tmp.99999", "0.0.0.0");
  auto o = AddUser(paths_, "oscar@example.com", "Oscar#2026", false);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_TRUE(o->created);
  EXPECT_FALSE(fs::exists(dir_ + "/oscar/.lastauth.vmigrate-tmp.99999"));
}

TEST_F(AddUserTest, AnAliasDomainStandsForItsRealDomainAndABadBucketIsRefused) {
  // real-small's users/assign: "+example.org-:example.com:..." (an alias domain).
  const std::string alias = "example.org";
  ASSERT_NE(ReadFile(root_.path() + paths_.qmail_dir + "/users/assign").find("+example.org-:example.com:"),
            std::string::npos);
  auto r = AddUser(paths_, "nancy@" + alias, "Nancy#2026", false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->address, "nancy@example.com");
  EXPECT_EQ(Users().count("nancy"), 1u);

  WriteFile(dir_ + "/.dir_control_free", "x y\n");
  auto bad = AddUser(paths_, "oscar@example.com", "Oscar#2026", false);
  EXPECT_EQ(bad.status().code(), Status::Code::kDataRefused) << bad.status().message();
  EXPECT_FALSE(fs::exists(dir_ + "/x y"));
}

}  // namespace
}  // namespace vmigrate::vpopmail
