#include "importer/tail_apply.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/crash_point.h"
#include "core/dir_mode.h"
#include "core/errno_status.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "state/state_file.h"
#include "vpopmail/user_store.h"

namespace vmigrate {
namespace {

// Lines kept in the marker: the add-only deltas of a move, and many more.
constexpr size_t kMarkerLines = 1000;

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

}  // namespace

TailApply::TailApply(ImportContext* ctx, const ManifestDomain* domain, qmail::DomainLocation installed)
    : ctx_(ctx), domain_(domain), loc_(std::move(installed)) {}

TailApply::~TailApply() {
  if (!created_) return;
  // Only staging lives here: whatever landed is whole (it went by rename).
  std::error_code ec;
  std::filesystem::remove_all(work_, ec);
  struct timespec times[2] = {domains_mtime_, domains_mtime_};
  utimensat(AT_FDCWD, ctx_->domains_disk.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

std::string TailApply::MarkerPath() const { return ctx_->domains_disk + "/.vmigrate-tails." + loc_.domain; }
std::string TailApply::MarkerLine() const { return "tail\t" + domain_->delta.base + "\t" + domain_->delta.result; }

Result<bool> TailApply::Begin() {
  auto dir = ResolveUnderRoot(opt().paths.root, loc_.dir);
  if (!dir.ok()) return dir.status().WithContext(loc_.domain);
  domain_disk_ = dir->disk;
  struct stat st;
  if (lstat(ctx_->domains_disk.c_str(), &st) != 0) return FromErrno("cannot stat " + ctx_->domains_disk, errno);
  domains_mtime_ = st.st_mtim;
  work_ = ctx_->domains_disk + "/.vmigrate-tail." + loc_.domain;
  if (!opt().dry_run) {
    // The same lock as a delta import: two imports of this domain never interleave.
    auto lock = FileLock::Acquire(domain_disk_ + "/.vpasswd.lock");
    if (!lock.ok())
      return lock.status().WithContext(loc_.domain + ": another import of this domain or a vpopmail tool holds .vpasswd.lock");
    lock_ = std::move(*lock);
    if (lstat(work_.c_str(), &st) == 0) {
      std::error_code ec;
      std::filesystem::remove_all(work_, ec);
      if (ec) return FromErrorCode("cannot remove " + work_, ec);
      struct timespec times[2] = {domains_mtime_, domains_mtime_};
      utimensat(AT_FDCWD, ctx_->domains_disk.c_str(), times, AT_SYMLINK_NOFOLLOW);
      ctx_->report->warnings.push_back(loc_.domain + ": removed the staging of an interrupted add-only import "
                                       "(the messages it had added stay; the rest are added now)");
    }
  }
  auto marker = ReadSmallFile(MarkerPath(), 1u << 20);
  if (marker.ok())
    for (const std::string& line : SplitLines(*marker))
      if (line == MarkerLine()) return true;
  auto users = vpopmail::OpenUserStore(opt().paths)->ReadUsers(loc_);
  if (!users.ok()) return users.status();
  for (const VpasswdEntry& e : *users) home_host_[e.name] = NormalizePath(e.dir);
  return false;
}

Status TailApply::EnsureWork() {
  if (created_) return Status::OK();
  created_ = true;
  if (mkdir(work_.c_str(), 0700) != 0) return FromErrno("cannot create " + work_, errno);
  if (ctx_->chown && lchown(work_.c_str(), ctx_->chown->uid, ctx_->chown->gid) != 0)
    return FromErrno("cannot chown " + work_, errno);
  umask_sets_mode_ = ImportContext::UmaskSetsMode(work_);
  return Status::OK();
}

Status TailApply::Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) {
  auto refuse = [&](const std::string& why) {
    return Status::Corrupt("add-only delta: archive entry '" + EscapeC(h.path) + "' " + why);
  };
  if (name.domain != domain_->name || name.part != MemberPart::kUserHome)
    return refuse("is not in a user's home (an add-only delta carries only messages)");
  if (!home_host_.count(name.user))
    return Status::Conflict(loc_.domain + ": user " + name.user +
                            " does not exist on this host; an add-only delta only adds mail to existing "
                            "mailboxes (add the account with a normal delta first); nothing was changed");
  if (h.type == EntryType::kDirectory) {
    dir_modes_[name.rel_in_domain] = CarriedDirMode(static_cast<mode_t>(rec->mode));
    return Status::OK();
  }
  if (h.type != EntryType::kFile || !IsStateMessage(name.rel) ||
      (name.rel != "Maildir" && !StartsWith(name.rel, "Maildir/")))
    return refuse("is not a message of the user's Maildir");
  Message m;
  m.user = name.user;
  m.rel = name.rel;
  m.size = static_cast<std::uint64_t>(h.size);
  if (opt().dry_run) {
    VM_RETURN_IF_ERROR(ctx_->HashEntry(h, rec));
  } else {
    VM_RETURN_IF_ERROR(EnsureWork());
    m.staged = work_ + "/" + std::to_string(++seq_);
    VM_RETURN_IF_ERROR(ctx_->WriteEntry(h, m.staged, ctx_->chown, umask_sets_mode_, rec));
  }
  messages_.push_back(std::move(m));
  return Status::OK();
}

Result<std::string> TailApply::FolderDisk(const Message& m, bool* exists) const {
  auto refuse = [&](const std::string& why) {
    return Status::Conflict(loc_.domain + ": user " + m.user + ": " + m.rel + ": " + why + " on this host");
  };
  const std::string folder = DirName(DirName(m.rel));  // "Maildir" or "Maildir/.Work"
  // vpopmail and the POP/IMAP servers follow a symlinked home or Maildir.
  auto maildir = ResolveUnderRoot(opt().paths.root, home_host_.at(m.user) + "/Maildir");
  if (!maildir.ok()) return maildir.status().WithContext(loc_.domain + ": Maildir of " + m.user);
  std::string disk = maildir->disk;
  *exists = maildir->exists;
  struct stat st;
  if (*exists && (stat(disk.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) return refuse("the Maildir is not a directory");
  if (folder == "Maildir") return disk;
  for (const std::string& part : Split(folder.substr(8), '/')) {
    disk += "/" + part;
    if (!*exists) continue;
    if (lstat(disk.c_str(), &st) != 0) {
      *exists = false;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) return refuse("the folder is not a directory");
  }
  return disk;
}

Result<bool> TailApply::AlreadyThere(const std::string& folder_disk, const std::string& file_name) {
  auto it = present_.find(folder_disk);
  if (it == present_.end()) {
    std::set<std::string> names;
    for (const char* sub : {"new", "cur"}) {
      const std::string path = folder_disk + "/" + sub;
      DIR* dir = opendir(path.c_str());
      if (!dir) {
        if (errno == ENOENT) continue;
        return FromErrno("cannot read " + path, errno);
      }
      while (struct dirent* ent = readdir(dir))
        if (ent->d_name[0] != '.') names.insert(MaildirUniqueName(ent->d_name));
      closedir(dir);
    }
    it = present_.emplace(folder_disk, std::move(names)).first;
  }
  return !it->second.insert(MaildirUniqueName(file_name)).second;
}

// The folder's missing directories, from the home down, with the modes the
// delta carries (0700 else), and cur/ new/ tmp/ and maildirfolder as a
// Maildir++ client makes a folder. Existing directories are left alone.
Status TailApply::MakeFolder(const Message& m) {
  auto home = ResolveUnderRoot(opt().paths.root, home_host_.at(m.user));
  if (!home.ok()) return home.status();
  const std::string folder = DirName(DirName(m.rel));
  std::vector<std::string> dirs;  // relative to the home
  std::string rel;
  for (const std::string& part : Split(folder, '/')) dirs.push_back(rel = rel.empty() ? part : rel + "/" + part);
  for (const char* sub : {"/cur", "/new", "/tmp"}) dirs.push_back(folder + sub);
  auto make = [&](const std::string& disk, mode_t mode) -> Status {
    struct stat st;
    if (lstat(disk.c_str(), &st) == 0) return Status::OK();
    if (mkdir(disk.c_str(), 0700) != 0 && errno != EEXIST) return FromErrno("cannot create " + disk, errno);
    if (ctx_->chown && lchown(disk.c_str(), ctx_->chown->uid, ctx_->chown->gid) != 0)
      return FromErrno("cannot chown " + disk, errno);
    if (chmod(disk.c_str(), mode) != 0) return FromErrno("cannot chmod " + disk, errno);
    return Status::OK();
  };
  if (!home->exists) VM_RETURN_IF_ERROR(make(home->disk, 0700));
  for (const std::string& d : dirs) {
    auto mode = dir_modes_.find("users/" + m.user + "/" + d);
    // Through a symlinked Maildir, as FolderDisk found it.
    bool unused;
    Message probe = m;
    probe.rel = d + "/cur/x";
    auto disk = FolderDisk(probe, &unused);
    if (!disk.ok()) return disk.status();
    VM_RETURN_IF_ERROR(make(*disk, mode == dir_modes_.end() ? 0700 : mode->second));
  }
  if (folder != "Maildir") {
    bool unused;
    auto disk = FolderDisk(m, &unused);
    if (!disk.ok()) return disk.status();
    const std::string flag = *disk + "/maildirfolder";
    struct stat st;
    if (lstat(flag.c_str(), &st) != 0) VM_RETURN_IF_ERROR(WriteFileAtomic(flag, "", 0600, ctx_->chown));
  }
  return Status::OK();
}

// staged -> <folder>/tmp/<name> -> <folder>/new|cur/<name>, each a rename
// (a copy into tmp/ when the staging is on another filesystem).
Status TailApply::Land(const Message& m, const std::string& folder_disk) {
  const std::string name = BaseName(m.rel);
  const std::string tmp = folder_disk + "/tmp/" + name;
  const std::string dest = folder_disk + "/" + BaseName(DirName(m.rel)) + "/" + name;
  if (rename(m.staged.c_str(), tmp.c_str()) != 0) {
    if (errno != EXDEV) return FromErrno("cannot move " + m.staged + " to " + tmp, errno);
    struct stat st;
    if (lstat(m.staged.c_str(), &st) != 0) return FromErrno("cannot stat " + m.staged, errno);
    std::error_code ec;
    std::filesystem::copy_file(m.staged, tmp, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return FromErrorCode("cannot copy " + m.staged + " to " + tmp, ec);
    struct timespec times[2] = {st.st_mtim, st.st_mtim};
    if (chmod(tmp.c_str(), st.st_mode & 07777) != 0 ||
        (ctx_->chown && lchown(tmp.c_str(), ctx_->chown->uid, ctx_->chown->gid) != 0) ||
        utimensat(AT_FDCWD, tmp.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return FromErrno("cannot set the mode, owner or mtime of " + tmp, errno);
  }
  CrashPoint("tail message in tmp");
  if (rename(tmp.c_str(), dest.c_str()) != 0) return FromErrno("cannot move " + tmp + " to " + dest, errno);
  CrashPoint("tail message landed");
  return Status::OK();
}

Status TailApply::Run(bool dry_run, DomainOutcome* out) {
  out->add_only = true;
  out->added = out->already_there = 0;
  DomainDelta& counts = out->delta;
  counts = DomainDelta{};
  counts.base = domain_->delta.base;
  counts.result = domain_->delta.result;
  for (const Message& m : messages_) {
    bool exists = false;
    auto folder = FolderDisk(m, &exists);
    if (!folder.ok()) return folder.status();
    auto there = exists ? AlreadyThere(*folder, BaseName(m.rel)) : Result<bool>(false);
    if (!there.ok()) return there.status();
    if (!exists) present_[*folder].insert(MaildirUniqueName(BaseName(m.rel)));
    if (*there) {
      ++out->already_there;
      continue;
    }
    ++out->added;
    ++counts.files;
    ++counts.messages;
    counts.bytes += m.size;
    if (dry_run) continue;
    VM_RETURN_IF_ERROR(ctx_->CheckInterrupted());
    struct stat st;
    if (!exists || lstat((*folder + "/tmp").c_str(), &st) != 0) VM_RETURN_IF_ERROR(MakeFolder(m));
    VM_RETURN_IF_ERROR(Land(m, *folder));
  }
  out->domain_dir = loc_.dir;
  out->user_dirs = home_host_;
  return Status::OK();
}

Status TailApply::Plan(DomainOutcome* out) { return Run(/*dry_run=*/true, out); }

Status TailApply::Commit(DomainOutcome* out) {
  VM_RETURN_IF_ERROR(ctx_->CheckInterrupted());
  VM_RETURN_IF_ERROR(Run(/*dry_run=*/false, out));
  if (out->added > 0) VM_RETURN_IF_ERROR(SyncFilesystemOf(domain_disk_));
  CrashPoint("tail messages synced");
  // Remembered, so that importing it again never brings back a message
  // deleted here since.
  std::vector<std::string> lines;
  auto marker = ReadSmallFile(MarkerPath(), 1u << 20);
  if (marker.ok()) lines = SplitLines(*marker);
  if (lines.size() >= kMarkerLines) lines.erase(lines.begin(), lines.end() - (kMarkerLines - 1));
  lines.push_back(MarkerLine());
  VM_RETURN_IF_ERROR(WriteFileAtomic(MarkerPath(), Join(lines, "\n") + "\n", 0600, ctx_->chown));
  struct timespec times[2] = {domains_mtime_, domains_mtime_};
  utimensat(AT_FDCWD, ctx_->domains_disk.c_str(), times, AT_SYMLINK_NOFOLLOW);
  CrashPoint("tail marker written");
  return Status::OK();
}

}  // namespace vmigrate
