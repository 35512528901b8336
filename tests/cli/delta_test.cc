// End to end: incremental sync (issue 13) through the CLI contract
// `state DOMAIN -o`, `export DOMAIN --since STATE -o`, `import DELTA`.
// real-small's example.com (alias example.org) is moved with a full
// export/import; then the source lives on (delivery, clients moving,
// re-flagging and expunging, a new folder, vadduser/vdeluser, a password,
// aliases, a quota) and one delta must bring the target to exactly what a
// fresh full import would give, without rewriting what did not change.
#include <sys/stat.h>
#include <unistd.h>

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

Owner HomeOwner(const std::string& root) {
  struct stat st;
  stat(TargetHomeDisk(root).c_str(), &st);
  return Owner{static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid)};
}

/// Runs jq (strict JSON) with `filter` over `json`; exit 0 only for valid JSON.
CommandResult Jq(const std::string& json, const std::string& filter, const std::string& scratch) {
  WriteFile(scratch, json);
  return RunCommand({"jq", "-r", filter, scratch});
}

/// The "digest" line's value of a state file ("" if none).
std::string StateDigest(const std::string& state_text) {
  for (const auto& l : Lines(state_text))
    if (l.rfind("digest\t", 0) == 0) return l.substr(7);
  return "";
}

/// The rename/remove lines of a delta's delta.txt.
std::vector<std::string> DeltaLines(const hostile::Members& members, const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& m : members)
    if (m.path == "delta.txt")
      for (const auto& l : Lines(m.data))
        if (l.rfind(kind + "\t", 0) == 0) out.push_back(l);
  return out;
}

