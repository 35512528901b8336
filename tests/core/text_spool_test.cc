#include "core/text_spool.h"

#include <gtest/gtest.h>

namespace vmigrate {
namespace {

TEST(TextSpoolTest, LinesComeBackInOrderWithTheirByteCount) {
  TextSpool spool;
  ASSERT_TRUE(spool.Init().ok());
  ASSERT_TRUE(spool.Add("first\tline").ok());
  ASSERT_TRUE(spool.Add("").ok());
  ASSERT_TRUE(spool.Add(std::string(100000, 'x')).ok());
  EXPECT_EQ(spool.lines(), 3u);
  EXPECT_EQ(spool.bytes(), 11u + 1u + 100001u);
  ASSERT_TRUE(spool.Rewind().ok());
  std::string line;
  ASSERT_TRUE(spool.ReadLine(&line));
  EXPECT_EQ(line, "first\tline");
  ASSERT_TRUE(spool.ReadLine(&line));
  EXPECT_EQ(line, "");
  ASSERT_TRUE(spool.ReadLine(&line));
  EXPECT_EQ(line.size(), 100000u);
  EXPECT_FALSE(spool.ReadLine(&line));
  // Read twice: Rewind starts over.
  ASSERT_TRUE(spool.Rewind().ok());
  ASSERT_TRUE(spool.ReadLine(&line));
  EXPECT_EQ(line, "first\tline");
}

}  // namespace
}  // namespace vmigrate
