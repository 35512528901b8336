#include "core/strings.h"

#include <gtest/gtest.h>

namespace vmigrate {
namespace {

TEST(StringsTest, SplitKeepsEmptyFields) {
  auto f = Split("a::b:", ':');
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[1], "");
  EXPECT_EQ(f[3], "");
}

TEST(StringsTest, SplitLinesDropsOnlyTheFinalNewline) {
  auto l = SplitLines("a\n\nb\n");
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[1], "");
  EXPECT_EQ(SplitLines("a\nb").size(), 2u);
}

TEST(StringsTest, ParseUint64RejectsSignsAndOverflow) {
  unsigned long long v = 0;
  EXPECT_TRUE(ParseUint64("123", &v));
  EXPECT_EQ(v, 123u);
  EXPECT_FALSE(ParseUint64("-1", &v));
  EXPECT_FALSE(ParseUint64("", &v));
  EXPECT_FALSE(ParseUint64("99999999999999999999", &v));
}

TEST(StringsTest, EscapeRoundTripsControlBytes) {
  std::string raw = std::string("a b\\c\nd\te\x01", 11);
  std::string back;
  ASSERT_TRUE(UnescapeC(EscapeC(raw), &back));
  EXPECT_EQ(back, raw);
  EXPECT_EQ(EscapeC(raw).find('\n'), std::string::npos);
  EXPECT_FALSE(UnescapeC("bad\\", &back));
  EXPECT_FALSE(UnescapeC("bad\\x4", &back));
}

TEST(StringsTest, TrimStripsBlanksAtBothEndsOnly) {
  EXPECT_EQ(Trim("  a b\t\r"), "a b");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim(" \t "), "");
  EXPECT_EQ(Trim("x"), "x");
}

}  // namespace
}  // namespace vmigrate
