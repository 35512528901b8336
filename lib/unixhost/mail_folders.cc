#include "unixhost/mail_folders.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate::unixhost {
namespace {

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

std::string Quote(const std::string& s) { return "'" + EscapeC(s) + "'"; }

int Base64Value(char c) {
  const char* p = std::strchr(kBase64, c);
  return (c != '\0' && p != nullptr) ? static_cast<int>(p - kBase64) : -1;
}

// Next code point of UTF-8 `s` at `*i`; a byte that does not start a valid
// sequence is taken as Latin-1.
unsigned long NextCodePoint(const std::string& s, size_t* i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(*i);
  const size_t extra = (b >= 0xc2 && b <= 0xdf) ? 1 : (b >= 0xe0 && b <= 0xef) ? 2
                       : (b >= 0xf0 && b <= 0xf4) ? 3 : 0;
  auto latin1 = [&]() -> unsigned long {
    ++*i;
    return b;
  };
  if (extra == 0 || *i + extra >= s.size()) return latin1();
  unsigned long cp = b & (0x3fu >> extra);
  for (size_t k = 1; k <= extra; ++k) {
    unsigned char c = byte(*i + k);
    if ((c & 0xc0) != 0x80) return latin1();
    cp = (cp << 6) | (c & 0x3fu);
  }
  static const unsigned long kMin[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return latin1();
  *i += extra + 1;
  return cp;
}

void FlushRun(std::vector<unsigned char>* run, std::string* out) {
  if (run->empty()) return;
  *out += '&';
  unsigned long bits = 0;
  int nbits = 0;
  for (unsigned char b : *run) {
    bits = (bits << 8) | b;
    nbits += 8;
    while (nbits >= 6) {
      nbits -= 6;
      *out += kBase64[(bits >> nbits) & 0x3f];
    }
  }
  if (nbits > 0) *out += kBase64[(bits << (6 - nbits)) & 0x3f];
  *out += '-';
  run->clear();
}

// Why a file below the folder directory is not a mbox folder, "" when it is
// one (empty, or starting with a From_ line's "From ").
std::string NotMboxReason(const std::string& path, std::int64_t size) {
  if (size == 0) return "";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot be opened (" + std::string(std::strerror(errno)) + ")";
  char head[5] = {0};
  ssize_t n = read(fd, head, sizeof head);
  close(fd);
  if (n == 5 && std::string(head, 5) == "From ") return "";
  if (n >= 5 && std::string(head, 5) == "*mbx*") return "is a UW mbx file, not mbox";
  return "does not start with a From_ line (not mbox)";
}

std::string DotToUnderscore(const std::string& s) {
  std::string out = s;
  std::replace(out.begin(), out.end(), '.', '_');
  return out;
}

std::string TabUnescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\001' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 't' ? '\t' : c == 'r' ? '\r' : c == 'n' ? '\n' : c == '1' ? '\001' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string TabEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\001': out += "\0011"; break;
      case '\t': out += "\001t"; break;
      case '\r': out += "\001r"; break;
      case '\n': out += "\001n"; break;
      default: out += c;
    }
  }
  return out;
}

// One walk of a user's folder directory.
class FolderWalk {
 public:
  FolderWalk(std::string who, UserMail* mail) : who_(std::move(who)), mail_(mail) {}

