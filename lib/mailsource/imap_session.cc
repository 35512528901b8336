// OpenImap: IMAP4rev1 (RFC 3501) through libetpan's mailimap: LOGIN,
// LIST/LSUB, EXAMINE, UID FETCH. The connection (TCP, TLS, certificate
// check) is transport.h's; libetpan parses the responses.
#include <libetpan/libetpan.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "mailsource/mail_source.h"
#include "mailsource/transport.h"
#include "unixhost/mail_folders.h"

namespace vmigrate::mailsource {
namespace {

// Seconds since the epoch of an INTERNALDATE ("dd-Mon-yyyy hh:mm:ss +zzzz";
// libetpan gives the zone as the signed decimal number hhmm).
int64_t EpochOf(const mailimap_date_time& d) {
  tm t{};
  t.tm_year = d.dt_year - 1900;
  t.tm_mon = d.dt_month - 1;
  t.tm_mday = d.dt_day;
  t.tm_hour = d.dt_hour;
  t.tm_min = d.dt_min;
  t.tm_sec = d.dt_sec;
  int zone = std::abs(d.dt_zone);
  int64_t offset = (zone / 100) * 3600 + (zone % 100) * 60;
  if (d.dt_zone < 0) offset = -offset;
  return static_cast<int64_t>(timegm(&t)) - offset;
}

std::string FlagText(const mailimap_flag& f) {
  switch (f.fl_type) {
    case MAILIMAP_FLAG_ANSWERED: return "\\Answered";
    case MAILIMAP_FLAG_FLAGGED: return "\\Flagged";
    case MAILIMAP_FLAG_DELETED: return "\\Deleted";
    case MAILIMAP_FLAG_SEEN: return "\\Seen";
    case MAILIMAP_FLAG_DRAFT: return "\\Draft";
    case MAILIMAP_FLAG_KEYWORD: return f.fl_data.fl_keyword ? f.fl_data.fl_keyword : "";
    case MAILIMAP_FLAG_EXTENSION: return f.fl_data.fl_extension ? std::string("\\") + f.fl_data.fl_extension : "";
  }
  return "";
}

// What one FETCH response carried.
struct Fetched {
  bool has_uid = false, has_date = false, has_size = false;
  ImapMessage message;
};

Fetched ReadAttributes(const mailimap_msg_att* att) {
  Fetched out;
  for (clistiter* it = clist_begin(att->att_list); it; it = clist_next(it)) {
    auto* item = static_cast<mailimap_msg_att_item*>(clist_content(it));
    if (item->att_type == MAILIMAP_MSG_ATT_ITEM_DYNAMIC && item->att_data.att_dyn &&
        item->att_data.att_dyn->att_list) {
      for (clistiter* f = clist_begin(item->att_data.att_dyn->att_list); f; f = clist_next(f)) {
        auto* flag = static_cast<mailimap_flag_fetch*>(clist_content(f));
        // \Recent is session state (RFC 3501 §2.3.2), not the message's.
        if (flag->fl_type != MAILIMAP_FLAG_FETCH_OTHER || !flag->fl_flag) continue;
        std::string text = FlagText(*flag->fl_flag);
        if (!text.empty()) out.message.flags.push_back(text);
      }
    } else if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC && item->att_data.att_static) {
      const mailimap_msg_att_static* s = item->att_data.att_static;
      if (s->att_type == MAILIMAP_MSG_ATT_UID) {
        out.has_uid = true;
        out.message.uid = s->att_data.att_uid;
      } else if (s->att_type == MAILIMAP_MSG_ATT_INTERNALDATE && s->att_data.att_internal_date) {
        out.has_date = true;
        out.message.internaldate = EpochOf(*s->att_data.att_internal_date);
      } else if (s->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE) {
        out.has_size = true;
        out.message.size = s->att_data.att_rfc822_size;
      }
    }
  }
  return out;
}

bool IsNonexistent(const mailimap_mbx_list_flags* flags) {
  if (!flags) return false;
  if (flags->mbf_type == MAILIMAP_MBX_LIST_FLAGS_SFLAG && flags->mbf_sflag == MAILIMAP_MBX_LIST_SFLAG_NOSELECT)
    return true;
  for (clistiter* it = flags->mbf_oflags ? clist_begin(flags->mbf_oflags) : nullptr; it; it = clist_next(it)) {
    auto* o = static_cast<mailimap_mbx_list_oflag*>(clist_content(it));
    if (o->of_type == MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT && o->of_flag_ext &&
        (strcasecmp(o->of_flag_ext, "NonExistent") == 0 || strcasecmp(o->of_flag_ext, "Noselect") == 0))
      return true;
  }
  return false;
}

// Where FetchBody's literal goes (mailimap_set_msg_body_handler): straight
// into the caller's string, so a message is held once, and no more than its
// announced size (a server sending more is cut off, not buffered).
struct BodySink {
  std::string* body;
  uint64_t limit;
  bool overflow = false;
};

bool CollectBody(int att_type, mailimap_msg_att_body_section*, const char* bytes, size_t length, void* context) {
  auto* sink = static_cast<BodySink*>(context);
  if (att_type != MAILIMAP_MSG_ATT_BODY_SECTION) return true;
  if (sink->body->size() + length > sink->limit) {
    sink->overflow = true;
    return false;
  }
  sink->body->append(bytes, length);
  return true;
}

class ImapConnection : public ImapSession {
 public:
  ImapConnection(SourceUrl url, std::string login, int timeout)
      : url_(std::move(url)), login_(std::move(login)), timeout_(timeout), imap_(mailimap_new(0, nullptr)) {
    mailimap_set_timeout(imap_, timeout_);
  }
  ~ImapConnection() override { Close(); }

