// End to end: `vmigrate verify` after export/import round trips of the real
// fixtures (no differences, exit 0), on the source tree right after export
// (exit 0: the archive is complete), and after one precise damage each
// (exit 3 and a line naming the user and the file).
#include <fcntl.h>
#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"
#include "verify/verifier.h"
#include "vpopmail/password.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

struct FixtureDomain {
  const char* fixture;
  const char* domain;
};
constexpr FixtureDomain kAllDomains[] = {
    {"real-small", "example.com"}, {"real-small", "example.net"}, {"real-hashed", "big.example"}};

// Lines of `text` that contain `needle`.
std::string LinesWith(const std::string& text, const std::string& needle) {
  std::string out;
  for (const auto& l : Lines(text))
    if (l.find(needle) != std::string::npos) out += l + "\n";
  return out;
}

// "email -> password" from the ## users section of a fixture MANIFEST.
std::map<std::string, std::string> ManifestPasswords(const std::string& fixture) {
  std::map<std::string, std::string> out;
  std::ifstream in(FixtureDir() + "/" + fixture + ".MANIFEST");
  std::string line;
  bool users = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) users = line.rfind("## users", 0) == 0;
    if (!users || line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    size_t pos = 0;
    for (size_t tab = line.find('\t'); tab != std::string::npos; tab = line.find('\t', pos)) {
      f.push_back(line.substr(pos, tab - pos));
      pos = tab + 1;
    }
    f.push_back(line.substr(pos));
    if (f.size() > 3) out[f[0]] = f[3];
  }
  return out;
}

class VerifyCliTest : public ::testing::Test {
 protected:
  // Exports `domain` from `fixture` and imports it into an empty target.
  void RoundTrip(const std::string& fixture, const std::string& domain) {
    UnpackFixture(fixture, src_.path());
    MakeEmptyTarget(dst_.path());
    archive_ = work_ / (domain + ".vma");
    domain_ = domain;
    CommandResult e = Export(src_.path(), domain, archive_);
    ASSERT_EQ(e.exit_code, 0) << e.err;
    CommandResult i = Import(dst_.path(), archive_);
    ASSERT_EQ(i.exit_code, 0) << i.err;
    dir_ = TargetHomeDisk(dst_.path()) + "/domains/" + domain;
  }

  CommandResult VerifyTarget(const std::vector<std::string>& extra = {}) {
    return RunVmigrate(Concat(Concat({"verify", archive_}, TargetFlags(dst_.path())), extra));
  }

  // Expects exit 3 and a difference line for `user` (empty: domain level) and `path`
  // whose text contains `what`.
  void ExpectDifference(const CommandResult& r, const std::string& user, const std::string& path,
                        const std::string& what) {
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    std::string prefix = "vmigrate: verify: " + domain_ + ": " + (user.empty() ? "" : "user " + user + ": ") +
                         path + ": ";
    std::string hits = LinesWith(r.out, prefix);
    EXPECT_NE(hits.find(what), std::string::npos)
        << "no line starting '" << prefix << "' saying '" << what << "' in\n" << r.out << r.err;
  }

  // Sets the mtime of `path` (with nanoseconds), as a damage that keeps the rest.
  static void SetMtime(const std::string& path, const struct timespec& t) {
    struct timespec times[2] = {t, t};
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
  }
  static struct timespec Mtime(const std::string& path) {
    struct stat st;
    lstat(path.c_str(), &st);
    return st.st_mtim;
  }

  // The first file of a Maildir sub-directory.
  static std::string FirstFile(const std::string& dir) {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) return e.path().filename().string();
    ADD_FAILURE() << "no file in " << dir;
    return "";
  }

  TempDir src_, dst_, work_;
  std::string archive_, domain_, dir_;
};

// --- no differences ----------------------------------------------------------

TEST_F(VerifyCliTest, RoundTripOfEveryFixtureDomainVerifiesWithoutDifferences) {
  for (const auto& fd : kAllDomains) {
    SCOPED_TRACE(fd.domain);
    TempDir src, dst, work;
    UnpackFixture(fd.fixture, src.path());
    MakeEmptyTarget(dst.path());
    std::string archive = work / "a.vma";
    ASSERT_EQ(Export(src.path(), fd.domain, archive).exit_code, 0);
    ASSERT_EQ(Import(dst.path(), archive).exit_code, 0);
    CommandResult r = RunVmigrate(Concat({"verify", archive}, TargetFlags(dst.path())));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(std::string(fd.domain) + ": no differences"), std::string::npos) << r.out;
    EXPECT_EQ(LinesWith(r.out, "vmigrate: verify:"), "") << r.out;
  }
}

