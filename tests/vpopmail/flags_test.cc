#include "vpopmail/flags.h"

#include <gtest/gtest.h>

namespace vmigrate::vpopmail {
namespace {

using Names = std::vector<std::string>;

TEST(FlagNamesTest, NamesTheBitsOfPwGid) {
  EXPECT_EQ(FlagNames("0"), Names{});
  EXPECT_EQ(FlagNames("2"), Names{"NO_POP"});
  // 2080 = NO_RELAY (0x20) | NO_SMTP (0x800).
  EXPECT_EQ(FlagNames("2080"), (Names{"NO_RELAY", "NO_SMTP"}));
  EXPECT_EQ(FlagNames("14"), (Names{"NO_POP", "NO_WEBMAIL", "NO_IMAP"}));
  EXPECT_EQ(FlagNames("262144"), Names{"NO_MAILDROP"});
}

TEST(FlagNamesTest, UnknownBitsByValueAndNoNumberGivesNothing) {
  EXPECT_EQ(FlagNames("524289"), (Names{"NO_PASSWD_CHNG", "0x80000"}));
  EXPECT_EQ(FlagNames(""), Names{});
  EXPECT_EQ(FlagNames("-1"), Names{});
  EXPECT_EQ(FlagNames("abc"), Names{});
}

}  // namespace
}  // namespace vmigrate::vpopmail
