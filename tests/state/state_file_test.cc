// The state file: records round-trip, digests are independent of section
// order and catch any edit, and a reader loads one section at a time.
#include "state/state_file.h"

#include <cstdio>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vmigrate {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

StateEntry Entry(char type, const std::string& path) {
  StateEntry e;
  e.type = type;
  e.path = path;
  e.mode = type == 'd' ? 0700 : 0600;
  e.mtime_sec = 1795424447;
  e.mtime_nsec = 123456789;
  if (type != 'd') e.size = 42;
  if (type == 'f' && path.find("/cur/") == std::string::npos) e.sha256 = std::string(64, 'e');
  return e;
}

// Writes a state of one domain with `users` (in that order) to `path`.
std::string WriteState(const std::string& path, const std::vector<std::string>& users,
                       const std::string& tweak_user = "") {
  FILE* f = std::fopen(path.c_str(), "w");
  StateWriter w(f);
  w.Header("2026-11-29T00:00:00Z", "h", "/v", "/q");
  w.BeginDomain("example.com", {"example.org", "example.net"});
  std::vector<StateEntry> files = {Entry('d', "."), Entry('f', ".qmail-x\tweird\nname")};
  w.Section(kFilesSection, "", &files);
  for (const auto& u : users) {
    VpasswdEntry e;
    e.name = u;
    e.passwd = u == tweak_user ? "$1$changed" : "$1$x$y";
    e.quota = "NOQUOTA";
    std::vector<StateEntry> entries = {Entry('f', "Maildir/cur/1.2.h:2,S"), Entry('d', "."), Entry('d', "Maildir")};
    w.Section(kUserSectionPrefix + u, StateUserLine(e), &entries);
  }
  w.EndDomain();
  EXPECT_TRUE(w.Finish().ok());
  std::fclose(f);
  return w.content_digest();
}

TEST(StateFileTest, EntryLineRoundTrips) {
  StateEntry e = Entry('f', "a b\tc");
  auto back = StateEntry::Parse(e.Line());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, e);
  StateEntry d = Entry('d', ".");
  EXPECT_EQ(d.Line(), "d\t.\t0700\t1795424447.123456789");
  EXPECT_FALSE(StateEntry::Parse("f\tx\t0600\t1.5\t3\t-").ok());       // nanoseconds must have 9 digits
  EXPECT_FALSE(StateEntry::Parse("f\tx\t0999\t1.000000000\t3\t-").ok());  // not octal
  EXPECT_FALSE(StateEntry::Parse("x\tx\t0600\t1.000000000").ok());
}

TEST(StateFileTest, MessagesAndUniqueNames) {
  EXPECT_TRUE(IsStateMessage("Maildir/cur/1.2.h:2,S"));
  EXPECT_TRUE(IsStateMessage("Maildir/.Sent/new/1.2.h"));
  EXPECT_FALSE(IsStateMessage("Maildir/tmp/1.2.h"));
  EXPECT_FALSE(IsStateMessage("cur"));
  EXPECT_EQ(MaildirUniqueName("1.2.h,S=5:2,RS"), "1.2.h,S=5");
  EXPECT_EQ(MaildirUniqueName("1.2.h"), "1.2.h");
}

TEST(StateFileTest, DigestIgnoresSectionOrderAndHeader) {
  TempDir tmp;
  std::string a = WriteState(tmp / "a", {"alice", "bob"});
  std::string b = WriteState(tmp / "b", {"bob", "alice"});
  EXPECT_EQ(a, b);
  std::string c = WriteState(tmp / "c", {"alice", "bob"}, "bob");
  EXPECT_NE(a, c);
}

TEST(StateFileTest, ReaderIndexesAndLoadsSections) {
  TempDir tmp;
  std::string digest = WriteState(tmp / "s", {"alice", "bob"});
  auto sf = StateFile::Open(tmp / "s");
  ASSERT_TRUE(sf.ok()) << sf.status().ToString();
  EXPECT_EQ((*sf)->content_digest(), digest);
  EXPECT_EQ((*sf)->created(), "2026-11-29T00:00:00Z");
  const StateDomain* d = (*sf)->FindDomain("example.com");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->aliases, (std::vector<std::string>{"example.net", "example.org"}));
  EXPECT_EQ(d->sections.size(), 3u);
  auto bob = (*sf)->Load("example.com", std::string(kUserSectionPrefix) + "bob");
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(bob->user_line.substr(0, 9), "user\tbob\t");
  ASSERT_EQ(bob->entries.size(), 3u);
  EXPECT_EQ(bob->entries[0].path, ".");  // sorted by path
  auto files = (*sf)->Load("example.com", kFilesSection);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->entries[1].path, ".qmail-x\tweird\nname");
  EXPECT_EQ((*sf)->Load("example.com", "user\tnobody").status().code(), Status::Code::kNotFound);
}

TEST(StateFileTest, EditedOrCutShortStateIsRefused) {
  TempDir tmp;
  WriteState(tmp / "s", {"alice"});
  std::string text = ReadFile(tmp / "s");
  size_t pos = text.find("0600");
  WriteFile(tmp / "edited", text.substr(0, pos) + "0644" + text.substr(pos + 4));
  auto edited = StateFile::Open(tmp / "edited");
  ASSERT_FALSE(edited.ok());
  EXPECT_EQ(edited.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(edited.status().message().find("does not match"), std::string::npos) << edited.status().message();
  WriteFile(tmp / "cut", text.substr(0, text.rfind("digest")));
  auto cut = StateFile::Open(tmp / "cut");
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find("cut short"), std::string::npos) << cut.status().message();
  WriteFile(tmp / "other", "hello\n");
  EXPECT_NE(StateFile::Open(tmp / "other").status().message().find("not a vmigrate state file"), std::string::npos);
  WriteFile(tmp / "newer", "vmigrate-state 2\n");
  EXPECT_EQ(StateFile::Open(tmp / "newer").status().code(), Status::Code::kUnsupported);
  EXPECT_EQ(StateFile::Open(tmp / "missing").status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace vmigrate
