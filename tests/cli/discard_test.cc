// End to end: `import --move-id ID` marks the domain it creates, and
// `cutover discard DOMAIN --move-id ID` takes that import back so that the
// target's control files, users/cdb, morercpthosts(.cdb), domains/ tree and
// domains/.dir-control read exactly as before the import; a domain the
// import did not create (no marker, another ID) is never touched.
#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "qmail/assign.h"
#include "qmail/control_file.h"
#include "safety/safety_support.h"
#include "support/test_support.h"
#include "vpopmail/dir_control.h"

namespace vmigrate::testing::cli {
namespace {

using safety::ContentView;
using safety::SameTree;

constexpr const char* kId = "0123abcd4567ef89";

class DiscardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    src_ = new TempDir;
    work_ = new TempDir;
    UnpackFixture("real-small", src_->path());
    CommandResult r = Export(src_->path(), "example.com", *work_ / "com.vma");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Export(src_->path(), "example.net", *work_ / "net.vma");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete src_;
    delete work_;
  }

  static std::string Com() { return *work_ / "com.vma"; }
  static std::string Net() { return *work_ / "net.vma"; }

  static CommandResult Discard(const std::string& root, const std::string& domain, const std::string& id,
                               const std::vector<std::string>& extra = {}) {
    return RunVmigrate(
        Concat(Concat({"cutover", "discard", domain, "--move-id", id, "--no-reload"}, TargetFlags(root)), extra));
  }

  // A target that already hosts example.net, with lines of its own in every
  // control file (comments, a hand-made assign line, example.com in locals
  // as an old host name).
  static void MakeUsedTarget(const std::string& root) {
    MakeEmptyTarget(root);
    CommandResult r = Import(root, Net());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string q = TargetQmailDisk(root);
    std::string assign = ReadFile(q + "/users/assign");
    assign = "=alias:alias:7790:2108:/var/qmail/alias:::\n" + assign;
    WriteFile(q + "/users/assign", assign);
    ASSERT_TRUE(qmail::WriteUsersCdb(assign, q + "/users/cdb").ok());
    WriteFile(q + "/control/rcpthosts", "# local names\nlocalhost\n" + ReadFile(q + "/control/rcpthosts"));
    WriteFile(q + "/control/virtualdomains",
              ReadFile(q + "/control/virtualdomains") + "lists.example.net:example.net-lists\n");
    // Sorted as vpopmail sorts: a line the import removed is put back in that order.
    WriteFile(q + "/control/locals", "example.com\nlocalhost\n");
    for (const char* f : {"/users/assign", "/control/rcpthosts", "/control/virtualdomains", "/control/locals"})
      chmod((q + f).c_str(), 0644);
  }

  static TempDir* src_;
  static TempDir* work_;
};

TempDir* DiscardTest::src_ = nullptr;
TempDir* DiscardTest::work_ = nullptr;

TEST_F(DiscardTest, TakesBackTheImportOnATargetWithOtherDomains) {
  TempDir dst;
  MakeUsedTarget(dst.path());
  auto before = ContentView(dst.path());

  CommandResult i = Import(dst.path(), Com(), {"--move-id", kId});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const std::string dir = TargetHomeDisk(dst.path()) + "/domains/example.com";
  EXPECT_EQ(ReadFile(dir + "/.vmigrate-move-id"), std::string(kId) + "\n");
  struct stat marker, vpasswd;
  ASSERT_EQ(lstat((dir + "/.vmigrate-move-id").c_str(), &marker), 0);
  ASSERT_EQ(lstat((dir + "/vpasswd").c_str(), &vpasswd), 0);
  EXPECT_EQ(marker.st_mode & 07777, 0600u);
  EXPECT_EQ(marker.st_uid, vpasswd.st_uid);
  EXPECT_EQ(marker.st_gid, vpasswd.st_gid);
  // The import took example.com out of locals (locals wins over virtualdomains).
  EXPECT_FALSE(HasLine(ReadFile(TargetQmailDisk(dst.path()) + "/control/locals"), "example.com"));

  // The marker is ours: verify does not report it as an extra file.
  CommandResult v = RunVmigrate(Concat({"verify", Com()}, TargetFlags(dst.path())));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  CommandResult d = Discard(dst.path(), "example.com", kId);
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(Lines(d.out).size(), 1u) << d.out;
  EXPECT_NE(d.out.find("discarded example.com (move " + std::string(kId) + ")"), std::string::npos) << d.out;
  EXPECT_TRUE(SameTree(before, ContentView(dst.path())));
  EXPECT_TRUE(HasLine(ReadFile(TargetQmailDisk(dst.path()) + "/control/locals"), "example.com"));
}

