#include "vpopmail/password.h"

#include <gtest/gtest.h>

namespace vmigrate::vpopmail {
namespace {

TEST(PasswordTest, FixtureHashesVerifyTheirCleartextWithCryptR) {
  // From the real-small MANIFEST: judy (DES, no cleartext stored) and alice (MD5-crypt).
  EXPECT_TRUE(CryptMatches("judydes8", "jjNprHSouw.GI"));
  EXPECT_FALSE(CryptMatches("judydes9", "jjNprHSouw.GI"));
  EXPECT_TRUE(CryptMatches("Alice#2023", "$1$8iXIBzKs$UgI/PCw3e/q6Ih8gjdOai."));
  EXPECT_FALSE(CryptMatches("Alice#2024", "$1$8iXIBzKs$UgI/PCw3e/q6Ih8gjdOai."));
  EXPECT_FALSE(CryptMatches("anything", ""));
  EXPECT_FALSE(CryptMatches("anything", "*"));
}

TEST(PasswordTest, WeakSchemesAreDesAndMd5Crypt) {
  EXPECT_EQ(WeakHashScheme("jjNprHSouw.GI"), "des");
  EXPECT_EQ(WeakHashScheme("$1$8iXIBzKs$UgI/PCw3e/q6Ih8gjdOai."), "md5");
  EXPECT_EQ(WeakHashScheme("$6$LongSalt1234abcd$x"), "");
  EXPECT_EQ(WeakHashScheme(""), "");
}

}  // namespace
}  // namespace vmigrate::vpopmail
