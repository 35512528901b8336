#include "pull/pulled_folder.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/strings.h"
#include "unixhost/mail_folders.h"

namespace vmigrate::pull {
namespace {

constexpr const char kStateName[] = "vmigrate-pull";
constexpr const char kTmpPrefix[] = "vmigrate-pull.";

bool ParseU32(std::string_view s, uint32_t* out) {
  unsigned long long v = 0;
  if (!ParseUint64(s, &v) || v > 0xffffffffULL) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;
    return FromErrno(dir, errno);
  }
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(std::move(n));
  }
  closedir(d);
  return names;
}

Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return Status::OK();
  return FromErrno("cannot create " + path, errno);
}

Result<PullState> ParseState(const std::string& text, const std::string& path) {
  PullState st;
  auto lines = SplitLines(text);
  if (lines.empty() || lines[0] != "vmigrate-pull 1")
    return Status::Corrupt(path + ": not a vmigrate pull state (first line '" + EscapeC(lines.empty() ? "" : lines[0]) + "')");
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    size_t sp = l.find(' ');
    std::string key = l.substr(0, sp), value = sp == std::string::npos ? "" : l.substr(sp + 1);
    bool ok = true;
    if (key == "source") st.source = value;
    else if (key == "uidvalidity") ok = ParseU32(value, &st.uidvalidity);
    else if (key == "next-uid") ok = ParseU32(value, &st.next_uid);
    else if (key == "uidl") st.uidls.insert(value);
    if (!ok) return Status::Corrupt(path + " line " + std::to_string(i + 1) + ": bad number '" + EscapeC(value) + "'");
  }
  return st;
}

std::string FormatState(const PullState& st) {
  std::string out = "vmigrate-pull 1\nsource " + st.source + "\nuidvalidity " + std::to_string(st.uidvalidity) +
                    "\nnext-uid " + std::to_string(st.next_uid) + "\n";
  for (const auto& u : st.uidls) out += "uidl " + u + "\n";
  return out;
}

}  // namespace

Result<UidList> ParseUidList(const std::string& text, const std::string& path) {
  UidList list;
  auto lines = SplitLines(text);
  if (lines.empty()) return Status::Corrupt(path + ": empty");
  auto header = Split(lines[0], ' ');
  if (header[0] != "3")
    return Status::Unsupported(path + ": dovecot-uidlist version '" + EscapeC(header[0]) + "' (only 3 is read)");
  for (size_t i = 1; i < header.size(); ++i) {
    const std::string& h = header[i];
    if (h.size() > 1 && h[0] == 'V' && !ParseU32(h.substr(1), &list.uidvalidity))
      return Status::Corrupt(path + " line 1: bad " + h);
    if (h.size() > 1 && h[0] == 'N' && !ParseU32(h.substr(1), &list.uidnext))
      return Status::Corrupt(path + " line 1: bad " + h);
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty()) continue;
    size_t colon = l.find(" :");
    if (colon == std::string::npos) return Status::Corrupt(path + " line " + std::to_string(i + 1) + ": no ' :<file name>'");
    UidRecord r;
    r.base = l.substr(colon + 2);
    auto fields = Split(l.substr(0, colon), ' ');
    if (!ParseU32(fields[0], &r.uid)) return Status::Corrupt(path + " line " + std::to_string(i + 1) + ": bad UID");
    for (size_t f = 1; f < fields.size(); ++f) {
      if (fields[f].empty()) continue;
      if (fields[f][0] == 'P') {
        r.pop3_uidl = fields[f].substr(1);
      } else {
        r.extra += (r.extra.empty() ? "" : " ") + fields[f];
      }
    }
    list.records.push_back(std::move(r));
  }
  return list;
}

std::string FormatUidList(const UidList& list) {
  std::string out = "3 V" + std::to_string(list.uidvalidity) + " N" + std::to_string(list.uidnext) + "\n";
  for (const auto& r : list.records) {
    out += std::to_string(r.uid);
    if (!r.pop3_uidl.empty()) out += " P" + r.pop3_uidl;
    if (!r.extra.empty()) out += " " + r.extra;
    out += " :" + r.base + "\n";
  }
  return out;
}

PulledFolder::PulledFolder(std::string dir, std::string maildir, uid_t owner_uid, gid_t owner_gid)
    : dir_(std::move(dir)), maildir_(std::move(maildir)), uid_(owner_uid), gid_(owner_gid) {}

Status PulledFolder::Chown(const std::string& path) const {
  if (geteuid() != 0) return Status::OK();
  if (lchown(path.c_str(), uid_, gid_) != 0) return FromErrno("cannot chown " + path, errno);
  return Status::OK();
}

Status PulledFolder::WriteOwned(const std::string& path, const std::string& contents) const {
  std::optional<FileOwner> owner;
  if (geteuid() == 0) owner = FileOwner{uid_, gid_};
  return WriteFileAtomic(path, contents, 0600, owner);
}