  // `dir` on disk; `imap`/`target` the names of `dir` so far ("" at the top).
  Status Walk(const std::string& dir, const std::string& imap, const std::string& target) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return FromErrno("cannot read folder directory " + dir, errno);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = readdir(d)) names.emplace_back(e->d_name);
    int err = errno;
    closedir(d);
    if (err != 0) return FromErrno("cannot read folder directory " + dir, err);
    std::sort(names.begin(), names.end());
    std::set<std::string> present(names.begin(), names.end());
    for (const std::string& name : names) {
      if (name[0] == '.') continue;  // ".", "..", .imap/, .subscriptions, other dot files
      const std::string path = dir + "/" + name;
      struct stat st;
      if (lstat(path.c_str(), &st) != 0) return FromErrno("cannot stat " + path, errno);
      std::string imap_part = IsModifiedUtf7(name) ? name : EncodeModifiedUtf7(name);
      if (imap_part != name)
        Warn(Quote(path) + ": name is not modified UTF-7; named " + Quote(imap_part));
      const std::string imap_name = imap.empty() ? imap_part : imap + "/" + imap_part;
      std::string part = DotToUnderscore(imap_part);
      if (S_ISLNK(st.st_mode)) {
        Warn(Quote(path) + ": symbolic link, not followed (carry its target by hand)");
      } else if (S_ISDIR(st.st_mode)) {
        if (IsMaildir(path)) {
          Warn(Quote(path) + ": a Maildir, not a mbox folder; not carried");
          continue;
        }
        if (part != imap_part)
          Warn("folder directory " + Quote(imap_name) + ": '.' cannot be in a Maildir++ name; "
               "its folders go under " + Quote(part));
        dirs_[imap_name] = target.empty() ? part : target + "/" + part;
        VM_RETURN_IF_ERROR(Walk(path, imap_name, dirs_[imap_name]));
      } else if (!S_ISREG(st.st_mode)) {
        Warn(Quote(path) + ": not a regular file; not carried");
      } else if (EndsWith(name, ".lock") && present.count(name.substr(0, name.size() - 5))) {
        Warn(Quote(path) + ": a dotlock (is a mail program still running?); not carried");
      } else if (std::string why = NotMboxReason(path, st.st_size); !why.empty()) {
        Warn(Quote(path) + ": " + why + "; not carried");
      } else {
        pending_.push_back(Pending{path, imap_name, target, part, imap_part, st.st_size});
      }
    }
    return Status::OK();
  }

  const std::map<std::string, std::string>& dirs() const { return dirs_; }

  // Gives each folder found its new name: first those whose name needs no
  // change keep it, then the others take theirs (a '_N' suffix when taken),
  // so a folder is renamed only because of its own name.
  void NameFolders() {
    auto full = [](const Pending& p, const std::string& leaf) {
      return p.target.empty() ? leaf : p.target + "/" + leaf;
    };
    // The real INBOX is the spool; a top-level folder of that name would hide it.
    auto clashes_inbox = [](const Pending& p, const std::string& leaf) {
      return p.target.empty() && ToLower(leaf) == "inbox";
    };
    std::vector<const Pending*> later;
    for (const Pending& p : pending_) {
      bool as_is = p.part == p.imap_part && !clashes_inbox(p, p.part) && !used_.count(full(p, p.part));
      if (as_is) {
        Place(p, p.part);
      } else {
        later.push_back(&p);
      }
    }
    for (const Pending* p : later) {
      std::string base = clashes_inbox(*p, p->part) ? p->part + "_folder" : p->part;
      std::string leaf = base;
      for (int n = 2; used_.count(full(*p, leaf)); ++n) leaf = base + "_" + std::to_string(n);
      Place(*p, leaf);
    }
  }

 private:
  // A mbox file found by Walk, waiting for NameFolders.
  struct Pending {
    std::string path, imap_name;
    std::string target;     // new name of its directory ("" at the top)
    std::string part;       // its own name fitted to Maildir++ ('.' -> '_')
    std::string imap_part;  // its own name in modified UTF-7
    std::int64_t size;
  };

  static bool IsMaildir(const std::string& path) {
    struct stat st;
    return stat((path + "/cur").c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
           stat((path + "/new").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  void Place(const Pending& p, const std::string& leaf) {
    Folder f;
    f.path = p.path;
    f.imap_name = p.imap_name;
    f.new_imap_name = p.target.empty() ? leaf : p.target + "/" + leaf;
    used_.insert(f.new_imap_name);
    if (f.new_imap_name != f.imap_name && leaf != p.imap_part)
      Warn("folder " + Quote(p.imap_name) + " becomes " + Quote(f.new_imap_name) +
           (p.part != p.imap_part ? " ('.' cannot be in a Maildir++ name)" : " (its name is taken)"));
    f.maildir_name = "." + f.new_imap_name;
    std::replace(f.maildir_name.begin(), f.maildir_name.end(), '/', '.');
    f.bytes = p.size;
    mail_->folders.push_back(std::move(f));
  }

  void Warn(const std::string& what) { mail_->warnings.push_back(who_ + ": " + what); }

  std::string who_;
  UserMail* mail_;
  std::vector<Pending> pending_;             // folders found, named by NameFolders
  std::set<std::string> used_;               // new names taken so far
  std::map<std::string, std::string> dirs_;  // directory imap name -> new name
};

// A regular file at `path`: its size in *size, true. Absent: false. A
// non-file is warned about and treated as absent.
Result<bool> FindFile(const std::string& path, const std::string& who, std::int64_t* size,
                      UserMail* mail) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return FromErrno("cannot stat " + path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    mail->warnings.push_back(who + ": " + Quote(path) + " is not a regular file; not read");
    return false;
  }
  if (std::string why = NotMboxReason(path, st.st_size); !why.empty()) {
    mail->warnings.push_back(who + ": " + Quote(path) + " " + why + "; not carried");
    return false;
  }
  *size = st.st_size;
  return true;
}

}  // namespace

