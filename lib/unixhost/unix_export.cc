#include "unixhost/unix_export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <memory>
#include <set>

#include "archive/member_sink.h"
#include "core/errno_status.h"
#include "core/strings.h"
#include "mbox/pop3_uidl.h"
#include "mbox/uid_rules.h"
#include "model/manifest_yaml.h"
#include "unixhost/forward.h"
#include "unixhost/mail_folders.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/names.h"

namespace vmigrate::unixhost {
namespace {

// The archive names host paths the target replaces (placeholders); for a
// Unix source there is no vpopmail home, so these nominal ones stand in.
constexpr const char* kNominalVpopmailHome = "/home/vpopmail";
constexpr const char* kNominalQmailDir = "/var/qmail";
constexpr unsigned long kVpopmailId = 89;  // nominal: the importer uses the target's owner
constexpr const char* kDefaultUidl = "%08Xu%08Xv";  // Dovecot's pop3_uidl_format default
// vpopmail pw_gid bits a disabled account gets on top of an unusable hash
// (vpopmail.h: NO_POP 0x02, NO_WEBMAIL 0x04, NO_IMAP 0x08, NO_SMTP 0x800).
constexpr size_t kCopyChunk = 256 * 1024;

std::string HostPath(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path;
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return r + (StartsWith(path, "/") ? path : "/" + path);
}

bool ReadSmallFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 && out->size() < (1 << 20)) out->append(buf, n);
  close(fd);
  return n >= 0;
}

std::string FirstLine(const std::string& text) { return Trim(text.substr(0, text.find('\n'))); }

// The zone a From_ line without one was written in: the old host's
// etc/timezone, else the zone etc/localtime links to.
std::string HostTimeZone(const std::string& root, std::vector<std::string>* warnings) {
  std::string text;
  if (ReadSmallFile(HostPath(root, "/etc/timezone"), &text) && !FirstLine(text).empty()) return FirstLine(text);
  char link[4096];
  ssize_t n = readlink(HostPath(root, "/etc/localtime").c_str(), link, sizeof link - 1);
  if (n > 0) {
    std::string target(link, static_cast<size_t>(n));
    size_t at = target.find("zoneinfo/");
    if (at != std::string::npos) return target.substr(at + 9);
  }
  warnings->push_back("the old host's time zone is unknown (no etc/timezone, no etc/localtime link): "
                      "From_ lines without a zone are read as UTC");
  return "";
}

std::string HostName(const std::string& root) {
  std::string text;
  if (ReadSmallFile(HostPath(root, "/etc/hostname"), &text) && !FirstLine(text).empty()) return FirstLine(text);
  return "localhost";
}