Status PulledFolder::Open(bool is_inbox, bool dry_run) {
  struct stat st;
  if (stat(dir_.c_str(), &st) != 0) {
    if (errno != ENOENT) return FromErrno(dir_, errno);
    if (!dry_run) {
      VM_RETURN_IF_ERROR(MakeDir(dir_));
      VM_RETURN_IF_ERROR(Chown(dir_));
    }
  }
  if (!dry_run) {
    for (const char* sub : {"/tmp", "/new", "/cur"}) {
      VM_RETURN_IF_ERROR(MakeDir(dir_ + sub));
      VM_RETURN_IF_ERROR(Chown(dir_ + sub));
    }
    if (!is_inbox && access((dir_ + "/maildirfolder").c_str(), F_OK) != 0) {
      VM_RETURN_IF_ERROR(WriteOwned(dir_ + "/maildirfolder", ""));
    }
    // Our own leftovers of a run that was killed: never visible, so gone.
    auto tmp = ListDir(dir_ + "/tmp");
    if (!tmp.ok()) return tmp.status();
    for (const auto& n : *tmp)
      if (StartsWith(n, kTmpPrefix)) unlink((dir_ + "/tmp/" + n).c_str());
  }
  for (const char* sub : {"/cur", "/new"}) {
    auto names = ListDir(dir_ + sub);
    if (!names.ok()) return names.status();
    for (const auto& n : *names) bases_.insert(n.substr(0, n.find(':')));
  }
  auto ul = ReadSmallFile(dir_ + "/dovecot-uidlist");
  if (ul.ok()) {
    auto parsed = ParseUidList(*ul, dir_ + "/dovecot-uidlist");
    if (!parsed.ok()) return parsed.status();
    uidlist_ = std::move(*parsed);
  } else if (ul.status().code() != Status::Code::kNotFound) {
    return ul.status();
  }
  auto kw = ReadSmallFile(dir_ + "/dovecot-keywords");
  if (kw.ok()) {
    for (const auto& l : SplitLines(*kw)) {
      size_t sp = l.find(' ');
      unsigned long long idx = 0;
      if (sp == std::string::npos || !ParseUint64(l.substr(0, sp), &idx) || idx >= 26) continue;
      if (keywords_.size() <= idx) keywords_.resize(idx + 1);
      keywords_[idx] = l.substr(sp + 1);
    }
  } else if (kw.status().code() != Status::Code::kNotFound) {
    return kw.status();
  }
  auto state = ReadSmallFile(dir_ + "/" + kStateName);
  if (state.ok()) {
    auto parsed = ParseState(*state, dir_ + "/" + kStateName);
    if (!parsed.ok()) return parsed.status();
    state_ = std::move(*parsed);
  } else if (state.status().code() != Status::Code::kNotFound) {
    return state.status();
  }
  return Status::OK();
}

bool PulledFolder::OwnsUidList() const {
  return !uidlist_.has_value() || uidlist_->records.empty() || state_.has_value();
}

Result<size_t> PulledFolder::RemovePreviousPull() {
  size_t removed = 0;
  if (!uidlist_) return removed;
  std::set<std::string> ours;
  for (const auto& r : uidlist_->records) ours.insert(r.base);
  for (const char* sub : {"/cur", "/new"}) {
    auto names = ListDir(dir_ + sub);
    if (!names.ok()) return names.status();
    for (const auto& n : *names) {
      std::string base = n.substr(0, n.find(':'));
      if (!ours.count(base)) continue;
      std::string path = dir_ + sub + "/" + n;
      if (unlink(path.c_str()) != 0) return FromErrno("cannot remove " + path, errno);
      bases_.erase(base);
      ++removed;
    }
  }
  uidlist_.reset();
  return removed;
}

std::string PulledFolder::FlagLetters(const std::vector<std::string>& flags, size_t* dropped) {
  std::string letters;
  for (const auto& f : flags) {
    std::string lower = ToLower(f);
    if (lower == "\\seen") letters += 'S';
    else if (lower == "\\answered") letters += 'R';
    else if (lower == "\\flagged") letters += 'F';
    else if (lower == "\\draft") letters += 'D';
    else if (lower == "\\deleted") letters += 'T';
    else if (lower == "\\recent") continue;
    else if (!f.empty() && f[0] == '\\') ++*dropped;  // an unknown system flag
    else {
      size_t i = std::find(keywords_.begin(), keywords_.end(), f) - keywords_.begin();
      if (i == keywords_.size()) {
        auto hole = std::find(keywords_.begin(), keywords_.end(), std::string());
        i = hole - keywords_.begin();
        if (i >= 26) {
          ++*dropped;
          continue;
        }
        if (hole == keywords_.end()) keywords_.push_back(f);
        else *hole = f;
        keywords_changed_ = true;
      }
      letters += static_cast<char>('a' + i);
    }
  }
  std::sort(letters.begin(), letters.end());
  letters.erase(std::unique(letters.begin(), letters.end()), letters.end());
  return letters;
}

