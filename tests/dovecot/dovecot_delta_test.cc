// Real-server test of incremental sync (issue 13): real-small's example.com
// is moved with a full export/import; the source keeps living (round 1 of
// cli/delta_fixture.h) and is served by a real Dovecot, which assigns IMAP
// UIDs to the new mail, writes dovecot-uidlist and its indexes, and (POP3)
// moves what it served from new/ to cur/. Then one delta brings the target
// up to date. The source served a second time and the target served for
// the first time must give every client the same UIDLs, UIDs,
// UIDVALIDITYs, flags, sizes, dates and bytes.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "cli/delta_fixture.h"
#include "dovecot/dovecot_server.h"
#include "dovecot/mail_snapshot.h"
#include "support/test_support.h"

namespace vmigrate::testing::dovecot {
namespace {

using cli::kTargetQmail;

// example.com's users after round 1: heidi gone, nina new (alice's
// password), bob with dave's password.
std::vector<ManifestUser> UsersAfterRound1() {
  std::vector<ManifestUser> out;
  std::string dave;
  auto all = ParseManifestUsers(ReadFile(FixtureDir() + "/real-small.MANIFEST"));
  for (const auto& u : all)
    if (u.email == "dave@example.com") dave = u.password;
  for (auto u : all) {
    if (u.domain != "example.com" || u.email == "heidi@example.com") continue;
    if (u.email == "bob@example.com") u.password = dave;
    if (u.email == "alice@example.com") out.push_back({"nina@example.com", "example.com", u.password});
    out.push_back(u);
  }
  return out;
}

TEST(DovecotDeltaTest, AfterFullImportAndADeltaClientsSeeTheSameUidsAndUidls) {
  if (!DovecotInstalled())
    GTEST_SKIP() << "\n*** DOVECOT IS NOT INSTALLED (" << kDovecotBinary << " missing): the "
                 << "real-server test did NOT run. ***\n";
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  cli::MakeEmptyTarget(dst.path());
  CommandResult e = cli::Export(src.path(), "example.com", work / "full.vma");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = cli::Import(dst.path(), work / "full.vma");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  CommandResult st = cli::State(cli::TargetFlags(dst.path()), "example.com", work / "1.state");
  ASSERT_EQ(st.exit_code, 0) << st.err;

  // The old host lives on: mail, clients, admin changes, and Dovecot serving it.
  cli::Round1 r1;
  cli::ApplyRound1(src.path(), &r1);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<ManifestUser> users = UsersAfterRound1();
  ASSERT_EQ(users.size(), 13u);
  MailSnapshot live;
  ServeAndSnapshot(src.path(), kFixtureQmailDir, users, work / "dovecot-live", &live);
  ASSERT_FALSE(HasFatalFailure());
  bool nina_seen = false;
  for (const auto& l : live["nina@example.com"])
    if (l.rfind("pop3 uidl ", 0) == 0 && l.find(r1.nina_new) != std::string::npos) nina_seen = true;
  EXPECT_TRUE(nina_seen) << "nina's message was not served on the source:\n" << Join(live["nina@example.com"]);

  CommandResult d = cli::ExportSince(src.path(), "example.com", work / "1.state", work / "1.vmd");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  CommandResult a = cli::Import(dst.path(), work / "1.vmd");
  ASSERT_EQ(a.exit_code, 0) << a.err;

  MailSnapshot source, target;
  ServeAndSnapshot(src.path(), kFixtureQmailDir, users, work / "dovecot-source", &source);
  ASSERT_FALSE(HasFatalFailure());
  ServeAndSnapshot(dst.path(), kTargetQmail, users, work / "dovecot-target", &target);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::string> diffs = CompareSnapshots(source, target);
  EXPECT_TRUE(diffs.empty()) << "Dovecot serves different mail after full import + delta:\n" << Join(diffs);
  size_t uid_lines = 0;
  for (const auto& [user, lines] : target)
    for (const auto& l : lines)
      if (l.find("UID ") != std::string::npos || l.rfind("pop3 uidl ", 0) == 0) ++uid_lines;
  EXPECT_GT(uid_lines, 10u) << "the comparison saw hardly any UIDs";
}

}  // namespace
}  // namespace vmigrate::testing::dovecot
