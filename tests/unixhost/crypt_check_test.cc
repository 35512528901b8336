#include "unixhost/crypt_check.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "unixhost/accounts.h"
#include "unixhost/unix_fixture.h"
#include "vpopmail/password.h"

namespace vmigrate::unixhost {
namespace {

// A fresh hash of `password` under `prefix` made by this host's libcrypt, or
// "" when libcrypt cannot make one (the scheme is not compiled in).
std::string MakeHash(const char* prefix, const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix, 0, nullptr, 0, setting, sizeof setting) == nullptr) return "";
  auto data = std::make_unique<struct crypt_data>();
  std::memset(data.get(), 0, sizeof(struct crypt_data));
  const char* out = crypt_r(password.c_str(), setting, data.get());
  return (out == nullptr || out[0] == '*') ? "" : out;
}

TEST(HashSchemeTest, NamesEverySchemeByItsPrefix) {
  EXPECT_EQ(HashScheme("$y$j9T$rH7pX9oWECcULHcWgARGE.$mw3QmL2Ozf"), "yescrypt");
  EXPECT_EQ(HashScheme("$gy$j9T$abc$def"), "gost-yescrypt");
  EXPECT_EQ(HashScheme("$7$CU..../....abc$def"), "scrypt");
  EXPECT_EQ(HashScheme("$2b$05$ufQtOUqGkZa/2KMVO0oVAe"), "bcrypt");
  EXPECT_EQ(HashScheme("$2y$10$x"), "bcrypt");
  EXPECT_EQ(HashScheme("$2a$10$x"), "bcrypt");
  EXPECT_EQ(HashScheme("$6$rounds=50000$w5shmepVwUl.FyoZ$n13f"), "sha512crypt");
  EXPECT_EQ(HashScheme("$5$mbHGl2MCMI8Z4MOl$qpwg"), "sha256crypt");
  EXPECT_EQ(HashScheme("$1$69mq0WnM$J89ueOr2s/9ARxUJLx0Nf0"), "md5crypt");
  EXPECT_EQ(HashScheme("_J9..salt0123456789ab"), "disabled");  // 21 characters: not BSDi
  EXPECT_EQ(HashScheme("_J9..salt0123456789a"), "bsdi-des");
  EXPECT_EQ(HashScheme("s8ffCJI7GhWF6"), "des");
  EXPECT_EQ(HashScheme("$md5,rounds=5000$GUBv0xjJ$$mSwgIswdjlTY0YxV7HBVm0"), "sunmd5");
  EXPECT_EQ(HashScheme("$md5$salt$$hash"), "sunmd5");
  EXPECT_EQ(HashScheme("$sha1$40000$jtNX3nZ2$hBNaIXkt4wBI2o5rsi8KejSjNqIq"), "sha1crypt");
  EXPECT_EQ(HashScheme("$3$$8846f7eaee8fb117ad06bdd830b7586c"), "nt");
  EXPECT_EQ(HashScheme("!$6$1y0eR3AcDO.uInSp$6wpc"), "locked");
  EXPECT_EQ(HashScheme("!"), "locked");
  EXPECT_EQ(HashScheme("*"), "disabled");
  EXPECT_EQ(HashScheme("*LK*"), "disabled");
  EXPECT_EQ(HashScheme("x"), "disabled");
  EXPECT_EQ(HashScheme("NP"), "disabled");
  EXPECT_EQ(HashScheme("s8ffCJI7GhW:6"), "disabled");
  EXPECT_EQ(HashScheme(""), "empty");
  EXPECT_EQ(HashScheme("$argon2id$v=19$m=65536$abc$def"), "unknown");
}

