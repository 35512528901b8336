// Hostile deltas (issue 13) join the hostile-archive corpus. Every case
// starts from a real delta of real-small's example.com (cli/delta_fixture.h
// round 1, exported against the state of a target that holds example.com
// and example.net), forges exactly one fault with archive_forge.h (delta.txt
// is a member covered by checksums.txt, which is recomputed so that only
// the intended fault is present) and imports it into a copy of that target.
// Each must be refused with ONE line on stderr naming the path or field and
// the reason, and leave the whole target, and anything a removal or rename
// could reach through '..', an absolute path or a symlink, byte-identical.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "cli/delta_fixture.h"
#include "hostile/archive_forge.h"
#include "support/test_support.h"

namespace vmigrate::testing::hostile {
namespace {

using cli::DigestDiff;

constexpr const char* kBobTrashMsg = "1795424454.28232.mail.example.com,S=415:2,ST";

// The "digest" and "end-domain example.com" values of a state file.
std::string StateField(const std::string& text, const std::string& prefix) {
  for (const auto& l : cli::Lines(text))
    if (l.rfind(prefix, 0) == 0) return l.substr(prefix.size());
  throw std::runtime_error("state has no '" + prefix + "' line");
}

class HostileDeltaTest : public ::testing::Test {
 protected:
  // One source, one target and two real deltas for the whole suite.
  static void SetUpTestSuite() {
    suite_ = new Suite;
    Suite& s = *suite_;
    UnpackFixture("real-small", s.src.path());
    const std::string d = cli::SourceDomainDisk(s.src.path());
    // alice sees bob's Trash through a link inside the domain, and a
    // directory outside any target through an absolute one.
    std::filesystem::create_directories(s.outside.path());
    WriteFile(s.outside / "victim", "must survive\n");
    ASSERT_EQ(symlink("../../bob/Maildir/.Trash", (d + "/alice/Maildir/.BobTrash").c_str()), 0);
    ASSERT_EQ(symlink(s.outside.path().c_str(), (d + "/alice/Maildir/.Out").c_str()), 0);

    cli::MakeEmptyTarget(s.base.path());
    for (const char* domain : {"example.com", "example.net"}) {
      std::string full = s.work / (std::string(domain) + ".vma");
      CommandResult e = cli::Export(s.src.path(), domain, full);
      ASSERT_EQ(e.exit_code, 0) << e.err;
      CommandResult i = cli::Import(s.base.path(), full);
      ASSERT_EQ(i.exit_code, 0) << i.err;
    }
    // A file next to the domain dir, where "../x" of the domain would land.
    WriteFile(cli::TargetHomeDisk(s.base.path()) + "/domains/x", "must survive\n");

    s.state1 = s.work / "1.state";
    CommandResult st = cli::State(cli::TargetFlags(s.base.path()), "example.com", s.state1);
    ASSERT_EQ(st.exit_code, 0) << st.err;
    cli::Round1 r1;
    cli::ApplyRound1(s.src.path(), &r1);
    ASSERT_FALSE(HasFatalFailure());
    std::string d1 = s.work / "1.vmd";
    CommandResult x = cli::ExportSince(s.src.path(), "example.com", s.state1, d1, {"--compress", "none"});
    ASSERT_EQ(x.exit_code, 0) << x.err;
    s.delta1 = ReadMembers(d1);

    // Delta 2 (after delta 1), for a delta that claims a base it does not have.
    TempDir after1;
    cli::CopyTree(s.base.path(), after1.path());
    CommandResult a = cli::Import(after1.path(), d1);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    s.state2 = s.work / "2.state";
    st = cli::State(cli::TargetFlags(after1.path()), "example.com", s.state2);
    ASSERT_EQ(st.exit_code, 0) << st.err;
    cli::Round2 r2;
    cli::ApplyRound2(s.src.path(), r1, &r2);
    ASSERT_FALSE(HasFatalFailure());
    std::string d2 = s.work / "2.vmd";
    x = cli::ExportSince(s.src.path(), "example.com", s.state2, d2, {"--compress", "none"});
    ASSERT_EQ(x.exit_code, 0) << x.err;
    s.delta2 = ReadMembers(d2);
    s.ready = true;
  }
  static void TearDownTestSuite() {
    delete suite_;
    suite_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(suite_ && suite_->ready) << "the suite's setup failed";
    cli::CopyTree(suite_->base.path(), dst_.path());
  }

  static Members Delta1() { return suite_->delta1; }

  // delta 1 with `line` appended to delta.txt.
  static Members WithLine(const std::string& line) {
    Members m = Delta1();
    Member* delta = Find(m, "delta.txt");
    if (!delta) throw std::runtime_error("the delta has no delta.txt");
    delta->data += line + "\n";
    return m;
  }

  std::string Forge(const Members& members) {
    std::string path = work_ / ("forged-" + std::to_string(++count_) + ".vmd");
    WriteArchive(path, WithChecksums(members));
    return path;
  }

