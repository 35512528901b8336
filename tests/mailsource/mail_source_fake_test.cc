// The sessions against scripted servers: what a real Dovecot never does
// (drops the connection mid-message, sends more than it announced, offers no
// STARTTLS, sends names that are not modified UTF-7, has no UIDL) and the
// exact bytes of POP3 RETR.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "mailsource/mail_source.h"
#include "support/scripted_mail_server.h"

namespace vmigrate::mailsource {
namespace {

// The scripted server (tests/support/scripted_mail_server.h); the scripts
// below are this file's own, tuned to each check.
using FakeServer = testing::ScriptedMailServer;
using testing::kHangUp;

ConnectOptions Options(StartTls starttls = StartTls::kWhenOffered) {
  ConnectOptions o;
  o.starttls = starttls;
  o.timeout_seconds = 10;
  return o;
}

const Credentials kBob{"bob@example.com", "s3cret-pw"};

SourceUrl Url(const std::string& text) {
  Result<SourceUrl> url = ParseSourceUrl(text);
  EXPECT_TRUE(url.ok()) << url.status().message();
  return url.ok() ? *url : SourceUrl{};
}

bool AnyStartsWith(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& l : lines)
    if (l.rfind(prefix, 0) == 0) return true;
  return false;
}

// ---- POP3 ----------------------------------------------------------------

// A POP3 server without STLS and with two messages; `retr` answers RETR 1.
FakeServer::Answer Pop3Script(const std::string& retr, bool uidl = true) {
  return [retr, uidl](const std::string& line) -> std::string {
    if (line == "CAPA") return "+OK\r\nUSER\r\nUIDL\r\n.\r\n";
    if (line.rfind("USER ", 0) == 0) return "+OK\r\n";
    if (line.rfind("PASS ", 0) == 0) return line == "PASS s3cret-pw" ? "+OK logged in\r\n" : "-ERR [AUTH] Authentication failed.\r\n";
    if (line == "LIST") return "+OK 2 messages\r\n1 120\r\n2 7\r\n.\r\n";
    if (line == "UIDL") return uidl ? "+OK\r\n1 a1b2c3\r\n2 Zz.9-x\r\n.\r\n" : "-ERR unknown command\r\n";
    if (line == "RETR 1") return retr;
    if (line == "QUIT") return "+OK bye\r\n" + kHangUp;
    return "-ERR what?\r\n";
  };
}

TEST(FakePop3Test, PlainSessionListsAndRetrievesBytesAsSent) {
  // Dot-stuffed lines, a bare LF line end and a NUL are kept as sent.
  std::string wire = std::string("+OK\r\nSubject: x\r\n\r\n..starts with a dot\r\nbare\nend\r\nnul") + '\0' + "byte\r\n.\r\n";
  FakeServer server("+OK ready\r\n", Pop3Script(wire));
  Result<std::unique_ptr<Pop3Session>> s = OpenPop3(Url(server.url("pop3")), Options(), kBob);
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::vector<Pop3Message> messages;
  bool has_uidl = false;
  ASSERT_TRUE((*s)->List(&messages, &has_uidl).ok());
  EXPECT_TRUE(has_uidl);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].number, 1u);
  EXPECT_EQ(messages[0].size, 120u);
  EXPECT_EQ(messages[0].uidl, "a1b2c3");
  EXPECT_EQ(messages[1].uidl, "Zz.9-x");
  std::string body;
  ASSERT_TRUE((*s)->Retrieve(1, &body).ok());
  EXPECT_EQ(body, std::string("Subject: x\r\n\r\n.starts with a dot\r\nbare\nend\r\nnul") + '\0' + "byte\r\n");
  (*s)->Close();
  (*s)->Close();  // twice is fine
  std::vector<std::string> got = server.received();
  EXPECT_FALSE(AnyStartsWith(got, "DELE"));
  EXPECT_TRUE(AnyStartsWith(got, "QUIT"));
}

TEST(FakePop3Test, ServerWithoutUidl) {
  FakeServer server("+OK ready\r\n", Pop3Script("", false));
  Result<std::unique_ptr<Pop3Session>> s = OpenPop3(Url(server.url("pop3")), Options(), kBob);
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::vector<Pop3Message> messages;
  bool has_uidl = true;
  ASSERT_TRUE((*s)->List(&messages, &has_uidl).ok());
  EXPECT_FALSE(has_uidl);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].uidl, "");
}

