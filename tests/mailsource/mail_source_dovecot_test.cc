// The sessions against a real Dovecot (IMAP, POP3, imaps, pop3s, STARTTLS)
// serving alice@example.com's Maildir from the real-small fixture, with a
// certificate from a test CA. What OpenImap/OpenPop3 return must equal what
// the suite's own plain-text clients (tests/dovecot/mail_client.h) see; a
// certificate that does not verify must stop the session before the login.
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dovecot/dovecot_server.h"
#include "dovecot/mail_client.h"
#include "dovecot/mail_snapshot.h"
#include "mailsource/mail_source.h"
#include "support/test_ca.h"
#include "support/test_support.h"

namespace vmigrate::mailsource {
namespace {

namespace dc = testing::dovecot;
using testing::TempDir;
using testing::TestCa;

const char kAlice[] = "alice@example.com";
const char kAlicePassword[] = "Alice#2023";  // tests/fixtures/real-small.MANIFEST

// One Dovecot for the whole suite: starting it is most of the cost.
class DovecotSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!dc::DovecotInstalled()) return;
    dir_ = new TempDir();
    std::string root = dir_->path() + "/root";
    testing::UnpackFixture("real-small", root);
    std::string domain = root + testing::kFixtureVpopmailHome + "/domains/example.com";
    std::string home = domain + "/alice";
    if (!std::filesystem::is_directory(home + "/Maildir")) {
      setup_error_ = "fixture real-small has no " + home + "/Maildir";
      return;
    }
    if (!testing::MakeTestCa(dir_->path() + "/ca", &ca_, &setup_error_) ||
        !testing::MakeTestCa(dir_->path() + "/other", &other_, &setup_error_, "some other CA"))
      return;
    dc::DovecotIdentity id = dc::PickIdentity();
    std::string work = dir_->path() + "/dovecot";
    dc::MakeWorkDir(work);
    dc::PrepareTree(root, {domain}, {home + "/Maildir"}, id);
    auto logins = dc::ReadVpasswdLogins(testing::ReadFile(domain + "/vpasswd"));
    std::string passwd = work + "/passwd";
    testing::WriteFile(passwd, std::string(kAlice) + ":{CRYPT}" + logins["alice"].crypt + ":" +
                                   std::to_string(id.mail_uid) + ":" + std::to_string(id.mail_gid) + "::" + home +
                                   "::\n");
    chmod(passwd.c_str(), 0644);
    dc::DovecotSettings settings;
    settings.ssl_cert = ca_.server_cert;
    settings.ssl_key = ca_.server_key;
    // INTERNALDATE then carries -0500/-0400: the conversion to UTC is tested.
    settings.tz = "America/New_York";
    for (int attempt = 1; attempt <= 3 && !server_; ++attempt) {
      auto s = std::make_unique<dc::DovecotServer>(work + "/server" + std::to_string(attempt),
                                                   dc::DovecotServer::PasswdFileAuth(passwd), id, settings);
      if (s->Start(&setup_error_)) server_ = s.release();
    }
    if (!server_) return;
    // A keyword on the first INBOX message, so FLAGS carry one.
    try {
      dc::ImapClient imap(server_->imap_port());
      imap.Login(kAlice, kAlicePassword);
      imap.Command("SELECT INBOX");
      imap.Command("STORE 1 +FLAGS ($Forwarded)");
      imap.Logout();
    } catch (const dc::MailClientError& e) {
      setup_error_ = std::string("setting a keyword: ") + e.what() + "\n" + server_->Log();
    }
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (!dc::DovecotInstalled()) GTEST_SKIP() << "Dovecot is not installed: the real-server test did NOT run";
    ASSERT_TRUE(server_ != nullptr && setup_error_.empty()) << setup_error_;
    unsetenv("SSL_CERT_FILE");
  }
  void TearDown() override { unsetenv("SSL_CERT_FILE"); }

  static SourceUrl Url(const std::string& scheme, int port, const std::string& host = "127.0.0.1") {
    Result<SourceUrl> url = ParseSourceUrl(scheme + "://" + host + ":" + std::to_string(port));
    EXPECT_TRUE(url.ok()) << url.status().message();
    return url.ok() ? *url : SourceUrl{};
  }
  static ConnectOptions Trusting(const std::string& ca_file, StartTls starttls = StartTls::kWhenOffered) {
    ConnectOptions o;
    o.ca_file = ca_file;
    o.starttls = starttls;
    o.timeout_seconds = 20;
    return o;
  }
  static Credentials Alice(const std::string& password = kAlicePassword) { return {kAlice, password}; }

  /// Successful logins in the server log so far.
  static size_t Logins() {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the log process writes late
    std::string log = server_->Log();
    size_t n = 0;
    for (size_t p = log.find("Login: user=<"); p != std::string::npos; p = log.find("Login: user=<", p + 1)) ++n;
    return n;
  }

  static TempDir* dir_;
  static TestCa ca_, other_;
  static dc::DovecotServer* server_;
  static std::string setup_error_;
};

