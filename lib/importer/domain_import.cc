#include "importer/domain_import.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "core/crash_point.h"
#include "core/dir_mode.h"
#include "core/errno_status.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "importer/domain_discard.h"
#include "importer/import_record.h"
#include "importer/journal.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/names.h"
#include "vpopmail/user_store.h"

namespace vmigrate {
namespace {

constexpr size_t kMaxRewriteBytes = 1u << 20;

}  // namespace

DomainImport::DomainImport(ImportContext* ctx, const ManifestDomain* domain)
    : ctx_(ctx), domain_(domain) {}

DomainImport::~DomainImport() {
  if (committed_) return;
  if (!staging_.empty() && !opt().dry_run) {
    std::error_code ec;
    std::filesystem::remove_all(staging_, ec);
  }
  for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) rmdir(it->c_str());
  for (const auto& lock : lock_files_created_) unlink(lock.c_str());
  for (const auto& [dir, mtime] : qmail_dir_mtimes_) {
    struct timespec times[2] = {mtime, mtime};
    utimensat(AT_FDCWD, dir.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  // Creating and removing the staging dir touched its parent: put the
  // parent's mtime back so a failed import leaves the tree as it was.
  if (!touched_dir_.empty()) {
    struct timespec times[2] = {touched_mtime_, touched_mtime_};
    utimensat(AT_FDCWD, touched_dir_.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
}

// A MySQL target keeps its counters in dir_control rows, read without the
// .dir-control file reader's quirks (vpopmail/dir_control.h AllocateBuckets).
bool DomainImport::RowCounters() const { return !ctx_->store->KeepsDirControlFiles(); }

std::vector<std::string> DomainImport::AllNames() const {
  std::vector<std::string> names = {domain().name};
  names.insert(names.end(), domain().aliases.begin(), domain().aliases.end());
  return names;
}

// A run of this import that died half-way (SIGKILL, power cut) left a
// journal and/or a staging dir: roll the target back to where it was
// before that run, so this run starts from a clean state and completes it.
Status DomainImport::RecoverInterrupted() {
  qmail::ControlUpdateOptions copt;
  copt.use_qmail_programs = opt().use_qmail_programs;
  std::string domains = ctx_->domains_disk;
  std::string journal = JournalDir(domains, domain().name);
  struct stat st;
  if (lstat(journal.c_str(), &st) == 0) {
    qmail::ControlTransaction recovery(opt().paths, copt);
    VM_RETURN_IF_ERROR(recovery.Lock());  // waits for a live run still committing
    auto recovered = RecoverJournal(journal, ctx_->store);
    if (!recovered.ok()) return recovered.status().WithContext("recovering an interrupted import");
    if (*recovered)
      ctx_->report->warnings.push_back(domain().name + ": rolled back an interrupted earlier import of this domain");
  }
  const std::string prefix = ".vmigrate-staging." + domain().name + ".";
  std::error_code ec;
  auto parent = StagingParent();
  if (!parent.ok()) return parent.status();
  std::vector<std::filesystem::directory_entry> leftovers;
  for (const std::string& dir : std::set<std::string>{domains, *parent})
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) leftovers.push_back(e);
  for (const auto& e : leftovers) {
    std::string name = e.path().filename().string();
    if (!StartsWith(name, prefix)) continue;
    unsigned long long pid = 0;
    if (!ParseUint64(name.substr(prefix.size()), &pid)) continue;
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;  // still running
    std::filesystem::remove_all(e.path(), ec);
    ctx_->report->warnings.push_back(domain().name + ": removed the staging dir of an interrupted import");
  }
  return Status::OK();
}

// Where the domain will land if nothing changes meanwhile (Commit decides
// for real, under the locks). Lets a leftover directory fail the import
// before anything is written.
Status DomainImport::CheckAbsent() const {
  qmail::ControlTransaction tx(opt().paths, {});
  VM_RETURN_IF_ERROR(tx.CheckAbsent(AllNames()));
  auto dc = ctx_->DomainsDirControl();
  std::optional<std::string> existing;
  if (dc.ok()) existing = *dc;
  std::string bucket = vpopmail::AllocateBuckets(existing, 1, RowCounters()).buckets[0];
  for (const std::string& b : {std::string(), bucket}) {
    std::string host = opt().paths.vpopmail_home + "/domains/" + (b.empty() ? "" : b + "/") +
                       domain().name;
    auto place = ResolveParentUnderRoot(opt().paths.root, host);  // a symlinked bucket is followed
    if (!place.ok()) return place.status().WithContext(domain().name);
    struct stat st;
    if (lstat(place->disk.c_str(), &st) == 0)
      return Status::Conflict(domain().name + ": " + host + " already exists on the target");
  }
  // Rows in the target's database (MySQL): users, dir_control, a table.
  return ctx_->store->CheckDomainAbsent(domain().name);
}

Status DomainImport::Begin() {
  VM_RETURN_IF_ERROR(PlanUsers());
  // A vpasswd line the target's vpopmail cannot read is refused before
  // anything is written. The domain's own bucket is final only under the
  // locks (Commit), so FinishStaging checks the real lines again.
  auto predicted = PredictedDomainDir();
  if (!predicted.ok()) return predicted.status();
  if (WritesVpasswd()) VM_RETURN_IF_ERROR(CheckVpasswdLines(*predicted, /*warn=*/true));
  if (opt().dry_run) {
    // Same checks and the same placement code as a real run, no writes.
    staging_ = ctx_->domains_disk + "/.vmigrate-dry-run." + domain().name;
  } else {
    VM_RETURN_IF_ERROR(MakeStaging());
  }
  for (const auto& f : domain().rewritten_files) rewritten_members_.insert(f);
  for (const auto& [name, rel] : user_rel_) {
    home_roots_.insert(staging_ + "/" + rel);
    home_roots_.insert(staging_ + "/" + rel + "/Maildir");
  }
  return Status::OK();
}

// Fresh hashing: replay the source's creation order (its bucket order, so
// a domain without deletions lands in exactly the same buckets) against a
// new .dir-control, as vadddomain + vadduser would.
Status DomainImport::PlanUsers() {
  const auto& users = domain().users;
  std::vector<size_t> order(users.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto rank = [&](size_t i) -> std::pair<unsigned long, int> {
    const ManifestUser& u = users[i];
    unsigned long bucket = ULONG_MAX;
    if (!u.rel_dir.empty()) {
      size_t slash = u.rel_dir.rfind('/');
      bucket = vpopmail::BucketOrder(slash == std::string::npos ? "" : u.rel_dir.substr(0, slash));
    }
    return {bucket, u.entry.name == "postmaster" ? 0 : 1};
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rank(a) < rank(b); });
  vpopmail::BucketAllocation alloc = vpopmail::AllocateBuckets(std::nullopt, users.size(), RowCounters());
  dir_control_text_ = alloc.final_text;
  for (size_t k = 0; k < order.size(); ++k) {
    const std::string& name = users[order[k]].entry.name;
    user_rel_[name] = alloc.buckets[k].empty() ? name : alloc.buckets[k] + "/" + name;
  }
  return Status::OK();
}

// Where the domain would land if it were committed now: the bucket
// vadddomain would allocate from domains/.dir-control as it is.
Result<std::string> DomainImport::PredictedDomainDir() const {
  auto dc = ctx_->DomainsDirControl();
  if (!dc.ok()) return dc.status();
  const std::string bucket = vpopmail::AllocateBuckets(*dc, 1, RowCounters()).buckets[0];
  return opt().paths.vpopmail_home + "/domains/" + (bucket.empty() ? "" : bucket + "/") +
         domain().name;
}

// Each user's vpasswd line as it will be written here (with the home under
// `host_dir`) against what the target's vpopmail reads (vpopmail/names.h).
Status DomainImport::CheckVpasswdLines(const std::string& host_dir, bool warn) const {
  const size_t max = opt().vpasswd_line_max;
  for (const ManifestUser& u : domain().users) {
    VpasswdEntry e = u.entry;
    e.dir = host_dir + "/" + user_rel_.at(e.name);
    Status s = vpopmail::CheckVpasswdLineLength(e, max);
    if (!s.ok()) {
      s = Status::DataRefused(s.message() + " with its home " + e.dir + "; nothing was written (" +
                              (max < vpopmail::kVpasswdLineMax56
                                   ? "--vpasswd-line-max 298 accepts it for a vpopmail 5.6 target"
                                   : "--vpasswd-line-max N, for a vpopmail that reads longer lines") +
                              ")");
      return ctx_->report->manifest.domains.size() > 1 ? s.WithContext(domain().name) : s;
    }
    std::string note = warn ? vpopmail::VpasswdLineWarning(e) : "";
    if (!note.empty())
      ctx_->report->warnings.push_back(domain().name + ": " + note + "; written because of --vpasswd-line-max " +
                                       std::to_string(max));
  }
  return Status::OK();
}

// The staging dir goes where the domain will land (the bucket vadddomain
// would pick now, symlinks followed), so that the final rename stays on one
// filesystem; domains/ when that bucket does not exist yet.
Result<std::string> DomainImport::StagingParent() const {
  auto dc = ctx_->DomainsDirControl();
  std::optional<std::string> existing;
  if (dc.ok()) existing = *dc;
  std::string bucket = vpopmail::AllocateBuckets(existing, 1, RowCounters()).buckets[0];
  if (bucket.empty()) return ctx_->domains_disk;
  auto dir = ResolveUnderRoot(opt().paths.root, opt().paths.domains_dir() + "/" + bucket);
  if (!dir.ok()) return dir.status().WithContext(domain().name);
  struct stat st;
  if (dir->exists && stat(dir->disk.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return dir->disk;
  return ctx_->domains_disk;
}

Status DomainImport::MakeStaging() {
  std::string domains = ctx_->domains_disk;
  struct stat st;
  auto parent = StagingParent();
  if (!parent.ok()) return parent.status();
  touched_dir_ = lstat(parent->c_str(), &st) == 0 ? *parent : ctx_->vp_disk;
  if (lstat(touched_dir_.c_str(), &st) != 0) return FromErrno("cannot stat " + touched_dir_, errno);
  touched_mtime_ = st.st_mtim;
  VM_RETURN_IF_ERROR(MakeDirs(domains, 0700, ctx_->chown, &created_dirs_));
  staging_ = *parent + "/.vmigrate-staging." + domain().name + "." + std::to_string(getpid());
  std::error_code ec;
  std::filesystem::remove_all(staging_, ec);  // a crashed run of ours with the same pid
  if (mkdir(staging_.c_str(), 0700) != 0)
    return FromErrno("cannot create staging directory " + staging_, errno);
  if (ctx_->chown && lchown(staging_.c_str(), ctx_->chown->uid, ctx_->chown->gid) != 0)
    return FromErrno("cannot chown " + staging_, errno);
  umask_sets_mode_ = ImportContext::UmaskSetsMode(staging_);
  return Status::OK();
}

// Maps an archive member to its place under the staging dir.
Result<std::string> DomainImport::StagingPath(const EntryHeader& h, const MemberName& name) const {
  if (name.domain != domain().name ||
      (name.part != MemberPart::kDomainFiles && name.part != MemberPart::kUserHome))
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is outside the domain the manifest names");
  if (name.part == MemberPart::kDomainFiles) {
    if (name.rel.empty()) return staging_;
    for (const auto& [user, home] : user_rel_) {
      if (name.rel == home || StartsWith(name.rel, home + "/"))
        return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' would land in the home of user " + user);
    }
    return staging_ + "/" + name.rel;
  }
  auto it = user_rel_.find(name.user);
  if (it == user_rel_.end())
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' belongs to a user the manifest does not list");
  return staging_ + "/" + it->second + (name.rel.empty() ? "" : "/" + name.rel);
}

// Any second member at a path already used (by a file, a directory or a
// symlink) is refused, whatever the combination of types.
Status DomainImport::CheckFirstUse(const EntryHeader& h, const std::string& disk) {
  auto twice = [&]() {
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' appears twice");
  };
  if (links_seen_.count(disk) || dir_paths_.count(disk)) return twice();
  if (opt().dry_run) {
    if (h.type != EntryType::kDirectory && !seen_files_.insert(disk).second) return twice();
  } else if (h.type != EntryType::kFile) {
    // A file already there (directories made implicitly for a parent are fine).
    // Files skip this lstat: WriteEntry's open(O_CREAT|O_EXCL|O_NOFOLLOW)
    // fails with EEXIST on anything at the path and says "appears twice".
    struct stat st;
    if (lstat(disk.c_str(), &st) == 0 && (h.type != EntryType::kDirectory || !S_ISDIR(st.st_mode)))
      return twice();
  }
  // Nothing may be created below a symlink (links are made last, but the
  // archive must not be able to name a path through one).
  for (std::string p = DirName(disk); p.size() > staging_.size(); p = DirName(p))
    if (links_seen_.count(p)) {
      // A file already there is still reported as "appears twice", as for other types.
      struct stat st;
      if (h.type == EntryType::kFile && !opt().dry_run && lstat(disk.c_str(), &st) == 0) return twice();
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' goes through a symlink");
    }
  return Status::OK();
}

// Members arrive grouped by directory, so the directory made (or found) last
// is remembered rather than stat()ed again for every file in it. Nothing
// removes directories while entries arrive, and symlinks are made after.
Status DomainImport::EnsureDir(const std::string& dir) {
  if (dir == last_dir_) return Status::OK();
  VM_RETURN_IF_ERROR(MakeDirs(dir, 0700, ctx_->chown, nullptr));
  last_dir_ = dir;
  return Status::OK();
}

Status DomainImport::Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) {
  auto disk = StagingPath(h, name);
  if (!disk.ok()) return disk.status();
  // The domain dir itself is never a rewritten file, whatever the manifest says.
  const bool rewritten = *disk != staging_ && rewritten_members_.count(name.rel_in_domain) > 0;
  struct timespec mtime = {static_cast<time_t>(h.mtime_sec), h.mtime_nsec};
  VM_RETURN_IF_ERROR(CheckFirstUse(h, *disk));
  if (rewritten) rewritten_seen_.insert(name.rel_in_domain);
  const bool dry = opt().dry_run;
  switch (h.type) {
    case EntryType::kDirectory:
      if (*disk != staging_ && !dry) VM_RETURN_IF_ERROR(EnsureDir(*disk));
      dir_paths_.insert(*disk);
      dirs_.push_back({*disk, CarriedDirMode(rec->mode), mtime});  // never the sticky bit
      if (name.part == MemberPart::kUserHome && name.rel.empty()) homes_seen_.insert(name.user);
      return Status::OK();
    case EntryType::kFile:
      if (*disk == staging_)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' must be a directory");
      if (dry) return ctx_->HashEntry(h, rec);
      VM_RETURN_IF_ERROR(EnsureDir(DirName(*disk)));
      VM_RETURN_IF_ERROR(ctx_->WriteEntry(h, *disk, ctx_->chown, umask_sets_mode_, rec));
      if (rewritten) rewrite_files_.push_back(*disk);
      return Status::OK();
    case EntryType::kSymlink:
      if (h.link_target.empty() || h.link_target.find('\0') != std::string::npos)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': empty symlink target");
      if (*disk == staging_ || home_roots_.count(*disk))
        return Status::Corrupt("archive entry '" + EscapeC(h.path) +
                               "': a symlink in place of a domain, home or Maildir directory");
      if (!dry) VM_RETURN_IF_ERROR(EnsureDir(DirName(*disk)));
      links_seen_.insert(*disk);
      links_.push_back({*disk, h.link_target, mtime, name.rel_in_domain});
      return Status::OK();
    default:
      return Status::OK();
  }
}

Status DomainImport::EndOfEntries() {
  // The manifest is not trusted over the stream: what it promises must have come.
  for (const auto& u : domain().users)
    if (u.home_present && !homes_seen_.count(u.entry.name))
      return Status::Corrupt("archive: user '" + EscapeC(u.entry.name) +
                             "' has a home in the manifest, but its members are missing from the stream");
  for (const auto& f : rewritten_members_)
    if (!rewritten_seen_.count(f))
      return Status::Corrupt("archive: rewritten file '" + EscapeC(f) +
                             "' is listed in the manifest but missing from the stream");
  return ValidatePlaceholders();
}

// Every placeholder must be one we can resolve, checked before any lock is
// taken or file written outside the staging dir.
Status DomainImport::ValidatePlaceholders() {
  HostPathSet probe;
  probe.vpopmail_home = probe.qmail_dir = probe.domain_dir = "/x";
  for (const auto& [name, rel] : user_rel_) probe.user_dirs[name] = "/x/" + rel;
  for (const auto& link : links_) {
    std::string t = link.target;
    Status s = FromPlaceholders(probe, &t);
    if (!s.ok()) return s.WithContext("archive entry for " + EscapeC(link.disk.substr(staging_.size())));
  }
  if (opt().dry_run) return Status::OK();  // rewritten files were not kept
  for (const auto& path : rewrite_files_) {
    auto text = ReadSmallFile(path, kMaxRewriteBytes);
    if (!text.ok()) return text.status();
    std::string data = *text;
    Status s = FromPlaceholders(probe, &data);
    if (!s.ok()) return s.WithContext("archive file " + EscapeC(path.substr(staging_.size() + 1)));
  }
  return Status::OK();
}

std::vector<qmail::DomainAssign> DomainImport::AssignEntries(const std::string& host_dir) const {
  std::vector<qmail::DomainAssign> entries;
  for (const auto& name : AllNames()) {
    qmail::DomainAssign a;
    a.domain = name;
    a.real_domain = domain().name;
    a.uid = ctx_->report->owner.uid;
    a.gid = ctx_->report->owner.gid;
    a.dir = host_dir;
    entries.push_back(a);
  }
  return entries;
}

std::vector<qmail::DomainAssign> DomainImport::PlanPlacement(std::optional<std::string>* dir_control,
                                                             DomainOutcome* out) {
  vpopmail::BucketAllocation alloc = vpopmail::AllocateBuckets(*dir_control, 1, RowCounters());
  const std::string& bucket = alloc.buckets[0];
  std::string host_dir = opt().paths.vpopmail_home + "/domains/" +
                         (bucket.empty() ? "" : bucket + "/") + domain().name;
  *dir_control = alloc.final_text;
  out->domain_dir = host_dir;
  for (const auto& [name, rel] : user_rel_) out->user_dirs[name] = host_dir + "/" + rel;
  return AssignEntries(host_dir);
}

Status DomainImport::Commit(DomainOutcome* out) {
  VM_RETURN_IF_ERROR(ctx_->CheckInterrupted());
  const HostPaths& paths = opt().paths;
  qmail::ControlUpdateOptions copt;
  copt.use_qmail_programs = opt().use_qmail_programs;
  qmail::ControlTransaction tx(paths, copt);
  // Lock() may create lock files (as vpopmail's tools do); a failed import
  // removes the ones it created and puts the directories' mtimes back.
  for (const std::string& dir : {paths.qmail_dir + "/users", paths.qmail_dir + "/control"}) {
    struct stat st;
    if (lstat(paths.OnDisk(dir).c_str(), &st) == 0) qmail_dir_mtimes_.push_back({paths.OnDisk(dir), st.st_mtim});
  }
  const std::string control_files[] = {paths.assign_file(), paths.control_file("rcpthosts"),
                                       paths.control_file("morercpthosts"),
                                       paths.control_file("virtualdomains"), paths.control_file("locals")};
  for (const std::string& f : control_files) {
    std::string lock = paths.OnDisk(f) + ".lock";
    struct stat st;
    if (lstat(lock.c_str(), &st) != 0) lock_files_created_.push_back(lock);
  }
  VM_RETURN_IF_ERROR(tx.Lock());
  VM_RETURN_IF_ERROR(tx.CheckAbsent(AllNames()));
  VM_RETURN_IF_ERROR(ctx_->store->CheckDomainAbsent(domain().name));

  // The domain's own bucket, as vadddomain allocates it (from
  // domains/.dir-control, or the dom_<uid> row of a MySQL target).
  const bool dc_file = ctx_->store->KeepsDirControlFiles();
  std::string dc_path = ctx_->domains_disk + "/.dir-control";
  auto dc_old = ctx_->DomainsDirControl();
  if (!dc_old.ok()) return dc_old.status();
  const std::optional<std::string> existing = *dc_old;
  vpopmail::BucketAllocation domain_alloc = vpopmail::AllocateBuckets(existing, 1, RowCounters());
  const std::string& bucket = domain_alloc.buckets[0];
  std::string host_dir = paths.vpopmail_home + "/domains/" + (bucket.empty() ? "" : bucket + "/") +
                         domain().name;
  // Into a symlinked bucket as vadddomain would (it chdir()s through it).
  auto place = ResolveParentUnderRoot(paths.root, host_dir);
  if (!place.ok()) return place.status().WithContext(domain().name);
  std::string final_disk = place->disk;
  if (!place->exists && !StartsWith(final_disk, ctx_->domains_disk + "/"))
    return Status::NotFound(domain().name + ": " + DirName(host_dir) + " is a symlink to " +
                            DirName(place->host) + ", which does not exist");
  struct stat st;
  if (lstat(final_disk.c_str(), &st) == 0)
    return Status::Conflict(domain().name + ": " + host_dir + " already exists on the target");
  out->domain_dir = host_dir;

  HostPathSet target;
  target.vpopmail_home = paths.vpopmail_home;
  target.qmail_dir = paths.qmail_dir;
  target.domain_dir = host_dir;
  for (const auto& [name, rel] : user_rel_) target.user_dirs[name] = host_dir + "/" + rel;
  out->user_dirs = target.user_dirs;

  // What the commit will change, worked out before the staging dir is
  // finished so that a move record (--move-id) lands with the domain.
  std::vector<std::string> bucket_dirs;
  for (std::string d = DirName(final_disk); StartsWith(d, ctx_->domains_disk + "/"); d = DirName(d)) {
    if (lstat(d.c_str(), &st) == 0) break;
    bucket_dirs.insert(bucket_dirs.begin(), d);
  }
  JournalPlan plan;
  plan.final_dir = final_disk;
  plan.created_dirs = bucket_dirs;
  auto edits = tx.Plan(AssignEntries(host_dir));
  if (!edits.ok()) return edits.status();
  for (const auto& e : *edits) plan.edits.push_back({e.op, paths.OnDisk(e.file), e.line});
  for (const std::string& f : control_files)
    plan.existed.push_back({paths.OnDisk(f), lstat(paths.OnDisk(f).c_str(), &st) == 0});
  plan.users_cdb = paths.OnDisk(paths.qmail_dir + "/users/cdb");
  plan.morercpthosts_cdb = paths.OnDisk(paths.control_file("morercpthosts.cdb"));
  if (dc_file) {
    plan.dir_control = dc_path;
  } else {
    plan.sql_domain = domain().name;
    plan.sql_uid = ctx_->report->owner.uid;
  }
  plan.dir_control_old = existing;
  plan.dir_control_new = domain_alloc.final_text;
  if (!opt().move_id.empty())
    VM_RETURN_IF_ERROR(WriteMoveRecord(staging_, opt().move_id, plan, ctx_->chown));
  VM_RETURN_IF_ERROR(WriteImportRecord(staging_, ctx_->manifest_record, ctx_->report->manifest, ctx_->chown));
  VM_RETURN_IF_ERROR(FinishStaging(target));
  CrashPoint("staging complete");

  // Everything below changes the live target: journal it first.
  std::string journal = JournalDir(ctx_->domains_disk, domain().name);
  VM_RETURN_IF_ERROR(WriteJournal(journal, plan));
  CrashPoint("journal written");
  // From here a failure rolls back through the journal, exactly as the
  // next run would after a crash.
  auto fail = [&](Status s) {
    auto rb = RecoverJournal(journal, ctx_->store);
    if (!rb.ok()) return s.WithContext("rollback also failed (" + rb.status().message() + ")");
    return s;
  };
  for (const auto& d : bucket_dirs) {
    if (mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) return fail(FromErrno("cannot create " + d, errno));
    if (ctx_->chown && lchown(d.c_str(), ctx_->chown->uid, ctx_->chown->gid) != 0)
      return fail(FromErrno("cannot chown " + d, errno));
  }
  if (RenameNoReplace(staging_, final_disk) != 0)
    return fail(FromErrno("cannot move " + staging_ + " to " + final_disk, errno));
  SyncDirectory(DirName(final_disk));
  CrashPoint("domain dir renamed into place");
  Status s;
  if (dc_file) {
    s = WriteFileAtomic(dc_path, domain_alloc.final_text, 0600, ctx_->chown);
    if (!s.ok()) return fail(s);
    s = MarkDirControlWritten(journal);
    if (!s.ok()) return fail(s);
    CrashPoint("domains/.dir-control written");
  } else {
    // The rows, the domain's dir_control row and dom_<uid>: one transaction.
    vpopmail::DomainRows rows;
    rows.domain = domain().name;
    rows.uid = ctx_->report->owner.uid;
    rows.dir_control = dir_control_text_;
    rows.domains_dir_control_old = existing;
    rows.domains_dir_control_new = domain_alloc.final_text;
    s = ctx_->store->CommitDomain(rows);
    if (!s.ok()) return fail(s);
    CrashPoint("rows committed");
    s = MarkSqlCommitted(journal);
    if (!s.ok()) return fail(s);
    CrashPoint("rows committed, marked");
  }
  ctx_->report->domains_dir_control = domain_alloc.final_text;
  s = tx.Apply(AssignEntries(host_dir));
  if (!s.ok()) return fail(s);
  CrashPoint("control files written");
  for (const auto& e : *edits) ctx_->report->control_edits.push_back({e.file, e.op, e.line});
  s = RemoveJournal(journal);
  if (!s.ok()) return fail(s);
  committed_ = true;
  CrashPoint("journal removed");
  return Status::OK();
}

}  // namespace vmigrate
