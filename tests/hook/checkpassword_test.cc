// vmigrate-checkpassword through the real checkpassword protocol: a login's
// bytes on fd 3 (a pipe, as qmail-popup gives it), the hook in front of a
// vchkpw stand-in (tests/hook/fake_vchkpw.cc: verifies against the fixture's
// vpasswd with crypt(3) and execs its argv), and a session program after
// it. The pull is a recording `vmigrate` script (the real pull is tested
// with the pull command); the re-hash is the real `vmigrate rehash`.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/checkpassword_login.h"
#include "support/test_support.h"
#include "vpopmail/password.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing {
namespace {

const char kHook[] = VMIGRATE_CHECKPASSWORD;
const char kFakeVchkpw[] = VMIGRATE_FAKE_VCHKPW;

class CheckpasswordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", root_.path());
    home_ = root_.path() + kFixtureVpopmailHome;
    qmail_ = root_.path() + kFixtureQmailDir;
    domains_ = home_ + "/domains";
    pending_ = root_ / "pending";
    WriteFile(pending_, "# users still on the old server\nbob@example.com\nAlice@Example.com \ncarol@example.com\n");
    // A `vmigrate` that records its argv and the password it was handed.
    fake_ = root_ / "fake-vmigrate";
    WriteFile(fake_,
              "#!/bin/sh\n"
              "{ printf 'ARGS'; for a in \"$@\"; do printf ' %s' \"$a\"; done; printf '\\nPASSWORD '; cat <&3; "
              "printf '\\n'; } >> \"$FAKE_VMIGRATE_LOG\"\n"
              "if [ -n \"$FAKE_VMIGRATE_SLEEP\" ]; then sleep \"$FAKE_VMIGRATE_SLEEP\"; fi\n"
              "exit \"${FAKE_VMIGRATE_EXIT:-0}\"\n");
    chmod(fake_.c_str(), 0755);
    // The real vmigrate, pointed at the sandbox (the hook has no --root).
    wrapper_ = root_ / "vmigrate-in-sandbox";
    WriteFile(wrapper_, std::string("#!/bin/sh\ncmd=$1; shift\nexec '") + VMIGRATE_BINARY +
                            "' \"$cmd\" --root '" + root_.path() + "' --vpopmail-home '" + kFixtureVpopmailHome +
                            "' --qmail-dir '" + kFixtureQmailDir + "' \"$@\"\n");
    chmod(wrapper_.c_str(), 0755);
    log_ = root_ / "vmigrate.log";
    env_ = {{"FAKE_VCHKPW_DOMAINS", domains_}, {"FAKE_VMIGRATE_LOG", log_}, {"TCPLOCALPORT", "110"}};
  }

  // vmigrate-checkpassword OPTIONS fake-vchkpw session...; the session
  // prints "SESSION <USER>" and the descriptors it has.
  std::vector<std::string> Chain(const std::vector<std::string>& options) {
    std::vector<std::string> argv = {kHook};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {kFakeVchkpw, "/bin/sh", "-c", "echo \"SESSION $USER\"; ls /proc/self/fd | sort -n | tr '\\n' ' '"});
    return argv;
  }
  std::vector<std::string> PullOptions(const std::string& vmigrate) {
    return {"--pending", pending_, "--from", "imaps://old.example:993", "--ca-file", "/etc/old-ca.pem",
            "--qmail-dir", qmail_, "--vpopmail-home", home_, "--vmigrate", vmigrate};
  }
  std::string Log() { return ReadFile(log_); }
  std::string Hash(const std::string& name) {
    auto users = vpopmail::ReadVpasswd(domains_ + "/example.com/vpasswd");
    if (users.ok())
      for (const auto& e : *users)
        if (e.name == name) return e.passwd;
    return "";
  }

  TempDir root_;
  std::string home_, qmail_, domains_, pending_, fake_, wrapper_, log_;
  std::map<std::string, std::string> env_;
};

TEST_F(CheckpasswordTest, APendingUserIsPulledOnceWithTheVerifiedPasswordAndTheSessionRuns) {
  LoginResult r = RunCheckpassword(root_.path(), Chain(PullOptions(fake_)), CheckpasswordFd3("Alice@Example.com", "Alice#2023"), env_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // The session runs with nothing of ours left open: 0, 1, 2 and ls's own.
  EXPECT_EQ(r.out, "SESSION alice\n0 1 2 3 ") << r.err;
  EXPECT_EQ(Log(),
            "ARGS pull --from imaps://old.example:993 --user Alice@Example.com --password-fd 3 --into "
            "alice@example.com --check-local-password --ca-file /etc/old-ca.pem --vpopmail-home " + home_ +
                " --qmail-dir " + qmail_ + " --json\nPASSWORD Alice#2023\n");
  EXPECT_NE(r.err.find("alice@example.com: mail pulled from imaps://old.example:993; no longer pending"),
            std::string::npos) << r.err;
  // Only alice's line left the pending file; the rest is kept byte for byte.
  EXPECT_EQ(ReadFile(pending_), "# users still on the old server\nbob@example.com\ncarol@example.com\n");
  // The second login does not pull.
  r = RunCheckpassword(root_.path(), Chain(PullOptions(fake_)), CheckpasswordFd3("alice@example.com", "Alice#2023"), env_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 14), "SESSION alice\n");
  EXPECT_EQ(Log().find("ARGS", 5), std::string::npos) << Log();
}

