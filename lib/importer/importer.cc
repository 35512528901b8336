#include "importer/importer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>
#include <set>
#include <tuple>

#include "archive/archive_reader.h"
#include "archive/checksums.h"
#include "core/crash_point.h"
#include "core/errno_status.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "core/writeback.h"
#include "importer/domain_import.h"
#include "importer/import_context.h"
#include "importer/mailbox_restore.h"
#include "importer/outside_refs_check.h"
#include "model/manifest_yaml.h"
#include "model/path_rewrite.h"
#include "qmail/assign.h"
#include "qmail/control_update.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/names.h"

namespace vmigrate {
namespace {

constexpr size_t kMaxManifestBytes = 64u << 20;
constexpr size_t kMaxServerFileBytes = 16u << 20;

struct ServerFileData {
  std::string path;  // relative to "server/"
  std::string data;
  mode_t mode;
  struct timespec mtime;
};

// Reads the archive once, routing each entry to the part of the target it
// belongs to, then commits domain by domain.
class Importer {
 public:
  Importer(const ImportOptions& options, ImportReport* report) : opt_(options), report_(report) {
    ctx_.options = &opt_;
    ctx_.report = report_;
  }

  // Unfinished imports clean up newest first, so each puts back the
  // directory mtimes it found.
  ~Importer() {
    while (!jobs_.empty()) jobs_.pop_back();
  }

  Status Run() {
    VM_RETURN_IF_ERROR(CheckTarget());
    auto owner = ResolveTargetOwner(opt_.paths, opt_.owner);
    if (!owner.ok()) return owner.status();
    report_->owner = *owner;
    if (geteuid() == 0) {
      ctx_.chown = *owner;
      report_->chowned = true;
    } else if (opt_.owner) {
      report_->warnings.push_back("not running as root: files keep the current user, not " +
                                  std::to_string(opt_.owner->uid) + ":" + std::to_string(opt_.owner->gid));
    }
    auto reader = ArchiveReader::Open(opt_.archive);
    if (!reader.ok()) return reader.status();
    reader_ = std::move(*reader);
    ctx_.reader = reader_.get();
    VM_RETURN_IF_ERROR(ReadManifest());
    VM_RETURN_IF_ERROR(CheckManifest());
    VM_RETURN_IF_ERROR(Select());
    VM_RETURN_IF_ERROR(Stream());
    if (mailbox_) {
      MailboxOutcome out;
      VM_RETURN_IF_ERROR(mailbox_->Finish(&out));
      report_->mailbox = out;
      return Status::OK();
    }
    if (opt_.dry_run) {
      VM_RETURN_IF_ERROR(PlanAll());
      report_->outside_refs = CheckOutsideRefs(manifest(), report_->domains, opt_.paths, true);
      return Status::OK();
    }
    VM_RETURN_IF_ERROR(CommitAll());
    report_->outside_refs = CheckOutsideRefs(manifest(), report_->domains, opt_.paths, false);
    size_t imported = 0;
    for (const auto& d : report_->domains) imported += d.status == "imported";
    if (opt_.reload && opt_.paths.root == "/" && (imported > 0 || !report_->server_files.empty())) {
      auto n = qmail::SignalQmailSend();
      if (n.ok()) report_->qmail_send_signalled = *n;
      else report_->warnings.push_back("could not signal qmail-send: " + n.status().message());
    }
    return Status::OK();
  }

