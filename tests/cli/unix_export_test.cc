// export --from unix end to end through the CLI, on the real classic Unix
// host fixture (tests/fixtures/real-unix-mbox.tar.gz): who comes along, the
// hashes verbatim and checked with libcrypt after import, locked accounts,
// .forward, message counts against what real clients saw, batches, dry run.
#include <crypt.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

constexpr const char* kDomain = "example.com";

// The fixture's passwords (tests/fixtures/README.md, real-unix-mbox).
const std::map<std::string, std::string> kPasswords = {
    {"alice", "Wonder-Land#1"}, {"bob", "bob's b1rthday"},   {"carol", "Grüße-Carol"},
    {"dave", "Dave_md5!"},      {"erin", "Erin-bcrypt-7"},   {"frank", "frank2024"},
    {"grace", "Gr@ce-mail-only"}, {"ken", "Ken-0penssl"},    {"laura", "Laura Rounds 50k"},
};

bool CryptMatches(const std::string& password, const std::string& hash) {
  struct crypt_data data {};
  const char* r = crypt_r(password.c_str(), hash.c_str(), &data);
  return r != nullptr && hash == r;
}

class UnixExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tarball = FixtureDir() + "/real-unix-mbox.tar.gz";
    if (access(tarball.c_str(), R_OK) != 0) GTEST_SKIP() << "*** SKIPPED: fixture " << tarball << " missing ***";
    src_ = tmp_.path() + "/unixhost";
    dst_ = tmp_.path() + "/target";
    fs::create_directories(src_);
    CommandResult r = RunCommand({"tar", "-xzpf", tarball, "-C", src_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    MakeEmptyTarget(dst_);
  }

  CommandResult ExportUnix(const std::string& out, const std::vector<std::string>& extra = {}) {
    return RunVmigrate(Concat({"export", "--from", "unix", kDomain, "-o", out, "--root", src_}, extra));
  }

  // vpasswd of the imported domain: name -> line fields.
  std::map<std::string, std::vector<std::string>> Vpasswd() {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& line : Lines(ReadFile(TargetHomeDisk(dst_) + "/domains/" + kDomain + "/vpasswd"))) {
      std::vector<std::string> f;
      std::string cur;
      for (char c : line) {
        if (c == ':') {
          f.push_back(cur);
          cur.clear();
        } else {
          cur += c;
        }
      }
      f.push_back(cur);
      out[f[0]] = f;
    }
    return out;
  }

  // Messages per user as Dovecot's POP3 listed them on the old host.
  std::map<std::string, size_t> Pop3Counts() {
    std::map<std::string, size_t> n;
    for (const auto& line : Lines(ReadFile(src_ + "/client-view/pop3-uidl-default.txt")))
      if (!line.empty() && line[0] != '#') ++n[line.substr(0, line.find('\t'))];
    return n;
  }

  TempDir tmp_;
  std::string src_, dst_;
};

TEST_F(UnixExportTest, CarriesTheRealUsersWithTheirHashesAndMail) {
  std::string archive = tmp_.path() + "/unix.tar.zst";
  CommandResult e = ExportUnix(archive, {"--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err << e.out;
  EXPECT_NE(e.out.find("\"origin\":\"unix\""), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("\"name\":\"judy\""), std::string::npos) << "judy is reported as skipped: " << e.out;
  // carol's .forward pipes to procmail: reported, not carried.
  EXPECT_NE(e.err.find("carol"), std::string::npos) << e.err;

  CommandResult i = Import(dst_, archive);
  ASSERT_EQ(i.exit_code, 0) << i.err << i.out;
  auto vp = Vpasswd();
  std::set<std::string> names;
  for (const auto& [name, f] : vp) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
                                          "ivan", "ken", "laura"}));
  // Hashes verbatim from etc/shadow; each verifies its password with libcrypt.
  std::string shadow = ReadFile(src_ + "/etc/shadow");
  for (const auto& [user, password] : kPasswords) {
    ASSERT_TRUE(vp.count(user)) << user;
    const std::string& hash = vp[user][1];
    EXPECT_NE(shadow.find(user + ":" + hash + ":"), std::string::npos) << user << " hash not verbatim: " << hash;
    EXPECT_TRUE(CryptMatches(password, hash)) << user << " " << hash;
  }
  // Locked and empty accounts come along disabled: no password works, not even an empty one.
  for (const char* user : {"heidi", "ivan"}) {
    const std::string& hash = vp[user][1];
    EXPECT_FALSE(CryptMatches("", hash)) << user;
    EXPECT_FALSE(CryptMatches("Heidi-locked-1", hash)) << user;
    EXPECT_NE(vp[user][3], "0") << user << " has vpopmail flags closing its services";
  }
  // Messages: as many as the old host's POP3 listed in INBOX, at least.
  auto counts = Pop3Counts();
  for (const auto& [user, n] : counts) {
    std::string dir = TargetHomeDisk(dst_) + "/domains/" + kDomain + "/" + user + "/Maildir";
    size_t files = 0;
    for (const char* sub : {"/cur", "/new"})
      for (const auto& f : fs::directory_iterator(dir + sub)) files += f.is_regular_file();
    EXPECT_EQ(files, n) << user;
  }
  // dave's .forward "\dave, dave.d@gmail.test": forward and keep a copy.
  std::string dave_qmail = ReadFile(TargetHomeDisk(dst_) + "/domains/" + kDomain + "/dave/.qmail");
  EXPECT_TRUE(HasLine(dave_qmail, "&dave.d@gmail.test")) << dave_qmail;
  EXPECT_TRUE(HasLine(dave_qmail, TargetHomeDisk("") + "/domains/" + kDomain + "/dave/Maildir/")) << dave_qmail;

  // The archive verifies like any other.
  CommandResult v = RunVmigrate(Concat({"verify", archive}, TargetFlags(dst_)));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(UnixExportTest, InspectShowsSchemesFoldersAndWarnings) {
  std::string archive = tmp_.path() + "/unix.tar.zst";
  ASSERT_EQ(ExportUnix(archive).exit_code, 0);
  CommandResult r = RunVmigrate({"inspect", archive, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"hash_scheme\":\"yescrypt\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"hash_scheme\":\"bcrypt\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Archive/2023"), std::string::npos) << r.out;
  CommandResult t = RunVmigrate({"inspect", archive});
  EXPECT_NE(t.out.find("converted from: a classic Unix mail host"), std::string::npos) << t.out;
}

