// A throw-away certificate authority for TLS tests, made with the `openssl`
// command line tool: a CA certificate and a server certificate it signed,
// for the names the test needs (by default localhost and 127.0.0.1, as
// subjectAltName entries; CN is not used by modern verifiers).
#ifndef VMIGRATE_TESTS_SUPPORT_TEST_CA_H_
#define VMIGRATE_TESTS_SUPPORT_TEST_CA_H_

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace vmigrate::testing {

struct TestCa {
  std::string ca_cert;      // PEM: what a client trusts (--ca-file, SSL_CERT_FILE)
  std::string server_cert;  // PEM: the server certificate alone
  std::string server_key;   // PEM: its key, unencrypted
};

/// Makes `dir` (created) hold a CA called `ca_name` and a server certificate
/// for `subject_alt_names` (openssl syntax, "DNS:localhost,IP:127.0.0.1").
/// Keys are P-256 (fast to make). Returns false with the openssl output in
/// `*error` when a step fails. Files are world-readable so that an
/// unprivileged server can read them.
inline bool MakeTestCa(const std::string& dir, TestCa* out, std::string* error,
                       const std::string& ca_name = "vmigrate test CA",
                       const std::string& subject_alt_names = "DNS:localhost,IP:127.0.0.1") {
  std::filesystem::create_directories(dir);
  chmod(dir.c_str(), 0755);
  out->ca_cert = dir + "/ca.pem";
  out->server_cert = dir + "/server.pem";
  out->server_key = dir + "/server.key";
  std::string ca_key = dir + "/ca.key", csr = dir + "/server.csr", ext = dir + "/server.ext";
  WriteFile(ext, "subjectAltName=" + subject_alt_names +
                     "\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature"
                     "\nextendedKeyUsage=serverAuth\n");
  const std::vector<std::vector<std::string>> steps = {
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       ca_key, "-out", out->ca_cert, "-days", "3", "-subj", "/CN=" + ca_name, "-addext",
       "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"},
      {"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       out->server_key, "-out", csr, "-subj", "/CN=vmigrate test server"},
      {"openssl", "x509", "-req", "-in", csr, "-CA", out->ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-out",
       out->server_cert, "-days", "3", "-extfile", ext},
  };
  for (const auto& argv : steps) {
    CommandResult r = RunCommand(argv);
    if (r.exit_code != 0) {
      *error = argv[1] + " failed: " + r.out + r.err;
      return false;
    }
  }
  for (const auto& f : {out->ca_cert, out->server_cert, out->server_key}) chmod(f.c_str(), 0644);
  return true;
}

}  // namespace vmigrate::testing

#endif  // VMIGRATE_TESTS_SUPPORT_TEST_CA_H_