TempDir* DovecotSourceTest::dir_ = nullptr;
TestCa DovecotSourceTest::ca_;
TestCa DovecotSourceTest::other_;
dc::DovecotServer* DovecotSourceTest::server_ = nullptr;
std::string DovecotSourceTest::setup_error_;

// "01-Feb-2024 10:00:00 -0500" -> seconds since the epoch (UTC).
int64_t ParseInternalDate(const std::string& text) {
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char mon[4] = {0};
  int day, year, hh, mm, ss, zone;
  if (std::sscanf(text.c_str(), "%d-%3s-%d %d:%d:%d %d", &day, mon, &year, &hh, &mm, &ss, &zone) != 7) return -1;
  tm t{};
  t.tm_mday = day;
  t.tm_year = year - 1900;
  t.tm_hour = hh;
  t.tm_min = mm;
  t.tm_sec = ss;
  t.tm_mon = -1;
  for (int i = 0; i < 12; ++i)
    if (std::string(mon) == kMonths[i]) t.tm_mon = i;
  int sign = zone < 0 ? -1 : 1;
  zone *= sign;
  return static_cast<int64_t>(timegm(&t)) - sign * ((zone / 100) * 3600 + (zone % 100) * 60);
}

// One message line of the reference client's UID FETCH, in ImapMessage's
// terms: "UID n FLAGS (a b) INTERNALDATE <epoch> SIZE s".
std::string ReferenceLine(const std::string& fetch) {
  std::string flags = fetch.substr(fetch.find("FLAGS (") + 7);
  flags = dc::WithoutRecent("(" + flags.substr(0, flags.find(')')) + ")");
  size_t d = fetch.find("INTERNALDATE \"") + 14;
  std::string date = fetch.substr(d, fetch.find('"', d) - d);
  return "UID " + std::to_string(dc::NumberAfter(fetch, "UID ")) + " FLAGS " + flags + " INTERNALDATE " +
         std::to_string(ParseInternalDate(date)) + " SIZE " + std::to_string(dc::NumberAfter(fetch, "RFC822.SIZE "));
}

std::string OurLine(const ImapMessage& m) {
  std::string flags;
  for (const auto& f : m.flags) flags += (flags.empty() ? "" : " ") + f;
  return "UID " + std::to_string(m.uid) + " FLAGS (" + flags + ") INTERNALDATE " + std::to_string(m.internaldate) +
         " SIZE " + std::to_string(m.size);
}