  Status Connect(const ConnectOptions& options);
  Status Login(const std::string& password);
  // Closes without LOGOUT: a server that failed the certificate check or
  // dropped out of step is told nothing more.
  void Drop() {
    broken_ = true;
    Close();
  }

  Status ListFolders(std::vector<ImapFolder>* folders) override;
  Status Examine(const std::string& name, FolderStatus* status) override;
  Status FetchMessages(uint32_t first_uid, std::vector<ImapMessage>* messages) override;
  Status FetchBody(uint32_t uid, uint64_t expected_size, std::string* body) override;
  Status FetchHeaders(const std::vector<uint32_t>& uids, std::map<uint32_t, std::string>* headers) override;
  void Close() override;

 private:
  std::string Prefix() const { return url_.text + ": " + (logged_in_ ? login_ + ": " : ""); }
  // The Status for libetpan's result `r` of `what`.
  Status Failed(const std::string& what, int r);
  bool HasCapability(const char* name) const;
  Status StartTls(const ConnectOptions& options);

  SourceUrl url_;
  std::string login_;
  int timeout_;
  mailimap* imap_;
  bool logged_in_ = false;
  bool broken_ = false;  // the stream is out of step: every later call fails
  std::string examined_;
  uint32_t exists_ = 0;
};

Status ImapConnection::Failed(const std::string& what, int r) {
  // After a dropped connection or a response we could not parse, the
  // stream is out of step; nothing more is sent on it (not even LOGOUT).
  if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE) broken_ = true;
  const char* said = imap_ && imap_->imap_response ? imap_->imap_response : "";
  switch (r) {
    case MAILIMAP_ERROR_STREAM:
      return Status::PeerRefused(Prefix() + what + ": connection dropped or timed out (" + std::to_string(timeout_) +
                                 " s)");
    case MAILIMAP_ERROR_PARSE:
      return Status::PeerRefused(Prefix() + what + ": answer out of protocol");
    case MAILIMAP_ERROR_MEMORY:
      return Status::PeerRefused(Prefix() + what + ": out of memory");
    default:
      return Status::PeerRefused(Prefix() + what + " refused: " + (*said ? said : "no reason given"));
  }
}