Result<UserMail> FindUserMail(const std::string& root, const Account& a, const std::string& spool_dir,
                              const std::string& folders_rel) {
  const std::string who = "user " + Quote(ToLower(a.name));
  std::string rel = folders_rel.empty() ? "mail" : folders_rel;
  if (StartsWith(rel, "~/")) rel = rel.substr(2);
  while (rel.size() > 1 && rel.back() == '/') rel.pop_back();
  if (rel.empty() || rel[0] == '/' || rel == ".." || StartsWith(rel, "../") ||
      rel.find("/../") != std::string::npos || EndsWith(rel, "/.."))
    return Status::InvalidInput("folder directory " + Quote(folders_rel) +
                                ": must be relative to the home directory, without '..'");
  UserMail mail;
  std::string base = root;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string spool_host = spool_dir.empty() ? "/var/mail" : spool_dir;
  while (spool_host.size() > 1 && spool_host.back() == '/') spool_host.pop_back();
  std::int64_t size = 0;
  const std::string spool = base + spool_host + "/" + a.name;
  Result<bool> has = FindFile(spool, who, &size, &mail);
  if (!has.ok()) return has.status();
  if (*has) {
    mail.spool = spool;
    mail.bytes += size;
  }
  const std::string home = HomeOnDisk(root, a);
  if (home.empty()) {
    if (!a.home.empty() && a.home != "/nonexistent")
      mail.warnings.push_back(who + ": home " + Quote(a.home) + " is not an absolute path inside the root; not read");
    return mail;
  }
  has = FindFile(home + "/mbox", who, &size, &mail);
  if (!has.ok()) return has.status();
  if (*has) {
    mail.mbox = home + "/mbox";
    mail.bytes += size;
  }

  const std::string folder_root = rel == "." ? home : home + "/" + rel;
  struct stat st;
  FolderWalk walk(who, &mail);
  // stat, not lstat: ~/mail is often a symlink to a bigger disk.
  int rc = stat(folder_root.c_str(), &st);
  int err = rc == 0 ? 0 : errno;
  if (rc == 0 && S_ISDIR(st.st_mode)) {
    VM_RETURN_IF_ERROR(walk.Walk(folder_root, "", ""));
    walk.NameFolders();
  } else if (rc == 0) {
    mail.warnings.push_back(who + ": " + Quote(folder_root) + " is not a directory; no folders read");
  } else if (err != ENOENT && err != ENOTDIR) {
    return FromErrno("cannot stat " + folder_root, err);
  }
  for (const Folder& f : mail.folders) mail.bytes += f.bytes;
  std::sort(mail.folders.begin(), mail.folders.end(),
            [](const Folder& x, const Folder& y) { return x.new_imap_name < y.new_imap_name; });

  // Source IMAP name -> new name, for folders and for folder directories.
  std::map<std::string, std::string> rename = walk.dirs();
  for (const Folder& f : mail.folders) rename[f.imap_name] = f.new_imap_name;
  auto subscribe = [&](const std::string& name, const std::string& file) {
    std::string target = name;
    if (ToLower(name) == "inbox") {
      target = "INBOX";
    } else if (auto it = rename.find(name); it != rename.end()) {
      target = it->second;
    } else {
      mail.warnings.push_back(who + ": " + file + ": " + Quote(name) +
                              " names no folder (kept as a subscription)");
    }
    if (std::find(mail.subscriptions.begin(), mail.subscriptions.end(), target) ==
        mail.subscriptions.end())
      mail.subscriptions.push_back(target);
  };

  // Dovecot: version 2 joins hierarchy levels with TAB, version 1 (no
  // header) writes names with the list's separator, '/' for mbox.
  Result<std::string> dovecot = ReadSmallFile(folder_root + "/.subscriptions", 4u << 20);
  if (!dovecot.ok() && dovecot.status().code() != Status::Code::kNotFound) return dovecot.status();
  if (dovecot.ok()) {
    std::vector<std::string> lines = SplitLines(*dovecot);
    bool v2 = !lines.empty() && lines[0] == "V\t2";
    for (size_t i = v2 ? 1 : 0; i < lines.size(); ++i) {
      if (lines[i].empty()) continue;
      std::vector<std::string> parts = Split(lines[i], '\t');
      for (std::string& p : parts) p = v2 ? TabUnescape(p) : p;
      subscribe(v2 ? Join(parts, "/") : lines[i], "~/" + rel + "/.subscriptions");
    }
  }
  // UW: names as c-client clients gave them, relative to the home (§5.3).
  Result<std::string> uw = ReadSmallFile(home + "/.mailboxlist", 4u << 20);
  if (!uw.ok() && uw.status().code() != Status::Code::kNotFound) return uw.status();
  if (uw.ok()) {
    const std::string prefix = rel == "." ? "" : rel + "/";
    for (const std::string& line : SplitLines(*uw)) {
      if (line.empty()) continue;
      if (ToLower(line) == "inbox") {
        subscribe(line, "~/.mailboxlist");
      } else if (StartsWith(line, prefix) && line.size() > prefix.size()) {
        subscribe(line.substr(prefix.size()), "~/.mailboxlist");
      } else {
        mail.warnings.push_back(who + ": ~/.mailboxlist: " + Quote(line) + " is outside ~/" + rel +
                                "; subscription dropped");
      }
    }
  }
  return mail;
}