TEST(CanVerifyTest, EverySchemeThisLibcryptMakesIsVerifiable) {
  // libxcrypt's prefixes (man 5 crypt); a scheme this libcrypt was built
  // without is printed and skipped.
  struct {
    const char* prefix;
    const char* scheme;
  } kSchemes[] = {{"$y$", "yescrypt"},   {"$gy$", "gost-yescrypt"}, {"$7$", "scrypt"},
                  {"$2b$", "bcrypt"},    {"$2y$", "bcrypt"},        {"$2a$", "bcrypt"},
                  {"$6$", "sha512crypt"}, {"$5$", "sha256crypt"},    {"$1$", "md5crypt"},
                  {"_", "bsdi-des"},     {"", "des"},               {"$md5", "sunmd5"},
                  {"$sha1", "sha1crypt"}, {"$3$", "nt"}};
  int made = 0;
  for (const auto& s : kSchemes) {
    std::string hash = MakeHash(s.prefix, "Pa55-word");
    if (hash.empty()) {
      std::printf("libcrypt here cannot make %s hashes\n", s.scheme);
      continue;
    }
    ++made;
    EXPECT_EQ(HashScheme(hash), s.scheme) << hash;
    EXPECT_TRUE(CanVerify(hash)) << s.scheme << " " << hash;
    EXPECT_TRUE(vpopmail::CryptMatches("Pa55-word", hash)) << hash;
    // A damaged hash (cut short) is not carried as if it were fine.
    EXPECT_FALSE(CanVerify(hash.substr(0, hash.size() - 3))) << s.scheme;
  }
  // Debian 12's libxcrypt 4.4.33 makes at least the schemes its tools use.
  EXPECT_GE(made, 9);
}

TEST(CanVerifyTest, HashesNoPasswordMatchesAreNotVerifiable) {
  EXPECT_FALSE(CanVerify(""));
  EXPECT_FALSE(CanVerify("*"));
  EXPECT_FALSE(CanVerify("!"));
  EXPECT_FALSE(CanVerify("!$6$1y0eR3AcDO.uInSp$6wpcfZ677DcnvLWir9Znh0lkMajlR18Zr/ImBkDMLqpA3zFni5F33Ek"
                         "xu2NQY1ARu/067mnQs4puN/8iMAcwx0"));
  EXPECT_FALSE(CanVerify("x"));
  EXPECT_FALSE(CanVerify("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"));
}

using CryptFixtureTest = UnixFixtureTest;

TEST_F(CryptFixtureTest, FixtureSchemesAndTheirPasswordsVerifyHere) {
  Result<std::vector<Account>> accounts = ReadAccounts(root());
  ASSERT_TRUE(accounts.ok()) << accounts.status().ToString();
  // From the MANIFEST's users table.
  const std::map<std::string, std::string> kSchemes = {
      {"root", "yescrypt"},     {"alice", "yescrypt"},   {"bob", "sha512crypt"},
      {"carol", "sha256crypt"}, {"dave", "md5crypt"},    {"erin", "bcrypt"},
      {"frank", "des"},         {"grace", "yescrypt"},   {"heidi", "locked"},
      {"ivan", "empty"},        {"judy", "disabled"},    {"ken", "sha512crypt"},
      {"laura", "sha512crypt"}, {"postgres", "locked"},  {"nobody", "disabled"},
      {"daemon", "disabled"},   {"Debian-exim", "locked"}};
  size_t checked = 0;
  for (const Account& a : *accounts) {
    auto want = kSchemes.find(a.name);
    if (want == kSchemes.end()) continue;
    ++checked;
    EXPECT_EQ(HashScheme(a.hash), want->second) << a.name;
    auto pw = Passwords().find(a.name);
    bool usable = want->second != "locked" && want->second != "empty" && want->second != "disabled";
    EXPECT_EQ(CanVerify(a.hash), usable) << a.name;
    if (usable && pw != Passwords().end()) {
      EXPECT_TRUE(vpopmail::CryptMatches(pw->second, a.hash)) << a.name;
      EXPECT_FALSE(vpopmail::CryptMatches(pw->second + "x", a.hash) && a.name != "frank") << a.name;
    }
  }
  EXPECT_EQ(checked, kSchemes.size());
}

}  // namespace
}  // namespace vmigrate::unixhost