 private:
  Status CheckTarget() {
    struct stat st;
    ctx_.vp_disk = opt_.paths.OnDisk(opt_.paths.vpopmail_home);
    if (stat(ctx_.vp_disk.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status::NotFound("target vpopmail home " + ctx_.vp_disk + " does not exist");
    for (const char* sub : {"", "/control", "/users"}) {
      std::string d = opt_.paths.OnDisk(opt_.paths.qmail_dir + sub);
      if (stat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Status::NotFound("target qmail directory " + d + " does not exist");
    }
    if (!opt_.dry_run && access(ctx_.vp_disk.c_str(), W_OK) != 0)
      return FromErrno("target vpopmail home " + ctx_.vp_disk + " is not writable", errno);
    return Status::OK();
  }

  const Manifest& manifest() const { return report_->manifest; }

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
    std::set<std::string> names;  // every domain and alias, across domains
    for (const ManifestDomain& d : manifest().domains) {
      Status s = vpopmail::ValidateDomainName(d.name);
      if (!s.ok()) return Status::Corrupt("archive: domain: " + s.message());
      if (!names.insert(ToLower(d.name)).second)
        return Status::Corrupt("archive: domain '" + EscapeC(d.name) + "' is listed twice");
      for (const auto& a : d.aliases) {
        s = vpopmail::ValidateDomainName(a);
        if (!s.ok()) return Status::Corrupt("archive: alias domain: " + s.message());
        if (!names.insert(ToLower(a)).second)
          return Status::Corrupt("archive: alias domain '" + EscapeC(a) + "' is listed twice");
      }
      std::set<std::string> users;
      for (const auto& u : d.users) {
        s = vpopmail::ValidateEntry(u.entry);
        if (!s.ok()) return Status::Corrupt("archive: " + s.message());
        if (!users.insert(u.entry.name).second)
          return Status::Corrupt("archive: user '" + EscapeC(u.entry.name) + "' is listed twice");
      }
      ArchiveDomain& known = archive_domains_[d.name];
      known.domain = &d;
      for (const auto& f : d.rewritten_files) {
        s = CheckMemberPath(f);
        if (!s.ok()) return s.WithContext("archive");
        known.rewritten.insert(f);
      }
    }
    archive_names_ = names;
    return Status::OK();
  }

  const ManifestDomain* FindDomain(const std::string& name) const {
    for (const auto& d : manifest().domains)
      if (ToLower(d.name) == ToLower(name)) return &d;
    return nullptr;
  }

  Status NoSuchDomain(const std::string& name) const {
    std::vector<std::string> names;
    for (const auto& d : manifest().domains) names.push_back(d.name);
    return Status::NotFound("the archive has no domain " + name + " (it holds: " + Join(names, ", ") + ")");
  }

  // What this run restores: one mailbox, one domain, or every domain (plus
  // the server files of a server archive).
  Status Select() {
    const bool server = manifest().kind == kKindServer;
    if (!opt_.user.empty()) {
      const ManifestDomain* d = FindDomain(opt_.domain);
      if (!d) return NoSuchDomain(opt_.domain);
      const ManifestUser* u = nullptr;
      for (const auto& cand : d->users)
        if (cand.entry.name == opt_.user) u = &cand;
      if (!u) return Status::NotFound("the archive has no user " + opt_.user + " in " + d->name);
      mailbox_ = std::make_unique<MailboxRestore>(&ctx_, d, u);
      mailbox_domain_ = d->name;
      mailbox_prefix_ = ArchiveUserPrefix(d->name, u->entry.name);
      return mailbox_->Begin();
    }
    std::vector<const ManifestDomain*> chosen;
    if (!opt_.domain.empty()) {
      const ManifestDomain* d = FindDomain(opt_.domain);
      if (!d) return NoSuchDomain(opt_.domain);
      chosen.push_back(d);
    } else if (server && !opt_.all) {
      return Status::InvalidInput("this is a full-server backup of " + std::to_string(manifest().domains.size()) +
                                  " domains: restore it with --all, or one domain with --domain D");
    } else {
      for (const auto& d : manifest().domains) chosen.push_back(&d);
    }
    want_server_ = server && opt_.domain.empty();
    if (want_server_ && !opt_.merge) {
      auto assign = ReadSmallFile(opt_.paths.OnDisk(opt_.paths.assign_file()));
      if (assign.ok()) {
        std::vector<std::string> present;
        for (const auto& e : qmail::ParseDomainAssigns(*assign)) present.push_back(e.domain);
        if (!present.empty()) {
          if (present.size() > 5) present.resize(5), present.push_back("...");
          return Status::Conflict("the target already has vpopmail domains (" + Join(present, ", ") +
                                  "); --all restores onto an empty target, --merge adds only the missing domains");
        }
      }
    }
    // The source's bucket order, so an undisturbed server's domains land in
    // the same buckets again.
    const std::string prefix = manifest().source.vpopmail_home + "/domains/";
    auto rank = [&](const ManifestDomain* d) {
      if (!StartsWith(d->dir, prefix)) return ULONG_MAX;
      std::string rel = d->dir.substr(prefix.size());
      size_t slash = rel.rfind('/');
      return vpopmail::BucketOrder(slash == std::string::npos ? "" : rel.substr(0, slash));
    };
    std::stable_sort(chosen.begin(), chosen.end(),
                     [&](const ManifestDomain* a, const ManifestDomain* b) { return rank(a) < rank(b); });
    for (const ManifestDomain* d : chosen) {
      auto job = std::make_unique<DomainImport>(&ctx_, d);
      if (!opt_.dry_run) VM_RETURN_IF_ERROR(job->RecoverInterrupted());
      DomainOutcome out = Outcome(*d);
      Status s = job->CheckAbsent();
      if (!s.ok()) {
        if (opt_.merge && s.code() == Status::Code::kConflict) {
          out.status = "skipped";
          out.error = s.message();
          report_->domains.push_back(out);
          continue;
        }
        return s;
      }
      VM_RETURN_IF_ERROR(job->Begin());
      sinks_[d->name] = job.get();
      report_->domains.push_back(out);
      jobs_.push_back({std::move(job), report_->domains.size() - 1});
    }
    return Status::OK();
  }

  static DomainOutcome Outcome(const ManifestDomain& d) {
    DomainOutcome out;
    out.name = d.name;
    out.aliases = d.aliases;
    out.users = d.users.size();
    for (const auto& u : d.users) {
      out.messages += u.messages;
      out.bytes += u.bytes;
    }
    return out;
  }

  // Progress counts what this run restores (or, for a mailbox, the user).
  void StartProgress() {
    if (!opt_.progress) return;
    ProgressTotals totals;
    for (const auto& d : report_->domains) {
      if (d.status == "skipped") continue;
      totals.users += d.users;
      totals.messages += d.messages;
      totals.bytes += d.bytes;
    }
    if (mailbox_) totals = {1, 0, 0};
    opt_.progress->SetTotals(totals);
  }

  void NoteProgress(const EntryHeader& h, const FileRecord& rec) {
    if (!opt_.progress && !opt_.rate_limit) return;
    const size_t users = h.path.find("/users/");
    if (opt_.progress) {
      if (StartsWith(h.path, "domains/")) {
        std::string name = h.path.substr(8, h.path.find('/', 8) - 8);
        if (name != progress_domain_) opt_.progress->SetDomain(progress_domain_ = name);
      }
      if (users != std::string::npos && h.type == EntryType::kDirectory &&
          h.path.find('/', users + 7) == std::string::npos)
        opt_.progress->UserDone();
      if (rec.type == 'f') {
        opt_.progress->AddBytes(static_cast<std::uint64_t>(rec.size));
        std::vector<std::string> parts = Split(h.path, '/');
        if (users != std::string::npos && parts.size() >= 2 &&
            (parts[parts.size() - 2] == "cur" || parts[parts.size() - 2] == "new"))
          opt_.progress->MessageDone();
      }
    }
    if (opt_.rate_limit && rec.type == 'f') opt_.rate_limit->Consume(static_cast<std::uint64_t>(rec.size));
  }

  Status Stream() {
    StartProgress();
    // The disk writes what we create while we go on creating; the syncfs
    // before the commit then finds little left. Durability still rests on it.
    std::optional<BackgroundWriteback> writeback;
    if (!opt_.dry_run) writeback.emplace(ctx_.vp_disk, std::chrono::milliseconds(500));
    EntryHeader h;
    for (;;) {
      VM_RETURN_IF_ERROR(ctx_.CheckInterrupted());
      auto more = reader_->Next(&h);
      if (!more.ok()) return more.status();
      if (!*more) return Status::Corrupt(opt_.archive + ": truncated: checksums.txt is missing");
      if (h.path == kChecksumsEntry) break;
      if (++report_->entries % 5 == 0) CrashPoint("unpacking");
      VM_RETURN_IF_ERROR(CheckMemberPath(h.path));
      if (h.mtime_nsec < 0 || h.mtime_nsec > 999999999)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': bad mtime");
      if (h.type == EntryType::kHardlink)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) +
                               "' is a hard link; vmigrate archives never contain one");
      if (h.type == EntryType::kOther)
        return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is a device, FIFO or socket; refused");
      FileRecord rec;
      rec.mode = h.mode & 07777;
      rec.mtime_sec = h.mtime_sec;
      rec.mtime_nsec = h.mtime_nsec;
      rec.path = h.path;
      rec.type = h.type == EntryType::kDirectory ? 'd' : h.type == EntryType::kSymlink ? 'l' : 'f';
      VM_RETURN_IF_ERROR(Route(h, &rec));
      NoteProgress(h, rec);
      if (rec.type == 'f') report_->file_bytes += static_cast<std::uint64_t>(rec.size);
      VM_RETURN_IF_ERROR(spool_.Add(rec));
    }
    VM_RETURN_IF_ERROR(CompareWithIndex(reader_.get(), &spool_));
    auto more = reader_->Next(&h);
    if (!more.ok()) return more.status();
    if (*more) return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' follows checksums.txt");
    for (auto& job : jobs_) VM_RETURN_IF_ERROR(job.import->EndOfEntries());
    return Status::OK();
  }

