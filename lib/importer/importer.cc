#include "importer/importer.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <csignal>
#include <filesystem>
#include <memory>
#include <set>

#include "archive/archive_reader.h"
#include "archive/checksums.h"
#include "core/crash_point.h"
#include "core/errno_status.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "importer/journal.h"
#include "model/manifest_yaml.h"
#include "model/path_rewrite.h"
#include "qmail/assign.h"
#include "templates.h"
#include "qmail/control_update.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/names.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate {
namespace {

constexpr size_t kCopyBuffer = 256 * 1024;
constexpr size_t kMaxManifestBytes = 64u << 20;
constexpr size_t kMaxRewriteBytes = 1u << 20;

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

// rename() that refuses to replace an existing target (an empty directory
// would otherwise be replaced silently).
int RenameNoReplace(const std::string& from, const std::string& to) {
  return static_cast<int>(
      syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE));
}

Status MakeDirs(const std::string& dir, mode_t mode, const std::optional<FileOwner>& owner,
                std::vector<std::string>* created) {
  struct stat st;
  if (lstat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status::Conflict(dir + " exists and is not a directory");
  }
  VM_RETURN_IF_ERROR(MakeDirs(Parent(dir), mode, owner, created));
  if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return FromErrno("cannot create directory " + dir, errno);
  chmod(dir.c_str(), mode);
  if (owner && lchown(dir.c_str(), owner->uid, owner->gid) != 0)
    return FromErrno("cannot chown " + dir, errno);
  if (created) created->push_back(dir);
  return Status::OK();
}

struct PendingDir {
  std::string disk;
  mode_t mode;
  struct timespec mtime;
};

struct PendingLink {
  std::string disk;
  std::string target;  // with placeholders
  struct timespec mtime;
};

class Importer {
 public:
  Importer(const ImportOptions& options, ImportReport* report) : opt_(options), report_(report) {}

