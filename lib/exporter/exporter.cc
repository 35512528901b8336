#include "exporter/exporter.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <set>

#include "archive/checksums.h"
#include "core/atomic_file.h"
#include "core/dir_mode.h"
#include "core/errno_status.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "exporter/source_tree.h"
#include "exporter/state_collector.h"
#include "exporter/storage_walk.h"
#include "model/manifest_yaml.h"
#include "model/outside_refs.h"
#include "model/path_rewrite.h"
#include "qmail/assign.h"
#include "qmail/domains.h"
#include "state/state_file.h"
#include "vpopmail/names.h"
#include "vpopmail/login_lock.h"
#include "vpopmail/user_store.h"

namespace vmigrate {
namespace {

constexpr size_t kCopyBuffer = 256 * 1024;
constexpr std::int64_t kMaxRewriteSize = 1 << 20;

// What a run produces: an archive, a state file (vmigrate state), or a
// delta archive (export --since), all from the same scan.
enum class Mode { kArchive, kState, kDelta };

class Exporter {
 public:
  Exporter(const ExportOptions& options, ExportReport* report, Mode mode = Mode::kArchive,
           StateWriter* state = nullptr)
      : opt_(options), report_(report), mode_(mode), state_(state) {}

  Status Run() {
    std::vector<std::string> names;
    if (opt_.all) {
      auto selected = SelectServerDomains(opt_.paths, opt_.only, opt_.exclude);
      if (!selected.ok()) return selected.status();
      names = *selected;
    } else {
      VM_RETURN_IF_ERROR(vpopmail::ValidateDomainName(ToLower(opt_.domain)));
      names.push_back(opt_.domain);
    }
    work_.resize(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      auto loc = qmail::LocateDomain(opt_.paths, names[i]);
      if (!loc.ok()) return loc.status();
      work_[i].loc = *loc;
      // "auto" reads a domain whose dir still has a vpasswd from cdb.
      work_[i].backend = vpopmail::OpenUserStoreFor(opt_.paths, *loc)->Backend();
      auto dir = storage_.Resolve(loc->dir);
      if (!dir.ok()) return dir.status().WithContext(loc->domain + ": domain directory " + loc->dir);
      work_[i].disk = dir->disk;
      struct stat st;
      // Only a missing directory "does not exist"; one we may not enter says so.
      if (dir->exists && stat(work_[i].disk.c_str(), &st) != 0 && errno != ENOENT)
        return FromErrno(loc->domain + ": cannot read domain directory " + work_[i].disk, errno);
      if (!dir->exists || stat(work_[i].disk.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Status::NotFound(loc->domain + ": domain directory " + loc->dir +
                                " (from users/assign) does not exist under " + opt_.paths.root +
                                (opt_.all ? " (leave it out with --exclude " + loc->domain + ")" : ""));
      storage_.NoteFollowed(*dir);
    }
    VM_RETURN_IF_ERROR(ReadOtherDomains());
    // One store for every domain: a MySQL store connects once.
    store_ = vpopmail::OpenUserStore(opt_.paths);
    VM_RETURN_IF_ERROR(OpenBase());
    VM_RETURN_IF_ERROR(BuildManifest());
    if (mode_ == Mode::kState) return Status::OK();
    if (opt_.dry_run) {
      report_->estimated_tar_bytes = EstimateTarBytes();
      return Status::OK();
    }
    if (opt_.progress) {
      ProgressTotals totals;
      for (const auto& d : report_->manifest.domains) totals.users += d.users.size();
      totals.messages = report_->manifest.total_messages();
      totals.bytes = report_->manifest.total_bytes();
      if (mode_ == Mode::kDelta) {
        totals.users = totals.messages = totals.bytes = 0;
        for (const auto& d : report_->manifest.domains) totals.bytes += d.delta.bytes;
      }
      opt_.progress->SetTotals(totals);
    }
    VM_RETURN_IF_ERROR(WriteArchive());
    return Status::OK();
  }

 private:
  // Every real domain of users/assign, so that a path into another domain
  // is recognised as leaving this one (model/outside_refs.h).
  Status ReadOtherDomains() {
    auto text = ReadSmallFile(opt_.paths.OnDisk(opt_.paths.assign_file()));
    if (!text.ok()) return text.status().WithContext("cannot read users/assign");
    for (const auto& e : qmail::ParseDomainAssigns(*text))
      if (!e.is_alias()) domain_dirs_[NormalizePath(e.dir)] = e.domain;
    for (const DomainWork& work : work_) archived_.insert(work.loc.domain);
    return Status::OK();
  }

  // export --since: the state the delta is made against. A single domain
  // must be in it; with --all a domain it lacks is carried whole.
  Status OpenBase() {
    if (mode_ == Mode::kArchive) {
      // --state-out of a full archive: taken from what is archived.
      if (state_) stream_state_ = std::make_unique<StateCollector>(state_, nullptr);
      return Status::OK();
    }
    if (mode_ == Mode::kDelta) {
      auto base = StateFile::Open(opt_.since);
      if (!base.ok()) return base.status();
      base_ = std::move(*base);
      if (!opt_.all && !base_->FindDomain(work_[0].loc.domain)) {
        std::vector<std::string> names;
        for (const auto& d : base_->domains()) names.push_back(d.name);
        return Status::InvalidInput(opt_.since + ": the state has no domain " + work_[0].loc.domain +
                                    " (it holds: " + (names.empty() ? "none" : Join(names, ", ")) +
                                    "); take it on the target with: vmigrate state " + work_[0].loc.domain + " -o FILE");
      }
      if (!state_) {  // no --state-out: the digests only
        own_state_ = std::make_unique<StateWriter>(nullptr);
        state_ = own_state_.get();
      }
    }
    collector_ = std::make_unique<StateCollector>(state_, base_.get());
    collector_->set_add_only(opt_.add_only);
    return mode_ == Mode::kDelta ? collector_->Init() : Status::OK();
  }

  // What stays verbatim and what counts as leaving, for the domain in w_.
  void SetUpReferences() {
    const std::string& home = opt_.paths.vpopmail_home;
    RefScope& scope = w_->refs;
    scope.vpopmail_home = home;
    scope.qmail_dir = opt_.paths.qmail_dir;
    scope.domain_dir = w_->loc.dir;
    for (const auto& [name, dir] : w_->path_set.user_dirs) scope.user_dirs.insert(dir);
    scope.exists = [this](const std::string& host) {
      struct stat st;
      return lstat(opt_.paths.OnDisk(host).c_str(), &st) == 0;
    };
    // Mail storage below the vpopmail home that is not this domain's keeps
    // its old path: "@@VPOPMAIL_HOME@@/domains/example.net/..." would name a
    // path that exists on neither host.
    w_->path_set.overrides[home + "/domains"] = home + "/domains";
    w_->path_set.overrides[home + "/users"] = home + "/users";
    for (const auto& [dir, name] : domain_dirs_) {
      if (dir == w_->loc.dir) continue;
      scope.other_domains[dir] = name;
      // A domain of the same server backup is restored by the same run:
      // its path below the new vpopmail home is where it lands when the
      // buckets repeat (verify checks that the path exists there).
      bool archived = archived_.count(name) > 0;
      if (archived) scope.archive_domains.insert(name);
      w_->path_set.overrides[dir] = archived && StartsWith(dir, home + "/")
                                        ? kPlaceholderVpopmailHome + dir.substr(home.size())
                                        : dir;
    }
  }

  Status BuildManifest() {
    Manifest& m = report_->manifest;
    m.kind = mode_ == Mode::kDelta ? kKindDelta : opt_.all ? kKindServer : kKindDomain;
    m.generator = std::string("vmigrate ") + VMIGRATE_VERSION;
    m.created = NowUtc();
    m.source.hostname = SourceHostname(opt_.paths);
    m.source.vpopmail_home = opt_.paths.vpopmail_home;
    m.source.qmail_dir = opt_.paths.qmail_dir;
    // One backend per archive: the first domain's; pw_uid of a domain another
    // backend keeps (a cdb domain on an "auto" MySQL host) is converted to it.
    m.source.backend = work_.empty() ? store_->Backend() : work_[0].backend;
    if (m.source.backend == "mysql") m.source.mysql_layout = store_->Layout();
    for (DomainWork& work : work_) {
      w_ = &work;
      VM_RETURN_IF_ERROR(BuildDomain());
    }
    if (mode_ == Mode::kDelta) {
      m.delta_add_only = opt_.add_only;
      m.delta_base = base_->content_digest();
      std::map<std::string, std::string> digests;
      for (const auto& d : m.domains) digests[d.name] = d.delta.result;
      m.delta_result = ContentDigest(digests);
      std::set<std::string> here;
      for (const auto& d : m.domains) here.insert(d.name);
      for (const auto& d : base_->domains())
        if (opt_.all && !here.count(d.name))
          report_->warnings.push_back(d.name + ": in the base state but no longer on this host; "
                                      "a delta never removes a domain from the target");
    }
    // Server configuration (small) goes whole into a server delta too, but
    // never into an add-only one: the target is live.
    if (opt_.all && mode_ != Mode::kState && !opt_.add_only) {
      for (const ServerFileSpec& spec : ServerFilePaths()) {
        struct stat st;
        if (lstat(ServerFileDisk(spec.path).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
          m.server_files.push_back(spec.path);
          Tally(ServerFileDisk(spec.path), st);
        }
      }
    }
    return Status::OK();
  }

  std::string ServerFileDisk(const std::string& path) const {
    return opt_.paths.OnDisk(ServerFileHostPath(path, opt_.paths.vpopmail_home, opt_.paths.qmail_dir));
  }

  Status BuildDomain() {
    Manifest& m = report_->manifest;
    ManifestDomain d;
    d.name = w_->loc.domain;
    d.dir = w_->loc.dir;
    d.uid = w_->loc.uid;
    d.gid = w_->loc.gid;
    d.aliases = w_->loc.aliases;

    // The unlocked view: a cutover's login lock never travels (login_lock.h).
    auto users = vpopmail::ReadUsersUnlocked(store_.get(), opt_.paths, w_->loc);
    if (!users.ok()) return users.status();
    for (VpasswdEntry& e : *users) e.uid = vpopmail::ConvertPwUid(e.uid, w_->backend, m.source.backend);
    // Informational (the importer allocates afresh): a counter that cannot
    // be read is noted, not fatal.
    auto dc = store_->ReadDirControl(w_->loc);
    if (!dc.ok()) report_->warnings.push_back(w_->loc.domain + ": the user counter (dir_control) cannot be read: " +
                                               dc.status().message() + "; the manifest's dir_control is left empty");
    else if (dc->has_value()) d.dir_control = **dc;
    w_->path_set.vpopmail_home = opt_.paths.vpopmail_home;
    w_->path_set.qmail_dir = opt_.paths.qmail_dir;
    w_->path_set.domain_dir = w_->loc.dir;
    std::set<std::string> names;
    for (VpasswdEntry& e : *users) {
      std::string dir = NormalizePath(e.dir);
      std::string rel_dir;
      if (StartsWith(dir, w_->loc.dir + "/")) {
        // A skipped account's home is still a home: never carried as domain files.
        rel_dir = dir.substr(w_->loc.dir.size() + 1);
        w_->user_homes.insert(rel_dir);
        // Every proper ancestor of a home is a hash bucket ("0", "0/7").
        std::string rel = rel_dir;
        for (size_t slash = rel.rfind('/'); slash != std::string::npos; slash = rel.rfind('/')) {
          rel.resize(slash);
          w_->buckets.insert(rel);
        }
      }
      auto carry = CheckAccount(e);
      if (!carry.ok()) return carry.status();
      if (!*carry) continue;
      if (!names.insert(e.name).second)
        return Status::Corrupt(w_->loc.domain + ": vpasswd lists user '" + EscapeC(e.name) + "' twice");
      if (opt_.strip_cleartext) e.clear.clear();
      ManifestUser u;
      u.entry = e;
      u.rel_dir = rel_dir;
      if (rel_dir.empty()) {
        report_->warnings.push_back(w_->loc.domain + ": user " + e.name + " has a home outside " +
                                    w_->loc.dir + " (" + e.dir + "); it is carried and placed inside the domain on import");
      }
      w_->path_set.user_dirs[e.name] = dir;
      d.users.push_back(std::move(u));
    }
    SetUpReferences();
    ++tally_.entries;  // the domain dir itself
    if (collector_) {
      collector_->BeginDomain(d.name, d.aliases);
      struct stat root;
      if (stat(w_->disk.c_str(), &root) != 0) return FromErrno("cannot stat " + w_->disk, errno);
      collector_->Add(".", w_->disk, root, {});
    }

    // Domain-level files (everything that is not a home or a bucket).
    Status s = storage_.Walk(w_->disk, w_->loc.dir, w_->loc.domain, &w_->buckets, [&](const std::string& rel, const std::string& disk,
                                        const struct stat& st) -> Result<bool> {
      if (rel.find('/') == std::string::npos && vpopmail::IsRegeneratedDomainFile(rel)) return false;
      if (w_->user_homes.count(rel)) return false;
      if (w_->buckets.count(rel)) return true;
      Tally(disk, st);
      if (rel.find('/') == std::string::npos || w_->buckets.count(rel.substr(0, rel.rfind('/'))))
        d.domain_files.push_back(rel);
      Digested digest;
      VM_RETURN_IF_ERROR(NoteRewrite("files/" + rel, rel, disk, st, w_->loc.dir, &digest));
      if (collector_) collector_->Add(rel, disk, st, digest);
      return true;
    });
    VM_RETURN_IF_ERROR(s);
    VM_RETURN_IF_ERROR(ScanStoreFiles(&d));
    if (collector_) VM_RETURN_IF_ERROR(collector_->EndSection(kFilesSection, "", "files"));

    // Per-user counts and rewrite candidates.
    for (ManifestUser& u : d.users) {
      // A home that is a symlink (or lies below one) is where vpopmail and
      // the POP/IMAP servers find the mail: it is carried like any home.
      auto home = storage_.Resolve(NormalizePath(u.entry.dir));
      if (!home.ok()) return home.status().WithContext(w_->loc.domain + ": home of " + u.entry.name);
      struct stat st;
      const std::string key = kUserSectionPrefix + u.entry.name;
      const std::string member_root = "users/" + u.entry.name;
      if (!home->exists || lstat(home->disk.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        u.home_present = false;
        std::string via = home->hops.empty() ? "" : " (symlink " + DescribeHop(home->hops.back()) + ")";
        report_->warnings.push_back(w_->loc.domain + ": home of " + u.entry.name + " (" + u.entry.dir +
                                    ") does not exist" + via + "; the account is carried without files");
        if (collector_) VM_RETURN_IF_ERROR(collector_->EndSection(key, StateLine(u.entry), member_root));
        continue;
      }
      if (collector_) {
        struct stat root;
        if (stat(home->disk.c_str(), &root) != 0) return FromErrno("cannot stat " + home->disk, errno);
        collector_->Add(".", home->disk, root, {});
      }
      storage_.NoteFollowed(*home);
      ++tally_.entries;  // the home itself
      w_->home_disk[u.entry.name] = home->disk;
      const std::string prefix = "users/" + u.entry.name + "/";
      s = storage_.Walk(home->disk, NormalizePath(u.entry.dir), w_->loc.domain, nullptr, [&](const std::string& rel, const std::string& disk,
                             const struct stat& est) -> Result<bool> {
        if (S_ISREG(est.st_mode)) {
          u.bytes += static_cast<std::uint64_t>(est.st_size);
          if (IsMessage(rel)) ++u.messages;
        }
        Tally(disk, est);
        Digested digest;
        VM_RETURN_IF_ERROR(NoteRewrite(prefix + rel, rel, disk, est, NormalizePath(u.entry.dir), &digest));
        if (collector_) collector_->Add(rel, disk, est, digest);
        return true;
      });
      VM_RETURN_IF_ERROR(s.WithContext(w_->loc.domain + ": user " + u.entry.name));
      if (collector_) VM_RETURN_IF_ERROR(collector_->EndSection(key, StateLine(u.entry), member_root));
    }
    if (collector_) collector_->EndDomain(&d.delta);
    d.outside_refs = std::move(w_->outside);
    for (const OutsideRef& ref : d.outside_refs)
      if (ref.reason != kRefArchiveDomain) report_->warnings.push_back(DescribeOutsideRef(d.name, ref));
    m.domains.push_back(std::move(d));
    return Status::OK();
  }

  // The state's user line with pw_uid in the cdb form (1 = POP, 2 = APOP),
  // so a state taken on a MySQL host and one taken on a cdb host after the
  // move describe the same accounts alike (share/doc/state-format.md).
  std::string StateLine(const VpasswdEntry& e) const {
    VpasswdEntry shown = e;
    shown.uid = vpopmail::ConvertPwUid(e.uid, report_->manifest.source.backend, "cdb");
    return StateUserLine(shown);
  }

  // The domain files the store keeps as rows (MySQL: valias rows, the
  // limits row; UserStore::ReadDomainFiles): carried as `files/<rel>` like
  // real files, with path placeholders, after the walked ones. A real file
  // of the same name wins: qmail-local reads a .qmail-<alias> file before
  // .qmail-default hands the mail to vdelivermail, which reads valias.
  Status ScanStoreFiles(ManifestDomain* d) {
    auto files = store_->ReadDomainFiles(w_->loc);
    if (!files.ok()) return files.status().WithContext(w_->loc.domain);
    std::set<std::string> walked(d->domain_files.begin(), d->domain_files.end());
    for (vpopmail::StoreFile& f : *files) {
      if (walked.count(f.rel)) {
        report_->warnings.push_back(w_->loc.domain + ": " + f.rel + " exists as a file and as " +
                                    store_->Describe() + " rows; the file is carried (qmail reads it first)");
        continue;
      }
      const std::string disk = w_->disk + "/" + f.rel;  // names the rows in messages and the delta's list
      struct stat st = StoreFileStat(f);
      Tally(disk, st);
      d->domain_files.push_back(f.rel);
      const std::string member = "files/" + f.rel;
      NoteReferences(member, f.rel, w_->loc.dir, IsDotQmailName(f.rel) ? DotQmailPaths(f.data) : ConfigPaths(f.data));
      Digested digest{Sha256::Of(f.data), static_cast<std::int64_t>(f.data.size())};
      if (HasPlaceholderMarker(f.data)) {
        report_->warnings.push_back(disk + " already contains '" + kPlaceholderMarker +
                                    "'; carried verbatim, paths in it are not rewritten");
      } else {
        std::string copy = f.data;
        if (ToPlaceholders(w_->path_set, &copy)) w_->rewritten.insert(member);
        digest = {Sha256::Of(copy), static_cast<std::int64_t>(copy.size())};
      }
      if (collector_) collector_->Add(f.rel, disk, st, digest);
      w_->store_files[member] = std::move(f);
    }
    return Status::OK();
  }

  // What a StoreFile would be as a file: its mode, mtime and size.
  static struct stat StoreFileStat(const vpopmail::StoreFile& f) {
    struct stat st {};
    st.st_mode = S_IFREG | (f.mode & 07777);
    st.st_size = static_cast<off_t>(f.data.size());
    st.st_mtim = f.mtime;
    return st;
  }

  // Writes the store file of `member` ("files/<rel>") as the archive
  // member `path`, with placeholders where the scan found paths.
  Status AddStoreFile(const std::string& path, const std::string& member) {
    VM_RETURN_IF_ERROR(CheckInterrupted());
    const vpopmail::StoreFile& f = w_->store_files.at(member);
    std::string data = f.data;
    const bool rewritten = w_->rewritten.count(member) > 0;
    if (rewritten) ToPlaceholders(w_->path_set, &data);
    EntryInfo info;
    info.path = path;
    info.mode = f.mode & 07777;
    info.mtime_sec = f.mtime.tv_sec;
    info.mtime_nsec = f.mtime.tv_nsec;
    info.size = static_cast<std::int64_t>(data.size());
    VM_RETURN_IF_ERROR(writer_->AddBytes(info, data));
    report_->file_bytes += data.size();
    return spool_.Add(Record('f', info, info.size, Sha256::Of(data), rewritten));
  }

  // Whether to carry a vpasswd entry: false when --skip-invalid-users leaves
  // it out. An account vpopmail cannot reach (an upper-case name, say) was
  // already dead on this host: it is carried and reported, so one hand edit
  // never blocks the other accounts. One that cannot be carried safely (a
  // name with '/', a quota vpopmail never writes) stops the export unless
  // it is skipped.
  Result<bool> CheckAccount(const VpasswdEntry& e) {
    const std::string& domain = w_->loc.domain;
    Status carriable = vpopmail::ValidateEntry(e);
    std::string unreachable = carriable.ok() ? vpopmail::UnreachableReason(e.name) : "";
    if (carriable.ok() && unreachable.empty()) return true;
    std::string why = carriable.message();
    const std::string prefix = "user '" + EscapeC(e.name) + "': ";
    if (StartsWith(why, prefix)) why = why.substr(prefix.size());
    vpopmail::UnreachableUser note{domain, e.name, carriable.ok() ? unreachable : why};
    if (opt_.skip_invalid_users) {
      report_->skipped_users.push_back(note);
      report_->warnings.push_back(vpopmail::DescribeUnreachable(note) +
                                  "; left out (--skip-invalid-users)");
      return false;
    }
    if (!carriable.ok()) {
      return Status::DataRefused(domain + ": cannot export user '" + EscapeC(e.name) + "': " + why +
                                 " (--skip-invalid-users leaves such accounts out)");
    }
    report_->unreachable_users.push_back(note);
    report_->warnings.push_back(vpopmail::DescribeUnreachable(note) +
                                "; carried as it is (--skip-invalid-users leaves it out)");
    return true;
  }

  // Records the host paths of one carried file (or symlink) that lead out
  // of the domain. `root_dir` is the host path the walk started from (the
  // domain dir or the user's home).
  void NoteReferences(const std::string& member, const std::string& rel, const std::string& root_dir,
                      const std::vector<FoundPath>& found) {
    std::string file_dir = rel.find('/') == std::string::npos ? root_dir
                                                              : root_dir + "/" + rel.substr(0, rel.rfind('/'));
    for (const FoundPath& f : found) {
      OutsideRef ref;
      if (!ClassifyPath(w_->refs, f, file_dir, &ref)) continue;
      // Carried unchanged, also where a placeholder would apply (a missing
      // path inside the domain dir): the file must name what the old host's did.
      if (ref.reason != kRefArchiveDomain && StartsWith(f.path, "/")) {
        std::string exact = LexicalPath("/", f.path);
        w_->path_set.overrides.emplace(exact, exact);
      }
      ref.file = member;
      ref.line = f.line;
      w_->outside.push_back(std::move(ref));
    }
  }

  // Decides, before anything is streamed, which small text files carry host
  // paths; the manifest lists them so the importer knows before it writes.
  // Also finds the paths that lead out of the domain (files and symlinks).
  // `digest` receives the SHA-256 of what the archive would hold for a
  // symlink or a small non-message file (the placeholder form), as a state
  // records it; "" for anything else.
  Status NoteRewrite(const std::string& member, const std::string& rel, const std::string& disk,
                     const struct stat& st, const std::string& root_dir, Digested* digest) {
    *digest = Digested{};
    if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = readlink(disk.c_str(), buf, sizeof buf - 1);
      if (n < 0) return FromErrno("cannot read link " + disk, errno);
      std::string target(buf, static_cast<size_t>(n));
      NoteReferences(member, rel, root_dir, {FoundPath{0, target, true}});
      if (collector_) {
        ToPlaceholders(w_->path_set, &target);
        *digest = {Sha256::Of(target), static_cast<std::int64_t>(target.size())};
      }
      return Status::OK();
    }
    if (!S_ISREG(st.st_mode) || st.st_size > kMaxRewriteSize || InMessageDir(rel)) return Status::OK();
    auto text = ReadSmallFile(disk, kMaxRewriteSize);
    if (!text.ok()) return text.status();
    if (text->find('\0') != std::string::npos) {
      if (collector_) *digest = {Sha256::Of(*text), static_cast<std::int64_t>(text->size())};
      return Status::OK();
    }
    std::string base = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
    NoteReferences(member, rel, root_dir, IsDotQmailName(base) ? DotQmailPaths(*text) : ConfigPaths(*text));
    if (HasPlaceholderMarker(*text)) {
      report_->warnings.push_back(disk + " already contains '" + kPlaceholderMarker +
                                  "'; carried verbatim, paths in it are not rewritten");
      if (collector_) *digest = {Sha256::Of(*text), static_cast<std::int64_t>(text->size())};
      return Status::OK();
    }
    std::string copy = *text;
    if (ToPlaceholders(w_->path_set, &copy)) w_->rewritten.insert(member);
    if (collector_) *digest = {Sha256::Of(copy), static_cast<std::int64_t>(copy.size())};
    return Status::OK();
  }

  // What the scan saw, for --dry-run's size estimate (ExportReport).
  struct ScanTally {
    std::uint64_t entries = 0, pax = 0, data = 0;
  } tally_;

  void Tally(const std::string& disk, const struct stat& st) {
    if (!opt_.dry_run) return;
    ++tally_.entries;
    // libarchive adds a pax header (512 + 512) for an mtime with nanoseconds.
    if (st.st_mtim.tv_nsec != 0) ++tally_.pax;
    if (S_ISREG(st.st_mode)) tally_.data += RoundUp512(static_cast<std::uint64_t>(st.st_size));
    else if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))  // AddEntry's warning, said now
      report_->warnings.push_back(disk + ": not a regular file, directory or symlink; skipped");
  }

  static std::uint64_t RoundUp512(std::uint64_t n) { return (n + 511) / 512 * 512; }

  // ExportReport::estimated_tar_bytes: a 512-byte header per member (1536
  // with a pax header), the data in 512-byte blocks, manifest.yaml,
  // checksums.txt (about 105 bytes a line) and two zero blocks at the end.
  std::uint64_t EstimateTarBytes() const {
    constexpr std::uint64_t kHeader = 512, kPax = 1024, kLine = 105;
    std::uint64_t entries = tally_.entries, pax = tally_.pax, data = tally_.data;
    if (mode_ == Mode::kDelta) {
      entries = data = 0;
      for (const auto& d : report_->manifest.domains) {
        entries += d.delta.files;
        data += d.delta.bytes + d.delta.files * 256;  // the block rounding, on average
      }
      pax = tally_.entries ? entries * tally_.pax / tally_.entries : 0;
      data += RoundUp512(collector_->records()->bytes());  // delta.txt
      ++entries;
    }
    std::uint64_t manifest = RoundUp512(ManifestToYaml(report_->manifest).size());
    std::uint64_t checksums = RoundUp512((entries + 1) * kLine);
    return (entries + 2) * kHeader + pax * kPax + data + manifest + checksums + 2 * kHeader;
  }

  Status WriteArchive() {
    Manifest& m = report_->manifest;
    for (size_t i = 0; i < work_.size(); ++i)
      m.domains[i].rewritten_files.assign(work_[i].rewritten.begin(), work_[i].rewritten.end());
    auto writer = ArchiveWriter::Open(opt_.output, opt_.compression, opt_.overwrite);
    if (!writer.ok()) return writer.status();
    // A file is written to a temp file until Close() renames it into place.
    writer_ = std::move(*writer);
    VM_RETURN_IF_ERROR(spool_.Init());

    std::string manifest = ManifestToYaml(report_->manifest);
    EntryInfo mi;
    mi.path = kManifestEntry;
    mi.mode = 0600;
    mi.mtime_sec = std::time(nullptr);
    VM_RETURN_IF_ERROR(writer_->AddBytes(mi, manifest));
    VM_RETURN_IF_ERROR(spool_.Add(Record('f', mi, manifest.size(), Sha256::Of(manifest), false)));
    if (mode_ == Mode::kDelta) return WriteDeltaMembers();

    for (size_t i = 0; i < work_.size(); ++i) {
      w_ = &work_[i];
      const ManifestDomain& d = m.domains[i];
      if (opt_.progress) opt_.progress->SetDomain(d.name);
      if (stream_state_) stream_state_->BeginDomain(d.name, d.aliases);
      VM_RETURN_IF_ERROR(AddTree(w_->disk, d.dir, ArchiveFilesPrefix(d.name), "files/", /*domain_level=*/true));
      for (const auto& [member, f] : w_->store_files) {
        VM_RETURN_IF_ERROR(AddStoreFile(ArchiveDomainPrefix(d.name) + member, member));
        NoteStreamed(f.rel, w_->disk + "/" + f.rel, StoreFileStat(f));
      }
      if (stream_state_) VM_RETURN_IF_ERROR(stream_state_->EndSection(kFilesSection, "", "files"));
      for (const ManifestUser& u : d.users) {
        if (u.home_present) {
          Status home = AddTree(w_->home_disk.at(u.entry.name), NormalizePath(u.entry.dir),
                                ArchiveUserPrefix(d.name, u.entry.name), "users/" + u.entry.name + "/", false);
          // A failed write is the output's fault (a full disk), not the user's.
          if (!home.ok() && !writer_->failed() && home.code() != Status::Code::kInterrupted)
            home = home.WithContext(d.name + ": user " + u.entry.name);
          VM_RETURN_IF_ERROR(home);
        }
        if (stream_state_)
          VM_RETURN_IF_ERROR(stream_state_->EndSection(kUserSectionPrefix + u.entry.name, StateLine(u.entry),
                                                       "users/" + u.entry.name));
        if (opt_.progress) opt_.progress->UserDone();
      }
      if (stream_state_) {
        DomainDelta unused;
        stream_state_->EndDomain(&unused);
      }
    }
    VM_RETURN_IF_ERROR(WriteServerFiles());
    return FinishArchive();
  }

  // Server configuration, verbatim (export --all, also with --since).
  Status WriteServerFiles() {
    w_ = nullptr;
    count_bytes_ = false;
    for (const std::string& path : report_->manifest.server_files) {
      std::string disk = ServerFileDisk(path);
      struct stat st;
      if (lstat(disk.c_str(), &st) != 0) return FromErrno("cannot stat " + disk, errno);
      if (!S_ISREG(st.st_mode)) return Status::IoError(disk + ": no longer a regular file");
      VM_RETURN_IF_ERROR(AddEntry(kServerPrefix + path, disk, st, false));
    }
    return Status::OK();
  }

  // Kind "delta": delta.txt, then only what was sent (state_collector.h),
  // both streamed from their spools.
  Status WriteDeltaMembers() {
    const std::string magic = std::string(kDeltaMagic) + "\n";
    TextSpool* records = collector_->records();
    EntryInfo di;
    di.path = kDeltaEntry;
    di.mode = 0600;
    di.mtime_sec = std::time(nullptr);
    di.size = static_cast<std::int64_t>(magic.size() + records->bytes());
    VM_RETURN_IF_ERROR(writer_->BeginFile(di));
    Sha256 sha;
    sha.Update(magic.data(), magic.size());
    VM_RETURN_IF_ERROR(writer_->WriteData(magic.data(), magic.size()));
    VM_RETURN_IF_ERROR(records->Rewind());
    std::string line;
    while (records->ReadLine(&line)) {
      line += "\n";
      sha.Update(line.data(), line.size());
      VM_RETURN_IF_ERROR(writer_->WriteData(line.data(), line.size()));
    }
    VM_RETURN_IF_ERROR(writer_->EndFile());
    VM_RETURN_IF_ERROR(spool_.Add(Record('f', di, di.size, sha.HexDigest(), false)));

    std::map<std::string, size_t> index;
    for (size_t i = 0; i < work_.size(); ++i) index[work_[i].loc.domain] = i;
    TextSpool* sends = collector_->sends();
    VM_RETURN_IF_ERROR(sends->Rewind());
    count_bytes_ = true;  // the delta's bytes are every file it sends
    std::string domain, rel, disk;
    while (sends->ReadLine(&line)) {
      std::vector<std::string> f = Split(line, '\t');
      if (f.size() != 3 || !UnescapeC(f[0], &domain) || !UnescapeC(f[1], &rel) || !UnescapeC(f[2], &disk) ||
          !index.count(domain))
        return Status::IoError("the delta's temporary list is damaged");
      if (w_ != &work_[index[domain]]) {
        w_ = &work_[index[domain]];
        if (opt_.progress) opt_.progress->SetDomain(domain);
      }
      if (w_->store_files.count(rel)) {  // rows, not a file
        VM_RETURN_IF_ERROR(AddStoreFile(ArchiveDomainPrefix(domain) + rel, rel));
        continue;
      }
      struct stat st;
      if (lstat(disk.c_str(), &st) != 0) {
        if (errno != ENOENT) return FromErrno("cannot stat " + disk, errno);
        // Moved or deleted since the scan: the next delta brings the change.
        // The next add-only delta never sends a message its base has, so
        // one that was read here since the scan goes now, as it is named now.
        if (!opt_.add_only || !FindMovedMessage(&rel, &disk, &st)) {
          report_->warnings.push_back(domain + ": " + disk + " vanished while the delta was written; left out");
          continue;
        }
      }
      VM_RETURN_IF_ERROR(AddEntry(ArchiveDomainPrefix(domain) + rel, disk, st, w_->rewritten.count(rel) > 0));
      if (opt_.progress && S_ISREG(st.st_mode) && IsMessage(rel)) opt_.progress->MessageDone();
    }
    VM_RETURN_IF_ERROR(WriteServerFiles());
    return FinishArchive();
  }

  Status FinishArchive() {
    // The index goes last: its size is known only now.
    VM_RETURN_IF_ERROR(spool_.Rewind());
    std::string header = std::string(kChecksumsHeader) + "\n";
    EntryInfo ci;
    ci.path = kChecksumsEntry;
    ci.mode = 0600;
    ci.mtime_sec = std::time(nullptr);
    ci.size = static_cast<std::int64_t>(header.size() + spool_.bytes());
    VM_RETURN_IF_ERROR(writer_->BeginFile(ci));
    VM_RETURN_IF_ERROR(writer_->WriteData(header.data(), header.size()));
    std::string line;
    while (spool_.ReadLine(&line)) VM_RETURN_IF_ERROR(writer_->WriteData(line.data(), line.size()));
    VM_RETURN_IF_ERROR(writer_->EndFile());
    VM_RETURN_IF_ERROR(writer_->Close());
    report_->entries = spool_.count() + 1;
    return Status::OK();
  }

  FileRecord Record(char type, const EntryInfo& info, std::int64_t size, const std::string& sha,
                    bool rewritten) {
    FileRecord r;
    r.type = type;
    r.mode = info.mode;
    r.mtime_sec = info.mtime_sec;
    r.mtime_nsec = info.mtime_nsec;
    r.size = size;
    r.sha256 = sha;
    r.rewritten = rewritten;
    r.path = info.path;
    last_ = r;
    return r;
  }

  // Writes the directory itself and everything below it. For the domain
  // dir, homes, buckets and regenerated files are left out. `disk_root` is
  // the resolved directory, `host_root` its host path (vpasswd, users/assign).
  Status AddTree(const std::string& disk_root, const std::string& host_root,
                 const std::string& member_prefix, const std::string& rewrite_prefix,
                 bool domain_level) {
    struct stat st;
    if (lstat(disk_root.c_str(), &st) != 0) return FromErrno("cannot stat " + disk_root, errno);
    std::string root_member = member_prefix.substr(0, member_prefix.size() - 1);
    count_bytes_ = !domain_level;  // the manifest's bytes are those of the homes
    VM_RETURN_IF_ERROR(AddEntry(root_member, disk_root, st, false));
    NoteStreamed(".", disk_root, st);
    return storage_.Walk(disk_root, host_root, w_->loc.domain, domain_level ? &w_->buckets : nullptr, [&](const std::string& rel, const std::string& disk,
                                   const struct stat& est) -> Result<bool> {
      if (domain_level) {
        if (rel.find('/') == std::string::npos && vpopmail::IsRegeneratedDomainFile(rel)) return false;
        if (w_->user_homes.count(rel)) return false;
        if (w_->buckets.count(rel)) return true;
      }
      VM_RETURN_IF_ERROR(AddEntry(member_prefix + rel, disk, est,
                                  w_->rewritten.count(rewrite_prefix + rel) > 0));
      NoteStreamed(rel, disk, est);
      if (opt_.progress && !domain_level && S_ISREG(est.st_mode) && IsMessage(rel))
        opt_.progress->MessageDone();
      return true;
    }, /*prefetch=*/true);
  }

  // --state-out of a full archive: the state entry of the member AddEntry
  // just wrote (`last_`), with the mode, mtime, size and digest archived.
  void NoteStreamed(const std::string& rel, const std::string& disk, const struct stat& st) {
    if (!stream_state_ || last_.type == 0) return;
    struct stat seen = st;
    seen.st_mode = (st.st_mode & S_IFMT) | last_.mode;
    seen.st_mtim.tv_sec = static_cast<time_t>(last_.mtime_sec);
    seen.st_mtim.tv_nsec = last_.mtime_nsec;
    if (last_.type == 'f') seen.st_size = last_.size;
    Digested digest;  // what the scan digests (NoteRewrite): links, small non-message files
    if (last_.type == 'l' || (last_.type == 'f' && st.st_size <= kMaxRewriteSize && !InMessageDir(rel)))
      digest = {last_.sha256, last_.size};
    stream_state_->Add(rel, disk, seen, digest);
  }

  // add-only: the message at `rel`/`disk` (users/<u>/.../new|cur/<name>)
  // vanished since the scan; finds the file with its unique name in new/
  // or cur/ of the same folder and points both (and `st`) at it.
  bool FindMovedMessage(std::string* rel, std::string* disk, struct stat* st) {
    const std::string unique = MaildirUniqueName(disk->substr(disk->rfind('/') + 1));
    const std::string folder_disk = DirName(DirName(*disk)), folder_rel = DirName(DirName(*rel));
    for (const char* sub : {"cur", "new"}) {
      DIR* dir = opendir((folder_disk + "/" + sub).c_str());
      if (!dir) continue;
      std::string found;
      while (struct dirent* ent = readdir(dir))
        if (ent->d_name[0] != '.' && MaildirUniqueName(ent->d_name) == unique) found = ent->d_name;
      closedir(dir);
      std::string path = folder_disk + "/" + sub + "/" + found;
      if (found.empty() || lstat(path.c_str(), st) != 0 || !S_ISREG(st->st_mode)) continue;
      *disk = path;
      *rel = folder_rel + "/" + sub + "/" + found;
      return true;
    }
    return false;
  }

  Status AddEntry(const std::string& member, const std::string& disk, const struct stat& st,
                  bool rewrite) {
    VM_RETURN_IF_ERROR(CheckInterrupted());
    last_ = FileRecord{};
    last_.type = 0;
    EntryInfo info;
    info.path = member;
    info.mode = st.st_mode & 07777;
    info.mtime_sec = st.st_mtim.tv_sec;
    info.mtime_nsec = st.st_mtim.tv_nsec;
    if (S_ISDIR(st.st_mode)) {
      info.mode = CarriedDirMode(st.st_mode);
      VM_RETURN_IF_ERROR(writer_->AddDirectory(info));
      return spool_.Add(Record('d', info, 0, "", false));
    }
    if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = readlink(disk.c_str(), buf, sizeof buf - 1);
      if (n < 0) return FromErrno("cannot read link " + disk, errno);
      std::string target(buf, static_cast<size_t>(n));
      bool changed = ToPlaceholders(w_->path_set, &target);
      VM_RETURN_IF_ERROR(writer_->AddSymlink(info, target));
      return spool_.Add(Record('l', info, static_cast<std::int64_t>(target.size()),
                               Sha256::Of(target), changed));
    }
    if (!S_ISREG(st.st_mode)) {
      report_->warnings.push_back(disk + ": not a regular file, directory or symlink; skipped");
      return Status::OK();
    }
    int fd = open(disk.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = open(disk.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return FromErrno("cannot open " + disk, errno);
    struct stat fst;
    fstat(fd, &fst);
    info.mode = fst.st_mode & 07777;
    info.mtime_sec = fst.st_mtim.tv_sec;
    info.mtime_nsec = fst.st_mtim.tv_nsec;
    info.size = fst.st_size;
    Status s;
    if (rewrite) {
      close(fd);
      auto text = ReadSmallFile(disk, kMaxRewriteSize);
      if (!text.ok()) return text.status();
      std::string data = *text;
      ToPlaceholders(w_->path_set, &data);
      info.size = static_cast<std::int64_t>(data.size());
      VM_RETURN_IF_ERROR(writer_->AddBytes(info, data));
      report_->file_bytes += data.size();
      CountRead(text->size());
      return spool_.Add(Record('f', info, info.size, Sha256::Of(data), true));
    }
    s = CopyFile(fd, disk, info);
    close(fd);
    return s;
  }

  // Progress and --max-rate count the same bytes: those of the files the
  // totals count (the homes of a full archive, every file of a delta), as
  // read from disk, so bytes_done ends at bytes_total and the rate the
  // meter shows is the rate the limiter keeps.
  void CountRead(std::uint64_t n) {
    if (!count_bytes_) return;
    if (opt_.progress) opt_.progress->AddBytes(n);
    if (opt_.rate_limit) opt_.rate_limit->Consume(n);
  }

  Status CheckInterrupted() const {
    if (!opt_.interrupted || !opt_.interrupted->load()) return Status::OK();
    if (opt_.output == "-") return Status::Interrupted("interrupted; the archive on stdout is incomplete");
    return Status::Interrupted("interrupted; " + opt_.output + " was not written");
  }

  Status CopyFile(int fd, const std::string& disk, const EntryInfo& info) {
    VM_RETURN_IF_ERROR(writer_->BeginFile(info));
    Sha256 sha;
    std::int64_t left = info.size;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<std::int64_t>(left, kCopyBuffer));
      ssize_t n = read(fd, buffer_, want);
      if (n < 0) {
        if (errno == EINTR) continue;
        return FromErrno("cannot read " + disk, errno);
      }
      if (n == 0) return Status::IoError(disk + ": file shrank while it was being archived");
      sha.Update(buffer_, static_cast<size_t>(n));
      VM_RETURN_IF_ERROR(writer_->WriteData(buffer_, static_cast<size_t>(n)));
      left -= n;
      CountRead(static_cast<std::uint64_t>(n));
      if (left > 0) VM_RETURN_IF_ERROR(CheckInterrupted());
    }
    VM_RETURN_IF_ERROR(writer_->EndFile());
    report_->file_bytes += static_cast<std::uint64_t>(info.size);
    return spool_.Add(Record('f', info, info.size, sha.HexDigest(), false));
  }

