// vmigrate cutover hold|forward|release|status|block-logins|open-logins
// through the CLI on the real-small fixture as the old host, with a real
// SMTP-speaking test server (aiosmtpd) as the new host's qmail-smtpd.
// qmail itself is not packaged for Debian, so the tests check what qmail
// acts on (sources-and-cutover §1-§3): the sticky bit qmail-local's
// checkhome defers on, the vpasswd flags vchkpw refuses logins on, the
// control files qmail-send and qmail-remote read, queue files as qmail
// lays them out.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "cli/cutover_fixture.h"
#include "cli/delta_fixture.h"
#include "support/smtp_server.h"
#include "support/test_support.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

const std::string kDomainDir = "/domains/example.com";

std::vector<std::string> Cutover(const std::string& step, const std::string& root,
                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"cutover", step, "example.com", "--json"};
  if (step != "status") args.push_back("--no-reload");
  return Concat(Concat(args, SourceFlags(root)), extra);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class CutoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", root_.path());
    home_ = SourceHomeDisk(root_.path());
    qmail_ = root_.path() + kFixtureQmailDir;
    domain_ = home_ + kDomainDir;
    before_home_ = Contents(home_);
    before_qmail_ = Contents(qmail_);
    vpasswd_ = ReadFile(domain_ + "/vpasswd");
    auto s = RunVmigrate(Concat({"state", "example.com", "-o", root_ / "before.state"}, SourceFlags(root_.path())));
    ASSERT_EQ(s.exit_code, 0) << s.err;
  }

  std::string Digest(const std::string& name) {
    auto s = RunVmigrate(Concat({"state", "example.com", "-o", root_ / name, "--json", "--force"},
                                SourceFlags(root_.path())));
    EXPECT_EQ(s.exit_code, 0) << s.err;
    size_t at = s.out.find("\"digest\":\"");
    return at == std::string::npos ? "" : s.out.substr(at + 10, 64);
  }

  // Everything is as it was before the cutover began.
  void ExpectUntouched() {
    EXPECT_EQ(DigestDiff(before_home_, Contents(home_)), "");
    EXPECT_EQ(DigestDiff(before_qmail_, Contents(qmail_)), "");
    EXPECT_EQ(ReadFile(domain_ + "/vpasswd"), vpasswd_);
    EXPECT_EQ(ModeOf(domain_) & S_ISVTX, 0u);
  }

  // pw_gid per user before any lock (the fixture has users with NO_POP,
  // NO_IMAP, NO_WEBMAIL of their own: carol 14, erin 2, frank 8, grace 4).
  std::map<std::string, std::string> OriginalFlags() const {
    std::map<std::string, std::string> out;
    for (const auto& line : Lines(vpasswd_)) {
      auto e = vpopmail::ParseVpasswdLine(line);
      if (e.ok()) out[e->name] = e->gid;
    }
    return out;
  }

  SmtpTestServer::Options Accepting() {
    SmtpTestServer::Options o;
    o.domains = {"example.com", "example.org"};
    return o;
  }

  TempDir root_;
  std::string home_, qmail_, domain_, vpasswd_;
  std::map<std::string, std::string> before_home_, before_qmail_;
};

