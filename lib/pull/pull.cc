#include "pull/pull.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>

#include "core/errno_status.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "mbox/pop3_uidl.h"
#include "pull/pulled_folder.h"
#include "qmail/domains.h"
#include "unixhost/mail_folders.h"
#include "vpopmail/add_user.h"
#include "vpopmail/password.h"
#include "vpopmail/user_store.h"

namespace vmigrate::pull {
namespace {

// A batch is made durable with one flush: at most this many messages or bytes.
constexpr size_t kBatchMessages = 256;
constexpr uint64_t kBatchBytes = 32u << 20;

std::string ThisHost() {
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == 0) return "localhost";
  std::string h = name;
  // A Maildir base name must not hold '/' or ':' (Maildir spec).
  std::replace(h.begin(), h.end(), '/', '_');
  std::replace(h.begin(), h.end(), ':', '_');
  return h;
}

// Maildir files hold LF line ends (qmail-local writes them so, and
// qmail-pop3d and Dovecot add the CR again); a lone CR is kept.
std::string ToLf(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;
    out += in[i];
  }
  return out;
}

Status Interrupted(const PullOptions& o) {
  if (o.interrupted && o.interrupted->load()) return Status::Interrupted("interrupted");
  return Status::OK();
}

// Errors of the old server as one code: whatever went wrong between us and
// it (a wrong size included) is the peer's.
Status PeerError(const Status& s) {
  if (s.ok() || s.code() == Status::Code::kPeerRefused || s.code() == Status::Code::kDataRefused) return s;
  if (s.code() == Status::Code::kCorrupt) return Status::PeerRefused(s.message());
  return s;
}

// A listing the old server sent that we cannot use (a folder name that is
// not modified UTF-7, a UIDL with control bytes: mail_source.h's
// InvalidInput) is refused data (exit 8), found before anything is pulled.
Status ListingError(const Status& s) {
  if (s.code() != Status::Code::kInvalidInput) return PeerError(s);
  return Status::DataRefused(s.message() + "; nothing pulled");
}

// On a failure half-way through a folder the messages already complete are
// kept (moved into cur/ or new/) rather than left in tmp/: a re-run knows
// them by name and does not fetch them again.
Status KeepDone(PulledFolder* folder, Status s, bool dry_run) {
  if (!s.ok() && !dry_run) (void)folder->Commit();
  return s;
}

struct Target {
  std::string maildir;  // on disk
  uid_t uid = 0;
  gid_t gid = 0;
};

Result<Target> FindAccount(const PullOptions& o) {
  size_t at = o.address.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == o.address.size())
    return Status::InvalidInput("--into " + o.address + ": not USER@DOMAIN");
  std::string user = ToLower(o.address.substr(0, at)), domain = ToLower(o.address.substr(at + 1));
  auto where = qmail::LocateRealDomain(o.paths, domain);
  if (!where.ok()) return where.status();
  auto store = vpopmail::OpenUserStoreFor(o.paths, *where);
  auto users = store->ReadUsers(*where);
  if (!users.ok()) return users.status().WithContext(domain);
  for (const auto& u : *users) {
    if (u.name != user) continue;
    if (o.check_local_password) {
      if (!vpopmail::CryptMatches(o.credentials.password, u.passwd))
        return Status::DataRefused(o.address + ": the password given does not verify against the account's "
                                   "hash here (an APOP or CRAM digest?): nothing pulled");
    }
    if (u.dir.empty())
      return Status::NotFound(o.address + ": the account has no home directory yet (log in once, or vadduser)");
    Target t;
    t.maildir = o.paths.OnDisk(u.dir + "/Maildir");
    t.uid = static_cast<uid_t>(where->uid);
    t.gid = static_cast<gid_t>(where->gid);
    return t;
  }
  return Status::NotFound(o.address + ": no such account on this host (import the domain or vadduser it first)");
}

