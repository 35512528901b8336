#include "unixhost/accounts.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.h"
#include "unixhost/unix_fixture.h"
#include "unixhost/mail_folders.h"
#include "vpopmail/password.h"

namespace vmigrate::unixhost {
namespace {

using vmigrate::testing::TempDir;
using vmigrate::testing::WriteFile;

std::vector<std::string> Names(const std::vector<Account>& accounts) {
  std::vector<std::string> out;
  for (const Account& a : accounts) out.push_back(a.name);
  return out;
}

const Account* Find(const std::vector<Account>& accounts, const std::string& name) {
  for (const Account& a : accounts) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

using AccountsTest = UnixFixtureTest;

TEST_F(AccountsTest, JoinsPasswdWithShadowAndIgnoresTheBackups) {
  Result<std::vector<Account>> accounts = ReadAccounts(root());
  ASSERT_TRUE(accounts.ok()) << accounts.status().ToString();
  EXPECT_EQ(accounts->size(), 32u);
  const Account* alice = Find(*accounts, "alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->uid, 1000u);
  EXPECT_EQ(alice->gid, 1000u);
  EXPECT_EQ(alice->gecos, "Alice Liddell,Room 12,+49 30 5550112,");
  EXPECT_EQ(alice->home, "/home/alice");
  EXPECT_EQ(alice->shell, "/bin/bash");
  EXPECT_TRUE(alice->has_shadow);
  EXPECT_EQ(alice->hash, "$y$j9T$rH7pX9oWECcULHcWgARGE.$mw3QmL2OzfO6RSKJFP1WEedZA21mFqU2VpA29UR/ZeA");
  EXPECT_EQ(Find(*accounts, "ivan")->hash, "");
  EXPECT_EQ(Find(*accounts, "judy")->hash, "*");
  EXPECT_EQ(Find(*accounts, "postgres")->hash, "!");
  EXPECT_EQ(Find(*accounts, "grace")->shell, "/usr/sbin/nologin");
  EXPECT_EQ(Find(*accounts, "oscar"), nullptr);  // userdel'ed; only passwd- may remember him
}

TEST(AccountsFileTest, MissingAndBrokenFilesAreNamed) {
  TempDir dir;
  Result<std::vector<Account>> none = ReadAccounts(dir.path());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  std::filesystem::create_directories(dir / "etc");
  // No shadow file: the hashes come from passwd ("x" stays, no password matches it).
  WriteFile(dir / "etc/passwd", "a:x:1000:1000::/home/a:/bin/sh\nb:s8ffCJI7GhWF6:1001:1001::/home/b:/bin/sh\n");
  Result<std::vector<Account>> plain = ReadAccounts(dir.path());
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ((*plain)[0].hash, "x");
  EXPECT_FALSE((*plain)[0].has_shadow);
  EXPECT_EQ((*plain)[1].hash, "s8ffCJI7GhWF6");

  WriteFile(dir / "etc/shadow", "a:$1$69mq0WnM$J89ueOr2s/9ARxUJLx0Nf0:20786:0:99999:7:::\nb:*:1::::::\n");
  Result<std::vector<Account>> shadowed = ReadAccounts(dir.path());
  ASSERT_TRUE(shadowed.ok());
  EXPECT_EQ((*shadowed)[0].hash, "$1$69mq0WnM$J89ueOr2s/9ARxUJLx0Nf0");
  // pam_unix uses passwd's own hash when it is not "x".
  EXPECT_EQ((*shadowed)[1].hash, "s8ffCJI7GhWF6");
  EXPECT_TRUE((*shadowed)[1].has_shadow);

  WriteFile(dir / "etc/passwd", "a:x:1000:1000::/home/a:/bin/sh\nb:x:10x1:1001::/home/b:/bin/sh\n");
  Result<std::vector<Account>> bad_uid = ReadAccounts(dir.path());
  EXPECT_EQ(bad_uid.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(bad_uid.status().message().find("etc/passwd:2: uid '10x1'"), std::string::npos)
      << bad_uid.status().message();
  WriteFile(dir / "etc/passwd", "a:x:1000:1000::/home/a\n");
  EXPECT_NE(ReadAccounts(dir.path()).status().message().find("etc/passwd:1: expected 7"), std::string::npos);
  WriteFile(dir / "etc/passwd", "a:x:1000:1000::/home/a:/bin/sh\na:x:1001:1001::/home/b:/bin/sh\n");
  EXPECT_NE(ReadAccounts(dir.path()).status().message().find("appears twice"), std::string::npos);
  WriteFile(dir / "etc/passwd", "a:x:1000:1000::/home/a:/bin/sh\n+@staff::::::\n");
  EXPECT_EQ(ReadAccounts(dir.path()).status().code(), Status::Code::kUnsupported);
  WriteFile(dir / "etc/passwd", "a:x:1000:1000::/home/a:/bin/sh\n");
  WriteFile(dir / "etc/shadow", "a\n");
  Result<std::vector<Account>> bad_shadow = ReadAccounts(dir.path());
  EXPECT_EQ(bad_shadow.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(bad_shadow.status().message().find("etc/shadow:1:"), std::string::npos);
}

TEST_F(AccountsTest, UidRangeComesFromLoginDefs) {
  Result<UidRange> range = ReadUidRange(root());
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->min, 1000u);
  EXPECT_EQ(range->max, 60000u);

  TempDir dir;
  Result<UidRange> defaults = ReadUidRange(dir.path());
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->min, 1000u);
  std::filesystem::create_directories(dir / "etc");
  WriteFile(dir / "etc/login.defs", "# old host\nUID_MIN\t 500\nUID_MAX 29999\n");
  Result<UidRange> old = ReadUidRange(dir.path());
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->min, 500u);
  EXPECT_EQ(old->max, 29999u);
  WriteFile(dir / "etc/login.defs", "UID_MIN five\n");
  EXPECT_NE(ReadUidRange(dir.path()).status().message().find("login.defs:1: UID_MIN 'five'"),
            std::string::npos);
}

TEST(UidRangeTest, ParsesAToB) {
  Result<UidRange> r = ParseUidRange("500-29999");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->min, 500u);
  EXPECT_EQ(r->max, 29999u);
  for (const char* bad : {"", "500", "500-", "-5", "a-b", "10-5", "1-2-3", " 1-2"})
    EXPECT_EQ(ParseUidRange(bad).status().code(), Status::Code::kInvalidInput) << bad;
}

TEST_F(AccountsTest, RealUsersAreTheUidRangeWithoutSystemAccounts) {
  Result<std::vector<Account>> all = ReadAccounts(root());
  ASSERT_TRUE(all.ok());
  Result<std::vector<Account>> users = SelectAccounts(*all, UidRange{}, {});
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(Names(*users), (std::vector<std::string>{"alice", "bob", "carol", "dave", "erin", "frank",
                                                     "grace", "heidi", "ivan", "judy", "ken", "laura"}));
  // A wide range still leaves root and nobody out.
  Result<std::vector<Account>> wide = SelectAccounts(*all, UidRange{0, 70000}, {});
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(Find(*wide, "root"), nullptr);
  EXPECT_EQ(Find(*wide, "nobody"), nullptr);
  EXPECT_NE(Find(*wide, "postgres"), nullptr);

  Result<std::vector<Account>> named = SelectAccounts(*all, UidRange{}, {"ken", "alice", "ken"});
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(Names(*named), (std::vector<std::string>{"ken", "alice"}));
  for (const char* system : {"root", "postgres", "nobody", "daemon"}) {
    Result<std::vector<Account>> r = SelectAccounts(*all, UidRange{}, {"alice", system});
    EXPECT_EQ(r.status().code(), Status::Code::kDataRefused) << system;
    EXPECT_NE(r.status().message().find(system), std::string::npos);
  }
  Result<std::vector<Account>> oscar = SelectAccounts(*all, UidRange{}, {"oscar"});
  EXPECT_EQ(oscar.status().code(), Status::Code::kNotFound);
  EXPECT_NE(oscar.status().message().find("'oscar'"), std::string::npos);
}

TEST(SelectAccountsTest, NamesThatMeetOnceLowerCasedConflict) {
  std::vector<Account> all(2);
  all[0].name = "Bob";
  all[0].uid = 1000;
  all[1].name = "bob";
  all[1].uid = 1001;
  Result<std::vector<Account>> r = SelectAccounts(all, UidRange{}, {});
  EXPECT_EQ(r.status().code(), Status::Code::kConflict);
}

TEST(UserListTest, SkipsCommentsAndBlanks) {
  TempDir dir;
  WriteFile(dir / "users", "# batch 1\nalice\n\n  bob  \n#carol\n");
  Result<std::vector<std::string>> names = ReadUserList(dir / "users");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(ReadUserList(dir / "none").status().code(), Status::Code::kNotFound);
}

TEST_F(AccountsTest, UsableHashesAreCarriedVerbatim) {
  Result<std::vector<Account>> all = ReadAccounts(root());
  ASSERT_TRUE(all.ok());
  for (const char* name : {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "ken", "laura"}) {
    const Account* a = Find(*all, name);
    ASSERT_NE(a, nullptr);
    for (LockedPolicy policy : {LockedPolicy::kSkip, LockedPolicy::kDisable}) {
      Result<Converted> c = ConvertAccount(*a, policy);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      EXPECT_EQ(c->name, name);
      EXPECT_EQ(c->passwd, a->hash);
      EXPECT_FALSE(c->disabled);
      EXPECT_EQ(c->flags, 0u);
      EXPECT_TRUE(vpopmail::CryptMatches(Passwords().at(name), c->passwd)) << name;
    }
  }
  Result<Converted> frank = ConvertAccount(*Find(*all, "frank"), LockedPolicy::kSkip);
  ASSERT_EQ(frank->warnings.size(), 1u);
  EXPECT_NE(frank->warnings[0].find("first 8 characters"), std::string::npos);
}

TEST_F(AccountsTest, LockedEmptyAndStarHashesFollowThePolicyAndNeverOpen) {
  Result<std::vector<Account>> all = ReadAccounts(root());
  ASSERT_TRUE(all.ok());
  for (const char* name : {"heidi", "ivan", "judy"}) {
    Result<Converted> skipped = ConvertAccount(*Find(*all, name), LockedPolicy::kSkip);
    EXPECT_EQ(skipped.status().code(), Status::Code::kDataRefused) << name;
    EXPECT_NE(skipped.status().message().find("--locked skip"), std::string::npos);

    Result<Converted> c = ConvertAccount(*Find(*all, name), LockedPolicy::kDisable);
    ASSERT_TRUE(c.ok()) << name;
    EXPECT_TRUE(c->disabled);
    EXPECT_EQ(c->flags, kDisabledFlags);
    // vpopmail's check is strcmp(crypt(clear, pw), pw): neither the old
    // password nor an empty one may pass.
    EXPECT_FALSE(vpopmail::CryptMatches("", c->passwd)) << name;
    EXPECT_FALSE(vpopmail::CryptMatches("Heidi-locked-1", c->passwd)) << name;
    EXPECT_FALSE(c->passwd.empty());
    EXPECT_TRUE(c->passwd[0] == '!' || c->passwd[0] == '*') << c->passwd;
  }
  Result<Converted> heidi = ConvertAccount(*Find(*all, "heidi"), LockedPolicy::kDisable);
  EXPECT_EQ(heidi->passwd, Find(*all, "heidi")->hash);  // the lock stays visible and reversible
  EXPECT_EQ(heidi->scheme, "locked");
  // Without its '!' the old hash would verify heidi's old password: the lock matters.
  EXPECT_TRUE(vpopmail::CryptMatches("Heidi-locked-1", heidi->passwd.substr(1)));
  EXPECT_EQ(ConvertAccount(*Find(*all, "ivan"), LockedPolicy::kDisable)->passwd, "!");
  EXPECT_EQ(ConvertAccount(*Find(*all, "judy"), LockedPolicy::kDisable)->passwd, "*");
}

TEST_F(AccountsTest, TheUsersThatMigrateAreTheManifestsYesUsers) {
  // MANIFEST "should migrate": every uid-range user but judy ('*' and a
  // 0-byte spool); heidi locked and ivan without password come disabled.
  Result<std::vector<Account>> all = ReadAccounts(root());
  ASSERT_TRUE(all.ok());
  Result<std::vector<Account>> users = SelectAccounts(*all, UidRange{}, {});
  ASSERT_TRUE(users.ok());
  std::vector<std::string> migrate, disabled;
  for (const Account& a : *users) {
    Result<Converted> c = ConvertAccount(a, LockedPolicy::kDisable);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Result<UserMail> mail = FindUserMail(root(), a, "", "");
    ASSERT_TRUE(mail.ok()) << mail.status().ToString();
    Status worth = CheckDisabledHasMail(c->name, c->disabled, *mail);
    if (!worth.ok()) {
      EXPECT_EQ(worth.code(), Status::Code::kDataRefused);
      continue;
    }
    migrate.push_back(c->name);
    if (c->disabled) disabled.push_back(c->name);
  }
  EXPECT_EQ(migrate, (std::vector<std::string>{"alice", "bob", "carol", "dave", "erin", "frank", "grace",
                                               "heidi", "ivan", "ken", "laura"}));
  EXPECT_EQ(disabled, (std::vector<std::string>{"heidi", "ivan"}));
}

TEST(ConvertAccountTest, NamesAreLowerCasedOrRefused) {
  Account a;
  a.name = "Fred";
  a.hash = "$1$69mq0WnM$J89ueOr2s/9ARxUJLx0Nf0";
  Result<Converted> fred = ConvertAccount(a, LockedPolicy::kSkip);
  ASSERT_TRUE(fred.ok());
  EXPECT_EQ(fred->name, "fred");
  ASSERT_EQ(fred->warnings.size(), 1u);
  a.name = "john@work";
  Result<Converted> at = ConvertAccount(a, LockedPolicy::kSkip);
  EXPECT_EQ(at.status().code(), Status::Code::kDataRefused);
  EXPECT_EQ(at.status().message(),
            "user 'john@work': vpopmail cannot hold this name: contains a character vpopmail refuses");
  a.name = "averyveryveryveryverylongusername1";
  EXPECT_EQ(ConvertAccount(a, LockedPolicy::kSkip).status().code(), Status::Code::kDataRefused);
  a.name = "fred";
  a.hash = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
  Result<Converted> argon = ConvertAccount(a, LockedPolicy::kDisable);
  EXPECT_EQ(argon.status().code(), Status::Code::kDataRefused);
  EXPECT_NE(argon.status().message().find("cannot be verified"), std::string::npos);
  a.hash = "x";  // passwd "x" without a shadow line
  Result<Converted> x = ConvertAccount(a, LockedPolicy::kDisable);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->passwd, "!x");
}

}  // namespace
}  // namespace vmigrate::unixhost
