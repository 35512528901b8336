// Scripted POP3/IMAP servers on loopback for tests of lib/mailsource and
// `vmigrate pull`: they do what a real Dovecot never does (drop the
// connection mid-message, send more or less than announced, offer no
// STARTTLS or UIDL, list names that are not modified UTF-7).
//
// ScriptedMailServer is the transport: a greeting, then one answer per line
// the client sends. ImapMailbox and Pop3Mailbox are answers for small
// mailboxes, speaking the subset of IMAP4rev1 (RFC 3501) and POP3 (RFC 1939,
// RFC 2449 CAPA) that lib/mailsource sends, with per-message faults.
#ifndef VMIGRATE_TESTS_SUPPORT_SCRIPTED_MAIL_SERVER_H_
#define VMIGRATE_TESTS_SUPPORT_SCRIPTED_MAIL_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace vmigrate::testing {

/// In an answer: close the connection here (what follows is not sent).
inline const std::string kHangUp = "\x01HANGUP";

/// A scripted server on a free loopback port. Each connection (served in its
/// own thread, so clients may overlap) gets the greeting, then the answer of
/// its own copy of `answer` to each CRLF-terminated line it sends: state a
/// lambda captures by value is per connection, by reference shared.
class ScriptedMailServer {
 public:
  using Answer = std::function<std::string(const std::string& line)>;

  ScriptedMailServer(std::string greeting, Answer answer) : greeting_(std::move(greeting)), answer_(std::move(answer)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 8) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return;
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~ScriptedMailServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : connections_) shutdown(fd, SHUT_RDWR);  // wakes a thread blocked in recv
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    for (int fd : connections_) close(fd);
    close(listen_fd_);
  }
  ScriptedMailServer(const ScriptedMailServer&) = delete;
  ScriptedMailServer& operator=(const ScriptedMailServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& scheme) const { return scheme + "://127.0.0.1:" + std::to_string(port_); }
  /// Every line received so far, over all connections.
  std::vector<std::string> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  size_t connection_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_.size();
  }

 private:
  void Accept() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      connections_.push_back(fd);
      threads_.emplace_back([this, fd, answer = answer_]() mutable { Serve(fd, answer); });
    }
  }

  // The descriptor stays open until the destructor (so its number is not
  // reused while the destructor may shut it down); a hang-up shuts it down.
  void Serve(int fd, Answer& answer) {
    std::string out = greeting_, buf;
    for (;;) {
      size_t cut = out.find(kHangUp);
      bool hang_up = cut != std::string::npos;
      if (hang_up) out.resize(cut);
      if (!out.empty() && send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) break;
      if (hang_up) break;
      size_t eol;
      while ((eol = buf.find("\r\n")) == std::string::npos) {
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) {
          shutdown(fd, SHUT_RDWR);
          return;
        }
        buf.append(tmp, static_cast<size_t>(n));
      }
      std::string line = buf.substr(0, eol);
      buf.erase(0, eol + 2);
      {
        std::lock_guard<std::mutex> lock(mu_);
        received_.push_back(line);
      }
      out = answer(line);
    }
    shutdown(fd, SHUT_RDWR);
  }

  std::string greeting_;
  Answer answer_;
  int listen_fd_ = -1;
  int port_ = -1;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> connections_;
  std::vector<std::thread> threads_;
  std::vector<std::string> received_;
};

/// One message of a scripted mailbox.
struct ScriptedMessage {
  uint32_t uid = 0;   // IMAP UID (POP3 numbers messages by position)
  std::string uidl;   // POP3 UIDL
  std::string body;   // as stored: CRLF line ends, ending in CRLF
  std::string flags;  // IMAP FLAGS content, e.g. "\\Seen $Junk"
  std::string internaldate = "01-Feb-2024 10:00:00 +0000";
  /// RFC822.SIZE / POP3 LIST size; the body's size when unset.
  std::optional<size_t> announced;
  /// When set, replaces what follows the UID in the BODY.PEEK[] FETCH answer
  /// (IMAP: e.g. "BODY[] {100}\r\nonly the start" + kHangUp) or the whole RETR
  /// answer (POP3).
  std::optional<std::string> raw_body;
  /// What POP3 shows when it differs from IMAP: an mbox server's RETR adds
  /// Status: lines; qmail-pop3d's LIST counts LF line ends.
  std::optional<std::string> pop3_body;
  std::optional<size_t> pop3_size;

  size_t size() const { return announced ? *announced : body.size(); }
  const std::string& pop3() const { return pop3_body ? *pop3_body : body; }
  /// The header with the empty line after it (BODY[HEADER], TOP n 0).
  static std::string HeaderOf(const std::string& message) {
    size_t end = message.find("\r\n\r\n");
    return end == std::string::npos ? message : message.substr(0, end + 4);
  }
};