TEST(FakePop3Test, ConnectionDroppedMidMessageIsAnErrorNotAHang) {
  FakeServer server("+OK ready\r\n", Pop3Script("+OK\r\nSubject: x\r\n\r\npart of a li" + kHangUp));
  Result<std::unique_ptr<Pop3Session>> s = OpenPop3(Url(server.url("pop3")), Options(), kBob);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto t0 = std::chrono::steady_clock::now();
  std::string body = "stale";
  Status r = (*s)->Retrieve(1, &body);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(r.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(r.message(), server.url("pop3") + ": bob@example.com: RETR 1 (message incomplete): connection dropped or timed out (10 s)");
  EXPECT_TRUE(body.empty());
}

TEST(FakePop3Test, WrongPasswordIsLoginRefusedWithTheServersText) {
  FakeServer server("+OK ready\r\n", Pop3Script(""));
  Result<std::unique_ptr<Pop3Session>> s = OpenPop3(Url(server.url("pop3")), Options(), {"bob@example.com", "wrong"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.status().message(), server.url("pop3") + ": login refused for bob@example.com: [AUTH] Authentication failed.");
}

TEST(FakePop3Test, StartTlsAlwaysRefusesAServerWithoutStlsBeforeTheLogin) {
  FakeServer server("+OK ready\r\n", Pop3Script(""));
  Result<std::unique_ptr<Pop3Session>> s = OpenPop3(Url(server.url("pop3")), Options(StartTls::kAlways), kBob);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kPeerRefused);
  EXPECT_NE(s.status().message().find("does not offer STLS"), std::string::npos) << s.status().message();
  EXPECT_FALSE(AnyStartsWith(server.received(), "USER"));
  EXPECT_FALSE(AnyStartsWith(server.received(), "PASS"));
}

TEST(FakePop3Test, DataSentInTheClearAfterStlsIsRefused) {
  // The STARTTLS command injection of CVE-2011-0411 / CVE-2020-15953: bytes
  // after "+OK" would be read as if they came through TLS.
  auto script = Pop3Script("");
  FakeServer server("+OK ready\r\n", [script](const std::string& line) {
    if (line == "CAPA") return std::string("+OK\r\nSTLS\r\nUSER\r\n.\r\n");
    if (line == "STLS") return std::string("+OK begin TLS\r\n+OK injected\r\n");
    return script(line);
  });
  Result<std::unique_ptr<Pop3Session>> s = OpenPop3(Url(server.url("pop3")), Options(), kBob);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kPeerRefused);
  EXPECT_NE(s.status().message().find("STLS: the server sent data after its +OK"), std::string::npos)
      << s.status().message();
  EXPECT_FALSE(AnyStartsWith(server.received(), "USER"));
}

TEST(FakePop3Test, ListOutOfProtocolIsRefused) {
  auto script = Pop3Script("");
  FakeServer server("+OK ready\r\n", [script](const std::string& line) {
    return line == "LIST" ? std::string("+OK\r\n0 120\r\n.\r\n") : script(line);
  });
  Result<std::unique_ptr<Pop3Session>> s = OpenPop3(Url(server.url("pop3")), Options(), kBob);
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::vector<Pop3Message> messages;
  bool has_uidl = false;
  Status r = (*s)->List(&messages, &has_uidl);
  EXPECT_EQ(r.code(), Status::Code::kPeerRefused);
  EXPECT_NE(r.message().find("LIST: answer out of protocol: '0 120'"), std::string::npos) << r.message();
}

// ---- IMAP ----------------------------------------------------------------