TEST_F(CutoverTest, HoldDefersEveryLocalPartBlocksLoginsAndChangesNoState) {
  const std::string digest = Digest("s0");
  auto r = RunVmigrate(Cutover("hold", root_.path()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"changed\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"state\":\"held\""), std::string::npos) << r.out;
  // checkhome: a sticky home defers every address of the domain and of its
  // alias domain (their users/assign lines share this directory).
  EXPECT_NE(ModeOf(domain_) & S_ISVTX, 0u);
  auto users = vpopmail::ReadVpasswd(domain_ + "/vpasswd");
  ASSERT_TRUE(users.ok());
  for (const auto& u : *users) EXPECT_EQ(std::stoul(u.gid) & 0x0eu, 0x0eu) << u.name;
  auto cdb = vpopmail::ReadCdbRecords(domain_ + "/vpasswd.cdb");
  ASSERT_TRUE(cdb.ok());
  for (const auto& u : *users)
    EXPECT_EQ(cdb->at(u.name), vpopmail::FormatVpasswdLine(u).substr(u.name.size() + 1)) << u.name;
  // No control file changed: the hold is the directory bit alone.
  EXPECT_EQ(DigestDiff(before_qmail_, Contents(qmail_)), "");
  // The lock never shows in a state (nor, so, in a delta).
  EXPECT_EQ(Digest("s1"), digest);

  auto again = RunVmigrate(Cutover("hold", root_.path()));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("\"changed\":false"), std::string::npos) << again.out;
  auto human = RunVmigrate(Concat({"cutover", "hold", "example.com", "--no-reload"}, SourceFlags(root_.path())));
  EXPECT_NE(human.out.find("already held"), std::string::npos) << human.out;

  auto st = RunVmigrate(Cutover("status", root_.path()));
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("\"state\":\"held\""), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\"logins\":\"blocked\""), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\"aliases\":[\"example.org\"]"), std::string::npos) << st.out;

  auto rel = RunVmigrate(Cutover("release", root_.path()));
  ASSERT_EQ(rel.exit_code, 0) << rel.err;
  ExpectUntouched();
}

TEST_F(CutoverTest, ExportOfAHeldDomainCarriesNeitherTheLockNorTheStickyBit) {
  ASSERT_EQ(RunVmigrate(Cutover("hold", root_.path())).exit_code, 0);
  TempDir dst;
  MakeEmptyTarget(dst.path());
  auto e = Export(root_.path(), "example.com", root_ / "held.tar.zst");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto i = Import(dst.path(), root_ / "held.tar.zst");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  auto users = vpopmail::ReadVpasswd(TargetDomainDisk(dst.path()) + "/vpasswd");
  ASSERT_TRUE(users.ok());
  const auto before = OriginalFlags();
  for (const auto& u : *users) EXPECT_EQ(u.gid, before.at(u.name)) << u.name;
  EXPECT_EQ(ModeOf(TargetDomainDisk(dst.path())) & S_ISVTX, 0u);
}

TEST_F(CutoverTest, StatusCountsTheDomainsMessagesInQmailsQueue) {
  const std::string q = qmail_ + "/queue";
  for (const char* d : {"todo", "info/0", "info/1", "local/0", "local/1", "remote/0", "remote/1", "mess/0", "mess/1"})
    fs::create_directories(q + "/" + d);
  auto put = [](const std::string& path, const std::string& text) { WriteFile(path, text); };
  using namespace std::string_literals;
  // 100: held for a user (local channel, rewritten address); 101: for the
  // alias domain; 102: another domain; 23: done already; 200: not yet preprocessed.
  for (const std::string id : {"100", "101", "102", "23"}) put(q + "/info/" + std::to_string(std::stoi(id) % 2) + "/" + id, "Fsender@partner.test\0"s);
  put(q + "/local/0/100", "Texample.com-alice@example.com\0"s);
  put(q + "/local/1/101", "Texample.com-bob@example.org\0"s);
  put(q + "/local/0/102", "Texample.net-carol@example.net\0"s);
  put(q + "/local/1/23", "Dexample.com-alice@example.com\0"s);
  put(q + "/todo/200", "u0\0p1\0Fsender@partner.test\0Tdave@example.com\0\0"s);
  auto st = RunVmigrate(Cutover("status", root_.path()));
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("\"todo\":1,\"local\":2,\"remote\":0"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\"pending\":3"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\"state\":\"local\""), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\"queuelifetime_seconds\":604800"), std::string::npos) << st.out;

  // Held mail half-way to queuelifetime: hold and status warn.
  WriteFile(qmail_ + "/control/queuelifetime", "7200\n");
  SetMtime(q + "/info/0/100", time(nullptr) - 4000);
  auto hold = RunVmigrate(Cutover("hold", root_.path()));
  ASSERT_EQ(hold.exit_code, 0) << hold.err;
  EXPECT_NE(hold.err.find("queuelifetime"), std::string::npos) << hold.err;
  auto st2 = RunVmigrate(Cutover("status", root_.path()));
  EXPECT_NE(st2.out.find("queuelifetime (2 h)"), std::string::npos) << st2.out;
}

