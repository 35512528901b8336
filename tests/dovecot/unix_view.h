// What IMAP and POP3 clients see, in the text format of the real-unix-mbox
// fixture's client-view/ (see client-view/README there): tab-separated lines
//   imap-folders   user, folder (modified UTF-7), decoded, UIDVALIDITY, UIDNEXT, EXISTS, LIST attributes
//   imap-messages  user, folder, UID, FLAGS, INTERNALDATE, RFC822.SIZE, sha256(BODY[] as sent), Message-ID
//   imap-lsub      user, name, decoded, LSUB attributes
//   pop3-uidl-*    user, message number, UIDL, LIST size
// collected from a running Dovecot the way client-view was (LIST "" "*",
// EXAMINE and UID FETCH 1:* per selectable folder, LSUB "" "*", POP3 LIST
// and UIDL then QUIT), and compared with the fixture's files.
#ifndef VMIGRATE_TESTS_DOVECOT_UNIX_VIEW_H_
#define VMIGRATE_TESTS_DOVECOT_UNIX_VIEW_H_

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "dovecot/mail_client.h"
#include "dovecot/mail_snapshot.h"

namespace vmigrate::testing::dovecot {

/// What client-view writes for a UIDVALIDITY the server invented from the
/// clock (nothing on disk): such a field is not compared.
constexpr const char* kNoneOnDisk = "none-on-disk";

/// One account as the clients log in: `user` is the name in the view files,
/// `login` what is sent to the server (a master-user login for accounts
/// whose own password cannot log in).
struct ViewLogin {
  std::string user;
  std::string login;
  std::string password;
};

/// Modified UTF-7 (RFC 3501 5.1.3) to UTF-8, for the "decoded" columns.
/// Text that is not valid modified UTF-7 comes back unchanged.
inline std::string DecodeModifiedUtf7(const std::string& in) {
  static const std::string kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '&') {
      out += in[i];
      continue;
    }
    size_t end = in.find('-', i + 1);
    if (end == std::string::npos) return in;
    if (end == i + 1) {  // "&-" is '&'
      out += '&';
      i = end;
      continue;
    }
    std::vector<uint16_t> units;
    uint32_t bits = 0;
    int nbits = 0;
    for (size_t k = i + 1; k < end; ++k) {
      size_t v = kB64.find(in[k]);
      if (v == std::string::npos) return in;
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units.push_back(static_cast<uint16_t>((bits >> nbits) & 0xFFFF));
      }
    }
    for (size_t k = 0; k < units.size(); ++k) {
      uint32_t cp = units[k];
      if (cp >= 0xD800 && cp < 0xDC00 && k + 1 < units.size()) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (units[++k] - 0xDC00);
      }
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    i = end;
  }
  return out;
}

/// The data lines of a client-view file ('#' header lines and empty lines dropped).
inline std::vector<std::string> ViewLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

inline bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

/// client-view's order: user, then field 2, then field 3, numbers numerically.
inline void SortView(std::vector<std::string>* lines) {
  auto less_field = [](const std::string& a, const std::string& b) {
    if (AllDigits(a) && AllDigits(b) && a.size() != b.size()) return a.size() < b.size();
    return a < b;
  };
  std::stable_sort(lines->begin(), lines->end(), [&](const std::string& a, const std::string& b) {
    std::vector<std::string> fa = SplitTabs(a), fb = SplitTabs(b);
    for (size_t i = 0; i < 3 && i < fa.size() && i < fb.size(); ++i) {
      if (fa[i] == fb[i]) continue;
      return less_field(fa[i], fb[i]);
    }
    return a < b;
  });
}

inline std::string JoinTabs(const std::vector<std::string>& f) {
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) out += (i ? "\t" : "") + f[i];
  return out;
}

