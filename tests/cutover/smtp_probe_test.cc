#include "cutover/smtp_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/smtp_server.h"
#include "support/test_support.h"

namespace vmigrate::cutover {
namespace {

using vmigrate::testing::SmtpTestServer;
using vmigrate::testing::TempDir;

constexpr const char* kRefusal =
    "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)";

bool Has(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// A loopback socket bound to an OS-chosen port and listening, but never
// accepting: the kernel completes the handshake, nobody speaks.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(fd_, 4) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd_); }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

class SmtpProbeTest : public ::testing::Test {
 protected:
  // Starts the aiosmtpd test server; fails the test if it does not come up.
  std::unique_ptr<SmtpTestServer> Start(SmtpTestServer::Options options) {
    auto server = std::make_unique<SmtpTestServer>(dir_.path(), options);
    EXPECT_TRUE(server->ok()) << server->error();
    return server;
  }
  std::string Where(uint16_t port) const { return "127.0.0.1:" + std::to_string(port); }

  TempDir dir_;
  SmtpProbeResult out_;
};

TEST_F(SmtpProbeTest, AcceptedRecipientsPassWithoutSendingData) {
  auto server = Start({{"example.com", "alias.org"}});
  ASSERT_TRUE(server->ok());
  Status s = ProbeSmtp("127.0.0.1", server->port(), "old.host.test",
                       {"joe@example.com", "postmaster@alias.org"}, 10, &out_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> expected = {"EHLO old.host.test", "MAIL FROM:<>",
                                       "RCPT TO:<joe@example.com>",
                                       "RCPT TO:<postmaster@alias.org>", "RSET", "QUIT"};
  EXPECT_EQ(server->Commands(), expected);
  // The multi-line EHLO reply is read to its last line.
  EXPECT_TRUE(Has(out_.transcript, "S: 250-mx.test.invalid"));
  EXPECT_TRUE(Has(out_.transcript, "S: 250 HELP"));
  EXPECT_TRUE(Has(out_.transcript, "C: RCPT TO:<postmaster@alias.org>"));
}

TEST_F(SmtpProbeTest, RefusedDomainIsPeerRefusedNamingTheReply) {
  auto server = Start({{"other.org"}});
  ASSERT_TRUE(server->ok());
  Status s = ProbeSmtp("127.0.0.1", server->port(), "old.host.test", {"joe@example.com"}, 10,
                       &out_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.message(), Where(server->port()) + " answered '" + kRefusal +
                             "' to RCPT TO:<joe@example.com>");
  std::vector<std::string> commands = server->Commands();
  EXPECT_FALSE(Has(commands, "DATA"));
  EXPECT_EQ(commands.back(), "QUIT");
}

TEST_F(SmtpProbeTest, OneRefusedRecipientAmongAcceptedOnesRefuses) {
  auto server = Start({{"example.com"}});
  ASSERT_TRUE(server->ok());
  Status s = ProbeSmtp("127.0.0.1", server->port(), "old.host.test",
                       {"joe@example.com", "postmaster@alias.org"}, 10, &out_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_NE(s.message().find("to RCPT TO:<postmaster@alias.org>"), std::string::npos)
      << s.message();
  EXPECT_TRUE(Has(out_.transcript, "C: RCPT TO:<joe@example.com>"));
}

TEST_F(SmtpProbeTest, TemporaryFailureOnRcptIsRefused) {
  SmtpTestServer::Options options{{"example.com"}};
  options.mode = "tempfail-rcpt";
  auto server = Start(options);
  ASSERT_TRUE(server->ok());
  Status s = ProbeSmtp("127.0.0.1", server->port(), "old.host.test", {"joe@example.com"}, 10,
                       &out_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_NE(s.message().find("answered '451 "), std::string::npos) << s.message();
  EXPECT_FALSE(Has(server->Commands(), "DATA"));
}

TEST_F(SmtpProbeTest, TemporaryFailureGreetingIsRefused) {
  SmtpTestServer::Options options{{"example.com"}};
  options.mode = "tempfail-greeting";
  auto server = Start(options);
  ASSERT_TRUE(server->ok());
  Status s = ProbeSmtp("127.0.0.1", server->port(), "old.host.test", {"joe@example.com"}, 10,
                       &out_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.message(), Where(server->port()) +
                             " answered '421 service not available, try again later (#4.3.0)'"
                             " to the connection (greeting)");
  EXPECT_TRUE(server->Commands().empty());
}

TEST_F(SmtpProbeTest, MultiLineGreetingIsReadToTheEnd) {
  SmtpTestServer::Options options{{"example.com"}};
  options.greeting_lines = 3;
  auto server = Start(options);
  ASSERT_TRUE(server->ok());
  Status s = ProbeSmtp("127.0.0.1", server->port(), "old.host.test", {"joe@example.com"}, 10,
                       &out_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_GE(out_.transcript.size(), 4u);
  EXPECT_EQ(out_.transcript[0], "S: 220-test greeting line 1");
  EXPECT_EQ(out_.transcript[1], "S: 220-test greeting line 2");
  EXPECT_EQ(out_.transcript[2].substr(0, 7), "S: 220 ");
  EXPECT_EQ(out_.transcript[3], "C: EHLO old.host.test");
}

TEST_F(SmtpProbeTest, FallsBackToHeloWhenEhloIsRefused) {
  SmtpTestServer::Options options{{"example.com"}};
  options.mode = "no-ehlo";
  auto server = Start(options);
  ASSERT_TRUE(server->ok());
  Status s = ProbeSmtp("127.0.0.1", server->port(), "old.host.test", {"joe@example.com"}, 10,
                       &out_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> expected = {"EHLO old.host.test", "HELO old.host.test",
                                       "MAIL FROM:<>", "RCPT TO:<joe@example.com>", "RSET",
                                       "QUIT"};
  EXPECT_EQ(server->Commands(), expected);
}

TEST_F(SmtpProbeTest, WorksOverIpv6) {
  int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  bool have_v6 = probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (probe >= 0) close(probe);
  if (!have_v6) GTEST_SKIP() << "no IPv6 loopback on this machine";
  SmtpTestServer::Options options{{"example.com"}};
  options.host = "::1";
  auto server = Start(options);
  ASSERT_TRUE(server->ok());
  EXPECT_TRUE(ProbeSmtp("::1", server->port(), "old.host.test", {"joe@example.com"}, 10, &out_)
                  .ok());
  Status s = ProbeSmtp("::1", server->port(), "old.host.test", {"joe@other.org"}, 10, &out_);
  EXPECT_EQ(s.message(), "[::1]:" + std::to_string(server->port()) + " answered '" + kRefusal +
                             "' to RCPT TO:<joe@other.org>");
}

TEST_F(SmtpProbeTest, HostNameIsResolvedAndEachAddressTried) {
  // localhost may resolve to ::1 first, where nobody listens: the probe goes
  // on to 127.0.0.1.
  auto server = Start({{"example.com"}});
  ASSERT_TRUE(server->ok());
  Status s = ProbeSmtp("localhost", server->port(), "old.host.test", {"joe@example.com"}, 10, &out_);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(SmtpProbeTest, ClosedPortIsPeerRefused) {
  uint16_t port = 0;
  {
    SilentListener taken;  // learn a free port, then free it again
    port = taken.port();
  }
  ASSERT_NE(port, 0);
  Status s = ProbeSmtp("127.0.0.1", port, "old.host.test", {"joe@example.com"}, 5, &out_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.message(), Where(port) + ": cannot connect: Connection refused");
}

TEST_F(SmtpProbeTest, UnknownHostIsPeerRefused) {
  Status s = ProbeSmtp("no-such-host.invalid", 25, "old.host.test", {"joe@example.com"}, 5, &out_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.message().rfind("no-such-host.invalid:25: cannot resolve 'no-such-host.invalid': ", 0),
            0u)
      << s.message();
}

TEST_F(SmtpProbeTest, SilentPeerTimesOut) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  auto start = std::chrono::steady_clock::now();
  Status s = ProbeSmtp("127.0.0.1", silent.port(), "old.host.test", {"joe@example.com"}, 1, &out_);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.message(),
            Where(silent.port()) + ": no answer within 1 s to the connection (greeting)");
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(SmtpProbeTest, PeerThatIsNotSmtpIsRefused) {
  SilentListener listener;
  ASSERT_NE(listener.port(), 0);
  std::thread peer([&] {
    int c = accept(listener.fd(), nullptr, nullptr);
    if (c < 0) return;
    const char reply[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    (void)!write(c, reply, sizeof reply - 1);
    char buf[256];
    while (read(c, buf, sizeof buf) > 0) {
    }
    close(c);
  });
  Status s = ProbeSmtp("127.0.0.1", listener.port(), "old.host.test", {"joe@example.com"}, 5,
                       &out_);
  peer.join();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.message(), Where(listener.port()) +
                             " answered 'HTTP/1.1 400 Bad Request' to the connection (greeting):"
                             " not an SMTP reply");
}

TEST_F(SmtpProbeTest, CommandInjectionIsInvalidInput) {
  Status s = ProbeSmtp("127.0.0.1", 25, "old.host.test", {"joe@example.com>\r\nDATA"}, 5, &out_);
  EXPECT_EQ(s.code(), Status::Code::kInvalidInput);
  EXPECT_EQ(ProbeSmtp("127.0.0.1", 25, "a\nb", {"joe@example.com"}, 5, &out_).code(),
            Status::Code::kInvalidInput);
  EXPECT_EQ(ProbeSmtp("127.0.0.1", 25, "old.host.test", {}, 5, &out_).code(),
            Status::Code::kInvalidInput);
  EXPECT_TRUE(out_.transcript.empty());
}

}  // namespace
}  // namespace vmigrate::cutover