  // Imports `archive` into the copy of the target: refused with `exit_code`,
  // one line naming every needle, the target and everything outside it
  // (the victims) unchanged.
  void ExpectRefused(const std::string& archive, const std::vector<std::string>& needles, int exit_code = 6) {
    auto before = TreeDigest(dst_.path());
    auto outside = TreeDigest(suite_->outside.path());
    CommandResult r = cli::Import(dst_.path(), archive);
    SCOPED_TRACE("stderr: " + r.err);
    EXPECT_EQ(r.exit_code, exit_code);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr must be ONE line";
    EXPECT_EQ(r.err.rfind("vmigrate: import: ", 0), 0u);
    for (const auto& n : needles)
      EXPECT_NE(r.err.find(n), std::string::npos) << "error does not mention '" << n << "'";
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "") << "the target changed";
    EXPECT_EQ(DigestDiff(outside, TreeDigest(suite_->outside.path())), "") << "written outside the target";
    EXPECT_EQ(ReadFile(suite_->outside / "victim"), "must survive\n");
    EXPECT_FALSE(std::filesystem::exists(cli::TargetDomainDisk(dst_.path()) + "/.vmigrate-delta"));
    EXPECT_TRUE(cli::StagingLeftovers(dst_.path()).empty());
  }

  std::string Dom() const { return cli::TargetDomainDisk(dst_.path()); }