TEST_F(CheckpasswordTest, AWrongPasswordPullsNothingAndItsExitCodePassesThrough) {
  LoginResult r = RunCheckpassword(root_.path(), Chain(PullOptions(fake_)), CheckpasswordFd3("bob@example.com", "not-bobs"), env_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Log(), "");
  EXPECT_NE(ReadFile(pending_).find("bob@example.com"), std::string::npos);
  // A temporary failure (111) and vchkpw's own codes (3) pass through too.
  for (const char* code : {"111", "3", "2"}) {
    auto env = env_;
    env["FAKE_VCHKPW_EXIT"] = code;
    r = RunCheckpassword(root_.path(), Chain(PullOptions(fake_)), CheckpasswordFd3("bob@example.com", "b0b-the-builder"), env);
    EXPECT_EQ(r.exit_code, std::atoi(code));
    EXPECT_EQ(r.err, "");
  }
  EXPECT_EQ(Log(), "");
}

TEST_F(CheckpasswordTest, TheCheckpasswordProgramReadsTheSameBytesOnFd3) {
  const std::string record = root_ / "fd3.record";
  auto env = env_;
  env["FAKE_VCHKPW_RECORD"] = record;
  std::string bytes = CheckpasswordFd3("bob@example.com", "b0b-the-builder") + "extra data after the timestamp";
  LoginResult r = RunCheckpassword(root_.path(), Chain(PullOptions(fake_)), bytes, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(record), bytes);
  // More than 512 bytes: only the first 512 are read and passed on, as the interface says.
  std::string big = CheckpasswordFd3("bob@example.com", "b0b-the-builder") + std::string(600, 'x');
  WriteFile(record, "");
  r = RunCheckpassword(root_.path(), Chain({"--rehash", "--vmigrate", fake_}), big, env);
  EXPECT_EQ(ReadFile(record), big.substr(0, 512));
}

TEST_F(CheckpasswordTest, AFailedPullLetsTheLoginThroughAndTheUserStaysPending) {
  auto env = env_;
  env["FAKE_VMIGRATE_EXIT"] = "9";
  LoginResult r = RunCheckpassword(root_.path(), Chain(PullOptions(fake_)), CheckpasswordFd3("carol@example.com", "CarolC_77"), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 14), "SESSION carol\n");
  EXPECT_NE(r.err.find("carol@example.com: pull from imaps://old.example:993 failed (exit 9); still pending"),
            std::string::npos) << r.err;
  EXPECT_NE(ReadFile(pending_).find("carol@example.com"), std::string::npos);
}

TEST_F(CheckpasswordTest, APullThatTakesTooLongIsStoppedAndTheLoginGoesOn) {
  auto env = env_;
  env["FAKE_VMIGRATE_SLEEP"] = "60";
  std::vector<std::string> options = PullOptions(fake_);
  options.insert(options.begin(), {"--timeout", "1"});
  auto start = std::chrono::steady_clock::now();
  LoginResult r = RunCheckpassword(root_.path(), Chain(options), CheckpasswordFd3("bob@example.com", "b0b-the-builder"), env);
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 12), "SESSION bob\n");
  EXPECT_LT(seconds, 20);
  EXPECT_NE(r.err.find("vmigrate pull took more than 1 seconds: stopped"), std::string::npos) << r.err;
  EXPECT_NE(ReadFile(pending_).find("bob@example.com"), std::string::npos);
}

