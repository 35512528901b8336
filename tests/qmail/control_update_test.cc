#include "qmail/control_update.h"

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "core/strings.h"
#include "qmail/assign.h"
#include "support/test_support.h"

namespace vmigrate::qmail {
namespace {

namespace fs = std::filesystem;
using vmigrate::testing::kFixtureQmailDir;
using vmigrate::testing::kFixtureVpopmailHome;
using vmigrate::testing::CdbHas;
using vmigrate::testing::ReadFile;
using vmigrate::testing::TempDir;
using vmigrate::testing::UnpackFixture;
using vmigrate::testing::WriteFile;

HostPaths FixturePaths(const TempDir& tmp) {
  HostPaths paths;
  paths.root = tmp.path();
  paths.vpopmail_home = kFixtureVpopmailHome;
  paths.qmail_dir = kFixtureQmailDir;
  return paths;
}

std::string QmailDir(const TempDir& tmp) { return tmp.path() + kFixtureQmailDir; }

DomainAssign Entry(const std::string& domain, const std::string& real = "") {
  DomainAssign e;
  e.domain = domain;
  e.real_domain = real.empty() ? domain : real;
  e.uid = 89;
  e.gid = 89;
  e.dir = std::string(kFixtureVpopmailHome) + "/domains/" + e.real_domain;
  return e;
}

// A qmail dir as qmail's install leaves it (config-fast mail.example.com),
// before vpopmail ever ran.
void MakeBaseQmail(const TempDir& tmp) {
  std::string q = QmailDir(tmp);
  fs::create_directories(q + "/control");
  fs::create_directories(q + "/users");
  WriteFile(q + "/control/me", "mail.example.com\n");
  WriteFile(q + "/control/locals", "mail.example.com\n");
  WriteFile(q + "/control/rcpthosts", "mail.example.com\n");
}

// Contents and mode of every regular file under `dir` except lock files.
std::map<std::string, std::string> FileState(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || EndsWith(e.path().string(), ".lock")) continue;
    struct stat st;
    stat(e.path().c_str(), &st);
    out[fs::relative(e.path(), dir).string()] =
        std::to_string(st.st_mode & 07777) + " " + ReadFile(e.path().string());
  }
  return out;
}

std::string Lines(int n, const std::string& prefix) {
  std::string out;
  for (int i = 0; i < n; ++i) out += prefix + std::to_string(i) + ".test\n";
  return out;
}