/// Every difference between the expected lines (a client-view file) and
/// what the server showed, as "<what>: missing ..." / "<what>: unexpected
/// ...". A field the expected line marks none-on-disk is not compared: the
/// actual line with the same first `key_fields` fields gets that mark too.
inline std::vector<std::string> DiffView(const std::string& what, std::vector<std::string> expected,
                                         std::vector<std::string> actual, size_t key_fields) {
  for (const auto& e : expected) {
    std::vector<std::string> fe = SplitTabs(e);
    for (auto& a : actual) {
      std::vector<std::string> fa = SplitTabs(a);
      if (fa.size() != fe.size() || !std::equal(fe.begin(), fe.begin() + key_fields, fa.begin())) continue;
      for (size_t i = key_fields; i < fe.size(); ++i)
        if (fe[i] == kNoneOnDisk) fa[i] = kNoneOnDisk;
      a = JoinTabs(fa);
    }
  }
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  std::vector<std::string> missing, unexpected, out;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(), std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(), std::back_inserter(unexpected));
  SortView(&missing);
  SortView(&unexpected);
  for (const auto& l : missing) out.push_back(what + ": missing    " + l);
  for (const auto& l : unexpected) out.push_back(what + ": unexpected " + l);
  return out;
}

/// The text between `open` and the next `close` after it ("" if absent).
inline std::string Between(const std::string& text, const std::string& open, char close) {
  size_t p = text.find(open);
  if (p == std::string::npos) return "";
  p += open.size();
  size_t e = text.find(close, p);
  return e == std::string::npos ? "" : text.substr(p, e - p);
}

/// "(a b c)" with the flags in byte order, as client-view lists them.
inline std::string SortedFlags(const std::string& inner) {
  std::vector<std::string> flags;
  std::istringstream in(inner);
  std::string f;
  while (in >> f) flags.push_back(f);
  std::sort(flags.begin(), flags.end());
  std::string out = "(";
  for (size_t i = 0; i < flags.size(); ++i) out += (i ? " " : "") + flags[i];
  return out + ")";
}

/// The Message-ID header's value in the message's header section ("-" if none).
inline std::string MessageIdOf(const std::string& message) {
  size_t header_end = message.find("\r\n\r\n");
  std::string head = "\r\n" + message.substr(0, header_end);
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t p = lower.find("\r\nmessage-id:");
  if (p == std::string::npos) return "-";
  p += 13;
  size_t e = head.find("\r\n", p);
  std::string v = head.substr(p, e == std::string::npos ? std::string::npos : e - p);
  size_t b = v.find_first_not_of(" \t"), l = v.find_last_not_of(" \t");
  return b == std::string::npos ? "" : v.substr(b, l - b + 1);
}

/// A LIST or LSUB response: attributes "(...)" and the mailbox name.
struct ListEntry {
  std::string attributes;
  std::string name;
};
inline ListEntry ParseListLine(const ImapResponse& r) {
  // * LIST (attrs) "sep"|NIL name   -- name is an atom, a quoted string or a literal.
  ListEntry e;
  size_t open = r.text.find('('), close = r.text.find(')');
  if (open == std::string::npos || close == std::string::npos) throw MailClientError("bad LIST line: " + r.text);
  e.attributes = r.text.substr(open, close - open + 1);
  size_t p = r.text.find(' ', close + 2);  // after the separator
  if (p == std::string::npos) throw MailClientError("bad LIST line: " + r.text);
  std::string name = r.text.substr(p + 1);
  if (name.size() >= 2 && name.front() == '{' && !r.literals.empty()) {
    name = r.literals.back();
  } else if (name.size() >= 2 && name.front() == '"') {
    std::string unq;
    for (size_t i = 1; i + 1 < name.size(); ++i) {
      if (name[i] == '\\' && i + 2 < name.size()) ++i;
      unq += name[i];
    }
    name = unq;
  }
  e.name = name;
  return e;
}

/// The IMAP part of a view (unsorted).
struct ImapView {
  std::vector<std::string> folders, messages, lsub;
};