  ~Importer() {
    if (committed_) return;
    if (!staging_.empty()) {
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

  Status Run() {
    VM_RETURN_IF_ERROR(CheckTarget());
    auto owner = ResolveTargetOwner(opt_.paths, opt_.owner);
    if (!owner.ok()) return owner.status();
    report_->owner = *owner;
    if (geteuid() == 0) {
      chown_ = *owner;
      report_->chowned = true;
    } else if (opt_.owner) {
      report_->warnings.push_back("not running as root: files keep the current user, not " +
                                  std::to_string(opt_.owner->uid) + ":" +
                                  std::to_string(opt_.owner->gid));
    }

    auto reader = ArchiveReader::Open(opt_.archive);
    if (!reader.ok()) return reader.status();
    reader_ = std::move(*reader);
    VM_RETURN_IF_ERROR(ReadManifest());
    VM_RETURN_IF_ERROR(CheckManifest());

    qmail::ControlUpdateOptions copt;
    copt.use_qmail_programs = opt_.use_qmail_programs;
    copt.owner = chown_;
    if (!opt_.dry_run) VM_RETURN_IF_ERROR(RecoverInterrupted(copt));
    tx_ = std::make_unique<qmail::ControlTransaction>(opt_.paths, copt);
    VM_RETURN_IF_ERROR(tx_->CheckAbsent(AllNames()));
    VM_RETURN_IF_ERROR(CheckDomainDirAbsent());
    VM_RETURN_IF_ERROR(PlanUsers());
    if (opt_.dry_run) {
      // Same checks and the same placement code as a real run, no writes.
      staging_ = vp_disk_ + "/domains/.vmigrate-dry-run";
      Status s = Unpack();
      staging_.clear();
      VM_RETURN_IF_ERROR(s);
      return PlanCommit();
    }
    VM_RETURN_IF_ERROR(MakeStaging());
    VM_RETURN_IF_ERROR(Unpack());
    VM_RETURN_IF_ERROR(Commit());
    if (opt_.reload && (opt_.paths.root == "/")) {
      auto n = qmail::SignalQmailSend();
      if (n.ok()) report_->qmail_send_signalled = *n;
      else report_->warnings.push_back("could not signal qmail-send: " + n.status().message());
    }
    return Status::OK();
  }

 private:
  const ManifestDomain& domain() const { return report_->manifest.domains[0]; }

  std::vector<std::string> AllNames() const {
    std::vector<std::string> names = {domain().name};
    names.insert(names.end(), domain().aliases.begin(), domain().aliases.end());
    return names;
  }

  Status CheckInterrupted() const {
    if (opt_.interrupted && opt_.interrupted->load())
      return Status::Interrupted("interrupted; nothing was changed on the target");
    return Status::OK();
  }

  Status CheckTarget() {
    struct stat st;
    vp_disk_ = opt_.paths.OnDisk(opt_.paths.vpopmail_home);
    if (stat(vp_disk_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status::NotFound("target vpopmail home " + vp_disk_ + " does not exist");
    for (const char* sub : {"", "/control", "/users"}) {
      std::string d = opt_.paths.OnDisk(opt_.paths.qmail_dir + sub);
      if (stat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Status::NotFound("target qmail directory " + d + " does not exist");
    }
    if (access(vp_disk_.c_str(), W_OK) != 0)
      return FromErrno("target vpopmail home " + vp_disk_ + " is not writable", errno);
    return Status::OK();
  }

  Status ReadManifest() {
    EntryHeader h;
    auto more = reader_->Next(&h);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Corrupt(opt_.archive + ": empty archive (no manifest.yaml)");
    if (h.path != kManifestEntry || h.type != EntryType::kFile)
      return Status::Corrupt(opt_.archive + ": first entry is '" + EscapeC(h.path) +
                             "', not manifest.yaml: not a vmigrate archive");
    if (h.size < 0 || static_cast<size_t>(h.size) > kMaxManifestBytes)
      return Status::Corrupt("manifest.yaml claims " + std::to_string(h.size) + " bytes (limit " +
                             std::to_string(kMaxManifestBytes) + ")");
    auto text = reader_->ReadAll(kMaxManifestBytes);
    if (!text.ok()) return text.status();
    if (static_cast<std::int64_t>(text->size()) != h.size)
      return Status::Corrupt("manifest.yaml: size differs from its header");
    auto m = ManifestFromYaml(*text);
    if (!m.ok()) return m.status();
    report_->manifest = *m;
    VM_RETURN_IF_ERROR(spool_.Init());
    FileRecord r;
    r.type = 'f';
    r.mode = h.mode;
    r.mtime_sec = h.mtime_sec;
    r.mtime_nsec = h.mtime_nsec;
    r.size = h.size;
    r.sha256 = Sha256::Of(*text);
    r.path = h.path;
    return spool_.Add(r);
  }

  // The manifest is untrusted input: every name is checked with vpopmail's
  // rules before it can reach a path or a control file.
  Status CheckManifest() {
    const ManifestDomain& d = domain();
    auto ctx = [&](const Status& s) { return s.WithContext("archive"); };
    Status s = vpopmail::ValidateDomainName(d.name);
    if (!s.ok()) return Status::Corrupt("archive: domain: " + s.message());
    std::set<std::string> names = {d.name};
    for (const auto& a : d.aliases) {
      s = vpopmail::ValidateDomainName(a);
      if (!s.ok()) return Status::Corrupt("archive: alias domain: " + s.message());
      if (!names.insert(a).second)
        return Status::Corrupt("archive: alias domain '" + EscapeC(a) + "' is listed twice");
    }
    std::set<std::string> users;
    for (const auto& u : d.users) {
      s = vpopmail::ValidateEntry(u.entry);
      if (!s.ok()) return Status::Corrupt("archive: " + s.message());
      if (!users.insert(u.entry.name).second)
        return Status::Corrupt("archive: user '" + EscapeC(u.entry.name) + "' is listed twice");
    }
    for (const auto& f : d.rewritten_files) {
      s = CheckMemberPath(f);
      if (!s.ok()) return ctx(s);
    }
    (void)ctx;
    return Status::OK();
  }

  // Fresh hashing: replay the source's creation order (its bucket order, so
  // a domain without deletions lands in exactly the same buckets) against a
  // new .dir-control, as vadddomain + vadduser would.
  Status PlanUsers() {
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
    vpopmail::BucketAllocation alloc = vpopmail::AllocateBuckets(std::nullopt, users.size());
    dir_control_text_ = alloc.final_text;
    for (size_t k = 0; k < order.size(); ++k) {
      const std::string& name = users[order[k]].entry.name;
      user_rel_[name] = alloc.buckets[k].empty() ? name : alloc.buckets[k] + "/" + name;
    }
    return Status::OK();
  }

  // A run of this import that died half-way (SIGKILL, power cut) left a
  // journal and/or a staging dir: roll the target back to where it was
  // before that run, so this run starts from a clean state and completes it.
  Status RecoverInterrupted(const qmail::ControlUpdateOptions& copt) {
    std::string domains = vp_disk_ + "/domains";
    std::string journal = JournalDir(domains, domain().name);
    struct stat st;
    if (lstat(journal.c_str(), &st) == 0) {
      qmail::ControlTransaction recovery(opt_.paths, copt);
      VM_RETURN_IF_ERROR(recovery.Lock());  // waits for a live run still committing
      auto recovered = RecoverJournal(journal);
      if (!recovered.ok()) return recovered.status().WithContext("recovering an interrupted import");
      if (*recovered)
        report_->warnings.push_back(domain().name + ": rolled back an interrupted earlier import of this domain");
    }
    const std::string prefix = ".vmigrate-staging." + domain().name + ".";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(domains, ec)) {
      std::string name = e.path().filename().string();
      if (!StartsWith(name, prefix)) continue;
      unsigned long long pid = 0;
      if (!ParseUint64(name.substr(prefix.size()), &pid)) continue;
      if (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;  // still running
      std::filesystem::remove_all(e.path(), ec);
      report_->warnings.push_back(domain().name + ": removed the staging dir of an interrupted import");
    }
    return Status::OK();
  }

  // Where the domain will land if nothing changes meanwhile (Commit decides
  // for real, under the locks). Lets a leftover directory fail the import
  // before anything is written.
  Status CheckDomainDirAbsent() {
    auto dc = ReadSmallFile(vp_disk_ + "/domains/.dir-control", 4096);
    std::optional<std::string> existing;
    if (dc.ok()) existing = *dc;
    std::string bucket = vpopmail::AllocateBuckets(existing, 1).buckets[0];
    for (const std::string& b : {std::string(), bucket}) {
      std::string host = opt_.paths.vpopmail_home + "/domains/" + (b.empty() ? "" : b + "/") +
                         domain().name;
      struct stat st;
      if (lstat(opt_.paths.OnDisk(host).c_str(), &st) == 0)
        return Status::Conflict(domain().name + ": " + host + " already exists on the target");
    }
    return Status::OK();
  }

  Status MakeStaging() {
    std::string domains = vp_disk_ + "/domains";
    struct stat st;
    touched_dir_ = lstat(domains.c_str(), &st) == 0 ? domains : vp_disk_;
    if (lstat(touched_dir_.c_str(), &st) != 0) return FromErrno("cannot stat " + touched_dir_, errno);
    touched_mtime_ = st.st_mtim;
    VM_RETURN_IF_ERROR(MakeDirs(domains, 0700, chown_, &created_dirs_));
    staging_ = domains + "/.vmigrate-staging." + domain().name + "." + std::to_string(getpid());
    std::error_code ec;
    std::filesystem::remove_all(staging_, ec);  // a crashed run of ours with the same pid
    if (mkdir(staging_.c_str(), 0700) != 0)
      return FromErrno("cannot create staging directory " + staging_, errno);
    if (chown_ && lchown(staging_.c_str(), chown_->uid, chown_->gid) != 0)
      return FromErrno("cannot chown " + staging_, errno);
    return Status::OK();
  }

  // Maps an archive member to its place under the staging dir.
  Result<std::string> StagingPath(const std::string& member, bool* rewritten) {
    VM_RETURN_IF_ERROR(CheckMemberPath(member));
    const std::string files = ArchiveFilesPrefix(domain().name);
    const std::string users = ArchiveDomainPrefix(domain().name) + "users/";
    std::string rel_in_domain;  // relative to domains/<name>/
    std::string out;
    if (member + "/" == files) {
      *rewritten = false;
      return staging_;
    }
    if (StartsWith(member, files)) {
      std::string rel = member.substr(files.size());
      for (const auto& [name, home] : user_rel_) {
        if (rel == home || StartsWith(rel, home + "/"))
          return Status::Corrupt("archive entry '" + EscapeC(member) +
                                 "' would land in the home of user " + name);
      }
      rel_in_domain = "files/" + rel;
      out = staging_ + "/" + rel;
    } else if (StartsWith(member, users)) {
      std::string rest = member.substr(users.size());
      size_t slash = rest.find('/');
      std::string user = rest.substr(0, slash);
      auto it = user_rel_.find(user);
      if (it == user_rel_.end())
        return Status::Corrupt("archive entry '" + EscapeC(member) +
                               "' belongs to a user the manifest does not list");
      rel_in_domain = "users/" + rest;
      out = staging_ + "/" + it->second + (slash == std::string::npos ? "" : rest.substr(slash));
    } else {
      return Status::Corrupt("archive entry '" + EscapeC(member) +
                             "' is outside the domain the manifest names");
    }
    *rewritten = rewritten_members_.count(rel_in_domain) > 0;
    return out;
  }

  // Any second member at a path already used (by a file, a directory or a
  // symlink) is refused, whatever the combination of types.
  Status CheckFirstUse(const EntryHeader& h, const std::string& disk) {
    auto twice = [&]() {
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' appears twice");
    };
    if (links_seen_.count(disk) || dir_paths_.count(disk)) return twice();
    if (opt_.dry_run) {
      if (h.type != EntryType::kDirectory && !seen_files_.insert(disk).second) return twice();
    } else {
      // A file already there (directories made implicitly for a parent are fine).
      struct stat st;
      if (lstat(disk.c_str(), &st) == 0 && (h.type != EntryType::kDirectory || !S_ISDIR(st.st_mode)))
        return twice();
    }
    // Nothing may be created below a symlink (links are made last, but the
    // archive must not be able to name a path through one).
    for (std::string p = Parent(disk); p.size() > staging_.size(); p = Parent(p))
      if (links_seen_.count(p))
        return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' goes through a symlink");
    return Status::OK();
  }

  Status Unpack() {
    for (const auto& f : domain().rewritten_files) rewritten_members_.insert(f);
    std::set<std::string> home_roots;  // user homes and their Maildirs: never symlinks
    for (const auto& [name, rel] : user_rel_) {
      home_roots.insert(staging_ + "/" + rel);
      home_roots.insert(staging_ + "/" + rel + "/Maildir");
    }
    EntryHeader h;
    for (;;) {
      VM_RETURN_IF_ERROR(CheckInterrupted());
      auto more = reader_->Next(&h);
      if (!more.ok()) return more.status();
      if (!*more) return Status::Corrupt(opt_.archive + ": truncated: checksums.txt is missing");
      if (h.path == kChecksumsEntry) break;
      if (++report_->entries % 5 == 0) CrashPoint("unpacking");
      bool rewritten = false;
      auto disk = StagingPath(h.path, &rewritten);
      if (!disk.ok()) return disk.status();
      FileRecord rec;
      rec.mode = h.mode & 07777;
      rec.mtime_sec = h.mtime_sec;
      rec.mtime_nsec = h.mtime_nsec;
      rec.path = h.path;
      rec.rewritten = rewritten;
      struct timespec mtime = {static_cast<time_t>(h.mtime_sec), h.mtime_nsec};
      if (h.mtime_nsec < 0 || h.mtime_nsec > 999999999)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': bad mtime");
      if (h.type == EntryType::kHardlink)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) +
                               "' is a hard link; vmigrate archives never contain one");
      if (h.type == EntryType::kOther)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) +
                               "' is a device, FIFO or socket; refused");
      VM_RETURN_IF_ERROR(CheckFirstUse(h, *disk));
      if (rewritten) rewritten_seen_.insert(RelInDomain(h.path));
      switch (h.type) {
        case EntryType::kDirectory: {
          rec.type = 'd';
          if (*disk != staging_ && !opt_.dry_run)
            VM_RETURN_IF_ERROR(MakeDirs(*disk, 0700, chown_, nullptr));
          dir_paths_.insert(*disk);
          dirs_.push_back({*disk, rec.mode, mtime});
          NoteHome(h.path);
          break;
        }
        case EntryType::kFile: {
          rec.type = 'f';
          if (*disk == staging_)
            return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' must be a directory");
          if (!opt_.dry_run) VM_RETURN_IF_ERROR(MakeDirs(Parent(*disk), 0700, chown_, nullptr));
          VM_RETURN_IF_ERROR(WriteFile(h, *disk, mtime, &rec));
          if (rewritten) rewrite_files_.push_back(*disk);
          break;
        }
        case EntryType::kSymlink: {
          rec.type = 'l';
          rec.rewritten = HasPlaceholderMarker(h.link_target);
          rec.size = static_cast<std::int64_t>(h.link_target.size());
          rec.sha256 = Sha256::Of(h.link_target);
          if (h.link_target.empty() || h.link_target.find('\0') != std::string::npos)
            return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': empty symlink target");
          if (*disk == staging_ || home_roots.count(*disk))
            return Status::Corrupt("archive entry '" + EscapeC(h.path) +
                                   "': a symlink in place of a domain, home or Maildir directory");
          if (!opt_.dry_run) VM_RETURN_IF_ERROR(MakeDirs(Parent(*disk), 0700, chown_, nullptr));
          links_seen_.insert(*disk);
          links_.push_back({*disk, h.link_target, mtime});
          break;
        }
        default:
          break;
      }
      VM_RETURN_IF_ERROR(spool_.Add(rec));
    }
    VM_RETURN_IF_ERROR(CheckIndex());
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

  // "files/x" or "users/u/x" for a member under domains/<name>/.
  std::string RelInDomain(const std::string& member) const {
    return member.substr(ArchiveDomainPrefix(domain().name).size());
  }

  void NoteHome(const std::string& member) {
    const std::string users = ArchiveDomainPrefix(domain().name) + "users/";
    if (StartsWith(member, users) && member.find('/', users.size()) == std::string::npos)
      homes_seen_.insert(member.substr(users.size()));
  }

  // Every placeholder must be one we can resolve, checked before any lock is
  // taken or file written outside the staging dir.
  Status ValidatePlaceholders() {
    HostPathSet probe;
    probe.vpopmail_home = probe.qmail_dir = probe.domain_dir = "/x";
    for (const auto& [name, rel] : user_rel_) probe.user_dirs[name] = "/x/" + rel;
    for (const auto& link : links_) {
      std::string t = link.target;
      Status s = FromPlaceholders(probe, &t);
      if (!s.ok()) return s.WithContext("archive entry for " + EscapeC(link.disk.substr(staging_.size())));
    }
    if (opt_.dry_run) return Status::OK();  // rewritten files were not kept
    for (const auto& path : rewrite_files_) {
      auto text = ReadSmallFile(path, kMaxRewriteBytes);
      if (!text.ok()) return text.status();
      std::string data = *text;
      Status s = FromPlaceholders(probe, &data);
      if (!s.ok()) return s.WithContext("archive file " + EscapeC(path.substr(staging_.size() + 1)));
    }
    return Status::OK();
  }

  Status WriteFile(const EntryHeader& h, const std::string& disk, const struct timespec& mtime,
                   FileRecord* rec) {
    if (opt_.dry_run) return HashOnly(h, rec);
    int fd = open(disk.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' appears twice");
      return FromErrno("cannot create " + disk, errno);
    }
    Sha256 sha;
    std::int64_t total = 0;
    Status s;
    for (;;) {
      auto n = reader_->Read(buffer_, sizeof buffer_);
      if (!n.ok()) {
        s = n.status();
        break;
      }
      if (*n == 0) break;
      sha.Update(buffer_, *n);
      total += static_cast<std::int64_t>(*n);
      const char* p = buffer_;
      size_t left = *n;
      while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
          if (errno == EINTR) continue;
          s = FromErrno("cannot write " + disk, errno);
          break;
        }
        p += w;
        left -= static_cast<size_t>(w);
      }
      if (!s.ok()) break;
    }
    if (s.ok() && total != h.size)
      s = Status::Corrupt("archive entry '" + EscapeC(h.path) + "': " + std::to_string(total) +
                          " bytes where the header says " + std::to_string(h.size));
    if (s.ok() && fchmod(fd, h.mode & 07777) != 0) s = FromErrno("cannot chmod " + disk, errno);
    if (s.ok() && chown_ && fchown(fd, chown_->uid, chown_->gid) != 0)
      s = FromErrno("cannot chown " + disk, errno);
    struct timespec times[2] = {mtime, mtime};
    if (s.ok() && futimens(fd, times) != 0) s = FromErrno("cannot set mtime of " + disk, errno);
    if (close(fd) != 0 && s.ok()) s = FromErrno("cannot write " + disk, errno);
    rec->size = total;
    rec->sha256 = sha.HexDigest();
    report_->file_bytes += static_cast<std::uint64_t>(total);
    return s;
  }