TEST(ControlUpdateTest, ApplyOnABaseInstallReproducesTheFixtureFiles) {
  TempDir fixture;
  UnpackFixture("real-small", fixture.path());
  TempDir tmp;
  MakeBaseQmail(tmp);
  ControlTransaction tx(FixturePaths(tmp), {});
  ASSERT_TRUE(tx.Lock().ok());
  // vadddomain example.com, vadddomain example.net, vaddaliasdomain example.org.
  for (const DomainAssign& e :
       {Entry("example.com"), Entry("example.net"), Entry("example.org", "example.com")}) {
    Status s = tx.Apply({e});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string want = QmailDir(fixture);
  std::string got = QmailDir(tmp);
  for (const char* f : {"users/assign", "users/cdb", "control/rcpthosts", "control/virtualdomains"})
    EXPECT_TRUE(ReadFile(got + "/" + f) == ReadFile(want + "/" + f)) << f << " differs";
  // locals never held a vpopmail domain, so it is untouched.
  EXPECT_EQ(ReadFile(got + "/control/locals"), "mail.example.com\n");
  EXPECT_FALSE(fs::exists(got + "/control/morercpthosts"));
  struct stat st;
  ASSERT_EQ(stat((got + "/users/assign").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST(ControlUpdateTest, ApplyAddsADomainAndKeepsLinesItDoesNotOwn) {
  TempDir tmp;
  MakeBaseQmail(tmp);
  std::string q = QmailDir(tmp);
  WriteFile(q + "/users/assign",
            "=joe:joe:1000:1000:/home/joe:::\n"
            "+zz.test-:zz.test:89:89:/d/zz.test:-::\n"
            "+aa.test-:aa.test:89:89:/d/aa.test:-::\n"
            ".\n");
  WriteFile(q + "/control/rcpthosts", "# relay for\nzz.test\nlocalhost\naa.test\n");
  WriteFile(q + "/control/virtualdomains", "zz.test:zz.test\n# comment\n");
  ControlTransaction tx(FixturePaths(tmp), {});
  Status s = tx.Apply({Entry("mm.test")});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(q + "/users/assign"),
            "=joe:joe:1000:1000:/home/joe:::\n"
            "+mm.test-:mm.test:89:89:/tmp/realvp/home/vpopmail/domains/mm.test:-::\n"
            "+zz.test-:zz.test:89:89:/d/zz.test:-::\n"
            "+aa.test-:aa.test:89:89:/d/aa.test:-::\n"
            ".\n");
  EXPECT_EQ(ReadFile(q + "/control/rcpthosts"), "# relay for\nmm.test\nzz.test\nlocalhost\naa.test\n");
  EXPECT_EQ(ReadFile(q + "/control/virtualdomains"), "mm.test:mm.test\nzz.test:zz.test\n# comment\n");
  EXPECT_TRUE(CdbHas(q + "/users/cdb", "!mm.test-"));
  EXPECT_TRUE(CdbHas(q + "/users/cdb", "!zz.test-"));
  EXPECT_TRUE(CdbHas(q + "/users/cdb", std::string("!joe\0", 5)));
}

TEST(ControlUpdateTest, RcpthostsWithFiftyLinesSendsTheDomainToMorercpthosts) {
  TempDir tmp;
  MakeBaseQmail(tmp);
  std::string q = QmailDir(tmp);
  std::string rcpthosts = "# comment\n\n" + Lines(48, "host");  // 50 raw lines
  WriteFile(q + "/control/rcpthosts", rcpthosts);
  ControlTransaction tx(FixturePaths(tmp), {});
  Status s = tx.Apply({Entry("new.test"), Entry("Other.test")});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(q + "/control/rcpthosts"), rcpthosts);
  // strcmp order: "Other.test" < "new.test".
  EXPECT_EQ(ReadFile(q + "/control/morercpthosts"), "Other.test\nnew.test\n");
  std::string cdb = q + "/control/morercpthosts.cdb";
  EXPECT_TRUE(CdbHas(cdb, "new.test"));
  EXPECT_TRUE(CdbHas(cdb, "other.test"));  // qmail-newmrh lower-cases
  EXPECT_FALSE(CdbHas(cdb, "host0.test"));
  struct stat st;
  ASSERT_EQ(stat(cdb.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_FALSE(fs::exists(q + "/control/morercpthosts.tmp"));
}

TEST(ControlUpdateTest, RcpthostsWithFortyNineLinesTakesTheDomain) {
  TempDir tmp;
  MakeBaseQmail(tmp);
  std::string q = QmailDir(tmp);
  WriteFile(q + "/control/rcpthosts", Lines(49, "host"));
  ControlTransaction tx(FixturePaths(tmp), {});
  // The first domain makes 50 lines, so the second one overflows.
  Status s = tx.Apply({Entry("a.test"), Entry("b.test")});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(q + "/control/rcpthosts"), "a.test\n" + Lines(49, "host"));
  EXPECT_EQ(ReadFile(q + "/control/morercpthosts"), "b.test\n");
  EXPECT_TRUE(CdbHas(q + "/control/morercpthosts.cdb", "b.test"));
}

TEST(ControlUpdateTest, MissingRcpthostsIsCreatedWithTheDomain) {
  TempDir tmp;
  MakeBaseQmail(tmp);
  std::string q = QmailDir(tmp);
  fs::remove(q + "/control/rcpthosts");
  WriteFile(q + "/control/morercpthosts", "a.test\n");
  ControlTransaction tx(FixturePaths(tmp), {});
  ASSERT_TRUE(tx.Apply({Entry("a.test")}).ok());
  EXPECT_EQ(ReadFile(q + "/control/rcpthosts"), "a.test\n");
  EXPECT_EQ(ReadFile(q + "/control/morercpthosts"), "a.test\n");
}

TEST(ControlUpdateTest, LocalsLosesTheDomainOnlyWhenItHasIt) {
  TempDir tmp;
  MakeBaseQmail(tmp);
  std::string q = QmailDir(tmp);
  WriteFile(q + "/control/locals", "mail.example.com\na.test\nlocalhost\n");
  {
    ControlTransaction tx(FixturePaths(tmp), {});
    ASSERT_TRUE(tx.Apply({Entry("a.test")}).ok());
  }
  EXPECT_EQ(ReadFile(q + "/control/locals"), "mail.example.com\nlocalhost\n");
  fs::remove(q + "/control/locals");
  {
    ControlTransaction tx(FixturePaths(tmp), {});
    ASSERT_TRUE(tx.Apply({Entry("b.test")}).ok());
  }
  EXPECT_FALSE(fs::exists(q + "/control/locals"));  // not created
}

TEST(ControlUpdateTest, CheckAbsentReportsDomainsAlreadyOnTheTarget) {
  TempDir tmp;
  UnpackFixture("real-small", tmp.path());
  std::string q = QmailDir(tmp);
  WriteFile(q + "/control/virtualdomains",
            ReadFile(q + "/control/virtualdomains") + "only-virtual.test:somebody\n");
  ControlTransaction tx(FixturePaths(tmp), {});
  EXPECT_TRUE(tx.CheckAbsent({"new.test", "mail.example.com"}).ok());
  Status s = tx.CheckAbsent({"new.test", "example.org"});
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_EQ(s.message(), "example.org already exists on the target (users/assign)");
  EXPECT_EQ(tx.CheckAbsent({"EXAMPLE.NET"}).code(), Status::Code::kConflict);
  s = tx.CheckAbsent({"only-virtual.test"});
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_EQ(s.message(), "only-virtual.test already exists on the target (control/virtualdomains)");
}

TEST(ControlUpdateTest, CheckAbsentOnAnEmptyTargetIsOk) {
  TempDir tmp;
  MakeBaseQmail(tmp);
  ControlTransaction tx(FixturePaths(tmp), {});
  EXPECT_TRUE(tx.CheckAbsent({"example.com"}).ok());
}

TEST(ControlUpdateTest, RollbackRestoresEveryFileByteForByte) {
  TempDir tmp;
  UnpackFixture("real-small", tmp.path());
  std::string q = QmailDir(tmp);
  // Full rcpthosts so morercpthosts (and its cdb) get created; locals holds
  // one of the domains so it is rewritten too.
  WriteFile(q + "/control/rcpthosts", ReadFile(q + "/control/rcpthosts") + Lines(46, "host"));
  WriteFile(q + "/control/locals", "mail.example.com\nnew.test\n");
  chmod((q + "/control/locals").c_str(), 0640);
  std::map<std::string, std::string> before = FileState(q);
  ASSERT_FALSE(fs::exists(q + "/control/morercpthosts"));

  ControlTransaction tx(FixturePaths(tmp), {});
  ASSERT_TRUE(tx.Lock().ok());
  ASSERT_TRUE(tx.CheckAbsent({"new.test", "alias.test"}).ok());
  Status s = tx.Apply({Entry("new.test"), Entry("alias.test", "example.com")});
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::map<std::string, std::string> applied = FileState(q);
  for (const char* f : {"users/assign", "users/cdb", "control/virtualdomains", "control/locals",
                        "control/morercpthosts", "control/morercpthosts.cdb"})
    EXPECT_NE(applied.count(f) ? applied.at(f) : "", before.count(f) ? before.at(f) : "")
        << f << " was not changed by Apply";

  s = tx.Rollback();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(FileState(q), before);
  EXPECT_FALSE(fs::exists(q + "/control/morercpthosts"));
  EXPECT_FALSE(fs::exists(q + "/control/morercpthosts.cdb"));
}

TEST(ControlUpdateTest, RollbackRemovesFilesCreatedOnAnEmptyTarget) {
  TempDir tmp;
  std::string q = QmailDir(tmp);
  fs::create_directories(q + "/control");
  fs::create_directories(q + "/users");
  ControlTransaction tx(FixturePaths(tmp), {});
  ASSERT_TRUE(tx.Apply({Entry("a.test")}).ok());
  EXPECT_EQ(ReadFile(q + "/users/assign"),
            "+a.test-:a.test:89:89:/tmp/realvp/home/vpopmail/domains/a.test:-::\n.\n");
  EXPECT_EQ(ReadFile(q + "/control/rcpthosts"), "a.test\n");
  EXPECT_TRUE(fs::exists(q + "/users/cdb"));
  ASSERT_TRUE(tx.Rollback().ok());
  EXPECT_TRUE(FileState(q).empty());
}

TEST(ControlUpdateTest, LockCreatesTheLockFiles) {
  TempDir tmp;
  MakeBaseQmail(tmp);
  std::string q = QmailDir(tmp);
  ControlTransaction tx(FixturePaths(tmp), {});
  Status s = tx.Lock();
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (const char* f : {"users/assign.lock", "control/rcpthosts.lock", "control/morercpthosts.lock",
                        "control/virtualdomains.lock", "control/locals.lock"}) {
    struct stat st;
    ASSERT_EQ(stat((q + "/" + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << f;
  }
}

TEST(ControlUpdateTest, ApplyRejectsNamesThatWouldBreakTheFiles) {
  TempDir tmp;
  MakeBaseQmail(tmp);
  ControlTransaction tx(FixturePaths(tmp), {});
  EXPECT_EQ(tx.Apply({Entry("bad:name")}).code(), Status::Code::kInvalidInput);
  EXPECT_EQ(tx.Apply({Entry("bad\nname")}).code(), Status::Code::kInvalidInput);
  EXPECT_FALSE(fs::exists(QmailDir(tmp) + "/users/assign"));
}

}  // namespace
}  // namespace vmigrate::qmail
