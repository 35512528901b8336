// import of batch archives (manifest merge_users, issue 17 item 2): the
// first batch creates the domain, later ones add their users to it as
// vadduser would, leaving the domain's own files alone; --on-conflict
// fail|skip, --dry-run, --json, and a crash at each point of the merge.
// End to end through the binary. The batches are cut from a real export of
// real-small's example.com (users split, merge_users set, checksums redone),
// so the merged domain can be compared with the whole domain imported at once.
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "hostile/archive_forge.h"
#include "model/manifest_yaml.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

namespace forge = vmigrate::testing::hostile;

const std::set<std::string> kFirst = {"alice", "bob", "carol", "dave", "erin", "postmaster"};
const std::set<std::string> kSecond = {"frank", "grace", "heidi", "ivan", "judy", "ken", "mallory"};

class MergeUsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
    full_ = work_ / "full.vma";
    ASSERT_EQ(Export(src_.path(), "example.com", full_).exit_code, 0);
    first_ = work_ / "batch1.vma";
    second_ = work_ / "batch2.vma";
    MakeBatch(first_, kFirst);
    MakeBatch(second_, kSecond);
  }

  // The export cut down to `users`, marked merge_users. `edit` may change
  // the members further (before the checksums are redone).
  void MakeBatch(const std::string& out, const std::set<std::string>& users,
                 const std::function<void(forge::Members&)>& edit = {}) {
    forge::Members members = forge::ReadMembers(full_);
    auto manifest = ManifestFromYaml(forge::ManifestText(members));
    ASSERT_TRUE(manifest.ok()) << manifest.status().message();
    ManifestDomain& d = manifest->domains[0];
    std::vector<ManifestUser> kept;
    for (const auto& u : d.users)
      if (users.count(u.entry.name)) kept.push_back(u);
    d.users = kept;
    std::vector<std::string> rewritten;
    for (const auto& f : d.rewritten_files) {
      std::string user = f.rfind("users/", 0) == 0 ? f.substr(6, f.find('/', 6) - 6) : "";
      if (user.empty() || users.count(user)) rewritten.push_back(f);
    }
    d.rewritten_files = rewritten;
    d.merge_users = true;
    forge::Members cut;
    const std::string prefix = "domains/example.com/users/";
    for (auto& m : members) {
      if (m.path.rfind(prefix, 0) == 0) {
        std::string rest = m.path.substr(prefix.size());
        if (!users.count(rest.substr(0, rest.find('/')))) continue;
      }
      cut.push_back(m);
    }
    forge::ManifestText(cut) = ManifestToYaml(*manifest);
    if (edit) edit(cut);
    forge::WriteArchive(out, forge::WithChecksums(cut));
  }

  std::string Dom(const std::string& root) const { return TargetHomeDisk(root) + "/domains/example.com"; }

  // Every home of the domain (TreeDigest lines, paths below the domain dir).
  std::map<std::string, std::string> Homes(const std::string& root) const {
    std::map<std::string, std::string> out;
    for (const auto& [path, line] : TreeDigest(Dom(root))) {
      std::string user = path.substr(0, path.find('/'));
      if (kFirst.count(user) || kSecond.count(user)) out[path] = line;
    }
    return out;
  }

  TempDir src_, dst_, work_;
  std::string full_, first_, second_;
};

TEST_F(MergeUsersTest, ManifestKeyRoundTripsAndIsOnlyWrittenWhenTrue) {
  forge::Members members = forge::ReadMembers(first_);
  EXPECT_NE(forge::ManifestText(members).find("merge_users: true"), std::string::npos);
  members = forge::ReadMembers(full_);
  EXPECT_EQ(forge::ManifestText(members).find("merge_users"), std::string::npos);
  auto m = ManifestFromYaml(forge::ReadMembers(first_)[0].data);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE(m->domains[0].merge_users);
}

TEST_F(MergeUsersTest, ManifestRefusesABadOrMisplacedKey) {
  forge::Members members = forge::ReadMembers(first_);
  const std::string text = forge::ManifestText(members);
  auto bad = ManifestFromYaml(forge::Replace(text, "merge_users: true", "merge_users: yes"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "manifest: domains[0].merge_users must be true or false");
  auto server = ManifestFromYaml(forge::Replace(text, "kind: \"domain\"", "kind: \"server\""));
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().message(), "manifest: domains[0].merge_users is only valid in a 'domain' archive");
}