TEST_F(CutoverTest, ForwardRoutesTheDomainAndItsAliasAndReleaseUndoesIt) {
  SmtpTestServer server(root_.path(), Accepting());
  ASSERT_TRUE(server.ok()) << server.error();
  ASSERT_EQ(RunVmigrate(Cutover("hold", root_.path())).exit_code, 0);
  const std::string to = "127.0.0.1:" + std::to_string(server.port());
  auto f = RunVmigrate(Cutover("forward", root_.path(), {"--to", to}));
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_NE(f.out.find("\"state\":\"forwarded\""), std::string::npos) << f.out;
  // The SMTP check: a real user, postmaster@ of the domain and the alias, never DATA.
  std::string log;
  for (const auto& c : server.Commands()) log += c + "\n";
  EXPECT_NE(log.find("RCPT TO:<postmaster@example.com>"), std::string::npos) << log;
  EXPECT_NE(log.find("RCPT TO:<postmaster@example.org>"), std::string::npos) << log;
  EXPECT_EQ(log.find("DATA"), std::string::npos) << log;
  EXPECT_EQ(ReadFile(qmail_ + "/control/smtproutes"), "example.com:" + to + "\nexample.org:" + to + "\n");
  EXPECT_EQ(ReadFile(qmail_ + "/control/virtualdomains"), "example.net:example.net\n");
  // rcpthosts and users/assign stay: queued local mail still needs them.
  EXPECT_EQ(before_qmail_.at("control/rcpthosts"), Contents(qmail_).at("control/rcpthosts"));
  EXPECT_EQ(before_qmail_.at("users/assign"), Contents(qmail_).at("users/assign"));
  EXPECT_EQ(ModeOf(domain_) & S_ISVTX, 0u);  // held mail is released
  auto st = RunVmigrate(Cutover("status", root_.path()));
  EXPECT_NE(st.out.find("\"state\":\"forwarded\""), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\"forwarded_to\":\"" + to + "\""), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\"logins\":\"blocked\""), std::string::npos) << st.out;

  auto again = RunVmigrate(Cutover("forward", root_.path(), {"--to", to}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("\"changed\":false"), std::string::npos) << again.out;
  auto elsewhere = RunVmigrate(Cutover("forward", root_.path(), {"--to", "127.0.0.2:25"}));
  EXPECT_EQ(elsewhere.exit_code, 5) << elsewhere.err;
  auto hold = RunVmigrate(Cutover("hold", root_.path()));
  EXPECT_EQ(hold.exit_code, 5) << hold.err;

  auto rel = RunVmigrate(Cutover("release", root_.path()));
  ASSERT_EQ(rel.exit_code, 0) << rel.err;
  EXPECT_EQ(ReadFile(qmail_ + "/control/virtualdomains"),
            "example.com:example.com\nexample.net:example.net\nexample.org:example.org\n");
  EXPECT_FALSE(fs::exists(qmail_ + "/control/smtproutes"));  // forward created it
  fs::remove(qmail_ + "/control/smtproutes.lock");
  ExpectUntouched();
}