  struct Suite {
    TempDir src, base, work, outside;
    std::string state1, state2;
    Members delta1, delta2;
    bool ready = false;
  };
  static Suite* suite_;
  TempDir dst_, work_;
  int count_ = 0;
};

HostileDeltaTest::Suite* HostileDeltaTest::suite_ = nullptr;

// The unforged delta applies: the corpus starts from a good one.
TEST_F(HostileDeltaTest, UnforgedDeltaApplies) {
  CommandResult r = cli::Import(dst_.path(), Forge(Delta1()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// ---------------------------------------------------------- removals ---

TEST_F(HostileDeltaTest, RemovalClimbingOutOfAUserHomeIsRejected) {
  ExpectRefused(Forge(WithLine("remove\texample.com\tusers/alice/../../x")), {"users/alice/../../x", ".."});
  EXPECT_TRUE(std::filesystem::exists(cli::TargetHomeDisk(dst_.path()) + "/domains/x"));
}

TEST_F(HostileDeltaTest, RemovalClimbingOutOfTheDomainFilesIsRejected) {
  ExpectRefused(Forge(WithLine("remove\texample.com\tfiles/../x")), {"files/../x", ".."});
}

TEST_F(HostileDeltaTest, RemovalOfAnotherUsersFilesThroughDotDotIsRejected) {
  ExpectRefused(Forge(WithLine("remove\texample.com\tusers/alice/../bob/Maildir/.Trash/cur/" +
                               std::string(kBobTrashMsg))),
                {"users/alice/../bob", ".."});
}

TEST_F(HostileDeltaTest, AbsoluteRemovalPathIsRejected) {
  const std::string victim = suite_->outside / "victim";
  ExpectRefused(Forge(WithLine("remove\texample.com\t" + victim)), {victim, "absolute"});
}

TEST_F(HostileDeltaTest, RemovalThroughASymlinkInsideTheDomainIsRejected) {
  ASSERT_TRUE(std::filesystem::is_symlink(Dom() + "/alice/Maildir/.BobTrash"));
  ExpectRefused(Forge(WithLine("remove\texample.com\tusers/alice/Maildir/.BobTrash/cur/" + std::string(kBobTrashMsg))),
                {"users/alice/Maildir/.BobTrash", "symlink"});
  EXPECT_TRUE(std::filesystem::exists(Dom() + "/bob/Maildir/.Trash/cur/" + kBobTrashMsg));
}

TEST_F(HostileDeltaTest, RemovalThroughASymlinkOutOfTheDomainIsRejected) {
  ASSERT_TRUE(std::filesystem::is_symlink(Dom() + "/alice/Maildir/.Out"));
  ExpectRefused(Forge(WithLine("remove\texample.com\tusers/alice/Maildir/.Out/victim")),
                {"users/alice/Maildir/.Out/victim", "symlink"});
}

TEST_F(HostileDeltaTest, RemovalInADomainTheDeltaDoesNotCarryIsRejected) {
  ExpectRefused(Forge(WithLine("remove\texample.net\tusers/tom/lastauth")), {"example.net"});
  EXPECT_TRUE(std::filesystem::exists(cli::TargetDomainDisk(dst_.path(), "example.net") + "/tom/lastauth"));
}

TEST_F(HostileDeltaTest, RemovalOfAUserHomeByPathIsRejected) {
  // Users go by leaving the manifest, never by a path: "users/alice" itself is no file to remove.
  ExpectRefused(Forge(WithLine("remove\texample.com\tusers/alice")), {"users/alice"});
  EXPECT_TRUE(std::filesystem::exists(Dom() + "/alice/Maildir"));
}

TEST_F(HostileDeltaTest, MalformedDeltaLineIsRejected) {
  ExpectRefused(Forge(WithLine("remove\texample.com")), {"delta.txt"});
}

TEST_F(HostileDeltaTest, UnknownDeltaVerbIsRejected) {
  ExpectRefused(Forge(WithLine("chmod\texample.com\tusers/alice/Maildir\t0777")), {"delta.txt", "chmod"});
}

TEST_F(HostileDeltaTest, DeltaTxtChangedWithoutItsChecksumIsRejected) {
  Members m = WithChecksums(Delta1());
  Find(m, "delta.txt")->data += "remove\texample.com\tusers/alice/lastauth\n";
  std::string path = work_ / "unchecked.vmd";
  WriteArchive(path, m);
  ExpectRefused(path, {"delta.txt", "checksum"});
  EXPECT_TRUE(std::filesystem::exists(Dom() + "/alice/lastauth"));
}

// ----------------------------------------------------------- renames ---

TEST_F(HostileDeltaTest, RenameOntoAnExistingMessageIsRejected) {
  const std::string from = "users/alice/Maildir/new/1795424461.28306.mail.example.com,S=368";
  const std::string onto = "users/alice/Maildir/cur/1795424449.28197.mail.example.com,S=680:2,RS";
  ExpectRefused(Forge(WithLine("rename\texample.com\t" + from + "\t" + onto + "\t0600\t1795424461.000000000")),
                {onto});
  EXPECT_EQ(ReadFile(Dom() + "/alice/Maildir/cur/1795424449.28197.mail.example.com,S=680:2,RS"),
            ReadFile(suite_->base.path() + cli::kTargetHome +
                     "/domains/example.com/alice/Maildir/cur/1795424449.28197.mail.example.com,S=680:2,RS"));
}

TEST_F(HostileDeltaTest, RenameOfAMissingFileIsRejected) {
  const std::string from = "users/alice/Maildir/new/1795000000.1.mail.example.com,S=10";
  ExpectRefused(Forge(WithLine("rename\texample.com\t" + from + "\tusers/alice/Maildir/cur/"
                               "1795000000.1.mail.example.com,S=10:2,S\t0600\t1795000000.000000000")),
                {from});
}

TEST_F(HostileDeltaTest, RenameOutOfTheDomainIsRejected) {
  const std::string from = "users/alice/Maildir/new/1795424461.28306.mail.example.com,S=368";
  ExpectRefused(Forge(WithLine("rename\texample.com\t" + from + "\tusers/alice/../../stolen\t0600\t1795424461.000000000")),
                {"users/alice/../../stolen", ".."});
  EXPECT_FALSE(std::filesystem::exists(cli::TargetHomeDisk(dst_.path()) + "/domains/stolen"));
}

TEST_F(HostileDeltaTest, RenameThroughASymlinkOutOfTheDomainIsRejected) {
  const std::string from = "users/alice/Maildir/new/1795424461.28306.mail.example.com,S=368";
  // A message "moved" into a folder that is a link out of the domain.
  const std::string onto = "users/alice/Maildir/.Out/cur/1795424461.28306.mail.example.com,S=368:2,S";
  ExpectRefused(Forge(WithLine("rename\texample.com\t" + from + "\t" + onto + "\t0600\t1795424461.000000000")),
                {"users/alice/Maildir/.Out/cur/"});
  EXPECT_FALSE(std::filesystem::exists(suite_->outside / "cur"));
}

// -------------------------------------------------------------- base ---

TEST_F(HostileDeltaTest, DeltaWithAnEditedBaseIsRefusedAsAConflict) {
  Members m = Delta1();
  std::string& manifest = ManifestText(m);
  const std::string fake(64, 'a');
  manifest = Replace(manifest, StateField(ReadFile(suite_->state1), "digest\t"), fake);
  manifest = Replace(manifest, StateField(ReadFile(suite_->state1), "end-domain\texample.com\t"), fake);
  ExpectRefused(Forge(m), {"example.com", "base state does not match"}, 5);
}

// Delta 2 relabelled as based on the state delta 1 starts from: the base
// check passes, but its removals and renames name files that are not
// there. Nothing may be applied.
TEST_F(HostileDeltaTest, DeltaClaimingABaseItDoesNotHaveIsRejected) {
  Members m = suite_->delta2;
  std::string& manifest = ManifestText(m);
  const std::string s1 = ReadFile(suite_->state1), s2 = ReadFile(suite_->state2);
  manifest = Replace(manifest, StateField(s2, "digest\t"), StateField(s1, "digest\t"));
  manifest = Replace(manifest, StateField(s2, "end-domain\texample.com\t"), StateField(s1, "end-domain\texample.com\t"));
  ExpectRefused(Forge(m), {"example.com"});
}

}  // namespace
}  // namespace vmigrate::testing::hostile