TEST_F(DovecotSourceTest, ImapsSessionSeesWhatAPlainClientSees) {
  Result<std::unique_ptr<ImapSession>> s = OpenImap(Url("imaps", server_->imaps_port()), Trusting(ca_.ca_cert), Alice());
  ASSERT_TRUE(s.ok()) << s.status().message();
  ImapSession& imap = **s;
  dc::ImapClient ref(server_->imap_port());
  ref.Login(kAlice, kAlicePassword);

  std::vector<ImapFolder> folders;
  ASSERT_TRUE(imap.ListFolders(&folders).ok());
  std::vector<std::string> names, ref_names = ref.List();
  std::set<std::string> subscribed;
  for (const auto& f : folders) {
    names.push_back(f.name);
    EXPECT_FALSE(f.noselect) << f.name;
    EXPECT_EQ(f.delimiter, '.') << f.name;  // Maildir++ layout
    if (f.subscribed) subscribed.insert(f.name);
  }
  EXPECT_EQ(names, ref_names);
  EXPECT_EQ(subscribed, (std::set<std::string>{"Drafts", "Sent", "Trash"}));  // the fixture's subscriptions file

  size_t bodies = 0;
  bool keyword_seen = false;
  for (const auto& folder : ref_names) {
    FolderStatus st;
    ASSERT_TRUE(imap.Examine(folder, &st).ok()) << folder;
    long ref_exists = -1, ref_validity = -1, ref_next = -1;
    for (const auto& r : ref.Command("EXAMINE " + dc::ImapClient::Quote(folder))) {
      if (r.text.size() > 9 && r.text.compare(r.text.size() - 7, 7, " EXISTS") == 0)
        ref_exists = std::strtol(r.text.c_str() + 2, nullptr, 10);
      if (r.text.find("[UIDVALIDITY ") != std::string::npos) ref_validity = dc::NumberAfter(r.text, "[UIDVALIDITY ");
      if (r.text.find("[UIDNEXT ") != std::string::npos) ref_next = dc::NumberAfter(r.text, "[UIDNEXT ");
    }
    EXPECT_EQ(static_cast<long>(st.exists), ref_exists) << folder;
    EXPECT_EQ(static_cast<long>(st.uidvalidity), ref_validity) << folder;
    EXPECT_EQ(static_cast<long>(st.uidnext), ref_next) << folder;

    std::vector<ImapMessage> messages;
    ASSERT_TRUE(imap.FetchMessages(1, &messages).ok()) << folder;
    std::vector<std::string> ours, theirs;
    for (const auto& m : messages) ours.push_back(OurLine(m));
    if (ref_exists > 0)
      for (const auto& r : ref.Command("UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)"))
        if (r.text.find(" FETCH ") != std::string::npos) theirs.push_back(ReferenceLine(r.text));
    EXPECT_EQ(ours, theirs) << folder;
    for (const auto& m : messages) {
      for (const auto& f : m.flags) keyword_seen |= f == "$Forwarded";
      std::string body;
      ASSERT_TRUE(imap.FetchBody(m.uid, m.size, &body).ok()) << folder << " UID " << m.uid;
      std::vector<dc::ImapResponse> r = ref.Command("UID FETCH " + std::to_string(m.uid) + " (BODY.PEEK[])");
      ASSERT_EQ(r.size(), 1u);
      ASSERT_EQ(r[0].literals.size(), 1u);
      EXPECT_EQ(body, r[0].literals[0]) << folder << " UID " << m.uid;
      ++bodies;
    }
    if (messages.size() >= 2) {  // incremental: from the second UID on
      std::vector<ImapMessage> tail;
      ASSERT_TRUE(imap.FetchMessages(messages[1].uid, &tail).ok());
      ASSERT_EQ(tail.size(), messages.size() - 1);
      EXPECT_EQ(tail[0].uid, messages[1].uid);
    }
  }
  EXPECT_EQ(bodies, 6u);  // INBOX 4, Sent 1, Trash 1 (tests/fixtures/README.md)
  EXPECT_TRUE(keyword_seen);
  imap.Close();
  imap.Close();
  ref.Logout();
}

TEST_F(DovecotSourceTest, Pop3sSessionSeesWhatAPlainClientSees) {
  Result<std::unique_ptr<Pop3Session>> s = OpenPop3(Url("pop3s", server_->pop3s_port()), Trusting(ca_.ca_cert), Alice());
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::vector<Pop3Message> messages;
  bool has_uidl = false;
  ASSERT_TRUE((*s)->List(&messages, &has_uidl).ok());
  EXPECT_TRUE(has_uidl);
  std::vector<std::string> ours_list, ours_uidl;
  std::vector<std::string> bodies;
  for (const auto& m : messages) {
    ours_list.push_back(std::to_string(m.number) + " " + std::to_string(m.size));
    ours_uidl.push_back(std::to_string(m.number) + " " + m.uidl);
    std::string body;
    ASSERT_TRUE((*s)->Retrieve(m.number, &body).ok()) << m.number;
    bodies.push_back(body);
  }
  (*s)->Close();
  // After our QUIT, nothing is gone: the plain client sees the same.
  dc::Pop3Client ref(server_->pop3_port());
  ref.Login(kAlice, kAlicePassword);
  EXPECT_EQ(ours_list, ref.List());
  EXPECT_EQ(ours_uidl, ref.Uidl());
  ASSERT_EQ(messages.size(), 4u);
  for (size_t i = 0; i < messages.size(); ++i) EXPECT_EQ(bodies[i], ref.Retr(static_cast<int>(i + 1))) << i + 1;
  ref.Quit();
}