/// The UIDs of an IMAP sequence set ("3,5:7"), numbers only.
inline std::vector<uint32_t> ImapUidSet(const std::string& set) {
  std::vector<uint32_t> out;
  size_t pos = 0;
  while (pos < set.size()) {
    size_t comma = set.find(',', pos);
    std::string item = set.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? set.size() : comma + 1;
    size_t colon = item.find(':');
    uint32_t a = static_cast<uint32_t>(std::stoul(item.substr(0, colon)));
    uint32_t b = colon == std::string::npos ? a : static_cast<uint32_t>(std::stoul(item.substr(colon + 1)));
    for (uint32_t u = std::min(a, b); u <= std::max(a, b); ++u) out.push_back(u);
  }
  return out;
}

struct ScriptedFolder {
  std::string name;  // on the wire (modified UTF-7, or not, as the test wants)
  uint32_t uidvalidity = 7;
  std::vector<ScriptedMessage> messages;
  bool subscribed = true;
};

struct ScriptedAccount {
  std::string login, password;
};

/// The IMAP astrings (atoms or quoted strings, RFC 3501 §4.3) at the start
/// of `text`, up to `count`.
inline std::vector<std::string> ImapAstrings(const std::string& text, size_t count) {
  std::vector<std::string> out;
  size_t i = 0;
  while (out.size() < count && i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    std::string s;
    if (i < text.size() && text[i] == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        s += text[i];
      }
      ++i;
    } else {
      while (i < text.size() && text[i] != ' ') s += text[i++];
    }
    out.push_back(s);
  }
  return out;
}

inline bool ScriptedLoginOk(const std::vector<ScriptedAccount>& accounts, const std::string& login,
                            const std::string& password) {
  for (const auto& a : accounts)
    if (a.login == login && a.password == password) return true;
  return false;
}

/// An IMAP server without STARTTLS holding `folders` ('/' delimiter) for
/// each of `accounts`: CAPABILITY, LOGIN, LIST, LSUB, EXAMINE, UID FETCH of
/// metadata (n:*), of BODY.PEEK[] and of BODY.PEEK[HEADER] (a UID set), LOGOUT.
inline ScriptedMailServer::Answer ImapMailbox(std::vector<ScriptedFolder> folders,
                                              std::vector<ScriptedAccount> accounts) {
  int selected = -1;  // per connection
  return [folders, accounts, selected](const std::string& line) mutable -> std::string {
    std::string tag = line.substr(0, line.find(' '));
    std::string cmd = line.size() > tag.size() ? line.substr(tag.size() + 1) : "";
    auto starts = [&](const char* p) { return cmd.rfind(p, 0) == 0; };
    if (cmd == "CAPABILITY") return "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + " OK done\r\n";
    if (starts("LOGIN ")) {
      auto a = ImapAstrings(cmd.substr(6), 2);
      if (a.size() == 2 && ScriptedLoginOk(accounts, a[0], a[1])) return tag + " OK logged in\r\n";
      return tag + " NO [AUTHENTICATIONFAILED] Authentication failed.\r\n";
    }
    if (starts("LIST ") || starts("LSUB ")) {
      std::string out;
      for (const auto& f : folders)
        if (starts("LIST ") || f.subscribed) out += "* " + cmd.substr(0, 4) + " () \"/\" \"" + f.name + "\"\r\n";
      return out + tag + " OK done\r\n";
    }
    if (starts("EXAMINE ")) {
      auto a = ImapAstrings(cmd.substr(8), 1);
      selected = -1;
      for (size_t i = 0; i < folders.size(); ++i)
        if (!a.empty() && folders[i].name == a[0]) selected = static_cast<int>(i);
      if (selected < 0) return tag + " NO no such folder\r\n";
      const ScriptedFolder& f = folders[static_cast<size_t>(selected)];
      uint32_t next = 1;
      for (const auto& m : f.messages) next = std::max(next, m.uid + 1);
      return "* " + std::to_string(f.messages.size()) + " EXISTS\r\n* OK [UIDVALIDITY " +
             std::to_string(f.uidvalidity) + "] ok\r\n* OK [UIDNEXT " + std::to_string(next) + "] ok\r\n" + tag +
             " OK [READ-ONLY] done\r\n";
    }
    if (starts("UID FETCH ") && selected >= 0) {
      const auto& msgs = folders[static_cast<size_t>(selected)].messages;
      std::string out;
      if (cmd.find("BODY.PEEK[HEADER]") != std::string::npos) {
        std::vector<uint32_t> uids = ImapUidSet(cmd.substr(10, cmd.find(' ', 10) - 10));
        for (size_t i = 0; i < msgs.size(); ++i) {
          if (std::find(uids.begin(), uids.end(), msgs[i].uid) == uids.end()) continue;
          std::string h = ScriptedMessage::HeaderOf(msgs[i].body);
          out += "* " + std::to_string(i + 1) + " FETCH (UID " + std::to_string(msgs[i].uid) + " BODY[HEADER] {" +
                 std::to_string(h.size()) + "}\r\n" + h + ")\r\n";
        }
        return out + tag + " OK done\r\n";
      }
      uint32_t first = static_cast<uint32_t>(std::stoul(cmd.substr(10)));
      if (cmd.find("BODY.PEEK[]") != std::string::npos) {
        for (size_t i = 0; i < msgs.size(); ++i) {
          if (msgs[i].uid != first) continue;
          out += "* " + std::to_string(i + 1) + " FETCH (UID " + std::to_string(msgs[i].uid) + " " +
                 (msgs[i].raw_body ? *msgs[i].raw_body
                                   : "BODY[] {" + std::to_string(msgs[i].body.size()) + "}\r\n" + msgs[i].body) +
                 ")\r\n";
        }
        return out + tag + " OK done\r\n";
      }
      for (size_t i = 0; i < msgs.size(); ++i) {
        // "n:*" also names the last message when n is beyond it (RFC 3501 §6.4.8).
        if (msgs[i].uid < first && i + 1 < msgs.size()) continue;
        out += "* " + std::to_string(i + 1) + " FETCH (UID " + std::to_string(msgs[i].uid) + " FLAGS (" +
               msgs[i].flags + ") INTERNALDATE \"" + msgs[i].internaldate + "\" RFC822.SIZE " +
               std::to_string(msgs[i].size()) + ")\r\n";
      }
      return out + tag + " OK done\r\n";
    }
    if (cmd == "LOGOUT") return "* BYE\r\n" + tag + " OK bye\r\n" + kHangUp;
    if (cmd == "NOOP") return tag + " OK done\r\n";
    return tag + " BAD what?\r\n";
  };
}