bool ImapConnection::HasCapability(const char* name) const {
  const mailimap_connection_info* info = imap_->imap_connection_info;
  if (!info || !info->imap_capability || !info->imap_capability->cap_list) return false;
  for (clistiter* it = clist_begin(info->imap_capability->cap_list); it; it = clist_next(it)) {
    auto* cap = static_cast<struct mailimap_capability*>(clist_content(it));
    if (cap->cap_type == MAILIMAP_CAPABILITY_NAME && cap->cap_data.cap_name &&
        strcasecmp(cap->cap_data.cap_name, name) == 0)
      return true;
  }
  return false;
}

Status ImapConnection::StartTls(const ConnectOptions& options) {
  int r = mailimap_socket_starttls_with_callback(imap_, SetServerNameCallback, ServerNameFor(url_));
  if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_SSL)
    return Status::PeerRefused(url_.text + ": TLS handshake failed after STARTTLS");
  // Debian's libetpan (CVE-2020-15953 fix) refuses bytes that follow the
  // tagged OK in the clear: they would be read as if they came through TLS.
  if (r != MAILIMAP_NO_ERROR && imap_->imap_stream && imap_->imap_stream->read_buffer_len != 0)
    return Status::PeerRefused(url_.text + ": STARTTLS: the server sent data after its OK (refused)");
  if (r != MAILIMAP_NO_ERROR) return Failed("STARTTLS", r);
  VM_RETURN_IF_ERROR(CheckPeer(imap_->imap_stream, url_, options));
  // Capabilities from before TLS must be forgotten (RFC 3501 §6.2.1).
  mailimap_capability_data* caps = nullptr;
  r = mailimap_capability(imap_, &caps);
  if (r != MAILIMAP_NO_ERROR) return Failed("CAPABILITY", r);
  mailimap_capability_data_free(caps);
  return Status::OK();
}

Status ImapConnection::Connect(const ConnectOptions& options) {
  if (!imap_) return Status::PeerRefused(url_.text + ": out of memory");
  Result<int> fd = ConnectTcp(url_, timeout_);
  if (!fd.ok()) return fd.status();
  mailstream* stream = nullptr;
  if (url_.implicit_tls) {
    stream = OpenTlsStream(*fd, url_.host, timeout_);
    if (stream == nullptr) {
      close(*fd);
      return Status::PeerRefused(url_.text + ": TLS handshake failed");
    }
    Status peer = CheckPeer(stream, url_, options);
    if (!peer.ok()) {
      mailstream_close(stream);
      return peer;
    }
  } else {
    stream = OpenPlainStream(*fd, timeout_);
    if (stream == nullptr) return Status::PeerRefused(url_.text + ": cannot set up the connection");
  }
  int r = mailimap_connect(imap_, stream);  // the session owns the stream from here
  if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED && r != MAILIMAP_NO_ERROR_AUTHENTICATED)
    return Failed("greeting", r);
  if (r == MAILIMAP_NO_ERROR_AUTHENTICATED && !url_.implicit_tls && options.starttls != StartTls::kNever)
    return Status::PeerRefused(url_.text + ": the server pre-authenticated a plain connection (refused)");
  mailimap_capability_data* caps = nullptr;
  r = mailimap_capability(imap_, &caps);
  if (r != MAILIMAP_NO_ERROR) return Failed("CAPABILITY", r);
  mailimap_capability_data_free(caps);
  if (url_.implicit_tls || options.starttls == StartTls::kNever) return Status::OK();
  if (HasCapability("STARTTLS")) return StartTls(options);
  if (options.starttls == StartTls::kAlways)
    return Status::PeerRefused(url_.text + ": the server does not offer STARTTLS (--starttls always)");
  return Status::OK();
}