/// Logs in over IMAP and appends what client-view's IMAP client recorded.
/// Throws MailClientError (login refused, bad response, timeout).
inline void CollectImap(int port, const ViewLogin& u, ImapView* view) {
  ImapClient imap(port);
  imap.Login(u.login, u.password);
  std::vector<ListEntry> entries;
  for (const auto& r : imap.Command("LIST \"\" \"*\""))
    if (r.text.rfind("* LIST ", 0) == 0) entries.push_back(ParseListLine(r));
  for (const auto& e : entries) {
    std::string decoded = DecodeModifiedUtf7(e.name);
    if (e.attributes.find("\\Noselect") != std::string::npos) {
      view->folders.push_back(JoinTabs({u.user, e.name, decoded, "-", "-", "-", e.attributes}));
      continue;
    }
    long exists = -1, uidvalidity = -1, uidnext = -1;
    for (const auto& r : imap.Command("EXAMINE " + ImapClient::Quote(e.name))) {
      if (r.text.size() > 9 && r.text.compare(r.text.size() - 7, 7, " EXISTS") == 0)
        exists = std::strtol(r.text.c_str() + 2, nullptr, 10);
      if (r.text.find("[UIDVALIDITY ") != std::string::npos) uidvalidity = NumberAfter(r.text, "[UIDVALIDITY ");
      if (r.text.find("[UIDNEXT ") != std::string::npos) uidnext = NumberAfter(r.text, "[UIDNEXT ");
    }
    view->folders.push_back(JoinTabs({u.user, e.name, decoded, std::to_string(uidvalidity), std::to_string(uidnext),
                                      std::to_string(exists), e.attributes}));
    if (exists <= 0) continue;
    for (const auto& r : imap.Command("UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")) {
      if (r.text.find(" FETCH ") == std::string::npos) continue;
      std::string body = r.literals.empty() ? "" : r.literals.front();
      view->messages.push_back(JoinTabs({u.user, e.name, std::to_string(NumberAfter(r.text, "UID ")),
                                         SortedFlags(Between(r.text, "FLAGS (", ')')),
                                         Between(r.text, "INTERNALDATE \"", '"'),
                                         std::to_string(NumberAfter(r.text, "RFC822.SIZE ")), Sha256::Of(body),
                                         MessageIdOf(body)}));
    }
  }
  for (const auto& r : imap.Command("LSUB \"\" \"*\"")) {
    if (r.text.rfind("* LSUB ", 0) != 0) continue;
    ListEntry e = ParseListLine(r);
    view->lsub.push_back(JoinTabs({u.user, e.name, DecodeModifiedUtf7(e.name), e.attributes}));
  }
  imap.Logout();
}

/// Logs in over POP3 and appends "user, msgno, UIDL, LIST size" lines.
/// Throws MailClientError.
inline void CollectPop3(int port, const ViewLogin& u, std::vector<std::string>* lines) {
  Pop3Client pop(port);
  pop.Login(u.login, u.password);
  std::map<std::string, std::string> sizes;
  for (const auto& l : pop.List()) {
    std::istringstream in(l);
    std::string n, size;
    in >> n >> size;
    sizes[n] = size;
  }
  for (const auto& l : pop.Uidl()) {
    std::istringstream in(l);
    std::string n, uidl;
    in >> n >> uidl;
    lines->push_back(JoinTabs({u.user, n, uidl, sizes.count(n) ? sizes[n] : "?"}));
  }
  pop.Quit();
}

/// True when IMAP LOGIN with these credentials succeeds. Each check connects
/// from its own loopback address 127.0.0.<2..254>: Dovecot's auth penalty
/// (anvil) delays every later login from an address that failed one, up to
/// 15 s, and login_trusted_networks does not lift it.
inline bool ImapLoginWorks(int port, const std::string& login, const std::string& password) {
  static unsigned next_source = 0;
  std::string source = "127.0.0." + std::to_string(2 + (next_source++ % 253));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw MailClientError("socket failed");
  sockaddr_in from{}, to{};
  from.sin_family = to.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  to.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    throw MailClientError("cannot connect from " + source + " to 127.0.0.1:" + std::to_string(port));
  }
  std::string in, cmd = "x LOGIN " + ImapClient::Quote(login) + " " + ImapClient::Quote(password) + "\r\n";
  bool sent = send(fd, cmd.data(), cmd.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(cmd.size());
  // The greeting, then the tagged reply to LOGIN.
  char buf[4096];
  while (sent && in.find("\r\nx ") == std::string::npos && in.rfind("x ", 0) != 0) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t tagged = in.find("\r\nx ");
  // An account the userdb does not have fails as an "Internal login
  // failure": imap-login then closes the connection after the greeting
  // without a tagged reply. That is a failed login too.
  if (tagged == std::string::npos && in.rfind("* OK", 0) == 0) return false;
  if (tagged == std::string::npos)
    throw MailClientError("no reply to LOGIN " + login + " from " + source + " (got: " + in + ")");
  return in.compare(tagged + 2, 5, "x OK ") == 0;
}

}  // namespace vmigrate::testing::dovecot

#endif  // VMIGRATE_TESTS_DOVECOT_UNIX_VIEW_H_
