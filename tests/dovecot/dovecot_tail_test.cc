// Real-server test of add-only ("tail") deltas (issue 14): real-small's
// example.com is moved with a full export (--state-out) and import, and the
// new host is served by a real Dovecot (which assigns IMAP UIDs, writes
// dovecot-uidlist and its indexes, and moves what POP3 served from new/ to
// cur/). Then mail that reached the old host late goes over with a tail.
// Served again, the new host must keep every UID and UIDL it gave before
// and show the new messages too.
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

bool Has(const std::vector<std::string>& lines, const std::string& line) {
  for (const auto& l : lines)
    if (l == line) return true;
  return false;
}

TEST(DovecotTailTest, ATailKeepsTheUidsAndUidlsTheNewHostGaveAndAddsTheNewMail) {
  if (!DovecotInstalled())
    GTEST_SKIP() << "\n*** DOVECOT IS NOT INSTALLED (" << kDovecotBinary << " missing): the "
                 << "real-server test did NOT run. ***\n";
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  cli::MakeEmptyTarget(dst.path());
  CommandResult e = cli::Export(src.path(), "example.com", work / "full.vma", {"--state-out", work / "s0.state"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = cli::Import(dst.path(), work / "full.vma");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  std::vector<ManifestUser> users;
  for (const auto& u : ParseManifestUsers(ReadFile(FixtureDir() + "/real-small.MANIFEST")))
    if (u.domain == "example.com") users.push_back(u);

  // The new host is live: Dovecot serves it (UIDs given, POP3 moves new/ to cur/).
  MailSnapshot before;
  ServeAndSnapshot(dst.path(), kTargetQmail, users, work / "dovecot-before", &before);
  ASSERT_FALSE(HasFatalFailure());

  // Mail that reached the old host late.
  const std::string d = cli::SourceDomainDisk(src.path());
  std::string m1 = cli::Deliver(d + "/alice/Maildir", "alice@example.com", 1795900001, 61001, "late one");
  std::string m2 = cli::Deliver(d + "/carol/Maildir", "carol@example.com", 1795900002, 61002, "late two");
  ASSERT_FALSE(HasFatalFailure());
  CommandResult t = cli::ExportSince(src.path(), "example.com", work / "s0.state", work / "t.vmd", {"--add-only"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  CommandResult a = cli::Import(dst.path(), work / "t.vmd");
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;

  MailSnapshot after;
  ServeAndSnapshot(dst.path(), kTargetQmail, users, work / "dovecot-after", &after);
  ASSERT_FALSE(HasFatalFailure());
  size_t kept = 0;
  for (const auto& [user, lines] : before) {
    for (const auto& l : lines) {
      bool uid_line = l.find(" body UID ") != std::string::npos || l.rfind("pop3 uidl ", 0) == 0;
      if (!uid_line) continue;
      ++kept;
      EXPECT_TRUE(Has(after[user], l)) << user << ": after the tail Dovecot no longer serves [" << l << "]\n"
                                       << Join(after[user]);
    }
  }
  EXPECT_GT(kept, 10u) << "the comparison saw hardly any UIDs";
  bool seen1 = false, seen2 = false;
  for (const auto& l : after["alice@example.com"]) seen1 |= l.rfind("pop3 uidl ", 0) == 0 && l.find(m1) != std::string::npos;
  for (const auto& l : after["carol@example.com"]) seen2 |= l.rfind("pop3 uidl ", 0) == 0 && l.find(m2) != std::string::npos;
  EXPECT_TRUE(seen1) << Join(after["alice@example.com"]);
  EXPECT_TRUE(seen2) << Join(after["carol@example.com"]);
}

}  // namespace
}  // namespace vmigrate::testing::dovecot
