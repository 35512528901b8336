// Minimal POP3 and IMAP clients for the real-server tests: plain TCP to
// 127.0.0.1, every read and write bounded by a timeout. Errors are thrown as
// MailClientError so a caller can record them per user and carry on.
#ifndef VMIGRATE_TESTS_DOVECOT_MAIL_CLIENT_H_
#define VMIGRATE_TESTS_DOVECOT_MAIL_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmigrate::testing::dovecot {

class MailClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A connected TCP socket with buffered, time-bounded line and byte reads.
class Connection {
 public:
  Connection(int port, int timeout_ms) : timeout_ms_(timeout_ms) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw MailClientError(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::string e = std::strerror(errno);
      close(fd_);
      fd_ = -1;
      throw MailClientError("connect 127.0.0.1:" + std::to_string(port) + ": " + e);
    }
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Send(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      Wait(POLLOUT);
      ssize_t n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw MailClientError(std::string("send: ") + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
  }

  /// One line without its CRLF.
  std::string ReadLine() {
    for (;;) {
      size_t pos = buf_.find("\r\n");
      if (pos != std::string::npos) {
        std::string line = buf_.substr(0, pos);
        buf_.erase(0, pos + 2);
        return line;
      }
      Fill();
    }
  }

  /// Exactly n bytes.
  std::string ReadBytes(size_t n) {
    while (buf_.size() < n) Fill();
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

 private:
  void Wait(short events) {
    pollfd p{fd_, events, 0};
    int r;
    do {
      r = poll(&p, 1, timeout_ms_);
    } while (r < 0 && errno == EINTR);
    if (r == 0) throw MailClientError("timed out after " + std::to_string(timeout_ms_) + " ms");
    if (r < 0) throw MailClientError(std::string("poll: ") + std::strerror(errno));
  }
  void Fill() {
    if (buf_.size() > (64u << 20)) throw MailClientError("response too large");
    Wait(POLLIN);
    char tmp[16384];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) return;
    if (n < 0) throw MailClientError(std::string("recv: ") + std::strerror(errno));
    if (n == 0) throw MailClientError("connection closed by the server");
    buf_.append(tmp, static_cast<size_t>(n));
  }

  int fd_ = -1;
  int timeout_ms_;
  std::string buf_;
};

/// POP3: USER/PASS, UIDL, RETR, QUIT.
class Pop3Client {
 public:
  explicit Pop3Client(int port, int timeout_ms = 10000) : conn_(port, timeout_ms) {
    Expect(conn_.ReadLine(), "greeting");
  }

  void Login(const std::string& user, const std::string& pass) {
    Command("USER " + user);
    Command("PASS " + pass);
  }

  /// "msgno uidl" lines, in server order.
  std::vector<std::string> Uidl() { return MultiLine("UIDL"); }

  /// "msgno size" lines, in server order.
  std::vector<std::string> List() { return MultiLine("LIST"); }

  /// Message bytes (dot-unstuffed, CRLF line ends as sent).
  std::string Retr(int msgno) {
    std::vector<std::string> lines = MultiLine("RETR " + std::to_string(msgno));
    std::string out;
    for (const auto& l : lines) out += l + "\r\n";
    return out;
  }

  void Quit() { Command("QUIT"); }

 private:
  static std::string Expect(const std::string& line, const std::string& what) {
    if (line.rfind("+OK", 0) != 0) throw MailClientError("POP3 " + what + ": " + line);
    return line;
  }
  std::string Command(const std::string& cmd) {
    conn_.Send(cmd + "\r\n");
    std::string shown = cmd.rfind("PASS ", 0) == 0 ? "PASS ***" : cmd;
    return Expect(conn_.ReadLine(), shown);
  }
  std::vector<std::string> MultiLine(const std::string& cmd) {
    Command(cmd);
    std::vector<std::string> out;
    for (;;) {
      std::string line = conn_.ReadLine();
      if (line == ".") return out;
      if (!line.empty() && line[0] == '.') line.erase(0, 1);
      out.push_back(line);
    }
  }

  Connection conn_;
};

/// One untagged IMAP response: its text with every literal replaced by
/// "{n}", and the literals in order.
struct ImapResponse {
  std::string text;
  std::vector<std::string> literals;
};

/// IMAP4rev1: LOGIN, LIST, EXAMINE/SELECT, FETCH, LOGOUT, literals {n}.
class ImapClient {
 public:
  explicit ImapClient(int port, int timeout_ms = 10000) : conn_(port, timeout_ms) {
    std::string greeting = conn_.ReadLine();
    if (greeting.rfind("* OK", 0) != 0) throw MailClientError("IMAP greeting: " + greeting);
  }

  void Login(const std::string& user, const std::string& pass) {
    Command("LOGIN " + Quote(user) + " " + Quote(pass), "LOGIN ***");
  }

  /// Untagged responses of `cmd`; throws unless the tagged status is OK.
  std::vector<ImapResponse> Command(const std::string& cmd, const std::string& shown = "") {
    std::string tag = "a" + std::to_string(++tag_counter_);
    conn_.Send(tag + " " + cmd + "\r\n");
    std::vector<ImapResponse> out;
    for (;;) {
      ImapResponse r = ReadResponse();
      if (r.text.rfind(tag + " ", 0) == 0) {
        if (r.text.compare(tag.size() + 1, 3, "OK ") != 0)
          throw MailClientError("IMAP " + (shown.empty() ? cmd : shown) + ": " + r.text);
        return out;
      }
      out.push_back(std::move(r));
    }
  }

  /// Mailbox names from LIST "" "*", in server order.
  std::vector<std::string> List() {
    std::vector<std::string> names;
    for (const auto& r : Command("LIST \"\" \"*\"")) {
      if (r.text.rfind("* LIST ", 0) != 0) continue;
      // * LIST (flags) "sep" name   -- name is an atom, a quoted string or a literal.
      size_t p = r.text.find(')');
      if (p == std::string::npos) throw MailClientError("bad LIST line: " + r.text);
      p = r.text.find(' ', p + 2);  // after the separator
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
      names.push_back(name);
    }
    return names;
  }

  void Logout() {
    try {
      Command("LOGOUT");
    } catch (const MailClientError&) {
      // The server may close the connection right after BYE.
    }
  }

  static std::string Quote(const std::string& s) {
    std::string q = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    return q + "\"";
  }

 private:
  ImapResponse ReadResponse() {
    ImapResponse r;
    for (;;) {
      std::string line = conn_.ReadLine();
      r.text += line;
      // A line ending in {n} announces n bytes of literal, then the line goes on.
      if (line.empty() || line.back() != '}') return r;
      size_t open = line.rfind('{');
      if (open == std::string::npos) return r;
      std::string digits = line.substr(open + 1, line.size() - open - 2);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return r;
      r.literals.push_back(conn_.ReadBytes(std::stoul(digits)));
    }
  }

  Connection conn_;
  unsigned tag_counter_ = 0;
};

}  // namespace vmigrate::testing::dovecot

#endif  // VMIGRATE_TESTS_DOVECOT_MAIL_CLIENT_H_
