// The delta rule: messages by folder + unique name + size (moves and flag
// changes are renames), everything else by path and every recorded field.
#include "state/state_diff.h"

#include <gtest/gtest.h>

namespace vmigrate {
namespace {

StateEntry File(const std::string& path, std::int64_t size, std::int64_t mtime = 100, const std::string& sha = "") {
  StateEntry e;
  e.type = 'f';
  e.path = path;
  e.mode = 0600;
  e.mtime_sec = mtime;
  e.size = size;
  e.sha256 = sha;
  return e;
}

StateEntry Dir(const std::string& path, std::int64_t mtime = 100) {
  StateEntry e;
  e.type = 'd';
  e.path = path;
  e.mode = 0700;
  e.mtime_sec = mtime;
  return e;
}

TEST(StateDiffTest, UnchangedSectionHasNoChanges) {
  StateSection base;
  base.user_line = "user\talice";
  base.entries = {Dir("."), Dir("Maildir"), File("Maildir/new/1.2.h,S=5", 5), File(".qmail", 10, 100, std::string(64, 'a'))};
  SectionChanges c = DiffSection(base, base.entries, "user\talice");
  EXPECT_TRUE(c.empty());
}

TEST(StateDiffTest, MoveToCurAndFlagChangeAreRenames) {
  StateSection base;
  base.entries = {File("Maildir/new/1.2.h,S=5", 5), File("Maildir/cur/3.4.h,S=7:2,S", 7)};
  std::vector<StateEntry> now = {File("Maildir/cur/1.2.h,S=5:2,", 5), File("Maildir/cur/3.4.h,S=7:2,RS", 7)};
  SectionChanges c = DiffSection(base, now, "");
  EXPECT_TRUE(c.send.empty());
  EXPECT_TRUE(c.remove.empty());
  ASSERT_EQ(c.renames.size(), 2u);
  EXPECT_EQ(c.renames[0].from, "Maildir/new/1.2.h,S=5");
  EXPECT_EQ(c.renames[0].to, "Maildir/cur/1.2.h,S=5:2,");
  EXPECT_EQ(c.renames[1].to, "Maildir/cur/3.4.h,S=7:2,RS");
}

TEST(StateDiffTest, MessagesAreMatchedWithinTheirFolderOnly) {
  StateSection base;
  base.entries = {File("Maildir/cur/1.2.h:2,S", 5)};
  std::vector<StateEntry> now = {File("Maildir/.Archive/cur/1.2.h:2,S", 5)};
  SectionChanges c = DiffSection(base, now, "");
  ASSERT_EQ(c.send.size(), 1u);
  EXPECT_EQ(c.send[0].path, "Maildir/.Archive/cur/1.2.h:2,S");
  ASSERT_EQ(c.remove.size(), 1u);
  EXPECT_EQ(c.remove[0], "Maildir/cur/1.2.h:2,S");
  EXPECT_TRUE(c.renames.empty());
}

TEST(StateDiffTest, SameNameOtherSizeIsReplacedNotRenamed) {
  StateSection base;
  base.entries = {File("Maildir/cur/1.2.h:2,S", 5)};
  std::vector<StateEntry> now = {File("Maildir/cur/1.2.h:2,S", 6)};
  SectionChanges c = DiffSection(base, now, "");
  ASSERT_EQ(c.send.size(), 1u);
  EXPECT_TRUE(c.remove.empty());
  EXPECT_TRUE(c.renames.empty());
}

TEST(StateDiffTest, MtimeOnlyChangeOfAMessageIsAMetadataRename) {
  StateSection base;
  base.entries = {File("Maildir/cur/1.2.h:2,S", 5, 100)};
  std::vector<StateEntry> now = {File("Maildir/cur/1.2.h:2,S", 5, 200)};
  SectionChanges c = DiffSection(base, now, "");
  ASSERT_EQ(c.renames.size(), 1u);
  EXPECT_EQ(c.renames[0].from, c.renames[0].to);
  EXPECT_EQ(c.renames[0].after.mtime_sec, 200);
  EXPECT_TRUE(c.send.empty());
}

TEST(StateDiffTest, ChangedFilesNewDirsAndRemovalsDeepestFirst) {
  StateSection base;
  base.user_line = "user\tbob\tOLD";
  base.entries = {Dir("."), Dir("Maildir/.Old"), Dir("Maildir/.Old/cur"), File("Maildir/.Old/cur/9.9.h:2,", 3),
                  File("maildirsize", 20, 100, std::string(64, 'a'))};
  std::vector<StateEntry> now = {Dir(".", 200), File("maildirsize", 20, 100, std::string(64, 'b')),
                                 Dir("Maildir/.New")};
  SectionChanges c = DiffSection(base, now, "user\tbob\tNEW");
  EXPECT_TRUE(c.user_changed);
  ASSERT_EQ(c.send.size(), 3u);  // ".", "Maildir/.New", "maildirsize" (by path)
  EXPECT_EQ(c.send[0].path, ".");
  EXPECT_EQ(c.send[1].path, "Maildir/.New");
  EXPECT_EQ(c.send[2].path, "maildirsize");
  ASSERT_EQ(c.remove.size(), 3u);
  EXPECT_EQ(c.remove[0], "Maildir/.Old/cur/9.9.h:2,");
  EXPECT_EQ(c.remove[1], "Maildir/.Old/cur");
  EXPECT_EQ(c.remove[2], "Maildir/.Old");
}

TEST(StateDiffTest, TypeChangeIsRemoveThenSend) {
  StateSection base;
  base.entries = {Dir("x")};
  StateEntry link;
  link.type = 'l';
  link.path = "x";
  link.size = 3;
  SectionChanges c = DiffSection(base, {link}, "");
  ASSERT_EQ(c.send.size(), 1u);
  ASSERT_EQ(c.remove.size(), 1u);
  EXPECT_EQ(c.remove[0], "x");
}

}  // namespace
}  // namespace vmigrate