TEST_F(UnixExportTest, LockedSkipLeavesLockedAndEmptyAccountsOut) {
  std::string archive = tmp_.path() + "/unix.tar";
  CommandResult e = ExportUnix(archive, {"--locked", "skip", "--compress", "none", "--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  ASSERT_EQ(Import(dst_, archive).exit_code, 0);
  auto vp = Vpasswd();
  EXPECT_FALSE(vp.count("heidi"));
  EXPECT_FALSE(vp.count("ivan"));
  EXPECT_TRUE(vp.count("alice"));
}

TEST_F(UnixExportTest, DryRunWritesNothingAndListsUsers) {
  std::string archive = tmp_.path() + "/never.tar.zst";
  CommandResult e = ExportUnix(archive, {"--dry-run"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_FALSE(fs::exists(archive));
  EXPECT_NE(e.out.find("alice"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("would export 11 users"), std::string::npos) << e.out;
}

TEST_F(UnixExportTest, NamedUsersOnlyAndSystemAccountsNever) {
  std::string archive = tmp_.path() + "/two.tar.zst";
  CommandResult e = ExportUnix(archive, {"--user", "alice", "--user", "root", "--user", "postgres", "--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("\"name\":\"root\""), std::string::npos) << "root reported as skipped: " << e.out;
  ASSERT_EQ(Import(dst_, archive).exit_code, 0);
  auto vp = Vpasswd();
  EXPECT_EQ(vp.size(), 1u);
  EXPECT_TRUE(vp.count("alice"));

  CommandResult missing = ExportUnix(tmp_.path() + "/x.tar", {"--user", "nosuchuser"});
  EXPECT_EQ(missing.exit_code, 7) << missing.err;  // not found
  EXPECT_NE(missing.err.find("nosuchuser"), std::string::npos) << missing.err;
}

TEST_F(UnixExportTest, BatchesImportOneAfterAnotherIntoOneDomain) {
  std::string list = tmp_.path() + "/users.txt";
  WriteFile(list, "# the old host's mail users\nalice\nbob\ncarol\ndave\nerin\nfrank\ngrace\nheidi\nivan\nken\nlaura\n");
  std::string dir = tmp_.path() + "/batches";
  fs::create_directories(dir);
  CommandResult e = RunVmigrate({"export", "--from", "unix", kDomain, "-o", dir, "--root", src_, "--users-from", list,
                                 "--batch", "4", "--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err << e.out;
  std::vector<std::string> archives;
  for (int b = 1; b <= 3; ++b) archives.push_back(dir + "/example.com-batch00" + std::to_string(b) + ".tar.zst");
  for (const auto& a : archives) ASSERT_TRUE(fs::exists(a)) << a << "\n" << e.out;
  EXPECT_FALSE(fs::exists(dir + "/example.com-batch004.tar.zst"));
  for (const auto& a : archives) {
    CommandResult i = Import(dst_, a);
    ASSERT_EQ(i.exit_code, 0) << a << ": " << i.err << i.out;
  }
  EXPECT_EQ(Vpasswd().size(), 11u);
  // A batch again: its users exist now, so the default refuses, changing nothing.
  std::string before = ReadFile(TargetHomeDisk(dst_) + "/domains/" + kDomain + "/vpasswd");
  CommandResult again = Import(dst_, archives[1]);
  EXPECT_EQ(again.exit_code, 5) << again.err;
  EXPECT_NE(again.err.find("conflict"), std::string::npos) << again.err;
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst_) + "/domains/" + kDomain + "/vpasswd"), before);
  CommandResult skip = Import(dst_, archives[1], {"--on-conflict", "skip"});
  EXPECT_EQ(skip.exit_code, 0) << skip.err;
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst_) + "/domains/" + kDomain + "/vpasswd"), before);
}

TEST_F(UnixExportTest, UnixOptionsNeedFromUnix) {
  CommandResult r = RunVmigrate({"export", kDomain, "-o", tmp_.path() + "/x", "--old-server", "uw"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("needs --from unix"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vmigrate::testing::cli