  Status Route(const EntryHeader& h, FileRecord* rec) {
    if (StartsWith(h.path, kServerPrefix)) return ServerEntry(h, rec);
    const ArchiveDomain* known = nullptr;
    size_t slash = h.path.find('/', 8);
    if (StartsWith(h.path, "domains/") && slash != std::string::npos) {
      auto it = archive_domains_.find(h.path.substr(8, slash - 8));
      if (it != archive_domains_.end()) known = &it->second;
    }
    if (!known)
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is outside the domain the manifest names");
    const ManifestDomain* d = known->domain;
    rec->rewritten = known->rewritten.count(h.path.substr(slash + 1)) > 0;
    if (h.type == EntryType::kSymlink) {
      rec->rewritten = HasPlaceholderMarker(h.link_target);
      rec->size = static_cast<std::int64_t>(h.link_target.size());
      rec->sha256 = Sha256::Of(h.link_target);
    }
    auto sink = sinks_.find(d->name);
    if (sink != sinks_.end()) return sink->second->Accept(h, rec);
    if (mailbox_ && d->name == mailbox_domain_ && StartsWith(h.path + "/", mailbox_prefix_))
      return mailbox_->Accept(h, rec);
    // A domain this run does not restore: checked against the index only.
    if (h.type == EntryType::kFile) return ctx_.HashEntry(h, rec);
    return Status::OK();
  }

