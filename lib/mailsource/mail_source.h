// A POP3/IMAP client for pulling a mailbox from a live server (vmigrate pull,
// vmigrate-checkpassword). Protocol work is libetpan's (sources-and-cutover.md
// §7.5); this header is the small interface the rest of vmigrate sees, so the
// library can be replaced without touching lib/pull.
//
// Facts followed: POP3 LIST/UIDL/RETR (sources-and-cutover.md §7.1), IMAP
// EXAMINE/UID FETCH/LIST/LSUB (§7.2). Messages are returned as the server sent
// them, CRLF line ends included; converting to a Maildir's LF is the caller's.
//
// Under the hood (lib/mailsource/*.cc): libetpan 1.9.4 (Debian, GnuTLS) does
// TCP buffering, TLS and IMAP parsing; POP3 commands are spoken by our own
// code over its stream (its multi-line reader rewrites line ends and spins at
// end of file). One message is in memory at a time, at most its announced
// size. Sessions block SIGPIPE in the calling thread while they run, so a
// closed connection is an error, not a dead process; one session per thread.
// A failed TLS handshake makes libetpan print one "GnuTLS error: ..." line on
// stderr (gnutls_perror in libetpan; not ours to silence) before our Status.
#ifndef VMIGRATE_MAILSOURCE_MAIL_SOURCE_H_
#define VMIGRATE_MAILSOURCE_MAIL_SOURCE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate::mailsource {

enum class Protocol { kImap, kPop3 };

/// imap://HOST[:PORT], imaps://…, pop3://…, pop3s://… (default ports 143,
/// 993, 110, 995). HOST may be a name, an IPv4 address or [IPv6]. No user,
/// password, path or query is accepted: credentials never go in a URL.
struct SourceUrl {
  Protocol protocol = Protocol::kImap;
  bool implicit_tls = false;  // imaps/pop3s: TLS from the first byte
  std::string host;           // without brackets
  uint16_t port = 0;
  std::string text;           // as given, for messages
};

/// Parses `text`. Errors: InvalidInput naming the URL and what is wrong.
Result<SourceUrl> ParseSourceUrl(const std::string& text);

enum class StartTls {
  kWhenOffered,  // default: upgrade when the server offers STARTTLS/STLS
  kAlways,       // refuse the server (PeerRefused) unless the upgrade succeeds
  kNever,        // plain text (only with --starttls never; --insecure not needed)
};

/// How to connect. The server certificate is verified unless `insecure`:
/// against the system trust store, SSL_CERT_FILE / SSL_CERT_DIR when set (as
/// OpenSSL honours them), and `ca_file` when not empty; the host name (or IP)
/// of the URL must match the certificate.
struct ConnectOptions {
  std::string ca_file;
  bool insecure = false;
  StartTls starttls = StartTls::kWhenOffered;
  int timeout_seconds = 60;  // per connect, read or write (values < 1 mean 60)
};

struct Credentials {
  std::string login;
  std::string password;  // never logged, never in an error message
};

// Errors of Open and of every call below, by Status code:
//   PeerRefused  - server unreachable, TLS or certificate verification
//                  failed, login refused (the message says which), the
//                  server dropped the connection, or answered out of protocol
//   InvalidInput - a name from the server we cannot use (e.g. not modified
//                  UTF-7, a UIDL that is not 1-70 printable characters), a
//                  login or password holding CR/LF/NUL, an unreadable ca_file
//   Corrupt      - a message larger or smaller than the server announced
//   NotFound     - FetchBody: the UID is gone (expunged since FetchMessages)
// Each message names the server (URL), the login and the object, e.g.
//   "imaps://127.0.0.1:993: certificate not trusted: <OpenSSL's reason>"
//   "imaps://h:993: login refused for bob@example.com: <server's text>"
//   "imap://h:143: bob@example.com: folder INBOX: UID 7 BODY.PEEK[]:
//    connection dropped or timed out (60 s)"
// After a dropped connection or a Corrupt body the session is out of step:
// every later call fails at once (PeerRefused); open a new one.