Status ImapConnection::Login(const std::string& password) {
  if (HasLineBreak(login_) || HasLineBreak(password))
    return Status::InvalidInput(url_.text + ": the login or password holds a line break");
  if (imap_->imap_state == MAILIMAP_STATE_AUTHENTICATED) {  // PREAUTH over TLS
    logged_in_ = true;
    return Status::OK();
  }
  int r;
  if (HasCapability("LOGINDISABLED")) {
    r = mailimap_authenticate(imap_, "PLAIN", url_.host.c_str(), nullptr, nullptr, login_.c_str(), login_.c_str(),
                              password.c_str(), nullptr);
  } else {
    r = mailimap_login(imap_, login_.c_str(), password.c_str());
  }
  if (r == MAILIMAP_ERROR_LOGIN || r == MAILIMAP_ERROR_SASL) {
    const char* said = imap_->imap_response ? imap_->imap_response : "";
    return Status::PeerRefused(url_.text + ": login refused for " + login_ + ": " + (*said ? said : "no reason given"));
  }
  if (r != MAILIMAP_NO_ERROR) return Failed("LOGIN " + login_, r);
  logged_in_ = true;
  return Status::OK();
}

Status ImapConnection::ListFolders(std::vector<ImapFolder>* folders) {
  folders->clear();
  if (broken_ || !imap_) return Status::PeerRefused(Prefix() + "LIST: the session is closed");
  SigpipeBlock no_sigpipe;
  clist* list = nullptr;
  int r = mailimap_list(imap_, "", "*", &list);
  if (r != MAILIMAP_NO_ERROR) return Failed("LIST", r);
  for (clistiter* it = list ? clist_begin(list) : nullptr; it; it = clist_next(it)) {
    auto* mb = static_cast<mailimap_mailbox_list*>(clist_content(it));
    ImapFolder f;
    f.name = mb->mb_name ? mb->mb_name : "";
    f.delimiter = mb->mb_delimiter;
    f.noselect = IsNonexistent(mb->mb_flag);
    folders->push_back(f);
  }
  if (list) mailimap_list_result_free(list);
  for (const auto& f : *folders)
    if (!unixhost::IsModifiedUtf7(f.name))
      return Status::InvalidInput(Prefix() + "folder '" + f.name.substr(0, 200) +
                                  "' from LIST is not valid modified UTF-7 (RFC 3501 §5.1.3)");
  clist* lsub = nullptr;
  r = mailimap_lsub(imap_, "", "*", &lsub);
  if (r != MAILIMAP_NO_ERROR) return Failed("LSUB", r);
  std::set<std::string> subscribed;
  for (clistiter* it = lsub ? clist_begin(lsub) : nullptr; it; it = clist_next(it)) {
    auto* mb = static_cast<mailimap_mailbox_list*>(clist_content(it));
    if (mb->mb_name) subscribed.insert(mb->mb_name);
  }
  if (lsub) mailimap_list_result_free(lsub);
  // A subscription to a folder LIST does not show (deleted since) names
  // nothing to pull, so only listed folders carry the mark.
  for (auto& f : *folders) f.subscribed = subscribed.count(f.name) > 0;
  return Status::OK();
}

Status ImapConnection::Examine(const std::string& name, FolderStatus* status) {
  *status = FolderStatus{};
  examined_.clear();
  if (broken_ || !imap_) return Status::PeerRefused(Prefix() + "EXAMINE: the session is closed");
  SigpipeBlock no_sigpipe;
  int r = mailimap_examine(imap_, name.c_str());
  if (r != MAILIMAP_NO_ERROR) return Failed("EXAMINE " + name, r);
  const mailimap_selection_info* sel = imap_->imap_selection_info;
  if (!sel || sel->sel_uidvalidity == 0)
    return Status::PeerRefused(Prefix() + "EXAMINE " + name + ": the server sent no UIDVALIDITY");
  status->uidvalidity = sel->sel_uidvalidity;
  status->uidnext = sel->sel_uidnext;
  status->exists = sel->sel_has_exists ? sel->sel_exists : 0;
  examined_ = name;
  exists_ = status->exists;
  return Status::OK();
}