TEST_F(CheckpasswordTest, SmtpLoginsAndMissingVmigrateLeaveTheLoginUnchanged) {
  auto env = env_;
  env["TCPLOCALPORT"] = "587";
  LoginResult r = RunCheckpassword(root_.path(), Chain(PullOptions(fake_)), CheckpasswordFd3("bob@example.com", "b0b-the-builder"), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 12), "SESSION bob\n");
  EXPECT_EQ(Log(), "");
  EXPECT_EQ(r.err, "");
  // Any other port: vchkpw calls the login SMTP when its program's name has "true".
  env["TCPLOCALPORT"] = "2525";
  std::vector<std::string> argv = {kHook};
  for (const std::string& o : PullOptions(fake_)) argv.push_back(o);
  argv.insert(argv.end(), {kFakeVchkpw, "/bin/true"});
  r = RunCheckpassword(root_.path(), argv, CheckpasswordFd3("bob@example.com", "b0b-the-builder"), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Log(), "");
  // No vmigrate: one line on stderr, the login goes on, the user stays pending.
  r = RunCheckpassword(root_.path(), Chain(PullOptions(root_ / "no-such-vmigrate")), CheckpasswordFd3("bob@example.com", "b0b-the-builder"), env_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 12), "SESSION bob\n");
  EXPECT_NE(r.err.find("cannot run " + root_ / "no-such-vmigrate"), std::string::npos) << r.err;
  EXPECT_NE(ReadFile(pending_).find("bob@example.com"), std::string::npos);
}

TEST_F(CheckpasswordTest, LoginsAreParsedAsVchkpwParsesThem) {
  // '%' as the separator, an alias domain (users/assign), and the default domain.
  // The stand-in finds example.org's vpasswd through a symlink to example.com.
  std::filesystem::create_directories(root_ / "aliases");
  std::filesystem::create_symlink(domains_ + "/example.com", root_ / "aliases/example.org");
  auto alias_env = env_;
  alias_env["FAKE_VCHKPW_DOMAINS"] = root_ / "aliases";
  alias_env["TCPLOCALPORT"] = "995";
  LoginResult r = RunCheckpassword(root_.path(), Chain(PullOptions(fake_)), CheckpasswordFd3("BOB%example.org", "b0b-the-builder"), alias_env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(Log().find("--user BOB%example.org --password-fd 3 --into bob@example.com "), std::string::npos) << Log();
  WriteFile(home_ + "/etc/defaultdomain", "example.com\n");
  auto env = env_;
  env["FAKE_VCHKPW_DEFAULT_DOMAIN"] = "example.com";
  r = RunCheckpassword(root_.path(), Chain(PullOptions(fake_)), CheckpasswordFd3("Carol", "CarolC_77"), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(Log().find("--user Carol --password-fd 3 --into carol@example.com "), std::string::npos) << Log();
}

TEST_F(CheckpasswordTest, RehashReplacesAWeakHashThatThenVerifiesTheSamePassword) {
  const std::string before = Hash("dave");
  ASSERT_EQ(before.rfind("$1$", 0), 0u);
  LoginResult r = RunCheckpassword(root_.path(), Chain({"--rehash", "--vmigrate", wrapper_}), CheckpasswordFd3("dave@example.com", "dave.dunn.2"), env_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 13), "SESSION dave\n");
  const std::string after = Hash("dave");
  EXPECT_EQ(after.rfind("$6$", 0), 0u) << r.err;
  EXPECT_TRUE(vpopmail::CryptMatches("dave.dunn.2", after));
  EXPECT_NE(r.err.find("\"result\":\"rehashed\""), std::string::npos) << r.err;
  // The next login verifies against the new hash (the stand-in reads vpasswd).
  r = RunCheckpassword(root_.path(), Chain({"--rehash", "--vmigrate", wrapper_}), CheckpasswordFd3("dave@example.com", "dave.dunn.2"), env_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("\"result\":\"not_weak\""), std::string::npos) << r.err;
  EXPECT_EQ(Hash("dave"), after);
}

TEST_F(CheckpasswordTest, TheHookLinksNothingButLibc) {
  CommandResult r = RunCommand({"ldd", kHook});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("libc.so"), std::string::npos) << r.out;
  // Under scripts/sanitize the ASan/UBSan runtimes are linked in, and they
  // bring libstdc++ themselves: only then is it not the hook's own.
  const bool sanitized = r.out.find("libasan") != std::string::npos || r.out.find("libubsan") != std::string::npos;
  for (const char* lib : {"libarchive", "yaml", "mariadb", "mysql", "etpan", "libssl", "libcrypto", "libstdc++",
                          "libcrypt.", "libz", "libzstd"}) {
    if (sanitized && std::string(lib) == "libstdc++") continue;
    EXPECT_EQ(r.out.find(lib), std::string::npos) << lib << " in\n" << r.out;
  }
}

TEST_F(CheckpasswordTest, ABadCommandLineIsMisuse) {
  LoginResult r = RunCheckpassword(root_.path(), {kHook, "--pending"}, CheckpasswordFd3("bob@example.com", "x"), env_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--pending needs a value"), std::string::npos) << r.err;
  r = RunCheckpassword(root_.path(), {kHook, "--frobnicate", kFakeVchkpw}, CheckpasswordFd3("bob@example.com", "x"), env_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option --frobnicate"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vmigrate::testing