// flock on the Maildir directory: one pull per account at a time.
class AccountLock {
 public:
  ~AccountLock() {
    if (fd_ >= 0) close(fd_);
  }
  Status Take(const std::string& maildir, const std::string& address) {
    fd_ = open(maildir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return FromErrno(maildir, errno);
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return Status::Conflict(address + ": another pull into this account is running");
      return FromErrno("cannot lock " + maildir, errno);
    }
    return Status::OK();
  }

 private:
  int fd_ = -1;
};

Status EnsureMaildir(const Target& t, bool dry_run) {
  struct stat st;
  if (stat(t.maildir.c_str(), &st) == 0) return Status::OK();
  if (errno != ENOENT) return FromErrno(t.maildir, errno);
  if (dry_run) return Status::OK();
  // vchkpw makes the Maildir at the first login (vmake_maildir); so do we.
  if (mkdir(t.maildir.c_str(), 0700) != 0) return FromErrno("cannot create " + t.maildir, errno);
  if (geteuid() == 0 && chown(t.maildir.c_str(), t.uid, t.gid) != 0) return FromErrno("cannot chown " + t.maildir, errno);
  return Status::OK();
}

class Puller {
 public:
  Puller(const PullOptions& o, std::optional<Target> t) : o_(o), t_(t.value_or(Target())), found_(t.has_value()),
      host_(ThisHost()) {
    report_.address = ToLower(o.address);  // vpopmail lower-cases logins and recipients
    report_.source = o.url.text;
    report_.login = o.credentials.login;
  }

  Status Imap();
  Status Pop3();
  PullReport& report() { return report_; }

 private:
  Status ImapFolder(mailsource::ImapSession* s, const mailsource::ImapFolder& f, const std::string& maildir_name,
                    const std::string& new_name, std::vector<std::string>* subscribed);
  Result<std::map<uint32_t, std::string>> MatchUidls(mailsource::ImapSession* imap,
                                                     const std::vector<mailsource::ImapMessage>& msgs);
  Status Flush(PulledFolder* folder, bool force);
  void Done(uint64_t bytes) {
    if (o_.progress) {
      o_.progress->MessageDone();
      o_.progress->AddBytes(bytes);
    }
  }
  std::string FolderDir(const std::string& maildir_name) const {
    return maildir_name.empty() ? t_.maildir : t_.maildir + "/" + maildir_name;
  }
  std::string Source() const { return o_.url.text + " " + o_.credentials.login; }

  // Called once the old server has accepted the login: makes the account
  // when it is missing and `create` is set, then the Maildir, then takes
  // the account's lock.
  Status Ready();

  const PullOptions& o_;
  Target t_;
  bool found_;  // t_ holds the account (false: create it in Ready)
  AccountLock lock_;
  std::string host_;
  PullReport report_;
};

Status Puller::Ready() {
  std::string planned_home;  // --dry-run --create: where the account would be
  if (o_.create) {
    // Also for an account that exists: AddUser then repairs what a killed
    // --create left (a vpasswd.cdb behind vpasswd) and writes nothing else.
    auto made = vpopmail::AddUser(o_.paths, o_.address, o_.credentials.password, o_.dry_run);
    if (!made.ok()) return made.status();
    report_.created = made->created;
    if (made->created) report_.created_quota = made->quota;
    if (made->created) planned_home = made->dir;
    if (made->created && made->login_locked)
      report_.warnings.push_back("the domain is under a cutover login lock; the new account is locked with the "
                                 "others until the unlock");
  }
  if (!found_) {
    auto target = FindAccount(o_);
    if (target.ok()) {
      t_ = *target;
    } else if (o_.dry_run && report_.created) {
      // Nothing was made: the Maildir-to-be, for the listing.
      size_t at = o_.address.find('@');
      auto where = qmail::LocateRealDomain(o_.paths, o_.address.substr(at + 1));
      if (!where.ok()) return where.status();
      t_.maildir = o_.paths.OnDisk(planned_home + "/Maildir");
      t_.uid = static_cast<uid_t>(where->uid);
      t_.gid = static_cast<gid_t>(where->gid);
    } else {
      return target.status();
    }
    found_ = true;
  }
  VM_RETURN_IF_ERROR(EnsureMaildir(t_, o_.dry_run));
  if (!o_.dry_run) VM_RETURN_IF_ERROR(lock_.Take(t_.maildir, o_.address));
  return Status::OK();
}