  Status ServerEntry(const EntryHeader& h, FileRecord* rec) {
    std::string path = h.path.substr(std::string(kServerPrefix).size());
    const auto& listed = manifest().server_files;
    if (!FindServerFile(path) || std::find(listed.begin(), listed.end(), path) == listed.end())
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is not a server file the manifest lists");
    if (h.type != EntryType::kFile)
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' must be a regular file");
    if (!server_seen_.insert(path).second)
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' appears twice");
    if (!want_server_) return ctx_.HashEntry(h, rec);
    if (h.size < 0 || static_cast<size_t>(h.size) > kMaxServerFileBytes)
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is larger than " +
                             std::to_string(kMaxServerFileBytes) + " bytes");
    auto data = reader_->ReadAll(kMaxServerFileBytes);
    if (!data.ok()) return data.status();
    if (static_cast<std::int64_t>(data->size()) != h.size)
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': size differs from its header");
    rec->size = h.size;
    rec->sha256 = Sha256::Of(*data);
    server_data_.push_back({path, *data, static_cast<mode_t>(h.mode & 07777),
                            {static_cast<time_t>(h.mtime_sec), h.mtime_nsec}});
    return Status::OK();
  }

  void NoteFirst(const DomainOutcome& out) {
    if (!report_->domain_dir.empty()) return;
    report_->domain_dir = out.domain_dir;
    report_->user_dirs = out.user_dirs;
  }