Result<std::vector<std::string>> OrphanSpools(const std::string& root, const std::string& spool_dir,
                                              const std::vector<Account>& all) {
  std::string dir = root;
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  dir += spool_dir.empty() ? "/var/mail" : spool_dir;
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return out;
    return FromErrno("cannot read spool directory " + dir, errno);
  }
  std::set<std::string> names;
  for (const Account& a : all) names.insert(a.name);
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name[0] == '.' || EndsWith(name, ".lock") || names.count(name)) continue;
    struct stat st;
    if (lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) out.push_back(name);
  }
  int err = errno;
  closedir(d);
  if (err != 0) return FromErrno("cannot read spool directory " + dir, err);
  std::sort(out.begin(), out.end());
  return out;
}

Status CheckDisabledHasMail(const std::string& name, bool disabled, const UserMail& mail) {
  if (disabled && mail.bytes == 0)
    return Status::DataRefused("user " + Quote(name) +
                               ": cannot log in and has no mail; nothing to carry");
  return Status::OK();
}

std::string EncodeModifiedUtf7(const std::string& utf8) {
  std::string out;
  std::vector<unsigned char> run;  // UTF-16BE bytes waiting for base64
  for (size_t i = 0; i < utf8.size();) {
    unsigned long cp = NextCodePoint(utf8, &i);
    if (cp >= 0x20 && cp <= 0x7e) {
      FlushRun(&run, &out);
      out += static_cast<char>(cp);
      if (cp == '&') out += '-';
      continue;
    }
    auto unit = [&](unsigned long u) {
      run.push_back(static_cast<unsigned char>(u >> 8));
      run.push_back(static_cast<unsigned char>(u & 0xff));
    };
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(0xd800 | (cp >> 10));
      unit(0xdc00 | (cp & 0x3ff));
    } else {
      unit(cp);
    }
  }
  FlushRun(&run, &out);
  return out;
}

bool IsModifiedUtf7(const std::string& name) {
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c > 0x7e) return false;
    if (c != '&') continue;
    size_t end = name.find('-', i + 1);
    if (end == std::string::npos) return false;
    if (end == i + 1) {  // "&-" is '&'
      i = end;
      continue;
    }
    unsigned long bits = 0;
    int nbits = 0;
    for (size_t k = i + 1; k < end; ++k) {
      int v = Base64Value(name[k]);
      if (v < 0) return false;
      bits = ((bits << 6) | static_cast<unsigned long>(v)) & 0xffffff;
      nbits += 6;
      if (nbits >= 16) nbits -= 16;
    }
    // Whole UTF-16 units only: fewer than 6 bits left over, all zero.
    if (nbits >= 6 || (bits & ((1ul << nbits) - 1)) != 0) return false;
    i = end;
  }
  return true;
}

std::string FormatSubscriptions(const std::vector<std::string>& names) {
  std::string out = "V\t2\n\n";
  for (const std::string& name : names) {
    std::vector<std::string> parts = Split(name, '/');
    for (std::string& p : parts) p = TabEscape(p);
    out += Join(parts, "\t") + "\n";
  }
  return out;
}

}  // namespace vmigrate::unixhost