Status Puller::Flush(PulledFolder* folder, bool force) {
  if (o_.dry_run) return Status::OK();
  if (!force && folder->pending() < kBatchMessages && folder->pending_bytes() < kBatchBytes) return Status::OK();
  return folder->Commit();
}

Result<std::map<uint32_t, std::string>> Puller::MatchUidls(mailsource::ImapSession* imap,
                                                           const std::vector<mailsource::ImapMessage>& msgs) {
  std::map<uint32_t, std::string> by_uid;
  auto pop = mailsource::OpenPop3(*o_.uidls_from, o_.connect, o_.credentials);
  if (!pop.ok()) return PeerError(pop.status());
  std::vector<mailsource::Pop3Message> list;
  bool has_uidl = false;
  Status st = (*pop)->List(&list, &has_uidl);
  if (!st.ok()) return PeerError(st);
  if (!has_uidl) {
    report_.warnings.push_back(o_.uidls_from->text + ": the server has no UIDL command: no POP3 UIDL kept");
    return by_uid;
  }
  // Dovecot's pop3-migration, size pass: POP3 message i is IMAP message i
  // while the sizes agree; it stops at two neighbouring POP3 messages of
  // the same size, where a message missing on one side would go unseen.
  size_t i = 0;
  for (; i < list.size() && i < msgs.size(); ++i) {
    if (list[i].size != msgs[i].size) break;
    if (i + 1 < list.size() && list[i + 1].size == list[i].size) break;
    by_uid[msgs[i].uid] = list[i].uidl;
  }
  size_t matched = i;
  // Header pass for the rest: both sides' headers hashed (HeaderHash), the
  // lists sorted by hash and joined. qmail-pop3d counts LF sizes, IMAP
  // CRLF: with such an old server every message comes here.
  if (i < list.size() && i < msgs.size()) {
    std::vector<std::pair<std::string, size_t>> pop_hashes, imap_hashes;  // (hash, index)
    bool top = true;
    for (size_t j = i; j < list.size() && top; ++j) {
      VM_RETURN_IF_ERROR(Interrupted(o_));
      std::string header;
      Status t = (*pop)->Top(list[j].number, &header);
      if (t.code() == Status::Code::kUnsupported) {
        report_.warnings.push_back(t.message() + ": the POP3 UIDLs are matched by size only");
        top = false;
      } else if (!t.ok()) {
        return PeerError(t);
      } else {
        pop_hashes.emplace_back(HeaderHash(header), j);
      }
    }
    // In batches, so that memory holds one batch of headers, not the folder's.
    constexpr size_t kHeaderBatch = 256;
    for (size_t j = i; j < msgs.size() && top; j += kHeaderBatch) {
      VM_RETURN_IF_ERROR(Interrupted(o_));
      std::vector<uint32_t> uids;
      for (size_t k = j; k < msgs.size() && k < j + kHeaderBatch; ++k) uids.push_back(msgs[k].uid);
      std::map<uint32_t, std::string> headers;
      VM_RETURN_IF_ERROR(PeerError(imap->FetchHeaders(uids, &headers)).WithContext("folder INBOX"));
      for (size_t k = j; k < msgs.size() && k < j + kHeaderBatch; ++k) {
        auto h = headers.find(msgs[k].uid);
        if (h != headers.end()) imap_hashes.emplace_back(HeaderHash(h->second), k);
      }
    }
    // Equal hashes (the same message twice) pair in order: sort keeps it.
    std::sort(pop_hashes.begin(), pop_hashes.end());
    std::sort(imap_hashes.begin(), imap_hashes.end());
    for (size_t a = 0, b = 0; a < pop_hashes.size() && b < imap_hashes.size();) {
      if (pop_hashes[a].first < imap_hashes[b].first) {
        ++a;
      } else if (imap_hashes[b].first < pop_hashes[a].first) {
        ++b;
      } else {
        by_uid[msgs[imap_hashes[b].second].uid] = list[pop_hashes[a].second].uidl;
        ++matched;
        ++a;
        ++b;
      }
    }
  }
  (*pop)->Close();
  if (matched < list.size() || matched < msgs.size())
    report_.warnings.push_back("INBOX: " + std::to_string(list.size() - std::min(matched, list.size())) +
                               " POP3 and " + std::to_string(msgs.size() - std::min(matched, msgs.size())) +
                               " IMAP messages could not be matched by size or header; their old POP3 UIDLs are "
                               "not kept");
  return by_uid;
}

