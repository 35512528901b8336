#include "qmail/control_file.h"

#include <cdb.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/strings.h"
#include "qmail/assign.h"
#include "support/test_support.h"

namespace vmigrate::qmail {
namespace {

using vmigrate::testing::CdbHas;
using vmigrate::testing::ReadFile;
using vmigrate::testing::TempDir;
using vmigrate::testing::UnpackFixture;
using vmigrate::testing::WriteFile;

// Every key of a cdb, with the check that all values are empty.
std::multiset<std::string> CdbKeys(const std::string& path, bool* all_values_empty) {
  std::multiset<std::string> keys;
  *all_values_empty = true;
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return keys;
  struct cdb c;
  if (cdb_init(&c, fd) == 0) {
    unsigned pos;
    cdb_seqinit(&pos, &c);
    while (cdb_seqnext(&pos, &c) > 0) {
      std::string key(cdb_keylen(&c), '\0');
      cdb_read(&c, key.data(), cdb_keylen(&c), cdb_keypos(&c));
      keys.insert(key);
      if (cdb_datalen(&c) != 0) *all_values_empty = false;
    }
    cdb_free(&c);
  }
  close(fd);
  return keys;
}

ControlFile LoadOrDie(const std::string& path, bool assign_format = false) {
  Result<ControlFile> file = ControlFile::Load(path, assign_format);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  return *file;
}

std::string FixtureControl(const TempDir& tmp, const std::string& name) {
  return tmp.path() + "/tmp/realvp/qmail/" + name;
}

TEST(ControlFileTest, SortKeyMovesTheLastTwoLabelsToTheFront) {
  EXPECT_EQ(VpopmailSortKey("mail.example.com", false), "example.com.mail");
  EXPECT_EQ(VpopmailSortKey("example.com", false), "example.com");
  EXPECT_EQ(VpopmailSortKey("a.b.example.com", false), "example.com.a.b");
  EXPECT_EQ(VpopmailSortKey("localhost", false), "localhost");
  EXPECT_EQ(VpopmailSortKey("example.com:example.com", false), "example.com");
  EXPECT_EQ(VpopmailSortKey("+mail.example.com-:example.com:89:89:/d:-::", true),
            "example.com.mail");
  EXPECT_EQ(VpopmailSortKey("", false), "");
  // At most ten labels are looked at.
  EXPECT_EQ(VpopmailSortKey("a.b.c.d.e.f.g.h.i.j.k.l", false), "i.j.a.b.c.d.e.f.g.h");
}

TEST(ControlFileTest, InsertSortedReproducesTheFixtureRcpthosts) {
  TempDir tmp;
  UnpackFixture("real-small", tmp.path());
  std::string path = tmp / "rcpthosts";
  WriteFile(path, "mail.example.com\n");  // what qmail's config-fast left
  ControlFile file = LoadOrDie(path);
  for (const char* d : {"example.com", "example.net", "example.org"}) EXPECT_TRUE(file.InsertSorted(d));
  EXPECT_EQ(file.Text(), ReadFile(FixtureControl(tmp, "control/rcpthosts")));
}

TEST(ControlFileTest, InsertSortedReproducesTheFixtureVirtualdomains) {
  TempDir tmp;
  UnpackFixture("real-small", tmp.path());
  ControlFile file = LoadOrDie(tmp / "virtualdomains");  // absent: starts empty
  EXPECT_FALSE(file.present());
  for (const char* d : {"example.com", "example.net", "example.org"})
    EXPECT_TRUE(file.InsertSorted(std::string(d) + ":" + d));
  EXPECT_EQ(file.Text(), ReadFile(FixtureControl(tmp, "control/virtualdomains")));
}

TEST(ControlFileTest, InsertSortedReproducesTheFixtureAssign) {
  TempDir tmp;
  UnpackFixture("real-small", tmp.path());
  std::string fixture = ReadFile(FixtureControl(tmp, "users/assign"));
  std::vector<std::string> lines = SplitLines(fixture);
  ASSERT_EQ(lines.size(), 4u);
  // A file holding example.com and example.net gets example.org (the alias).
  std::string path = tmp / "assign";
  WriteFile(path, lines[0] + "\n" + lines[1] + "\n.\n");
  ControlFile file = LoadOrDie(path, /*assign_format=*/true);
  EXPECT_TRUE(file.InsertSorted(lines[2]));
  EXPECT_EQ(file.Text(), fixture);
  // And in creation order from a missing file, which starts as ".".
  ControlFile fresh = LoadOrDie(tmp / "missing-assign", true);
  EXPECT_EQ(fresh.Text(), ".\n");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(fresh.InsertSorted(lines[i]));
  EXPECT_EQ(fresh.Text(), fixture);
}

TEST(ControlFileTest, InsertSortedPlacesLinesByKeyAndKeepsOthersWhereTheyAre) {
  TempDir tmp;
  std::string path = tmp / "rcpthosts";
  // Deliberately out of order: we insert, we never re-sort.
  WriteFile(path, "# local hosts\nzzz.test\n\nlocalhost\nmail.b.test\n");
  ControlFile file = LoadOrDie(path);
  EXPECT_TRUE(file.InsertSorted("b.test"));
  EXPECT_FALSE(file.InsertSorted("b.test"));  // already there
  EXPECT_EQ(file.Text(), "# local hosts\nb.test\nzzz.test\n\nlocalhost\nmail.b.test\n");
  EXPECT_EQ(file.line_count(), 6u);
}

TEST(ControlFileTest, AssignTerminatorIsAlwaysOneLastDotLine) {
  TempDir tmp;
  std::string path = tmp / "assign";
  WriteFile(path, "=joe:joe:1:1:/home/joe:::\n.\n+z.test-:z.test:1:1:/z:-::\n.\n");
  ControlFile file = LoadOrDie(path, true);
  EXPECT_EQ(file.line_count(), 2u);
  EXPECT_TRUE(file.InsertSorted("+a.test-:a.test:1:1:/a:-::"));
  EXPECT_EQ(file.Text(),
            "=joe:joe:1:1:/home/joe:::\n+a.test-:a.test:1:1:/a:-::\n+z.test-:z.test:1:1:/z:-::\n.\n");
}

TEST(ControlFileTest, RemoveDropsEveryExactCopyOnly) {
  TempDir tmp;
  std::string path = tmp / "locals";
  WriteFile(path, "localhost\nexample.com\nmail.example.com\nexample.com\nExample.com\n");
  ControlFile file = LoadOrDie(path);
  EXPECT_TRUE(file.Contains("example.com"));
  EXPECT_TRUE(file.Remove("example.com"));
  EXPECT_FALSE(file.Remove("example.com"));
  EXPECT_EQ(file.Text(), "localhost\nmail.example.com\nExample.com\n");
}

// qmail's files stay qmail's (issue 15): an existing file keeps its mode
// and owner, a new one is 0644 and, as root, root:root (notqmail hier.c).
TEST(ControlFileTest, SaveKeepsAnExistingFilesModeAndOwnerAndMakesNewOnesRoots0644) {
  TempDir tmp;
  std::string path = tmp / "rcpthosts";
  WriteFile(path, "a.test\n");
  chmod(path.c_str(), 0600);
  if (geteuid() == 0) {
    ASSERT_EQ(chown(path.c_str(), 12, 34), 0);
  }
  ControlFile file = LoadOrDie(path);
  ASSERT_TRUE(file.InsertSorted("b.test"));
  Status s = file.Save();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(path), "a.test\nb.test\n");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  if (geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 12u);
    EXPECT_EQ(st.st_gid, 34u);
  }
  // Nothing but the file itself is left in the directory.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);

