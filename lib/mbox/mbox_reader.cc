#include "mbox/mbox_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/errno_status.h"
#include "mbox/from_line.h"
#include "mbox/line_reader.h"

namespace vmigrate::mbox {
namespace {

// Headers the old server kept for itself and never showed a client
// (Dovecot: mbox-storage.c mbox_hide_headers; c-client: unix.c unix_parse).
bool Hidden(const std::string& lower_name, OldServer server) {
  if (lower_name == "status" || lower_name == "x-status" || lower_name == "x-keywords" ||
      lower_name == "x-uid" || lower_name == "x-imap" || lower_name == "x-imapbase")
    return true;
  return server == OldServer::kDovecot && lower_name == "content-length";
}

std::string Lower(const char* p, size_t n) {
  std::string s(p, n);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The header value without its line end and surrounding blanks.
std::string Trimmed(const char* p, size_t n) {
  size_t b = 0, e = n;
  while (b < e && (p[b] == ' ' || p[b] == '\t')) ++b;
  while (e > b && (p[e - 1] == '\n' || p[e - 1] == '\r' || p[e - 1] == ' ' || p[e - 1] == '\t')) --e;
  return std::string(p + b, e - b);
}

std::vector<std::string> Words(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

bool ParseUint(const std::string& s, std::uint64_t* v) {
  if (s.empty()) return false;
  std::uint64_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    r = r * 10 + static_cast<std::uint64_t>(c - '0');
    if (r > 0xffffffffffffULL) return false;
  }
  *v = r;
  return true;
}

const char* ServerName(OldServer s) { return s == OldServer::kDovecot ? "Dovecot" : "c-client"; }

class Scanner {
 public:
  Scanner(const std::string& path, const ScanOptions& options, int fd, std::int64_t file_size)
      : options_(options), fd_(fd), reader_(fd) {
    box_.path = path;
    box_.file_size = file_size;
  }

  Status Run();
  Mailbox& box() { return box_; }

 private:
  struct Pending {
    Message m;
    std::uint64_t seq = 0;          // 1 = first From_ of the file (X-IMAP/X-IMAPbase live there)
    std::int64_t seg_start = 0;
    bool in_header = true;
    bool hiding = false;            // inside a hidden header (continuation lines too)
    bool in_keywords = false;       // inside X-Keywords (continuation lines add keywords)
    std::uint64_t lines = 0;        // lines after the From_ line
    std::int64_t body_offset = -1;
    std::int64_t cl_end = -1;       // body_offset + Content-Length when that ends at a From_ line
    bool has_x_imap = false, saw_base = false;
    bool crlf = false, nul = false;
    std::int64_t bare_lf = 0;       // bare LFs in the included lines
    // The line before the current one, for the separator rules.
    bool prev_blank = false, prev_blank_body = false, prev_crlf = false, prev_counted_lf = false;
    std::int64_t prev_len = 0;
    std::vector<std::string> notes;
  };

  void Warn(const Pending& p, const std::string& what) {
    box_.warnings.push_back(box_.path + " message " + std::to_string(box_.messages.size() + 1) +
                            " (line " + std::to_string(p.m.line) + "): " + what);
  }
  void OnLine(const Line& line);
  void Start(const Line& line, const FromLine& from);
  void HeaderLine(const Line& line);
  void CheckContentLength();
  void Finish(std::int64_t next_from, bool at_eof);
  void ParseBase(const std::string& value, bool pseudo_header);
  bool ValidFromAt(std::int64_t pos);
  void ResolveDates();

  const ScanOptions& options_;
  int fd_;
  LineReader reader_;
  Mailbox box_;
  bool have_msg_ = false;
  Pending p_;
  std::uint64_t seq_ = 0;
  Status fatal_;
  bool last_newline_ = true;      // whether the line last read ended with '\n'
  std::uint64_t cl_valid_ = 0, quoted_ = 0, quoted_deeper_ = 0;
  std::vector<std::int64_t> zone_less_;  // indexes into messages whose date needs the zone
};

Status Scanner::Run() {
  Line line;
  std::int64_t end = 0;  // where reading stopped: more than fstat said if mail arrived
  while (reader_.Next(&line)) {
    OnLine(line);
    if (!fatal_.ok()) return fatal_;
    last_newline_ = line.has_newline;
    end = line.offset + line.length;
  }
  VM_RETURN_IF_ERROR(reader_.status().WithContext(box_.path));
  box_.file_size = end;
  if (have_msg_) Finish(end, true);
  ResolveDates();
  if (box_.messages.empty()) {
    box_.variant = "";
  } else if (cl_valid_ > 0) {
    box_.variant = quoted_ > 0 ? "mboxcl" : "mboxcl2";
  } else {
    box_.variant = quoted_deeper_ > 0 ? "mboxrd" : "mboxo";
  }
  return Status::OK();
}

void Scanner::OnLine(const Line& line) {
  bool from_candidate = line.StartsWith("From ", 5);
  if (from_candidate) {
    // Dovecot looks for "\nFrom " from the first header byte on, so the line
    // right after a From_ line is never a separator; c-client checks body lines only.
    bool may_split = !have_msg_ ||
                     (options_.old_server == OldServer::kDovecot ? p_.lines > 0 : !p_.in_header);
    if (have_msg_ && options_.old_server == OldServer::kDovecot && p_.cl_end >= 0 &&
        line.offset <= p_.cl_end)
      may_split = false;
    FromLine from;
    if (may_split && ParseFromLine(line.head, line.head_size, options_.old_server, &from)) {
      if (have_msg_) {
        if (!p_.prev_blank && p_.lines > 0)
          p_.notes.push_back("no blank line before the next From_ line (line " +
                             std::to_string(reader_.line_number()) + "): split there as " +
                             ServerName(options_.old_server) + " does");
        if (p_.m.has_content_length && p_.body_offset >= 0 &&
            line.offset < p_.body_offset + p_.m.content_length)
          p_.notes.push_back("split at the From_ line on line " +
                             std::to_string(reader_.line_number()) + ", inside Content-Length " +
                             std::to_string(p_.m.content_length) +
                             " (as c-client does; Dovecot keeps it one message)");
        Finish(line.offset, false);
      }
      Start(line, from);
      return;
    }
    if (have_msg_ && !p_.in_header && p_.prev_blank_body) {
      // A body line that looks like a separator but is not one: say why.
      if (may_split || !ParseFromLine(line.head, line.head_size, options_.old_server, &from))
        p_.notes.push_back("line " + std::to_string(reader_.line_number()) +
                           " starts with \"From \" but is no From_ line for " +
                           ServerName(options_.old_server) + ": kept in the body");
      else
        p_.notes.push_back("line " + std::to_string(reader_.line_number()) +
                           " is a From_ line inside the Content-Length: kept in the body "
                           "(as Dovecot does)");
    }
  }
  if (!have_msg_) {
    // Before the first From_ line: c-client skips blank lines there; anything
    // else means the file is not an mbox (Dovecot refuses it too).
    if (line.Blank()) {
      box_.warnings.push_back(box_.path + ": blank line " + std::to_string(reader_.line_number()) +
                              " before the first From_ line skipped");
      return;
    }
    fatal_ = Status::Corrupt(box_.path + ": not an mbox file: line " +
                             std::to_string(reader_.line_number()) + " is not a From_ line");
    return;
  }
  ++p_.lines;
  if (line.crlf) p_.crlf = true;
  if (line.has_nul) p_.nul = true;
  bool blank = line.Blank();
  if (p_.in_header) {
    if (blank) {
      p_.in_header = false;
      p_.hiding = p_.in_keywords = false;
      p_.body_offset = line.offset + line.length;
      CheckContentLength();
    } else {
      HeaderLine(line);
    }
  } else if (line.StartsWith(">", 1)) {
    size_t i = 0;
    while (i < line.head_size && line.head[i] == '>') ++i;
    if (line.head_size - i >= 5 && std::memcmp(line.head + i, "From ", 5) == 0) {
      ++quoted_;
      if (i > 1) ++quoted_deeper_;
    }
  }
  bool counted = !p_.hiding && line.has_newline && !line.crlf;
  if (counted) ++p_.bare_lf;
  if (p_.hiding) p_.seg_start = line.offset + line.length;
  p_.prev_blank_body = blank && !p_.in_header && p_.body_offset != line.offset + line.length;
  // The blank line ending the header is not a body line for c-client's rule.
  p_.prev_blank = blank;
  p_.prev_crlf = line.crlf;
  p_.prev_counted_lf = counted;
  p_.prev_len = line.length;
}

void Scanner::Start(const Line& line, const FromLine& from) {
  p_ = Pending();
  p_.seq = ++seq_;
  p_.m.line = reader_.line_number();
  p_.m.from_offset = line.offset;
  p_.m.envelope_sender = from.sender;
  p_.m.date_had_zone = from.has_zone;
  p_.m.internal_date = from.naive_utc - (from.has_zone ? from.zone_minutes * 60 : 0);
  p_.m.recent = true;  // until a Status header says 'O'
  p_.seg_start = line.offset + line.length;
  have_msg_ = true;
}

void Scanner::HeaderLine(const Line& line) {
  const char* h = line.head;
  size_t n = line.head_size;
  if (h[0] == ' ' || h[0] == '\t') {  // continuation of the header above
    if (p_.in_keywords)
      for (auto& w : Words(Trimmed(h, n))) p_.m.keywords.push_back(w);
    return;
  }
  p_.hiding = p_.in_keywords = false;
  const char* colon = static_cast<const char*>(std::memchr(h, ':', n));
  if (colon == nullptr) return;
  size_t name_len = static_cast<size_t>(colon - h);
  while (name_len > 0 && (h[name_len - 1] == ' ' || h[name_len - 1] == '\t')) --name_len;
  std::string name = Lower(h, name_len);
  std::string value = Trimmed(colon + 1, n - static_cast<size_t>(colon + 1 - h));
  bool uw = options_.old_server == OldServer::kUw;
  if (Hidden(name, options_.old_server)) {
    if (line.offset > p_.seg_start)
      p_.m.segments.push_back(Segment{p_.seg_start, line.offset - p_.seg_start});
    p_.hiding = true;  // OnLine moves seg_start past this line and its continuations
  }
  Message& m = p_.m;
  if (name == "status" || name == "x-status") {
    // Dovecot reads R/O from Status and A/F/T/D from X-Status (mbox-sync-parse.c);
    // c-client runs both headers through one switch (unix_parse).
    bool status = name == "status";
    for (char c : value) {
      if ((status || uw) && c == 'R') m.seen = true;
      if ((status || uw) && c == 'O') m.recent = false;
      if (!status || uw) {
        if (c == 'A') m.answered = true;
        if (c == 'F') m.flagged = true;
        if (c == 'T') m.draft = true;
        if (c == 'D') m.deleted = true;
      }
    }
  } else if (name == "x-keywords") {
    p_.in_keywords = true;
    for (auto& w : Words(value)) m.keywords.push_back(w);
  } else if (name == "x-uid") {
    if (m.has_x_uid) {
      m.x_uid_duplicate = true;
      return;
    }
    size_t i = 0;
    std::uint64_t v = 0;
    while (i < value.size() && value[i] >= '0' && value[i] <= '9' && v <= 0xffffffffULL)
      v = v * 10 + static_cast<std::uint64_t>(value[i++] - '0');
    m.has_x_uid = true;
    m.x_uid = v > 0xffffffffULL ? 0 : static_cast<std::uint32_t>(v);
    m.x_uid_garbage = i != value.size() || v > 0xffffffffULL;
    if (p_.seq == 1 && !p_.saw_base) m.x_uid_before_base = true;
  } else if (name == "x-imap" || name == "x-imapbase") {
    if (p_.seq == 1) ParseBase(value, name == "x-imap");
  } else if (name == "content-length") {
    std::uint64_t v = 0;
    if (!m.has_content_length && ParseUint(value, &v)) {
      m.has_content_length = true;
      m.content_length = static_cast<std::int64_t>(v);
    }
  } else if (name == "x-uidl") {
    if (m.x_uidl.empty()) m.x_uidl = value;
  }
}

// "X-IMAPbase: <uidvalidity> <uidlast> [keywords]" (X-IMAP: the same, in the pseudo message).
void Scanner::ParseBase(const std::string& value, bool pseudo_header) {
  std::vector<std::string> w = Words(value);
  std::uint64_t validity = 0, last = 0;
  if (w.size() < 2 || !ParseUint(w[0], &validity) || !ParseUint(w[1], &last) || validity == 0 ||
      validity > 0xffffffffULL || last > 0xffffffffULL) {
    box_.warnings.push_back(box_.path + " (line " + std::to_string(reader_.line_number()) +
                            "): " + (pseudo_header ? "X-IMAP" : "X-IMAPbase") + " value \"" +
                            value + "\" not understood: ignored");
    return;
  }
  if (box_.has_uid_validity) return;
  box_.has_uid_validity = true;
  box_.uid_validity = static_cast<std::uint32_t>(validity);
  box_.uid_last = static_cast<std::uint32_t>(last);
  box_.keywords.assign(w.begin() + 2, w.end());
  p_.saw_base = true;
  if (pseudo_header) p_.has_x_imap = true;
}

// Dovecot's istream_raw_mbox_is_valid_from: the Content-Length is right when
// the next message starts exactly there, or only the final newline follows.
bool Scanner::ValidFromAt(std::int64_t pos) {
  std::int64_t remaining = box_.file_size - pos;
  char buf[1024];
  size_t want = static_cast<size_t>(std::min<std::int64_t>(remaining, sizeof(buf)));
  if (remaining <= 0) return false;
  ssize_t got;
  do {
    got = pread(fd_, buf, want, pos);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return false;
  size_t size = static_cast<size_t>(got);
  if ((remaining == 1 && buf[0] == '\n') || (remaining == 2 && buf[0] == '\r' && buf[1] == '\n'))
    return true;
  size_t skip;
  if (size > 31 && std::memcmp(buf, "\nFrom ", 6) == 0) {
    skip = 1;
  } else if (size > 32 && std::memcmp(buf, "\r\nFrom ", 7) == 0) {
    skip = 2;
  } else {
    return false;
  }
  const char* line = buf + skip;
  const char* nl = static_cast<const char*>(std::memchr(line, '\n', size - skip));
  size_t len = nl != nullptr ? static_cast<size_t>(nl - line) : size - skip;
  FromLine from;
  return ParseFromLine(line, len, OldServer::kDovecot, &from);
}

void Scanner::CheckContentLength() {
  if (!p_.m.has_content_length) return;
  std::int64_t pos = p_.body_offset + p_.m.content_length;
  bool dovecot = options_.old_server == OldServer::kDovecot;
  if (pos > box_.file_size) {
    p_.notes.push_back("Content-Length " + std::to_string(p_.m.content_length) +
                       " runs past the end of the file (truncated?)" +
                       (dovecot ? ": ignored, the message ends at the next From_ line" : ""));
    return;
  }
  if (ValidFromAt(pos)) {
    p_.cl_end = pos;
    ++cl_valid_;
  } else if (dovecot) {
    p_.notes.push_back("Content-Length " + std::to_string(p_.m.content_length) +
                       " does not end where a From_ line starts: ignored (as Dovecot does)");
  }
}

void Scanner::Finish(std::int64_t next_from, bool at_eof) {
  Pending& p = p_;
  std::int64_t end;
  if (p.lines == 0) {
    end = p.seg_start;
  } else if (options_.old_server == OldServer::kDovecot) {
    // The "\n" (or "\r\n") before the next From_ line, or the file's final
    // newline, belongs to the separator (istream-raw-mbox.c).
    end = at_eof ? box_.file_size : next_from;
    if (!at_eof || last_newline_) {
      end -= p.prev_crlf ? 2 : 1;
      if (p.prev_counted_lf) --p.bare_lf;
    }
  } else {
    // c-client keeps every line and drops a last blank body line (unix_parse, k == 2).
    end = at_eof ? box_.file_size : next_from;
    if (p.prev_blank_body) {
      end -= p.prev_len;
      if (p.prev_counted_lf) --p.bare_lf;
    }
  }
  if (at_eof && !last_newline_ && p.lines > 0)
    p.notes.push_back(options_.old_server == OldServer::kDovecot
                          ? "the file ends without a final newline (truncated?)"
                          : "the file ends without a final newline (truncated?); c-client "
                            "showed one more line end than the copied bytes have");
  if (end > p.seg_start) p.m.segments.push_back(Segment{p.seg_start, end - p.seg_start});
  p.m.size = 0;
  for (const Segment& s : p.m.segments) p.m.size += s.length;
  p.m.crlf_size = p.m.size + std::max<std::int64_t>(p.bare_lf, 0);
  have_msg_ = false;
  if (p.seq == 1 && p.has_x_imap) {  // the folder's pseudo message: metadata only
    box_.had_pseudo = true;
    return;
  }
  if (p.crlf) Warn(p, "CRLF line ends (copied as they are)");
  if (p.nul) Warn(p, "NUL bytes in the message (copied as they are)");
  for (const std::string& note : p.notes) Warn(p, note);
  if (!p.m.date_had_zone) zone_less_.push_back(static_cast<std::int64_t>(box_.messages.size()));
  box_.messages.push_back(std::move(p.m));
}

void Scanner::ResolveDates() {
  if (zone_less_.empty()) return;
  ZoneScope zone(options_.time_zone);
  if (options_.old_server == OldServer::kDovecot) {
    // Dovecot: mktime() in the host zone, with the DST offset of that date.
    for (std::int64_t i : zone_less_) {
      Message& m = box_.messages[static_cast<size_t>(i)];
      m.internal_date = zone.LocalToUtc(m.internal_date);
    }
    return;
  }
  // c-client: the zone offset in force when it runs ("LCL"), for every date.
  std::int64_t now = options_.now != 0 ? options_.now : static_cast<std::int64_t>(time(nullptr));
  int offset = zone.OffsetAt(now);
  for (std::int64_t i : zone_less_) box_.messages[static_cast<size_t>(i)].internal_date -= offset;
}

}  // namespace

Result<Mailbox> ScanMbox(const std::string& path, const ScanOptions& options) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FromErrno(path, errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    Status s = FromErrno(path, errno);
    close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Status::InvalidInput(path + ": not a regular file");
  }
  Scanner scanner(path, options, fd, static_cast<std::int64_t>(st.st_size));
  Status s = scanner.Run();
  close(fd);
  if (!s.ok()) return s;
  return std::move(scanner.box());
}

Status CopyMessage(int fd, const Message& m,
                   const std::function<Status(const char*, size_t)>& write) {
  std::vector<char> buf(1 << 16);
  for (const Segment& seg : m.segments) {
    std::int64_t done = 0;
    while (done < seg.length) {
      size_t want = static_cast<size_t>(std::min<std::int64_t>(seg.length - done,
                                                               static_cast<std::int64_t>(buf.size())));
      ssize_t got = pread(fd, buf.data(), want, seg.offset + done);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0)
        return FromErrno("read at offset " + std::to_string(seg.offset + done), errno);
      if (got == 0)
        return Status::Corrupt("mbox ended at offset " + std::to_string(seg.offset + done) +
                               " inside the message from line " + std::to_string(m.line) +
                               " (changed while copying?)");
      VM_RETURN_IF_ERROR(write(buf.data(), static_cast<size_t>(got)));
      done += got;
    }
  }
  return Status::OK();
}

}  // namespace vmigrate::mbox
