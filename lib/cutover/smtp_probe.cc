#include "cutover/smtp_probe.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace vmigrate::cutover {
namespace {

// Bounds on what we read from the peer, so a broken or hostile server cannot
// make us buffer without end. RFC 5321 §4.5.3.1.5 caps a reply line at 512.
constexpr size_t kMaxReplyLine = 4096;
constexpr size_t kMaxReplyLines = 100;

std::string HostPort(const std::string& host, uint16_t port) {
  bool v6_literal = host.find(':') != std::string::npos;
  return (v6_literal ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool SafeForCommand(const std::string& s) {
  return !s.empty() && s.find_first_of(std::string("\r\n\0", 3)) == std::string::npos;
}

// One SMTP reply: its lines and the code of the last one.
struct Reply {
  int code = 0;
  std::vector<std::string> lines;
  std::string Text() const {
    std::string text;
    for (const std::string& line : lines) text += (text.empty() ? "" : " / ") + line;
    return text;
  }
};

// One client connection. Every wait goes through poll() with the timeout, so
// nothing blocks longer than that on a silent peer.
class Session {
 public:
  Session(std::string where, int timeout_seconds, SmtpProbeResult* out)
      : where_(std::move(where)), timeout_ms_(timeout_seconds * 1000), out_(out) {}
  ~Session() {
    if (fd_ >= 0) close(fd_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Status Connect(const std::string& host, uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    std::string service = std::to_string(port);
    int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
    if (rc != 0) {
      std::string cause = rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc);
      return Status::PeerRefused(where_ + ": cannot resolve '" + host + "': " + cause);
    }
    std::string last_error = "no address";
    for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
      int err = ConnectOne(a);
      if (err == 0) break;
      last_error = err == ETIMEDOUT ? "no connection within " + Seconds() : std::strerror(err);
    }
    freeaddrinfo(list);
    if (fd_ < 0) return Status::PeerRefused(where_ + ": cannot connect: " + last_error);
    return Status::OK();
  }

  Status Send(const std::string& command) {
    if (broken_) return Status::PeerRefused(where_ + ": connection already failed");
    out_->transcript.push_back("C: " + command);
    std::string line = command + "\r\n";
    size_t done = 0;
    while (done < line.size()) {
      VM_RETURN_IF_ERROR(Wait(POLLOUT, "sending " + command));
      ssize_t n = send(fd_, line.data() + done, line.size() - done, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Broken(": sending " + command + ": " + std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
    return Status::OK();
  }

  // Reads one reply, all its lines: "250-..." continues, "250 ..." or a bare
  // "250" ends it (RFC 5321 §4.2.1).
  Status Read(const std::string& to_what, Reply* reply) {
    *reply = Reply();
    if (broken_) return Status::PeerRefused(where_ + ": connection already failed");
    for (;;) {
      std::string line;
      VM_RETURN_IF_ERROR(ReadLine(to_what, &line));
      out_->transcript.push_back("S: " + line);
      bool well_formed = line.size() >= 3 && std::isdigit(static_cast<unsigned char>(line[0])) &&
                         std::isdigit(static_cast<unsigned char>(line[1])) &&
                         std::isdigit(static_cast<unsigned char>(line[2])) &&
                         (line.size() == 3 || line[3] == ' ' || line[3] == '-');
      if (!well_formed)
        return Broken(" answered '" + line + "' to " + to_what + ": not an SMTP reply");
      reply->lines.push_back(line);
      if (line.size() == 3 || line[3] == ' ') {
        reply->code = std::stoi(line.substr(0, 3));
        return Status::OK();
      }
      if (reply->lines.size() >= kMaxReplyLines)
        return Broken(": reply to " + to_what + " has more than " +
                      std::to_string(kMaxReplyLines) + " lines");
    }
  }

  // Send (unless `command` is empty: the greeting), read, and insist on 2xx.
  Status Step(const std::string& command, const std::string& to_what, Reply* reply) {
    if (!command.empty()) VM_RETURN_IF_ERROR(Send(command));
    VM_RETURN_IF_ERROR(Read(to_what, reply));
    if (reply->code / 100 != 2) return Refused(*reply, to_what);
    return Status::OK();
  }

  Status Refused(const Reply& reply, const std::string& to_what) const {
    return Status::PeerRefused(where_ + " answered '" + reply.Text() + "' to " + to_what);
  }

  /// Whether the connection failed (timeout, reset, closed, a reply that is
  /// not SMTP): nothing more is sent on it.
  bool broken() const { return broken_; }

 private:
  // Marks the connection unusable; `what` follows "HOST:PORT".
  Status Broken(const std::string& what) {
    broken_ = true;
    return Status::PeerRefused(where_ + what);
  }

  std::string Seconds() const { return std::to_string(timeout_ms_ / 1000) + " s"; }

  // Returns 0 with fd_ connected, or the errno of the failure.
  int ConnectOne(const addrinfo* a) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) return errno;
    int err = 0;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int rc;
        do rc = poll(&p, 1, timeout_ms_); while (rc < 0 && errno == EINTR);
        if (rc < 0) {
          err = errno;
        } else if (rc == 0) {
          err = ETIMEDOUT;
        } else {
          socklen_t len = sizeof err;
          if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        }
      }
    }
    if (err != 0) {
      close(fd);
      return err;
    }
    fd_ = fd;
    return 0;
  }

  Status Wait(short events, const std::string& doing) {
    pollfd p{fd_, events, 0};
    int rc;
    do rc = poll(&p, 1, timeout_ms_); while (rc < 0 && errno == EINTR);
    if (rc < 0) return Broken(": " + doing + ": " + std::strerror(errno));
    if (rc == 0) return Broken(": " + doing + ": no progress within " + Seconds());
    return Status::OK();
  }

  // One line without its CR LF (a bare LF ends a line too).
  Status ReadLine(const std::string& to_what, std::string* line) {
    for (;;) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        *line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        if (!line->empty() && line->back() == '\r') line->pop_back();
        return Status::OK();
      }
      if (buffer_.size() > kMaxReplyLine)
        return Broken(": reply line to " + to_what + " longer than " +
                                   std::to_string(kMaxReplyLine) + " bytes");
      pollfd p{fd_, POLLIN, 0};
      int rc;
      do rc = poll(&p, 1, timeout_ms_); while (rc < 0 && errno == EINTR);
      if (rc < 0) return Broken(std::string(": ") + std::strerror(errno));
      if (rc == 0)
        return Broken(": no answer within " + Seconds() + " to " + to_what);
      char buf[1024];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Broken(": reading the answer to " + to_what + ": " +
                                   std::strerror(errno));
      }
      if (n == 0)
        return Broken(" closed the connection before answering " + to_what);
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  std::string where_;
  int timeout_ms_;
  SmtpProbeResult* out_;
  int fd_ = -1;
  bool broken_ = false;
  std::string buffer_;
};

// The dialogue after the connect; returns at the first refusal.
Status Converse(Session* s, const std::string& helo_name,
                const std::vector<std::string>& recipients) {
  Reply reply;
  VM_RETURN_IF_ERROR(s->Step("", "the connection (greeting)", &reply));
  std::string ehlo = "EHLO " + helo_name;
  VM_RETURN_IF_ERROR(s->Send(ehlo));
  VM_RETURN_IF_ERROR(s->Read(ehlo, &reply));
  if (reply.code / 100 == 5) {  // a server without ESMTP: RFC 5321 §4.1.4 allows HELO
    VM_RETURN_IF_ERROR(s->Step("HELO " + helo_name, "HELO " + helo_name, &reply));
  } else if (reply.code / 100 != 2) {
    return s->Refused(reply, ehlo);
  }
  VM_RETURN_IF_ERROR(s->Step("MAIL FROM:<>", "MAIL FROM:<>", &reply));
  for (const std::string& r : recipients) {
    std::string rcpt = "RCPT TO:<" + r + ">";
    VM_RETURN_IF_ERROR(s->Step(rcpt, rcpt, &reply));
  }
  return Status::OK();
}

}  // namespace