  // The dry run's answer, from the target as it is now, placing domains
  // one after the other exactly as the commits would.
  Status PlanAll() {
    auto dc = ReadSmallFile(ctx_.vp_disk + "/domains/.dir-control", 4096);
    std::optional<std::string> dir_control;
    if (dc.ok()) dir_control = *dc;
    qmail::ControlTransaction tx(opt_.paths, {});
    qmail::ExtraLines extras = want_server_ ? Extras() : qmail::ExtraLines{};
    // Edits in the order the real run makes them: the server's own lines,
    // then domain by domain (each plan is cumulative, so the rcpthosts /
    // morercpthosts split is the real one).
    auto server_edits = tx.Plan({}, extras);
    if (!server_edits.ok()) return server_edits.status();
    std::set<std::tuple<std::string, char, std::string>> seen;
    auto note = [&](const std::vector<qmail::ControlEdit>& edits) {
      for (const auto& e : edits)
        if (seen.insert({e.file, e.op, e.line}).second)
          report_->control_edits.push_back({e.file, e.op, e.line});
    };
    if (want_server_) note(*server_edits);
    std::vector<qmail::DomainAssign> entries;
    for (auto& job : jobs_) {
      DomainOutcome& out = report_->domains[job.outcome];
      auto more = job.import->PlanPlacement(&dir_control, &out);
      entries.insert(entries.end(), more.begin(), more.end());
      auto edits = tx.Plan(entries, extras);
      if (!edits.ok()) return edits.status();
      note(*edits);
      out.status = "planned";
      NoteFirst(out);
    }
    if (!jobs_.empty()) report_->domains_dir_control = dir_control.value_or("");
    if (!want_server_) return Status::OK();
    return ReplaceServerFiles(/*dry_run=*/true, *server_edits);
  }

  Status CommitAll() {
    // Server files first: the old host's own control lines (not domain
    // registrations), as its qmail install had them before vpopmail added
    // domains; the whole-file settings come last.
    std::vector<qmail::ControlEdit> server_edits;
    if (want_server_) {
      qmail::ControlUpdateOptions copt;
      copt.use_qmail_programs = opt_.use_qmail_programs;
      copt.owner = ctx_.chown;
      qmail::ControlTransaction tx(opt_.paths, copt);
      VM_RETURN_IF_ERROR(tx.Lock());
      qmail::ExtraLines extras = Extras();
      auto edits = tx.Plan({}, extras);
      if (!edits.ok()) return edits.status();
      Status s = tx.Apply({}, extras);
      if (!s.ok()) {
        Status rb = tx.Rollback();
        return rb.ok() ? s : s.WithContext("rollback also failed (" + rb.message() + ")");
      }
      server_edits = *edits;
      for (const auto& e : *edits) report_->control_edits.push_back({e.file, e.op, e.line});
    }
    for (auto& job : jobs_) {
      DomainOutcome& out = report_->domains[job.outcome];
      Status s = job.import->Commit(&out);
      job.import.reset();  // cleans up after a failure, before the next domain
      if (!s.ok()) {
        // One domain of several is all or nothing; the others go on.
        if (jobs_.size() == 1 || s.code() == Status::Code::kInterrupted) return s;
        out.status = "failed";
        out.error = s.message();
        continue;
      }
      out.status = "imported";
      NoteFirst(out);
    }
    if (!want_server_) return Status::OK();
    return ReplaceServerFiles(/*dry_run=*/false, server_edits);
  }

  bool NamesArchiveDomain(const std::string& name) const {
    return archive_names_.count(ToLower(Trim(name))) > 0;
  }

