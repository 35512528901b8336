#include "importer/mailbox_restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "core/dir_mode.h"
#include "core/errno_status.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "qmail/domains.h"
#include "vpopmail/names.h"
#include "vpopmail/user_store.h"

namespace vmigrate {
namespace {

// The Maildir unique name: a message keeps it when its flags change
// ("1700000000.123.host,S=42:2,S" -> "1700000000.123.host,S=42").
std::string UniqueName(const std::string& file) { return file.substr(0, file.find(':')); }

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// "Maildir/.Sent/cur/x" -> {"Maildir/.Sent", "cur"}; false unless the path
// is a file directly in a Maildir++ folder's cur/, new/ or tmp/.
bool SplitMessagePath(const std::string& rel, std::string* folder, std::string* sub) {
  std::vector<std::string> parts = Split(rel, '/');
  if (parts.size() < 3 || parts[0] != "Maildir") return false;
  const std::string& s = parts[parts.size() - 2];
  if (s != "cur" && s != "new" && s != "tmp") return false;
  if (parts.size() == 3) *folder = "Maildir";
  else if (parts.size() == 4 && parts[1].size() > 1 && parts[1][0] == '.') *folder = "Maildir/" + parts[1];
  else return false;
  *sub = s;
  return true;
}

// One IMAP name per line. Dovecot's version 2 file ("V\t2" header) joins
// hierarchy levels with a tab and escapes as str_append_tabescaped does
// (DC:src/lib-storage/list/subscription-file.c); version 1 keeps the
// Maildir++ separator '.'. Courier's names carry "INBOX." (CL:imap/imapd.h
// SUBSCRIBEFILE, reference §7.3).
std::string TabEscaped(const std::string& level) {
  std::string out;
  for (char c : level) {
    if (c == '\001') out += "\0011";
    else if (c == '\t') out += "\001t";
    else if (c == '\r') out += "\001r";
    else if (c == '\n') out += "\001n";
    else out += c;
  }
  return out;
}

// Adds `names` (IMAP names, '.'-separated, without INBOX.) to the
// subscription file `path`, keeping every line; returns the names added.
// `courier`: Courier's file (names with "INBOX."). The file is replaced
// atomically, keeping its mode and (as root) its owner.
Result<std::vector<std::string>> AddSubscriptions(const std::string& path, bool courier,
                                                  const std::vector<std::string>& names,
                                                  const std::optional<FileOwner>& new_owner, bool dry_run) {
  std::string text;
  struct stat st;
  bool exists = lstat(path.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode)) return Status::InvalidInput(path + " is not a regular file; not changed");
  if (exists) {
    auto read = ReadSmallFile(path, 1 << 20);
    if (!read.ok()) return read.status();
    text = *read;
  }
  const bool v2 = !courier && StartsWith(text, "V\t2\n\n");
  std::vector<std::string> lines = SplitLines(text);
  std::vector<std::string> added;
  for (const std::string& name : names) {
    std::string line;
    if (courier) {
      line = "INBOX." + name;
    } else if (v2) {
      for (const std::string& level : Split(name, '.')) line += (line.empty() ? "" : "\t") + TabEscaped(level);
    } else {
      line = name;
    }
    if (std::find(lines.begin(), lines.end(), line) != lines.end()) continue;
    lines.push_back(line);
    added.push_back(name);
  }
  if (added.empty() || dry_run) return added;
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  std::optional<FileOwner> owner = new_owner;
  mode_t mode = 0600;
  if (exists) {
    mode = st.st_mode & 07777;
    owner.reset();
    if (geteuid() == 0) owner = FileOwner{st.st_uid, st.st_gid};
  }
  VM_RETURN_IF_ERROR(WriteFileAtomic(path, out, mode, owner));
  return added;
}

}  // namespace

Status ValidateIntoFolder(const std::string& name) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("--into-folder '" + EscapeC(name) + "': " + why);
  };
  if (name.empty()) return bad("empty");
  if (name.find('/') != std::string::npos)
    return bad("'/' would lead out of the Maildir; a folder is one Maildir++ name (a subfolder: Restored.Sent)");
  if (name[0] == '.') return bad("give the name without the leading '.' (Restored, not .Restored)");
  if (name.back() == '.' || name.find("..") != std::string::npos)
    return bad("an empty folder level ('..' or a trailing '.')");
  if (name.size() > 200) return bad("longer than 200 bytes");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return bad("control characters are not allowed");
    if (c >= 0x80)
      return bad("non-ASCII bytes: IMAP servers store folder names in modified UTF-7; give an ASCII name");
    if (c == '&') return bad("'&' starts a modified UTF-7 sequence in IMAP folder names");
    if (c == '*' || c == '%') return bad("'*' and '%' are IMAP wildcards");
  }
  if (ToLower(name) == "inbox" || StartsWith(ToLower(name), "inbox."))
    return bad("INBOX is the Maildir itself; choose another name");
  return Status::OK();
}

