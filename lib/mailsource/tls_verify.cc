#include "mailsource/tls_verify.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

namespace vmigrate::mailsource {
namespace {

struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct StackFree {
  void operator()(STACK_OF(X509)* s) const { sk_X509_pop_free(s, X509_free); }
};

X509* FromDer(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  return d2i_X509(nullptr, &p, static_cast<long>(der.size()));
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// The first queued OpenSSL error as text (and the queue cleared), so one
// failure does not leak into the next caller's message on this thread.
std::string TakeOpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

Status VerifyServerCertificate(const std::vector<std::string>& der_chain, const std::string& host,
                               const std::string& ca_file) {
  const std::string untrusted = "certificate not trusted: ";
  if (der_chain.empty()) return Status::PeerRefused(untrusted + "the server sent no certificate");
  std::unique_ptr<X509, X509Free> leaf(FromDer(der_chain[0]));
  if (!leaf) return Status::PeerRefused(untrusted + "cannot parse the server certificate");
  std::unique_ptr<STACK_OF(X509), StackFree> rest(sk_X509_new_null());
  for (size_t i = 1; i < der_chain.size(); ++i) {
    X509* x = FromDer(der_chain[i]);
    if (!x) return Status::PeerRefused(untrusted + "cannot parse certificate " + std::to_string(i + 1) + " of the chain");
    sk_X509_push(rest.get(), x);
  }

  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  // The system store, or SSL_CERT_FILE / SSL_CERT_DIR when set: OpenSSL reads
  // those variables here, exactly as `openssl s_client` would.
  X509_STORE_set_default_paths(store.get());
  ERR_clear_error();  // a missing default file or dir is not our error
  if (!ca_file.empty() && X509_STORE_load_file(store.get(), ca_file.c_str()) != 1)
    return Status::InvalidInput("--ca-file " + ca_file + ": cannot load certificates: " + TakeOpenSslError());

  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), rest.get()) != 1)
    return Status::PeerRefused(untrusted + TakeOpenSslError());
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int set = IsIpLiteral(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                              : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (set != 1) return Status::PeerRefused(untrusted + "cannot check the name '" + host + "'");
  if (X509_verify_cert(ctx.get()) == 1) return Status::OK();
  int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return Status::PeerRefused(untrusted + X509_verify_cert_error_string(err));
}

}  // namespace vmigrate::mailsource
