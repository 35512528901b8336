// End to end: add-only ("tail") deltas and --state-out (issue 14) through
// the CLI contract `export DOMAIN --since STATE --add-only -o FILE`,
// `export ... --state-out FILE` and `import TAIL`. real-small's example.com
// is moved with a full export (--state-out S0) and import; then mail keeps
// arriving on the old host while users already work on the new one, and
// each tail must bring exactly the new messages, never touching anything
// else on the target. Also: the sticky bit of a held domain never travels.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "cli/delta_fixture.h"
#include "hostile/archive_forge.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

/// The "digest" line's value of a state file ("" if none).
std::string StateDigest(const std::string& state_text) {
  for (const auto& l : Lines(state_text))
    if (l.rfind("digest\t", 0) == 0) return l.substr(7);
  return "";
}

/// Archive members below domains/example.com/ that are regular files.
std::set<std::string> CarriedFiles(const std::string& archive) {
  std::set<std::string> out;
  for (const auto& m : hostile::ReadMembers(archive))
    if (m.path.rfind("domains/", 0) == 0 && m.type == 'f') out.insert(m.path);
  return out;
}

/// Files named `unique` + anything in `maildir`'s new/ and cur/.
std::vector<std::string> Copies(const std::string& maildir, const std::string& unique) {
  std::vector<std::string> out;
  for (const char* sub : {"new", "cur"}) {
    if (!fs::exists(maildir + "/" + sub)) continue;
    for (const auto& e : fs::directory_iterator(maildir + "/" + sub))
      if (e.path().filename().string().rfind(unique, 0) == 0) out.push_back(std::string(sub) + "/" + e.path().filename().string());
  }
  return out;
}

class TailCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    ASSERT_FALSE(HasFatalFailure());
    MakeEmptyTarget(dst_.path());
    s0_ = work_ / "s0.state";
    CommandResult e = Export(src_.path(), "example.com", work_ / "full.vma", {"--state-out", s0_});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    CommandResult i = Import(dst_.path(), work_ / "full.vma");
    ASSERT_EQ(i.exit_code, 0) << i.err;
  }

  std::string SrcDomain() const { return SourceDomainDisk(src_.path()); }
  std::string DstDomain() const { return TargetDomainDisk(dst_.path()); }

  // `export example.com --since STATE --add-only -o work/<name>` (+ extra).
  CommandResult Tail(const std::string& state, const std::string& name, const std::vector<std::string>& extra = {}) {
    return ExportSince(src_.path(), "example.com", state, work_ / name, Concat({"--add-only"}, extra));
  }

  TempDir src_, dst_, work_;
  std::string s0_;
};

