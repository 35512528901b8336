// ParseSourceUrl: the four URL schemes of vmigrate pull (mail_source.h).
#include <arpa/inet.h>

#include <cctype>
#include <cstdlib>

#include "mailsource/mail_source.h"

namespace vmigrate::mailsource {
namespace {

struct Scheme {
  const char* name;
  Protocol protocol;
  bool implicit_tls;
  uint16_t port;
};

constexpr Scheme kSchemes[] = {
    {"imap", Protocol::kImap, false, 143},
    {"imaps", Protocol::kImap, true, 993},
    {"pop3", Protocol::kPop3, false, 110},
    {"pop3s", Protocol::kPop3, true, 995},
};

// A DNS name as RFC 1123 allows it (letters, digits, '-', dots between
// labels) or a dotted IPv4 address; anything else cannot be a server.
bool IsHostName(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c == '.') {
      if (label == 0 || host[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (c == '-' && label == 0) return false;
    if (++label > 63) return false;
  }
  return host.back() != '-';
}

}  // namespace

Result<SourceUrl> ParseSourceUrl(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("source URL '" + text + "': " + why);
  };
  SourceUrl url;
  url.text = text;
  size_t sep = text.find("://");
  if (sep == std::string::npos) return bad("expected imap://, imaps://, pop3:// or pop3s://HOST[:PORT]");
  std::string scheme = text.substr(0, sep);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const Scheme* found = nullptr;
  for (const Scheme& s : kSchemes)
    if (scheme == s.name) found = &s;
  if (!found) return bad("unknown scheme '" + scheme + "' (imap, imaps, pop3 or pop3s)");
  url.protocol = found->protocol;
  url.implicit_tls = found->implicit_tls;
  url.port = found->port;

  std::string rest = text.substr(sep + 3);
  // One trailing slash is what people paste; a path or query is not ours.
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('@') != std::string::npos)
    return bad("credentials do not go in the URL (use --user and --password-file)");
  if (rest.find_first_of("/?#") != std::string::npos) return bad("no path or query is accepted");

  std::string port_text;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return bad("'[' without ']'");
    url.host = rest.substr(1, close - 1);
    in6_addr addr6;
    if (inet_pton(AF_INET6, url.host.c_str(), &addr6) != 1) return bad("'" + url.host + "' is not an IPv6 address");
    std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("unexpected text after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    size_t colon = rest.find(':');
    url.host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
    if (url.host.empty()) return bad("no host");
    if (!IsHostName(url.host)) return bad("'" + url.host + "' is not a host name or address");
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
      return bad("port '" + port_text + "' is not a number");
    long port = std::strtol(port_text.c_str(), nullptr, 10);
    if (port < 1 || port > 65535) return bad("port " + port_text + " is out of range 1-65535");
    url.port = static_cast<uint16_t>(port);
  }
  return url;
}

}  // namespace vmigrate::mailsource
