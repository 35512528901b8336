// Whole-server backup and restore (export --all, import --all [--merge]),
// selective restore (--domain, --domain --user [--into-folder]) and batch
// runs (export --each, import of several archives), end to end on a tree
// holding every fixture domain: real-small (example.com + alias
// example.org, example.net) and real-hashed (big.example).
#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

// real-small with real-hashed's domain added as vadddomain would have:
// its dir next to the others, its assign/rcpthosts/virtualdomains lines
// and the domains/.dir-control count of three domains.
void MakeCombinedServer(const TempDir& root, const TempDir& scratch) {
  UnpackFixture("real-small", root.path());
  UnpackFixture("real-hashed", scratch.path());
  std::string home = SourceHomeDisk(root.path());
  std::string qmail = root.path() + kFixtureQmailDir;
  // cp -a keeps modes and mtimes, as the fixture has them.
  ASSERT_EQ(RunCommand({"cp", "-a", "--", SourceHomeDisk(scratch.path()) + "/domains/big.example",
                        home + "/domains/"})
                .exit_code,
            0);
  std::string assign = ReadFile(qmail + "/users/assign");
  assign.insert(assign.rfind(".\n"), "+big.example-:big.example:89:89:" + std::string(kFixtureVpopmailHome) +
                                         "/domains/big.example:-::\n");
  WriteFile(qmail + "/users/assign", assign);
  WriteFile(qmail + "/control/rcpthosts", ReadFile(qmail + "/control/rcpthosts") + "big.example\n");
  WriteFile(qmail + "/control/virtualdomains",
            ReadFile(qmail + "/control/virtualdomains") + "big.example:big.example\n");
  WriteFile(home + "/domains/.dir-control", "3\n0\n3\n0 0 0\n61 61 61\n0 2 2\n0 0 0\n");
}

Owner HomeOwner(const std::string& root) {
  struct stat st;
  stat(TargetHomeDisk(root).c_str(), &st);
  return Owner{static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid)};
}

DomainMapping Mapping(const std::string& domain, const std::string& src, const std::string& dst) {
  DomainMapping m;
  m.domain = domain;
  m.src_root = src;
  m.dst_root = dst;
  m.src_rel = "domains/" + domain;
  m.dst_rel = "domains/" + domain;
  return m;
}

std::vector<std::string> SortedLines(const std::string& text) {
  auto lines = Lines(text);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// The JSON of a dry run, worded as the real run's.
std::string AsRealRun(std::string json) {
  json = ReplaceAll(json, "\"status\":\"dry-run\"", "\"status\":\"ok\"");
  return ReplaceAll(json, "\"status\":\"planned\"", "\"status\":\"imported\"");
}

class ServerBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeCombinedServer(src_, scratch_);
    MakeEmptyTarget(dst_.path());
    backup_ = work_ / "server.tar.zst";
    CommandResult e = RunVmigrate(Concat({"export", "--all", "-o", backup_}, SourceFlags(src_.path())));
    ASSERT_EQ(e.exit_code, 0) << e.err;
  }

  std::string SrcQmail() const { return src_.path() + kFixtureQmailDir; }
  std::string DstQmail() const { return TargetQmailDisk(dst_.path()); }

  void ExpectEveryDomainLikeSource() {
    Owner owner = HomeOwner(dst_.path());
    ExpectImportedLikeSource(Mapping("example.com", src_.path(), dst_.path()), {"example.org"}, owner);
    ExpectImportedLikeSource(Mapping("example.net", src_.path(), dst_.path()), {}, owner);
    ExpectImportedLikeSource(Mapping("big.example", src_.path(), dst_.path()), {}, owner);
  }

  TempDir src_, scratch_, dst_, work_;
  std::string backup_;
};

