// lib/archive/layout: member names, header checks, checksums records and
// OpenArchive, on a real export of real-small's example.com and on
// forgeries of it (tests/hostile/archive_forge.h).
#include "archive/layout.h"

#include <string>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "core/sha256.h"
#include "hostile/archive_forge.h"
#include "model/path_rewrite.h"
#include "support/test_support.h"

namespace vmigrate::testing {
namespace {

namespace forge = hostile;

MemberName Parse(const std::string& path) {
  auto m = ParseMemberName(path);
  EXPECT_TRUE(m.ok()) << path << ": " << m.status().message();
  return m.ok() ? *m : MemberName{};
}

std::string ParseError(const std::string& path) {
  auto m = ParseMemberName(path);
  EXPECT_FALSE(m.ok()) << path << " parsed";
  return m.ok() ? "" : m.status().message();
}

TEST(LayoutMemberName, ManifestAndChecksums) {
  EXPECT_EQ(Parse("manifest.yaml").part, MemberPart::kManifest);
  EXPECT_EQ(Parse("checksums.txt").part, MemberPart::kChecksums);
}

TEST(LayoutMemberName, ServerFile) {
  MemberName m = Parse("server/qmail/control/me");
  EXPECT_EQ(m.part, MemberPart::kServerFile);
  EXPECT_EQ(m.rel, "qmail/control/me");
  EXPECT_EQ(m.domain, "");
}

TEST(LayoutMemberName, DomainFiles) {
  MemberName dir = Parse("domains/example.com/files");
  EXPECT_EQ(dir.part, MemberPart::kDomainFiles);
  EXPECT_EQ(dir.domain, "example.com");
  EXPECT_EQ(dir.rel, "");
  EXPECT_EQ(dir.rel_in_domain, "files");
  MemberName f = Parse("domains/example.com/files/.qmail-default");
  EXPECT_EQ(f.part, MemberPart::kDomainFiles);
  EXPECT_EQ(f.domain, "example.com");
  EXPECT_EQ(f.user, "");
  EXPECT_EQ(f.rel, ".qmail-default");
  EXPECT_EQ(f.rel_in_domain, "files/.qmail-default");
  // A directory named like a part is just a path below files/.
  MemberName deep = Parse("domains/example.com/files/users/x/cur/1");
  EXPECT_EQ(deep.part, MemberPart::kDomainFiles);
  EXPECT_EQ(deep.rel, "users/x/cur/1");
}

TEST(LayoutMemberName, UserHome) {
  MemberName home = Parse("domains/example.com/users/judy");
  EXPECT_EQ(home.part, MemberPart::kUserHome);
  EXPECT_EQ(home.domain, "example.com");
  EXPECT_EQ(home.user, "judy");
  EXPECT_EQ(home.rel, "");
  EXPECT_EQ(home.rel_in_domain, "users/judy");
  MemberName msg = Parse("domains/example.com/users/judy/Maildir/cur/1.2.host:2,S");
  EXPECT_EQ(msg.part, MemberPart::kUserHome);
  EXPECT_EQ(msg.user, "judy");
  EXPECT_EQ(msg.rel, "Maildir/cur/1.2.host:2,S");
  EXPECT_EQ(msg.rel_in_domain, "users/judy/Maildir/cur/1.2.host:2,S");
}

TEST(LayoutMemberName, NamesThatFitNoPart) {
  for (const char* path : {"domains", "domains/example.com", "domains/example.com/users",
                           "domains/example.com/filesx", "domains/example.com/other/x", "server",
                           "manifest.yaml.bak", "etc/passwd", "Domains/example.com/files"}) {
    EXPECT_EQ(ParseError(path), "archive entry '" + std::string(path) +
                                    "' is outside the domain the manifest names");
  }
}

TEST(LayoutMemberName, BadPathsAreRefusedBeforeParsing) {
  EXPECT_EQ(ParseError(""), "archive entry '': empty path");
  EXPECT_EQ(ParseError("/etc/passwd"), "archive entry '/etc/passwd': absolute path");
  EXPECT_EQ(ParseError("domains/example.com/users/../../x"),
            "archive entry 'domains/example.com/users/../../x': '..' component escapes the domain");
  EXPECT_EQ(ParseError("domains/example.com/./files"),
            "archive entry 'domains/example.com/./files': '.' component");
  EXPECT_EQ(ParseError("domains//files"), "archive entry 'domains//files': empty path component");
  EXPECT_EQ(ParseError("domains/example.com/files/"),
            "archive entry 'domains/example.com/files/': empty path component");
  EXPECT_EQ(ParseError("domains/a\\b/files"), "archive entry 'domains/a\\\\b/files': backslash in path");
  EXPECT_EQ(ParseError(std::string("domains/a\0b/files", 17)),
            "archive entry 'domains/a\\x00b/files': NUL byte in path");
  std::string long_path = ParseError("server/" + std::string(4100, 'x'));
  EXPECT_NE(long_path.find("': path longer than 4096 bytes"), std::string::npos) << long_path;
}

TEST(LayoutMemberPath, AcceptsAndRefuses) {
  EXPECT_TRUE(CheckMemberPath("a").ok());
  EXPECT_TRUE(CheckMemberPath("a/..b/c.").ok());
  EXPECT_TRUE(CheckMemberPath(std::string(4096, 'a')).ok());
  EXPECT_FALSE(CheckMemberPath(std::string(4097, 'a')).ok());
  EXPECT_FALSE(CheckMemberPath("..").ok());
  EXPECT_FALSE(CheckMemberPath("a/.").ok());
  EXPECT_FALSE(CheckMemberPath("a//b").ok());
  // An escaped name is shown at most 300 bytes long.
  std::string msg = CheckMemberPath("/" + std::string(1000, 'a')).message();
  EXPECT_EQ(msg, "archive entry '/" + std::string(299, 'a') + "': absolute path");
}

EntryHeader Header(const std::string& path, EntryType type) {
  EntryHeader h;
  h.path = path;
  h.type = type;
  h.mode = 0640;
  h.mtime_sec = 1795424447;
  h.mtime_nsec = 123456789;
  return h;
}

TEST(LayoutEntryHeader, Checks) {
  EXPECT_TRUE(CheckEntryHeader(Header("domains/d/files", EntryType::kDirectory)).ok());
  EXPECT_TRUE(CheckEntryHeader(Header("domains/d/files/x", EntryType::kFile)).ok());
  EXPECT_TRUE(CheckEntryHeader(Header("domains/d/files/l", EntryType::kSymlink)).ok());
  EXPECT_EQ(CheckEntryHeader(Header("a/../b", EntryType::kFile)).message(),
            "archive entry 'a/../b': '..' component escapes the domain");
  EntryHeader late = Header("x", EntryType::kFile);
  late.mtime_nsec = 1000000000;
  EXPECT_EQ(CheckEntryHeader(late).message(), "archive entry 'x': bad mtime");
  late.mtime_nsec = -1;
  EXPECT_EQ(CheckEntryHeader(late).message(), "archive entry 'x': bad mtime");
  late.mtime_nsec = 999999999;
  EXPECT_TRUE(CheckEntryHeader(late).ok());
  EXPECT_EQ(CheckEntryHeader(Header("x", EntryType::kHardlink)).message(),
            "archive entry 'x' is a hard link; vmigrate archives never contain one");
  Status other = CheckEntryHeader(Header("x", EntryType::kOther));
  EXPECT_EQ(other.code(), Status::Code::kCorrupt);
  EXPECT_EQ(other.message(), "archive entry 'x' is a device, FIFO or socket; refused");
}

TEST(LayoutRecordFromHeader, FileDirectorySymlink) {
  EntryHeader f = Header("domains/d/files/x", EntryType::kFile);
  f.mode = 0104755;  // type bits never reach the record
  f.size = 42;
  FileRecord rf = RecordFromHeader(f);
  EXPECT_EQ(rf.type, 'f');
  EXPECT_EQ(rf.mode, 04755u);
  EXPECT_EQ(rf.mtime_sec, 1795424447);
  EXPECT_EQ(rf.mtime_nsec, 123456789);
  EXPECT_EQ(rf.path, "domains/d/files/x");
  EXPECT_EQ(rf.size, 0) << "a file's size comes from its data";
  EXPECT_EQ(rf.sha256, "");
  EXPECT_FALSE(rf.rewritten);

  FileRecord rd = RecordFromHeader(Header("domains/d/files", EntryType::kDirectory));
  EXPECT_EQ(rd.type, 'd');
  EXPECT_EQ(rd.mode, 0640u);

  EntryHeader l = Header("domains/d/files/l", EntryType::kSymlink);
  l.link_target = "../x";
  FileRecord rl = RecordFromHeader(l);
  EXPECT_EQ(rl.type, 'l');
  EXPECT_EQ(rl.size, 4);
  EXPECT_EQ(rl.sha256, Sha256::Of("../x"));
  EXPECT_FALSE(rl.rewritten);
}

TEST(LayoutRecordFromHeader, SymlinkWithPlaceholdersIsRewritten) {
  // A target the exporter rewrote to name the old host's paths by placeholder.
  HostPathSet source;
  source.vpopmail_home = "/home/vpopmail";
  source.qmail_dir = "/var/qmail";
  source.domain_dir = "/home/vpopmail/domains/d";
  EntryHeader l = Header("domains/d/files/l", EntryType::kSymlink);
  l.link_target = "/home/vpopmail/domains/d/x";
  ASSERT_TRUE(ToPlaceholders(source, &l.link_target));
  FileRecord rl = RecordFromHeader(l);
  EXPECT_TRUE(rl.rewritten);
  EXPECT_EQ(rl.size, static_cast<std::int64_t>(l.link_target.size()));
  EXPECT_EQ(rl.sha256, Sha256::Of(l.link_target));
}

class LayoutOpenArchive : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    source_ = new TempDir();
    UnpackFixture("real-small", source_->path());
    archive_ = new std::string(*source_ / "example.com.vma");
    CommandResult r = cli::Export(source_->path(), "example.com", *archive_, {"--compress", "none"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    base_ = new forge::Members(forge::ReadMembers(*archive_));
  }
  static void TearDownTestSuite() {
    delete base_;
    delete archive_;
    delete source_;
    base_ = nullptr;
    archive_ = nullptr;
    source_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(base_, nullptr) << "the suite's export failed"; }

  std::string Write(const forge::Members& members) {
    std::string path = work_ / ("forged-" + std::to_string(++count_) + ".vma");
    forge::WriteArchive(path, members);
    return path;
  }
  std::string WriteManifestEdit(const std::string& from, const std::string& to) {
    forge::Members m = *base_;
    std::string& text = forge::ManifestText(m);
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << "manifest has no '" << from << "'";
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return Write(forge::WithChecksums(m));
  }
  std::string OpenError(const std::string& path) {
    auto a = OpenArchive(path);
    EXPECT_FALSE(a.ok()) << path << " opened";
    if (a.ok()) return "";
    EXPECT_EQ(a.status().code(), Status::Code::kCorrupt) << a.status().message();
    return a.status().message();
  }

  static TempDir* source_;
  static std::string* archive_;
  static forge::Members* base_;
  TempDir work_;
  int count_ = 0;
};

TempDir* LayoutOpenArchive::source_ = nullptr;
std::string* LayoutOpenArchive::archive_ = nullptr;
forge::Members* LayoutOpenArchive::base_ = nullptr;

TEST_F(LayoutOpenArchive, RealExport) {
  auto a = OpenArchive(*archive_);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->manifest.kind, kKindDomain);
  ASSERT_EQ(a->manifest.domains.size(), 1u);
  EXPECT_EQ(a->manifest.domains[0].name, "example.com");
  const forge::Member& m = base_->front();
  EXPECT_EQ(a->manifest_record.type, 'f');
  EXPECT_EQ(a->manifest_record.path, "manifest.yaml");
  EXPECT_EQ(a->manifest_record.size, static_cast<std::int64_t>(m.data.size()));
  EXPECT_EQ(a->manifest_record.sha256, Sha256::Of(m.data));
  EXPECT_EQ(a->manifest_record.mode, m.mode);
  EXPECT_EQ(a->manifest_record.mtime_sec, m.mtime_sec);
  // Its checksums.txt line is the one the exporter wrote.
  EXPECT_EQ(FormatRecord(a->manifest_record), forge::ChecksumsLine(m));
  // The reader is positioned after the manifest: every later member parses.
  EntryHeader h;
  size_t members = 0;
  for (;;) {
    auto more = a->reader->Next(&h);
    ASSERT_TRUE(more.ok()) << more.status().message();
    if (!*more) break;
    ++members;
    ASSERT_TRUE(CheckEntryHeader(h).ok()) << h.path;
    auto name = ParseMemberName(h.path);
    ASSERT_TRUE(name.ok()) << name.status().message();
    EXPECT_NE(name->part, MemberPart::kManifest);
    if (name->part == MemberPart::kDomainFiles || name->part == MemberPart::kUserHome) {
      EXPECT_EQ(name->domain, "example.com");
    }
  }
  EXPECT_EQ(members + 1, base_->size());
}

TEST_F(LayoutOpenArchive, Missing) {
  auto a = OpenArchive(work_ / "nope.vma");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Status::Code::kNotFound) << a.status().message();
}