bool NonEmptyFile(const std::string& path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

// One Maildir++ folder to write: the mbox files it is made of (INBOX of
// UW's reading: ~/mbox, then the spool) and their scans.
struct PlannedMailbox {
  std::string imap_name;    // "INBOX", "Archive/2023"
  std::string dir;          // "Maildir" or "Maildir/.Archive.2023"
  std::vector<std::string> sources;   // mbox paths
  std::vector<mbox::Mailbox> scans;   // one per source, UIDs assigned
  std::vector<struct stat> scanned;   // each source as the scan saw it
  std::uint32_t uid_validity = 0, uid_next = 1;
  std::vector<std::string> keywords;  // dovecot-keywords, index = letter
  std::vector<std::string> names;     // per message (all sources, in order): "cur/<base>:2,FS"
  std::vector<std::string> uidls;     // INBOX only: the old POP3 UIDL per message
  std::string uidlist, keywords_file, courier_uiddb;
};

struct PlannedUser {
  Account account;
  Converted conv;
  UserMail mail;
  UnixUser report;
  ManifestUser manifest;
  std::vector<PlannedMailbox> boxes;
  std::string qmail;         // .qmail text ("" = none)
  std::string subscriptions;  // Maildir/subscriptions text ("" = none)
};

class UnixExporter {
 public:
  UnixExporter(const UnixExportOptions& o, UnixExportReport* r) : opt_(o), report_(r) {}

  Status Run() {
    domain_ = ToLower(opt_.domain);
    VM_RETURN_IF_ERROR(vpopmail::ValidateDomainName(domain_));
    uidl_format_ = opt_.old_pop3_uidl.empty() ? kDefaultUidl : opt_.old_pop3_uidl;
    VM_RETURN_IF_ERROR(mbox::CheckUidlFormat(uidl_format_).WithContext("--old-pop3-uidl"));
    if (opt_.imap_server != "dovecot" && opt_.imap_server != "courier")
      return Status::InvalidInput("--imap-server must be dovecot or courier, not '" + EscapeC(opt_.imap_server) + "'");
    VM_RETURN_IF_ERROR(vpopmail::ValidateQuota(opt_.quota).WithContext("--quota"));
    scan_.old_server = opt_.old_server;
    scan_.now = static_cast<std::int64_t>(std::time(nullptr));
    scan_.time_zone = opt_.time_zone.empty() ? HostTimeZone(opt_.root, &report_->warnings) : opt_.time_zone;
    hostname_ = HostName(opt_.root);

    std::vector<PlannedUser> users;
    VM_RETURN_IF_ERROR(SelectUsers(&users));
    if (users.empty())
      return Status::DataRefused("no account of " + HostPath(opt_.root, "/etc/passwd") + " can be carried (" +
                                 std::to_string(report_->skipped.size()) + " skipped; see the warnings)");
    size_t per = opt_.batch_size ? opt_.batch_size : users.size();
    size_t batches = (users.size() + per - 1) / per;
    for (size_t b = 0; b < batches; ++b) {
      std::vector<PlannedUser> part(std::make_move_iterator(users.begin() + b * per),
                                    std::make_move_iterator(users.begin() + std::min(users.size(), (b + 1) * per)));
      VM_RETURN_IF_ERROR(Batch(b, &part));
    }
    return Status::OK();
  }

 private:
  // Who comes along, and why the others do not.
  Status SelectUsers(std::vector<PlannedUser>* out) {
    auto accounts = ReadAccounts(opt_.root);
    if (!accounts.ok()) return accounts.status();
    UidRange range;
    if (opt_.has_uid_range) {
      range = opt_.uid_range;
    } else {
      auto r = ReadUidRange(opt_.root);
      if (!r.ok()) return r.status();
      range = *r;
    }
    std::map<std::string, const Account*> by_name;
    for (const Account& a : *accounts) by_name[a.name] = &a;
    std::vector<const Account*> chosen;
    if (!opt_.users.empty()) {
      std::set<std::string> seen;
      for (const std::string& n : opt_.users) {
        if (!seen.insert(n).second) continue;
        auto it = by_name.find(n);
        if (it == by_name.end())
          return Status::NotFound("user '" + EscapeC(n) + "' is not in " + HostPath(opt_.root, "/etc/passwd"));
        chosen.push_back(it->second);
      }
    } else {
      for (const Account& a : *accounts) chosen.push_back(&a);
    }
    std::set<std::string> taken;
    for (const Account* a : chosen) {
      // System accounts never come along, even when named.
      if (a->uid == 0 || a->uid < range.min || a->uid == 65534 || (opt_.users.empty() && a->uid > range.max)) {
        if (!opt_.users.empty() || a->uid >= 1000)
          Skip(*a, a->uid == 0 ? "root" : a->uid == 65534 ? "the overflow account nobody, never a mail user"
                                                           : "uid " + std::to_string(a->uid) + " is outside " +
                                                                 std::to_string(range.min) + "-" + std::to_string(range.max) +
                                                                 " (a system account)");
        continue;
      }
      auto conv = ConvertAccount(*a, opt_.locked);
      if (!conv.ok()) {
        Skip(*a, conv.status().message());
        continue;
      }
      auto mail = FindUserMail(opt_.root, *a, opt_.spool_dir, opt_.folders);
      if (!mail.ok()) {
        Skip(*a, mail.status().message());
        continue;
      }
      bool has_mail = NonEmptyFile(mail->spool) || NonEmptyFile(mail->mbox) || !mail->folders.empty();
      if (conv->disabled && !has_mail) {
        Skip(*a, "no usable password (" + conv->scheme + ") and no mail: not a mail user");
        continue;
      }
      if (!taken.insert(conv->name).second) {
        Skip(*a, "its vpopmail name '" + conv->name + "' is taken by another account (names are lower-cased)");
        continue;
      }
      PlannedUser u;
      u.account = *a;
      u.conv = std::move(*conv);
      u.mail = std::move(*mail);
      out->push_back(std::move(u));
    }
    return Status::OK();
  }

  void Skip(const Account& a, const std::string& reason) {
    report_->skipped.push_back({a.name, a.uid, reason});
  }

  // One archive: plan every user's mailboxes (scan), then write.
  Status Batch(size_t index, std::vector<PlannedUser>* users) {
    Manifest m;
    m.kind = kKindDomain;
    m.generator = std::string("vmigrate ") + VMIGRATE_VERSION;
    char created[32];
    std::time_t now = std::time(nullptr);
    std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    m.created = created;
    m.source.hostname = hostname_;
    m.source.vpopmail_home = kNominalVpopmailHome;
    m.source.qmail_dir = kNominalQmailDir;
    m.source.origin = "unix";
    ManifestDomain d;
    d.name = domain_;
    d.dir = std::string(kNominalVpopmailHome) + "/domains/" + domain_;
    d.uid = d.gid = kVpopmailId;
    d.domain_files = {".qmail-default"};
    d.rewritten_files = {"files/.qmail-default"};
    if (opt_.batch_size) d.merge_users = true;
    vpopmail::BucketAllocation alloc = vpopmail::AllocateBuckets(std::nullopt, users->size());
    d.dir_control = alloc.final_text;
    std::uint64_t total_messages = 0, total_bytes = 0;
    for (size_t i = 0; i < users->size(); ++i) {
      PlannedUser& u = (*users)[i];
      const std::string& bucket = alloc.buckets[i];
      VM_RETURN_IF_ERROR(PlanUser(bucket, d.dir, &u));
      u.report.batch = index;
      if (!u.qmail.empty()) d.rewritten_files.push_back("users/" + u.conv.name + "/.qmail");
      d.users.push_back(u.manifest);
      total_messages += u.manifest.messages;
      total_bytes += u.manifest.bytes;
    }
    m.domains.push_back(std::move(d));
    std::string output = opt_.output;
    if (opt_.batch_size) {
      char name[64];
      std::snprintf(name, sizeof name, "-batch%03zu", index + 1);
      const char* suffix = opt_.compression == Compression::kZstd   ? ".tar.zst"
                           : opt_.compression == Compression::kGzip ? ".tar.gz"
                                                                    : ".tar";
      output = opt_.output + "/" + domain_ + name + suffix;
    }
    if (opt_.progress) {
      opt_.progress->SetDomain(domain_);
      opt_.progress->SetTotals({users->size(), total_messages, total_bytes});
    }
    if (opt_.dry_run) {
      if (!output.empty()) VM_RETURN_IF_ERROR(CheckArchiveOutput(output, opt_.overwrite));
    } else {
      VM_RETURN_IF_ERROR(WriteArchive(m, *users, output));
    }
    for (PlannedUser& u : *users) report_->users.push_back(std::move(u.report));
    report_->manifests.push_back(std::move(m));
    report_->outputs.push_back(output);
    return Status::OK();
  }

  Status PlanUser(const std::string& bucket, const std::string& domain_dir, PlannedUser* u) {
    const std::string& name = u->conv.name;
    u->report.name = name;
    u->report.unix_name = u->account.name;
    u->report.scheme = u->conv.scheme;
    u->report.verifiable = CanVerify(u->account.hash);
    u->report.disabled = u->conv.disabled;
    u->report.warnings = u->conv.warnings;
    for (const auto& w : u->mail.warnings) u->report.warnings.push_back(w);

    // INBOX: the spool; UW showed ~/mbox as INBOX with the spool's mail
    // moved in after it (reference §5.3), Dovecot never showed ~/mbox.
    PlannedMailbox inbox;
    inbox.imap_name = "INBOX";
    inbox.dir = "Maildir";
    bool home_mbox = NonEmptyFile(u->mail.mbox);
    if (home_mbox && opt_.old_server == mbox::OldServer::kUw) inbox.sources.push_back(u->mail.mbox);
    if (!u->mail.spool.empty()) inbox.sources.push_back(u->mail.spool);
    u->boxes.push_back(std::move(inbox));
    std::set<std::string> used_dirs;
    for (const Folder& f : u->mail.folders) {
      PlannedMailbox b;
      b.imap_name = f.new_imap_name.empty() ? f.imap_name : f.new_imap_name;
      b.dir = "Maildir/" + f.maildir_name;
      b.sources.push_back(f.path);
      used_dirs.insert(f.maildir_name);
      u->report.folders.push_back(b.imap_name);
      u->boxes.push_back(std::move(b));
    }
    if (home_mbox && opt_.old_server == mbox::OldServer::kDovecot) {
      PlannedMailbox b;
      b.imap_name = used_dirs.count(".mbox") ? "home-mbox" : "mbox";
      b.dir = "Maildir/." + b.imap_name;
      b.sources.push_back(u->mail.mbox);
      u->report.folders.push_back(b.imap_name);
      u->report.warnings.push_back("user '" + u->account.name + "': ~/mbox (read mail moved there by mail(1)) becomes the folder '" + b.imap_name +
                                   "': Dovecot never showed it");
      u->boxes.push_back(std::move(b));
    }
    ManifestUser& mu = u->manifest;
    mu.entry.name = name;
    mu.entry.passwd = u->conv.passwd;
    mu.entry.uid = "1";
    mu.entry.gid = std::to_string(u->conv.flags);
    mu.entry.gecos = u->account.gecos;
    mu.rel_dir = bucket.empty() ? name : bucket + "/" + name;
    mu.entry.dir = domain_dir + "/" + mu.rel_dir;
    mu.entry.quota = opt_.quota;
    mu.entry.has_clear = true;  // vadduser writes the 8th field, empty without a cleartext
    mu.hash_scheme = u->conv.scheme;
    mu.folders = u->report.folders;
    for (PlannedMailbox& b : u->boxes) VM_RETURN_IF_ERROR(PlanMailbox(u, &b));

    auto fwd = ReadUserForward(opt_.root, u->account, domain_);
    if (!fwd.ok()) return fwd.status();
    for (const auto& w : fwd->warnings) u->report.warnings.push_back(w);
    if (!fwd->qmail_lines.empty()) u->qmail = Join(fwd->qmail_lines, "\n") + "\n";
    if (!u->mail.subscriptions.empty()) u->subscriptions = FormatSubscriptions(u->mail.subscriptions);

    // bytes: every file written under the home, as the vpopmail exporter counts.
    std::uint64_t bytes = u->qmail.size() + u->subscriptions.size();
    for (const PlannedMailbox& b : u->boxes) {
      bytes += b.uidlist.size() + b.keywords_file.size() + b.courier_uiddb.size();
      for (const auto& s : b.scans)
        for (const auto& msg : s.messages) bytes += static_cast<std::uint64_t>(msg.size);
    }
    mu.bytes = bytes;
    mu.messages = u->report.messages;
    u->report.bytes = bytes;
    if (u->report.uidl_kept.empty()) u->report.uidl_kept = "none";
    mu.warnings = u->report.warnings;
    return Status::OK();
  }

  // Scans the mailbox's mbox files and decides every file name and the
  // IMAP/POP3 state files (reference §4.3, §5.6).
  Status PlanMailbox(PlannedUser* u, PlannedMailbox* b) {
    std::set<std::string> kw_seen;
    for (size_t i = 0; i < b->sources.size(); ++i) {
      struct stat st;
      if (stat(b->sources[i].c_str(), &st) != 0) return FromErrno("cannot stat " + b->sources[i], errno);
      b->scanned.push_back(st);
      auto scan = mbox::ScanMbox(b->sources[i], scan_);
      if (!scan.ok()) return scan.status().WithContext("user " + u->account.name);
      mbox::AssignUids(scan_, &*scan);
      for (const auto& w : scan->warnings) u->report.warnings.push_back(w);
      if (i == 0) {
        b->uid_validity = scan->uid_validity;
        b->uid_next = scan->uid_last + 1;
      } else {
        // UW moved the spool's mail into ~/mbox: new UIDs after its last.
        u->report.warnings.push_back("user '" + u->account.name + "': " + b->sources[i] + ": " + std::to_string(scan->messages.size()) +
                                     " message(s) join INBOX after ~/mbox's with new UIDs, as UW-IMAP moved them");
        for (auto& msg : scan->messages) msg.uid = b->uid_next++;
      }
      for (const auto& msg : scan->messages)
        if (msg.uid >= b->uid_next) b->uid_next = msg.uid + 1;
      for (const auto& k : scan->keywords)
        if (kw_seen.insert(k).second) b->keywords.push_back(k);
      for (const auto& msg : scan->messages)
        for (const auto& k : msg.keywords)
          if (kw_seen.insert(k).second) b->keywords.push_back(k);
      b->scans.push_back(std::move(*scan));
    }
    if (b->scans.empty()) {  // no spool: an empty INBOX, UIDVALIDITY of now
      b->uid_validity = static_cast<std::uint32_t>(scan_.now);
      b->uid_next = 1;
    }
    const bool inbox = b->imap_name == "INBOX";
    bool names_carry = true;
    // UIDLs made from the UID are unique; an X-UIDL header or a format
    // without the UID may repeat, so only then are the names tracked.
    const bool may_repeat = uidl_format_ == "x-uidl" || uidl_format_.find('u') == std::string::npos;
    std::set<std::string> bases;
    const bool courier_too = opt_.imap_server == "courier";
    std::string uidlist = "3 V" + std::to_string(b->uid_validity) + " N" + std::to_string(b->uid_next) + "\n";
    std::string courier = "1 " + std::to_string(b->uid_validity) + " " + std::to_string(b->uid_next) + "\n";
    std::int64_t last_date = 0;
    for (auto& s : b->scans) {
      for (auto& msg : s.messages) {
        std::string uidl;
        if (inbox) {
          auto f = mbox::FormatUidl(uidl_format_, b->uid_validity, msg);
          if (!f.ok()) return f.status().WithContext("user " + u->account.name);
          uidl = *f;
        }
        std::string base;
        if (inbox && mbox::FileNameSafeUidl(uidl) && !bases.count(uidl)) {
          base = uidl;
        } else {
          if (inbox) names_carry = false;
          base = std::to_string(msg.internal_date) + ".V" + std::to_string(b->uid_validity) + "U" +
                 std::to_string(msg.uid) + "." + hostname_;
        }
        if (may_repeat && inbox) bases.insert(base);
        if (msg.internal_date < last_date && inbox)
          u->report.warnings.push_back("user '" + u->account.name + "': " + s.path + " message UID " + std::to_string(msg.uid) +
                                       ": its date is earlier than the one before; qmail-pop3d lists by file time "
                                       "and will show it earlier");
        last_date = msg.internal_date;
        std::string flags;
        if (msg.draft) flags += 'D';
        if (msg.flagged) flags += 'F';
        if (msg.answered) flags += 'R';
        if (msg.seen) flags += 'S';
        if (msg.deleted) flags += 'T';
        for (const auto& k : msg.keywords) {
          for (size_t i = 0; i < b->keywords.size(); ++i)
            if (b->keywords[i] == k && i < 26) flags += static_cast<char>('a' + i);
        }
        std::sort(flags.begin(), flags.end());
        bool to_new = msg.recent && flags.empty();
        b->names.push_back(to_new ? "new/" + base : "cur/" + base + ":2," + flags);
        bool p_ok = inbox && !uidl.empty() && uidl.find_first_of(" \t\r\n") == std::string::npos;
        if (inbox && !p_ok) u->report.warnings.push_back("user '" + u->account.name + "': INBOX UID " + std::to_string(msg.uid) +
                                                         ": POP3 UIDL '" + EscapeC(uidl) + "' cannot be kept");
        uidlist += std::to_string(msg.uid) + (p_ok ? " P" + uidl : std::string()) + " :" + base + "\n";
        if (courier_too) courier += std::to_string(msg.uid) + " " + base + "\n";
        ++u->report.messages;
        // Only the segments, the date and the size are needed from here on:
        // what is kept per message is what a batch's memory grows with.
        msg.envelope_sender = std::string();
        msg.x_uidl = std::string();
        msg.keywords = std::vector<std::string>();
        msg.segments.shrink_to_fit();
      }
    }
    if (b->keywords.size() > 26)
      u->report.warnings.push_back("user '" + u->account.name + "': " + b->imap_name + ": " + std::to_string(b->keywords.size()) +
                                   " keywords; Maildir file names hold 26, the rest are not kept");
    for (size_t i = 0; i < b->keywords.size() && i < 26; ++i)
      b->keywords_file += std::to_string(i) + " " + b->keywords[i] + "\n";
    b->uidlist = std::move(uidlist);
    if (courier_too) b->courier_uiddb = std::move(courier);
    if (inbox && !b->names.empty())
      u->report.uidl_kept = names_carry ? "dovecot+qmail-pop3d" : "dovecot";
    return Status::OK();
  }

  // The messages are copied by the offsets the scan found: a mailbox
  // rewritten since (an expunge by a mail client still running on the old
  // host) would give wrong bytes, so it is refused. Mail appended at the end
  // does not move those offsets; it is left for a later run.
  Status Unchanged(int fd, const std::string& path, const struct stat& then) {
    struct stat now;
    if (fstat(fd, &now) != 0) return FromErrno("cannot stat " + path, errno);
    if (now.st_ino != then.st_ino || now.st_dev != then.st_dev || now.st_size < then.st_size)
      return Status::Conflict(path + " was rewritten while it was exported (stop the old host's mail "
                              "clients and delivery, then run again)");
    if (now.st_size > then.st_size)
      report_->warnings.push_back(path + ": mail arrived while it was exported; the new messages are not in "
                                  "this archive");
    return Status::OK();
  }

  EntryInfo Info(const std::string& path, mode_t mode, std::int64_t mtime) {
    EntryInfo i;
    i.path = path;
    i.mode = mode;
    i.mtime_sec = mtime;
    return i;
  }

  Status WriteArchive(Manifest& m, const std::vector<PlannedUser>& users, const std::string& output) {
    auto sink = MemberSink::Open(output, opt_.compression, opt_.overwrite);
    if (!sink.ok()) return sink.status();
    MemberSink* s = sink->get();
    const std::int64_t now = scan_.now;
    const ManifestDomain& d = m.domains[0];
    VM_RETURN_IF_ERROR(s->AddBytes(Info(kManifestEntry, 0600, now), ManifestToYaml(m)));
    const std::string files = ArchiveFilesPrefix(d.name);
    VM_RETURN_IF_ERROR(s->AddDirectory(Info(files.substr(0, files.size() - 1), 0700, now)));
    // What vadddomain writes: unknown recipients bounce (qmailadmin may
    // make it a catch-all later).
    VM_RETURN_IF_ERROR(s->AddBytes(Info(files + ".qmail-default", 0600, now),
                                   std::string("| ") + kPlaceholderVpopmailHome +
                                       "/bin/vdelivermail '' bounce-no-mailbox\n",
                                   true));
    std::vector<char> buf(kCopyChunk);
    for (const PlannedUser& u : users) {
      const std::string home = ArchiveUserPrefix(d.name, u.conv.name);
      VM_RETURN_IF_ERROR(s->AddDirectory(Info(home.substr(0, home.size() - 1), 0700, now)));
      if (!u.qmail.empty()) VM_RETURN_IF_ERROR(s->AddBytes(Info(home + ".qmail", 0600, now), u.qmail, true));
      for (const PlannedMailbox& b : u.boxes) {
        const std::string dir = home + b.dir;
        VM_RETURN_IF_ERROR(s->AddDirectory(Info(dir, 0700, now)));
        for (const char* sub : {"cur", "new", "tmp"})
          VM_RETURN_IF_ERROR(s->AddDirectory(Info(dir + "/" + sub, 0700, now)));
        if (b.dir != "Maildir") VM_RETURN_IF_ERROR(s->AddBytes(Info(dir + "/maildirfolder", 0600, now), ""));
        if (b.dir == "Maildir" && !u.subscriptions.empty())
          VM_RETURN_IF_ERROR(s->AddBytes(Info(dir + "/subscriptions", 0600, now), u.subscriptions));
        VM_RETURN_IF_ERROR(s->AddBytes(Info(dir + "/dovecot-uidlist", 0600, now), b.uidlist));
        if (!b.keywords_file.empty())
          VM_RETURN_IF_ERROR(s->AddBytes(Info(dir + "/dovecot-keywords", 0600, now), b.keywords_file));
        if (!b.courier_uiddb.empty())
          VM_RETURN_IF_ERROR(s->AddBytes(Info(dir + "/courierimapuiddb", 0600, now), b.courier_uiddb));
        size_t n = 0;
        for (size_t i = 0; i < b.scans.size(); ++i) {
          int fd = open(b.sources[i].c_str(), O_RDONLY | O_CLOEXEC);
          if (fd < 0) return FromErrno("cannot open " + b.sources[i], errno);
          Status st = Unchanged(fd, b.sources[i], b.scanned[i]);
          for (const mbox::Message& msg : b.scans[i].messages) {
            if (!st.ok()) break;
            if (opt_.interrupted && opt_.interrupted->load()) {
              st = Status::Interrupted("interrupted");
              break;
            }
            EntryInfo info = Info(dir + "/" + b.names[n++], 0600, msg.internal_date);
            info.size = msg.size;
            st = s->BeginFile(info);
            if (st.ok())
              st = mbox::CopyMessage(fd, msg, [&](const char* p, size_t len) {
                if (opt_.progress) opt_.progress->AddBytes(len);
                return s->WriteData(p, len);
              });
            if (st.ok()) st = s->EndFile();
            if (!st.ok()) break;
            if (opt_.progress) opt_.progress->MessageDone();
          }
          close(fd);
          if (!st.ok())
            return s->failed() || st.code() == Status::Code::kInterrupted
                       ? st
                       : st.WithContext("user " + u.account.name + ", " + b.sources[i]);
        }
      }
      if (opt_.progress) opt_.progress->UserDone();
    }
    VM_RETURN_IF_ERROR(s->Finish());
    report_->entries += s->members() + 1;
    return Status::OK();
  }

  const UnixExportOptions& opt_;
  UnixExportReport* report_;
  std::string domain_, hostname_, uidl_format_;
  mbox::ScanOptions scan_;
};

}  // namespace

Status ExportUnix(const UnixExportOptions& options, UnixExportReport* report) {
  if (options.batch_size && !options.dry_run) {
    struct stat st;
    if (stat(options.output.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status::InvalidInput("--batch: -o " + options.output + " must be an existing directory");
  }
  return UnixExporter(options, report).Run();
}

}  // namespace vmigrate::unixhost