// An IMAP server without STARTTLS holding one message (UID 4, 10 bytes);
// `body` answers the UID FETCH of BODY.PEEK[] (after "* 1 FETCH (UID 4 ").
FakeServer::Answer ImapScript(const std::string& body, const std::string& list = "* LIST () \"/\" INBOX\r\n") {
  return [body, list](const std::string& line) -> std::string {
    std::string tag = line.substr(0, line.find(' '));
    std::string cmd = line.substr(tag.size() + 1);
    if (cmd == "CAPABILITY") return "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + " OK done\r\n";
    if (cmd.rfind("LOGIN ", 0) == 0) return tag + " OK logged in\r\n";
    if (cmd.rfind("LIST ", 0) == 0) return list + tag + " OK done\r\n";
    if (cmd.rfind("LSUB ", 0) == 0) return tag + " OK done\r\n";
    if (cmd.rfind("EXAMINE ", 0) == 0)
      return "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 5] ok\r\n" + tag + " OK [READ-ONLY] done\r\n";
    if (cmd.rfind("UID FETCH ", 0) == 0 && cmd.find("BODY.PEEK[]") != std::string::npos)
      return "* 1 FETCH (UID 4 " + body + ")\r\n" + tag + " OK done\r\n";
    if (cmd.rfind("UID FETCH ", 0) == 0)
      return "* 1 FETCH (UID 4 FLAGS (\\Seen $Junk \\Recent) INTERNALDATE \"01-Feb-2024 10:00:00 -0500\" "
             "RFC822.SIZE 10)\r\n" + tag + " OK done\r\n";
    if (cmd == "LOGOUT") return "* BYE\r\n" + tag + " OK bye\r\n" + kHangUp;
    return tag + " BAD what?\r\n";
  };
}

const char kImapGreeting[] = "* OK fake IMAP ready\r\n";

std::unique_ptr<ImapSession> OpenAndExamine(const FakeServer& server) {
  Result<std::unique_ptr<ImapSession>> s = OpenImap(Url(server.url("imap")), Options(), kBob);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return nullptr;
  FolderStatus st;
  Status e = (*s)->Examine("INBOX", &st);
  EXPECT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(st.uidvalidity, 7u);
  EXPECT_EQ(st.uidnext, 5u);
  EXPECT_EQ(st.exists, 1u);
  return std::move(*s);
}

TEST(FakeImapTest, MetadataFlagsAndDate) {
  FakeServer server(kImapGreeting, ImapScript("BODY[] {10}\r\n0123456789"));
  std::unique_ptr<ImapSession> s = OpenAndExamine(server);
  ASSERT_TRUE(s);
  std::vector<ImapMessage> messages;
  ASSERT_TRUE(s->FetchMessages(1, &messages).ok());
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].uid, 4u);
  EXPECT_EQ(messages[0].flags, (std::vector<std::string>{"\\Seen", "$Junk"}));  // no \Recent
  EXPECT_EQ(messages[0].internaldate, 1706799600);  // 2024-02-01 15:00:00 UTC
  EXPECT_EQ(messages[0].size, 10u);
  std::string body;
  ASSERT_TRUE(s->FetchBody(4, 10, &body).ok());
  EXPECT_EQ(body, "0123456789");
}

TEST(FakeImapTest, UidFetchFromBeyondTheLastUidReturnsNothing) {
  // "UID FETCH 5:*" names the last message (UID 4) too (RFC 3501 §6.4.8).
  FakeServer server(kImapGreeting, ImapScript(""));
  std::unique_ptr<ImapSession> s = OpenAndExamine(server);
  ASSERT_TRUE(s);
  std::vector<ImapMessage> messages;
  ASSERT_TRUE(s->FetchMessages(5, &messages).ok());
  EXPECT_TRUE(messages.empty());
}

TEST(FakeImapTest, LargeBodyArrivesWhole) {
  std::string big;
  for (int i = 0; big.size() < 3 * 1024 * 1024; ++i) big += "line " + std::to_string(i) + " of a large message\r\n";
  FakeServer server(kImapGreeting, ImapScript("BODY[] {" + std::to_string(big.size()) + "}\r\n" + big));
  std::unique_ptr<ImapSession> s = OpenAndExamine(server);
  ASSERT_TRUE(s);
  std::string body;
  ASSERT_TRUE(s->FetchBody(4, big.size(), &body).ok());
  EXPECT_TRUE(body == big);
}

