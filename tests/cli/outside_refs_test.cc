// Issue 12, kind 4: references that leave the domain. real-small's
// example.com gets aliases, list config and symlinks whose host paths lead
// into example.net (another domain on the same host), into a user that is
// not in the archive, and outside vpopmail's home. Export, import and
// verify must carry them unchanged and report each one (file, line or
// link, path, reason); a path into a domain of the same server backup is
// rewritten for the new host instead.
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

const std::string kHome = kFixtureVpopmailHome;
const std::string kNet = kHome + "/domains/example.net";
const std::string kCom = kHome + "/domains/example.com";

// One report line as export, import and verify print it (after their prefix).
std::string Line(const std::string& where, const std::string& path, const std::string& what) {
  return "example.com: " + where + ": '" + path + "' " + what;
}
const std::string kOtherNet = "leads into domain example.net, which is not in the archive; carried unchanged";
const std::string kNotIn = "leads to a mailbox or directory that is not in the archive; carried unchanged";
const std::string kOutside = "is outside vpopmail's home; carried unchanged, it must exist on the new host";

// The variants, added to the source's example.com as an admin would have.
void AddReferences(const std::string& root) {
  const std::string com = root + kCom;
  auto write = [&](const std::string& rel, const std::string& text) {
    WriteFile(com + "/" + rel, text);
    chmod((com + "/" + rel).c_str(), 0600);
  };
  write(".qmail-support", kNet + "/tom/Maildir/\n");                      // another domain
  write(".qmail-ghost", kCom + "/ghost/Maildir/\n");                      // a user not in the archive
  write(".qmail-oldbox", "&tom@example.net\n/var/mail/tom\n");           // outside vpopmail's home
  write(".qmail-help", "|/usr/bin/autorespond 10000 5 " + kNet + "/HELP/message " + kNet + "/HELP\n");
  // Programs and their own files are not references: never reported.
  write(".qmail-filter", "|preline /usr/bin/maildrop /etc/mailfilter\n| " + kHome +
                             "/bin/vdelivermail '' bounce-no-mailbox\n");
  // An ezmlm list whose posting program works on another domain's list dir.
  ASSERT_EQ(mkdir((com + "/team").c_str(), 0700), 0);
  write("team/editor", "|/usr/bin/ezmlm-send '" + kNet + "/team'\n");
  ASSERT_EQ(symlink((kCom + "/team/editor").c_str(), (com + "/.qmail-team").c_str()), 0);  // inside
  ASSERT_EQ(symlink((kNet + "/.qmail-help").c_str(), (com + "/.qmail-nethelp").c_str()), 0);
  ASSERT_EQ(symlink("/srv/public", (com + "/alice/Maildir/.Public").c_str()), 0);
}

// The lines every run reports for the tree above, in any order.
std::vector<std::string> ExpectedLines() {
  return {
      Line(".qmail-support line 1", kNet + "/tom/Maildir/", kOtherNet),
      Line(".qmail-ghost line 1", kCom + "/ghost/Maildir/", kNotIn),
      Line(".qmail-oldbox line 2", "/var/mail/tom", kOutside),
      Line(".qmail-help line 1", kNet + "/HELP/message", kOtherNet),
      Line(".qmail-help line 1", kNet + "/HELP", kOtherNet),
      Line("team/editor line 1", kNet + "/team", kOtherNet),
      Line(".qmail-nethelp (symlink)", kNet + "/.qmail-help", kOtherNet),
      Line("user alice: Maildir/.Public (symlink)", "/srv/public", kOutside),
  };
}

// Each expected line appears once, as a whole line or followed by "; " and a note.
void ExpectReported(const std::string& output, const std::string& prefix) {
  for (const std::string& line : ExpectedLines()) {
    int found = 0;
    for (const std::string& out : Lines(output))
      found += out == prefix + line || out.rfind(prefix + line + "; ", 0) == 0;
    EXPECT_EQ(found, 1) << prefix + line << "\nin:\n" << output;
  }
  EXPECT_EQ(output.find(".qmail-filter"), std::string::npos) << output;
  EXPECT_EQ(output.find(".qmail-team"), std::string::npos) << output;
  EXPECT_EQ(output.find(".qmail-default"), std::string::npos) << output;
}

class OutsideRefsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    AddReferences(src_.path());
    MakeEmptyTarget(dst_.path());
    archive_ = work_ / "com.tar.zst";
  }

  std::string DstDomain() const { return TargetHomeDisk(dst_.path()) + "/domains/example.com"; }

  TempDir src_, dst_, work_;
  std::string archive_;
};

TEST_F(OutsideRefsCliTest, ExportReportsEachReferenceOnceAndExitsZero) {
  CommandResult e = Export(src_.path(), "example.com", archive_);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  ExpectReported(e.err, "vmigrate: export: warning: ");
}

TEST_F(OutsideRefsCliTest, ExportJsonListsTheReferences) {
  CommandResult e = Export(src_.path(), "example.com", archive_, {"--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("{\"domain\":\"example.com\",\"file\":\"files/.qmail-support\",\"line\":1,\"path\":\"" +
                       kNet + "/tom/Maildir/\",\"reason\":\"other_domain\",\"other_domain\":\"example.net\"}"),
            std::string::npos)
      << e.out;
  EXPECT_NE(e.out.find("{\"domain\":\"example.com\",\"file\":\"users/alice/Maildir/.Public\",\"line\":0,"
                       "\"path\":\"/srv/public\",\"reason\":\"outside_home\"}"),
            std::string::npos)
      << e.out;
}

TEST_F(OutsideRefsCliTest, ImportCarriesReferencesUnchangedAndRewritesTheRest) {
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  CommandResult i = Import(dst_.path(), archive_);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const std::string d = DstDomain();
  EXPECT_EQ(ReadFile(d + "/.qmail-support"), kNet + "/tom/Maildir/\n");
  EXPECT_EQ(ReadFile(d + "/.qmail-help"),
            "|/usr/bin/autorespond 10000 5 " + kNet + "/HELP/message " + kNet + "/HELP\n");
  EXPECT_EQ(ReadFile(d + "/team/editor"), "|/usr/bin/ezmlm-send '" + kNet + "/team'\n");
  EXPECT_EQ(fs::read_symlink(d + "/.qmail-nethelp").string(), kNet + "/.qmail-help");
  EXPECT_EQ(fs::read_symlink(d + "/alice/Maildir/.Public").string(), "/srv/public");
  // Inside the domain, and programs: rewritten for the new host as before.
  EXPECT_EQ(fs::read_symlink(d + "/.qmail-team").string(), std::string(kTargetHome) + "/domains/example.com/team/editor");
  EXPECT_EQ(ReadFile(d + "/.qmail-ghost"), kCom + "/ghost/Maildir/\n");  // reported, so verbatim too
  EXPECT_EQ(ReadFile(d + "/.qmail-filter"), "|preline /usr/bin/maildrop /etc/mailfilter\n| " +
                                                std::string(kTargetHome) + "/bin/vdelivermail '' bounce-no-mailbox\n");
}

TEST_F(OutsideRefsCliTest, ImportPlanAndSummaryListTheReferencesAndWhetherTheyExistHere) {
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  // The admin already made the old mbox path on the new host.
  fs::create_directories(dst_.path() + "/var/mail");
  WriteFile(dst_.path() + "/var/mail/tom", "");
  const std::string missing = "; it does not exist on this host";
  auto expect_listed = [&](const std::string& out) {
    EXPECT_TRUE(HasLine(out, "references that leave the domain (carried unchanged; fix them before cutover):")) << out;
    for (const std::string& line : ExpectedLines()) {
      bool here = line.find("/var/mail/tom") != std::string::npos;
      std::string want = "  " + line + (here ? "; it exists on this host" : missing);
      EXPECT_TRUE(HasLine(out, want)) << want << "\nnot in:\n" << out;
    }
    EXPECT_EQ(out.find(".qmail-filter"), std::string::npos) << out;
  };
  CommandResult plan = Import(dst_.path(), archive_, {"--dry-run"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  expect_listed(plan.out);
  CommandResult i = Import(dst_.path(), archive_);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  expect_listed(i.out);
}

TEST_F(OutsideRefsCliTest, ImportJsonListsTheReferencesWithTheirNote) {
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  for (const std::vector<std::string>& extra : {std::vector<std::string>{"--dry-run", "--json"},
                                                std::vector<std::string>{"--json"}}) {
    CommandResult i = Import(dst_.path(), archive_, extra);
    ASSERT_EQ(i.exit_code, 0) << i.err;
    EXPECT_NE(i.out.find("{\"domain\":\"example.com\",\"file\":\"files/.qmail-support\",\"line\":1,\"path\":\"" +
                         kNet + "/tom/Maildir/\",\"reason\":\"other_domain\",\"other_domain\":\"example.net\","
                         "\"note\":\"it does not exist on this host\"}"),
              std::string::npos)
        << i.out;
  }
}

// One domain restored from a server backup: the paths into example.net
// were rewritten for the new host, but this run does not bring example.net.
TEST_F(OutsideRefsCliTest, RestoringOneDomainOfAServerBackupReportsPathsIntoTheOthers) {
  CommandResult e = RunVmigrate(Concat({"export", "--all", "-o", archive_}, SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = Import(dst_.path(), archive_, {"--domain", "example.com"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const std::string now = std::string(kTargetHome) + "/domains/example.net/tom/Maildir/";
  std::string want = "  example.com: .qmail-support line 1: '" + kNet + "/tom/Maildir/' leads into domain example.net "
                     "(also in this archive); rewritten for the new host; this run does not restore example.net; "
                     "rewritten to '" + now + "', which does not exist on this host";
  EXPECT_TRUE(HasLine(i.out, want)) << want << "\nnot in:\n" << i.out;
  EXPECT_EQ(ReadFile(DstDomain() + "/.qmail-support"), now + "\n");
}

std::vector<std::string> VerifyArgs(const std::string& archive, const std::vector<std::string>& flags,
                                    const std::vector<std::string>& extra = {}) {
  return Concat(Concat({"verify", archive}, flags), extra);
}

// On the new host the aliases into example.net and /var/mail defer mail:
// verify says so from the installed .qmail files, and lists the recorded
// references with whether each exists here.
TEST_F(OutsideRefsCliTest, VerifyOnTheTargetReportsMissingDeliveryTargetsAndTheReferences) {
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  ASSERT_EQ(Import(dst_.path(), archive_).exit_code, 0);
  CommandResult v = RunVmigrate(VerifyArgs(archive_, TargetFlags(dst_.path())));
  EXPECT_EQ(v.exit_code, 3) << v.out << v.err;
  const std::string defer = "' does not exist on this host: mail to it is deferred";
  for (const std::string& line :
       {"vmigrate: verify: example.com: .qmail-support: line 1: delivery target '" + kNet + "/tom/Maildir/" + defer,
        "vmigrate: verify: example.com: .qmail-ghost: line 1: delivery target '" + kCom + "/ghost/Maildir/" + defer,
        std::string("vmigrate: verify: example.com: .qmail-oldbox: line 2: delivery target '/var/mail/tom' is in a "
                    "directory that does not exist on this host: mail to it is deferred")})
    EXPECT_TRUE(HasLine(v.out, line)) << line << "\nnot in:\n" << v.out;
  // Program arguments (.qmail-help) are not delivery targets.
  EXPECT_EQ(v.out.find(".qmail-help"), std::string::npos) << v.out;
  ExpectReported(v.err, "vmigrate: verify: warning: ");
  EXPECT_TRUE(HasLine(v.err, "vmigrate: verify: warning: " + ExpectedLines()[0] + "; it does not exist on this host"))
      << v.err;

  CommandResult j = RunVmigrate(VerifyArgs(archive_, TargetFlags(dst_.path()), {"--json"}));
  EXPECT_EQ(j.exit_code, 3);
  EXPECT_TRUE(HasLine(j.out, "{\"schema\":1,\"type\":\"outside_ref\",\"domain\":\"example.com\",\"file\":\"files/.qmail-support\","
                             "\"line\":1,\"path\":\"" + kNet + "/tom/Maildir/\",\"reason\":\"other_domain\","
                             "\"other_domain\":\"example.net\",\"note\":\"it does not exist on this host\"}"))
      << j.out;
}

// On the old host the alias into example.net works; what is missing there
// (the ghost user, /var/mail) is reported on both hosts.
TEST_F(OutsideRefsCliTest, VerifyOnTheSourceFindsOnlyWhatIsMissingThere) {
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  CommandResult v = RunVmigrate(VerifyArgs(archive_, SourceFlags(src_.path())));
  EXPECT_EQ(v.exit_code, 3) << v.out << v.err;
  EXPECT_EQ(v.out.find(".qmail-support"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("example.com: .qmail-ghost: line 1: delivery target"), std::string::npos) << v.out;
  EXPECT_TRUE(HasLine(v.err, "vmigrate: verify: warning: " + ExpectedLines()[0] + "; it exists on this host")) << v.err;
  // With those two fixed, the source verifies clean.
  ASSERT_TRUE(fs::remove(src_.path() + kCom + "/.qmail-ghost"));
  fs::create_directories(src_.path() + "/var/mail");
  ASSERT_EQ(Export(src_.path(), "example.com", archive_, {"--force"}).exit_code, 0);
  v = RunVmigrate(VerifyArgs(archive_, SourceFlags(src_.path())));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// The check reads the installed files, so it also catches what an older
// vmigrate did: rewrite the alias to the new vpopmail home.
TEST_F(OutsideRefsCliTest, VerifyChecksInstalledDotQmailFilesWhateverTheArchiveSays) {
  UnpackFixture("real-small", work_.path());  // an untouched example.com
  std::string plain = dst_ / "plain.tar.zst";
  ASSERT_EQ(Export(work_.path(), "example.com", plain).exit_code, 0);
  ASSERT_EQ(Import(dst_.path(), plain).exit_code, 0);
  CommandResult v = RunVmigrate(VerifyArgs(plain, TargetFlags(dst_.path())));
  ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
  const std::string moved = std::string(kTargetHome) + "/domains/example.net/tom/Maildir/";
  WriteFile(DstDomain() + "/carol/.qmail", "&carol.chen@gmail.test\n" + moved);
  v = RunVmigrate(VerifyArgs(plain, TargetFlags(dst_.path())));
  EXPECT_EQ(v.exit_code, 3);
  EXPECT_TRUE(HasLine(v.out, "vmigrate: verify: example.com: user carol: .qmail: line 2: delivery target '" + moved +
                                 "' does not exist on this host: mail to it is deferred"))
      << v.out;
}

// A server backup carries example.net too: the alias into it is rewritten
// for the new host, where example.net lands, and is not reported as leaving.
TEST_F(OutsideRefsCliTest, ServerBackupRewritesReferencesIntoItsOwnDomains) {
  CommandResult e = RunVmigrate(Concat({"export", "--all", "-o", archive_}, SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.err.find("example.net, which is not in the archive"), std::string::npos) << e.err;
  EXPECT_TRUE(HasLine(e.err, "vmigrate: export: warning: " + Line(".qmail-oldbox line 2", "/var/mail/tom", kOutside)))
      << e.err;
  CommandResult i = Import(dst_.path(), archive_, {"--all"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const std::string support = ReadFile(DstDomain() + "/.qmail-support");
  EXPECT_EQ(support, std::string(kTargetHome) + "/domains/example.net/tom/Maildir/\n");
  EXPECT_TRUE(fs::is_directory(dst_.path() + support.substr(0, support.size() - 1))) << support;
  EXPECT_EQ(fs::read_symlink(DstDomain() + "/.qmail-nethelp").string(),
            std::string(kTargetHome) + "/domains/example.net/.qmail-help");
  // Nothing about example.net in the summary: it came along.
  EXPECT_EQ(i.out.find("example.net/tom"), std::string::npos) << i.out;
}

// Left out with --exclude, example.net is not in the archive any more.
TEST_F(OutsideRefsCliTest, ServerBackupReportsReferencesIntoExcludedDomains) {
  CommandResult e = RunVmigrate(
      Concat({"export", "--all", "--exclude", "example.net", "-o", archive_}, SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  ExpectReported(e.err, "vmigrate: export: warning: ");
}

}  // namespace
}  // namespace vmigrate::testing::cli