Status PulledFolder::Add(const std::string& base, const std::string& body, int64_t mtime, bool to_cur,
                         const std::string& letters) {
  std::string tmp = dir_ + "/tmp/" + kTmpPrefix + std::to_string(getpid()) + "." + std::to_string(seq_++);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return FromErrno("cannot create " + tmp, errno);
  size_t off = 0;
  while (off < body.size()) {
    ssize_t n = write(fd, body.data() + off, body.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return FromErrno("cannot write " + tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
  if (futimens(fd, times) != 0 || (geteuid() == 0 && fchown(fd, uid_, gid_) != 0)) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return FromErrno("cannot set the time or owner of " + tmp, err);
  }
  if (close(fd) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return FromErrno("cannot write " + tmp, err);
  }
  std::string final_path = to_cur ? dir_ + "/cur/" + base + ":2," + letters : dir_ + "/new/" + base;
  pending_.push_back({tmp, final_path, body.size()});
  pending_bytes_ += body.size();
  bases_.insert(base);
  return Status::OK();
}

Status PulledFolder::Commit() {
  if (pending_.empty()) return Status::OK();
  // One flush for the batch, then the renames: cur/ and new/ only ever hold
  // complete, durable messages.
  VM_RETURN_IF_ERROR(SyncFilesystemOf(dir_ + "/tmp"));
  uint64_t bytes = 0;
  for (const auto& p : pending_) {
    if (rename(p.tmp.c_str(), p.final_path.c_str()) != 0) return FromErrno("cannot rename " + p.tmp + " to " + p.final_path, errno);
    bytes += p.bytes;
  }
  VM_RETURN_IF_ERROR(SyncDirectory(dir_ + "/cur"));
  VM_RETURN_IF_ERROR(SyncDirectory(dir_ + "/new"));
  // Maildir++ quota: a delivery appends its size and count; vpopmail and
  // Courier add the lines up (and recalculate when the file grows too long).
  std::string msize = maildir_ + "/maildirsize";
  int fd = open(msize.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd >= 0) {
    std::string line = std::to_string(bytes) + " " + std::to_string(pending_.size()) + "\n";
    ssize_t n = write(fd, line.data(), line.size());
    int err = errno;
    close(fd);
    if (n != static_cast<ssize_t>(line.size())) return FromErrno("cannot append to " + msize, err);
  } else if (errno != ENOENT) {
    return FromErrno("cannot open " + msize, errno);
  }
  pending_.clear();
  pending_bytes_ = 0;
  return Status::OK();
}

Status PulledFolder::Finish(const std::optional<UidList>& list, const PullState& state) {
  if (keywords_changed_) {
    std::string text;
    for (size_t i = 0; i < keywords_.size(); ++i)
      if (!keywords_[i].empty()) text += std::to_string(i) + " " + keywords_[i] + "\n";
    VM_RETURN_IF_ERROR(WriteOwned(dir_ + "/dovecot-keywords", text));
    keywords_changed_ = false;
  }
  if (list) {
    // Dovecot's own way: the new list is written into the lock file, which
    // is renamed over the old one; an existing lock means Dovecot is
    // writing, so we wait for it (up to 30 s), as Dovecot does for another.
    std::string lock = dir_ + "/dovecot-uidlist.lock";
    int fd = -1;
    for (int tries = 0; tries < 300; ++tries) {
      fd = open(lock.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0 || errno != EEXIST) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (fd < 0) return FromErrno("cannot take " + lock, errno == EEXIST ? EBUSY : errno);
    std::string text = FormatUidList(*list);
    bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0 &&
              (geteuid() != 0 || fchown(fd, uid_, gid_) == 0);
    int err = errno;
    close(fd);
    if (!ok || rename(lock.c_str(), (dir_ + "/dovecot-uidlist").c_str()) != 0) {
      if (ok) err = errno;
      unlink(lock.c_str());
      return FromErrno("cannot write " + dir_ + "/dovecot-uidlist", err);
    }
    uidlist_ = *list;
  }
  VM_RETURN_IF_ERROR(WriteOwned(dir_ + "/" + kStateName, FormatState(state)));
  state_ = state;
  return SyncDirectory(dir_);
}

Status AddSubscriptions(const std::string& maildir, const std::vector<std::string>& names, uid_t owner_uid,
                        gid_t owner_gid) {
  std::string path = maildir + "/subscriptions";
  std::string old;
  auto read = ReadSmallFile(path);
  if (read.ok()) old = *read;
  else if (read.status().code() != Status::Code::kNotFound) return read.status();
  std::string fresh = unixhost::FormatSubscriptions(names);
  if (old.empty()) {
    if (names.empty()) return Status::OK();
    old = fresh;
  } else {
    // Keep every line there is; add the new ones after (both files are
    // "V\t2\n\n" and one name a line).
    std::set<std::string> have;
    for (const auto& l : SplitLines(old)) have.insert(l);
    auto lines = SplitLines(fresh);
    bool changed = false;
    if (!old.empty() && old.back() != '\n') old += '\n';
    for (size_t i = 2; i < lines.size(); ++i)
      if (!lines[i].empty() && have.insert(lines[i]).second) {
        old += lines[i] + "\n";
        changed = true;
      }
    if (!changed) return Status::OK();
  }
  std::optional<FileOwner> owner;
  if (geteuid() == 0) owner = FileOwner{owner_uid, owner_gid};
  return WriteFileAtomic(path, old, 0600, owner);
}

}  // namespace vmigrate::pull