TEST(FakeImapTest, ExpungedMessageIsNotFound) {
  auto script = ImapScript("");
  FakeServer server(kImapGreeting, [script](const std::string& line) {
    std::string tag = line.substr(0, line.find(' '));
    if (line.find("BODY.PEEK[]") != std::string::npos) return tag + " OK nothing\r\n";
    return script(line);
  });
  std::unique_ptr<ImapSession> s = OpenAndExamine(server);
  ASSERT_TRUE(s);
  std::string body;
  Status r = s->FetchBody(4, 10, &body);
  EXPECT_EQ(r.code(), Status::Code::kNotFound);
  EXPECT_NE(r.message().find("folder INBOX: UID 4: no longer on the server"), std::string::npos) << r.message();
}

TEST(FakeImapTest, MessageLargerThanAnnouncedIsCorrupt) {
  FakeServer server(kImapGreeting, ImapScript("BODY[] {12}\r\n0123456789AB"));
  std::unique_ptr<ImapSession> s = OpenAndExamine(server);
  ASSERT_TRUE(s);
  std::string body;
  Status r = s->FetchBody(4, 10, &body);
  EXPECT_EQ(r.code(), Status::Code::kCorrupt);
  EXPECT_EQ(r.message(), server.url("imap") +
                             ": bob@example.com: folder INBOX: UID 4: the server sent more than the 10 bytes "
                             "RFC822.SIZE announced");
  EXPECT_TRUE(body.empty());
}

TEST(FakeImapTest, MessageSmallerThanAnnouncedIsCorrupt) {
  FakeServer server(kImapGreeting, ImapScript("BODY[] {8}\r\n01234567"));
  std::unique_ptr<ImapSession> s = OpenAndExamine(server);
  ASSERT_TRUE(s);
  std::string body;
  Status r = s->FetchBody(4, 10, &body);
  EXPECT_EQ(r.code(), Status::Code::kCorrupt);
  EXPECT_NE(r.message().find("UID 4: the server sent 8 bytes, RFC822.SIZE announced 10"), std::string::npos)
      << r.message();
}

TEST(FakeImapTest, ConnectionDroppedMidMessageIsAnErrorNotAHang) {
  FakeServer server(kImapGreeting, ImapScript("BODY[] {100}\r\nonly the start" + kHangUp));
  std::unique_ptr<ImapSession> s = OpenAndExamine(server);
  ASSERT_TRUE(s);
  auto t0 = std::chrono::steady_clock::now();
  std::string body;
  Status r = s->FetchBody(4, 100, &body);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(r.code(), Status::Code::kPeerRefused);
  EXPECT_NE(r.message().find("folder INBOX: UID 4 BODY.PEEK[]: connection dropped"), std::string::npos) << r.message();
  EXPECT_TRUE(body.empty());
  // The session is done; later calls fail at once.
  std::vector<ImapMessage> messages;
  EXPECT_EQ(s->FetchMessages(1, &messages).code(), Status::Code::kPeerRefused);
}

TEST(FakeImapTest, FolderNameThatIsNotModifiedUtf7IsInvalidInput) {
  FakeServer server(kImapGreeting, ImapScript("", "* LIST () \"/\" INBOX\r\n* LIST () \"/\" \"Bad&name\"\r\n"));
  Result<std::unique_ptr<ImapSession>> s = OpenImap(Url(server.url("imap")), Options(), kBob);
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::vector<ImapFolder> folders;
  Status r = (*s)->ListFolders(&folders);
  EXPECT_EQ(r.code(), Status::Code::kInvalidInput);
  EXPECT_NE(r.message().find("folder 'Bad&name' from LIST is not valid modified UTF-7"), std::string::npos)
      << r.message();
}

TEST(FakeImapTest, StartTlsAlwaysRefusesAServerWithoutStartTlsBeforeTheLogin) {
  FakeServer server(kImapGreeting, ImapScript(""));
  Result<std::unique_ptr<ImapSession>> s = OpenImap(Url(server.url("imap")), Options(StartTls::kAlways), kBob);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.status().message(), server.url("imap") + ": the server does not offer STARTTLS (--starttls always)");
  for (const auto& l : server.received()) EXPECT_EQ(l.find("LOGIN"), std::string::npos) << l;
}