Status ImapConnection::FetchMessages(uint32_t first_uid, std::vector<ImapMessage>* messages) {
  messages->clear();
  std::string what = "folder " + examined_ + ": UID FETCH " + std::to_string(first_uid) + ":*";
  if (broken_ || !imap_) return Status::PeerRefused(Prefix() + what + ": the session is closed");
  if (examined_.empty()) return Status::PeerRefused(Prefix() + "UID FETCH: no folder examined");
  if (exists_ == 0) return Status::OK();
  SigpipeBlock no_sigpipe;
  mailimap_fetch_type* type = mailimap_fetch_type_new_fetch_att_list_empty();
  mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_uid());
  mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_flags());
  mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_internaldate());
  mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_rfc822_size());
  mailimap_set* set = mailimap_set_new_interval(first_uid == 0 ? 1 : first_uid, 0);  // 0 = "*"
  clist* result = nullptr;
  int r = mailimap_uid_fetch(imap_, set, type, &result);
  mailimap_set_free(set);
  mailimap_fetch_type_free(type);
  if (r != MAILIMAP_NO_ERROR) return Failed(what, r);
  std::map<uint32_t, Fetched> by_uid;
  for (clistiter* it = result ? clist_begin(result) : nullptr; it; it = clist_next(it)) {
    Fetched f = ReadAttributes(static_cast<mailimap_msg_att*>(clist_content(it)));
    // "n:*" names the last message even when its UID is below n (RFC 3501
    // §6.4.8); an unsolicited FETCH without UID is not ours.
    if (!f.has_uid || f.message.uid < first_uid) continue;
    Fetched& slot = by_uid[f.message.uid];
    if (!slot.has_size || !slot.has_date) slot = f;
  }
  if (result) mailimap_fetch_list_free(result);
  for (auto& [uid, f] : by_uid) {
    if (!f.has_size || !f.has_date)
      return Status::PeerRefused(Prefix() + what + ": UID " + std::to_string(uid) +
                                 " came without INTERNALDATE or RFC822.SIZE");
    messages->push_back(std::move(f.message));
  }
  return Status::OK();
}

Status ImapConnection::FetchBody(uint32_t uid, uint64_t expected_size, std::string* body) {
  body->clear();
  std::string what = "folder " + examined_ + ": UID " + std::to_string(uid);
  if (broken_ || !imap_) return Status::PeerRefused(Prefix() + what + ": the session is closed");
  if (examined_.empty()) return Status::PeerRefused(Prefix() + "UID FETCH: no folder examined");
  SigpipeBlock no_sigpipe;
  body->reserve(expected_size);
  BodySink sink{body, expected_size};
  mailimap_set_msg_body_handler(imap_, CollectBody, &sink);
  mailimap_fetch_type* type = mailimap_fetch_type_new_fetch_att_list_empty();
  mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_uid());
  mailimap_fetch_type_new_fetch_att_list_add(type,
                                             mailimap_fetch_att_new_body_peek_section(mailimap_section_new(nullptr)));
  mailimap_set* set = mailimap_set_new_single(uid);
  clist* result = nullptr;
  int r = mailimap_uid_fetch(imap_, set, type, &result);
  mailimap_set_msg_body_handler(imap_, nullptr, nullptr);
  mailimap_set_free(set);
  mailimap_fetch_type_free(type);
  if (sink.overflow) {
    // The rest of the literal is still on the wire: this session is done.
    broken_ = true;
    body->clear();
    return Status::Corrupt(Prefix() + what + ": the server sent more than the " + std::to_string(expected_size) +
                           " bytes RFC822.SIZE announced");
  }
  if (r != MAILIMAP_NO_ERROR) {
    body->clear();
    return Failed(what + " BODY.PEEK[]", r);
  }
  bool found = false;
  for (clistiter* it = result ? clist_begin(result) : nullptr; it; it = clist_next(it))
    if (ReadAttributes(static_cast<mailimap_msg_att*>(clist_content(it))).message.uid == uid) found = true;
  if (result) mailimap_fetch_list_free(result);
  if (!found) {
    body->clear();
    return Status::NotFound(Prefix() + what + ": no longer on the server (expunged meanwhile)");
  }
  if (body->size() != expected_size) {
    std::string got = std::to_string(body->size());
    body->clear();
    return Status::Corrupt(Prefix() + what + ": the server sent " + got + " bytes, RFC822.SIZE announced " +
                           std::to_string(expected_size));
  }
  return Status::OK();
}