  // A new file (cutover's smtproutes, an import's virtualdomains).
  ControlFile fresh = LoadOrDie(tmp / "smtproutes");
  ASSERT_TRUE(fresh.Append("example.com:new.example.net"));
  ASSERT_TRUE(fresh.Save().ok());
  ASSERT_EQ(stat((tmp / "smtproutes").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  if (geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(st.st_gid, 0u);
  }
}

TEST(ControlFileTest, MissingFileLoadsEmptyAndNotPresent) {
  TempDir tmp;
  ControlFile file = LoadOrDie(tmp / "nope");
  EXPECT_FALSE(file.present());
  EXPECT_EQ(file.line_count(), 0u);
  EXPECT_EQ(file.Text(), "");
}

TEST(ControlFileTest, MoreRcpthostsCdbLowerCasesAndSkipsComments) {
  TempDir tmp;
  std::string cdb = tmp / "morercpthosts.cdb";
  Status s = WriteMoreRcpthostsCdb(
      "# a comment\nExample.COM \t\n\nb.test\n#c.test\n.sub.test\nlast.test", cdb);
  ASSERT_TRUE(s.ok()) << s.ToString();
  bool empty_values = false;
  EXPECT_EQ(CdbKeys(cdb, &empty_values),
            (std::multiset<std::string>{"example.com", "b.test", ".sub.test", "last.test"}));
  EXPECT_TRUE(empty_values);
  EXPECT_TRUE(CdbHas(cdb, "example.com"));
  EXPECT_FALSE(CdbHas(cdb, "Example.COM"));
  EXPECT_FALSE(CdbHas(cdb, "c.test"));
  EXPECT_FALSE(CdbHas(cdb, "#c.test"));
  EXPECT_FALSE(CdbHas(cdb, ""));
  struct stat st;
  ASSERT_EQ(stat(cdb.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_FALSE(std::filesystem::exists(tmp / "morercpthosts.tmp"));
}

}  // namespace
}  // namespace vmigrate::qmail