Status Puller::Imap() {
  auto session = mailsource::OpenImap(o_.url, o_.connect, o_.credentials);
  if (!session.ok()) return PeerError(session.status());
  VM_RETURN_IF_ERROR(Ready());
  auto& s = *session;
  std::vector<mailsource::ImapFolder> folders;
  VM_RETURN_IF_ERROR(ListingError(s->ListFolders(&folders)));
  // Check every name first: a refused account pulls nothing.
  for (const auto& f : folders)
    if (!unixhost::IsModifiedUtf7(f.name))
      return Status::DataRefused("folder " + EscapeC(f.name) + " on " + o_.url.text +
                                 ": the name is not valid modified UTF-7 (RFC 3501 5.1.3); nothing pulled");
  std::vector<std::string> subscribed;
  std::map<std::string, std::string> seen_dirs;  // Maildir++ dir -> old name
  bool has_inbox = false;
  for (const auto& f : folders) {
    std::string dir, new_name;
    bool changed = false;
    MapFolderName(f.name, f.delimiter, &dir, &new_name, &changed);
    if (dir.empty()) has_inbox = true;
    if (changed)
      report_.warnings.push_back("folder " + f.name + ": '.' cannot be in a Maildir++ name; it is " + new_name + " now");
    auto clash = seen_dirs.emplace(dir, f.name);
    if (!clash.second) {
      report_.warnings.push_back("folder " + f.name + " maps to the same Maildir++ folder as " + clash.first->second +
                                 "; it is left out");
      continue;
    }
    if (f.noselect) {
      if (f.subscribed) subscribed.push_back(new_name);
      continue;
    }
    VM_RETURN_IF_ERROR(ImapFolder(s.get(), f, dir, new_name, &subscribed));
  }
  if (!has_inbox) report_.warnings.push_back(o_.url.text + ": the server listed no INBOX");
  s->Close();
  if (!o_.dry_run) VM_RETURN_IF_ERROR(AddSubscriptions(t_.maildir, subscribed, t_.uid, t_.gid));
  report_.imap_uids_kept = true;
  for (const auto& f : report_.folders) report_.imap_uids_kept = report_.imap_uids_kept && f.uids_kept;
  return Status::OK();
}