  // Lines of the carried control files that are not about the archive's
  // domains (those are registered by each domain's commit).
  qmail::ExtraLines Extras() const {
    qmail::ExtraLines extras;
    for (const ServerFileData& f : server_data_) {
      std::vector<std::string> lines = SplitLines(f.data);
      if (f.path == "qmail/users/assign") {
        std::set<std::string> domain_lines;
        for (const auto& e : qmail::ParseDomainAssigns(f.data))
          if (NamesArchiveDomain(e.domain)) domain_lines.insert(ToLower(e.domain));
        for (const auto& line : lines) {
          if (line == ".") break;
          if (line.empty()) continue;
          std::string key = line.substr(0, line.find(':'));
          if (line[0] == '+' && key.size() > 2 && key.back() == '-' &&
              domain_lines.count(ToLower(key.substr(1, key.size() - 2))))
            continue;
          extras.assign.push_back(line);
        }
        continue;
      }
      std::vector<std::string>* out = nullptr;
      bool by_key = false;
      if (f.path == "qmail/control/rcpthosts") out = &extras.rcpthosts;
      else if (f.path == "qmail/control/morercpthosts") out = &extras.morercpthosts;
      else if (f.path == "qmail/control/virtualdomains") out = &extras.virtualdomains, by_key = true;
      else if (f.path == "qmail/control/locals") out = &extras.locals;
      if (!out) continue;
      for (const auto& line : lines) {
        if (line.empty()) continue;
        if (NamesArchiveDomain(by_key ? line.substr(0, line.find(':')) : line)) continue;
        out->push_back(line);
      }
    }
    return extras;
  }

  // me, defaultdomain, smtproutes and vpopmail's etc/ files: written when
  // absent; replaced when different, except with --merge, which keeps the
  // target's and reports it.
  Status ReplaceServerFiles(bool dry_run, const std::vector<qmail::ControlEdit>& edits) {
    for (const ServerFileData& f : server_data_) {
      const ServerFileSpec* spec = FindServerFile(f.path);
      std::string host = ServerFileHostPath(f.path, opt_.paths.vpopmail_home, opt_.paths.qmail_dir);
      if (spec->merge == ServerFileMerge::kLines) {
        bool changed = std::any_of(edits.begin(), edits.end(),
                                   [&](const qmail::ControlEdit& e) { return e.file == host; });
        report_->server_files.push_back({host, changed ? "add lines" : "unchanged"});
        continue;
      }
      if (spec->merge != ServerFileMerge::kReplace) continue;
      std::string disk = opt_.paths.OnDisk(host);
      auto current = ReadSmallFile(disk, kMaxServerFileBytes);
      std::string action;
      if (!current.ok() && current.status().code() == Status::Code::kNotFound) action = "create";
      else if (!current.ok()) return current.status();
      else if (*current == f.data) action = "unchanged";
      else action = opt_.merge ? "keep (differs)" : "replace";
      report_->server_files.push_back({host, action});
      if (dry_run || (action != "create" && action != "replace")) continue;
      std::optional<FileOwner> owner;
      struct stat st;
      if (geteuid() == 0) {
        if (stat(disk.c_str(), &st) == 0 || stat(DirName(disk).c_str(), &st) == 0)
          owner = FileOwner{st.st_uid, st.st_gid};
      }
      VM_RETURN_IF_ERROR(MakeDirs(DirName(disk), 0755, owner, nullptr));
      VM_RETURN_IF_ERROR(WriteFileAtomic(disk, f.data, f.mode, owner));
      struct timespec times[2] = {f.mtime, f.mtime};
      utimensat(AT_FDCWD, disk.c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
    return Status::OK();
  }

  struct Job {
    std::unique_ptr<DomainImport> import;
    size_t outcome;  // index in report_->domains
  };

  const ImportOptions& opt_;
  ImportReport* report_;
  ImportContext ctx_;
  std::unique_ptr<ArchiveReader> reader_;
  RecordSpool spool_;
  std::vector<Job> jobs_;                         // in commit order
  std::map<std::string, EntrySink*> sinks_;       // domain name -> its DomainImport
  struct ArchiveDomain {
    const ManifestDomain* domain = nullptr;
    std::set<std::string> rewritten;  // members holding placeholders, relative to domains/<name>/
  };
  std::map<std::string, ArchiveDomain> archive_domains_;  // by exact name, for routing entries
  std::set<std::string> archive_names_;           // every domain and alias, lower case
  std::unique_ptr<MailboxRestore> mailbox_;
  std::string mailbox_domain_, mailbox_prefix_;
  std::string progress_domain_;
  bool want_server_ = false;                      // restore the server files (--all)
  std::vector<ServerFileData> server_data_;
  std::set<std::string> server_seen_;
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