TEST_F(LayoutOpenArchive, EmptyArchive) {
  std::string path = Write({});
  EXPECT_EQ(OpenError(path), path + ": empty archive (no manifest.yaml)");
}

TEST_F(LayoutOpenArchive, ManifestNotFirst) {
  forge::Members m = *base_;
  std::swap(m[0], m[1]);
  std::string path = Write(m);
  EXPECT_EQ(OpenError(path), path + ": first entry is '" + m[0].path +
                                 "', not manifest.yaml: not a vmigrate archive");
}

TEST_F(LayoutOpenArchive, ManifestNotAFile) {
  forge::Members m = *base_;
  m[0] = forge::Dir("manifest.yaml");
  std::string path = Write(m);
  EXPECT_EQ(OpenError(path), path + ": first entry is 'manifest.yaml', not manifest.yaml: not a vmigrate archive");
}

TEST_F(LayoutOpenArchive, ManifestTooLarge) {
  forge::Members m = *base_;
  m[0].type = 'o';
  m[0].raw_flag = '0';
  m[0].claimed_size = static_cast<std::int64_t>(kMaxManifestBytes) + 1;
  EXPECT_EQ(OpenError(Write(m)), "manifest.yaml claims " + std::to_string(kMaxManifestBytes + 1) +
                                     " bytes (limit " + std::to_string(kMaxManifestBytes) + ")");
}