Status Puller::ImapFolder(mailsource::ImapSession* s, const mailsource::ImapFolder& f, const std::string& maildir_name,
                          const std::string& new_name, std::vector<std::string>* subscribed) {
  const bool inbox = maildir_name.empty();
  FolderReport r;
  r.name = f.name;
  r.new_name = new_name;
  r.maildir = maildir_name;
  mailsource::FolderStatus status;
  VM_RETURN_IF_ERROR(PeerError(s->Examine(f.name, &status)).WithContext("folder " + f.name));
  r.uidvalidity = status.uidvalidity;
  PulledFolder folder(FolderDir(maildir_name), t_.maildir, t_.uid, t_.gid);
  VM_RETURN_IF_ERROR(folder.Open(inbox, o_.dry_run));
  const bool owns = folder.OwnsUidList();
  uint32_t first = 1;
  if (folder.state() && folder.state()->uidvalidity == status.uidvalidity) {
    first = std::max<uint32_t>(1, folder.state()->next_uid);
  } else if (folder.state()) {
    // Never mix two UIDVALIDITYs: what we pulled under the old one goes.
    // (A uidlist with records but no pull state is not ours: OwnsUidList.)
    r.restarted = true;
    if (!o_.dry_run) {
      auto removed = folder.RemovePreviousPull();
      if (!removed.ok()) return removed.status();
      r.removed = static_cast<uint32_t>(*removed);
    }
    report_.warnings.push_back("folder " + f.name + ": UIDVALIDITY changed since the last pull (now " +
                               std::to_string(status.uidvalidity) + "): the folder is pulled again from the start");
  }
  std::vector<mailsource::ImapMessage> msgs;
  VM_RETURN_IF_ERROR(PeerError(s->FetchMessages(1, &msgs)).WithContext("folder " + f.name));
  r.on_server = static_cast<uint32_t>(msgs.size());
  std::map<uint32_t, std::string> uidls;
  if (inbox && o_.uidls_from) {
    auto m = MatchUidls(s, msgs);
    if (!m.ok()) return m.status();
    uidls = std::move(*m);
  } else if (inbox && !o_.old_pop3_uidl.empty()) {
    for (const auto& m : msgs) {
      mbox::Message one;
      one.uid = m.uid;
      auto u = mbox::FormatUidl(o_.old_pop3_uidl, status.uidvalidity, one);
      if (!u.ok()) return u.status().WithContext("--old-pop3-uidl");
      uidls[m.uid] = *u;
    }
  }
  if (inbox) report_.uidls_known = static_cast<uint32_t>(uidls.size());
  std::set<std::string> used_bases;
  std::map<uint32_t, UidRecord> records;
  if (owns && folder.uidlist() && folder.uidlist()->uidvalidity == status.uidvalidity)
    for (const auto& rec : folder.uidlist()->records) records[rec.uid] = rec;
  uint32_t max_uid = 0;
  bool names_carry = inbox;
  size_t dropped_flags = 0;
  std::string body;
  for (const auto& m : msgs) {
    max_uid = std::max(max_uid, m.uid);
    auto u = uidls.find(m.uid);
    std::string base;
    if (u != uidls.end() && mbox::FileNameSafeUidl(u->second) && used_bases.insert(u->second).second) {
      base = u->second;
    } else {
      names_carry = false;
      base = std::to_string(m.internaldate) + ".V" + std::to_string(status.uidvalidity) + "U" + std::to_string(m.uid) +
             "." + host_;
    }
    const bool have = folder.HasBase(base);
    if (m.uid < first || have) {
      if (have) {
        ++r.already;
        UidRecord rec{m.uid, u != uidls.end() ? u->second : "", base, ""};
        if (!records.count(m.uid)) records[m.uid] = rec;
      }
      continue;
    }
    VM_RETURN_IF_ERROR(KeepDone(&folder, Interrupted(o_), o_.dry_run));
    ++r.pulled;
    r.bytes += m.size;
    if (o_.dry_run) continue;
    // The session's errors name the folder and the UID.
    Status fetched = s->FetchBody(m.uid, m.size, &body);
    if (fetched.code() == Status::Code::kNotFound) {
      // Expunged on the live server since the listing: gone there, so not pulled.
      --r.pulled;
      r.bytes -= m.size;
      report_.warnings.push_back(fetched.message() + ": expunged on the old server during the pull; not pulled");
      continue;
    }
    VM_RETURN_IF_ERROR(KeepDone(&folder, PeerError(fetched), false));
    if (o_.limiter) o_.limiter->Consume(body.size());
    std::string letters = folder.FlagLetters(m.flags, &dropped_flags);
    VM_RETURN_IF_ERROR(folder.Add(base, ToLf(body), m.internaldate, true, letters));
    records[m.uid] = UidRecord{m.uid, u != uidls.end() ? u->second : "", base, ""};
    Done(body.size());
    VM_RETURN_IF_ERROR(Flush(&folder, false));
  }
  if (dropped_flags)
    report_.warnings.push_back("folder " + f.name + ": " + std::to_string(dropped_flags) +
                               " flags not kept (unknown system flags, or keywords beyond the 26 of Maildir)");
  if (inbox && (o_.uidls_from || !o_.old_pop3_uidl.empty())) {
    report_.qmail_pop3d_uidls = names_carry && uidls.size() == msgs.size();
    report_.dovecot_pop3_uidls = owns && uidls.size() == msgs.size();
  }
  if (f.subscribed) subscribed->push_back(new_name);
  r.uids_kept = owns;
  if (!owns)
    report_.warnings.push_back("folder " + f.name + ": the new host already numbered this folder (dovecot-uidlist); "
                               "the pulled messages get new UIDs");
  if (!o_.dry_run) {
    VM_RETURN_IF_ERROR(Flush(&folder, true));
    std::optional<UidList> list;
    if (owns) {
      UidList l;
      l.uidvalidity = status.uidvalidity;
      l.uidnext = std::max(status.uidnext, max_uid + 1);
      if (folder.uidlist() && folder.uidlist()->uidvalidity == status.uidvalidity)
        l.uidnext = std::max(l.uidnext, folder.uidlist()->uidnext);
      for (auto& [uid, rec] : records) l.records.push_back(rec);
      list = std::move(l);
    }
    PullState st;
    st.source = Source();
    st.uidvalidity = status.uidvalidity;
    st.next_uid = std::max(first, max_uid + 1);
    VM_RETURN_IF_ERROR(folder.Finish(list, st));
  }
  report_.pulled += r.pulled;
  report_.bytes += r.bytes;
  report_.already += r.already;
  report_.folders.push_back(std::move(r));
  return Status::OK();
}