  Status HashOnly(const EntryHeader& h, FileRecord* rec) {
    Sha256 sha;
    std::int64_t total = 0;
    for (;;) {
      auto n = reader_->Read(buffer_, sizeof buffer_);
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      sha.Update(buffer_, *n);
      total += static_cast<std::int64_t>(*n);
    }
    if (total != h.size)
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': " + std::to_string(total) +
                             " bytes where the header says " + std::to_string(h.size));
    rec->size = total;
    rec->sha256 = sha.HexDigest();
    report_->file_bytes += static_cast<std::uint64_t>(total);
    return Status::OK();
  }

  // The dry run's answer: where the domain and its users would land and
  // which control-file lines would change, from the target as it is now.
  Status PlanCommit() {
    std::string dc_path = vp_disk_ + "/domains/.dir-control";
    auto dc_old = ReadSmallFile(dc_path, 4096);
    std::optional<std::string> existing;
    if (dc_old.ok()) existing = *dc_old;
    vpopmail::BucketAllocation alloc = vpopmail::AllocateBuckets(existing, 1);
    const std::string& bucket = alloc.buckets[0];
    std::string host_dir = opt_.paths.vpopmail_home + "/domains/" +
                           (bucket.empty() ? "" : bucket + "/") + domain().name;
    report_->domain_dir = host_dir;
    report_->domains_dir_control = alloc.final_text;
    for (const auto& [name, rel] : user_rel_) report_->user_dirs[name] = host_dir + "/" + rel;
    auto edits = tx_->Plan(AssignEntries(host_dir));
    if (!edits.ok()) return edits.status();
    for (const auto& e : *edits) report_->control_edits.push_back({e.file, e.op, e.line});
    return Status::OK();
  }

  std::vector<qmail::DomainAssign> AssignEntries(const std::string& host_dir) const {
    std::vector<qmail::DomainAssign> entries;
    for (const auto& name : AllNames()) {
      qmail::DomainAssign a;
      a.domain = name;
      a.real_domain = domain().name;
      a.uid = report_->owner.uid;
      a.gid = report_->owner.gid;
      a.dir = host_dir;
      entries.push_back(a);
    }
    return entries;
  }

  // Compares what we received, entry by entry, with the exporter's index,
  // and makes sure nothing follows it.
  Status CheckIndex() {
    VM_RETURN_IF_ERROR(CompareWithIndex(reader_.get(), &spool_));
    EntryHeader h;
    auto more = reader_->Next(&h);
    if (!more.ok()) return more.status();
    if (*more) return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' follows checksums.txt");
    return Status::OK();
  }

  Status Commit() {
    VM_RETURN_IF_ERROR(CheckInterrupted());
    // Lock() may create lock files (as vpopmail's tools do); a failed import
    // removes the ones it created and puts the directories' mtimes back.
    for (const std::string& dir : {opt_.paths.qmail_dir + "/users", opt_.paths.qmail_dir + "/control"}) {
      struct stat st;
      if (lstat(opt_.paths.OnDisk(dir).c_str(), &st) == 0)
        qmail_dir_mtimes_.push_back({opt_.paths.OnDisk(dir), st.st_mtim});
    }
    for (const std::string& f : {opt_.paths.assign_file(), opt_.paths.control_file("rcpthosts"),
                                 opt_.paths.control_file("morercpthosts"),
                                 opt_.paths.control_file("virtualdomains"),
                                 opt_.paths.control_file("locals")}) {
      std::string lock = opt_.paths.OnDisk(f) + ".lock";
      struct stat st;
      if (lstat(lock.c_str(), &st) != 0) lock_files_created_.push_back(lock);
    }
    VM_RETURN_IF_ERROR(tx_->Lock());
    VM_RETURN_IF_ERROR(tx_->CheckAbsent(AllNames()));

    // The domain's own bucket, as vadddomain allocates it.
    std::string dc_path = vp_disk_ + "/domains/.dir-control";
    auto dc_old = ReadSmallFile(dc_path, 4096);
    std::optional<std::string> existing;
    if (dc_old.ok()) existing = *dc_old;
    else if (dc_old.status().code() != Status::Code::kNotFound) return dc_old.status();
    vpopmail::BucketAllocation domain_alloc = vpopmail::AllocateBuckets(existing, 1);
    const std::string& bucket = domain_alloc.buckets[0];
    std::string host_dir = opt_.paths.vpopmail_home + "/domains/" +
                           (bucket.empty() ? "" : bucket + "/") + domain().name;
    std::string final_disk = opt_.paths.OnDisk(host_dir);
    struct stat st;
    if (lstat(final_disk.c_str(), &st) == 0)
      return Status::Conflict(domain().name + ": " + host_dir + " already exists on the target");
    report_->domain_dir = host_dir;

    HostPathSet target;
    target.vpopmail_home = opt_.paths.vpopmail_home;
    target.qmail_dir = opt_.paths.qmail_dir;
    target.domain_dir = host_dir;
    for (const auto& [name, rel] : user_rel_) target.user_dirs[name] = host_dir + "/" + rel;
    report_->user_dirs = target.user_dirs;

    VM_RETURN_IF_ERROR(FinishStaging(target));
    CrashPoint("staging complete");

    // Everything below changes the live target: journal it first.
    std::vector<std::string> bucket_dirs;
    for (std::string d = Parent(final_disk); d.size() > vp_disk_.size() + 8; d = Parent(d)) {
      if (lstat(d.c_str(), &st) == 0) break;
      bucket_dirs.insert(bucket_dirs.begin(), d);
    }
    auto q = [&](const std::string& host) { return opt_.paths.OnDisk(host); };
    JournalPlan plan;
    plan.final_dir = final_disk;
    plan.created_dirs = bucket_dirs;
    auto edits = tx_->Plan(AssignEntries(host_dir));
    if (!edits.ok()) return edits.status();
    for (const auto& e : *edits) plan.edits.push_back({e.op, q(e.file), e.line});
    for (const std::string& f : {opt_.paths.assign_file(), opt_.paths.control_file("rcpthosts"),
                                 opt_.paths.control_file("morercpthosts"),
                                 opt_.paths.control_file("virtualdomains"),
                                 opt_.paths.control_file("locals")})
      plan.existed.push_back({q(f), lstat(q(f).c_str(), &st) == 0});
    plan.users_cdb = q(opt_.paths.qmail_dir + "/users/cdb");
    plan.morercpthosts_cdb = q(opt_.paths.control_file("morercpthosts.cdb"));
    plan.dir_control = dc_path;
    plan.dir_control_old = existing;
    plan.dir_control_new = domain_alloc.final_text;
    std::string journal = JournalDir(vp_disk_ + "/domains", domain().name);
    VM_RETURN_IF_ERROR(WriteJournal(journal, plan));
    CrashPoint("journal written");
    // From here a failure rolls back through the journal, exactly as the
    // next run would after a crash.
    auto fail = [&](Status s) {
      auto rb = RecoverJournal(journal);
      if (!rb.ok()) return s.WithContext("rollback also failed (" + rb.status().message() + ")");
      return s;
    };
    for (const auto& d : bucket_dirs) {
      if (mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) return fail(FromErrno("cannot create " + d, errno));
      if (chown_ && lchown(d.c_str(), chown_->uid, chown_->gid) != 0)
        return fail(FromErrno("cannot chown " + d, errno));
    }
    if (RenameNoReplace(staging_, final_disk) != 0)
      return fail(FromErrno("cannot move " + staging_ + " to " + final_disk, errno));
    SyncDirectory(Parent(final_disk));
    CrashPoint("domain dir renamed into place");
    Status s = WriteFileAtomic(dc_path, domain_alloc.final_text, 0600, chown_);
    if (!s.ok()) return fail(s);
    s = MarkDirControlWritten(journal);
    if (!s.ok()) return fail(s);
    CrashPoint("domains/.dir-control written");
    report_->domains_dir_control = domain_alloc.final_text;
    s = tx_->Apply(AssignEntries(host_dir));
    if (!s.ok()) return fail(s);
    CrashPoint("control files written");
    s = RemoveJournal(journal);
    if (!s.ok()) return fail(s);
    committed_ = true;
    CrashPoint("journal removed");
    return Status::OK();
  }

  // Everything that depends on where the domain lands: placeholders,
  // symlinks, vpasswd, the user .dir-control; then modes and mtimes of
  // directories, and one syncfs for the whole tree.
  Status FinishStaging(const HostPathSet& target) {
    for (const auto& path : rewrite_files_) {
      auto text = ReadSmallFile(path, kMaxRewriteBytes);
      if (!text.ok()) return text.status();
      std::string data = *text;
      Status s = FromPlaceholders(target, &data);
      if (!s.ok()) return s.WithContext(path.substr(staging_.size() + 1));
      struct stat st;
      lstat(path.c_str(), &st);
      int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return FromErrno("cannot rewrite " + path, errno);
      bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
      struct timespec times[2] = {st.st_mtim, st.st_mtim};
      ok = ok && futimens(fd, times) == 0;
      int err = errno;
      if (close(fd) != 0 && ok) {
        ok = false;
        err = errno;
      }
      if (!ok) return FromErrno("cannot rewrite " + path, err);
    }
    for (const auto& link : links_) {
      std::string t = link.target;
      Status s = FromPlaceholders(target, &t);
      if (!s.ok()) return s.WithContext(link.disk.substr(staging_.size() + 1));
      if (symlink(t.c_str(), link.disk.c_str()) != 0)
        return FromErrno("cannot create symlink " + link.disk, errno);
      if (chown_ && lchown(link.disk.c_str(), chown_->uid, chown_->gid) != 0)
        return FromErrno("cannot chown symlink " + link.disk, errno);
      struct timespec times[2] = {link.mtime, link.mtime};
      if (utimensat(AT_FDCWD, link.disk.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
        return FromErrno("cannot set mtime of symlink " + link.disk, errno);
    }

    std::vector<VpasswdEntry> entries;
    for (const auto& u : domain().users) {
      VpasswdEntry e = u.entry;
      e.dir = target.user_dirs.at(e.name);
      entries.push_back(e);
    }
    VM_RETURN_IF_ERROR(vpopmail::WriteVpasswdFiles(staging_, entries, chown_));
    VM_RETURN_IF_ERROR(WriteDefaultDelivery(target));
    if (!entries.empty())
      VM_RETURN_IF_ERROR(WriteFileAtomic(staging_ + "/.dir-control", dir_control_text_, 0600, chown_));
    int lock_fd = open((staging_ + "/.vpasswd.lock").c_str(),
                       O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock_fd >= 0) {
      if (chown_) fchown(lock_fd, chown_->uid, chown_->gid);
      close(lock_fd);
    }
    // Homes and buckets the archive had no entry for (e.g. a missing home).
    for (const auto& [name, rel] : user_rel_) {
      size_t slash = rel.rfind('/');
      if (slash != std::string::npos)
        VM_RETURN_IF_ERROR(MakeDirs(staging_ + "/" + rel.substr(0, slash), 0700, chown_, nullptr));
    }

    // Deepest first, so setting a child's mtime does not disturb its parent.
    std::stable_sort(dirs_.begin(), dirs_.end(), [](const PendingDir& a, const PendingDir& b) {
      return std::count(a.disk.begin(), a.disk.end(), '/') >
             std::count(b.disk.begin(), b.disk.end(), '/');
    });
    for (const auto& d : dirs_) {
      if (chmod(d.disk.c_str(), d.mode) != 0) return FromErrno("cannot chmod " + d.disk, errno);
      struct timespec times[2] = {d.mtime, d.mtime};
      if (utimensat(AT_FDCWD, d.disk.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
        return FromErrno("cannot set mtime of " + d.disk, errno);
    }
    // One flush for the whole staging tree instead of an fsync per message.
    int fd = open(staging_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return FromErrno("cannot open " + staging_, errno);
    int rc = syncfs(fd);
    int err = errno;
    close(fd);
    if (rc != 0) return FromErrno("cannot sync " + staging_, err);
    return Status::OK();
  }

  // A domain without .qmail-default (made by another tool) gets the one
  // vadddomain writes, from templates/qmail-default.
  Status WriteDefaultDelivery(const HostPathSet& target) {
    std::string path = staging_ + "/.qmail-default";
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) return Status::OK();
    std::string text = kBuiltinQmailDefaultTemplate;
    if (const char* dir = std::getenv("VMIGRATE_TEMPLATE_DIR")) {
      auto custom = ReadSmallFile(std::string(dir) + "/qmail-default", 65536);
      if (custom.ok()) text = *custom;
    }
    auto replace = [&](const std::string& key, const std::string& value) {
      for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size()))
        text.replace(pos, key.size(), value);
    };
    replace("@VPOPMAIL_HOME@", target.vpopmail_home);
    replace("@DOMAIN_DIR@", target.domain_dir);
    report_->warnings.push_back(domain().name + ": the archive has no .qmail-default; wrote one from the template");
    return WriteFileAtomic(path, text, 0600, chown_);
  }

  const ImportOptions& opt_;
  ImportReport* report_;
  std::unique_ptr<ArchiveReader> reader_;
  std::unique_ptr<qmail::ControlTransaction> tx_;
  std::optional<FileOwner> chown_;   // set when running as root
  std::string vp_disk_;
  std::string staging_;
  bool committed_ = false;
  std::vector<std::string> created_dirs_;
  std::string touched_dir_;          // parent of the staging dir (or of domains/ we created)
  struct timespec touched_mtime_ = {0, 0};
  std::map<std::string, std::string> user_rel_;  // user -> "bucket/name" in the new domain dir
  std::string dir_control_text_;
  std::set<std::string> rewritten_members_;
  std::vector<std::string> rewrite_files_;
  std::vector<PendingDir> dirs_;
  std::vector<PendingLink> links_;
  std::set<std::string> seen_files_;   // dry run only: duplicate detection without files
  std::set<std::string> dir_paths_;    // staging paths of directory members
  std::set<std::string> links_seen_;   // staging paths of symlink members
  std::set<std::string> homes_seen_;   // users whose home directory member arrived
  std::set<std::string> rewritten_seen_;
  std::vector<std::string> lock_files_created_;  // by Lock(); removed again if we fail
  std::vector<std::pair<std::string, struct timespec>> qmail_dir_mtimes_;
  RecordSpool spool_;
  char buffer_[kCopyBuffer];
};

}  // namespace

