// OpenPop3: POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595) over libetpan's
// mailstream and TLS. The commands are spoken here rather than through
// libetpan's mailpop3_*: in 1.9.4 its multi-line reader rewrites every line
// end to CRLF, drops bytes after a NUL, and loops forever when the server
// closes mid-list; its LIST parser writes out of bounds for message number
// 0. What is left is a line protocol of six commands.
#include <libetpan/libetpan.h>
#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>

#include "mailsource/mail_source.h"
#include "mailsource/transport.h"

namespace vmigrate::mailsource {
namespace {

class Pop3Connection : public Pop3Session {
 public:
  Pop3Connection(SourceUrl url, std::string login, int timeout)
      : url_(std::move(url)), login_(std::move(login)), timeout_(timeout), line_(mmap_string_new("")) {}
  ~Pop3Connection() override {
    Close();
    mmap_string_free(line_);
  }

  Status Connect(const ConnectOptions& options);
  Status Login(const std::string& password);
  // Closes without QUIT: a server that failed the certificate check or
  // broke the protocol is told nothing more.
  void Drop() {
    if (stream_ != nullptr) mailstream_close(stream_);
    stream_ = nullptr;
  }

  Status List(std::vector<Pop3Message>* messages, bool* has_uidl) override;
  Status Retrieve(uint32_t number, std::string* body) override;
  Status Top(uint32_t number, std::string* header) override;
  void Close() override;

 private:
  // "URL: LOGIN: what"
  Status Refused(const std::string& what) const {
    return Status::PeerRefused(url_.text + ": " + (logged_in_ ? login_ + ": " : "") + what);
  }
  Status Dropped(const std::string& during) const {
    return Refused(during + ": connection dropped or timed out (" + std::to_string(timeout_) + " s)");
  }
  Status OutOfProtocol(const std::string& during, const std::string& line) const {
    return Refused(during + ": answer out of protocol: '" + line.substr(0, 80) + "'");
  }

  // Writes `command` + CRLF. `shown` is how errors name it (never PASS's argument).
  Status Send(const std::string& command, const std::string& shown);
  // One line without its line end; false when the connection is gone.
  bool ReadLine(std::string* line);
  // A status line: true for "+OK", false for "-ERR" (text in `*text`).
  Status ReadStatus(const std::string& during, bool* ok, std::string* text);
  // The lines of a multi-line answer after "+OK", dot-unstuffed, ends removed.
  Status ReadLines(const std::string& during, std::vector<std::string>* lines);
  // The message lines after RETR's or TOP's +OK, to the "." line.
  Status ReadMessage(const std::string& what, std::string* body);
  Status Capabilities(std::vector<std::string>* caps);
  Status StartTls(const ConnectOptions& options);