Status Puller::Pop3() {
  auto session = mailsource::OpenPop3(o_.url, o_.connect, o_.credentials);
  if (!session.ok()) return PeerError(session.status());
  VM_RETURN_IF_ERROR(Ready());
  auto& s = *session;
  std::vector<mailsource::Pop3Message> list;
  bool has_uidl = false;
  VM_RETURN_IF_ERROR(ListingError(s->List(&list, &has_uidl)));
  if (!has_uidl && !o_.no_uidl)
    return Status::DataRefused(o_.url.text + ": the server has no UIDL command: a re-run could not tell new mail "
                               "from old, and POP3 clients would download every message again; --no-uidl pulls anyway");
  FolderReport r;
  r.name = "INBOX";
  r.new_name = "INBOX";
  r.on_server = static_cast<uint32_t>(list.size());
  PulledFolder folder(t_.maildir, t_.maildir, t_.uid, t_.gid);
  VM_RETURN_IF_ERROR(folder.Open(true, o_.dry_run));
  const bool owns = folder.OwnsUidList();
  PullState st;
  if (folder.state()) st = *folder.state();
  st.source = Source();
  if (st.uidvalidity == 0) st.uidvalidity = folder.uidlist() ? folder.uidlist()->uidvalidity : 0;
  if (st.uidvalidity == 0) st.uidvalidity = static_cast<uint32_t>(time(nullptr));
  std::map<uint32_t, UidRecord> records;
  if (owns && folder.uidlist())
    for (const auto& rec : folder.uidlist()->records) records[rec.uid] = rec;
  std::map<std::string, uint32_t> uid_of;  // base -> uid already given
  for (const auto& [uid, rec] : records) uid_of[rec.base] = uid;
  uint32_t next = std::max<uint32_t>(1, st.next_uid);
  if (folder.uidlist()) next = std::max(next, folder.uidlist()->uidnext);
  for (const auto& [uid, rec] : records) next = std::max(next, uid + 1);
  r.uidvalidity = st.uidvalidity;
  bool names_carry = has_uidl;
  int64_t last_mtime = 0;
  std::string body;
  for (const auto& m : list) {
    VM_RETURN_IF_ERROR(KeepDone(&folder, Interrupted(o_), o_.dry_run));
    std::string base;
    bool safe = has_uidl && mbox::FileNameSafeUidl(m.uidl);
    if (safe) {
      base = m.uidl;
    } else if (has_uidl) {
      names_carry = false;
      base = "P" + Sha256::Of(m.uidl).substr(0, 24) + "." + host_;
    }
    if (has_uidl && (st.uidls.count(m.uidl) || folder.HasBase(base))) {
      ++r.already;
      if (!uid_of.count(base)) {
        records[next] = UidRecord{next, m.uidl.find_first_of(" \t") == std::string::npos ? m.uidl : "", base, ""};
        uid_of[base] = next++;
      }
      st.uidls.insert(m.uidl);
      continue;
    }
    if (o_.dry_run) {
      ++r.pulled;
      r.bytes += m.size;
      continue;
    }
    VM_RETURN_IF_ERROR(KeepDone(&folder, PeerError(s->Retrieve(m.number, &body)), false));  // names RETR n
    if (!has_uidl) {
      // No UIDL: the content is the only identity a re-run can recognise.
      base = "H" + Sha256::Of(body).substr(0, 32) + "." + host_;
      if (folder.HasBase(base)) {
        ++r.already;
        continue;
      }
    }
    ++r.pulled;
    r.bytes += m.size;
    if (o_.limiter) o_.limiter->Consume(body.size());
    // POP3 has no dates; qmail-pop3d lists by file time, so the times rise
    // in the old server's order.
    int64_t mtime = HeaderDate(body).value_or(static_cast<int64_t>(time(nullptr)));
    if (mtime <= last_mtime) mtime = last_mtime + 1;
    last_mtime = mtime;
    VM_RETURN_IF_ERROR(folder.Add(base, ToLf(body), mtime, false, ""));
    records[next] = UidRecord{next, has_uidl && m.uidl.find_first_of(" \t") == std::string::npos ? m.uidl : "", base, ""};
    uid_of[base] = next++;
    if (has_uidl) st.uidls.insert(m.uidl);
    Done(body.size());
    VM_RETURN_IF_ERROR(Flush(&folder, false));
  }
  s->Close();
  report_.uidls_known = has_uidl ? static_cast<uint32_t>(list.size()) : 0;
  report_.qmail_pop3d_uidls = names_carry;
  report_.dovecot_pop3_uidls = has_uidl && owns;
  r.uids_kept = false;  // POP3 has no UIDs to keep
  if (!owns)
    report_.warnings.push_back("INBOX: the new host already numbered it (dovecot-uidlist): Dovecot POP3 will not "
                               "show the old UIDLs");
  if (!o_.dry_run) {
    VM_RETURN_IF_ERROR(Flush(&folder, true));
    std::optional<UidList> l;
    if (owns) {
      UidList u;
      u.uidvalidity = st.uidvalidity;
      u.uidnext = next;
      for (auto& [uid, rec] : records) u.records.push_back(rec);
      l = std::move(u);
    }
    st.next_uid = next;
    VM_RETURN_IF_ERROR(folder.Finish(l, st));
  }
  report_.pulled += r.pulled;
  report_.bytes += r.bytes;
  report_.already += r.already;
  report_.folders.push_back(std::move(r));
  return Status::OK();
}

