// The connection under both sessions (internal to lib/mailsource): TCP with
// a timeout, libetpan's buffered mailstream, its TLS (implicit or upgraded
// after STARTTLS/STLS, with SNI), the certificate check of tls_verify.h, and
// SIGPIPE kept away from the process.
#ifndef VMIGRATE_MAILSOURCE_TRANSPORT_H_
#define VMIGRATE_MAILSOURCE_TRANSPORT_H_

#include <signal.h>

#include <string>

#include "core/status.h"
#include "mailsource/mail_source.h"

struct _mailstream;
struct mailstream_ssl_context;

namespace vmigrate::mailsource {

/// Blocks SIGPIPE in the calling thread while alive. Neither libetpan's plain
/// sockets nor its GnuTLS sessions write with MSG_NOSIGNAL, so a server that
/// closed the connection would otherwise kill the process; a SIGPIPE raised
/// meanwhile is consumed before the old mask comes back.
class SigpipeBlock {
 public:
  SigpipeBlock();
  ~SigpipeBlock();
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t old_;
};

/// Connects to url.host:url.port (every address getaddrinfo gives, in
/// order) within `timeout_seconds` each. Returns the socket (blocking).
/// Errors: PeerRefused "URL: cannot connect: <strerror>" or "cannot resolve".
Result<int> ConnectTcp(const SourceUrl& url, int timeout_seconds);

/// A buffered plain stream over `fd` (owned from now on). A read at end of
/// file is reported as an error: libetpan 1.9.4 takes it for "no data yet"
/// and its line and literal readers then spin forever when a server drops
/// the connection mid-response.
_mailstream* OpenPlainStream(int fd, int timeout_seconds);

/// A TLS client stream over `fd` (implicit TLS), SNI = `host` unless it is
/// an IP literal. nullptr when the handshake fails (`fd` is left open).
_mailstream* OpenTlsStream(int fd, const std::string& host, int timeout_seconds);

/// The callback libetpan's *_with_callback functions take: sets SNI to the
/// C string `host` (nullptr for an IP literal: RFC 6066 has no SNI for IPs).
void SetServerNameCallback(::mailstream_ssl_context* context, void* host);
/// What to pass as `host` to SetServerNameCallback for `url`.
void* ServerNameFor(const SourceUrl& url);

/// Verifies the certificate chain of the TLS stream `s` for url.host
/// (VerifyServerCertificate) unless options.insecure. Errors prefixed with
/// the URL: "imaps://h:993: certificate not trusted: ...".
Status CheckPeer(_mailstream* s, const SourceUrl& url, const ConnectOptions& options);

/// True when `text` holds CR, LF or NUL: such a login or password would
/// inject a protocol command.
bool HasLineBreak(const std::string& text);

}  // namespace vmigrate::mailsource

#endif  // VMIGRATE_MAILSOURCE_TRANSPORT_H_