Status ImapConnection::FetchHeaders(const std::vector<uint32_t>& uids, std::map<uint32_t, std::string>* headers) {
  headers->clear();
  std::string what = "folder " + examined_ + ": UID FETCH (BODY.PEEK[HEADER])";
  if (broken_ || !imap_) return Status::PeerRefused(Prefix() + what + ": the session is closed");
  if (examined_.empty()) return Status::PeerRefused(Prefix() + "UID FETCH: no folder examined");
  if (uids.empty()) return Status::OK();
  SigpipeBlock no_sigpipe;
  mailimap_fetch_type* type = mailimap_fetch_type_new_fetch_att_list_empty();
  mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_uid());
  mailimap_fetch_type_new_fetch_att_list_add(
      type, mailimap_fetch_att_new_body_peek_section(mailimap_section_new_header()));
  mailimap_set* set = mailimap_set_new_empty();
  for (uint32_t uid : uids) mailimap_set_add_single(set, uid);
  clist* result = nullptr;
  int r = mailimap_uid_fetch(imap_, set, type, &result);
  mailimap_set_free(set);
  mailimap_fetch_type_free(type);
  if (r != MAILIMAP_NO_ERROR) return Failed(what, r);
  for (clistiter* it = result ? clist_begin(result) : nullptr; it; it = clist_next(it)) {
    auto* att = static_cast<mailimap_msg_att*>(clist_content(it));
    uint32_t uid = 0;
    const char* data = nullptr;
    size_t length = 0;
    for (clistiter* i = clist_begin(att->att_list); i; i = clist_next(i)) {
      auto* item = static_cast<mailimap_msg_att_item*>(clist_content(i));
      if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC || !item->att_data.att_static) continue;
      const mailimap_msg_att_static* st = item->att_data.att_static;
      if (st->att_type == MAILIMAP_MSG_ATT_UID) {
        uid = st->att_data.att_uid;
      } else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION && st->att_data.att_body_section &&
                 st->att_data.att_body_section->sec_body_part) {
        data = st->att_data.att_body_section->sec_body_part;
        length = st->att_data.att_body_section->sec_length;
      }
    }
    // An unsolicited FETCH (flags changed by another client) has no header.
    if (uid != 0 && data != nullptr) (*headers)[uid].assign(data, length);
  }
  if (result) mailimap_fetch_list_free(result);
  return Status::OK();
}

void ImapConnection::Close() {
  if (!imap_) return;
  SigpipeBlock no_sigpipe;
  if (!broken_ && imap_->imap_stream) mailimap_logout(imap_);
  mailimap_free(imap_);
  imap_ = nullptr;
}

}  // namespace

Result<std::unique_ptr<ImapSession>> OpenImap(const SourceUrl& url, const ConnectOptions& options,
                                              const Credentials& credentials) {
  if (url.protocol != Protocol::kImap) return Status::InvalidInput(url.text + ": not an IMAP URL");
  SigpipeBlock no_sigpipe;
  auto session = std::make_unique<ImapConnection>(url, credentials.login,
                                                   options.timeout_seconds > 0 ? options.timeout_seconds : 60);
  Status connected = session->Connect(options);
  if (!connected.ok()) {
    session->Drop();
    return connected;
  }
  VM_RETURN_IF_ERROR(session->Login(credentials.password));
  return std::unique_ptr<ImapSession>(std::move(session));
}

}  // namespace vmigrate::mailsource
