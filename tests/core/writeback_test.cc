#include "core/writeback.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vmigrate {
namespace {

using namespace std::chrono_literals;

TEST(BackgroundWritebackTest, SyncsPeriodicallyUntilDestroyed) {
  testing::TempDir dir;
  testing::WriteFile(dir / "f", "dirty data");
  auto start = std::chrono::steady_clock::now();
  int passes = 0;
  {
    BackgroundWriteback writeback(dir.path(), 20ms);
    while (writeback.passes() < 3 && std::chrono::steady_clock::now() - start < 10s)
      std::this_thread::sleep_for(5ms);
    passes = writeback.passes();
  }
  EXPECT_GE(passes, 3);
}

TEST(BackgroundWritebackTest, StopsAtOnceWhenDestroyedBeforeTheFirstPass) {
  testing::TempDir dir;
  auto start = std::chrono::steady_clock::now();
  {
    BackgroundWriteback writeback(dir.path(), 1h);
    EXPECT_EQ(writeback.passes(), 0);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(BackgroundWritebackTest, MissingDirectoryDoesNothing) {
  testing::TempDir dir;
  BackgroundWriteback writeback(dir / "absent", 1ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(writeback.passes(), 0);
}

}  // namespace
}  // namespace vmigrate