TEST_F(TailCliTest, FullExportStateOutIsTheStateOfWhatWasImported) {
  std::string text = ReadFile(s0_);
  EXPECT_EQ(text.rfind("vmigrate-state 1\n", 0), 0u) << text.substr(0, 200);
  EXPECT_EQ(StateBody(text), StateBodyOf(TargetFlags(dst_.path()), "example.com"));
  EXPECT_EQ(StateBody(text), StateBodyOf(SourceFlags(src_.path()), "example.com"));
  struct stat st;
  ASSERT_EQ(stat(s0_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A normal delta chains on it: the target has exactly S0.
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  CommandResult d = ExportSince(src_.path(), "example.com", s0_, work_ / "1.vmd", {"--state-out", work_ / "s1.state"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  CommandResult i = Import(dst_.path(), work_ / "1.vmd");
  EXPECT_EQ(i.exit_code, 0) << i.out << i.err;
  EXPECT_EQ(StateBody(ReadFile(work_ / "s1.state")), StateBodyOf(TargetFlags(dst_.path()), "example.com"));
  // An existing --state-out is refused (before anything is written) unless --force.
  CommandResult again = ExportSince(src_.path(), "example.com", s0_, work_ / "2.vmd", {"--state-out", work_ / "s1.state"});
  EXPECT_EQ(again.exit_code, 5) << again.err;
  EXPECT_FALSE(fs::exists(work_ / "2.vmd"));
}

TEST_F(TailCliTest, TailCarriesOnlyTheNewMessagesAndChangesNothingElse) {
  const std::string alice = SrcDomain() + "/alice/Maildir";
  std::string m1 = Deliver(alice, "alice@example.com", 1795900001, 41001, "new for alice", 5);
  std::string m2 = Deliver(SrcDomain() + "/carol/Maildir", "carol@example.com", 1795900002, 41002, "new for carol");
  // Everything else a live old host does is never sent.
  Move(alice, std::string("new/") + Round1::kMovedToCur, std::string("cur/") + Round1::kMovedToCur + ":2,S");
  Expunge(SrcDomain() + "/bob/Maildir", "cur/1795424455.28239.mail.example.com,S=678:2,FS");
  WriteFileMode(SrcDomain() + "/.qmail-newalias", "alice@example.com\n", 0600);
  ASSERT_FALSE(HasFatalFailure());
  auto before = TreeDigest(DstDomain());

  CommandResult e = Tail(s0_, "t1.vmd", {"--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("\"add_only\":true"), std::string::npos) << e.out;
  std::set<std::string> carried = CarriedFiles(work_ / "t1.vmd");
  EXPECT_EQ(carried, (std::set<std::string>{"domains/example.com/users/alice/Maildir/new/" + m1,
                                            "domains/example.com/users/carol/Maildir/new/" + m2}));
  for (const auto& m : hostile::ReadMembers(work_ / "t1.vmd")) {
    if (m.path == "manifest.yaml") {
      EXPECT_NE(m.data.find("add_only: true"), std::string::npos) << m.data;
    }
    if (m.path == "delta.txt") {
      EXPECT_EQ(m.data, "vmigrate-delta 1\n");
    }
  }

  CommandResult i = Import(dst_.path(), work_ / "t1.vmd", {"--json"});
  ASSERT_EQ(i.exit_code, 0) << i.out << i.err;
  EXPECT_NE(i.out.find("\"added\":2"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("\"already_there\":0"), std::string::npos) << i.out;
  auto after = TreeDigest(DstDomain());
  // Exactly the two messages are new; nothing else changed but the mtimes of their dirs.
  std::map<std::string, std::string> added;
  for (const auto& [rel, line] : after)
    if (!before.count(rel)) added[rel] = line;
  EXPECT_EQ(added.size(), 2u) << DigestDiff(before, after);
  EXPECT_TRUE(added.count("alice/Maildir/new/" + m1)) << DigestDiff(before, after);
  EXPECT_TRUE(added.count("carol/Maildir/new/" + m2)) << DigestDiff(before, after);
  for (const auto& [rel, line] : before) {
    ASSERT_TRUE(after.count(rel)) << rel << " vanished from the target";
    // A delivery's own traces: the mtimes of tmp/ and new/ it went through.
    static const std::set<std::string> delivered = {"alice/Maildir/new", "alice/Maildir/tmp", "carol/Maildir/new",
                                                    "carol/Maildir/tmp"};
    if (!delivered.count(rel)) {
      EXPECT_EQ(after.at(rel), line) << rel;
    }
  }
  // Name, mtime and mode as on the source.
  EXPECT_EQ(StatLine(DstDomain() + "/alice/Maildir/new/" + m1), StatLine(alice + "/new/" + m1));
  EXPECT_FALSE(fs::exists(DstDomain() + "/.qmail-newalias"));
  EXPECT_TRUE(fs::exists(DstDomain() + "/bob/Maildir/cur/1795424455.28239.mail.example.com,S=678:2,FS"));
  EXPECT_EQ(StagingLeftovers(dst_.path()), std::vector<std::string>{});
}

TEST_F(TailCliTest, MessagesReadOrDeletedOnTheTargetAreNeitherDuplicatedNorBroughtBack) {
  const std::string src_alice = SrcDomain() + "/alice/Maildir";
  const std::string dst_alice = DstDomain() + "/alice/Maildir";
  std::string m1 = Deliver(src_alice, "alice@example.com", 1795900001, 41001, "one");
  std::string m2 = Deliver(src_alice, "alice@example.com", 1795900002, 41002, "two");
  ASSERT_FALSE(HasFatalFailure());
  // m1 already reached the target (say by SMTP) and was read there.
  WriteFileMode(dst_alice + "/cur/" + m1 + ":2,S", ReadFile(src_alice + "/new/" + m1), 0600);
  // A message of S0 deleted on the target: the tail does not carry it.
  const std::string old_msg = "cur/1795424448.28190.mail.example.com,S=675:2,S";
  ASSERT_TRUE(fs::exists(dst_alice + "/" + old_msg));
  ASSERT_EQ(unlink((dst_alice + "/" + old_msg).c_str()), 0);

  ASSERT_EQ(Tail(s0_, "t1.vmd").exit_code, 0);
  CommandResult i = Import(dst_.path(), work_ / "t1.vmd");
  ASSERT_EQ(i.exit_code, 0) << i.out << i.err;
  EXPECT_NE(i.out.find("1 messages added"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("1 already there"), std::string::npos) << i.out;
  EXPECT_EQ(Copies(dst_alice, m1), std::vector<std::string>{"cur/" + m1 + ":2,S"});
  EXPECT_EQ(Copies(dst_alice, m2), std::vector<std::string>{"new/" + m2});
  EXPECT_FALSE(fs::exists(dst_alice + "/" + old_msg));

  // The user deletes m2 on the new host; the same tail again changes nothing.
  ASSERT_EQ(unlink((dst_alice + "/new/" + m2).c_str()), 0);
  auto digest = TreeDigest(dst_.path());
  CommandResult again = Import(dst_.path(), work_ / "t1.vmd", {"--json"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("\"status\":\"already_applied\""), std::string::npos) << again.out;
  EXPECT_EQ(DigestDiff(digest, TreeDigest(dst_.path())), "");
  CommandResult text = Import(dst_.path(), work_ / "t1.vmd");
  EXPECT_NE(text.out.find("already applied"), std::string::npos) << text.out;
}

TEST_F(TailCliTest, TailIntoALiveTargetWhoseStateDiffersIsAccepted) {
  std::string m1 = Deliver(SrcDomain() + "/carol/Maildir", "carol@example.com", 1795900001, 41001, "one");
  ASSERT_FALSE(HasFatalFailure());
  // The new host lives: its own delivery, a login file, a folder made by a client.
  Deliver(DstDomain() + "/carol/Maildir", "carol@example.com", 1795900009, 42009, "direct on the new host");
  WriteFile(DstDomain() + "/carol/lastauth", "127.0.0.1");
  MakeMaildir(DstDomain() + "/carol/Maildir/.Mine");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(Tail(s0_, "t1.vmd").exit_code, 0);
  // A normal delta would refuse; the tail does not check the base.
  CommandResult i = Import(dst_.path(), work_ / "t1.vmd");
  EXPECT_EQ(i.exit_code, 0) << i.out << i.err;
  EXPECT_TRUE(fs::exists(DstDomain() + "/carol/Maildir/new/" + m1));
  EXPECT_TRUE(fs::exists(DstDomain() + "/carol/Maildir/.Mine/cur"));
}

TEST_F(TailCliTest, NewFolderIsMadeAsAMaildirPlusPlusFolder) {
  const std::string alice = SrcDomain() + "/alice/Maildir";
  MakeMaildir(alice + "/.Lists");
  WriteFileMode(alice + "/.Lists/maildirfolder", "", 0600);
  std::string m = Deliver(alice + "/.Lists", "alice@example.com", 1795900003, 41003, "list mail");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(Tail(s0_, "t1.vmd").exit_code, 0);
  CommandResult i = Import(dst_.path(), work_ / "t1.vmd");
  ASSERT_EQ(i.exit_code, 0) << i.out << i.err;
  const std::string folder = DstDomain() + "/alice/Maildir/.Lists";
  for (const char* sub : {"", "/cur", "/new", "/tmp"}) {
    struct stat st;
    ASSERT_EQ(stat((folder + sub).c_str(), &st), 0) << sub;
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u) << sub;
  }
  EXPECT_TRUE(fs::exists(folder + "/maildirfolder"));
  EXPECT_TRUE(fs::exists(folder + "/new/" + m));
}

TEST_F(TailCliTest, StateOutChainsTailsWithoutResendingOrMissing) {
  const std::string alice = SrcDomain() + "/alice/Maildir";
  std::string m1 = Deliver(alice, "alice@example.com", 1795900001, 41001, "one");
  ASSERT_FALSE(HasFatalFailure());
  CommandResult t1 = Tail(s0_, "t1.vmd", {"--state-out", work_ / "t1.state"});
  ASSERT_EQ(t1.exit_code, 0) << t1.err;
  // The state-out is the source's own state, not the target's.
  EXPECT_EQ(StateBody(ReadFile(work_ / "t1.state")), StateBodyOf(SourceFlags(src_.path()), "example.com"));
  ASSERT_EQ(Import(dst_.path(), work_ / "t1.vmd").exit_code, 0);

  // Mail arriving between the two tails, and m1 read on the old host.
  std::string m2 = Deliver(alice, "alice@example.com", 1795900002, 41002, "two");
  Move(alice, "new/" + m1, "cur/" + m1 + ":2,S");
  ASSERT_FALSE(HasFatalFailure());
  CommandResult t2 = Tail(work_ / "t1.state", "t2.vmd", {"--state-out", work_ / "t2.state"});
  ASSERT_EQ(t2.exit_code, 0) << t2.err;
  EXPECT_EQ(CarriedFiles(work_ / "t2.vmd"),
            (std::set<std::string>{"domains/example.com/users/alice/Maildir/new/" + m2}));
  CommandResult i2 = Import(dst_.path(), work_ / "t2.vmd");
  ASSERT_EQ(i2.exit_code, 0) << i2.out << i2.err;
  EXPECT_NE(i2.out.find("1 messages added"), std::string::npos) << i2.out;
  const std::string dst_alice = DstDomain() + "/alice/Maildir";
  EXPECT_EQ(Copies(dst_alice, m1), std::vector<std::string>{"new/" + m1});
  EXPECT_EQ(Copies(dst_alice, m2), std::vector<std::string>{"new/" + m2});

  // Nothing new: an empty tail, which adds nothing.
  CommandResult t3 = Tail(work_ / "t2.state", "t3.vmd");
  ASSERT_EQ(t3.exit_code, 0) << t3.err;
  EXPECT_EQ(CarriedFiles(work_ / "t3.vmd"), std::set<std::string>{});
  CommandResult i3 = Import(dst_.path(), work_ / "t3.vmd");
  EXPECT_EQ(i3.exit_code, 0) << i3.out << i3.err;
}

TEST_F(TailCliTest, BadUseAndMissingTargetsAreRefused) {
  CommandResult no_since = Export(src_.path(), "example.com", work_ / "x.vmd", {"--add-only"});
  EXPECT_EQ(no_since.exit_code, 2) << no_since.err;
  EXPECT_NE(no_since.err.find("--add-only needs --since"), std::string::npos) << no_since.err;
  EXPECT_FALSE(fs::exists(work_ / "x.vmd"));

  // A user the target does not have: exit 5, nothing written.
  Deliver(SrcDomain() + "/carol/Maildir", "carol@example.com", 1795900001, 41001, "one");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(Tail(s0_, "t1.vmd").exit_code, 0);
  EditVpasswd(DstDomain(), [](std::vector<VpasswdEntry>& e) {
    e.erase(std::remove_if(e.begin(), e.end(), [](const VpasswdEntry& x) { return x.name == "carol"; }), e.end());
  });
  ASSERT_FALSE(HasFatalFailure());
  auto digest = TreeDigest(dst_.path());
  CommandResult no_user = Import(dst_.path(), work_ / "t1.vmd");
  EXPECT_EQ(no_user.exit_code, 5) << no_user.out << no_user.err;
  EXPECT_NE(no_user.err.find("user carol does not exist on this host"), std::string::npos) << no_user.err;
  EXPECT_EQ(DigestDiff(digest, TreeDigest(dst_.path())), "");

  // A domain the target does not have.
  TempDir empty;
  MakeEmptyTarget(empty.path());
  CommandResult no_domain = Import(empty.path(), work_ / "t1.vmd");
  EXPECT_EQ(no_domain.exit_code, 5) << no_domain.out << no_domain.err;
  EXPECT_FALSE(fs::exists(TargetDomainDisk(empty.path())));
}

// cutover hold sets +t on the old host's domain dir; it never travels.
TEST(StickyBitCliTest, HeldDomainDirArrivesWithoutTheStickyBit) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  const std::string domain = SourceDomainDisk(src.path());
  struct stat st;
  ASSERT_EQ(stat(domain.c_str(), &st), 0);
  ASSERT_EQ(chmod(domain.c_str(), (st.st_mode & 07777) | S_ISVTX), 0);
  CommandResult e = Export(src.path(), "example.com", work / "full.vma", {"--state-out", work / "s0.state"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  ASSERT_EQ(Import(dst.path(), work / "full.vma").exit_code, 0);
  ASSERT_EQ(stat(TargetDomainDisk(dst.path()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & S_ISVTX, 0u) << "the target's domain dir is sticky";
  auto digest = [](const std::vector<std::string>& flags) {
    CommandResult r = RunVmigrate(Concat({"state", "example.com", "-o", "-"}, flags));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return StateDigest(r.out);
  };
  EXPECT_EQ(digest(SourceFlags(src.path())), digest(TargetFlags(dst.path())));
  EXPECT_EQ(StateDigest(ReadFile(work / "s0.state")), digest(TargetFlags(dst.path())));
  CommandResult v = RunVmigrate(Concat({"verify", work / "full.vma"}, TargetFlags(dst.path())));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  // A delta (taken on the target) and an add-only tail, still held.
  Deliver(domain + "/alice/Maildir", "alice@example.com", 1795900001, 41001, "held");
  WriteFileMode(domain + "/.qmail-newalias", "alice@example.com\n", 0600);
  ASSERT_FALSE(HasFatalFailure());
  CommandResult s = State(TargetFlags(dst.path()), "example.com", work / "t.state");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  CommandResult d = ExportSince(src.path(), "example.com", work / "t.state", work / "1.vmd");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  CommandResult i = Import(dst.path(), work / "1.vmd");
  EXPECT_EQ(i.exit_code, 0) << i.out << i.err;
  ASSERT_EQ(stat(TargetDomainDisk(dst.path()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & S_ISVTX, 0u);
  EXPECT_EQ(digest(SourceFlags(src.path())), digest(TargetFlags(dst.path())));
  ASSERT_EQ(stat(domain.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & S_ISVTX, 0u) << "export changed the source's hold";
}

}  // namespace
}  // namespace vmigrate::testing::cli
