#include "importer/user_merge.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/crash_point.h"
#include "core/dir_mode.h"
#include "core/errno_status.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "importer/delta_journal.h"
#include "model/path_rewrite.h"
#include "state/state_file.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/login_lock.h"
#include "vpopmail/names.h"
#include "vpopmail/user_store.h"

namespace vmigrate {
namespace {

constexpr size_t kMaxRewriteBytes = 1u << 20;

size_t Depth(const std::string& path) { return static_cast<size_t>(std::count(path.begin(), path.end(), '/')); }

}  // namespace

UserMerge::UserMerge(ImportContext* ctx, const ManifestDomain* domain, qmail::DomainLocation installed)
    : ctx_(ctx), domain_(domain), loc_(std::move(installed)) {}

UserMerge::~UserMerge() {
  if (!created_ || opt().dry_run) return;
  struct stat st;
  if (!done_) {
    // A journal marked committed is completed by the next run; anything
    // else was never acted on: drop what was staged.
    if (lstat((work_ + "/committed").c_str(), &st) == 0) return;
    std::error_code ec;
    std::filesystem::remove_all(work_, ec);
  }
  // Our staging lived in domains/: put its mtime back.
  struct timespec times[2] = {domains_mtime_, domains_mtime_};
  utimensat(AT_FDCWD, ctx_->domains_disk.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

std::string UserMerge::WorkPath() const { return ctx_->domains_disk + "/.vmigrate-merge." + loc_.domain; }

Status UserMerge::RecoverInterrupted() {
  auto dir = ResolveUnderRoot(opt().paths.root, loc_.dir);
  if (!dir.ok()) return dir.status().WithContext(loc_.domain);
  domain_disk_ = dir->disk;
  // The accounts are written as vpasswd files: a domain whose accounts are
  // MySQL rows would not see the new users.
  if (ctx_->store->Backend() != "cdb" && !std::filesystem::exists(domain_disk_ + "/vpasswd"))
    return Status::Unsupported(loc_.domain + ": merging a batch of users into a domain whose accounts are in "
                               "MySQL is not supported yet; import the batches into a cdb target");
  if (!opt().dry_run) {
    // vadduser's own lock, held from reading the accounts to the end: a
    // vadduser (or a second import) waits and never sees half a merge.
    auto lock = FileLock::Acquire(domain_disk_ + "/.vpasswd.lock");
    if (!lock.ok())
      return lock.status().WithContext(loc_.domain + ": another import of this domain or a vpopmail tool holds .vpasswd.lock");
    lock_ = std::move(*lock);
  }
  const std::string work = WorkPath();
  struct stat st;
  if (lstat(work.c_str(), &st) != 0) return Status::OK();
  if (lstat((work + "/committed").c_str(), &st) == 0) {
    if (opt().dry_run)
      return Status::Conflict(loc_.domain + ": an interrupted merge of users must be completed first (run the import without --dry-run)");
    VM_RETURN_IF_ERROR(RunDeltaJournal(work, opt().paths, ctx_->chown));
    ctx_->report->warnings.push_back(loc_.domain + ": completed an interrupted merge of users");
    auto batch = ReadSmallFile(work + "/batch", 1u << 20);
    std::vector<std::string> lines = batch.ok() ? SplitLines(*batch) : std::vector<std::string>{};
    if (!lines.empty() && lines[0] == ctx_->manifest_record.sha256)
      recovered_.insert(lines.begin() + 1, lines.end());
  } else if (!opt().dry_run) {
    ctx_->report->warnings.push_back(loc_.domain + ": removed the staging of an interrupted merge of users (nothing had changed)");
  } else {
    return Status::OK();
  }
  struct stat domains_st;
  if (lstat(ctx_->domains_disk.c_str(), &domains_st) != 0) return FromErrno("cannot stat " + ctx_->domains_disk, errno);
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  if (ec) return FromErrorCode("cannot remove " + work, ec);
  struct timespec times[2] = {domains_st.st_mtim, domains_st.st_mtim};
  utimensat(AT_FDCWD, ctx_->domains_disk.c_str(), times, AT_SYMLINK_NOFOLLOW);
  return SyncDirectory(ctx_->domains_disk);
}

Status UserMerge::Begin(DomainOutcome* out) {
  // Verbatim, as they stay: a login lock's bits are kept (the lock record
  // still names them), only the added users are locked below.
  auto users = ctx_->store->ReadUsers(loc_);
  if (!users.ok()) return users.status().WithContext(loc_.domain);
  target_users_ = *users;
  std::map<std::string, const VpasswdEntry*> installed;
  for (const VpasswdEntry& e : target_users_) {
    installed[ToLower(e.name)] = &e;
    home_host_[e.name] = NormalizePath(e.dir);
  }
  auto dc = ReadSmallFile(domain_disk_ + "/.dir-control", 4096);
  std::optional<std::string> existing;
  if (dc.ok()) existing = *dc;

  // vpopmail keys accounts by the lower-cased name (vauth_getpw lower-cases):
  // "Alice" in the batch is the installed "alice".
  std::vector<std::pair<std::string, std::string>> conflicts;  // name, why
  std::vector<const ManifestUser*> candidates;
  std::vector<const ManifestUser*> recovered;
  // The order a whole import places users in (DomainImport::PlanUsers): the
  // source's bucket order, postmaster first, so batches cut in that order
  // land where the whole domain would; a batch without buckets keeps its order.
  std::vector<const ManifestUser*> batch;
  for (const ManifestUser& u : domain_->users) batch.push_back(&u);
  auto rank = [](const ManifestUser* u) -> std::pair<unsigned long, int> {
    unsigned long bucket = ULONG_MAX;
    if (!u->rel_dir.empty()) {
      size_t slash = u->rel_dir.rfind('/');
      bucket = vpopmail::BucketOrder(slash == std::string::npos ? "" : u->rel_dir.substr(0, slash));
    }
    return {bucket, u->entry.name == "postmaster" ? 0 : 1};
  };
  std::stable_sort(batch.begin(), batch.end(),
                   [&](const ManifestUser* a, const ManifestUser* b) { return rank(a) < rank(b); });
  for (const ManifestUser* up : batch) {
    const ManifestUser& u = *up;
    auto it = installed.find(ToLower(u.entry.name));
    if (it != installed.end() && recovered_.count(u.entry.name)) {
      recovered.push_back(&u);  // the interrupted run of this batch added it
      skipped_.insert(u.entry.name);
    } else if (it != installed.end()) {
      conflicts.push_back({u.entry.name, "is already in the domain (home " + it->second->dir + ")"});
      skipped_.insert(u.entry.name);
    } else {
      candidates.push_back(&u);
    }
  }
  // vadduser's allocation, one user after the other; a home that is there
  // without an account (a leftover of a removed user) is a conflict too, so
  // the allocation is redone without that user.
  for (;;) {
    vpopmail::BucketAllocation alloc = vpopmail::AllocateBuckets(existing, candidates.size());
    std::vector<const ManifestUser*> blocked;
    home_disk_.clear();
    new_buckets_.clear();
    for (size_t k = 0; k < candidates.size(); ++k) {
      const std::string& name = candidates[k]->entry.name;
      std::string rel = alloc.buckets[k].empty() ? name : alloc.buckets[k] + "/" + name;
      struct stat st;
      if (lstat((domain_disk_ + "/" + rel).c_str(), &st) == 0) {
        conflicts.push_back({name, "has no account, but its home " + loc_.dir + "/" + rel + " is there already"});
        skipped_.insert(name);
        blocked.push_back(candidates[k]);
        continue;
      }
      home_host_[name] = loc_.dir + "/" + rel;
      home_disk_[name] = domain_disk_ + "/" + rel;
      new_buckets_.insert(alloc.buckets[k]);
    }
    if (blocked.empty()) {
      dir_control_text_ = alloc.final_text;
      break;
    }
    for (const ManifestUser* b : blocked) candidates.erase(std::find(candidates.begin(), candidates.end(), b));
  }
  added_ = candidates;
  if (!conflicts.empty() && opt().on_conflict == ImportOptions::OnConflict::kFail) {
    std::string msg = std::to_string(conflicts.size()) + " of the batch's " + std::to_string(domain_->users.size()) +
                      " users conflict with the installed domain; nothing was changed (--on-conflict skip leaves them out)";
    for (const auto& [name, why] : conflicts) msg += "\n  conflict: " + name + "@" + loc_.domain + " " + why;
    return Status::Conflict(msg);
  }
  for (const auto& [name, why] : conflicts)
    ctx_->report->warnings.push_back("skipped " + name + "@" + loc_.domain + ": it " + why);

  const size_t max = opt().vpasswd_line_max;
  for (const ManifestUser* u : added_) {
    VpasswdEntry e = u->entry;
    e.dir = home_host_.at(e.name);
    Status s = vpopmail::CheckVpasswdLineLength(e, max);
    if (!s.ok())
      return Status::DataRefused(loc_.domain + ": " + s.message() + " with its home " + e.dir + "; nothing was written");
    std::string note = vpopmail::VpasswdLineWarning(e);
    if (!note.empty()) ctx_->report->warnings.push_back(loc_.domain + ": " + note);
  }
  for (const auto& f : domain_->rewritten_files) rewritten_.insert(f);

  out->merged = true;
  out->domain_dir = loc_.dir;
  out->aliases = loc_.aliases;
  out->users = added_.size() + recovered.size();
  out->messages = out->bytes = 0;
  out->user_dirs.clear();
  out->users_added.clear();
  std::vector<const ManifestUser*> reported = recovered;
  reported.insert(reported.end(), added_.begin(), added_.end());
  for (const ManifestUser* u : reported) {
    out->messages += u->messages;
    out->bytes += u->bytes;
    out->user_dirs[u->entry.name] = home_host_.at(u->entry.name);
    out->users_added.push_back(u->entry.name);
  }
  out->users_skipped = conflicts;
  std::set<std::string> have(loc_.aliases.begin(), loc_.aliases.end());
  for (const std::string& a : domain_->aliases)
    if (!have.count(a))
      ctx_->report->warnings.push_back(loc_.domain + ": the batch names alias domain " + a +
                                       ", which the installed domain lacks; a merge leaves the domain's registration alone");

  if (opt().dry_run) return Status::OK();
  struct stat st;
  if (lstat(ctx_->domains_disk.c_str(), &st) != 0) return FromErrno("cannot stat " + ctx_->domains_disk, errno);
  domains_mtime_ = st.st_mtim;
  work_ = WorkPath();
  return Status::OK();
}

// Made when the first thing is staged: a batch whose users are all skipped
// leaves domains/ untouched.
Status UserMerge::EnsureWork() {
  if (created_) return Status::OK();
  created_ = true;
  std::error_code ec;
  std::filesystem::remove_all(work_, ec);
  if (mkdir(work_.c_str(), 0700) != 0) return FromErrno("cannot create " + work_, errno);
  if (mkdir((work_ + "/staged").c_str(), 0700) != 0) return FromErrno("cannot create " + work_ + "/staged", errno);
  if (ctx_->chown) {
    if (lchown(work_.c_str(), ctx_->chown->uid, ctx_->chown->gid) != 0 ||
        lchown((work_ + "/staged").c_str(), ctx_->chown->uid, ctx_->chown->gid) != 0)
      return FromErrno("cannot chown " + work_, errno);
  }
  umask_sets_mode_ = ImportContext::UmaskSetsMode(work_ + "/staged");
  return Status::OK();
}

Status UserMerge::Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) {
  if (name.domain != domain_->name || (name.part != MemberPart::kDomainFiles && name.part != MemberPart::kUserHome))
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is outside the domain the manifest names");
  // The domain's own files stay as the target has them; a skipped user's
  // home is not written. Both are still checked against the index.
  if (name.part == MemberPart::kDomainFiles || !home_disk_.count(name.user)) {
    if (name.part == MemberPart::kUserHome && !skipped_.count(name.user))
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' belongs to a user the manifest does not list");
    return h.type == EntryType::kFile ? ctx_->HashEntry(h, rec) : Status::OK();
  }
  auto& home = members_[name.user];
  if (home.count(name.rel)) return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' appears twice");
  Staged s;
  s.mode = rec->mode;
  s.mtime = {static_cast<time_t>(h.mtime_sec), h.mtime_nsec};
  s.rewritten = rewritten_.count("users/" + name.user + (name.rel.empty() ? "" : "/" + name.rel)) > 0;
  switch (h.type) {
    case EntryType::kDirectory:
      s.type = 'd';
      break;
    case EntryType::kFile:
      s.type = 'f';
      if (opt().dry_run) {
        VM_RETURN_IF_ERROR(ctx_->HashEntry(h, rec));
      } else {
        VM_RETURN_IF_ERROR(EnsureWork());
        s.staged = work_ + "/staged/" + std::to_string(++seq_);
        VM_RETURN_IF_ERROR(ctx_->WriteEntry(h, s.staged, ctx_->chown, umask_sets_mode_, rec));
      }
      break;
    case EntryType::kSymlink:
      if (h.link_target.empty() || h.link_target.find('\0') != std::string::npos)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is a symlink with an empty target");
      s.type = 'l';
      s.link = h.link_target;
      break;
    default:
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' has an unsupported type");
  }
  if (name.rel.empty() && s.type != 'd')
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': the home of user " + name.user + " is not a directory");
  home[name.rel] = std::move(s);
  return Status::OK();
}

Status UserMerge::EndOfEntries() {
  for (const ManifestUser* u : added_)
    if (u->home_present && !members_[u->entry.name].count(""))
      return Status::Corrupt("the archive lacks the home of user " + u->entry.name + " that its manifest lists");
  return Status::OK();
}

// Where a member of an added user's home lands. The home is new, so
// nothing on the way may be anything but a directory this batch creates.
Result<std::string> UserMerge::DiskPath(const std::string& user, const std::string& rel) const {
  const auto& home = members_.at(user);
  for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
    auto m = home.find(rel.substr(0, slash));
    if (m == home.end() || m->second.type != 'd')
      return Status::Corrupt("archive entry for user " + user + ": '" + EscapeC(rel) +
                             "' does not lie below a directory of the archive");
  }
  return rel.empty() ? home_disk_.at(user) : home_disk_.at(user) + "/" + rel;
}

Status UserMerge::BuildSteps(bool dry_run) {
  steps_.clear();
  std::map<std::string, std::pair<mode_t, struct timespec>> dir_meta;  // disk -> mode, mtime
  // New buckets (as vadduser makes them: 0700), then each home, parents first.
  for (const std::string& bucket : new_buckets_) {
    if (bucket.empty()) continue;
    std::string disk = domain_disk_;
    for (const std::string& part : Split(bucket, '/')) {
      disk += "/" + part;
      struct stat st;
      if (lstat(disk.c_str(), &st) != 0) steps_.push_back({"mkdir", disk});
      else if (!S_ISDIR(st.st_mode)) return Status::Conflict(loc_.domain + ": hash bucket " + disk + " is not a directory");
    }
  }
  HostPathSet target;
  target.vpopmail_home = opt().paths.vpopmail_home;
  target.qmail_dir = opt().paths.qmail_dir;
  target.domain_dir = loc_.dir;
  target.user_dirs = home_host_;
  for (const ManifestUser* u : added_) {
    const std::string& user = u->entry.name;
    auto& home = members_[user];
    std::vector<std::string> order;
    for (const auto& [rel, m] : home) order.push_back(rel);
    std::stable_sort(order.begin(), order.end(), [](const std::string& a, const std::string& b) {
      return a.empty() != b.empty() ? a.empty() : Depth(a) < Depth(b);
    });
    for (const std::string& rel : order) {
      Staged& m = home.at(rel);
      auto disk = DiskPath(user, rel);
      if (!disk.ok()) return disk.status();
      if (m.type == 'd') {
        steps_.push_back({"mkdir", *disk});
        dir_meta[*disk] = {CarriedDirMode(m.mode), m.mtime};  // never the sticky bit
        continue;
      }
      if (dry_run) continue;
      if (m.type == 'l') {
        std::string text = m.link;
        Status s = FromPlaceholders(target, &text);
        if (!s.ok()) return s.WithContext("users/" + user + "/" + rel);
        m.staged = work_ + "/staged/" + std::to_string(++seq_);
        if (symlink(text.c_str(), m.staged.c_str()) != 0) return FromErrno("cannot create symlink " + m.staged, errno);
        if (ctx_->chown && lchown(m.staged.c_str(), ctx_->chown->uid, ctx_->chown->gid) != 0)
          return FromErrno("cannot chown " + m.staged, errno);
        struct timespec times[2] = {m.mtime, m.mtime};
        utimensat(AT_FDCWD, m.staged.c_str(), times, AT_SYMLINK_NOFOLLOW);
      } else if (m.rewritten) {
        auto text = ReadSmallFile(m.staged, kMaxRewriteBytes);
        if (!text.ok()) return text.status();
        std::string data = *text;
        Status s = FromPlaceholders(target, &data);
        if (!s.ok()) return s.WithContext("users/" + user + "/" + rel);
        int fd = open(m.staged.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return FromErrno("cannot rewrite " + m.staged, errno);
        bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
        struct timespec times[2] = {m.mtime, m.mtime};
        ok = ok && futimens(fd, times) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok) return FromErrno("cannot rewrite " + m.staged, errno);
      }
      steps_.push_back({"put", m.staged, *disk});
    }
  }
  if (added_.empty()) return Status::OK();

  // The accounts: the installed ones verbatim, the added ones with their
  // homes here; vpasswd, vpasswd.cdb and .dir-control as vadduser leaves them.
  std::vector<VpasswdEntry> fresh;
  for (const ManifestUser* u : added_) {
    VpasswdEntry e = u->entry;
    e.dir = home_host_.at(e.name);
    e.uid = vpopmail::ConvertPwUid(e.uid, ctx_->source_backend, ctx_->store->Backend());
    fresh.push_back(std::move(e));
  }
  if (!dry_run) {
    VM_RETURN_IF_ERROR(EnsureWork());
    const std::string users = work_ + "/users";
    if (mkdir(users.c_str(), 0700) != 0 && errno != EEXIST) return FromErrno("cannot create " + users, errno);
    // A domain whose logins are locked (a cutover in progress) stays
    // locked: the new accounts are written locked, the record first.
    auto lock = vpopmail::ReadLoginLock(domain_disk_);
    if (!lock.ok()) return lock.status().WithContext(loc_.domain);
    if (lock->has_value()) {
      vpopmail::LoginLock next = **lock;
      VM_RETURN_IF_ERROR(vpopmail::ApplyLock(&next, &fresh).WithContext(loc_.domain));
      VM_RETURN_IF_ERROR(vpopmail::WriteLoginLock(users, next));
      steps_.push_back({"put", users + "/" + vpopmail::kLoginLockFile, domain_disk_ + "/" + vpopmail::kLoginLockFile});
    }
    std::vector<VpasswdEntry> entries = target_users_;
    entries.insert(entries.end(), fresh.begin(), fresh.end());
    VM_RETURN_IF_ERROR(ctx_->store->StageUsers(users, entries, ctx_->chown));
    VM_RETURN_IF_ERROR(WriteFileAtomic(users + "/.dir-control", dir_control_text_, 0600, ctx_->chown));
    std::string batch = ctx_->manifest_record.sha256 + "\n";
    for (const ManifestUser* u : added_) batch += u->entry.name + "\n";
    VM_RETURN_IF_ERROR(WriteFileAtomic(work_ + "/batch", batch, 0600));
    steps_.push_back({"put", users + "/vpasswd", domain_disk_ + "/vpasswd"});
    steps_.push_back({"put", users + "/vpasswd.cdb", domain_disk_ + "/vpasswd.cdb"});
    steps_.push_back({"put", users + "/.dir-control", domain_disk_ + "/.dir-control"});
  }
  // Modes and mtimes last, deepest first: the homes' directories as the
  // archive has them (the puts above changed the mtimes), and the domain dir
  // and the buckets that were there put back as they were, as a delta does,
  // so that the installed domain still verifies against its archives.
  std::set<std::string> touched = {domain_disk_};
  for (const auto& [user, disk] : home_disk_) touched.insert(disk.substr(0, disk.rfind('/')));
  for (const std::string& dir : touched) {
    struct stat st;
    if (dir_meta.count(dir) || lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    dir_meta[dir] = {st.st_mode & 07777, st.st_mtim};
  }
  std::vector<std::string> dirs;
  for (const auto& [dir, meta] : dir_meta) dirs.push_back(dir);
  std::stable_sort(dirs.begin(), dirs.end(),
                   [](const std::string& a, const std::string& b) { return Depth(a) > Depth(b); });
  for (const std::string& dir : dirs)
    steps_.push_back({"meta", dir, JournalMode(dir_meta[dir].first), JournalMtime(dir_meta[dir].second)});
  return Status::OK();
}

Status UserMerge::Plan(DomainOutcome* out) {
  (void)out;
  return BuildSteps(/*dry_run=*/true);
}

Status UserMerge::Commit(DomainOutcome* out) {
  (void)out;
  VM_RETURN_IF_ERROR(ctx_->CheckInterrupted());
  VM_RETURN_IF_ERROR(BuildSteps(/*dry_run=*/false));
  if (steps_.empty()) {
    // Every user of the batch was skipped: nothing is written.
    if (created_) {
      std::error_code ec;
      std::filesystem::remove_all(work_, ec);
    }
    done_ = true;
    return Status::OK();
  }
  VM_RETURN_IF_ERROR(WriteDeltaJournal(work_, steps_));
  // Staged files were written without an fsync each: one flush for all.
  VM_RETURN_IF_ERROR(SyncFilesystemOf(work_));
  CrashPoint("merge journal written");
  VM_RETURN_IF_ERROR(WriteFileAtomic(work_ + "/committed", "", 0600));
  VM_RETURN_IF_ERROR(SyncDirectory(work_));
  CrashPoint("merge committed");
  Status s = RunDeltaJournal(work_, opt().paths, ctx_->chown);
  if (!s.ok()) return s.WithContext(loc_.domain + " (the next import of this batch completes it)");
  VM_RETURN_IF_ERROR(SyncFilesystemOf(domain_disk_));
  CrashPoint("merge steps done");
  std::error_code ec;
  std::filesystem::remove_all(work_, ec);
  if (ec) return FromErrorCode("cannot remove " + work_, ec);
  done_ = true;
  return SyncDirectory(ctx_->domains_disk);
}

}  // namespace vmigrate