/// One IMAP mailbox as LIST returned it.
struct ImapFolder {
  std::string name;       // as received: modified UTF-7, server delimiter
  char delimiter = '/';   // 0 when the server gives NIL
  bool noselect = false;  // \Noselect or \NonExistent: no messages to pull
  bool subscribed = false;  // named by LSUB
};

/// What EXAMINE reported.
struct FolderStatus {
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 0;  // 0 when the server did not send UIDNEXT
  uint32_t exists = 0;
};

/// One message's metadata from UID FETCH (UID FLAGS INTERNALDATE RFC822.SIZE).
struct ImapMessage {
  uint32_t uid = 0;
  std::vector<std::string> flags;  // system flags ("\Seen", ...) and keywords as received; no \Recent
  int64_t internaldate = 0;        // seconds since the epoch (UTC)
  uint64_t size = 0;               // RFC822.SIZE: bytes, CRLF counted
};

class ImapSession {
 public:
  virtual ~ImapSession() = default;
  /// LIST "" "*" and LSUB "" "*": every folder, INBOX included, in LIST order.
  virtual Status ListFolders(std::vector<ImapFolder>* folders) = 0;
  /// EXAMINE `name` (read-only: no flag changes).
  virtual Status Examine(const std::string& name, FolderStatus* status) = 0;
  /// UID FETCH first_uid:* of the examined folder, in UID order.
  virtual Status FetchMessages(uint32_t first_uid, std::vector<ImapMessage>* messages) = 0;
  /// UID FETCH uid (BODY.PEEK[]): the whole message (bytes as sent, CRLF).
  /// Corrupt when its length differs from `expected_size` (more is cut off
  /// when it arrives, never buffered); NotFound when the UID is gone.
  virtual Status FetchBody(uint32_t uid, uint64_t expected_size, std::string* body) = 0;
  /// UID FETCH uids (UID BODY.PEEK[HEADER]) of the examined folder: each
  /// message's header as sent (CRLF, with the empty line ending it), by
  /// UID; a UID expunged meanwhile is missing from `headers`. For the
  /// header pass of POP3 UIDL matching (sources-and-cutover §7.3).
  virtual Status FetchHeaders(const std::vector<uint32_t>& uids, std::map<uint32_t, std::string>* headers) = 0;
  /// LOGOUT and close; safe to call twice.
  virtual void Close() = 0;
};

/// Connects, applies TLS per `options` (the certificate is checked before any
/// credential is sent; a server that fails is closed without another word),
/// logs in (LOGIN, or AUTHENTICATE PLAIN when LOGINDISABLED). Errors as above.
Result<std::unique_ptr<ImapSession>> OpenImap(const SourceUrl& url, const ConnectOptions& options,
                                              const Credentials& credentials);

/// One POP3 message from LIST and UIDL.
struct Pop3Message {
  uint32_t number = 0;  // message number, 1-based
  uint64_t size = 0;    // LIST size in bytes (as the server counts them)
  std::string uidl;     // "" when the server has no UIDL command
};

class Pop3Session {
 public:
  virtual ~Pop3Session() = default;
  /// LIST and UIDL, in LIST order. `has_uidl` false when the server refused
  /// UIDL; PeerRefused when UIDL names some messages of LIST but not all.
  virtual Status List(std::vector<Pop3Message>* messages, bool* has_uidl) = 0;
  /// RETR number: the message, dot-unstuffed, line ends (and any NUL) as sent.
  virtual Status Retrieve(uint32_t number, std::string* body) = 0;
  /// TOP number 0: the message's header (and the empty line after it),
  /// dot-unstuffed. TOP is optional (RFC 1939 §7): kUnsupported when the
  /// server refuses it.
  virtual Status Top(uint32_t number, std::string* header) = 0;
  /// QUIT (nothing is deleted: DELE is never sent) and close; safe twice.
  virtual void Close() = 0;
};

/// As OpenImap, for POP3: CAPA, STLS, USER/PASS.
Result<std::unique_ptr<Pop3Session>> OpenPop3(const SourceUrl& url, const ConnectOptions& options,
                                              const Credentials& credentials);

}  // namespace vmigrate::mailsource

#endif  // VMIGRATE_MAILSOURCE_MAIL_SOURCE_H_