bool AnyLineHas(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

class DeltaCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    ASSERT_FALSE(HasFatalFailure());
    MakeEmptyTarget(dst_.path());
    full_ = work_ / "full.vma";
    CommandResult e = Export(src_.path(), "example.com", full_);
    ASSERT_EQ(e.exit_code, 0) << e.err;
    CommandResult i = Import(dst_.path(), full_);
    ASSERT_EQ(i.exit_code, 0) << i.err;
  }

  std::vector<std::string> Src() const { return SourceFlags(src_.path()); }
  std::vector<std::string> Dst() const { return TargetFlags(dst_.path()); }
  std::string SrcDomain() const { return SourceDomainDisk(src_.path()); }
  std::string DstDomain() const { return TargetDomainDisk(dst_.path()); }

  DomainMapping Mapping(const std::string& dst_root, const std::string& domain = "example.com") const {
    DomainMapping m;
    m.domain = domain;
    m.src_root = src_.path();
    m.dst_root = dst_root;
    m.src_rel = "domains/" + domain;
    m.dst_rel = "domains/" + domain;
    return m;
  }

  // `state example.com` of the target under `root` into work/<name>.
  std::string TargetState(const std::string& name, const std::string& root = "") {
    std::string out = work_ / name;
    CommandResult r = State(TargetFlags(root.empty() ? dst_.path() : root), "example.com", out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }
  // `export example.com --since STATE` of the source into work/<name>.
  std::string Delta(const std::string& state, const std::string& name,
                    const std::vector<std::string>& extra = {}) {
    std::string out = work_ / name;
    CommandResult r = ExportSince(src_.path(), "example.com", state, out, extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }

  // The source and the target hold the same data, as `state` sees it, and
  // the target passes every check of a fresh full import.
  void ExpectTargetLikeSource(const std::string& dst_root) {
    EXPECT_EQ(TextDiff(StateBodyOf(Src(), "example.com"), StateBodyOf(TargetFlags(dst_root), "example.com")), "")
        << "state bodies of source and target differ";
    ExpectImportedLikeSource(Mapping(dst_root), {"example.org"}, HomeOwner(dst_root));
  }

  TempDir src_, dst_, work_;
  std::string full_;
};

// The control for every test below: the changed source is a tree a plain
// full export/import reproduces, so a delta test failing is the delta's fault.
TEST_F(DeltaCliTest, ChangedSourceStillRoundTripsInFull) {
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  Round2 r2;
  ApplyRound2(src_.path(), r1, &r2);
  ASSERT_FALSE(HasFatalFailure());
  TempDir fresh;
  MakeEmptyTarget(fresh.path());
  CommandResult e = Export(src_.path(), "example.com", work_ / "changed.vma");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = Import(fresh.path(), work_ / "changed.vma");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  ExpectImportedLikeSource(Mapping(fresh.path()), {"example.org"}, HomeOwner(fresh.path()));
  EXPECT_TRUE(fs::exists(TargetDomainDisk(fresh.path()) + "/nina/Maildir/new/" + r2.nina_new2));
  EXPECT_TRUE(fs::exists(TargetDomainDisk(fresh.path()) + "/alice/Maildir/.Work/cur/" + r1.work_msg));
  EXPECT_FALSE(fs::exists(TargetDomainDisk(fresh.path()) + "/heidi"));
}

TEST_F(DeltaCliTest, OneDeltaBringsTheTargetToTheSourceAfterEveryKindOfChange) {
  auto src_before = TreeDigest(SrcDomain());
  std::string s = TargetState("1.state");
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  auto src_after = TreeDigest(SrcDomain());
  std::string d = Delta(s, "1.vmd");
  auto target_before = InodeCtimes(DstDomain());

  CommandResult i = Import(dst_.path(), d);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  ExpectTargetLikeSource(dst_.path());

  // The target now verifies against a fresh full export of the source ...
  std::string full2 = work_ / "full2.vma";
  CommandResult e = Export(src_.path(), "example.com", full2);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult v = RunVmigrate(Concat({"verify", full2}, Dst()));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // ... and against the delta it got (its result digest).
  CommandResult vd = RunVmigrate(Concat({"verify", d}, Dst()));
  EXPECT_EQ(vd.exit_code, 0) << vd.out << vd.err;

  // Nothing that stayed the same on the source was rewritten on the target:
  // same inode, same ctime. (A directory whose entries were replaced gets a
  // new ctime from the rename and from setting its mtime back, so
  // directories only keep their inode; their mtimes are compared above.)
  auto target_after = InodeCtimes(DstDomain());
  auto inode = [](const std::string& ic) { return ic.substr(0, ic.find(' ')); };
  size_t untouched = 0;
  for (const auto& [rel, line] : src_before) {
    auto it = src_after.find(rel);
    if (it == src_after.end() || it->second != line) continue;
    if (rel == "vpasswd" || rel == "vpasswd.cdb" || rel == ".dir-control") continue;
    ++untouched;
    if (line.find(" dir ") != std::string::npos)
      EXPECT_EQ(inode(target_after[rel]), inode(target_before[rel])) << "directory " << rel << " was recreated";
    else
      EXPECT_EQ(target_after[rel], target_before[rel]) << rel << " was rewritten on the target";
  }
  EXPECT_GT(untouched, 80u);
  for (const char* rel : {"alice/Maildir/cur/1795424449.28197.mail.example.com,S=680:2,RS", ".qmail-abuse",
                          ".qmail-default", "frank/Maildir/maildirsize", "bob/Maildir/courierimapuiddb",
                          "postmaster/Maildir/cur/1795424456.28246.mail.example.com,S=467", "judy/lastauth"}) {
    ASSERT_NE(target_before[rel], "missing") << rel;
    EXPECT_EQ(InodeCtime(DstDomain() + "/" + rel), target_before[rel]) << rel << " was rewritten";
  }
  // A message that only moved keeps its inode (it was renamed, not rewritten).
  const std::string moved_before = target_before[std::string("alice/Maildir/new/") + Round1::kMovedToCur];
  const std::string moved_after = InodeCtime(DstDomain() + "/alice/Maildir/cur/" + Round1::kMovedToCur + ":2,S");
  EXPECT_EQ(moved_after.substr(0, moved_after.find(' ')), moved_before.substr(0, moved_before.find(' ')))
      << "the moved message was rewritten, not renamed";
  EXPECT_TRUE(StagingLeftovers(dst_.path()).empty());
  EXPECT_FALSE(fs::exists(DstDomain() + "/.vmigrate-delta")) << "journal left behind";
}

TEST_F(DeltaCliTest, MovedMessagesTravelAsRenamesAndOnlyNewFilesAsBytes) {
  std::string s = TargetState("1.state");
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  std::string d = Delta(s, "1.vmd", {"--compress", "none"});
  hostile::Members m = hostile::ReadMembers(d);
  ASSERT_GE(m.size(), 3u);
  EXPECT_EQ(m[0].path, "manifest.yaml");
  EXPECT_EQ(m[1].path, "delta.txt");
  std::string all;
  for (const auto& x : m) all += x.path + "\n";
  SCOPED_TRACE("members:\n" + all + "delta.txt:\n" + m[1].data);
  for (const char* moved : {Round1::kMovedToCur, Round1::kReflagged, Round1::kSentReflagged}) {
    EXPECT_EQ(all.find(moved), std::string::npos) << moved << " travelled as bytes";
  }
  auto renames = DeltaLines(m, "rename");
  EXPECT_EQ(renames.size(), 3u);
  EXPECT_TRUE(AnyLineHas(renames, std::string("users/alice/Maildir/new/") + Round1::kMovedToCur + "\t" +
                                       "users/alice/Maildir/cur/" + Round1::kMovedToCur + ":2,S\t"));
  EXPECT_TRUE(AnyLineHas(renames, std::string("users/alice/Maildir/cur/") + Round1::kReflagged + ":2,S\t" +
                                       "users/alice/Maildir/cur/" + Round1::kReflagged + ":2,RS\t"));
  EXPECT_TRUE(AnyLineHas(renames, std::string(Round1::kSentReflagged) + ":2,FS\t"));
  auto removes = DeltaLines(m, "remove");
  EXPECT_TRUE(AnyLineHas(removes, "users/alice/Maildir/.Trash/cur/1795424450.28204.mail.example.com,S=1034:2,ST"));
  EXPECT_TRUE(AnyLineHas(removes, "users/bob/Maildir/cur/1795424455.28239.mail.example.com,S=678:2,FS"));
  EXPECT_TRUE(AnyLineHas(removes, "files/.qmail-sales"));
  EXPECT_FALSE(AnyLineHas(removes, "heidi")) << "a removed user is not listed file by file";
  for (const auto& l : removes) EXPECT_EQ(l.rfind("remove\texample.com\t", 0), 0u) << l;

  // New and changed files are members, under their full-archive names.
  for (const std::string& p :
       {"domains/example.com/users/alice/Maildir/new/" + r1.alice_new1,
        "domains/example.com/users/carol/Maildir/new/" + r1.carol_new,
        "domains/example.com/users/nina/Maildir/new/" + r1.nina_new,
        "domains/example.com/users/alice/Maildir/.Work/cur/" + r1.work_msg,
        std::string("domains/example.com/users/alice/Maildir/maildirsize"),
        std::string("domains/example.com/users/alice/Maildir/subscriptions"),
        std::string("domains/example.com/users/grace/Maildir/maildirsize"),
        std::string("domains/example.com/files/.qmail-newalias")}) {
    EXPECT_NE(hostile::Find(m, p), nullptr) << p << " is not in the delta";
  }
  // Unchanged files are not.
  for (const std::string& p :
       {std::string("domains/example.com/users/postmaster/Maildir/cur/1795424456.28246.mail.example.com,S=467"),
        std::string("domains/example.com/users/alice/Maildir/cur/1795424449.28197.mail.example.com,S=680:2,RS"),
        std::string("domains/example.com/files/.qmail-abuse"),
        std::string("domains/example.com/users/frank/Maildir/maildirsize")}) {
    EXPECT_EQ(hostile::Find(m, p), nullptr) << p << " did not change, yet is in the delta";
  }
  EXPECT_EQ(m.back().path, "checksums.txt");
  EXPECT_NE(m.back().data.find("delta.txt"), std::string::npos) << "checksums.txt does not cover delta.txt";

  // inspect shows the base digest (the state's) and the counts.
  CommandResult ins = RunVmigrate({"inspect", d});
  ASSERT_EQ(ins.exit_code, 0) << ins.err;
  std::string base = StateDigest(ReadFile(s));
  ASSERT_EQ(base.size(), 64u) << ReadFile(s);
  EXPECT_NE(ins.out.find(base), std::string::npos) << "inspect does not show the base:\n" << ins.out;
  EXPECT_NE(ins.out.find("delta"), std::string::npos) << ins.out;
  EXPECT_NE(ins.out.find(".qmail-sales"), std::string::npos) << "inspect does not list removals:\n" << ins.out;
}

TEST_F(DeltaCliTest, TheSameDeltaTwiceSaysAlreadyAppliedAndChangesNothing) {
  std::string s = TargetState("1.state");
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  std::string d = Delta(s, "1.vmd");
  CommandResult first = Import(dst_.path(), d);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto digest = TreeDigest(dst_.path());
  auto ctimes = InodeCtimes(dst_.path());

  CommandResult again = Import(dst_.path(), d);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE((again.out + again.err).find("already applied"), std::string::npos) << again.out << again.err;
  EXPECT_EQ(DigestDiff(digest, TreeDigest(dst_.path())), "");
  EXPECT_EQ(DigestDiff(ctimes, InodeCtimes(dst_.path())), "") << "the second run touched files";

  CommandResult json = Import(dst_.path(), d, {"--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  CommandResult status = Jq(json.out, ".status", work_ / "j.json");
  EXPECT_EQ(status.exit_code, 0) << "not JSON: " << json.out;
  EXPECT_EQ(status.out, "already_applied\n") << json.out;
  EXPECT_EQ(DigestDiff(digest, TreeDigest(dst_.path())), "");
  ExpectTargetLikeSource(dst_.path());
}

TEST_F(DeltaCliTest, DeltaOfATargetChangedAfterItsStateIsRefused) {
  std::string s = TargetState("1.state");
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  std::string d = Delta(s, "1.vmd");
  // Someone delivers on the target after its state was taken.
  Deliver(DstDomain() + "/dave/Maildir", "dave@example.com", 1795900301, 32001, "delivered on the target");
  auto before = TreeDigest(dst_.path());
  auto ctimes = InodeCtimes(dst_.path());

  CommandResult r = Import(dst_.path(), d);
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("vmigrate: import: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("example.com"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("base state does not match"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vmigrate state"), std::string::npos) << "no hint how to recover: " << r.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "") << "the refused delta changed the target";
  EXPECT_EQ(DigestDiff(ctimes, InodeCtimes(dst_.path())), "") << "the refused delta touched files";

  // The recovery the error names works: a fresh state, a fresh delta.
  std::string s2 = TargetState("2.state");
  std::string d2 = Delta(s2, "2.vmd");
  CommandResult ok = Import(dst_.path(), d2);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  ExpectTargetLikeSource(dst_.path());
}

TEST_F(DeltaCliTest, DeltasOutOfOrderAreRefusedAndInOrderRestoreTheSource) {
  std::string s1 = TargetState("1.state");
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  std::string d1 = Delta(s1, "1.vmd");
  ASSERT_EQ(Import(dst_.path(), d1).exit_code, 0);
  std::string s2 = TargetState("2.state");
  Round2 r2;
  ApplyRound2(src_.path(), r1, &r2);
  ASSERT_FALSE(HasFatalFailure());
  std::string d2 = Delta(s2, "2.vmd");

  // A target with only the full import: delta 2 before delta 1 is refused.
  TempDir other;
  MakeEmptyTarget(other.path());
  ASSERT_EQ(Import(other.path(), full_).exit_code, 0);
  auto before = TreeDigest(other.path());
  CommandResult early = Import(other.path(), d2);
  EXPECT_EQ(early.exit_code, 5) << early.out << early.err;
  EXPECT_EQ(Lines(early.err).size(), 1u) << early.err;
  EXPECT_NE(early.err.find("base state does not match"), std::string::npos) << early.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(other.path())), "") << "the refused delta changed the target";
  // Then in order: 1, 2.
  CommandResult one = Import(other.path(), d1);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  CommandResult two = Import(other.path(), d2);
  ASSERT_EQ(two.exit_code, 0) << two.err;
  ExpectTargetLikeSource(other.path());

  // The first target: delta 1 again is "already applied" only while it is
  // the last one applied; after delta 2 it is a base mismatch.
  CommandResult d2_on_first = Import(dst_.path(), d2);
  ASSERT_EQ(d2_on_first.exit_code, 0) << d2_on_first.err;
  auto done = TreeDigest(dst_.path());
  CommandResult stale = Import(dst_.path(), d1);
  EXPECT_EQ(stale.exit_code, 5) << stale.out << stale.err;
  EXPECT_EQ(DigestDiff(done, TreeDigest(dst_.path())), "");
  ExpectTargetLikeSource(dst_.path());
}