Status ProbeSmtp(const std::string& host, uint16_t port, const std::string& helo_name,
                 const std::vector<std::string>& recipients, int timeout_seconds,
                 SmtpProbeResult* out) {
  out->transcript.clear();
  if (recipients.empty()) return Status::InvalidInput("SMTP check: no recipient to check");
  if (!SafeForCommand(helo_name))
    return Status::InvalidInput("SMTP check: HELO name '" + helo_name + "' is empty or holds CR, LF or NUL");
  for (const std::string& r : recipients)
    if (!SafeForCommand(r))
      return Status::InvalidInput("SMTP check: recipient '" + r + "' is empty or holds CR, LF or NUL");

  // poll() takes milliseconds in an int: keep the bound in 1 s .. 1 day.
  int timeout = timeout_seconds < 1 ? 1 : (timeout_seconds > 86400 ? 86400 : timeout_seconds);
  Session session(HostPort(host, port), timeout, out);
  VM_RETURN_IF_ERROR(session.Connect(host, port));
  Status status = Converse(&session, helo_name, recipients);
  // Leave politely: RSET drops the envelope, QUIT ends the session. Their
  // answers do not change the verdict; a peer that already broke off (a
  // timeout or a closed connection) is not asked again.
  if (!session.broken()) {
    Reply reply;
    if (status.ok() && session.Send("RSET").ok()) (void)session.Read("RSET", &reply);
    if (session.Send("QUIT").ok()) (void)session.Read("QUIT", &reply);
  }
  return status;
}

}  // namespace vmigrate::cutover