  SourceUrl url_;
  std::string login_;
  int timeout_;
  bool logged_in_ = false;  // messages name the login from then on
  mailstream* stream_ = nullptr;
  MMAPString* line_;
};

bool CapsHave(const std::vector<std::string>& caps, const char* name) {
  for (const auto& c : caps) {
    std::string word = c.substr(0, c.find(' '));
    if (strcasecmp(word.c_str(), name) == 0) return true;
  }
  return false;
}

bool ParseNumber(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  *out = std::strtoull(text.c_str(), nullptr, 10);
  return true;
}

// A UIDL as RFC 1939 §7 allows it: 1-70 characters 0x21-0x7E.
bool ValidUidl(const std::string& uidl) {
  if (uidl.empty() || uidl.size() > 70) return false;
  for (unsigned char c : uidl)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

Status Pop3Connection::Send(const std::string& command, const std::string& shown) {
  std::string wire = command + "\r\n";
  if (mailstream_write(stream_, wire.data(), wire.size()) < 0 || mailstream_flush(stream_) < 0)
    return Dropped(shown);
  return Status::OK();
}

bool Pop3Connection::ReadLine(std::string* line) {
  if (mailstream_read_line(stream_, line_) == nullptr || line_->len == 0 || line_->str[line_->len - 1] != '\n')
    return false;
  size_t len = line_->len - 1;
  if (len > 0 && line_->str[len - 1] == '\r') --len;
  line->assign(line_->str, len);
  return true;
}

Status Pop3Connection::ReadStatus(const std::string& during, bool* ok, std::string* text) {
  std::string line;
  if (!ReadLine(&line)) return Dropped(during);
  if (line.rfind("+OK", 0) == 0) {
    *ok = true;
  } else if (line.rfind("-ERR", 0) == 0) {
    *ok = false;
  } else {
    return OutOfProtocol(during, line);
  }
  size_t start = line.find_first_not_of(' ', *ok ? 3 : 4);
  *text = start == std::string::npos ? "" : line.substr(start);
  return Status::OK();
}

Status Pop3Connection::ReadLines(const std::string& during, std::vector<std::string>* lines) {
  std::string line;
  for (;;) {
    if (!ReadLine(&line)) return Dropped(during);
    if (line == ".") return Status::OK();
    lines->push_back(line[0] == '.' ? line.substr(1) : line);
  }
}

Status Pop3Connection::Capabilities(std::vector<std::string>* caps) {
  caps->clear();
  VM_RETURN_IF_ERROR(Send("CAPA", "CAPA"));
  bool ok = false;
  std::string text;
  VM_RETURN_IF_ERROR(ReadStatus("CAPA", &ok, &text));
  if (!ok) return Status::OK();  // an RFC 1939-only server: no STLS either
  return ReadLines("CAPA", caps);
}

Status Pop3Connection::StartTls(const ConnectOptions& options) {
  VM_RETURN_IF_ERROR(Send("STLS", "STLS"));
  bool ok = false;
  std::string text;
  VM_RETURN_IF_ERROR(ReadStatus("STLS", &ok, &text));
  if (!ok) return Refused("STLS refused: " + text);
  // Bytes that arrived after "+OK" were sent in the clear and would be read
  // as if they came through TLS (the STARTTLS injection of CVE-2020-15953
  // and its kin): refuse such a server.
  if (stream_->read_buffer_len != 0) return Refused("STLS: the server sent data after its +OK (refused)");
  mailstream_low* plain = mailstream_get_low(stream_);
  int fd = mailstream_low_get_fd(plain);
  mailstream_low* tls =
      mailstream_low_tls_open_with_callback_timeout(fd, timeout_, SetServerNameCallback, ServerNameFor(url_));
  if (tls == nullptr) return Refused("TLS handshake failed after STLS");
  mailstream_low_free(plain);
  mailstream_set_low(stream_, tls);
  return CheckPeer(stream_, url_, options);
}

Status Pop3Connection::Connect(const ConnectOptions& options) {
  Result<int> fd = ConnectTcp(url_, timeout_);
  if (!fd.ok()) return fd.status();
  if (url_.implicit_tls) {
    stream_ = OpenTlsStream(*fd, url_.host, timeout_);
    if (stream_ == nullptr) {
      close(*fd);
      return Status::PeerRefused(url_.text + ": TLS handshake failed");
    }
    VM_RETURN_IF_ERROR(CheckPeer(stream_, url_, options));
  } else {
    stream_ = OpenPlainStream(*fd, timeout_);
    if (stream_ == nullptr) return Status::PeerRefused(url_.text + ": cannot set up the connection");
  }
  bool ok = false;
  std::string text;
  VM_RETURN_IF_ERROR(ReadStatus("greeting", &ok, &text));
  if (!ok) return Refused("server refused the session: " + text);
  if (url_.implicit_tls || options.starttls == StartTls::kNever) return Status::OK();
  std::vector<std::string> caps;
  VM_RETURN_IF_ERROR(Capabilities(&caps));
  if (CapsHave(caps, "STLS")) return StartTls(options);
  if (options.starttls == StartTls::kAlways) return Refused("the server does not offer STLS (--starttls always)");
  return Status::OK();
}

Status Pop3Connection::Login(const std::string& password) {
  if (HasLineBreak(login_) || HasLineBreak(password))
    return Status::InvalidInput(url_.text + ": the login or password holds a line break");
  bool ok = false;
  std::string text;
  VM_RETURN_IF_ERROR(Send("USER " + login_, "USER"));
  VM_RETURN_IF_ERROR(ReadStatus("USER", &ok, &text));
  if (ok) {
    VM_RETURN_IF_ERROR(Send("PASS " + password, "PASS"));
    VM_RETURN_IF_ERROR(ReadStatus("PASS", &ok, &text));
  }
  if (!ok) return Status::PeerRefused(url_.text + ": login refused for " + login_ + ": " + text);
  logged_in_ = true;
  return Status::OK();
}

Status Pop3Connection::List(std::vector<Pop3Message>* messages, bool* has_uidl) {
  SigpipeBlock no_sigpipe;
  messages->clear();
  *has_uidl = false;
  bool ok = false;
  std::string text;
  std::vector<std::string> lines;
  VM_RETURN_IF_ERROR(Send("LIST", "LIST"));
  VM_RETURN_IF_ERROR(ReadStatus("LIST", &ok, &text));
  if (!ok) return Refused("LIST refused: " + text);
  VM_RETURN_IF_ERROR(ReadLines("LIST", &lines));
  std::map<uint32_t, size_t> index;  // message number -> position
  for (const auto& l : lines) {
    size_t sp = l.find(' ');
    uint64_t number = 0, size = 0;
    std::string size_text = sp == std::string::npos ? "" : l.substr(sp + 1);
    size_text = size_text.substr(0, size_text.find(' '));  // RFC 1939 allows more after the size
    if (!ParseNumber(l.substr(0, sp), &number) || number == 0 || number > UINT32_MAX ||
        !ParseNumber(size_text, &size) || index.count(static_cast<uint32_t>(number)))
      return OutOfProtocol("LIST", l);
    index[static_cast<uint32_t>(number)] = messages->size();
    messages->push_back(Pop3Message{static_cast<uint32_t>(number), size, ""});
  }
  lines.clear();
  VM_RETURN_IF_ERROR(Send("UIDL", "UIDL"));
  VM_RETURN_IF_ERROR(ReadStatus("UIDL", &ok, &text));
  if (!ok) return Status::OK();  // no UIDL command: has_uidl stays false
  VM_RETURN_IF_ERROR(ReadLines("UIDL", &lines));
  size_t named = 0;
  for (const auto& l : lines) {
    size_t sp = l.find(' ');
    uint64_t number = 0;
    if (sp == std::string::npos || !ParseNumber(l.substr(0, sp), &number)) return OutOfProtocol("UIDL", l);
    auto it = index.find(static_cast<uint32_t>(number));
    if (number > UINT32_MAX || it == index.end()) return OutOfProtocol("UIDL", l);
    std::string uidl = l.substr(sp + 1);
    if (!ValidUidl(uidl))
      return Status::InvalidInput(url_.text + ": " + login_ + ": UIDL of message " + std::to_string(number) +
                                  " is not 1-70 printable characters: '" + uidl.substr(0, 80) + "'");
    Pop3Message& m = (*messages)[it->second];
    if (m.uidl.empty()) ++named;
    m.uidl = uidl;
  }
  if (named != messages->size()) return Refused("UIDL: the server named " + std::to_string(named) + " of " +
                                                std::to_string(messages->size()) + " messages from LIST");
  *has_uidl = true;
  return Status::OK();
}

Status Pop3Connection::Retrieve(uint32_t number, std::string* body) {
  SigpipeBlock no_sigpipe;
  body->clear();
  std::string what = "RETR " + std::to_string(number);
  if (stream_ == nullptr) return Refused(what + ": the session is closed");
  VM_RETURN_IF_ERROR(Send(what, what));
  bool ok = false;
  std::string text;
  VM_RETURN_IF_ERROR(ReadStatus(what, &ok, &text));
  if (!ok) return Refused(what + " refused: " + text);
  return ReadMessage(what, body);
}

Status Pop3Connection::Top(uint32_t number, std::string* header) {
  SigpipeBlock no_sigpipe;
  header->clear();
  std::string what = "TOP " + std::to_string(number) + " 0";
  if (stream_ == nullptr) return Refused(what + ": the session is closed");
  VM_RETURN_IF_ERROR(Send(what, what));
  bool ok = false;
  std::string text;
  VM_RETURN_IF_ERROR(ReadStatus(what, &ok, &text));
  if (!ok) return Status::Unsupported(url_.text + ": " + what + " refused: " + text);
  return ReadMessage(what, header);
}

Status Pop3Connection::ReadMessage(const std::string& what, std::string* body) {
  // Lines are kept byte for byte with their own line ends (and any NUL);
  // only the dot-stuffing of RFC 1939 §3 is undone.
  for (;;) {
    if (mailstream_read_line(stream_, line_) == nullptr || line_->len == 0 || line_->str[line_->len - 1] != '\n') {
      body->clear();
      return Dropped(what + " (message incomplete)");
    }
    const char* p = line_->str;
    size_t len = line_->len;
    if (p[0] == '.') {
      if ((len == 2 && p[1] == '\n') || (len == 3 && p[1] == '\r' && p[2] == '\n')) return Status::OK();
      ++p;
      --len;
    }
    body->append(p, len);
  }
}

void Pop3Connection::Close() {
  if (stream_ == nullptr) return;
  SigpipeBlock no_sigpipe;
  // QUIT moves the session to UPDATE; nothing was marked deleted, so
  // nothing is removed. Its answer does not matter any more.
  if (Send("QUIT", "QUIT").ok()) {
    std::string line;
    ReadLine(&line);
  }
  mailstream_close(stream_);
  stream_ = nullptr;
}

}  // namespace

Result<std::unique_ptr<Pop3Session>> OpenPop3(const SourceUrl& url, const ConnectOptions& options,
                                              const Credentials& credentials) {
  if (url.protocol != Protocol::kPop3) return Status::InvalidInput(url.text + ": not a POP3 URL");
  SigpipeBlock no_sigpipe;
  auto session = std::make_unique<Pop3Connection>(url, credentials.login,
                                                   options.timeout_seconds > 0 ? options.timeout_seconds : 60);
  Status connected = session->Connect(options);
  if (!connected.ok()) {
    session->Drop();
    return connected;
  }
  VM_RETURN_IF_ERROR(session->Login(credentials.password));
  return std::unique_ptr<Pop3Session>(std::move(session));
}

}  // namespace vmigrate::mailsource