TEST(FakeImapTest, DataSentInTheClearAfterStartTlsIsRefused) {
  // Debian's libetpan 1.9.4-3.1 carries the CVE-2020-15953 fix; this checks
  // that the package in use does.
  auto script = ImapScript("");
  FakeServer server(kImapGreeting, [script](const std::string& line) {
    std::string tag = line.substr(0, line.find(' '));
    if (line == tag + " CAPABILITY") return "* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag + " OK done\r\n";
    if (line == tag + " STARTTLS") return tag + " OK begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n";
    return script(line);
  });
  Result<std::unique_ptr<ImapSession>> s = OpenImap(Url(server.url("imap")), Options(), kBob);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.status().message(), server.url("imap") + ": STARTTLS: the server sent data after its OK (refused)");
  for (const auto& l : server.received()) EXPECT_EQ(l.find("LOGIN"), std::string::npos) << l;
}

TEST(FakeImapTest, NoselectAndNonexistentFoldersAreMarked) {
  FakeServer server(kImapGreeting, ImapScript("", "* LIST () \"/\" INBOX\r\n* LIST (\\Noselect) \"/\" Archive\r\n"
                                                   "* LIST (\\NonExistent) NIL Gone\r\n"));
  Result<std::unique_ptr<ImapSession>> s = OpenImap(Url(server.url("imap")), Options(), kBob);
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::vector<ImapFolder> folders;
  ASSERT_TRUE((*s)->ListFolders(&folders).ok());
  ASSERT_EQ(folders.size(), 3u);
  EXPECT_FALSE(folders[0].noselect);
  EXPECT_EQ(folders[0].delimiter, '/');
  EXPECT_TRUE(folders[1].noselect);
  EXPECT_EQ(folders[1].name, "Archive");
  EXPECT_TRUE(folders[2].noselect);
  EXPECT_EQ(folders[2].delimiter, 0);
}

std::string Base64Decode(const std::string& in) {
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(&out[0]), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return "";
  size_t padding = 0;  // EVP_DecodeBlock counts '=' padding as NUL bytes
  for (size_t i = in.size(); i > 0 && in[i - 1] == '=' && padding < 2; --i) ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

TEST(FakeImapTest, LoginDisabledUsesAuthenticatePlain) {
  auto script = ImapScript("");
  std::string pending_tag;
  bool authenticated = false;
  FakeServer server(kImapGreeting, [&](const std::string& line) -> std::string {
    if (!pending_tag.empty()) {  // the SASL response line
      std::string tag = pending_tag;
      pending_tag.clear();
      std::string plain = Base64Decode(line);
      std::string want = std::string("\0bob@example.com\0s3cret-pw", 26);
      authenticated = plain.size() >= want.size() && plain.compare(plain.size() - want.size(), want.size(), want) == 0;
      return authenticated ? tag + " OK authenticated\r\n" : tag + " NO [AUTHENTICATIONFAILED] bad\r\n";
    }
    std::string tag = line.substr(0, line.find(' '));
    if (line == tag + " CAPABILITY") return "* CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN\r\n" + tag + " OK done\r\n";
    if (line == tag + " AUTHENTICATE PLAIN") {
      pending_tag = tag;
      return "+ \r\n";
    }
    return script(line);
  });
  Result<std::unique_ptr<ImapSession>> s = OpenImap(Url(server.url("imap")), Options(), kBob);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(authenticated);
  for (const auto& l : server.received()) EXPECT_EQ(l.find(" LOGIN "), std::string::npos) << l;
}

TEST(FakeImapTest, PlainServerOnAnImapsUrlFailsTheHandshake) {
  FakeServer server(kImapGreeting, ImapScript(""));
  Result<std::unique_ptr<ImapSession>> s = OpenImap(Url(server.url("imaps")), Options(), kBob);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.status().message(), server.url("imaps") + ": TLS handshake failed");
}

TEST(FakeImapTest, UnreachablePortIsPeerRefused) {
  int port;
  {
    FakeServer gone(kImapGreeting, ImapScript(""));
    port = gone.port();
  }
  std::string url = "imap://127.0.0.1:" + std::to_string(port);
  Result<std::unique_ptr<ImapSession>> s = OpenImap(Url(url), Options(), kBob);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.status().message(), url + ": cannot connect: Connection refused");
}

}  // namespace
}  // namespace vmigrate::mailsource