TEST_F(ServerBackupTest, FullBackupRestoresEveryDomainAliasAndServerFile) {
  CommandResult inspect = RunVmigrate({"inspect", backup_, "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("\"kind\":\"server\""), std::string::npos) << inspect.out;

  CommandResult r = Import(dst_.path(), backup_, {"--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  ExpectEveryDomainLikeSource();

  // Buckets as on the source (no deletions there): all three at the top.
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst_.path()) + "/domains/.dir-control"), DomainsDirControlAfter(3));
  // Whole-file settings come back byte for byte.
  for (const char* f : {"/control/me", "/control/defaultdomain", "/control/locals"})
    EXPECT_EQ(ReadFile(DstQmail() + f), ReadFile(SrcQmail() + f)) << f;
  for (const char* f : {"/etc/vlimits.default", "/etc/vusagec.conf"}) {
    EXPECT_EQ(ReadFile(TargetHomeDisk(dst_.path()) + f), ReadFile(SourceHomeDisk(src_.path()) + f)) << f;
    EXPECT_EQ(StatLine(TargetHomeDisk(dst_.path()) + f), StatLine(SourceHomeDisk(src_.path()) + f)) << f;
  }
  // Line files: every source line is there (domain lines with the target's
  // paths), and nothing else but the target's own host name.
  std::vector<std::string> rcpt = SortedLines(ReadFile(DstQmail() + "/control/rcpthosts"));
  std::vector<std::string> want = SortedLines(ReadFile(SrcQmail() + "/control/rcpthosts") + kTargetMe + "\n");
  EXPECT_EQ(rcpt, want);
  EXPECT_EQ(SortedLines(ReadFile(DstQmail() + "/control/virtualdomains")),
            SortedLines(ReadFile(SrcQmail() + "/control/virtualdomains")));
  std::string expected_assign = ReplaceAll(ReadFile(SrcQmail() + "/users/assign"), kFixtureVpopmailHome, kTargetHome);
  expected_assign = ReplaceAll(expected_assign, ":89:89:", ":" + HomeOwner(dst_.path()).str() + ":");
  EXPECT_EQ(SortedLines(ReadFile(DstQmail() + "/users/assign")), SortedLines(expected_assign));

  // verify walks every domain of the backup.
  CommandResult v = RunVmigrate(Concat({"verify", backup_}, TargetFlags(dst_.path())));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  for (const char* d : {"example.com", "example.net", "big.example"})
    EXPECT_NE(v.out.find(std::string(d) + ": no differences"), std::string::npos) << v.out;
}