Status CheckMemberPath(const std::string& path) {
  auto bad = [&](const std::string& why) {
    return Status::Corrupt("archive entry '" + EscapeC(path.substr(0, 300)) + "': " + why);
  };
  if (path.empty()) return bad("empty path");
  if (path.size() > 4096) return bad("path longer than 4096 bytes");
  if (path[0] == '/') return bad("absolute path");
  if (path.find('\0') != std::string::npos) return bad("NUL byte in path");
  if (path.find('\\') != std::string::npos) return bad("backslash in path");
  for (const auto& part : Split(path, '/')) {
    if (part.empty()) return bad("empty path component");
    if (part == "..") return bad("'..' component escapes the domain");
    if (part == ".") return bad("'.' component");
  }
  return Status::OK();
}

Result<FileOwner> ResolveTargetOwner(const HostPaths& paths, std::optional<FileOwner> override) {
  if (override) return *override;
  if (auto pw = LookupPasswd(paths.root, "vpopmail")) return FileOwner{pw->uid, pw->gid};
  struct stat st;
  std::string home = paths.OnDisk(paths.vpopmail_home);
  if (stat(home.c_str(), &st) != 0) return FromErrno("cannot stat " + home, errno);
  return FileOwner{st.st_uid, st.st_gid};
}

Status ImportArchive(const ImportOptions& options, ImportReport* report) {
  auto importer = std::make_unique<Importer>(options, report);
  return importer->Run();
}

}  // namespace vmigrate
