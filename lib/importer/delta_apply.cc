#include "importer/delta_apply.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/crash_point.h"
#include "core/dir_mode.h"
#include "core/errno_status.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "exporter/exporter.h"
#include "importer/delta_journal.h"
#include "model/path_rewrite.h"
#include "state/state_file.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/login_lock.h"
#include "vpopmail/user_store.h"

namespace vmigrate {
namespace {

constexpr size_t kMaxRewriteBytes = 1u << 20;

size_t Depth(const std::string& path) { return static_cast<size_t>(std::count(path.begin(), path.end(), '/')); }

bool HasLine(const std::string& text, const std::string& line) {
  for (const std::string& l : SplitLines(text))
    if (l == line) return true;
  return false;
}

}  // namespace

DeltaApply::DeltaApply(ImportContext* ctx, const ManifestDomain* domain, qmail::DomainLocation installed)
    : ctx_(ctx), domain_(domain), loc_(std::move(installed)) {}

DeltaApply::~DeltaApply() {
  if (!created_ || opt().dry_run) return;
  struct stat st;
  if (!done_) {
    // A journal marked committed is completed by the next run; anything
    // else was never acted on: drop what was staged.
    if (lstat((work_ + "/committed").c_str(), &st) == 0) return;
    std::error_code ec;
    std::filesystem::remove_all(work_, ec);
  }
  // Our journal and marker live in domains/: put its mtime back.
  struct timespec times[2] = {domains_mtime_, domains_mtime_};
  utimensat(AT_FDCWD, ctx_->domains_disk.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

std::string DeltaApply::JournalDirPath() const { return ctx_->domains_disk + "/.vmigrate-delta." + loc_.domain; }
std::string DeltaApply::AppliedMarker() const { return ctx_->domains_disk + "/.vmigrate-applied." + loc_.domain; }

Status DeltaApply::RecoverInterrupted() {
  auto dir = ResolveUnderRoot(opt().paths.root, loc_.dir);
  if (!dir.ok()) return dir.status().WithContext(loc_.domain);
  domain_disk_ = dir->disk;
  // A delta's user changes are rewritten as vpasswd files; a domain whose
  // accounts are MySQL rows would lose them, so it is refused before
  // anything changes, its lock file included (tail deltas, which add only
  // messages, are TailApply's and still apply).
  if (ctx_->store->Backend() != "cdb" && !std::filesystem::exists(domain_disk_ + "/vpasswd"))
    return Status::Unsupported(loc_.domain + ": importing a delta into a domain whose accounts are in MySQL "
                               "is not supported yet; import a full archive of the domain instead");
  if (!opt().dry_run) {
    // vpopmail's own lock on the domain's accounts, held from before the
    // base check to the end: a second import of this domain (or vadduser)
    // waits, and never sees a half-applied delta.
    auto lock = FileLock::Acquire(domain_disk_ + "/.vpasswd.lock");
    if (!lock.ok())
      return lock.status().WithContext(loc_.domain + ": another import of this domain or a vpopmail tool holds .vpasswd.lock");
    lock_ = std::move(*lock);
  }
  const std::string work = JournalDirPath();
  struct stat st;
  if (lstat(work.c_str(), &st) != 0) return Status::OK();
  struct stat domains_st;
  if (lstat(ctx_->domains_disk.c_str(), &domains_st) != 0) return FromErrno("cannot stat " + ctx_->domains_disk, errno);
  if (lstat((work + "/committed").c_str(), &st) == 0) {
    if (opt().dry_run)
      return Status::Conflict(loc_.domain + ": an interrupted delta import must be completed first (run the import without --dry-run)");
    VM_RETURN_IF_ERROR(RunDeltaJournal(work, opt().paths, ctx_->chown));
    auto result = ReadSmallFile(work + "/result", 4096);
    if (result.ok()) {
      std::vector<std::string> lines = SplitLines(*result);
      if (!lines.empty()) VM_RETURN_IF_ERROR(WriteAppliedMarker(lines[0]));
    }
    ctx_->report->warnings.push_back(loc_.domain + ": completed an interrupted delta import");
  } else if (!opt().dry_run) {
    ctx_->report->warnings.push_back(loc_.domain + ": removed the staging of an interrupted delta import (nothing had changed)");
  } else {
    return Status::OK();
  }
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  if (ec) return FromErrorCode("cannot remove " + work, ec);
  struct timespec times[2] = {domains_st.st_mtim, domains_st.st_mtim};
  utimensat(AT_FDCWD, ctx_->domains_disk.c_str(), times, AT_SYMLINK_NOFOLLOW);
  return SyncDirectory(ctx_->domains_disk);
}

Result<std::string> DeltaApply::InstalledDigest() const {
  StateOptions so;
  so.paths = opt().paths;
  so.domain = loc_.domain;
  StateReport report;
  VM_RETURN_IF_ERROR(WriteState(so, &report).WithContext("reading the installed domain"));
  return report.domain_digests[loc_.domain];
}

Result<DeltaApply::BaseCheck> DeltaApply::CheckBase() {
  auto now = InstalledDigest();
  if (!now.ok()) return now.status();
  const DomainDelta& d = domain_->delta;
  if (*now == d.base) return BaseCheck::kApply;
  if (*now == d.result) return BaseCheck::kAlreadyApplied;
  auto marker = ReadSmallFile(AppliedMarker(), 4096);
  if (marker.ok() && HasLine(*marker, "delta\t" + d.result) && HasLine(*marker, "state\t" + *now))
    return BaseCheck::kAlreadyApplied;
  // The CLI names the domain of a one-domain delta already.
  std::string who = ctx_->report->manifest.domains.size() > 1 ? loc_.domain + ": " : "";
  return Status::Conflict(who + "the delta's base state does not match what is installed here (it was "
                          "made against state " + ShownDigest(loc_.domain, d.base).substr(0, 16) + ", this host has " +
                          ShownDigest(loc_.domain, *now).substr(0, 16) +
                          "): the domain changed here or an earlier delta is missing; nothing was changed. "
                          "Moving a domain: take a fresh `vmigrate state " + loc_.domain +
                          "` on this host and export again; restoring a backup: import the deltas in the order "
                          "they were made, each once");
}

Status DeltaApply::ReadTargetUsers() {
  // The unlocked view, as the delta's source state saw it (login_lock.h).
  auto store = vpopmail::OpenUserStore(opt().paths);
  auto users = vpopmail::ReadUsersUnlocked(store.get(), opt().paths, loc_);
  if (!users.ok()) return users.status();
  for (const VpasswdEntry& e : *users) target_users_[e.name] = e;
  // Homes after the delta: kept for users that stay, placed with this
  // host's hashing (the domain's .dir-control) for new ones.
  std::vector<std::string> added;
  for (const ManifestUser& u : domain_->users) {
    auto it = target_users_.find(u.entry.name);
    if (it == target_users_.end()) {
      added.push_back(u.entry.name);
      continue;
    }
    std::string host = NormalizePath(it->second.dir);
    auto disk = ResolveUnderRoot(opt().paths.root, host);
    if (!disk.ok()) return disk.status().WithContext(loc_.domain + ": home of " + u.entry.name);
    home_host_[u.entry.name] = host;
    home_disk_[u.entry.name] = disk->disk;
  }
  std::set<std::string> names;
  for (const ManifestUser& u : domain_->users) names.insert(u.entry.name);
  size_t removed = 0;
  for (const auto& [name, e] : target_users_) removed += names.count(name) == 0;
  if (added.empty() && removed == 0) return Status::OK();
  auto dc = ReadSmallFile(domain_disk_ + "/.dir-control", 4096);
  std::optional<std::string> existing;
  if (dc.ok()) existing = *dc;
  // vadduser's allocation for the new users, then vdeluser's decrement
  // for each removed one (the counter goes down, no bucket moves).
  vpopmail::BucketAllocation alloc = vpopmail::AllocateBuckets(existing, added.size());
  vpopmail::DirControl after = vpopmail::DirControl::Parse(alloc.final_text);
  for (size_t k = 0; k < removed && after.cur_users > 0; ++k) --after.cur_users;
  dir_control_text_ = after.Serialize();
  for (size_t k = 0; k < added.size(); ++k) {
    std::string rel = alloc.buckets[k].empty() ? added[k] : alloc.buckets[k] + "/" + added[k];
    home_host_[added[k]] = loc_.dir + "/" + rel;
    home_disk_[added[k]] = domain_disk_ + "/" + rel;
    new_buckets_.insert(alloc.buckets[k]);
  }
  return Status::OK();
}

Status DeltaApply::Begin() {
  VM_RETURN_IF_ERROR(ReadTargetUsers());
  for (const auto& f : domain_->rewritten_files) rewritten_.insert(f);
  if (opt().dry_run) return Status::OK();
  struct stat st;
  if (lstat(ctx_->domains_disk.c_str(), &st) != 0) return FromErrno("cannot stat " + ctx_->domains_disk, errno);
  domains_mtime_ = st.st_mtim;
  work_ = JournalDirPath();
  return Status::OK();
}

// The staging dir is made when the first thing is staged: a
// delta that changes nothing leaves domains/ untouched.
Status DeltaApply::EnsureWork() {
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

Status DeltaApply::AddRecord(const std::vector<std::string>& f) {
  auto bad = [&](const std::string& what) {
    return Status::Corrupt("delta.txt: " + what + " in record '" + EscapeC(Join(f, " ").substr(0, 200)) + "'");
  };
  auto check_path = [&](const std::string& rel) -> Status {
    Status s = CheckMemberPath(rel);
    if (!s.ok()) return bad(s.message());
    if (rel != "files" && !StartsWith(rel, "files/") && !StartsWith(rel, "users/")) return bad("path outside the domain");
    return Status::OK();
  };
  if (f[0] == "remove" && f.size() == 3) {
    VM_RETURN_IF_ERROR(check_path(f[2]));
    removals_.push_back(f[2]);
    return Status::OK();
  }
  if (f[0] == "rename" && f.size() == 6) {
    VM_RETURN_IF_ERROR(check_path(f[2]));
    VM_RETURN_IF_ERROR(check_path(f[3]));
    Rename r;
    r.from = f[2];
    r.to = f[3];
    if (!ParseJournalMode(f[4], &r.mode) || !ParseJournalMtime(f[5], &r.mtime)) return bad("bad mode or mtime");
    renames_.push_back(r);
    return Status::OK();
  }
  return bad("unknown record");
}

Status DeltaApply::Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) {
  if (name.domain != domain_->name || (name.part != MemberPart::kDomainFiles && name.part != MemberPart::kUserHome))
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is outside the domain the manifest names");
  std::string rel = name.part == MemberPart::kDomainFiles
                        ? (name.rel.empty() ? "files" : "files/" + name.rel)
                        : "users/" + name.user + (name.rel.empty() ? "" : "/" + name.rel);
  if (name.part == MemberPart::kUserHome && !home_host_.count(name.user))
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' belongs to a user the manifest does not list");
  if (members_.count(rel)) return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' appears twice");
  Staged s;
  s.mode = rec->mode;
  s.mtime = {static_cast<time_t>(h.mtime_sec), h.mtime_nsec};
  s.rewritten = rewritten_.count(rel) > 0;
  switch (h.type) {
    case EntryType::kDirectory:
      s.type = 'd';
      break;
    case EntryType::kFile:
      s.type = 'f';
      s.size = h.size;
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
  members_[rel] = std::move(s);
  return Status::OK();
}

// Where a member lands on this host. Nothing may go through a symlink
// below the domain dir or a home, except a home's Maildir (storage that
// vpopmail and the POP/IMAP servers follow, as export does).
Result<std::string> DeltaApply::DiskPath(const std::string& rel_in_domain) const {
  auto refuse = [&](const std::string& why) {
    return Status::Corrupt("delta: '" + EscapeC(rel_in_domain) + "' " + why);
  };
  std::string root, rel;
  if (rel_in_domain == "files" || StartsWith(rel_in_domain, "files/")) {
    root = domain_disk_;
    rel = rel_in_domain.size() > 5 ? rel_in_domain.substr(6) : "";
    std::string first = rel.substr(0, rel.find('/'));
    for (const auto& [user, disk] : home_disk_)
      if (!rel.empty() && (disk == domain_disk_ + "/" + rel || StartsWith(domain_disk_ + "/" + rel, disk + "/")))
        return refuse("would land in the home of user " + user);
    if (vpopmail::IsRegeneratedDomainFile(rel)) return refuse("names a file vpopmail keeps itself");
  } else if (StartsWith(rel_in_domain, "users/")) {
    std::string rest = rel_in_domain.substr(6);
    std::string user = rest.substr(0, rest.find('/'));
    auto it = home_disk_.find(user);
    if (it == home_disk_.end()) return refuse("belongs to a user the manifest does not list");
    root = it->second;
    rel = rest.size() > user.size() ? rest.substr(user.size() + 1) : "";
    if (rel == "Maildir" || StartsWith(rel, "Maildir/")) {
      struct stat st;
      if (lstat((root + "/Maildir").c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        auto maildir = ResolveUnderRoot(opt().paths.root, home_host_.at(user) + "/Maildir");
        if (!maildir.ok()) return maildir.status();
        if (rel == "Maildir") return refuse("replaces a symlinked Maildir");
        root = maildir->disk;
        rel = rel.substr(8);
      }
    }
  } else {
    return refuse("is outside the domain");
  }
  if (rel.empty()) return root;
  // Every existing directory on the way must be a real directory, and no
  // symlink this delta creates may be on the way either.
  std::string walked = root;
  std::vector<std::string> parts = Split(rel, '/');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += "/" + parts[i];
    struct stat st;
    if (lstat(walked.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) return refuse("goes through a symlink or file");
  }
  for (size_t slash = rel_in_domain.find('/'); slash != std::string::npos; slash = rel_in_domain.find('/', slash + 1)) {
    auto m = members_.find(rel_in_domain.substr(0, slash));
    if (m != members_.end() && m->second.type != 'd') return refuse("goes through a symlink");
  }
  return root + "/" + rel;
}

Status DeltaApply::BuildSteps(bool dry_run, DomainOutcome* out) {
  steps_.clear();
  DomainDelta& counts = out->delta;
  counts = DomainDelta{};
  counts.base = domain_->delta.base;
  counts.result = domain_->delta.result;
  std::set<std::string> touched;       // directories whose entries change (disk)
  std::set<std::string> removed_disk;  // disk paths removed
  std::map<std::string, std::pair<mode_t, struct timespec>> dir_meta;  // disk -> from the delta
  auto no_base = [&](const std::string& rel, const std::string& what) {
    return Status::Corrupt("delta: " + what + " '" + EscapeC(rel) +
                           "', which this host does not have: the delta does not match the base it claims");
  };
  auto is_root = [](const std::string& rel) {
    return rel == "files" || (StartsWith(rel, "users/") && rel.find('/', 6) == std::string::npos);
  };

  // Removals, deepest first (a directory after everything in it).
  std::vector<std::string> removals = removals_;
  std::stable_sort(removals.begin(), removals.end(),
                   [](const std::string& a, const std::string& b) { return Depth(a) > Depth(b); });
  std::set<std::string> removed_rel;
  for (const std::string& rel : removals) {
    if (is_root(rel)) return Status::Corrupt("delta: removes '" + EscapeC(rel) + "', a domain or home directory itself");
    if (!removed_rel.insert(rel).second) return Status::Corrupt("delta: removes '" + EscapeC(rel) + "' twice");
    auto disk = DiskPath(rel);
    if (!disk.ok()) return disk.status();
    struct stat st;
    if (lstat(disk->c_str(), &st) != 0) {
      bool under_removed = false;  // listed, but its directory went first
      for (const auto& r : removed_rel) under_removed |= StartsWith(rel, r + "/");
      if (!under_removed) return no_base(rel, "removes");
    }
    steps_.push_back({S_ISDIR(st.st_mode) ? "rmtree" : "unlink", *disk});
    removed_disk.insert(*disk);
    touched.insert(DirName(*disk));
    ++counts.removals;
  }

  // Renames: a message that moved (new/ -> cur/) or whose flags changed.
  std::set<std::string> rename_from, rename_to;
  for (const Rename& r : renames_) {
    auto user_of = [](const std::string& rel) { return rel.substr(0, rel.find('/', 6)); };
    if (!StartsWith(r.from, "users/") || !StartsWith(r.to, "users/") || user_of(r.from) != user_of(r.to) ||
        !IsStateMessage(r.from.substr(user_of(r.from).size() + 1)) ||
        !IsStateMessage(r.to.substr(user_of(r.to).size() + 1)))
      return Status::Corrupt("delta: rename '" + EscapeC(r.from) + "' -> '" + EscapeC(r.to) +
                             "' is not a message moving within one user's Maildir");
    if (!rename_from.insert(r.from).second || !rename_to.insert(r.to).second || removed_rel.count(r.from) ||
        members_.count(r.to))
      return Status::Corrupt("delta: rename '" + EscapeC(r.from) + "' -> '" + EscapeC(r.to) + "' collides with another record");
    auto from = DiskPath(r.from);
    if (!from.ok()) return from.status();
    auto to = DiskPath(r.to);
    if (!to.ok()) return to.status();
    struct stat st;
    if (lstat(from->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return no_base(r.from, "renames");
    if (r.from != r.to) {
      if (lstat(to->c_str(), &st) == 0)
        return Status::Corrupt("delta: renames '" + EscapeC(r.from) + "' onto '" + EscapeC(r.to) +
                               "', which exists on this host");
      steps_.push_back({"rename", *from, *to});
      touched.insert(DirName(*from));
      touched.insert(DirName(*to));
    }
    steps_.push_back({"meta", *to, JournalMode(r.mode), JournalMtime(r.mtime)});
    ++counts.renames;
  }

  // New users' buckets, then directories (parents first), then files and links.
  for (const std::string& bucket : new_buckets_) {
    if (bucket.empty()) continue;
    std::string disk = domain_disk_;
    for (const std::string& part : Split(bucket, '/')) {
      disk += "/" + part;
      struct stat st;
      if (lstat(disk.c_str(), &st) != 0) {
        steps_.push_back({"mkdir", disk});
        touched.insert(DirName(disk));
      }
    }
  }
  std::vector<std::string> order;
  for (const auto& [rel, m] : members_) order.push_back(rel);
  std::stable_sort(order.begin(), order.end(),
                   [](const std::string& a, const std::string& b) { return Depth(a) < Depth(b); });
  HostPathSet target;
  target.vpopmail_home = opt().paths.vpopmail_home;
  target.qmail_dir = opt().paths.qmail_dir;
  target.domain_dir = loc_.dir;
  target.user_dirs = home_host_;
  for (const std::string& rel : order) {
    Staged& m = members_.at(rel);
    auto disk = DiskPath(rel);
    if (!disk.ok()) return disk.status();
    struct stat st;
    bool exists = lstat(disk->c_str(), &st) == 0 && !removed_disk.count(*disk);
    if (m.type == 'd') {
      if (exists && !S_ISDIR(st.st_mode))
        return Status::Corrupt("delta: directory '" + EscapeC(rel) + "' would replace a file this host has");
      if (!exists) {
        steps_.push_back({"mkdir", *disk});
        touched.insert(DirName(*disk));
      }
      dir_meta[*disk] = {CarriedDirMode(m.mode), m.mtime};  // never the sticky bit
      ++counts.files;
      continue;
    }
    if (exists && S_ISDIR(st.st_mode))
      return Status::Corrupt("delta: '" + EscapeC(rel) + "' would replace a directory this host has");
    ++counts.files;
    counts.bytes += static_cast<std::uint64_t>(m.size);
    if (m.type == 'f' && StartsWith(rel, "users/") && rel.find('/', 6) != std::string::npos &&
        IsStateMessage(rel.substr(rel.find('/', 6) + 1)))
      ++counts.messages;
    touched.insert(DirName(*disk));
    if (dry_run) continue;
    VM_RETURN_IF_ERROR(EnsureWork());
    if (m.type == 'l') {
      std::string text = m.link;
      Status s = FromPlaceholders(target, &text);
      if (!s.ok()) return s.WithContext(rel);
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
      if (!s.ok()) return s.WithContext(rel);
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

  // vpasswd and vpasswd.cdb, as vpopmail writes them, when an account changed.
  std::vector<VpasswdEntry> entries;
  std::set<std::string> names;
  for (const ManifestUser& u : domain_->users) {
    VpasswdEntry e = u.entry;
    e.dir = home_host_.at(e.name);
    names.insert(e.name);
    auto it = target_users_.find(e.name);
    if (it == target_users_.end()) ++counts.users_added;
    else if (!(it->second == e)) ++counts.users_changed;
    entries.push_back(std::move(e));
  }
  std::vector<std::string> gone;
  for (const auto& [name, e] : target_users_)
    if (!names.count(name)) gone.push_back(name);
  counts.users_removed = gone.size();
  if (counts.users_added + counts.users_changed + counts.users_removed > 0) {
    touched.insert(domain_disk_);
    if (!dry_run) {
      VM_RETURN_IF_ERROR(EnsureWork());
      const std::string users = work_ + "/users";
      if (mkdir(users.c_str(), 0700) != 0 && errno != EEXIST) return FromErrno("cannot create " + users, errno);
      // A domain whose logins are locked (a cutover in progress) stays
      // locked: the accounts are written locked, the record first.
      auto lock = vpopmail::ReadLoginLock(domain_disk_);
      if (!lock.ok()) return lock.status().WithContext(loc_.domain);
      if (lock->has_value()) {
        vpopmail::LoginLock next = **lock;
        VM_RETURN_IF_ERROR(vpopmail::ApplyLock(&next, &entries).WithContext(loc_.domain));
        VM_RETURN_IF_ERROR(vpopmail::WriteLoginLock(users, next));
        steps_.push_back({"put", users + "/" + vpopmail::kLoginLockFile,
                          domain_disk_ + "/" + vpopmail::kLoginLockFile});
      }
      VM_RETURN_IF_ERROR(vpopmail::OpenUserStore(opt().paths)->StageUsers(users, entries, ctx_->chown));
      steps_.push_back({"put", users + "/vpasswd", domain_disk_ + "/vpasswd"});
      steps_.push_back({"put", users + "/vpasswd.cdb", domain_disk_ + "/vpasswd.cdb"});
      if (counts.users_added + counts.users_removed > 0) {
        VM_RETURN_IF_ERROR(WriteFileAtomic(users + "/.dir-control", dir_control_text_, 0600, ctx_->chown));
        steps_.push_back({"put", users + "/.dir-control", domain_disk_ + "/.dir-control"});
      }
    }
  }
  for (const std::string& name : gone) {
    auto home = ResolveUnderRoot(opt().paths.root, NormalizePath(target_users_.at(name).dir));
    if (!home.ok()) return home.status();
    if (!home->exists) continue;
    if (!StartsWith(home->disk, domain_disk_ + "/")) {
      ctx_->report->warnings.push_back(loc_.domain + ": user " + name + " was removed; its home " +
                                       target_users_.at(name).dir + " is outside the domain dir and was left in place");
      continue;
    }
    steps_.push_back({"rmtree", home->disk});
    removed_disk.insert(home->disk);
    touched.insert(DirName(home->disk));
  }

  // Alias domains added or removed on the source.
  std::set<std::string> now(loc_.aliases.begin(), loc_.aliases.end());
  std::set<std::string> want(domain_->aliases.begin(), domain_->aliases.end());
  out->aliases.assign(want.begin(), want.end());
  out->aliases_added.clear();
  out->aliases_removed.clear();
  for (const std::string& a : want) {
    if (now.count(a)) continue;
    steps_.push_back({"alias-add", a, loc_.domain, std::to_string(loc_.uid), std::to_string(loc_.gid), loc_.dir});
    out->aliases_added.push_back(a);
  }
  for (const std::string& a : now) {
    if (want.count(a)) continue;
    steps_.push_back({"alias-remove", a});
    out->aliases_removed.push_back(a);
  }

  // Directory modes and mtimes last, deepest first: those the delta
  // carries, and those it only touched put back as they were.
  for (const std::string& dir : touched) {
    if (dir_meta.count(dir)) continue;
    bool gone_too = false;
    for (const auto& r : removed_disk) gone_too |= dir == r || StartsWith(dir, r + "/");
    struct stat st;
    if (gone_too || lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    dir_meta[dir] = {st.st_mode & 07777, st.st_mtim};
  }
  std::vector<std::string> dirs;
  for (const auto& [dir, meta] : dir_meta) dirs.push_back(dir);
  std::stable_sort(dirs.begin(), dirs.end(),
                   [](const std::string& a, const std::string& b) { return Depth(a) > Depth(b); });
  for (const std::string& dir : dirs)
    steps_.push_back({"meta", dir, JournalMode(dir_meta[dir].first), JournalMtime(dir_meta[dir].second)});
  out->domain_dir = loc_.dir;
  out->user_dirs = home_host_;
  return Status::OK();
}

Status DeltaApply::Plan(DomainOutcome* out) { return BuildSteps(/*dry_run=*/true, out); }

Status DeltaApply::WriteAppliedMarker(const std::string& result) {
  auto now = InstalledDigest();
  if (!now.ok()) return now.status();
  if (*now != result)
    ctx_->report->warnings.push_back(loc_.domain + ": after the delta the installed domain (state " +
                                     ShownDigest(loc_.domain, *now).substr(0, 16) +
                                     ") differs from the source's state when the delta was made (" +
                                     ShownDigest(loc_.domain, result).substr(0, 16) +
                                     "); compare `vmigrate state` of both hosts");
  return WriteFileAtomic(AppliedMarker(), "delta\t" + result + "\nstate\t" + *now + "\n", 0600, ctx_->chown);
}

Status DeltaApply::Commit(DomainOutcome* out) {
  VM_RETURN_IF_ERROR(ctx_->CheckInterrupted());
  VM_RETURN_IF_ERROR(BuildSteps(/*dry_run=*/false, out));
  if (steps_.empty()) {
    // Nothing changed on the source: nothing is written here either.
    if (created_) {
      std::error_code ec;
      std::filesystem::remove_all(work_, ec);
    }
    done_ = true;
    return Status::OK();
  }
  VM_RETURN_IF_ERROR(EnsureWork());
  VM_RETURN_IF_ERROR(WriteDeltaJournal(work_, steps_));
  VM_RETURN_IF_ERROR(WriteFileAtomic(work_ + "/result", domain_->delta.result + "\n", 0600));
  // Staged files were written without an fsync each: one flush for all.
  VM_RETURN_IF_ERROR(SyncFilesystemOf(work_));
  CrashPoint("delta journal written");
  VM_RETURN_IF_ERROR(WriteFileAtomic(work_ + "/committed", "", 0600));
  VM_RETURN_IF_ERROR(SyncDirectory(work_));
  CrashPoint("delta committed");
  Status s = RunDeltaJournal(work_, opt().paths, ctx_->chown);
  if (!s.ok()) return s.WithContext(loc_.domain + " (the next import of this delta completes it)");
  VM_RETURN_IF_ERROR(SyncFilesystemOf(domain_disk_));
  CrashPoint("delta steps done");
  VM_RETURN_IF_ERROR(WriteAppliedMarker(domain_->delta.result));
  std::error_code ec;
  std::filesystem::remove_all(work_, ec);
  if (ec) return FromErrorCode("cannot remove " + work_, ec);
  done_ = true;
  return SyncDirectory(ctx_->domains_disk);
}

}  // namespace vmigrate