TEST_F(DovecotSourceTest, SessionsInParallelThreads) {
  // lib/pull runs accounts in parallel (--jobs): one session per thread.
  std::vector<std::string> errors(6);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < errors.size(); ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3 && errors[t].empty(); ++round) {
        if (t % 2 == 0) {
          auto s = OpenImap(Url("imaps", server_->imaps_port()), Trusting(ca_.ca_cert), Alice());
          std::vector<ImapFolder> folders;
          if (!s.ok()) errors[t] = s.status().message();
          else if (!(*s)->ListFolders(&folders).ok() || folders.size() != 4) errors[t] = "LIST differs";
        } else {
          auto s = OpenPop3(Url("pop3s", server_->pop3s_port()), Trusting(ca_.ca_cert), Alice());
          std::vector<Pop3Message> messages;
          bool has_uidl = false;
          if (!s.ok()) errors[t] = s.status().message();
          else if (!(*s)->List(&messages, &has_uidl).ok() || messages.size() != 4) errors[t] = "LIST differs";
        }
      }
    });
  for (auto& t : threads) t.join();
  for (size_t t = 0; t < errors.size(); ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
}

TEST_F(DovecotSourceTest, StartTlsOnThePlainPortsIsVerified) {
  for (StartTls mode : {StartTls::kAlways, StartTls::kWhenOffered}) {
    Result<std::unique_ptr<ImapSession>> imap =
        OpenImap(Url("imap", server_->imap_port()), Trusting(ca_.ca_cert, mode), Alice());
    ASSERT_TRUE(imap.ok()) << imap.status().message();
    std::vector<ImapFolder> folders;
    EXPECT_TRUE((*imap)->ListFolders(&folders).ok());
    EXPECT_FALSE(folders.empty());
    Result<std::unique_ptr<Pop3Session>> pop =
        OpenPop3(Url("pop3", server_->pop3_port()), Trusting(ca_.ca_cert, mode), Alice());
    ASSERT_TRUE(pop.ok()) << pop.status().message();
    std::vector<Pop3Message> messages;
    bool has_uidl = false;
    EXPECT_TRUE((*pop)->List(&messages, &has_uidl).ok());
    EXPECT_EQ(messages.size(), 4u);
  }
  // When offered, the upgrade happens: the wrong CA makes it fail.
  Result<std::unique_ptr<ImapSession>> imap = OpenImap(Url("imap", server_->imap_port()), Trusting(other_.ca_cert), Alice());
  EXPECT_FALSE(imap.ok());
  Result<std::unique_ptr<Pop3Session>> pop = OpenPop3(Url("pop3", server_->pop3_port()), Trusting(other_.ca_cert), Alice());
  EXPECT_FALSE(pop.ok());
}

TEST_F(DovecotSourceTest, SslCertFileIsHonoured) {
  setenv("SSL_CERT_FILE", ca_.ca_cert.c_str(), 1);
  Result<std::unique_ptr<ImapSession>> imap = OpenImap(Url("imaps", server_->imaps_port()), Trusting(""), Alice());
  EXPECT_TRUE(imap.ok()) << imap.status().message();
  Result<std::unique_ptr<Pop3Session>> pop = OpenPop3(Url("pop3s", server_->pop3s_port()), Trusting(""), Alice());
  EXPECT_TRUE(pop.ok()) << pop.status().message();
  unsetenv("SSL_CERT_FILE");
  imap = OpenImap(Url("imaps", server_->imaps_port()), Trusting(""), Alice());
  EXPECT_FALSE(imap.ok());
}

