// The forward check of `cutover forward` (issue 14 step 2): before mail for a
// domain is routed to HOST, ask HOST over SMTP whether it takes mail for the
// domain's recipients, without sending any message.
//
// Written on plain sockets: libcurl's SMTP either uploads a message (DATA)
// or, without CURLOPT_UPLOAD, sends VRFY/EXPN instead of MAIL/RCPT
// (CURLOPT_MAIL_RCPT(3)); libesmtp only runs whole message transfers. Neither
// can stop after RCPT, which is the whole point here.
#ifndef VMIGRATE_CUTOVER_SMTP_PROBE_H_
#define VMIGRATE_CUTOVER_SMTP_PROBE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate::cutover {

struct SmtpProbeResult {
  /// The dialogue as it happened, one line each: "C: EHLO name" for what we
  /// sent, "S: 250-host" for every reply line (CR LF stripped).
  std::vector<std::string> transcript;
};

/// Connects to host:port (getaddrinfo, IPv4 or IPv6, each address in turn)
/// and runs: the 220 greeting, EHLO `helo_name` (HELO `helo_name` when EHLO
/// gets a 5xx, RFC 5321 §4.1.4), `MAIL FROM:<>`, `RCPT TO:<r>` for each of
/// `recipients`, then RSET and QUIT. DATA is never sent. Multi-line replies
/// ("250-...") are read to their last line (RFC 5321 §4.2.1).
///
/// `timeout_seconds` (taken as 1 .. 86400) bounds each wait on the network:
/// the connect to each address, each send and each reply (qmail-remote's
/// timeoutconnect/timeoutremote work the same way). The replies to RSET and QUIT are not judged.
///
/// Returns OK when the greeting, EHLO/HELO, MAIL and every RCPT got a 2xx.
/// Errors (the transcript so far is in *out either way):
///   kPeerRefused "HOST:PORT answered '<reply>' to RCPT TO:<x>" for any other
///     reply (4xx included: a tempfail is no yes), the reply's lines joined
///     by " / ";
///   kPeerRefused naming HOST:PORT and the cause when the name does not
///     resolve (gai_strerror), no address accepts the connection (strerror),
///     a wait times out, the peer closes, or a reply is not SMTP;
///   kInvalidInput when `recipients` is empty, or `helo_name` or a recipient
///     is empty or holds CR, LF or NUL (it would inject a command).
Status ProbeSmtp(const std::string& host, uint16_t port, const std::string& helo_name,
                 const std::vector<std::string>& recipients, int timeout_seconds,
                 SmtpProbeResult* out);

}  // namespace vmigrate::cutover

#endif  // VMIGRATE_CUTOVER_SMTP_PROBE_H_