  const ExportOptions& opt_;
  ExportReport* report_;
  const Mode mode_;
  StateWriter* state_;                  // kState: the caller's; kDelta: own_state_
  std::unique_ptr<StateWriter> own_state_;
  std::unique_ptr<StateFile> base_;     // kDelta: the --since state
  std::unique_ptr<StateCollector> collector_;  // kState and kDelta
  std::unique_ptr<StateCollector> stream_state_;  // kArchive with --state-out
  std::unique_ptr<vpopmail::UserStore> store_;    // the host's accounts (OpenUserStore)
  FileRecord last_;                     // the record AddEntry wrote last (type 0: none)
  struct DomainWork {
    qmail::DomainLocation loc;
    std::string disk;                   // the domain dir on disk
    std::string backend;                // the store that keeps it (OpenUserStoreFor)
    HostPathSet path_set;               // source paths that become placeholders
    std::set<std::string> user_homes;   // relative to the domain dir
    std::set<std::string> buckets;
    std::set<std::string> rewritten;    // "files/<rel>" or "users/<name>/<rel>"
    RefScope refs;                      // what counts as leaving the domain
    std::vector<OutsideRef> outside;    // found so far, in walk order
    std::map<std::string, std::string> home_disk;  // user -> resolved home on disk
    /// The domain files the store keeps as rows, by member ("files/.qmail-info").
    std::map<std::string, vpopmail::StoreFile> store_files;
  };
  std::map<std::string, std::string> domain_dirs_;  // every real domain of users/assign: dir -> name
  std::set<std::string> archived_;      // the domains this archive carries
  std::vector<DomainWork> work_;        // parallel to the manifest's domains
  DomainWork* w_ = nullptr;             // the domain being scanned or streamed
  std::unique_ptr<ArchiveWriter> writer_;
  RecordSpool spool_;
  bool count_bytes_ = false;  // CountRead counts: the entries AddTree/WriteDeltaMembers are on
  StorageWalker storage_{opt_.paths, &report_->warnings, &report_->followed_links};
  char buffer_[kCopyBuffer];
};

}  // namespace


Status ExportDomain(const ExportOptions& options, ExportReport* report) {
  if (options.add_only && options.since.empty())
    return Status::InvalidInput("--add-only needs --since STATE (the state the new messages are counted from)");
  if (options.dry_run) {
    if (!options.output.empty() && options.output != "-")
      VM_RETURN_IF_ERROR(CheckArchiveOutput(options.output, options.overwrite));
    if (!options.state_out.empty())
      VM_RETURN_IF_ERROR(CheckArchiveOutput(options.state_out, options.overwrite).WithContext("--state-out"));
    auto exporter = std::make_unique<Exporter>(options, report,
                                               options.since.empty() ? Mode::kArchive : Mode::kDelta);
    return exporter->Run();
  }
  // Opened first, so that an existing one is refused before the scan.
  StateOutput state_out;
  std::unique_ptr<StateWriter> writer;
  if (!options.state_out.empty()) {
    VM_RETURN_IF_ERROR(state_out.Open(options.state_out, options.overwrite));
    writer = std::make_unique<StateWriter>(state_out.out());
    writer->Header(NowUtc(), SourceHostname(options.paths), options.paths.vpopmail_home,
                   options.paths.qmail_dir);
  }
  auto exporter = std::make_unique<Exporter>(options, report,
                                             options.since.empty() ? Mode::kArchive : Mode::kDelta,
                                             writer.get());
  VM_RETURN_IF_ERROR(exporter->Run());
  if (!writer) return Status::OK();
  Status s = writer->Finish();
  if (s.ok()) s = state_out.Commit();
  // The archive is complete; without the state file the run still failed.
  return s.WithContext("--state-out " + options.state_out);
}

Status WriteState(const StateOptions& options, StateReport* report) {
  ExportOptions eo;
  eo.paths = options.paths;
  eo.domain = options.domain;
  eo.all = options.all;
  eo.only = options.only;
  eo.exclude = options.exclude;
  // The output is opened first, so that an existing one is refused before
  // the scan, and written whole or not at all.
  StateOutput output;
  VM_RETURN_IF_ERROR(output.Open(options.output, options.overwrite));
  FILE* out = output.out();
  StateWriter writer(out);
  writer.Header(NowUtc(), SourceHostname(options.paths), options.paths.vpopmail_home,
                options.paths.qmail_dir);
  ExportReport scan;
  auto exporter = std::make_unique<Exporter>(eo, &scan, Mode::kState, &writer);
  Status s = exporter->Run();
  if (s.ok()) s = writer.Finish();
  if (s.ok()) s = output.Commit();
  if (!s.ok()) return s;
  report->content_digest = writer.content_digest();
  report->domain_digests = writer.domain_digests();
  report->warnings = scan.warnings;
  for (const auto& d : scan.manifest.domains) {
    report->users += d.users.size();
    for (const auto& u : d.users) report->messages += u.messages;
  }
  return Status::OK();
}

}  // namespace vmigrate