TEST_F(ServerBackupTest, NonVpopmailAssignAndControlLinesAreKeptVerbatim) {
  // A system user in users/assign and a relay host: not vpopmail's, but the
  // server needs them back.
  std::string assign = ReadFile(SrcQmail() + "/users/assign");
  assign.insert(assign.rfind(".\n"), "=alias:alias:7790:2108:/var/qmail/alias:::\n");
  WriteFile(SrcQmail() + "/users/assign", assign);
  WriteFile(SrcQmail() + "/control/smtproutes", ":relay.isp.test\n");
  CommandResult e = RunVmigrate(Concat({"export", "--all", "-o", backup_, "--force"}, SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult r = Import(dst_.path(), backup_, {"--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string got = ReadFile(DstQmail() + "/users/assign");
  EXPECT_TRUE(HasLine(got, "=alias:alias:7790:2108:/var/qmail/alias:::")) << got;
  EXPECT_EQ(Lines(got).back(), ".");
  EXPECT_EQ(ReadFile(DstQmail() + "/control/smtproutes"), ":relay.isp.test\n");
  auto cdb = vpopmail::ReadCdbRecords(DstQmail() + "/users/cdb");
  ASSERT_TRUE(cdb.ok());
  EXPECT_TRUE(cdb->count(std::string("!alias") + '\0')) << "users/cdb lacks the = line";
}

TEST_F(ServerBackupTest, RestoreOntoATargetWithDomainsNeedsMergeAndChangesNothing) {
  TempDir single;
  ASSERT_EQ(Export(src_.path(), "example.net", single / "net.tar.zst").exit_code, 0);
  ASSERT_EQ(Import(dst_.path(), single / "net.tar.zst").exit_code, 0);
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), backup_, {"--all"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("--merge"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(ServerBackupTest, MergeAddsOnlyTheMissingDomainsAndReportsTheOthers) {
  TempDir single;
  ASSERT_EQ(Export(src_.path(), "example.net", single / "net.tar.zst").exit_code, 0);
  ASSERT_EQ(Import(dst_.path(), single / "net.tar.zst").exit_code, 0);
  std::string net_dir = TargetHomeDisk(dst_.path()) + "/domains/example.net";
  auto net_before = TreeDigest(net_dir);
  std::string me_before = ReadFile(DstQmail() + "/control/me");

  CommandResult r = Import(dst_.path(), backup_, {"--all", "--merge", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("{\"name\":\"example.net\",\"status\":\"skipped\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"name\":\"example.com\",\"status\":\"imported\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"name\":\"big.example\",\"status\":\"imported\""), std::string::npos) << r.out;
  EXPECT_EQ(DigestDiff(net_before, TreeDigest(net_dir)), "") << "the existing domain was touched";
  // --merge keeps the target's own settings.
  EXPECT_EQ(ReadFile(DstQmail() + "/control/me"), me_before);
  EXPECT_NE(r.out.find("\"action\":\"keep (differs)\""), std::string::npos) << r.out;
  Owner owner = HomeOwner(dst_.path());
  ExpectImportedLikeSource(Mapping("example.com", src_.path(), dst_.path()), {"example.org"}, owner);
  ExpectImportedLikeSource(Mapping("big.example", src_.path(), dst_.path()), {}, owner);
}

TEST_F(ServerBackupTest, OneDomainOutOfTheFullBackup) {
  std::string me_before = ReadFile(DstQmail() + "/control/me");
  CommandResult r = Import(dst_.path(), backup_, {"--domain", "example.net"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectImportedLikeSource(Mapping("example.net", src_.path(), dst_.path()), {}, HomeOwner(dst_.path()));
  EXPECT_FALSE(fs::exists(TargetHomeDisk(dst_.path()) + "/domains/example.com"));
  EXPECT_FALSE(fs::exists(TargetHomeDisk(dst_.path()) + "/domains/big.example"));
  EXPECT_EQ(ReadFile(DstQmail() + "/control/me"), me_before) << "--domain must not restore server files";
  CommandResult missing = Import(dst_.path(), backup_, {"--domain", "nosuch.test"});
  EXPECT_EQ(missing.exit_code, 7) << missing.err;
  EXPECT_NE(missing.err.find("example.com"), std::string::npos) << "the error lists what the archive holds";
  CommandResult no_flag = Import(dst_.path(), backup_);
  EXPECT_EQ(no_flag.exit_code, 2) << no_flag.err;
  EXPECT_NE(no_flag.err.find("--all"), std::string::npos) << no_flag.err;
}

TEST_F(ServerBackupTest, DryRunOfTheFullRestoreIsExactlyWhatTheRealRunDoesAndChangesNothing) {
  auto before = TreeDigest(dst_.path());
  CommandResult plan = Import(dst_.path(), backup_, {"--all", "--dry-run", "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "") << "the dry run changed the target";
  CommandResult real = Import(dst_.path(), backup_, {"--all", "--json"});
  ASSERT_EQ(real.exit_code, 0) << real.err;
  EXPECT_EQ(AsRealRun(plan.out), real.out);
  EXPECT_NE(plan.out.find("/srv/vpopmail/domains/big.example/1/user250"), std::string::npos);
  EXPECT_NE(plan.out.find("\"action\":\"replace\""), std::string::npos) << plan.out;  // control/me
}

TEST_F(ServerBackupTest, MailboxRestoreBringsBackExactlyTheDeletedMessages) {
  ASSERT_EQ(Import(dst_.path(), backup_, {"--all"}).exit_code, 0);
  std::string home = TargetHomeDisk(dst_.path()) + "/domains/example.com/alice";
  std::string src_home = SourceHomeDisk(src_.path()) + "/domains/example.com/alice";
  const std::string deleted1 = "Maildir/new/1795424452.28218.mail.example.com,S=462";
  const std::string deleted2 = "Maildir/.Sent/cur/1795424451.28211.mail.example.com,S=558:2,S";
  const std::string reflagged = "Maildir/cur/1795424448.28190.mail.example.com,S=675:2,S";
  ASSERT_TRUE(fs::exists(home + "/" + deleted1));
  ASSERT_TRUE(fs::exists(home + "/" + deleted2));
  fs::remove(home + "/" + deleted1);
  fs::remove(home + "/" + deleted2);
  // The user read and answered a message since: same message, new name.
  fs::rename(home + "/" + reflagged, home + "/Maildir/cur/1795424448.28190.mail.example.com,S=675:2,RS");
  std::string maildirsize = ReadFile(home + "/Maildir/maildirsize");
  auto before = TreeDigest(dst_.path());

  CommandResult plan = Import(dst_.path(), backup_, {"--domain", "example.com", "--user", "alice", "--dry-run", "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "") << "the dry run changed the target";

  CommandResult r = Import(dst_.path(), backup_, {"--domain", "example.com", "--user", "alice", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(AsRealRun(plan.out), r.out);
  EXPECT_NE(r.out.find("\"restored_messages\":2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"Maildir/cur/1795424448.28190.mail.example.com,S=675:2,S\""), std::string::npos)
      << "the re-flagged message must be reported as already there";

  auto after = TreeDigest(dst_.path());
  std::string rel_home = std::string(kTargetHome).substr(1) + "/domains/example.com/alice/";
  // Exactly the two deleted messages came back, byte for byte with their mtimes.
  for (const std::string& f : {deleted1, deleted2}) {
    SCOPED_TRACE(f);
    auto it = after.find(rel_home + f);
    ASSERT_NE(it, after.end());
    EXPECT_EQ(ReadFile(home + "/" + f), ReadFile(src_home + "/" + f));
    EXPECT_EQ(StatLine(home + "/" + f), StatLine(src_home + "/" + f));
  }
  for (const auto& [path, line] : after) {
    if (before.count(path)) continue;
    EXPECT_TRUE(path == rel_home + deleted1 || path == rel_home + deleted2) << "unexpected new entry " << path;
  }
  // Everything else untouched, but the dirs that received a file and the
  // Maildir++ quota, which counts what came back.
  std::set<std::string> may_change = {rel_home + "Maildir/new", rel_home + "Maildir/.Sent/cur",
                                      rel_home + "Maildir/maildirsize"};
  for (const auto& [path, line] : before) {
    auto it = after.find(path);
    ASSERT_NE(it, after.end()) << "removed: " << path;
    if (!may_change.count(path)) {
      EXPECT_EQ(it->second, line) << path;
    }
  }
  EXPECT_EQ(ReadFile(home + "/Maildir/maildirsize"), maildirsize + "1020 2\n");

  // Again: nothing left to restore, nothing changes.
  auto settled = TreeDigest(dst_.path());
  CommandResult again = Import(dst_.path(), backup_, {"--domain", "example.com", "--user", "alice"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("restored 0 messages"), std::string::npos) << again.out;
  EXPECT_EQ(DigestDiff(settled, TreeDigest(dst_.path())), "");
}

TEST_F(ServerBackupTest, MailboxRestoreIntoANewFolderLeavesTheMailboxAlone) {
  ASSERT_EQ(Import(dst_.path(), backup_, {"--all"}).exit_code, 0);
  std::string home = TargetHomeDisk(dst_.path()) + "/domains/example.com/alice";
  auto before = TreeDigest(home + "/Maildir");
  CommandResult r = Import(dst_.path(), backup_,
                           {"--domain", "example.com", "--user", "alice", "--into-folder", "Restored-2026-11-23"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto after = TreeDigest(home + "/Maildir");
  for (const auto& [path, line] : before) {
    auto it = after.find(path);
    ASSERT_NE(it, after.end()) << path;
    if (path != "maildirsize" && path != "subscriptions") {
      EXPECT_EQ(it->second, line) << path;
    }
  }
  // The new folders are subscribed (alice's IMAP server is Dovecot), after
  // the folders she had.
  EXPECT_EQ(ReadFile(home + "/Maildir/subscriptions"),
            "Sent\nTrash\nDrafts\nRestored-2026-11-23\nRestored-2026-11-23.Sent\nRestored-2026-11-23.Trash\n");
  // The restored mail counts against the quota: one Maildir++ delta line.
  EXPECT_EQ(Lines(ReadFile(home + "/Maildir/maildirsize")).back(), "3777 6");
  std::string folder = home + "/Maildir/.Restored-2026-11-23";
  EXPECT_TRUE(fs::exists(folder + "/maildirfolder"));
  EXPECT_TRUE(fs::is_directory(folder + "/tmp"));
  EXPECT_TRUE(fs::exists(folder + "/new/1795424452.28218.mail.example.com,S=462"));
  EXPECT_TRUE(fs::exists(home + "/Maildir/.Restored-2026-11-23.Sent/cur/1795424451.28211.mail.example.com,S=558:2,S"));
  EXPECT_TRUE(fs::exists(home + "/Maildir/.Restored-2026-11-23.Sent/maildirfolder"));
  EXPECT_FALSE(fs::exists(folder + "/dovecot-uidlist")) << "index files describe the old folder";
  CommandResult bad = Import(dst_.path(), backup_, {"--domain", "example.com", "--user", "alice", "--into-folder", "../x"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

TEST_F(ServerBackupTest, MailboxRestoreNeedsTheAccountOnTheTarget) {
  auto before = TreeDigest(dst_.path());
  CommandResult r = Import(dst_.path(), backup_, {"--domain", "example.com", "--user", "alice"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(ServerBackupTest, ExcludeAndDomainListChooseWhatTheBackupHolds) {
  CommandResult e = RunVmigrate(Concat({"export", "--all", "--exclude", "big.example", "-o", work_ / "part.tar.zst"},
                                       SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = RunVmigrate({"inspect", work_ / "part.tar.zst", "--json"});
  EXPECT_EQ(i.out.find("big.example"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("example.net"), std::string::npos) << i.out;

  WriteFile(work_ / "list", "# just these\nbig.example\n\n");
  e = RunVmigrate(Concat({"export", "--all", "--domains-from", work_ / "list", "-o", work_ / "big.tar.zst"},
                         SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  i = RunVmigrate({"inspect", work_ / "big.tar.zst", "--json"});
  EXPECT_EQ(i.out.find("example.net"), std::string::npos) << i.out;

  e = RunVmigrate(Concat({"export", "--all", "--exclude", "typo.test", "-o", work_ / "x.tar.zst"},
                         SourceFlags(src_.path())));
  EXPECT_EQ(e.exit_code, 7) << "a typo must not silently leave a domain out";
  EXPECT_FALSE(fs::exists(work_ / "x.tar.zst"));
}

TEST_F(ServerBackupTest, BatchGoesOnAfterABrokenArchiveAndReportsIt) {
  std::string dir = work_ / "each";
  fs::create_directories(dir);
  CommandResult e = RunVmigrate(Concat({"export", "--each", "example.com", "nosuch.test", "example.net",
                                        "big.example", "-o", dir, "--json"},
                                       SourceFlags(src_.path())));
  EXPECT_EQ(e.exit_code, 4) << e.err;
  auto lines = Lines(e.out);
  ASSERT_EQ(lines.size(), 5u) << e.out;
  EXPECT_NE(lines[1].find("\"domain\":\"nosuch.test\",\"status\":\"error\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[4].find("\"ok\":3,\"failed\":1,\"exit\":4"), std::string::npos) << lines[4];

  // Break the middle archive: cut it in half.
  std::string broken = ReadFile(dir + "/example.net.tar.zst");
  WriteFile(dir + "/example.net.tar.zst", broken.substr(0, broken.size() / 2));
  CommandResult r = Import(dst_.path(), dir + "/example.com.tar.zst",
                           {dir + "/example.net.tar.zst", dir + "/big.example.tar.zst", "--json"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_NE(lines[0].find("\"domain\":\"example.com\",\"status\":\"ok\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"status\":\"error\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("example.net.tar.zst"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("\"domain\":\"big.example\",\"status\":\"ok\""), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("\"type\":\"summary\",\"ok\":2,\"failed\":1,\"exit\":4"), std::string::npos) << lines[3];
  Owner owner = HomeOwner(dst_.path());
  ExpectImportedLikeSource(Mapping("example.com", src_.path(), dst_.path()), {"example.org"}, owner);
  ExpectImportedLikeSource(Mapping("big.example", src_.path(), dst_.path()), {}, owner);
  EXPECT_FALSE(fs::exists(TargetHomeDisk(dst_.path()) + "/domains/example.net"));

  // Nothing done at all: exit 1.
  CommandResult none = Import(dst_.path(), dir + "/example.net.tar.zst", {dir + "/example.com.tar.zst"});
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
}

}  // namespace
}  // namespace vmigrate::testing::cli
