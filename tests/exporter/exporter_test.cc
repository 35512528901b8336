// ExportDomain on the real-small fixture (vpopmail 5.4.33's own tree): the
// manifest it reports and writes first, the members it carries, the files
// it rewrites with path placeholders and the regenerated files it leaves out.
#include "exporter/exporter.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "archive/archive_reader.h"
#include "model/manifest_yaml.h"
#include "support/test_support.h"

namespace vmigrate {
namespace {

namespace fs = std::filesystem;
using testing::kFixtureQmailDir;
using testing::kFixtureVpopmailHome;
using testing::ReadFile;
using testing::TempDir;
using testing::UnpackFixture;

constexpr const char* kFilesPrefix = "domains/example.com/files/";

struct Member {
  EntryHeader header;
  std::string data;
};

class ExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    ExportOptions opt;
    opt.paths.root = src_.path();
    opt.paths.vpopmail_home = kFixtureVpopmailHome;
    opt.paths.qmail_dir = kFixtureQmailDir;
    opt.domain = "example.com";
    opt.output = out_ / "example.com.tar.zst";
    Status s = ExportDomain(opt, &report_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(report_.manifest.domains.size(), 1u);
    ReadMembers(opt.output);
  }

  void ReadMembers(const std::string& path) {
    auto reader = ArchiveReader::Open(path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    for (;;) {
      Member m;
      auto more = (*reader)->Next(&m.header);
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      if (!*more) break;
      auto data = (*reader)->ReadAll(size_t{16} << 20);
      ASSERT_TRUE(data.ok()) << data.status().ToString();
      m.data = std::move(*data);
      order_.push_back(m.header.path);
      members_[m.header.path] = std::move(m);
    }
  }

  std::string SourceDomainDir() const {
    return src_.path() + kFixtureVpopmailHome + "/domains/example.com";
  }

  const ManifestDomain& Domain() const { return report_.manifest.domains[0]; }

  TempDir src_, out_;
  ExportReport report_;
  std::vector<std::string> order_;
  std::map<std::string, Member> members_;
};

TEST_F(ExporterTest, ManifestComesFirstAndMatchesTheReport) {
  ASSERT_FALSE(order_.empty());
  EXPECT_EQ(order_.front(), kManifestEntry);
  EXPECT_EQ(order_.back(), kChecksumsEntry);
  EXPECT_EQ(report_.entries, order_.size());
  auto parsed = ManifestFromYaml(members_[kManifestEntry].data);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(ManifestToYaml(*parsed), ManifestToYaml(report_.manifest));

  const Manifest& m = report_.manifest;
  EXPECT_EQ(m.format_version, kManifestFormat);
  EXPECT_EQ(m.kind, kKindDomain);
  EXPECT_EQ(m.generator, std::string("vmigrate ") + VMIGRATE_VERSION);
  EXPECT_EQ(m.source.hostname, "mail.example.com");  // control/me
  EXPECT_EQ(m.source.vpopmail_home, kFixtureVpopmailHome);
  EXPECT_EQ(m.source.qmail_dir, kFixtureQmailDir);
  EXPECT_TRUE(m.server_files.empty());
}

// The domain as vdominfo / vuserinfo describe it in the fixture's MANIFEST.
TEST_F(ExporterTest, DomainAndUsersAreTheFixturesOwn) {
  const ManifestDomain& d = Domain();
  EXPECT_EQ(d.name, "example.com");
  EXPECT_EQ(d.dir, std::string(kFixtureVpopmailHome) + "/domains/example.com");
  EXPECT_EQ(d.uid, 89u);
  EXPECT_EQ(d.gid, 89u);
  EXPECT_EQ(d.aliases, std::vector<std::string>{"example.org"});
  EXPECT_EQ(d.dir_control, ReadFile(SourceDomainDir() + "/.dir-control"));
  ASSERT_EQ(d.users.size(), 13u);
  const ManifestUser& alice = d.users[0];
  EXPECT_EQ(alice.entry.name, "alice");
  EXPECT_EQ(alice.entry.passwd, "$1$8iXIBzKs$UgI/PCw3e/q6Ih8gjdOai.");
  EXPECT_EQ(alice.entry.clear, "Alice#2023");
  EXPECT_EQ(alice.entry.quota, "5000000S,1000C");
  EXPECT_EQ(alice.rel_dir, "alice");
  EXPECT_TRUE(alice.home_present);

  // Counts: message files in cur/ and new/ of every folder, bytes of every
  // regular file under the home, taken from the tree here.
  for (const ManifestUser& u : d.users) {
    SCOPED_TRACE(u.entry.name);
    std::uint64_t messages = 0, bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(SourceDomainDir() + "/" + u.rel_dir)) {
      if (!e.is_regular_file() || e.is_symlink()) continue;
      bytes += e.file_size();
      std::string parent = e.path().parent_path().filename().string();
      if (parent == "cur" || parent == "new") ++messages;
    }
    EXPECT_EQ(u.messages, messages);
    EXPECT_EQ(u.bytes, bytes);
  }
  EXPECT_EQ(d.users[0].messages, 6u);
}

// vpasswd, vpasswd.cdb, .dir-control and lock files are rebuilt by the
// importer, never carried; everything else at domain level is.
TEST_F(ExporterTest, RegeneratedFilesAreLeftOut) {
  for (const char* name : {"vpasswd", "vpasswd.cdb", ".dir-control", ".vpasswd.lock"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fs::exists(SourceDomainDir() + "/" + name)) << "the fixture has it";
    EXPECT_EQ(members_.count(kFilesPrefix + std::string(name)), 0u);
    const auto& files = Domain().domain_files;
    EXPECT_EQ(std::count(files.begin(), files.end(), name), 0);
  }
  std::set<std::string> carried(Domain().domain_files.begin(), Domain().domain_files.end());
  EXPECT_EQ(carried, (std::set<std::string>{".qmail-abuse", ".qmail-archive", ".qmail-default",
                                             ".qmail-first:last", ".qmail-info", ".qmail-sales",
                                             ".qmailadmin-limits"}));
  for (const std::string& f : carried) EXPECT_EQ(members_.count(kFilesPrefix + f), 1u) << f;
  // Homes go under users/<name>/, not under files/.
  EXPECT_EQ(members_.count(kFilesPrefix + std::string("alice")), 0u);
  EXPECT_EQ(members_.count("domains/example.com/users/alice/Maildir/maildirsize"), 1u);
}

// Exactly the small text files holding a source path are listed, and in the
// archive they hold placeholders instead of the path; no member keeps a
// fixture path.
TEST_F(ExporterTest, RewrittenFilesCarryPlaceholdersAndNoSourcePath) {
  std::set<std::string> rewritten(Domain().rewritten_files.begin(), Domain().rewritten_files.end());
  EXPECT_EQ(rewritten, (std::set<std::string>{"files/.qmail-archive", "files/.qmail-default",
                                               "users/carol/.qmail"}));
  for (const std::string& r : rewritten) {
    SCOPED_TRACE(r);
    auto it = members_.find("domains/example.com/" + r);
    ASSERT_NE(it, members_.end());
    EXPECT_NE(it->second.data.find(kPlaceholderMarker), std::string::npos) << it->second.data;
  }
  EXPECT_NE(members_["domains/example.com/files/.qmail-default"].data.find(kPlaceholderVpopmailHome),
            std::string::npos);
  EXPECT_NE(members_["domains/example.com/users/carol/.qmail"].data.find(
                std::string(kPlaceholderUserDirPrefix) + "carol@@"),
            std::string::npos);
  for (const auto& [path, m] : members_) {
    if (path == kManifestEntry) continue;  // the manifest names the source paths on purpose
    EXPECT_EQ(m.data.find("/tmp/realvp"), std::string::npos) << path;
  }
  // Files without a path are carried byte for byte.
  EXPECT_EQ(members_["domains/example.com/files/.qmail-info"].data,
            ReadFile(SourceDomainDir() + "/.qmail-info"));
}

}  // namespace
}  // namespace vmigrate