// A stand-in for qmail-send: `sleep` under that name, started in `cwd`
// (qmail-send runs in <qmail-dir>/queue). SIGHUP ends it, so the test sees
// exactly which one forward signalled.
pid_t FakeQmailSend(const std::string& bin_dir, const std::string& cwd) {
  const std::string exe = bin_dir + "/qmail-send";
  if (!fs::exists(exe)) fs::copy_file("/bin/sleep", exe);
  fs::create_directories(cwd);
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(127);
    execl(exe.c_str(), "qmail-send", "120", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

TEST_F(CutoverTest, ForwardSignalsOnlyTheQmailSendOfThisInstallation) {
  SmtpTestServer server(root_.path(), Accepting());
  ASSERT_TRUE(server.ok()) << server.error();
  TempDir other;
  pid_t ours = FakeQmailSend(root_.path(), qmail_ + "/queue");
  pid_t theirs = FakeQmailSend(root_.path(), other.path() + "/var/qmail/queue");
  ASSERT_GT(ours, 0);
  ASSERT_GT(theirs, 0);
  ASSERT_EQ(RunVmigrate(Cutover("hold", root_.path())).exit_code, 0);
  usleep(200 * 1000);  // both have exec'd by now
  std::vector<std::string> args = {"cutover", "forward", "example.com", "--to",
                                   "127.0.0.1:" + std::to_string(server.port())};
  auto f = RunVmigrate(Concat(args, SourceFlags(root_.path())));
  ASSERT_EQ(f.exit_code, 0) << f.err;
  int status = 0;
  ASSERT_EQ(waitpid(ours, &status, 0), ours);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP) << status;
  EXPECT_EQ(waitpid(theirs, &status, WNOHANG), 0);  // the other qmail was left alone
  kill(theirs, SIGKILL);
  waitpid(theirs, &status, 0);
}

TEST_F(CutoverTest, ForwardToAHostThatRefusesTheDomainChangesNothing) {
  SmtpTestServer::Options o;
  o.domains = {"example.net"};  // answers 553 for example.com, as qmail-smtpd without rcpthosts
  SmtpTestServer server(root_.path(), o);
  ASSERT_TRUE(server.ok()) << server.error();
  ASSERT_EQ(RunVmigrate(Cutover("hold", root_.path())).exit_code, 0);
  auto held = Contents(home_);
  auto f = RunVmigrate(Cutover("forward", root_.path(), {"--to", "127.0.0.1:" + std::to_string(server.port())}));
  EXPECT_EQ(f.exit_code, 9) << f.err;
  EXPECT_NE(f.err.find("553"), std::string::npos) << f.err;
  EXPECT_NE(f.err.find("nothing was changed"), std::string::npos) << f.err;
  EXPECT_EQ(std::count(f.err.begin(), f.err.end(), '\n'), 1) << f.err;
  EXPECT_EQ(DigestDiff(before_qmail_, Contents(qmail_)), "");
  EXPECT_EQ(DigestDiff(held, Contents(home_)), "");
  EXPECT_NE(ModeOf(domain_) & S_ISVTX, 0u);  // still held

  // Nobody listening: refused the same way.
  auto closed = RunVmigrate(Cutover("forward", root_.path(), {"--to", "127.0.0.1:1"}));
  EXPECT_EQ(closed.exit_code, 9) << closed.err;
  EXPECT_EQ(DigestDiff(before_qmail_, Contents(qmail_)), "");
}

TEST_F(CutoverTest, RefusesWhatWouldBounceOrIsNotTheRealDomain) {
  auto not_held = RunVmigrate(Cutover("forward", root_.path(), {"--to", "127.0.0.1:1"}));
  EXPECT_EQ(not_held.exit_code, 2) << not_held.err;
  EXPECT_NE(not_held.err.find("not held"), std::string::npos) << not_held.err;
  auto alias = RunVmigrate(Concat({"cutover", "hold", "example.org", "--no-reload"}, SourceFlags(root_.path())));
  EXPECT_EQ(alias.exit_code, 2) << alias.err;
  EXPECT_NE(alias.err.find("example.com"), std::string::npos) << alias.err;
  auto unknown = RunVmigrate(Concat({"cutover", "hold", "nosuch.test", "--no-reload"}, SourceFlags(root_.path())));
  EXPECT_EQ(unknown.exit_code, 7) << unknown.err;
  auto bad_to = RunVmigrate(Cutover("forward", root_.path(), {"--to", "host:99999"}));
  EXPECT_EQ(bad_to.exit_code, 2) << bad_to.err;
  ExpectUntouched();

  // A wildcard line would catch the domain once its own line is gone (§1.1).
  SmtpTestServer server(root_.path(), Accepting());
  ASSERT_TRUE(server.ok()) << server.error();
  WriteFile(qmail_ + "/control/virtualdomains", ReadFile(qmail_ + "/control/virtualdomains") + ".com:catchall\n");
  ASSERT_EQ(RunVmigrate(Cutover("hold", root_.path())).exit_code, 0);
  auto f = RunVmigrate(Cutover("forward", root_.path(), {"--to", "127.0.0.1:" + std::to_string(server.port())}));
  EXPECT_EQ(f.exit_code, 5) << f.err;
  EXPECT_NE(f.err.find(".com:catchall"), std::string::npos) << f.err;
  EXPECT_FALSE(fs::exists(qmail_ + "/control/smtproutes"));
}

TEST_F(CutoverTest, ADeltaIntoADomainWhoseLoginsAreBlockedKeepsThemBlocked) {
  TempDir dst;
  MakeEmptyTarget(dst.path());
  ASSERT_EQ(Export(root_.path(), "example.com", root_ / "full.tar.zst").exit_code, 0);
  ASSERT_EQ(Import(dst.path(), root_ / "full.tar.zst").exit_code, 0);
  auto block = RunVmigrate(Concat({"cutover", "block-logins", "example.com", "--no-reload"}, TargetFlags(dst.path())));
  ASSERT_EQ(block.exit_code, 0) << block.err;
  // A new account and new mail on the source, then a delta.
  const std::string line = "newbie:$1$abcdefgh$0123456789012345678901:1:0:New:" + std::string(kFixtureVpopmailHome) +
                           kDomainDir + "/newbie:NOQUOTA";
  WriteFile(domain_ + "/vpasswd", ReadFile(domain_ + "/vpasswd") + line + "\n");
  fs::create_directories(domain_ + "/newbie/Maildir/new");
  fs::create_directories(domain_ + "/newbie/Maildir/cur");
  fs::create_directories(domain_ + "/newbie/Maildir/tmp");
  auto d = RunVmigrate(Concat({"export", "example.com", "--since", root_ / "before.state", "-o", root_ / "d1.tar.zst"},
                              SourceFlags(root_.path())));
  ASSERT_EQ(d.exit_code, 0) << d.err;
  auto i = Import(dst.path(), root_ / "d1.tar.zst");
  ASSERT_EQ(i.exit_code, 0) << i.err << i.out;
  auto users = vpopmail::ReadVpasswd(TargetDomainDisk(dst.path()) + "/vpasswd");
  ASSERT_TRUE(users.ok());
  bool saw_newbie = false;
  for (const auto& u : *users) {
    EXPECT_EQ(std::stoul(u.gid) & 0x0eu, 0x0eu) << u.name;
    saw_newbie |= u.name == "newbie";
  }
  EXPECT_TRUE(saw_newbie);
  // Both sides describe the same domain: the lock is not a difference.
  auto src_state = RunVmigrate(Concat({"state", "example.com", "-o", "-", "--json"}, SourceFlags(root_.path())));
  auto dst_state = RunVmigrate(Concat({"state", "example.com", "-o", "-", "--json"}, TargetFlags(dst.path())));
  ASSERT_EQ(src_state.exit_code, 0);
  ASSERT_EQ(dst_state.exit_code, 0);
  auto digest = [](const std::string& s) {
    size_t at = s.find("\"digest\":\"");
    return at == std::string::npos ? std::string() : s.substr(at + 10, 64);
  };
  EXPECT_EQ(digest(src_state.err), digest(dst_state.err));
  auto open = RunVmigrate(Concat({"cutover", "open-logins", "example.com", "--no-reload"}, TargetFlags(dst.path())));
  ASSERT_EQ(open.exit_code, 0) << open.err;
  users = vpopmail::ReadVpasswd(TargetDomainDisk(dst.path()) + "/vpasswd");
  ASSERT_TRUE(users.ok());
  const auto before = OriginalFlags();
  for (const auto& u : *users) EXPECT_EQ(u.gid, u.name == "newbie" ? "0" : before.at(u.name)) << u.name;
}

}  // namespace
}  // namespace vmigrate::testing::cli
