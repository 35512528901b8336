// `vmigrate pull` end to end through the CLI, for the bad input and TLS
// requirements of issue 18: a scripted old server (tests/support/
// scripted_mail_server.h) that drops the connection mid-message, sends
// another size than it announced, lists a folder name that is not modified
// UTF-7 or has no UIDL; a real Dovecot with a test CA for imaps/pop3s; the
// --accounts batch, --dry-run and the password options. Each case checks the
// exit code (README "Pulling from a server without file access"), one error
// line naming the account and the object, that the password is never shown,
// and that the account's Maildir holds only complete messages.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "dovecot/dovecot_server.h"
#include "dovecot/mail_snapshot.h"
#include "pull/pulled_folder.h"
#include "support/mariadb_server.h"
#include "support/scripted_mail_server.h"
#include "support/test_ca.h"
#include "support/test_support.h"
#include "vpopmail/password.h"

namespace vmigrate::testing::cli {
namespace {

namespace fs = std::filesystem;
namespace dc = testing::dovecot;

constexpr const char* kDomain = "example.com";
constexpr const char* kAlice = "alice@example.com";
// The old server's password; it need not be the target's.
constexpr const char* kPassword = "old-Secret-42";

// A message as the old server stores it (CRLF); `filler` makes sizes differ.
ScriptedMessage Msg(uint32_t uid, const std::string& subject, size_t filler = 0) {
  ScriptedMessage m;
  m.uid = uid;
  m.uidl = "UIDL-" + std::to_string(uid) + "-" + subject;
  m.body = "Received: from a by b; Thu, 1 Feb 2024 10:0" + std::to_string(uid % 10) +
           ":00 +0000\r\nSubject: " + subject + "\r\nFrom: x@example.net\r\n\r\nbody of " + subject + "\r\n" +
           std::string(filler, 'z') + "\r\n.a line starting with a dot\r\n";
  m.flags = "\\Seen";
  return m;
}

// What pull stores: LF line ends.
std::string Stored(const ScriptedMessage& m) {
  std::string out;
  for (size_t i = 0; i < m.body.size(); ++i)
    if (!(m.body[i] == '\r' && i + 1 < m.body.size() && m.body[i + 1] == '\n')) out += m.body[i];
  return out;
}

std::vector<std::string> StderrLines(const CommandResult& r) {
  std::vector<std::string> out;
  for (const auto& l : Lines(r.err))
    if (!l.empty()) out.push_back(l);
  return out;
}

// The one error line of a failed single-account pull.
void ExpectOneErrorLine(const CommandResult& r, const std::vector<std::string>& must_name) {
  std::vector<std::string> lines = StderrLines(r);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("vmigrate: pull: ", 0), 0u) << lines[0];
  for (const auto& what : must_name) EXPECT_NE(lines[0].find(what), std::string::npos) << what << " in: " << lines[0];
}

class PullCliTest : public ::testing::Test {
 protected:
  // The target made once: real-small's example.com imported, every user's
  // Maildir removed (as tests/dovecot/dovecot_pull_test.cc does); each test
  // works on its own copy.
  static void SetUpTestSuite() {
    setup_error_.clear();
    template_ = new TempDir();
    TempDir src, work;
    UnpackFixture("real-small", src.path());
    MakeEmptyTarget(template_->path());
    CommandResult e = Export(src.path(), kDomain, work / "d.vma");
    CommandResult i = e.exit_code == 0 ? Import(template_->path(), work / "d.vma") : e;
    if (i.exit_code != 0) {
      setup_error_ = "export/import of real-small: " + i.err;
      return;
    }
    std::string dir = dc::AssignDomainDir(ReadFile(template_->path() + kTargetQmail + "/users/assign"), kDomain);
    for (const auto& [name, login] : dc::ReadVpasswdLogins(ReadFile(template_->path() + dir + "/vpasswd"))) {
      fs::remove_all(template_->path() + login.dir + "/Maildir");
      homes_[name + "@" + kDomain] = login.dir;
    }
  }
  static void TearDownTestSuite() {
    delete template_;
    template_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_TRUE(fs::is_directory(template_->path() + kTargetHome)) << "fixture real-small missing";
    CommandResult c = RunCommand({"cp", "-a", template_->path() + "/.", dst_.path()});
    ASSERT_EQ(c.exit_code, 0) << c.err;
  }

  std::string MaildirOf(const std::string& address) const { return dst_.path() + homes_.at(address) + "/Maildir"; }

  std::string PasswordFile(const std::string& password) {
    std::string p = work_ / ("pw" + std::to_string(++files_));
    WriteFile(p, password + "\n");
    chmod(p.c_str(), 0600);
    return p;
  }