TEST_F(VerifyCliTest, SourceTreeRightAfterExportVerifiesWithoutDifferences) {
  for (const auto& fd : kAllDomains) {
    SCOPED_TRACE(fd.domain);
    TempDir src, work;
    UnpackFixture(fd.fixture, src.path());
    std::string archive = work / "a.vma";
    ASSERT_EQ(Export(src.path(), fd.domain, archive).exit_code, 0);
    auto before = TreeDigest(src.path());
    CommandResult r = RunVmigrate(Concat({"verify", archive}, SourceFlags(src.path())));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(LinesWith(r.out, "vmigrate: verify:"), "") << r.out;
    EXPECT_EQ(DigestDiff(before, TreeDigest(src.path())), "") << "verify must not change the tree";
  }
}

TEST_F(VerifyCliTest, BothDomainsOfOneTargetVerifyAgainstTheirOwnArchives) {
  RoundTrip("real-small", "example.com");
  std::string net = work_ / "net.vma";
  ASSERT_EQ(Export(src_.path(), "example.net", net).exit_code, 0);
  ASSERT_EQ(Import(dst_.path(), net).exit_code, 0);
  EXPECT_EQ(VerifyTarget().exit_code, 0);
  CommandResult r = RunVmigrate(Concat({"verify", net}, TargetFlags(dst_.path())));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(VerifyCliTest, ArchiveFromStdinVerifies) {
  RoundTrip("real-small", "example.com");
  CommandResult r = RunVmigrate(Concat({"verify", "-"}, TargetFlags(dst_.path())), archive_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// --- damage: exit 3 and the exact difference ------------------------------------

TEST_F(VerifyCliTest, OneFlippedMessageByteIsReportedByUserAndFile) {
  RoundTrip("real-small", "example.com");
  std::string rel = "Maildir/cur/" + FirstFile(dir_ + "/alice/Maildir/cur");
  std::string path = dir_ + "/alice/" + rel;
  struct timespec t = Mtime(path);
  std::string bytes = ReadFile(path);
  bytes[bytes.size() / 2] ^= 0x01;
  WriteFile(path, bytes);
  SetMtime(path, t);  // only the content differs
  CommandResult r = VerifyTarget();
  ExpectDifference(r, "alice", rel, "SHA-256 differs");
  EXPECT_EQ(LinesWith(r.out, "vmigrate: verify:"),
            "vmigrate: verify: example.com: user alice: " + rel + ": SHA-256 differs: the content changed\n");
}

TEST_F(VerifyCliTest, RemovedAliasFileIsReported) {
  RoundTrip("real-small", "example.com");
  ASSERT_TRUE(fs::remove(dir_ + "/.qmail-info"));
  CommandResult r = VerifyTarget();
  ExpectDifference(r, "", ".qmail-info", "missing");
}

TEST_F(VerifyCliTest, RenamedMaildirFileIsReportedAsMissingAndExtraAndChangesItsUidl) {
  RoundTrip("real-small", "example.com");
  std::string name = FirstFile(dir_ + "/alice/Maildir/new");
  std::string renamed = "1700000000.1.renamed.example,S=1";
  fs::rename(dir_ + "/alice/Maildir/new/" + name, dir_ + "/alice/Maildir/new/" + renamed);
  CommandResult r = VerifyTarget({"--uidl"});
  ExpectDifference(r, "alice", "Maildir/new/" + name, "missing");
  ExpectDifference(r, "alice", "Maildir/new/" + renamed, "not in the archive");
  EXPECT_NE(r.out.find("user alice: INBOX: would change: POP3 UIDL " + name), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("user alice: INBOX: 4 messages, 3 POP3 UIDLs kept"), std::string::npos) << r.out;
}

TEST_F(VerifyCliTest, ChangedMtimeIsReportedWithNanoseconds) {
  RoundTrip("real-small", "example.com");
  std::string rel = "Maildir/.Sent/cur/" + FirstFile(dir_ + "/alice/Maildir/.Sent/cur");
  std::string path = dir_ + "/alice/" + rel;
  struct timespec t = Mtime(path);
  struct timespec later = {t.tv_sec, 123456789};
  SetMtime(path, later);
  CommandResult r = VerifyTarget();
  // ISO 8601 UTC, to the nanosecond.
  char day[40];
  time_t sec = t.tv_sec;
  struct tm tm;
  strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", gmtime_r(&sec, &tm));
  ExpectDifference(r, "alice", rel, std::string("mtime ") + day + ".000000000Z in the archive, " + day +
                                        ".123456789Z installed");
  EXPECT_EQ(LinesWith(r.out, "vmigrate: verify:").size(), LinesWith(r.out, rel).size()) << r.out;
}

TEST_F(VerifyCliTest, ChangedVpasswdFieldIsReported) {
  RoundTrip("real-small", "example.com");
  std::string pw = ReadFile(dir_ + "/vpasswd");
  ASSERT_NE(pw.find(":2000000S,500C:"), std::string::npos);
  WriteFile(dir_ + "/vpasswd", ReplaceAll(pw, ":2000000S,500C:", ":3000000S,500C:"));
  CommandResult r = VerifyTarget();
  ExpectDifference(r, "grace", "vpasswd", "quota '2000000S,500C' in the archive, '3000000S,500C' installed");
  pw = ReadFile(dir_ + "/vpasswd");
  WriteFile(dir_ + "/vpasswd", ReplaceAll(pw, ":Heidi Hall:", ":Heidi H:"));
  r = VerifyTarget();
  ExpectDifference(r, "heidi", "vpasswd", "gecos 'Heidi Hall' in the archive, 'Heidi H' installed");
}

TEST_F(VerifyCliTest, HashThatNoLongerVerifiesTheCleartextIsReported) {
  RoundTrip("real-small", "example.com");
  auto pw = vpopmail::ReadVpasswd(dir_ + "/vpasswd");
  ASSERT_TRUE(pw.ok());
  std::string text = ReadFile(dir_ + "/vpasswd");
  for (const auto& e : *pw)
    if (e.name == "bob") text = ReplaceAll(text, e.passwd, "$1$aaaaaaaa$bbbbbbbbbbbbbbbbbbbbbb");
  WriteFile(dir_ + "/vpasswd", text);
  CommandResult r = VerifyTarget();
  ExpectDifference(r, "bob", "vpasswd", "password hash differs");
  ExpectDifference(r, "bob", "vpasswd", "does not verify against the installed hash");
}

TEST_F(VerifyCliTest, MissingAliasDomainRegistrationIsReported) {
  RoundTrip("real-small", "example.com");
  std::string virt = TargetQmailDisk(dst_.path()) + "/control/virtualdomains";
  WriteFile(virt, ReplaceAll(ReadFile(virt), "example.org:example.org\n", ""));
  CommandResult r = VerifyTarget();
  ExpectDifference(r, "", std::string(kTargetQmail) + "/control/virtualdomains",
                   "example.org: no 'example.org:example.org' line");
}

TEST_F(VerifyCliTest, ExtraFileInAHomeIsReported) {
  RoundTrip("real-small", "example.com");
  WriteFile(dir_ + "/carol/Maildir/new/1800000000.9.intruder,S=3", "abc");
  CommandResult r = VerifyTarget();
  ExpectDifference(r, "carol", "Maildir/new/1800000000.9.intruder,S=3", "not in the archive");
}

// --- JSON, UIDL report, passwords, errors --------------------------------------

TEST_F(VerifyCliTest, JsonPrintsOneObjectPerDifferenceThenASummary) {
  RoundTrip("real-small", "example.com");
  ASSERT_TRUE(fs::remove(dir_ + "/.qmail-sales"));
  CommandResult r = VerifyTarget({"--json"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  auto lines = Lines(r.out);
  ASSERT_FALSE(lines.empty());
  for (const auto& l : lines) EXPECT_TRUE(l.front() == '{' && l.back() == '}') << l;
  EXPECT_NE(r.out.find("{\"schema\":1,\"type\":\"difference\",\"domain\":\"example.com\",\"user\":\"\",\"path\":"
                       "\".qmail-sales\",\"what\":\"missing (a file in the archive)\"}"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(lines.back().rfind("{\"schema\":1,\"type\":\"summary\",\"status\":\"differences\"", 0), 0u) << lines.back();
  EXPECT_NE(lines.back().find("\"exit\":3"), std::string::npos) << lines.back();

  CommandResult ok = RunVmigrate(Concat({"verify", archive_, "--json"}, SourceFlags(src_.path())));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(Lines(ok.out).back().find("\"status\":\"ok\""), std::string::npos) << ok.out;
}

TEST_F(VerifyCliTest, UidlReportKeepsEveryUidlAndImapUidAfterARoundTrip) {
  RoundTrip("real-small", "example.com");
  CommandResult r = VerifyTarget({"--uidl"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(LinesWith(r.out, "would change"), "") << r.out;
  for (const char* line :
       {"uidl: example.com: user alice: INBOX: 4 messages, 4 POP3 UIDLs kept, POP3 order kept, 4 IMAP UIDs kept (dovecot-uidlist)",
        "uidl: example.com: user alice: Sent: 1 messages, 1 POP3 UIDLs kept, 1 IMAP UIDs kept (dovecot-uidlist)",
        "uidl: example.com: user alice: Trash: 1 messages, 1 POP3 UIDLs kept, 1 IMAP UIDs kept (dovecot-uidlist)",
        "uidl: example.com: user alice: Drafts: 0 messages, 0 POP3 UIDLs kept, 0 IMAP UIDs kept (no UID list)",
        "uidl: example.com: user bob: INBOX: 2 messages, 2 POP3 UIDLs kept, POP3 order kept, 2 IMAP UIDs kept (courierimapuiddb)",
        "uidl: example.com: user bob: Trash: 1 messages, 1 POP3 UIDLs kept, 1 IMAP UIDs kept (courierimapuiddb)",
        "uidl: example.com: user postmaster: INBOX: 2 messages, 2 POP3 UIDLs kept, POP3 order kept, 2 IMAP UIDs kept (no UID list)"})
    EXPECT_TRUE(HasLine(r.out, line)) << line << "\nnot in\n" << r.out;
}

TEST_F(VerifyCliTest, UidlReportShowsAChangedImapUidAndPop3Order) {
  RoundTrip("real-small", "example.com");
  std::string uidlist = dir_ + "/alice/Maildir/dovecot-uidlist";
  struct timespec t = Mtime(uidlist);
  WriteFile(uidlist, ReplaceAll(ReadFile(uidlist), "\n5 :", "\n9 :"));
  SetMtime(uidlist, t);
  std::string msg = dir_ + "/alice/Maildir/cur/" + FirstFile(dir_ + "/alice/Maildir/cur");
  SetMtime(msg, {2000000000, 0});
  CommandResult r = VerifyTarget({"--uidl", "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  std::string inbox = LinesWith(LinesWith(r.out, "\"type\":\"uidl\""), "\"user\":\"alice\",\"folder\":\"INBOX\"");
  EXPECT_NE(inbox.find("\"messages\":4,\"uidl_kept\":4,\"pop3_order_kept\":false"), std::string::npos) << inbox;
  EXPECT_NE(inbox.find("\"uid_kept\":3"), std::string::npos) << inbox;
  EXPECT_NE(inbox.find("IMAP UID 5 of 1795424452.28218.mail.example.com,S=462 would become 9"),
            std::string::npos)
      << inbox;
}

TEST_F(VerifyCliTest, MigratedHashesVerifyEveryFixturePasswordWithCryptR) {
  for (const auto& fd : kAllDomains) {
    SCOPED_TRACE(fd.domain);
    TempDir src, dst, work;
    UnpackFixture(fd.fixture, src.path());
    MakeEmptyTarget(dst.path());
    std::string archive = work / "a.vma";
    ASSERT_EQ(Export(src.path(), fd.domain, archive).exit_code, 0);
    ASSERT_EQ(Import(dst.path(), archive).exit_code, 0);
    auto passwords = ManifestPasswords(fd.fixture);
    auto pw = vpopmail::ReadVpasswd(TargetHomeDisk(dst.path()) + "/domains/" + fd.domain + "/vpasswd");
    ASSERT_TRUE(pw.ok()) << pw.status().message();
    ASSERT_FALSE(pw->empty());
    for (const auto& e : *pw) {
      std::string email = e.name + "@" + fd.domain;
      ASSERT_TRUE(passwords.count(email)) << email << " not in the MANIFEST";
      EXPECT_TRUE(vpopmail::CryptMatches(passwords[email], e.passwd)) << email;
    }
  }
}

TEST_F(VerifyCliTest, WeakHashesAreWarningsNotDifferences) {
  RoundTrip("real-small", "example.com");
  CommandResult r = VerifyTarget();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string warning = LinesWith(r.err, "weak password hashes");
  EXPECT_NE(warning.find("judy (des)"), std::string::npos) << r.err;
  EXPECT_NE(warning.find("alice (md5)"), std::string::npos) << r.err;
  EXPECT_EQ(warning.find("ivan"), std::string::npos) << "SHA-512 is not weak: " << r.err;
  EXPECT_NE(r.out.find("11 passwords checked"), std::string::npos) << r.out;
}

TEST_F(VerifyCliTest, ErrorsUseTheirOwnExitCodes) {
  RoundTrip("real-small", "example.com");
  TempDir empty;
  MakeEmptyTarget(empty.path());
  CommandResult absent = RunVmigrate(Concat({"verify", archive_}, TargetFlags(empty.path())));
  EXPECT_EQ(absent.exit_code, 7) << absent.out << absent.err;
  EXPECT_NE(absent.err.find("vmigrate: verify: example.com: "), std::string::npos) << absent.err;
  CommandResult no_archive = RunVmigrate(Concat({"verify", work_ / "nope.vma"}, TargetFlags(dst_.path())));
  EXPECT_EQ(no_archive.exit_code, 7) << no_archive.err;
  WriteFile(work_ / "junk.vma", "not an archive at all");
  CommandResult junk = RunVmigrate(Concat({"verify", work_ / "junk.vma"}, TargetFlags(dst_.path())));
  EXPECT_EQ(junk.exit_code, 6) << junk.err;
  CommandResult usage = RunVmigrate({"verify"});
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace vmigrate::testing::cli
