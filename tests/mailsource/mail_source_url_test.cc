// ParseSourceUrl, and VerifyServerCertificate on certificates made by a
// test CA (no server needed: the chain is the one a server would send).
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mailsource/mail_source.h"
#include "mailsource/tls_verify.h"
#include "support/test_ca.h"
#include "support/test_support.h"

namespace vmigrate::mailsource {
namespace {

using testing::TempDir;
using testing::TestCa;

TEST(SourceUrlTest, SchemesAndDefaultPorts) {
  struct Case {
    const char* text;
    Protocol protocol;
    bool tls;
    uint16_t port;
  };
  for (const Case& c : {Case{"imap://mail.example.com", Protocol::kImap, false, 143},
                        Case{"imaps://mail.example.com", Protocol::kImap, true, 993},
                        Case{"pop3://mail.example.com", Protocol::kPop3, false, 110},
                        Case{"POP3S://mail.example.com/", Protocol::kPop3, true, 995}}) {
    Result<SourceUrl> url = ParseSourceUrl(c.text);
    ASSERT_TRUE(url.ok()) << c.text << ": " << url.status().message();
    EXPECT_EQ(url->protocol, c.protocol) << c.text;
    EXPECT_EQ(url->implicit_tls, c.tls) << c.text;
    EXPECT_EQ(url->port, c.port) << c.text;
    EXPECT_EQ(url->host, "mail.example.com");
    EXPECT_EQ(url->text, c.text);
  }
}

TEST(SourceUrlTest, PortsAndAddresses) {
  Result<SourceUrl> v4 = ParseSourceUrl("imaps://127.0.0.1:10993");
  ASSERT_TRUE(v4.ok()) << v4.status().message();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 10993);
  Result<SourceUrl> v6 = ParseSourceUrl("pop3://[2001:db8::1]:1110");
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_EQ(v6->port, 1110);
  Result<SourceUrl> v6default = ParseSourceUrl("imap://[::1]");
  ASSERT_TRUE(v6default.ok()) << v6default.status().message();
  EXPECT_EQ(v6default->host, "::1");
  EXPECT_EQ(v6default->port, 143);
}

TEST(SourceUrlTest, RefusesWhatIsNotAServer) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mail.example.com", "expected imap://"},
      {"http://mail.example.com", "unknown scheme 'http'"},
      {"imap://", "no host"},
      {"imap://bob:secret@mail.example.com", "credentials do not go in the URL"},
      {"imap://mail.example.com/INBOX", "no path or query"},
      {"imap://mail.example.com?x=1", "no path or query"},
      {"imap://mail.example.com:", "empty port"},
      {"imap://mail.example.com:0", "out of range"},
      {"imap://mail.example.com:65536", "out of range"},
      {"imap://mail.example.com:14x", "not a number"},
      {"imap://[::1", "without ']'"},
      {"imap://[mail.example.com]", "not an IPv6 address"},
      {"imap://mail_example.com", "not a host name"},
      {"imap://-mail.example.com", "not a host name"},
      {"imap://mail..example.com", "not a host name"},
  };
  for (const auto& [text, why] : cases) {
    Result<SourceUrl> url = ParseSourceUrl(text);
    ASSERT_FALSE(url.ok()) << text;
    EXPECT_EQ(url.status().code(), Status::Code::kInvalidInput) << text;
    EXPECT_NE(url.status().message().find("'" + text + "'"), std::string::npos) << url.status().message();
    EXPECT_NE(url.status().message().find(why), std::string::npos) << text << ": " << url.status().message();
  }
}

// The DER of the first certificate in PEM file `path`.
std::string DerOf(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return "";
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!x) return "";
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  std::string out(reinterpret_cast<char*>(der), len > 0 ? static_cast<size_t>(len) : 0);
  OPENSSL_free(der);
  X509_free(x);
  return out;
}

class TlsVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(testing::MakeTestCa(dir_ / "ca", &ca_, &error)) << error;
    ASSERT_TRUE(testing::MakeTestCa(dir_ / "other", &other_, &error, "some other CA")) << error;
    chain_ = {DerOf(ca_.server_cert)};
    ASSERT_FALSE(chain_[0].empty());
    unsetenv("SSL_CERT_FILE");
  }
  void TearDown() override { unsetenv("SSL_CERT_FILE"); }

  TempDir dir_;
  TestCa ca_, other_;
  std::vector<std::string> chain_;
};

TEST_F(TlsVerifyTest, AcceptsTheNamesOfTheCertificateWithTheCaFile) {
  EXPECT_TRUE(VerifyServerCertificate(chain_, "localhost", ca_.ca_cert).ok());
  EXPECT_TRUE(VerifyServerCertificate(chain_, "127.0.0.1", ca_.ca_cert).ok());
}

TEST_F(TlsVerifyTest, RefusesAnotherNameOrAddress) {
  Status name = VerifyServerCertificate(chain_, "mail.example.org", ca_.ca_cert);
  EXPECT_EQ(name.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(name.message(), "certificate not trusted: hostname mismatch");
  Status ip = VerifyServerCertificate(chain_, "127.0.0.2", ca_.ca_cert);
  EXPECT_EQ(ip.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(ip.message(), "certificate not trusted: IP address mismatch");
}

TEST_F(TlsVerifyTest, RefusesACertificateOfAnUntrustedCa) {
  Status s = VerifyServerCertificate(chain_, "localhost", other_.ca_cert);
  EXPECT_EQ(s.code(), Status::Code::kPeerRefused);
  EXPECT_EQ(s.message(), "certificate not trusted: unable to get local issuer certificate");
  // Nor does the system store know the test CA.
  EXPECT_FALSE(VerifyServerCertificate(chain_, "localhost", "").ok());
}

TEST_F(TlsVerifyTest, HonoursSslCertFile) {
  setenv("SSL_CERT_FILE", ca_.ca_cert.c_str(), 1);
  EXPECT_TRUE(VerifyServerCertificate(chain_, "localhost", "").ok());
  setenv("SSL_CERT_FILE", other_.ca_cert.c_str(), 1);
  EXPECT_FALSE(VerifyServerCertificate(chain_, "localhost", "").ok());
}

TEST_F(TlsVerifyTest, HonoursSslCertDir) {
  std::string dir = dir_ / "certs";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(ca_.ca_cert, dir + "/test-ca.pem");
  testing::CommandResult r = testing::RunCommand({"openssl", "rehash", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(VerifyServerCertificate(chain_, "localhost", "").ok());
  setenv("SSL_CERT_DIR", dir.c_str(), 1);
  Status s = VerifyServerCertificate(chain_, "localhost", "");
  unsetenv("SSL_CERT_DIR");
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST_F(TlsVerifyTest, BadInputsAreClearErrors) {
  Status empty = VerifyServerCertificate({}, "localhost", ca_.ca_cert);
  EXPECT_EQ(empty.message(), "certificate not trusted: the server sent no certificate");
  Status garbage = VerifyServerCertificate({"not DER"}, "localhost", ca_.ca_cert);
  EXPECT_EQ(garbage.code(), Status::Code::kPeerRefused);
  Status missing = VerifyServerCertificate(chain_, "localhost", dir_ / "no-such.pem");
  EXPECT_EQ(missing.code(), Status::Code::kInvalidInput);
  EXPECT_NE(missing.message().find("--ca-file " + (dir_ / "no-such.pem")), std::string::npos) << missing.message();
}

}  // namespace
}  // namespace vmigrate::mailsource