TEST_F(MergeUsersTest, TwoBatchesGiveTheDomainTheWholeImportGives) {
  CommandResult r = Import(dst_.path(), first_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("imported example.com into"), std::string::npos) << r.out;
  const std::string qmail_default = ReadFile(Dom(dst_.path()) + "/.qmail-default");
  auto assign_before = ReadFile(TargetQmailDisk(dst_.path()) + "/users/assign");

  // The second batch's .qmail-default differs: a merge must not write it.
  std::string second = work_ / "batch2-otherfiles.vma";
  MakeBatch(second, kSecond, [](forge::Members& m) {
    forge::Member* f = forge::Find(m, "domains/example.com/files/.qmail-default");
    ASSERT_NE(f, nullptr);
    f->data = "| /bin/false\n";
  });
  r = Import(dst_.path(), second, {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"merge_users\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"users\":7,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"added_users\":[\"frank\",\"grace\",\"heidi\",\"ivan\",\"judy\",\"ken\",\"mallory\"]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"skipped_users\":[]"), std::string::npos) << r.out;
  EXPECT_EQ(ReadFile(Dom(dst_.path()) + "/.qmail-default"), qmail_default);
  EXPECT_EQ(ReadFile(TargetQmailDisk(dst_.path()) + "/users/assign"), assign_before);
  EXPECT_FALSE(fs::exists(TargetHomeDisk(dst_.path()) + "/domains/.vmigrate-merge.example.com"));

  // The whole domain in one import, on a second target.
  TempDir whole;
  MakeEmptyTarget(whole.path());
  ASSERT_EQ(Import(whole.path(), full_).exit_code, 0);
  EXPECT_EQ(ReadFile(Dom(dst_.path()) + "/vpasswd"), ReadFile(Dom(whole.path()) + "/vpasswd"));
  EXPECT_EQ(ReadFile(Dom(dst_.path()) + "/.dir-control"), ReadFile(Dom(whole.path()) + "/.dir-control"));
  for (const std::string& u : kSecond) {
    EXPECT_EQ(CdbLookup(Dom(dst_.path()) + "/vpasswd.cdb", u), CdbLookup(Dom(whole.path()) + "/vpasswd.cdb", u)) << u;
    EXPECT_TRUE(CdbHas(Dom(dst_.path()) + "/vpasswd.cdb", u)) << u;
  }
  EXPECT_EQ(DigestDiff(Homes(whole.path()), Homes(dst_.path())), "");
  EXPECT_EQ(Homes(dst_.path()).size(), Homes(whole.path()).size());

  // verify against the full archive: the merged domain is the source's.
  r = RunVmigrate(Concat({"verify", full_}, TargetFlags(dst_.path())));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// real-hashed: 261 users over the buckets "", 0/ and 1/. Two batches cut in
// the order vadduser made the users (the second starting inside bucket 0/,
// ending in a bucket the domain does not have yet) land exactly where the
// whole domain does, and .dir-control counts as vadduser's did.
TEST(MergeUsersHashedTest, BatchesFillTheBucketsAsTheWholeDomainDoes) {
  TempDir src, dst, whole, work;
  UnpackFixture("real-hashed", src.path());
  MakeEmptyTarget(dst.path());
  MakeEmptyTarget(whole.path());
  const std::string full = work / "full.vma";
  ASSERT_EQ(Export(src.path(), "big.example", full).exit_code, 0);
  auto cut = [&](const std::string& out, bool first) {
    forge::Members members = forge::ReadMembers(full);
    auto manifest = ManifestFromYaml(forge::ManifestText(members));
    ASSERT_TRUE(manifest.ok()) << manifest.status().message();
    ManifestDomain& d = manifest->domains[0];
    // postmaster and user001..user150 first (bucket "" and half of 0/).
    auto in_first = [](const std::string& name) { return name == "postmaster" || name <= "user150"; };
    std::set<std::string> keep;
    std::vector<ManifestUser> kept;
    for (const auto& u : d.users)
      if (in_first(u.entry.name) == first) kept.push_back(u), keep.insert(u.entry.name);
    ASSERT_FALSE(kept.empty());
    d.users = kept;
    // .qmail-drop delivers to user250's Maildir: it goes with the batch
    // that has user250 (a domain file naming a user the domain does not
    // have yet is refused, as by any import).
    const std::string drop = "files/.qmail-drop";
    std::vector<std::string> rewritten;
    for (const auto& f : d.rewritten_files) {
      std::string user = f.rfind("users/", 0) == 0 ? f.substr(6, f.find('/', 6) - 6) : "";
      if ((user.empty() || keep.count(user)) && (f != drop || !first)) rewritten.push_back(f);
    }
    d.rewritten_files = rewritten;
    if (first) d.domain_files.erase(std::remove(d.domain_files.begin(), d.domain_files.end(), ".qmail-drop"),
                                    d.domain_files.end());
    d.merge_users = true;
    forge::Members out_members;
    const std::string prefix = "domains/big.example/users/";
    for (auto& m : members) {
      if (first && m.path == "domains/big.example/" + drop) continue;
      if (m.path.rfind(prefix, 0) == 0) {
        std::string rest = m.path.substr(prefix.size());
        if (!keep.count(rest.substr(0, rest.find('/')))) continue;
      }
      out_members.push_back(m);
    }
    forge::ManifestText(out_members) = ManifestToYaml(*manifest);
    forge::WriteArchive(out, forge::WithChecksums(out_members));
  };
  const std::string b1 = work / "b1.vma", b2 = work / "b2.vma";
  cut(b1, true);
  cut(b2, false);
  ASSERT_EQ(Import(dst.path(), b1).exit_code, 0);
  const std::string dom = TargetHomeDisk(dst.path()) + "/domains/big.example";
  ASSERT_FALSE(fs::exists(dom + "/1")) << "the first batch already reached bucket 1/";
  CommandResult r = Import(dst.path(), b2);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("merged 110 users into big.example"), std::string::npos) << r.out;
  ASSERT_EQ(Import(whole.path(), full).exit_code, 0);
  const std::string wdom = TargetHomeDisk(whole.path()) + "/domains/big.example";
  EXPECT_EQ(ReadFile(dom + "/vpasswd"), ReadFile(wdom + "/vpasswd"));
  EXPECT_EQ(ReadFile(dom + "/.dir-control"), ReadFile(wdom + "/.dir-control"));
  EXPECT_TRUE(fs::is_directory(dom + "/1/user260/Maildir"));
  EXPECT_TRUE(CdbHas(dom + "/vpasswd.cdb", "user260"));
  // The one difference from the whole domain: the domain file only the
  // second batch carried, which a merge leaves to the installed domain.
  r = RunVmigrate(Concat({"verify", full}, TargetFlags(dst.path())));
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  const std::string said = r.out + r.err;
  EXPECT_NE(said.find("big.example: .qmail-drop: missing (a file in the archive)"), std::string::npos) << said;
  EXPECT_NE(said.find("big.example: 1 difference between"), std::string::npos) << said;
}