// strptime of an RFC 5322 date-time ("[Day, ]DD Mon YYYY HH:MM[:SS] +ZZZZ").
std::optional<int64_t> ParseRfc5322Date(std::string v) {
  size_t comma = v.find(',');
  if (comma != std::string::npos && comma < 5) v = v.substr(comma + 1);
  v = Trim(v);
  for (const char* fmt : {"%d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M %z"}) {
    struct tm tm;
    std::memset(&tm, 0, sizeof tm);
    const char* end = strptime(v.c_str(), fmt, &tm);
    if (end == nullptr) continue;
    long off = tm.tm_gmtoff;
    time_t t = timegm(&tm);
    if (t == static_cast<time_t>(-1)) continue;
    return static_cast<int64_t>(t) - off;
  }
  return std::nullopt;
}

}  // namespace

void MapFolderName(const std::string& name, char delimiter, std::string* maildir, std::string* new_name,
                   bool* changed) {
  *changed = false;
  std::vector<std::string> parts = delimiter ? Split(name, delimiter) : std::vector<std::string>{name};
  if (ToLower(parts[0]) == "inbox") {
    if (parts.size() == 1) {
      *maildir = "";
      *new_name = "INBOX";
      return;
    }
    // Courier's personal namespace "INBOX.": its folders are Maildir++ ones.
    if (delimiter == '.') parts.erase(parts.begin());
  }
  std::string dir, nn;
  for (auto& p : parts) {
    std::string fixed = p;
    std::replace(fixed.begin(), fixed.end(), '.', '_');
    std::replace(fixed.begin(), fixed.end(), '/', '_');
    if (fixed != p) *changed = true;
    dir += "." + fixed;
    nn += (nn.empty() ? "" : "/") + fixed;
  }
  *maildir = dir;
  *new_name = nn;
}