/// A POP3 server without STLS holding `messages` for each of `accounts`
/// (USER/PASS), with or without UIDL. RETR and TOP n 0 dot-stuff what they send. Never
/// deletes: DELE is refused (a test can see it in received()).
inline ScriptedMailServer::Answer Pop3Mailbox(std::vector<ScriptedMessage> messages,
                                              std::vector<ScriptedAccount> accounts, bool uidl = true) {
  std::string user;  // per connection
  return [messages, accounts, uidl, user](const std::string& line) mutable -> std::string {
    if (line == "CAPA") return std::string("+OK\r\nUSER\r\n") + (uidl ? "UIDL\r\n" : "") + ".\r\n";
    if (line.rfind("USER ", 0) == 0) {
      user = line.substr(5);
      return "+OK\r\n";
    }
    if (line.rfind("PASS ", 0) == 0)
      return ScriptedLoginOk(accounts, user, line.substr(5)) ? "+OK logged in\r\n"
                                                              : "-ERR [AUTH] Authentication failed.\r\n";
    if (line == "LIST") {
      std::string out = "+OK " + std::to_string(messages.size()) + " messages\r\n";
      for (size_t i = 0; i < messages.size(); ++i)
        out += std::to_string(i + 1) + " " +
               std::to_string(messages[i].pop3_size ? *messages[i].pop3_size : messages[i].size()) + "\r\n";
      return out + ".\r\n";
    }
    if (line == "UIDL") {
      if (!uidl) return "-ERR unknown command\r\n";
      std::string out = "+OK\r\n";
      for (size_t i = 0; i < messages.size(); ++i) out += std::to_string(i + 1) + " " + messages[i].uidl + "\r\n";
      return out + ".\r\n";
    }
    const bool top = line.rfind("TOP ", 0) == 0 && line.size() > 6 && line.substr(line.size() - 2) == " 0";
    if (line.rfind("RETR ", 0) == 0 || top) {
      size_t n = std::stoul(line.substr(top ? 4 : 5));
      if (n < 1 || n > messages.size()) return "-ERR no such message\r\n";
      const ScriptedMessage& m = messages[n - 1];
      if (m.raw_body && !top) return *m.raw_body;
      const std::string text = top ? ScriptedMessage::HeaderOf(m.pop3()) : m.pop3();
      std::string out = "+OK\r\n";
      size_t pos = 0;
      while (pos < text.size()) {
        size_t nl = text.find("\r\n", pos);
        size_t end = nl == std::string::npos ? text.size() : nl + 2;
        if (text[pos] == '.') out += '.';
        out += text.substr(pos, end - pos);
        pos = end;
      }
      return out + ".\r\n";
    }
    if (line == "NOOP") return "+OK\r\n";
    if (line == "QUIT") return "+OK bye\r\n" + kHangUp;
    return "-ERR what?\r\n";
  };
}

}  // namespace vmigrate::testing

#endif  // VMIGRATE_TESTS_SUPPORT_SCRIPTED_MAIL_SERVER_H_