TEST_F(MergeUsersTest, ConflictFailsChangingNothingAndNamesEachConflict) {
  ASSERT_EQ(Import(dst_.path(), first_).exit_code, 0);
  // A batch holding two users the domain has, and two new ones.
  std::string overlapping = work_ / "overlap.vma";
  MakeBatch(overlapping, {"alice", "bob", "frank", "grace"});
  auto before = TreeDigest(dst_.path());
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"--dry-run"}, {"--on-conflict", "fail"}}) {
    CommandResult r = Import(dst_.path(), overlapping, extra);
    EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
    EXPECT_NE(r.err.find("2 of the batch's 4 users conflict with the installed domain; nothing was changed"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("\n  conflict: alice@example.com is already in the domain (home /srv/vpopmail/domains/example.com/alice)"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("\n  conflict: bob@example.com is already in the domain"), std::string::npos) << r.err;
  }
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(MergeUsersTest, SkipLeavesConflictsOutAndDryRunShowsThePlan) {
  ASSERT_EQ(Import(dst_.path(), first_).exit_code, 0);
  std::string overlapping = work_ / "overlap.vma";
  MakeBatch(overlapping, {"alice", "frank", "grace"});
  // A leftover home without an account is a conflict too.
  fs::create_directories(Dom(dst_.path()) + "/grace");
  const std::string alice_vpasswd = ReadFile(Dom(dst_.path()) + "/vpasswd");
  auto before = TreeDigest(dst_.path());

  CommandResult r = Import(dst_.path(), overlapping, {"--on-conflict", "skip", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("would merge 1 users into example.com in /srv/vpopmail/domains/example.com"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  added    frank"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  skipped  alice@example.com is already in the domain"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  skipped  grace@example.com has no account, but its home /srv/vpopmail/domains/example.com/grace is there already"),
            std::string::npos)
      << r.out;
  r = Import(dst_.path(), overlapping, {"--on-conflict", "skip", "--dry-run", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"status\":\"dry-run\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"added_users\":[\"frank\"]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"domain\":\"example.com\",\"name\":\"alice\",\"reason\":\"is already in the domain (home "),
            std::string::npos)
      << r.out;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");

  r = Import(dst_.path(), overlapping, {"--on-conflict", "skip"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("merged 1 users into example.com"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("warning: skipped alice@example.com: it is already in the domain"), std::string::npos) << r.err;
  EXPECT_TRUE(CdbHas(Dom(dst_.path()) + "/vpasswd.cdb", "frank"));
  EXPECT_FALSE(CdbHas(Dom(dst_.path()) + "/vpasswd.cdb", "grace"));
  EXPECT_TRUE(fs::is_directory(Dom(dst_.path()) + "/frank/Maildir"));
  // alice's line is the installed one, untouched.
  std::string vpasswd = ReadFile(Dom(dst_.path()) + "/vpasswd");
  for (const auto& line : Lines(alice_vpasswd)) EXPECT_TRUE(HasLine(vpasswd, line)) << line;
  EXPECT_EQ(Lines(vpasswd).size(), Lines(alice_vpasswd).size() + 1);

  // The same batch again: everything is a conflict; skip changes nothing.
  before = TreeDigest(dst_.path());
  r = Import(dst_.path(), overlapping, {"--on-conflict", "skip"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("merged 0 users into example.com"), std::string::npos) << r.out;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(MergeUsersTest, MoveIdIsRefusedForAMerge) {
  ASSERT_EQ(Import(dst_.path(), first_).exit_code, 0);
  CommandResult r = Import(dst_.path(), second_, {"--move-id", "0123456789abcdef"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--move-id marks a domain created by a full import"), std::string::npos) << r.err;
}

// A crash before the commit mark leaves the domain as it was (the next run
// removes the staging); one after it is completed by the next run of the
// same batch, which then reports the batch's users as added.
TEST_F(MergeUsersTest, CrashAtEachPointIsUndoneOrCompletedByTheNextRun) {
  ASSERT_EQ(Import(dst_.path(), first_).exit_code, 0);
  TempDir whole;
  MakeEmptyTarget(whole.path());
  ASSERT_EQ(Import(whole.path(), full_).exit_code, 0);
  // The numbers of the merge's crash points (VMIGRATE_CRASH_AT counts them all).
  std::map<std::string, std::string> number;
  {
    TempDir t;
    ASSERT_EQ(RunCommand({"cp", "-a", dst_.path() + "/.", t.path()}).exit_code, 0);
    setenv("VMIGRATE_CRASH_LIST", "1", 1);
    CommandResult r = Import(t.path(), second_);
    unsetenv("VMIGRATE_CRASH_LIST");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const std::string& line : Lines(r.err)) {
      const std::string head = "vmigrate: crash point ";
      if (line.rfind(head, 0) != 0) continue;
      size_t colon = line.find(": ", head.size());
      number[line.substr(colon + 2)] = line.substr(head.size(), colon - head.size());
    }
  }
  for (const std::string point : {"merge journal written", "merge committed", "merge steps done"}) {
    SCOPED_TRACE(point);
    ASSERT_TRUE(number.count(point)) << "no crash point named " << point;
    TempDir t;
    ASSERT_EQ(RunCommand({"cp", "-a", dst_.path() + "/.", t.path()}).exit_code, 0);
    setenv("VMIGRATE_CRASH_AT", number[point].c_str(), 1);
    CommandResult r = Import(t.path(), second_);
    unsetenv("VMIGRATE_CRASH_AT");
    ASSERT_NE(r.exit_code, 0) << "no crash at " << point << ": " << r.err;
    EXPECT_TRUE(fs::exists(TargetHomeDisk(t.path()) + "/domains/.vmigrate-merge.example.com"));
    if (point == "merge journal written") {
      EXPECT_FALSE(CdbHas(Dom(t.path()) + "/vpasswd.cdb", "frank"));
      EXPECT_EQ(ReadFile(Dom(t.path()) + "/vpasswd"), ReadFile(Dom(dst_.path()) + "/vpasswd"));
      EXPECT_FALSE(fs::exists(Dom(t.path()) + "/frank"));
    }
    r = Import(t.path(), second_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(point == "merge journal written" ? "removed the staging of an interrupted merge of users"
                                                          : "completed an interrupted merge of users"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.out.find("merged 7 users into example.com"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(TargetHomeDisk(t.path()) + "/domains/.vmigrate-merge.example.com"));
    EXPECT_EQ(ReadFile(Dom(t.path()) + "/vpasswd"), ReadFile(Dom(whole.path()) + "/vpasswd"));
    EXPECT_EQ(ReadFile(Dom(t.path()) + "/.dir-control"), ReadFile(Dom(whole.path()) + "/.dir-control"));
    EXPECT_EQ(DigestDiff(Homes(whole.path()), Homes(t.path())), "");
  }
}

}  // namespace
}  // namespace vmigrate::testing::cli