std::string HeaderHash(const std::string& header) {
  // Fields an old server adds, drops or rewrites per protocol (mbox status
  // and UID headers, Return-Path, Content-Length): Dovecot's list, §7.3.
  static const char* const kSkipped[] = {"content-length", "return-path", "status", "x-imap", "x-imapbase",
                                         "x-keywords", "x-message-flag", "x-status", "x-uid", "x-uidl",
                                         "x-yahoo-newman-property"};
  Sha256 sha;
  bool keep = false;  // the current field (continuation lines follow it)
  size_t pos = 0;
  while (pos < header.size()) {
    size_t nl = header.find('\n', pos);
    size_t end = nl == std::string::npos ? header.size() : nl;
    std::string line = header.substr(pos, end - pos);
    pos = nl == std::string::npos ? header.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // the end of the header
    if (line[0] != ' ' && line[0] != '\t') {
      size_t colon = line.find(':');
      bool valid = colon != std::string::npos && colon > 0;
      for (size_t k = 0; valid && k < colon; ++k)
        if (line[k] <= ' ' || line[k] > '~') valid = false;
      keep = valid;
      if (valid) {
        std::string name = ToLower(line.substr(0, colon));
        for (const char* skip : kSkipped)
          if (name == skip) keep = false;
      }
    }
    if (!keep) continue;
    // Trailing blanks are not compared: some servers strip them.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    line += '\n';
    sha.Update(line.data(), line.size());
  }
  return sha.HexDigest();
}

std::optional<int64_t> HeaderDate(const std::string& message) {
  // Unfolded header fields, until the blank line.
  std::string received, date, current;
  auto take = [&](const std::string& field) {
    std::string lower = ToLower(field.substr(0, field.find(':') + 1));
    if (lower == "received:" && received.empty()) received = field.substr(9);
    if (lower == "date:" && date.empty()) date = field.substr(5);
  };
  size_t pos = 0;
  while (pos < message.size()) {
    size_t nl = message.find('\n', pos);
    std::string line = message.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = nl == std::string::npos ? message.size() : nl + 1;
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      current += " " + Trim(line);
      continue;
    }
    if (!current.empty()) take(current);
    current = line;
  }
  if (!current.empty()) take(current);
  if (!received.empty()) {
    size_t semi = received.rfind(';');
    if (semi != std::string::npos) {
      auto t = ParseRfc5322Date(received.substr(semi + 1));
      if (t) return t;
    }
  }
  if (!date.empty()) return ParseRfc5322Date(date);
  return std::nullopt;
}

Result<PullReport> PullAccount(const PullOptions& options) {
  auto target = FindAccount(options);
  std::optional<Target> found;
  if (target.ok()) {
    found = *target;
  } else if (!options.create || target.status().code() != Status::Code::kNotFound) {
    return target.status();
  } else {
    // A missing domain is refused before the old server is asked.
    size_t at = options.address.find('@');
    auto where = qmail::LocateRealDomain(options.paths, options.address.substr(at + 1));
    if (!where.ok()) return where.status();
  }
  Puller p(options, found);
  Status st = options.url.protocol == mailsource::Protocol::kImap ? p.Imap() : p.Pop3();
  if (!st.ok()) return st;
  return std::move(p.report());
}

}  // namespace vmigrate::pull