MailboxRestore::MailboxRestore(ImportContext* ctx, const ManifestDomain* domain, const ManifestUser* user)
    : ctx_(ctx), domain_(domain), user_(user) {}

MailboxRestore::~MailboxRestore() {
  if (staging_.empty() || ctx_->options->dry_run) return;
  std::error_code ec;
  std::filesystem::remove_all(staging_, ec);
  // The staging dir was ours: the home keeps its mtime unless a file or
  // directory was restored right into it.
  if (!home_root_changed_) {
    struct timespec times[2] = {home_mtime_, home_mtime_};
    utimensat(AT_FDCWD, home_.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
}

Status MailboxRestore::Begin() {
  const ImportOptions& opt = *ctx_->options;
  if (!opt.into_folder.empty()) {
    VM_RETURN_IF_ERROR(ValidateIntoFolder(opt.into_folder));
    folder_ = "." + opt.into_folder;
  }
  auto loc = qmail::LocateDomain(opt.paths, domain_->name);
  if (!loc.ok())
    return Status::NotFound(domain_->name + " is not a domain on the target; restore it with --domain " +
                            domain_->name + " (without --user) first");
  auto users = vpopmail::OpenUserStore(opt.paths)->ReadUsers(*loc);
  if (!users.ok()) return users.status();
  const VpasswdEntry* found = nullptr;
  for (const auto& e : *users)
    if (e.name == user_->entry.name) found = &e;
  if (!found)
    return Status::NotFound(user_->entry.name + "@" + domain_->name +
                            " does not exist on the target; create it (vadduser) or restore the domain");
  home_host_ = NormalizePath(found->dir);
  auto home = ResolveUnderRoot(opt.paths.root, home_host_);  // a symlinked home is followed
  if (!home.ok()) return home.status().WithContext(user_->entry.name + "@" + domain_->name + ": home");
  home_ = home->disk;
  struct stat st;
  if (lstat(home_.c_str(), &st) != 0 && errno != ENOENT && errno != ENOTDIR)
    return FromErrno(user_->entry.name + "@" + domain_->name + ": home " + home_, errno);
  if (lstat(home_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::NotFound(user_->entry.name + "@" + domain_->name + ": home " + home_host_ +
                            " does not exist on the target");
  home_mtime_ = st.st_mtim;
  if (geteuid() == 0) owner_ = FileOwner{st.st_uid, st.st_gid};
  out_.user_dir = home_host_;
  out_.folder = folder_;
  out_.domain = domain_->name;
  out_.user = user_->entry.name;
  planned_dirs_.insert("");
  if (opt.dry_run) return Status::OK();
  staging_ = home_ + "/.vmigrate-restore." + std::to_string(getpid());
  std::error_code ec;
  std::filesystem::remove_all(staging_, ec);
  if (mkdir(staging_.c_str(), 0700) != 0) return FromErrno("cannot create " + staging_, errno);
  if (owner_ && lchown(staging_.c_str(), owner_->uid, owner_->gid) != 0)
    return FromErrno("cannot chown " + staging_, errno);
  return Status::OK();
}

std::string MailboxRestore::TargetRel(const std::string& rel) const {
  if (folder_.empty()) return rel;
  // Into a new folder: only mail and folder structure; index and quota
  // files describe the original folders, not this one.
  std::vector<std::string> parts = Split(rel, '/');
  if (parts[0] != "Maildir" || parts.size() < 2) return "";
  size_t sub = 1;
  std::string folder = "Maildir/" + folder_;
  if (parts[1].size() > 1 && parts[1][0] == '.') {
    folder += parts[1];  // ".Sent" -> ".NAME.Sent"
    sub = 2;
  }
  if (parts.size() == sub) return folder;
  const std::string& s = parts[sub];
  if (s != "cur" && s != "new" && s != "tmp") return "";
  std::string out = folder + "/" + s;
  for (size_t i = sub + 1; i < parts.size(); ++i) out += "/" + parts[i];
  return out;
}

// Is something at `target_rel` already (for a message: its unique name
// anywhere in the folder's cur/ or new/)?
bool MailboxRestore::AlreadyThere(const std::string& target_rel) {
  std::string folder, sub;
  if (SplitMessagePath(target_rel, &folder, &sub) && sub != "tmp") {
    auto it = folder_names_.find(folder);
    if (it == folder_names_.end()) {
      std::set<std::string> names;
      for (const char* d : {"/cur", "/new"}) {
        DIR* dir = opendir((home_ + "/" + folder + d).c_str());
        if (!dir) continue;
        while (struct dirent* e = readdir(dir)) {
          std::string n = e->d_name;
          if (n != "." && n != "..") names.insert(UniqueName(n));
        }
        closedir(dir);
      }
      it = folder_names_.emplace(folder, std::move(names)).first;
    }
    return !it->second.insert(UniqueName(BaseName(target_rel))).second;
  }
  struct stat st;
  return lstat((home_ + "/" + target_rel).c_str(), &st) == 0;
}

void MailboxRestore::PlanDirs(const std::string& target_rel) {
  std::vector<std::string> missing;
  for (std::string d = target_rel.substr(0, target_rel.rfind('/'));; d = d.substr(0, d.rfind('/'))) {
    if (planned_dirs_.count(d)) break;
    struct stat st;
    if (lstat((home_ + "/" + d).c_str(), &st) == 0) {
      planned_dirs_.insert(d);
      break;
    }
    missing.push_back(d);
    if (d.find('/') == std::string::npos) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    planned_dirs_.insert(*it);
    out_.created_dirs.push_back(*it);
  }
}

void MailboxRestore::Skip(const std::string& target_rel, const std::string& reason) {
  std::string folder, sub;
  const bool message = SplitMessagePath(target_rel, &folder, &sub) && sub != "tmp";
  (message ? out_.skipped_messages : out_.skipped_files).push_back({target_rel, reason});
}

Status MailboxRestore::Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) {
  auto ignore = [&]() -> Status {
    return h.type == EntryType::kFile ? ctx_->HashEntry(h, rec) : Status::OK();
  };
  if (name.rel.empty()) return ignore();  // the home directory itself
  std::string target = TargetRel(name.rel);
  if (target.empty()) return ignore();
  if (h.type == EntryType::kDirectory) {
    archive_dirs_[target] = {CarriedDirMode(static_cast<mode_t>(h.mode))};
    return Status::OK();
  }
  if (h.type == EntryType::kSymlink) {
    Skip(target, "a symlink: not restored into an existing account");
    return ignore();
  }
  std::string folder, sub;
  bool message = SplitMessagePath(target, &folder, &sub);
  bool host_specific = rec->rewritten;  // holds path placeholders
  if ((message && sub == "tmp") || BaseName(target) == "maildirsize") return ignore();
  if (host_specific) {
    Skip(target, "holds host paths: restore the domain to get it back");
    return ignore();
  }
  if (AlreadyThere(target)) {
    Skip(target, "already there");
    return ignore();
  }
  PlanDirs(target);
  if (ctx_->options->dry_run) {
    VM_RETURN_IF_ERROR(ctx_->HashEntry(h, rec));
  } else {
    std::string staged = staging_ + "/" + target;
    VM_RETURN_IF_ERROR(MakeDirs(DirName(staged), 0700, owner_, nullptr));
    VM_RETURN_IF_ERROR(ctx_->WriteEntry(h, staged, owner_, /*umask_sets_mode=*/false, rec));
  }
  ++out_.restored_files;
  if (message) {
    ++out_.restored_messages;
    out_.restored_bytes += static_cast<std::uint64_t>(rec->size);
    if (!StartsWith(folder, "Maildir/.Trash")) {
      ++quota_count_;
      quota_bytes_ += static_cast<std::uint64_t>(rec->size);
    }
  }
  return Status::OK();
}

// Moves every staged file under `staged_dir` (relative `rel`) into the
// home, creating missing directories with the archive's modes.
Status MailboxRestore::MoveIn(const std::string& staged_dir, const std::string& rel) {
  DIR* dir = opendir(staged_dir.c_str());
  if (!dir) return FromErrno("cannot read " + staged_dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(dir);
  for (const std::string& n : names) {
    std::string from = staged_dir + "/" + n;
    std::string child = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    if (lstat(from.c_str(), &st) != 0) return FromErrno("cannot stat " + from, errno);
    if (S_ISDIR(st.st_mode)) {
      std::string to = home_ + "/" + child;
      if (lstat(to.c_str(), &st) != 0) {
        auto it = archive_dirs_.find(child);
        mode_t mode = it == archive_dirs_.end() ? 0700 : it->second.mode;
        if (mkdir(to.c_str(), mode) != 0) return FromErrno("cannot create " + to, errno);
        if (rel.empty()) home_root_changed_ = true;
        chmod(to.c_str(), mode);
        if (owner_ && lchown(to.c_str(), owner_->uid, owner_->gid) != 0)
          return FromErrno("cannot chown " + to, errno);
      }
      VM_RETURN_IF_ERROR(MoveIn(from, child));
      continue;
    }
    std::string to = home_ + "/" + child;
    if (rel.empty()) home_root_changed_ = true;
    if (RenameNoReplace(from, to) != 0) {
      if (errno != EEXIST) return FromErrno("cannot move " + from + " to " + to, errno);
      Skip(child, "appeared meanwhile");
      --out_.restored_files;
    }
  }
  return Status::OK();
}

// Dovecot's file is written when it exists or when Courier's does not (a
// new account on a Dovecot host); Courier's only when it exists.
Status MailboxRestore::Subscribe(const std::vector<std::string>& folders) {
  std::vector<std::string> names;  // IMAP names without INBOX.: "Restored.Sent"
  for (const std::string& f : folders) {
    std::string name = f.substr(std::string("Maildir/.").size());
    // A name from the archive that no line-based file can hold is left out.
    if (std::any_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
      ctx_->report->warnings.push_back(user_->entry.name + "@" + domain_->name + ": folder '" + EscapeC(f) +
                                       "' not subscribed: its name holds control characters");
      continue;
    }
    names.push_back(name);
  }
  if (names.empty()) return Status::OK();
  std::sort(names.begin(), names.end());  // a parent before its subfolders
  const std::string dovecot = home_ + "/Maildir/subscriptions";
  const std::string courier = home_ + "/Maildir/courierimapsubscribed";
  struct stat st;
  const bool has_dovecot = lstat(dovecot.c_str(), &st) == 0;
  const bool has_courier = lstat(courier.c_str(), &st) == 0;
  std::set<std::string> added;
  const bool dry_run = ctx_->options->dry_run;
  if (has_dovecot || !has_courier) {
    auto r = AddSubscriptions(dovecot, false, names, owner_, dry_run);
    if (!r.ok()) return r.status();
    added.insert(r->begin(), r->end());
  }
  if (has_courier) {
    auto r = AddSubscriptions(courier, true, names, owner_, dry_run);
    if (!r.ok()) return r.status();
    added.insert(r->begin(), r->end());
  }
  for (const std::string& name : names)
    if (added.count(name)) out_.subscribed.push_back("." + name);
  return Status::OK();
}

Status MailboxRestore::Finish(MailboxOutcome* out) {
  // A new Maildir++ folder needs cur/new/tmp and its maildirfolder marker.
  std::vector<std::string> new_folders;
  for (const auto& d : out_.created_dirs) {
    std::vector<std::string> parts = Split(d, '/');
    if (parts.size() == 2 && parts[0] == "Maildir" && parts[1].size() > 1 && parts[1][0] == '.')
      new_folders.push_back(d);
  }
  if (!ctx_->options->dry_run) {
    VM_RETURN_IF_ERROR(SyncFilesystemOf(staging_));
    VM_RETURN_IF_ERROR(MoveIn(staging_, ""));
    for (const auto& f : new_folders) {
      for (const char* sub : {"/cur", "/new", "/tmp"})
        VM_RETURN_IF_ERROR(MakeDirs(home_ + "/" + f + sub, 0700, owner_, nullptr));
      std::string marker = home_ + "/" + f + "/maildirfolder";
      int fd = open(marker.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) return FromErrno("cannot create " + marker, errno);
      if (owner_ && fchown(fd, owner_->uid, owner_->gid) != 0) {
        close(fd);
        return FromErrno("cannot chown " + marker, errno);
      }
      close(fd);
    }
    // Maildir++ quota: one "<bytes> <count>" delta line, as a delivery adds.
    std::string size_file = home_ + "/Maildir/maildirsize";
    struct stat st;
    if (quota_count_ > 0 && lstat(size_file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      int fd = open(size_file.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return FromErrno("cannot update " + size_file, errno);
      std::string line = std::to_string(quota_bytes_) + " " + std::to_string(quota_count_) + "\n";
      bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
      int err = errno;
      close(fd);
      if (!ok) return FromErrno("cannot update " + size_file, err);
    }
  }
  VM_RETURN_IF_ERROR(Subscribe(new_folders));
  for (const auto& f : new_folders) {
    for (const char* sub : {"/cur", "/new", "/tmp"}) {
      std::string d = f + sub;
      if (std::find(out_.created_dirs.begin(), out_.created_dirs.end(), d) == out_.created_dirs.end())
        out_.created_dirs.push_back(d);
    }
  }
  *out = out_;
  return Status::OK();
}

}  // namespace vmigrate