// rcpthosts full (50 lines) and 99 domains counted in domains/.dir-control:
// the import creates morercpthosts(.cdb) and bucket domains/0; the discard
// removes all three again and puts the counter back.
TEST_F(DiscardTest, RemovesTheMorercpthostsAndBucketTheImportCreated) {
  TempDir dst;
  MakeEmptyTarget(dst.path());
  const std::string q = TargetQmailDisk(dst.path());
  std::string rcpt;
  for (int k = 0; k < 49; ++k) rcpt += "host" + std::to_string(k) + ".test\n";
  rcpt += std::string(kTargetMe) + "\n";
  WriteFile(q + "/control/rcpthosts", rcpt);
  fs::create_directories(TargetHomeDisk(dst.path()) + "/domains");
  chmod((TargetHomeDisk(dst.path()) + "/domains").c_str(), 0700);
  const std::string dc = vpopmail::AllocateBuckets(std::nullopt, 99).final_text;
  WriteFile(TargetHomeDisk(dst.path()) + "/domains/.dir-control", dc);
  chmod((TargetHomeDisk(dst.path()) + "/domains/.dir-control").c_str(), 0600);
  auto before = ContentView(dst.path());

  CommandResult i = Import(dst.path(), Com(), {"--move-id", kId});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  ASSERT_TRUE(fs::is_directory(TargetHomeDisk(dst.path()) + "/domains/0/example.com"));
  ASSERT_TRUE(HasLine(ReadFile(q + "/control/morercpthosts"), "example.com"));
  ASSERT_TRUE(fs::exists(q + "/control/morercpthosts.cdb"));

  CommandResult d = Discard(dst.path(), "example.com", kId, {"--json"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(d.out.rfind("{\"schema\":1,\"type\":\"cutover\",\"status\":\"ok\",\"domain\":\"example.com\",\"step\":\"discard\",\"changed\":true", 0), 0u) << d.out;
  EXPECT_TRUE(SameTree(before, ContentView(dst.path())));
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/domains/.dir-control"), dc);
  EXPECT_FALSE(fs::exists(q + "/control/morercpthosts"));
  EXPECT_FALSE(fs::exists(q + "/control/morercpthosts.cdb"));
}

TEST_F(DiscardTest, RefusesAnotherMoveIdAndChangesNothing) {
  TempDir dst;
  MakeUsedTarget(dst.path());
  ASSERT_EQ(Import(dst.path(), Com(), {"--move-id", kId}).exit_code, 0);
  auto before = TreeDigest(dst.path());
  CommandResult d = Discard(dst.path(), "example.com", "ffffffff00000000");
  EXPECT_EQ(d.exit_code, 5) << d.out << d.err;
  EXPECT_EQ(d.err,
            "vmigrate: cutover discard: example.com was not created by move ffffffff00000000; not removing it\n");
  EXPECT_TRUE(SameTree(before, TreeDigest(dst.path())));
}

TEST_F(DiscardTest, RefusesADomainWithoutMarker) {
  TempDir dst;
  MakeUsedTarget(dst.path());
  auto before = TreeDigest(dst.path());
  CommandResult d = Discard(dst.path(), "example.net", kId);
  EXPECT_EQ(d.exit_code, 5) << d.out << d.err;
  EXPECT_NE(d.err.find("example.net was not created by move " + std::string(kId) + "; not removing it"),
            std::string::npos)
      << d.err;
  EXPECT_TRUE(SameTree(before, TreeDigest(dst.path())));
}

TEST_F(DiscardTest, AliasDomainIsRefusedNamingTheRealOne) {
  TempDir dst;
  MakeEmptyTarget(dst.path());
  ASSERT_EQ(Import(dst.path(), Com(), {"--move-id", kId}).exit_code, 0);
  CommandResult d = Discard(dst.path(), "example.org", kId);
  EXPECT_EQ(d.exit_code, 2) << d.out << d.err;
  EXPECT_NE(d.err.find("example.org is an alias domain of example.com; discard example.com"), std::string::npos)
      << d.err;
  EXPECT_TRUE(fs::exists(TargetHomeDisk(dst.path()) + "/domains/example.com"));
}

TEST_F(DiscardTest, SecondDiscardIsANoOp) {
  TempDir dst;
  MakeUsedTarget(dst.path());
  auto before = ContentView(dst.path());
  ASSERT_EQ(Import(dst.path(), Com(), {"--move-id", kId}).exit_code, 0);
  ASSERT_EQ(Discard(dst.path(), "example.com", kId).exit_code, 0);
  auto once = TreeDigest(dst.path());
  CommandResult again = Discard(dst.path(), "example.com", kId);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "example.com: nothing to discard (not a domain on this host)\n");
  CommandResult json = Discard(dst.path(), "example.com", kId, {"--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out.rfind("{\"schema\":1,\"type\":\"cutover\",\"status\":\"ok\",\"domain\":\"example.com\",\"step\":\"discard\",\"changed\":false", 0), 0u) << json.out;
  EXPECT_TRUE(SameTree(once, TreeDigest(dst.path())));
  EXPECT_TRUE(SameTree(before, ContentView(dst.path())));
}

TEST_F(DiscardTest, DryRunListsWhatWouldChangeAndChangesNothing) {
  TempDir dst;
  MakeUsedTarget(dst.path());
  ASSERT_EQ(Import(dst.path(), Com(), {"--move-id", kId}).exit_code, 0);
  auto before = TreeDigest(dst.path());
  CommandResult d = Discard(dst.path(), "example.com", kId, {"--dry-run"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  for (const char* line :
       {"would remove from /var/qmail/users/assign: +example.com-:example.com:",
        "would remove from /var/qmail/users/assign: +example.org-:example.com:",
        "would remove from /var/qmail/control/rcpthosts: example.org",
        "would remove from /var/qmail/control/virtualdomains: example.com:example.com",
        "would put back into /var/qmail/control/locals: example.com",
        "would restore domains/.dir-control to its text before the import",
        "would remove /srv/vpopmail/domains/example.com"})
    EXPECT_NE(d.out.find(line), std::string::npos) << line << "\nnot in:\n" << d.out;
  EXPECT_TRUE(SameTree(before, TreeDigest(dst.path())));
  // A wrong ID is refused in a dry run as well.
  EXPECT_EQ(Discard(dst.path(), "example.com", "aaaaaaaa", {"--dry-run"}).exit_code, 5);
}

// A delta import neither carries nor removes the marker (names ".vmigrate-*"
// are never part of a state), so a move that got as far as its deltas can
// still be taken back.
TEST_F(DiscardTest, MarkerSurvivesADeltaImport) {
  TempDir dst;
  MakeUsedTarget(dst.path());
  auto before = ContentView(dst.path());
  ASSERT_EQ(Import(dst.path(), Com(), {"--move-id", kId}).exit_code, 0);
  const std::string state = *work_ / "marker.state";
  const std::string delta = *work_ / "marker.delta";
  CommandResult s = RunVmigrate(Concat({"state", "example.com", "-o", state, "--force"}, TargetFlags(dst.path())));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  CommandResult e = Export(src_->path(), "example.com", delta, {"--since", state, "--force"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = Import(dst.path(), delta);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/domains/example.com/.vmigrate-move-id"), std::string(kId) + "\n");
  // --move-id is for full imports only.
  CommandResult again = Import(dst.path(), delta, {"--move-id", kId});
  EXPECT_EQ(again.exit_code, 2) << again.out << again.err;
  ASSERT_EQ(Discard(dst.path(), "example.com", kId).exit_code, 0);
  EXPECT_TRUE(SameTree(before, ContentView(dst.path())));
}

TEST_F(DiscardTest, MoveIdUsageErrors) {
  TempDir dst;
  MakeEmptyTarget(dst.path());
  auto before = TreeDigest(dst.path());
  EXPECT_EQ(Import(dst.path(), Com(), {"--move-id", "XYZ"}).exit_code, 2);
  EXPECT_EQ(Import(dst.path(), Com(), {"--move-id", "0123abc"}).exit_code, 2);  // 7 characters
  EXPECT_EQ(RunVmigrate(Concat({"import", Com(), Net(), "--no-reload", "--move-id", kId}, TargetFlags(dst.path())))
                .exit_code,
            2);
  const std::string server = *work_ / "server.vma";
  CommandResult e = RunVmigrate(Concat({"export", "--all", "-o", server, "--force"}, SourceFlags(src_->path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(Import(dst.path(), server, {"--all", "--move-id", kId}).exit_code, 2);
  EXPECT_EQ(Import(dst.path(), server, {"--move-id", kId}).exit_code, 2);
  EXPECT_EQ(Discard(dst.path(), "example.com", "NOTHEX!!").exit_code, 2);
  EXPECT_TRUE(SameTree(before, TreeDigest(dst.path())));
  // One domain of a server archive is a full import of one domain.
  CommandResult one = Import(dst.path(), server, {"--domain", "example.com", "--move-id", kId});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/domains/example.com/.vmigrate-move-id"), std::string(kId) + "\n");
}

}  // namespace
}  // namespace vmigrate::testing::cli