TEST_F(LayoutOpenArchive, ManifestShorterThanItsHeader) {
  forge::Members m = *base_;
  m.resize(1);
  m[0].type = 'o';
  m[0].raw_flag = '0';
  m[0].claimed_size = static_cast<std::int64_t>(m[0].data.size()) + 4096;
  auto a = OpenArchive(Write(m));
  ASSERT_FALSE(a.ok());
  // libarchive reports the truncated data itself, or we see the short read.
  EXPECT_NE(a.status().message(), "") << a.status().message();
}

TEST_F(LayoutOpenArchive, BadYaml) {
  EXPECT_NE(OpenError(WriteManifestEdit("domains:\n", "domains: [\n")).find("not valid YAML"),
            std::string::npos);
}

TEST_F(LayoutOpenArchive, BadNames) {
  EXPECT_EQ(OpenError(WriteManifestEdit("- name: \"example.com\"", "- name: \"..\"")).rfind("archive: domain: ", 0),
            0u);
  EXPECT_EQ(OpenError(WriteManifestEdit("\"example.org\"", "\"../../../etc\"")).rfind("archive: alias domain: ", 0),
            0u);
  EXPECT_EQ(OpenError(WriteManifestEdit("      - \"example.org\"\n", "      - \"example.com\"\n")),
            "archive: alias domain 'example.com' is listed twice");
  std::string user = OpenError(WriteManifestEdit("- name: \"judy\"", "- name: \"..\""));
  EXPECT_EQ(user.rfind("archive: ", 0), 0u) << user;
  EXPECT_NE(user.find("not a valid user name"), std::string::npos) << user;
  EXPECT_EQ(OpenError(WriteManifestEdit("\"files/.qmail-default\"", "\"files/../../etc/x\"")),
            "archive: archive entry 'files/../../etc/x': '..' component escapes the domain");
}

TEST_F(LayoutOpenArchive, UserListedTwice) {
  forge::Members m = *base_;
  std::string& text = forge::ManifestText(m);
  // The first user's whole block, listed again right after itself.
  size_t start = text.find("      - name: ");
  ASSERT_NE(start, std::string::npos) << text;
  size_t end = text.find("      - name: ", start + 1);
  ASSERT_NE(end, std::string::npos) << text;
  std::string block = text.substr(start, end - start);
  text.insert(end, block);
  std::string name = block.substr(15, block.find('"', 15) - 15);
  // ManifestFromYaml sees this one first; OpenArchive refuses it either way.
  std::string error = OpenError(Write(forge::WithChecksums(m)));
  EXPECT_NE(error.find("user '" + name + "' is listed twice"), std::string::npos) << error;
}

}  // namespace
}  // namespace vmigrate::testing