TEST_F(DeltaCliTest, FullThenTwoDeltasInOneImportRestoreTheSource) {
  std::string s1 = TargetState("1.state");
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  std::string d1 = Delta(s1, "1.vmd");
  ASSERT_EQ(Import(dst_.path(), d1).exit_code, 0);
  std::string s2 = TargetState("2.state");
  Round2 r2;
  ApplyRound2(src_.path(), r1, &r2);
  ASSERT_FALSE(HasFatalFailure());
  std::string d2 = Delta(s2, "2.vmd");

  TempDir restored;
  MakeEmptyTarget(restored.path());
  CommandResult r = RunVmigrate(Concat({"import", full_, d1, d2, "--no-reload"}, TargetFlags(restored.path())));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectTargetLikeSource(restored.path());
  EXPECT_TRUE(fs::exists(TargetDomainDisk(restored.path()) + "/nina/Maildir/new/" + r2.nina_new2));
  EXPECT_FALSE(fs::exists(TargetDomainDisk(restored.path()) + "/heidi"));
  CommandResult v = RunVmigrate(Concat({"verify", d2}, TargetFlags(restored.path())));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // verify against delta 1 on the restored target: the result differs.
  CommandResult v1 = RunVmigrate(Concat({"verify", d1}, TargetFlags(restored.path())));
  EXPECT_EQ(v1.exit_code, 3) << v1.out << v1.err;
}