TEST_F(DovecotSourceTest, CertificateOfAnotherCaIsRefusedBeforeTheLogin) {
  size_t before = Logins();
  SourceUrl imaps = Url("imaps", server_->imaps_port());
  Result<std::unique_ptr<ImapSession>> imap = OpenImap(imaps, Trusting(other_.ca_cert), Alice());
  ASSERT_FALSE(imap.ok());
  EXPECT_EQ(imap.status().code(), Status::Code::kPeerRefused);
  EXPECT_EQ(imap.status().message(), imaps.text + ": certificate not trusted: unable to get local issuer certificate");
  SourceUrl pop3s = Url("pop3s", server_->pop3s_port());
  Result<std::unique_ptr<Pop3Session>> pop = OpenPop3(pop3s, Trusting(other_.ca_cert), Alice());
  ASSERT_FALSE(pop.ok());
  EXPECT_EQ(pop.status().message(), pop3s.text + ": certificate not trusted: unable to get local issuer certificate");
  for (StartTls mode : {StartTls::kAlways, StartTls::kWhenOffered}) {
    EXPECT_FALSE(OpenImap(Url("imap", server_->imap_port()), Trusting(other_.ca_cert, mode), Alice()).ok());
    EXPECT_FALSE(OpenPop3(Url("pop3", server_->pop3_port()), Trusting(other_.ca_cert, mode), Alice()).ok());
  }
  EXPECT_EQ(Logins(), before) << "a refused server saw the credentials:\n" << server_->Log();
}

TEST_F(DovecotSourceTest, InsecureAcceptsAnUntrustedCertificate) {
  ConnectOptions insecure = Trusting(other_.ca_cert);
  insecure.insecure = true;
  EXPECT_TRUE(OpenImap(Url("imaps", server_->imaps_port()), insecure, Alice()).ok());
  EXPECT_TRUE(OpenPop3(Url("pop3s", server_->pop3s_port()), insecure, Alice()).ok());
}

TEST_F(DovecotSourceTest, NamesAreChecked) {
  // localhost is in the certificate; the same server under an IPv4-mapped
  // IPv6 address is not.
  EXPECT_TRUE(OpenImap(Url("imaps", server_->imaps_port(), "localhost"), Trusting(ca_.ca_cert), Alice()).ok());
  SourceUrl mapped = Url("imaps", server_->imaps_port(), "[::ffff:127.0.0.1]");
  Result<std::unique_ptr<ImapSession>> imap = OpenImap(mapped, Trusting(ca_.ca_cert), Alice());
  ASSERT_FALSE(imap.ok());
  if (imap.status().message().find("cannot connect") != std::string::npos)
    GTEST_SKIP() << "no IPv6 here: " << imap.status().message();
  EXPECT_EQ(imap.status().message(), mapped.text + ": certificate not trusted: IP address mismatch");
}

TEST_F(DovecotSourceTest, WrongPasswordIsLoginRefused) {
  SourceUrl imaps = Url("imaps", server_->imaps_port());
  Result<std::unique_ptr<ImapSession>> imap = OpenImap(imaps, Trusting(ca_.ca_cert), Alice("not-her-password"));
  ASSERT_FALSE(imap.ok());
  EXPECT_EQ(imap.status().code(), Status::Code::kPeerRefused);
  EXPECT_EQ(imap.status().message().rfind(imaps.text + ": login refused for alice@example.com: ", 0), 0u)
      << imap.status().message();
  EXPECT_EQ(imap.status().message().find("not-her-password"), std::string::npos);
  SourceUrl pop3s = Url("pop3s", server_->pop3s_port());
  Result<std::unique_ptr<Pop3Session>> pop = OpenPop3(pop3s, Trusting(ca_.ca_cert), Alice("not-her-password"));
  ASSERT_FALSE(pop.ok());
  EXPECT_EQ(pop.status().message().rfind(pop3s.text + ": login refused for alice@example.com: ", 0), 0u)
      << pop.status().message();
  EXPECT_EQ(pop.status().message().find("not-her-password"), std::string::npos);
}

}  // namespace
}  // namespace vmigrate::mailsource
