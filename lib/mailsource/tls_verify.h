// Server certificate verification for lib/mailsource. Debian's libetpan is
// built with GnuTLS and never checks the peer itself, so after its handshake
// (and before any credential is sent) the chain the server presented is
// checked here with OpenSSL's X509 API, as an OpenSSL client would.
#ifndef VMIGRATE_MAILSOURCE_TLS_VERIFY_H_
#define VMIGRATE_MAILSOURCE_TLS_VERIFY_H_

#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate::mailsource {

/// Verifies `der_chain` (the server's certificates in DER, leaf first, as
/// sent) for a TLS server named `host` (a DNS name, or an IPv4/IPv6 literal
/// matched against the IP SANs). Trusted roots: OpenSSL's default paths,
/// which honour SSL_CERT_FILE and SSL_CERT_DIR, plus `ca_file` (PEM, one or
/// more certificates) when not empty. The rest of the chain is untrusted
/// intermediates; purpose "SSL server".
/// Errors: PeerRefused "certificate not trusted: <OpenSSL's reason>" (also
/// for an empty or unparsable chain); InvalidInput when `ca_file` cannot be
/// read. The message has no URL: callers prefix it.
Status VerifyServerCertificate(const std::vector<std::string>& der_chain, const std::string& host,
                               const std::string& ca_file);

}  // namespace vmigrate::mailsource

#endif  // VMIGRATE_MAILSOURCE_TLS_VERIFY_H_