  /// `vmigrate pull ARGS` on the target with SSL_CERT_FILE/SSL_CERT_DIR
  /// unset, then `env` (VAR=value) set; a short --timeout.
  CommandResult Pull(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {"env", "-u", "SSL_CERT_FILE", "-u", "SSL_CERT_DIR"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(VMIGRATE_BINARY);
    argv.push_back("pull");
    argv.insert(argv.end(), args.begin(), args.end());
    argv = Concat(Concat(argv, TargetFlags(dst_.path())), {"--timeout", "10"});
    return RunCommand(argv);
  }

  /// One account: --from URL --user alice@example.com --password-file --into.
  CommandResult PullAlice(const std::string& url, const std::vector<std::string>& extra = {},
                          const std::string& password = kPassword) {
    return Pull(Concat({"--from", url, "--user", kAlice, "--password-file", PasswordFile(password), "--into", kAlice},
                       extra));
  }

  /// Maildir++ folder ("" = INBOX) -> contents of its messages (cur/ and
  /// new/), sorted.
  std::map<std::string, std::vector<std::string>> Messages(const std::string& address) const {
    std::map<std::string, std::vector<std::string>> out;
    std::string maildir = MaildirOf(address);
    if (!fs::is_directory(maildir)) return out;
    std::vector<std::string> folders = {""};
    for (const auto& e : fs::directory_iterator(maildir))
      if (e.is_directory() && e.path().filename().string()[0] == '.') folders.push_back(e.path().filename());
    for (const auto& f : folders)
      for (const char* sub : {"/cur", "/new"}) {
        std::string d = maildir + (f.empty() ? "" : "/" + f) + sub;
        if (!fs::is_directory(d)) continue;
        for (const auto& e : fs::directory_iterator(d)) out[f].push_back(ReadFile(e.path()));
      }
    for (auto& [f, v] : out) std::sort(v.begin(), v.end());
    return out;
  }

  /// Every message in the account is one of `complete` (never a partial
  /// one), and no tmp/ holds a file of ours.
  void ExpectOnlyComplete(const std::string& address, const std::vector<ScriptedMessage>& complete) {
    std::set<std::string> known;
    for (const auto& m : complete) known.insert(Stored(m));
    for (const auto& [folder, bodies] : Messages(address)) {
      for (const auto& b : bodies) EXPECT_TRUE(known.count(b)) << "folder '" << folder << "' holds:\n" << b;
    }
    std::string maildir = MaildirOf(address);
    if (!fs::is_directory(maildir)) return;
    for (const auto& e : fs::recursive_directory_iterator(maildir)) {
      if (e.path().parent_path().filename() != "tmp") continue;
      EXPECT_NE(e.path().filename().string().rfind("vmigrate-pull", 0), 0u) << "left in tmp/: " << e.path();
    }
  }

  static TempDir* template_;
  static std::map<std::string, std::string> homes_;  // address -> home (host path)
  static std::string setup_error_;
  TempDir dst_, work_;
  int files_ = 0;
};

TempDir* PullCliTest::template_ = nullptr;
std::map<std::string, std::string> PullCliTest::homes_;
std::string PullCliTest::setup_error_;

nlohmann::json JsonOf(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << line;
  return j;
}

const std::vector<ScriptedAccount> kAliceOnly = {{kAlice, kPassword}};
constexpr char kImapGreeting[] = "* OK scripted IMAP ready\r\n";
constexpr char kPop3Greeting[] = "+OK scripted POP3 ready\r\n";

// ---- 1. the connection drops mid-message -----------------------------------

TEST_F(PullCliTest, ImapConnectionDroppedMidMessageKeepsTheCompleteOnesAndARerunFinishes) {
  std::vector<ScriptedMessage> inbox = {Msg(1, "one"), Msg(2, "two", 3000), Msg(3, "three")};
  std::vector<ScriptedMessage> sent = {Msg(5, "sent")};
  std::vector<ScriptedMessage> dropping = inbox;
  dropping[1].raw_body = "BODY[] {" + std::to_string(inbox[1].body.size()) + "}\r\n" +
                         inbox[1].body.substr(0, 1000) + kHangUp;
  {
    ScriptedMailServer bad(kImapGreeting, ImapMailbox({{"INBOX", 7, dropping}, {"Sent", 8, sent}}, kAliceOnly));
    CommandResult r = PullAlice(bad.url("imap"));
    EXPECT_EQ(r.exit_code, 9) << r.err << r.out;
    ExpectOneErrorLine(r, {kAlice, "INBOX", "UID 2", "connection dropped"});
    EXPECT_EQ(r.out.find(kPassword), std::string::npos);
    EXPECT_EQ(r.err.find(kPassword), std::string::npos);
  }
  auto after_drop = Messages(kAlice);
  EXPECT_EQ(after_drop[""], std::vector<std::string>{Stored(inbox[0])}) << "the message before the drop stays";
  EXPECT_EQ(after_drop.count(".Sent"), 0u);
  ExpectOnlyComplete(kAlice, inbox);

  ScriptedMailServer good(kImapGreeting, ImapMailbox({{"INBOX", 7, inbox}, {"Sent", 8, sent}}, kAliceOnly));
  CommandResult r = PullAlice(good.url("imap"), {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = JsonOf(r.out);
  EXPECT_EQ(j.value("messages", 0u), 3u) << r.out;  // two of INBOX, one of Sent
  EXPECT_EQ(j.value("already_there", 0u), 1u) << r.out;
  auto all = Messages(kAlice);
  std::vector<std::string> want = {Stored(inbox[0]), Stored(inbox[1]), Stored(inbox[2])};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(all[""], want) << "INBOX: each message once";
  EXPECT_EQ(all[".Sent"], std::vector<std::string>{Stored(sent[0])});
  std::vector<ScriptedMessage> both = inbox;
  both.push_back(sent[0]);
  ExpectOnlyComplete(kAlice, both);
}

TEST_F(PullCliTest, Pop3ConnectionDroppedMidMessageKeepsTheCompleteOnesAndARerunFinishes) {
  std::vector<ScriptedMessage> inbox = {Msg(1, "one"), Msg(2, "two", 3000), Msg(3, "three")};
  std::vector<ScriptedMessage> dropping = inbox;
  dropping[1].raw_body = "+OK\r\n" + inbox[1].body.substr(0, 1000) + kHangUp;
  {
    ScriptedMailServer bad(kPop3Greeting, Pop3Mailbox(dropping, kAliceOnly));
    CommandResult r = PullAlice(bad.url("pop3"));
    EXPECT_EQ(r.exit_code, 9) << r.err << r.out;
    ExpectOneErrorLine(r, {kAlice, "RETR 2", "connection dropped"});
    EXPECT_EQ(r.err.find(kPassword), std::string::npos);
    for (const auto& l : bad.received()) EXPECT_NE(l.rfind("DELE", 0), 0u) << l;
  }
  EXPECT_EQ(Messages(kAlice)[""], std::vector<std::string>{Stored(inbox[0])});
  ExpectOnlyComplete(kAlice, inbox);

  ScriptedMailServer good(kPop3Greeting, Pop3Mailbox(inbox, kAliceOnly));
  CommandResult r = PullAlice(good.url("pop3"), {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = JsonOf(r.out);
  EXPECT_EQ(j.value("messages", 0u), 2u) << r.out;
  EXPECT_EQ(j.value("already_there", 0u), 1u) << r.out;
  std::vector<std::string> want = {Stored(inbox[0]), Stored(inbox[1]), Stored(inbox[2])};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Messages(kAlice)[""], want) << "each message once";
  ExpectOnlyComplete(kAlice, inbox);
}

// ---- 2. a message of another size than announced ----------------------------

TEST_F(PullCliTest, ImapMessageLargerOrSmallerThanAnnouncedIsRefused) {
  for (bool larger : {true, false}) {
    SCOPED_TRACE(larger ? "larger" : "smaller");
    std::vector<ScriptedMessage> inbox = {Msg(1, "one"), Msg(2, "two", 500), Msg(3, "three")};
    std::vector<ScriptedMessage> wrong = inbox;
    const std::string& b = inbox[1].body;
    wrong[1].raw_body = larger ? "BODY[] {" + std::to_string(b.size() + 7) + "}\r\n" + b + "EXTRA\r\n"
                               : "BODY[] {" + std::to_string(b.size() - 7) + "}\r\n" + b.substr(0, b.size() - 7);
    ScriptedMailServer server(kImapGreeting, ImapMailbox({{"INBOX", 7, wrong}}, kAliceOnly));
    CommandResult r = PullAlice(server.url("imap"));
    EXPECT_EQ(r.exit_code, 9) << r.err << r.out;
    ExpectOneErrorLine(r, {kAlice, "INBOX", "UID 2", "RFC822.SIZE"});
    EXPECT_EQ(r.err.find(kPassword), std::string::npos);
    EXPECT_EQ(Messages(kAlice)[""], std::vector<std::string>{Stored(inbox[0])});
    ExpectOnlyComplete(kAlice, inbox);
    fs::remove_all(MaildirOf(kAlice));  // the next round starts empty
  }
}

// ---- 3. a folder name that is not modified UTF-7 -----------------------------

TEST_F(PullCliTest, FolderNameNotModifiedUtf7IsRefusedAndNothingIsPulled) {
  ScriptedMailServer server(kImapGreeting, ImapMailbox({{"INBOX", 7, {Msg(1, "one"), Msg(2, "two")}},
                                                        {"Bad&name", 9, {Msg(1, "three")}}},
                                                       kAliceOnly));
  CommandResult r = PullAlice(server.url("imap"));
  EXPECT_EQ(r.exit_code, 8) << r.err << r.out;
  ExpectOneErrorLine(r, {kAlice, "Bad&name", "modified UTF-7", "nothing pulled"});
  EXPECT_TRUE(Messages(kAlice).empty()) << "nothing may be pulled";
  for (const auto& l : server.received()) EXPECT_EQ(l.find("BODY.PEEK"), std::string::npos) << l;
  ExpectOnlyComplete(kAlice, {});
}

TEST_F(PullCliTest, Pop3UidlThatIsNotPrintableIsRefusedAndNothingIsPulled) {
  std::vector<ScriptedMessage> inbox = {Msg(1, "one"), Msg(2, "two")};
  inbox[1].uidl = "bad\x7fuidl";
  ScriptedMailServer server(kPop3Greeting, Pop3Mailbox(inbox, kAliceOnly));
  CommandResult r = PullAlice(server.url("pop3"));
  EXPECT_EQ(r.exit_code, 8) << r.err << r.out;
  ExpectOneErrorLine(r, {kAlice, "UIDL of message 2", "nothing pulled"});
  EXPECT_TRUE(Messages(kAlice).empty());
  for (const auto& l : server.received()) EXPECT_NE(l.rfind("RETR", 0), 0u) << l;
}

// ---- 4. a POP3 server without UIDL ------------------------------------------

TEST_F(PullCliTest, Pop3WithoutUidlIsRefusedUnlessNoUidl) {
  std::vector<ScriptedMessage> inbox = {Msg(1, "one"), Msg(2, "two"), Msg(3, "three")};
  ScriptedMailServer server(kPop3Greeting, Pop3Mailbox(inbox, kAliceOnly, /*uidl=*/false));
  CommandResult r = PullAlice(server.url("pop3"));
  EXPECT_EQ(r.exit_code, 8) << r.err << r.out;
  ExpectOneErrorLine(r, {kAlice, server.url("pop3"), "no UIDL", "download every message again", "--no-uidl"});
  EXPECT_TRUE(Messages(kAlice).empty());

  r = PullAlice(server.url("pop3"), {"--no-uidl", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(JsonOf(r.out).value("messages", 0u), 3u) << r.out;
  EXPECT_EQ(Messages(kAlice)[""].size(), 3u);

  r = PullAlice(server.url("pop3"), {"--no-uidl", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(JsonOf(r.out).value("messages", 99u), 0u) << "a second --no-uidl run pulls nothing new: " << r.out;
  EXPECT_EQ(Messages(kAlice)[""].size(), 3u);
  ExpectOnlyComplete(kAlice, inbox);
}

// ---- 6. --accounts and --jobs ------------------------------------------------

TEST_F(PullCliTest, AccountsCsvWithJobsGivesJsonLinesAndExit4ForAWrongPassword) {
  const std::string comma_pw = "open, \"sesame\"";  // quoted in the CSV
  std::vector<ScriptedMessage> inbox = {Msg(1, "one"), Msg(2, "two")};
  ScriptedMailServer server(kImapGreeting, ImapMailbox({{"INBOX", 7, inbox}}, {{"alice", comma_pw},
                                                                               {"bob", "b0b-pw"},
                                                                               {"carol", "right-pw"}}));
  std::string csv = work_ / "accounts.csv";
  WriteFile(csv, "# login,password,address[,url]\n"
                 "alice,\"open, \"\"sesame\"\"\",alice@example.com\n"
                 "bob,b0b-pw,bob@example.com," + server.url("imap") + "\n"
                 "carol,wrong-pw,carol@example.com\n");
  chmod(csv.c_str(), 0600);
  CommandResult r = Pull({"--accounts", csv, "--from", server.url("imap"), "--jobs", "2", "--json"});
  EXPECT_EQ(r.exit_code, 4) << r.err << r.out;
  std::map<std::string, nlohmann::json> by_user;
  nlohmann::json summary;
  for (const auto& l : Lines(r.out)) {
    if (l.empty()) continue;
    auto j = JsonOf(l);
    if (j.value("type", "") == "pull") by_user[j.value("user", "")] = j;
    if (j.value("type", "") == "summary") summary = j;
  }
  ASSERT_EQ(by_user.size(), 3u) << r.out;
  EXPECT_EQ(by_user["alice@example.com"].value("status", ""), "ok") << r.out;
  EXPECT_EQ(by_user["alice@example.com"].value("messages", 0u), 2u) << r.out;
  EXPECT_EQ(by_user["bob@example.com"].value("status", ""), "ok") << r.out;
  EXPECT_EQ(by_user["carol@example.com"].value("status", ""), "error") << r.out;
  EXPECT_EQ(by_user["carol@example.com"].value("exit", 0), 9) << r.out;
  EXPECT_NE(by_user["carol@example.com"].value("error", "").find("login refused for carol"), std::string::npos)
      << r.out;
  EXPECT_EQ(summary.value("ok", 0), 2) << r.out;
  EXPECT_EQ(summary.value("failed", 0), 1) << r.out;
  EXPECT_EQ(summary.value("exit", 0), 4) << r.out;
  std::vector<std::string> err = StderrLines(r);
  ASSERT_EQ(err.size(), 1u) << r.err;
  EXPECT_NE(err[0].find("carol@example.com"), std::string::npos) << err[0];
  for (const std::string& pw : {comma_pw, std::string("sesame"), std::string("b0b-pw"), std::string("wrong-pw")}) {
    EXPECT_EQ(r.out.find(pw), std::string::npos) << pw;
    EXPECT_EQ(r.err.find(pw), std::string::npos) << pw;
  }
  EXPECT_EQ(Messages("alice@example.com")[""].size(), 2u);
  EXPECT_EQ(Messages("bob@example.com")[""].size(), 2u);
  EXPECT_TRUE(Messages("carol@example.com").empty());
  ExpectOnlyComplete("carol@example.com", {});
}

// ---- 7. --dry-run --------------------------------------------------------------

TEST_F(PullCliTest, DryRunListsCountsAndBytesPerFolderAndWritesNothing) {
  std::vector<ScriptedMessage> inbox = {Msg(1, "one"), Msg(2, "two", 100)};
  std::vector<ScriptedMessage> sent = {Msg(4, "sent", 50)};
  ScriptedMailServer server(kImapGreeting, ImapMailbox({{"INBOX", 7, inbox}, {"Sent", 8, sent}}, kAliceOnly));
  auto before = TreeDigest(dst_.path());
  CommandResult r = PullAlice(server.url("imap"), {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  size_t inbox_bytes = inbox[0].body.size() + inbox[1].body.size();
  bool saw_inbox = false, saw_sent = false;
  for (const auto& l : Lines(r.out)) {
    if (l.rfind("INBOX ", 0) == 0) {
      saw_inbox = true;
      EXPECT_NE(l.find("would pull 2 (" + std::to_string(inbox_bytes) + " bytes)"), std::string::npos) << l;
    }
    if (l.rfind("Sent ", 0) == 0) {
      saw_sent = true;
      EXPECT_NE(l.find("would pull 1 (" + std::to_string(sent[0].body.size()) + " bytes)"), std::string::npos) << l;
    }
  }
  EXPECT_TRUE(saw_inbox && saw_sent) << r.out;
  EXPECT_NE(r.out.find("nothing written"), std::string::npos) << r.out;
  EXPECT_EQ(TreeDigest(dst_.path()), before) << "a dry run wrote to the target";
  for (const auto& l : server.received()) EXPECT_EQ(l.find("BODY.PEEK"), std::string::npos) << l;
}

// ---- 8. the password options, and the other exit codes -------------------------

TEST_F(PullCliTest, PasswordFdWorks) {
  std::vector<ScriptedMessage> inbox = {Msg(1, "one")};
  ScriptedMailServer server(kPop3Greeting, Pop3Mailbox(inbox, kAliceOnly));
  int p[2];
  ASSERT_EQ(pipe(p), 0);  // inherited by vmigrate (no O_CLOEXEC)
  std::string line = std::string(kPassword) + "\nsecond line is not the password\n";
  ASSERT_EQ(write(p[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
  close(p[1]);
  CommandResult r = Pull({"--from", server.url("pop3"), "--user", kAlice, "--password-fd", std::to_string(p[0]),
                          "--into", kAlice, "--json"});
  close(p[0]);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(JsonOf(r.out).value("messages", 0u), 1u) << r.out;
  EXPECT_EQ(r.out.find(kPassword), std::string::npos);
}

TEST_F(PullCliTest, EmptyPasswordOrBothPasswordOptionsAreUsageErrors) {
  ScriptedMailServer server(kPop3Greeting, Pop3Mailbox({Msg(1, "one")}, kAliceOnly));
  CommandResult r = PullAlice(server.url("pop3"), {}, "");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ExpectOneErrorLine(r, {"password is empty"});
  r = PullAlice(server.url("pop3"), {"--password-fd", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ExpectOneErrorLine(r, {"exactly one of --password-file FILE and --password-fd N"});
  EXPECT_EQ(r.err.find(kPassword), std::string::npos);
  EXPECT_TRUE(server.received().empty()) << "no connection before the options are checked";
  EXPECT_TRUE(Messages(kAlice).empty());
}

TEST_F(PullCliTest, UnknownAccountIs7AndARunningPullIs5) {
  ScriptedMailServer server(kPop3Greeting, Pop3Mailbox({Msg(1, "one")}, kAliceOnly));
  CommandResult r = Pull({"--from", server.url("pop3"), "--user", kAlice, "--password-file", PasswordFile(kPassword),
                          "--into", "nobody@example.com"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  ExpectOneErrorLine(r, {"nobody@example.com", "no such account"});

  // Another pull holds the account (its lock on the Maildir).
  fs::create_directories(MaildirOf(kAlice));
  int fd = open(MaildirOf(kAlice).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  r = PullAlice(server.url("pop3"));
  close(fd);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  ExpectOneErrorLine(r, {kAlice, "another pull"});
  EXPECT_TRUE(Messages(kAlice).empty());
}

// ---- UIDLs from a POP3 server whose sizes are not IMAP's --------------------

// qmail-pop3d's LIST counts LF line ends, IMAP's RFC822.SIZE CRLF: the size
// pass matches nothing, the header pass (TOP n 0 against BODY.PEEK[HEADER])
// must match every message, also one whose POP3 header has an mbox
// server's Status:/X-UIDL: lines and two of the same size; a message that
// is only on IMAP keeps no UIDL.
TEST_F(PullCliTest, UidlsAreMatchedByHeaderWhenTheSizesDiffer) {
  std::vector<ScriptedMessage> imap_msgs = {Msg(11, "one"), Msg(12, "two", 40), Msg(13, "three", 40),
                                            Msg(14, "four", 7), Msg(15, "only-on-imap")};
  std::vector<ScriptedMessage> pop3_msgs(imap_msgs.begin(), imap_msgs.end() - 1);
  for (auto& m : pop3_msgs) m.pop3_size = Stored(m).size();  // LF counted
  pop3_msgs[1].pop3_body = "Status: RO\r\nX-UIDL: old-mbox-uidl\r\n" + pop3_msgs[1].body;
  // POP3 order is not UID order here: the join is by header, not position.
  std::swap(pop3_msgs[2], pop3_msgs[3]);
  ScriptedMailServer imap(kImapGreeting, ImapMailbox({{"INBOX", 7, imap_msgs}}, kAliceOnly));
  ScriptedMailServer pop3(kPop3Greeting, Pop3Mailbox(pop3_msgs, kAliceOnly));
  CommandResult r = PullAlice(imap.url("imap"), {"--uidls-from", pop3.url("pop3"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j.value("uidls_known", 0u), 4u) << r.out;
  EXPECT_FALSE(j.value("dovecot_pop3_uidls_kept", true)) << r.out;  // uid 15 has none
  EXPECT_NE(r.err.find("0 POP3 and 1 IMAP messages could not be matched"), std::string::npos) << r.err;
  auto list = pull::ParseUidList(ReadFile(MaildirOf(kAlice) + "/dovecot-uidlist"), "dovecot-uidlist");
  ASSERT_TRUE(list.ok()) << list.status().message();
  std::map<uint32_t, std::string> p;
  for (const auto& rec : list->records) p[rec.uid] = rec.pop3_uidl;
  for (const auto& m : pop3_msgs) EXPECT_EQ(p[m.uid], m.uidl) << "UID " << m.uid;
  EXPECT_EQ(p[15], "");
}

// ---- --create: a missing account made once the old server accepts the login ----

TEST_F(PullCliTest, CreateMakesAMissingAccountOnlyAfterTheOldServerAcceptedThePassword) {
  ScriptedMailServer server(kPop3Greeting, Pop3Mailbox({Msg(1, "one"), Msg(2, "two")}, kAliceOnly));
  const std::string vpasswd =
      dst_.path() + dc::AssignDomainDir(ReadFile(dst_.path() + kTargetQmail + "/users/assign"), kDomain) + "/vpasswd";
  const std::string before = ReadFile(vpasswd);
  auto pull_into = [&](const std::string& into, const std::string& password, const std::vector<std::string>& extra) {
    return Pull(Concat({"--from", server.url("pop3"), "--user", kAlice, "--password-file", PasswordFile(password),
                        "--into", into, "--create"},
                       extra));
  };
  // A password the old server refuses: exit 9, no account.
  CommandResult refused = pull_into("nancy@example.com", "wrong", {});
  EXPECT_EQ(refused.exit_code, 9) << refused.err;
  EXPECT_EQ(ReadFile(vpasswd), before);
  // A name vpopmail refuses (one character could be a bucket): usage, no account.
  CommandResult bad = pull_into("x@example.com", kPassword, {});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  ExpectOneErrorLine(bad, {"x@example.com", "one-character"});
  EXPECT_EQ(ReadFile(vpasswd), before);

  CommandResult made = pull_into("nancy@example.com", kPassword, {"--json"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto j = nlohmann::json::parse(made.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << made.out;
  EXPECT_TRUE(j.value("created", false)) << made.out;
  EXPECT_EQ(j.value("messages", 0u), 2u) << made.out;
  std::string line;
  for (const auto& l : Lines(ReadFile(vpasswd)))
    if (l.rfind("nancy:", 0) == 0) line = l;
  ASSERT_FALSE(line.empty()) << ReadFile(vpasswd);
  EXPECT_NE(line.find(":$6$"), std::string::npos) << line;
  EXPECT_NE(line.find(std::string(":") + kTargetHome + "/domains/example.com/nancy:"), std::string::npos) << line;
  size_t in_new = 0;
  for (const auto& e : fs::directory_iterator(dst_.path() + kTargetHome + "/domains/example.com/nancy/Maildir/new")) {
    (void)e;
    ++in_new;
  }
  EXPECT_EQ(in_new, 2u);
  // Again: the account is there, nothing made, nothing pulled twice.
  CommandResult again = pull_into("nancy@example.com", kPassword, {"--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto k = nlohmann::json::parse(again.out, nullptr, false);
  EXPECT_FALSE(k.value("created", true)) << again.out;
  EXPECT_EQ(k.value("messages", 99u), 0u) << again.out;
}

// The real vpopmail 5.4.33 MySQL hosts in a private MariaDB: real-mysql-many
// (pw_passwd widened to char(128) by its admin) takes the new row;
// real-mysql-perdomain keeps 5.4's char(40), too narrow for a SHA-512 crypt.
class PullCliMysqlTest : public ::testing::Test {
 protected:
  void Load(const std::string& fixture) {
    db_ = UnpackMysqlFixture(fixture, root_.path(), MariaDbServer::Shared());
    ASSERT_FALSE(db_.empty());
    prefix_ = MysqlFixturePrefix(fixture);
  }
  CommandResult PullCreate(const std::string& into) {
    const std::string pw = work_ / "pw";
    WriteFile(pw, std::string(kPassword) + "\n");
    chmod(pw.c_str(), 0600);
    return RunCommand({VMIGRATE_BINARY, "pull", "--from", server_.url("pop3"), "--user", kAlice, "--password-file", pw,
                       "--into", into, "--create", "--json", "--timeout", "10", "--root", root_.path(),
                       "--vpopmail-home", prefix_ + "/home/vpopmail", "--qmail-dir", prefix_ + "/qmail"});
  }
  std::string Rows(const std::string& query) { return MariaDbServer::Shared().Rows(db_, query); }

  ScriptedMailServer server_{kPop3Greeting, Pop3Mailbox({Msg(1, "one"), Msg(2, "two")}, kAliceOnly)};
  TempDir root_, work_;
  std::string db_, prefix_;
};

TEST_F(PullCliMysqlTest, CreateInsertsTheRowAndTheDirControlRowTogether) {
  Load("real-mysql-many");
  ASSERT_FALSE(HasFatalFailure());
  const std::string counter_before = Rows("SELECT cur_users FROM dir_control WHERE domain='example.com'");
  CommandResult r = PullCreate("nancy@example.com");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_TRUE(j.value("created", false)) << r.out;
  EXPECT_EQ(j.value("messages", 0u), 2u) << r.out;
  const std::string row =
      Rows("SELECT pw_passwd, pw_uid, pw_gid, pw_dir FROM vpopmail WHERE pw_name='nancy' AND pw_domain='example.com'");
  std::vector<std::string> f;
  for (size_t start = 0;;) {
    size_t tab = row.find('\t', start);
    f.push_back(row.substr(start, tab == std::string::npos ? row.find('\n', start) - start : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  ASSERT_EQ(f.size(), 4u) << row;
  EXPECT_TRUE(vpopmail::CryptMatches(kPassword, f[0])) << f[0];
  EXPECT_EQ(f[1], "0");  // POP, as vpopmail's MySQL backend writes it
  EXPECT_EQ(f[2], "0");
  EXPECT_TRUE(fs::is_directory(root_.path() + f[3] + "/Maildir/new")) << f[3];
  // The counter vadduser would leave: one more user.
  EXPECT_EQ(Rows("SELECT cur_users FROM dir_control WHERE domain='example.com'"),
            std::to_string(std::stoul(counter_before) + 1) + "\n");
}

TEST_F(PullCliMysqlTest, CreateIsRefusedWithExit8WhenPwPasswdIsTooNarrow) {
  const std::string domain = "example-shop.com";
  Load("real-mysql-perdomain");
  ASSERT_FALSE(HasFatalFailure());
  CommandResult r = PullCreate("nancy@" + domain);
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_NE(r.err.find("pw_passwd"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ALTER TABLE"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kPassword), std::string::npos) << r.err;
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM example_shop_com WHERE pw_name='nancy'"), "0\n");
}

// ---- 5. TLS: --starttls always against a server without it ---------------------

TEST_F(PullCliTest, StartTlsAlwaysRefusesAPlainServerBeforeTheLogin) {
  ScriptedMailServer imap(kImapGreeting, ImapMailbox({{"INBOX", 7, {Msg(1, "one")}}}, kAliceOnly));
  CommandResult r = PullAlice(imap.url("imap"), {"--starttls", "always"});
  EXPECT_EQ(r.exit_code, 9) << r.err;
  ExpectOneErrorLine(r, {kAlice, imap.url("imap"), "does not offer STARTTLS"});
  for (const auto& l : imap.received()) EXPECT_EQ(l.find("LOGIN"), std::string::npos) << l;

  ScriptedMailServer pop3(kPop3Greeting, Pop3Mailbox({Msg(1, "one")}, kAliceOnly));
  r = PullAlice(pop3.url("pop3"), {"--starttls", "always"});
  EXPECT_EQ(r.exit_code, 9) << r.err;
  ExpectOneErrorLine(r, {kAlice, pop3.url("pop3"), "does not offer STLS"});
  for (const auto& l : pop3.received()) EXPECT_NE(l.rfind("PASS", 0), 0u) << l;
  EXPECT_TRUE(Messages(kAlice).empty());
}

// ---- 5. TLS end to end with a real Dovecot ---------------------------------------

// The old server: a Dovecot with a certificate from a test CA, serving
// alice's real-small Maildir; started once for the suite.
class PullCliTlsTest : public PullCliTest {
 protected:
  static constexpr const char* kAlicePassword = "Alice#2023";  // tests/fixtures/real-small.MANIFEST

  static void SetUpTestSuite() {
    PullCliTest::SetUpTestSuite();
    if (!dc::DovecotInstalled()) return;
    dir_ = new TempDir();
    std::string root = dir_->path() + "/root";
    UnpackFixture("real-small", root);
    std::string domain = root + kFixtureVpopmailHome + "/domains/example.com";
    std::string home = domain + "/alice";
    if (!MakeTestCa(dir_->path() + "/ca", &ca_, &setup_error_)) return;
    dc::DovecotIdentity id = dc::PickIdentity();
    std::string work = dir_->path() + "/dovecot";
    dc::MakeWorkDir(work);
    dc::PrepareTree(root, {domain}, {home + "/Maildir"}, id);
    auto logins = dc::ReadVpasswdLogins(ReadFile(domain + "/vpasswd"));
    std::string passwd = work + "/passwd";
    WriteFile(passwd, std::string(kAlice) + ":{CRYPT}" + logins["alice"].crypt + ":" + std::to_string(id.mail_uid) +
                          ":" + std::to_string(id.mail_gid) + "::" + home + "::\n");
    chmod(passwd.c_str(), 0644);
    dc::DovecotSettings settings;
    settings.ssl_cert = ca_.server_cert;
    settings.ssl_key = ca_.server_key;
    settings.extra = "pop3_no_flag_updates = yes\n";
    std::string error;
    for (int attempt = 1; attempt <= 3 && !server_; ++attempt) {
      auto s = std::make_unique<dc::DovecotServer>(work + "/server" + std::to_string(attempt),
                                                   dc::DovecotServer::PasswdFileAuth(passwd), id, settings);
      if (s->Start(&error)) server_ = s.release();
    }
    if (!server_) setup_error_ = "Dovecot did not start:\n" + error;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
    PullCliTest::TearDownTestSuite();
  }
  void SetUp() override {
    if (!dc::DovecotInstalled())
      GTEST_SKIP() << "\n*** DOVECOT IS NOT INSTALLED (" << dc::kDovecotBinary
                   << " missing): the TLS pull test did NOT run ***\n";
    PullCliTest::SetUp();
  }

  std::string Url(const std::string& scheme) const {
    int port = scheme == "imaps" ? server_->imaps_port() : server_->pop3s_port();
    return scheme + "://127.0.0.1:" + std::to_string(port);
  }

  /// Successful logins in the server's log so far.
  static size_t Logins() {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the log process writes late
    std::string log = server_->Log();
    size_t n = 0;
    for (size_t p = log.find("Login: user=<"); p != std::string::npos; p = log.find("Login: user=<", p + 1)) ++n;
    return n;
  }

  static TempDir* dir_;
  static TestCa ca_;
  static dc::DovecotServer* server_;
};

TempDir* PullCliTlsTest::dir_ = nullptr;
TestCa PullCliTlsTest::ca_;
dc::DovecotServer* PullCliTlsTest::server_ = nullptr;

TEST_F(PullCliTlsTest, ImapsAndPop3sWithCaFileSucceed) {
  CommandResult r = PullAlice(Url("imaps"), {"--ca-file", ca_.ca_cert, "--json"}, kAlicePassword);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  uint32_t imap_messages = JsonOf(r.out).value("messages", 0u);
  EXPECT_GT(imap_messages, 2u) << r.out;
  EXPECT_EQ(r.err.find(kAlicePassword), std::string::npos);

  // POP3 over TLS into another account (a POP3 pull does not know IMAP's names).
  r = Pull({"--from", Url("pop3s"), "--user", kAlice, "--password-file", PasswordFile(kAlicePassword), "--into",
            "bob@example.com", "--ca-file", ca_.ca_cert, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_GT(JsonOf(r.out).value("messages", 0u), 0u) << r.out;
  EXPECT_EQ(Messages("bob@example.com")[""].size(), Messages(kAlice)[""].size());
}

TEST_F(PullCliTlsTest, UntrustedCertificateIsRefusedBeforeTheLogin) {
  size_t logins_before = Logins();
  for (const char* scheme : {"imaps", "pop3s"}) {
    CommandResult r = PullAlice(Url(scheme), {}, kAlicePassword);
    EXPECT_EQ(r.exit_code, 9) << scheme << ": " << r.err << r.out;
    ExpectOneErrorLine(r, {kAlice, Url(scheme), "certificate not trusted"});
    EXPECT_EQ(r.err.find(kAlicePassword), std::string::npos);
  }
  EXPECT_TRUE(Messages(kAlice).empty());
  EXPECT_EQ(Logins(), logins_before) << "a login happened over an untrusted connection";
}

TEST_F(PullCliTlsTest, SslCertFileIsHonoured) {
  CommandResult r = PullAlice(Url("imaps"), {"--json"}, kAlicePassword);
  EXPECT_EQ(r.exit_code, 9) << r.err;  // not trusted without it
  r = Pull({"--from", Url("imaps"), "--user", kAlice, "--password-file", PasswordFile(kAlicePassword), "--into",
            kAlice, "--json"},
           {"SSL_CERT_FILE=" + ca_.ca_cert});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_GT(JsonOf(r.out).value("messages", 0u), 2u) << r.out;
}

}  // namespace
}  // namespace vmigrate::testing::cli