TEST_F(DeltaCliTest, DryRunPrintsTheCountsAndChangesNothing) {
  std::string s = TargetState("1.state");
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  std::string d = Delta(s, "1.vmd");
  auto before = TreeDigest(dst_.path());
  auto ctimes = InodeCtimes(dst_.path());
  CommandResult r = Import(dst_.path(), d, {"--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // 3 messages moved or re-flagged, 2 expunged + 1 alias removed; nina added, heidi removed.
  for (const char* words : {"3 renames", "3 removals", "1 added", "1 removed"})
    EXPECT_NE(r.out.find(words), std::string::npos) << "no '" << words << "' in the plan:\n" << r.out;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "") << "--dry-run changed the target";
  EXPECT_EQ(DigestDiff(ctimes, InodeCtimes(dst_.path())), "") << "--dry-run touched files";

  CommandResult j = Import(dst_.path(), d, {"--dry-run", "--json"});
  EXPECT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(Jq(j.out, ".", work_ / "dry.json").exit_code, 0) << "not JSON: " << j.out;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");

  ASSERT_EQ(Import(dst_.path(), d).exit_code, 0);
  ExpectTargetLikeSource(dst_.path());
}

// Sets every message file's atime to its mtime, so that (on relatime
// mounts) reading one moves its atime; returns path -> atime.
std::map<std::string, long> ArmAtimes(const std::string& domain_disk) {
  std::map<std::string, long> out;
  for (auto it = fs::recursive_directory_iterator(domain_disk); it != fs::recursive_directory_iterator(); ++it) {
    std::string parent = it->path().parent_path().filename().string();
    if (!it->is_regular_file() || (parent != "cur" && parent != "new")) continue;
    struct stat st;
    lstat(it->path().c_str(), &st);
    struct timespec t[2] = {st.st_mtim, st.st_mtim};
    t[0].tv_sec -= 10;
    utimensat(AT_FDCWD, it->path().c_str(), t, AT_SYMLINK_NOFOLLOW);
    out[it->path().string()] = st.st_mtim.tv_sec - 10;
  }
  return out;
}

std::string ReadAtimes(const std::map<std::string, long>& armed) {
  std::string moved;
  for (const auto& [path, atime] : armed) {
    struct stat st;
    lstat(path.c_str(), &st);
    if (st.st_atim.tv_sec != atime) moved += path + "\n";
  }
  return moved;
}

TEST_F(DeltaCliTest, UnchangedDomainGivesAnEmptyDeltaReadsNoMessageAndImportTouchesNothing) {
  std::string s = TargetState("1.state");
  // Does this filesystem record reads in atime (not noatime)?
  auto probe = ArmAtimes(SrcDomain());
  ASSERT_FALSE(probe.empty());
  (void)ReadFile(probe.begin()->first);
  bool atime_works = !ReadAtimes({*probe.begin()}).empty();
  auto armed = ArmAtimes(SrcDomain());

  CommandResult st = State(Src(), "example.com", work_ / "src.state");
  ASSERT_EQ(st.exit_code, 0) << st.err;
  std::string d = Delta(s, "1.vmd", {"--compress", "none"});
  if (atime_works) {
    EXPECT_EQ(ReadAtimes(armed), "") << "state/export --since of an unchanged domain read these messages";
  }

  hostile::Members m = hostile::ReadMembers(d);
  std::string all;
  for (const auto& x : m) all += x.path + "\n";
  EXPECT_EQ(all, "manifest.yaml\ndelta.txt\nchecksums.txt\n") << "an unchanged domain's delta carries files";
  EXPECT_TRUE(DeltaLines(m, "remove").empty());
  EXPECT_TRUE(DeltaLines(m, "rename").empty());
  EXPECT_EQ(StateDigest(ReadFile(s)), StateDigest(ReadFile(work_ / "src.state")))
      << "source and target state digests differ right after a full import";

  auto before = TreeDigest(dst_.path());
  auto ctimes = InodeCtimes(dst_.path());
  CommandResult i = Import(dst_.path(), d);
  EXPECT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
  EXPECT_EQ(DigestDiff(ctimes, InodeCtimes(dst_.path())), "") << "importing an empty delta touched files";
}

TEST_F(DeltaCliTest, JsonOutputsParse) {
  std::string s = work_ / "1.state";
  CommandResult st = State(Dst(), "example.com", s, {"--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_EQ(Jq(st.out, ".", work_ / "a.json").exit_code, 0) << "state --json: " << st.out;
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  std::string d = work_ / "1.vmd";
  CommandResult ex = ExportSince(src_.path(), "example.com", s, d, {"--json"});
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  EXPECT_EQ(Jq(ex.out, ".", work_ / "b.json").exit_code, 0) << "export --since --json: " << ex.out;
  CommandResult ins = RunVmigrate({"inspect", d, "--json"});
  ASSERT_EQ(ins.exit_code, 0) << ins.err;
  EXPECT_EQ(Jq(ins.out, ".", work_ / "c.json").exit_code, 0) << "inspect --json: " << ins.out;
  EXPECT_NE(ins.out.find(StateDigest(ReadFile(s))), std::string::npos) << "no base digest in: " << ins.out;
  CommandResult im = Import(dst_.path(), d, {"--json"});
  ASSERT_EQ(im.exit_code, 0) << im.err;
  CommandResult status = Jq(im.out, ".status", work_ / "d.json");
  EXPECT_EQ(status.exit_code, 0) << "import --json: " << im.out;
  EXPECT_NE(status.out, "already_applied\n") << im.out;
  CommandResult v = RunVmigrate(Concat({"verify", d, "--json"}, Dst()));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(Jq(v.out, ".", work_ / "e.json").exit_code, 0) << "verify --json: " << v.out;

  // A refused delta (the target changed after its state): JSON with the exit code.
  std::string s2 = TargetState("2.state");
  std::string d2 = Delta(s2, "2.vmd");
  Deliver(DstDomain() + "/dave/Maildir", "dave@example.com", 1795900301, 32001, "on the target");
  CommandResult refused = Import(dst_.path(), d2, {"--json"});
  EXPECT_EQ(refused.exit_code, 5) << refused.out << refused.err;
  CommandResult ex5 = Jq(refused.out, ".exit", work_ / "f.json");
  EXPECT_EQ(ex5.exit_code, 0) << "refused import --json: " << refused.out;
  EXPECT_EQ(ex5.out, "5\n") << refused.out;
}

TEST_F(DeltaCliTest, ProgressAndMaxRateWorkForDeltasAsForFullArchives) {
  std::string s = TargetState("1.state");
  Round1 r1;
  ApplyRound1(src_.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  std::string d = work_ / "1.vmd";
  CommandResult e = ExportSince(src_.path(), "example.com", s, d, {"--progress=json", "--max-rate", "50M"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto lines = Lines(e.err);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(Jq(e.err, ".event", work_ / "p1.json").exit_code, 0) << e.err;
  EXPECT_NE(lines.back().find("\"event\":\"done\""), std::string::npos) << e.err;
  CommandResult i = Import(dst_.path(), d, {"--progress=json", "--max-rate", "50M"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(Jq(i.err, ".event", work_ / "p2.json").exit_code, 0) << i.err;
  EXPECT_NE(Lines(i.err).back().find("\"event\":\"done\""), std::string::npos) << i.err;
  // Nothing on a pipe unless asked.
  CommandResult quiet = ExportSince(src_.path(), "example.com", s, work_ / "2.vmd");
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  CommandResult bad = ExportSince(src_.path(), "example.com", s, work_ / "3.vmd", {"--max-rate", "fast"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_FALSE(fs::exists(work_ / "3.vmd"));
  ExpectTargetLikeSource(dst_.path());
}

// --- the state file --------------------------------------------------------

TEST_F(DeltaCliTest, StateDescribesTheDomainInHostIndependentTerms) {
  std::string out = work_ / "src.state";
  CommandResult r = State(Src(), "example.com", out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text = ReadFile(out);
  auto lines = Lines(text);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "vmigrate-state 1");
  EXPECT_EQ(lines.back().rfind("digest\t", 0), 0u) << lines.back();
  EXPECT_EQ(StateDigest(text).size(), 64u);
  for (const std::string& l :
       {std::string("domain\texample.com"), std::string("alias\texample.org"), std::string("section\tfiles"),
        std::string("section\tuser\talice"),
        std::string("user\talice\t$1$8iXIBzKs$UgI/PCw3e/q6Ih8gjdOai.\t1\t0\tAlice Example\t5000000S,1000C\tAlice#2023"),
        // a message: no digest (its content is never read)
        std::string("f\tMaildir/new/1795424452.28218.mail.example.com,S=462\t0600\t1795424452.000000000\t462\t-"),
        // a small domain file without host paths: SHA-256 of its bytes
        std::string("f\t.qmail-abuse\t0600\t1795424447.000000000\t23\t"
                    "f11bfe67d6a6e43501201ecd8c095240ffc9a5da6db6d0c11c8725d64a708880")}) {
    EXPECT_TRUE(HasLine(text, l)) << "no line '" << l << "' in\n" << text;
  }
  EXPECT_EQ(StateBody(text).find("/tmp/realvp"), std::string::npos) << "a host path in the state's body";
  EXPECT_TRUE(HasLine(text, std::string("vpopmail_home\t") + kFixtureVpopmailHome)) << text;
  EXPECT_EQ(text.find(".vmigrate-"), std::string::npos);
  // user sections in vpasswd order, each opened by its user line.
  for (size_t k = 0; k + 1 < lines.size(); ++k)
    if (lines[k].rfind("section\tuser\t", 0) == 0) {
      EXPECT_EQ(lines[k + 1].rfind("user\t" + lines[k].substr(13) + "\t", 0), 0u) << lines[k + 1];
    }

  // The same data on the target gives the same body and digest; the same
  // tree twice gives the same body.
  CommandResult t = State(Dst(), "example.com", work_ / "dst.state");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(TextDiff(StateBody(text), StateBody(ReadFile(work_ / "dst.state"))), "");
  EXPECT_EQ(StateDigest(text), StateDigest(ReadFile(work_ / "dst.state")));
  EXPECT_EQ(StateBodyOf(Src(), "example.com"), StateBody(text));
}

TEST_F(DeltaCliTest, StateRefusesAnUnknownDomainAndAnExistingFile) {
  CommandResult none = State(Src(), "nosuch.example", work_ / "n.state");
  EXPECT_EQ(none.exit_code, 7) << none.err;
  EXPECT_EQ(Lines(none.err).size(), 1u) << none.err;
  EXPECT_FALSE(fs::exists(work_ / "n.state"));
  WriteFile(work_ / "old.state", "keep me\n");
  CommandResult exists = State(Src(), "example.com", work_ / "old.state");
  EXPECT_NE(exists.exit_code, 0);
  EXPECT_EQ(ReadFile(work_ / "old.state"), "keep me\n");
  CommandResult forced = State(Src(), "example.com", work_ / "old.state", {"--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(Lines(ReadFile(work_ / "old.state")).front(), "vmigrate-state 1");
  // export --since a file that is no state: usage or bad input, nothing written.
  CommandResult bad = ExportSince(src_.path(), "example.com", work_ / "old.state.missing", work_ / "x.vmd");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_FALSE(fs::exists(work_ / "x.vmd"));
}

// --- a whole server ------------------------------------------------------

TEST(DeltaServerCliTest, StateAllAndExportAllSinceCarryEveryDomain) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  CommandResult e = RunVmigrate(Concat({"export", "--all", "-o", work / "full.vma"}, SourceFlags(src.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = Import(dst.path(), work / "full.vma", {"--all"});
  ASSERT_EQ(i.exit_code, 0) << i.err;

  CommandResult st = RunVmigrate(Concat({"state", "--all", "-o", work / "all.state"}, TargetFlags(dst.path())));
  ASSERT_EQ(st.exit_code, 0) << st.err;
  std::string state_text = ReadFile(work / "all.state");
  EXPECT_NE(state_text.find("domain\texample.com\n"), std::string::npos) << state_text;
  EXPECT_NE(state_text.find("domain\texample.net\n"), std::string::npos) << state_text;
  EXPECT_NE(state_text.find("alias\texample.org\n"), std::string::npos) << state_text;

  Round1 r1;
  ApplyRound1(src.path(), &r1);
  ApplyNetChanges(src.path());
  ASSERT_FALSE(HasFatalFailure());
  CommandResult d = RunVmigrate(Concat({"export", "--all", "--since", work / "all.state", "-o", work / "all.vmd"},
                                       SourceFlags(src.path())));
  ASSERT_EQ(d.exit_code, 0) << d.err;
  CommandResult a = Import(dst.path(), work / "all.vmd");
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;

  EXPECT_EQ(TextDiff(StateBodyOf(SourceFlags(src.path()), "--all"), StateBodyOf(TargetFlags(dst.path()), "--all")),
            "");
  struct stat hs;
  stat(TargetHomeDisk(dst.path()).c_str(), &hs);
  Owner owner{static_cast<unsigned>(hs.st_uid), static_cast<unsigned>(hs.st_gid)};
  for (const char* domain : {"example.com", "example.net"}) {
    DomainMapping m;
    m.domain = domain;
    m.src_root = src.path();
    m.dst_root = dst.path();
    m.src_rel = m.dst_rel = std::string("domains/") + domain;
    ExpectImportedLikeSource(m, domain == std::string("example.com") ? std::vector<std::string>{"example.org"}
                                                                     : std::vector<std::string>{},
                             owner);
  }
  CommandResult again = Import(dst.path(), work / "all.vmd");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE((again.out + again.err).find("already applied"), std::string::npos) << again.out << again.err;
}

// A server delta carries the server's configuration whole; import --all
// applies it as a restore --all would, and a domain delta never touches it.
TEST(DeltaServerCliTest, ServerDeltaCarriesTheConfigurationAndImportAllAppliesIt) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  ASSERT_EQ(RunVmigrate(Concat({"export", "--all", "-o", work / "full.vma"}, SourceFlags(src.path()))).exit_code, 0);
  ASSERT_EQ(Import(dst.path(), work / "full.vma", {"--all"}).exit_code, 0);
  ASSERT_EQ(RunVmigrate(Concat({"state", "--all", "-o", work / "all.state"}, TargetFlags(dst.path()))).exit_code, 0);

  const std::string rule = "10.0.0.:allow,RELAYCLIENT=\"\"\n";
  const std::string src_tcp = SourceHomeDisk(src.path()) + "/etc/tcp.smtp";
  WriteFile(src_tcp, rule);
  CommandResult d = RunVmigrate(Concat({"export", "--all", "--since", work / "all.state", "-o", work / "all.vmd"},
                                       SourceFlags(src.path())));
  ASSERT_EQ(d.exit_code, 0) << d.err;
  CommandResult listing = RunCommand({"tar", "-tf", work / "all.vmd"});
  EXPECT_TRUE(HasLine(listing.out, "server/vpopmail/etc/tcp.smtp")) << listing.out;

  const std::string dst_tcp = TargetHomeDisk(dst.path()) + "/etc/tcp.smtp";
  CommandResult without = Import(dst.path(), work / "all.vmd");
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_FALSE(fs::exists(dst_tcp)) << "a delta imported without --all changed the server configuration";
  CommandResult with = Import(dst.path(), work / "all.vmd", {"--all"});
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_NE(with.out.find("server files:"), std::string::npos) << with.out;
  EXPECT_EQ(ReadFile(dst_tcp), rule);
}

// A FIFO (or socket, device) in a home is never carried, so it is not part
// of a host's state either: deltas of such a domain still verify.
TEST(DeltaSpecialFilesTest, AFifoInAHomeIsLeftOutOfStatesAndDeltas) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  const std::string fifo = SourceDomainDisk(src.path()) + "/bob/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(Export(src.path(), "example.com", work / "full.vma").exit_code, 0);
  ASSERT_EQ(Import(dst.path(), work / "full.vma").exit_code, 0);
  CommandResult st = RunVmigrate(Concat({"state", "example.com", "-o", work / "t.state"}, TargetFlags(dst.path())));
  ASSERT_EQ(st.exit_code, 0) << st.err;
  CommandResult mine = RunVmigrate(Concat({"state", "example.com", "-o", work / "s.state"}, SourceFlags(src.path())));
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_EQ(ReadFile(work / "s.state").find("fifo"), std::string::npos);
  CommandResult d = Export(src.path(), "example.com", work / "d.vmd", {"--since", work / "t.state"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  CommandResult i = Import(dst.path(), work / "d.vmd");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(i.err.find("differs"), std::string::npos) << i.err;
  CommandResult v = RunVmigrate(Concat({"verify", work / "d.vmd"}, TargetFlags(dst.path())));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}



}  // namespace
}  // namespace vmigrate::testing::cli
