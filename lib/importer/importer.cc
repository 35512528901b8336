#include "importer/importer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>
#include <set>
#include <tuple>

#include "archive/checksums.h"
#include "archive/layout.h"
#include "core/crash_point.h"
#include "core/errno_status.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "core/writeback.h"
#include "importer/delta_apply.h"
#include "importer/tail_apply.h"
#include "importer/domain_import.h"
#include "importer/import_record.h"
#include "importer/import_context.h"
#include "importer/mailbox_restore.h"
#include "importer/outside_refs_check.h"
#include "importer/rehash_weak.h"
#include "importer/server_restore.h"
#include "importer/target_owner.h"
#include "importer/user_merge.h"
#include "qmail/assign.h"
#include "qmail/control_update.h"
#include "qmail/domains.h"
#include "vpopmail/dir_control.h"

namespace vmigrate {
namespace {

constexpr size_t kMaxDeltaBytes = 1u << 30;

// A message file: directly in a Maildir++ folder's cur/ or new/ (any
// depth of the home, as the progress meter has always counted them).
bool IsMessagePath(const std::string& rel) {
  size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return false;
  size_t start = rel.rfind('/', slash - 1);
  start = start == std::string::npos ? 0 : start + 1;
  std::string_view dir(rel.data() + start, slash - start);
  return dir == "cur" || dir == "new";
}

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
    // A bad folder name is refused before the archive is read.
    if (!opt_.into_folder.empty()) VM_RETURN_IF_ERROR(ValidateIntoFolder(opt_.into_folder));
    VM_RETURN_IF_ERROR(CheckTarget());
    // The target's accounts: cdb, or MySQL (connects on first use).
    store_ = vpopmail::OpenUserStore(opt_.paths);
    ctx_.store = store_.get();
    VM_RETURN_IF_ERROR(OpenManifest());
    // pw_uid in the archive is as the source's backend wrote it.
    if (!manifest().source.backend.empty()) ctx_.source_backend = manifest().source.backend;
    // A mailbox restore writes as the owner of the account's home.
    if (opt_.user.empty()) VM_RETURN_IF_ERROR(ResolveOwner());
    VM_RETURN_IF_ERROR(Select());
    server_ = std::make_unique<ServerRestore>(&ctx_, &manifest(), want_server_);
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
    // New accounts in an installed domain change nothing qmail-send reads.
    for (const auto& d : report_->domains) imported += d.status == DomainStatus::kImported && !d.merged;
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
    // vpopmail chdir()s into its home and domains/: a symlinked one (a
    // bigger disk) is where domains go. Never outside --root.
    auto home = ResolveUnderRoot(opt_.paths.root, opt_.paths.vpopmail_home);
    if (!home.ok()) return home.status().WithContext("target vpopmail home " + opt_.paths.vpopmail_home);
    auto domains = ResolveUnderRoot(opt_.paths.root, opt_.paths.domains_dir());
    if (!domains.ok()) return domains.status().WithContext("target " + opt_.paths.domains_dir());
    ctx_.vp_disk = home->disk;
    if (home->exists && stat(ctx_.vp_disk.c_str(), &st) != 0 && errno != ENOENT)
      return FromErrno("target vpopmail home " + ctx_.vp_disk, errno);
    if (!home->exists || stat(ctx_.vp_disk.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status::NotFound("target vpopmail home " + ctx_.vp_disk + " does not exist");
    ctx_.domains_disk = domains->exists ? domains->disk : ctx_.vp_disk + "/domains";
    // Only a dangling symlink is refused: a domains/ that another import
    // created since the lookup above is simply there now.
    if (!domains->exists && lstat(ctx_.domains_disk.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      return Status::NotFound("target " + opt_.paths.domains_dir() + " is a symlink to " +
                              domains->host + ", which does not exist");
    for (const SymlinkHop& hop : domains->hops)  // a symlinked /srv is not storage
      if (!StartsWith(opt_.paths.vpopmail_home, hop.link + "/")) report_->followed_links.push_back(hop);
    for (const char* sub : {"", "/control", "/users"}) {
      std::string d = opt_.paths.OnDisk(opt_.paths.qmail_dir + sub);
      // Only a missing directory "does not exist"; one we may not enter says so.
      if (stat(d.c_str(), &st) != 0 && errno != ENOENT && errno != ENOTDIR)
        return FromErrno("target qmail directory " + d, errno);
      if (stat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Status::NotFound("target qmail directory " + d + " does not exist");
    }
    if (!opt_.dry_run && access(ctx_.vp_disk.c_str(), W_OK) != 0)
      return FromErrno("target vpopmail home " + ctx_.vp_disk + " is not writable", errno);
    return Status::OK();
  }

  const Manifest& manifest() const { return report_->manifest; }

  // After the manifest, so that a refusal names the domain; before anything
  // is written, also in a dry run.
  Status ResolveOwner() {
    auto owner = ResolveTargetOwner(opt_.paths, opt_.owner_spec, opt_.owner);
    if (!owner.ok()) return owner.status();
    report_->owner = owner->owner;
    report_->owner_source = owner->source;
    report_->owner_guessed = owner->guessed;
    if (geteuid() == 0) {
      ctx_.chown = owner->owner;
      report_->chowned = true;
    } else if (!opt_.owner_spec.empty() || opt_.owner) {
      report_->warnings.push_back("not running as root: files keep the current user, not " +
                                  OwnerText(owner->owner));
    }
    return Status::OK();
  }

  // OpenArchive checked every name; this keeps what routing needs.
  Status OpenManifest() {
    auto opened = OpenArchive(opt_.archive, &report_->manifest);
    if (!opened.ok()) return opened.status();
    reader_ = std::move(opened->reader);
    ctx_.manifest_record = opened->manifest_record;
    ctx_.reader = reader_.get();
    for (const ManifestDomain& d : manifest().domains)
      rewritten_[d.name].insert(d.rewritten_files.begin(), d.rewritten_files.end());
    VM_RETURN_IF_ERROR(spool_.Init());
    return spool_.Add(opened->manifest_record);
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

  // --user without --domain: the archive's one domain, or nullptr.
  const ManifestDomain* OnlyDomain() const {
    return manifest().domains.size() == 1 ? &manifest().domains[0] : nullptr;
  }

  Status NeedDomain() const {
    std::vector<std::string> names;
    for (const auto& d : manifest().domains) names.push_back(d.name);
    return Status::InvalidInput("--user " + opt_.user + ": the archive holds " + std::to_string(names.size()) +
                                " domains (" + Join(names, ", ") + "); say which with --domain D");
  }

  // What this run restores: one mailbox, one domain, or every domain (plus
  // the server files of a server archive).
  Status Select() {
    if (!opt_.move_id.empty() && (manifest().kind == kKindDelta || !opt_.user.empty()))
      return Status::InvalidInput("--move-id marks a domain created by a full import; this is " +
                                  std::string(manifest().kind == kKindDelta ? "a delta" : "a mailbox restore"));
    if (manifest().kind == kKindDelta) return SelectDelta();
    const bool server = manifest().kind == kKindServer;
    if (!opt_.user.empty()) {
      const ManifestDomain* d = opt_.domain.empty() ? OnlyDomain() : FindDomain(opt_.domain);
      if (!d && opt_.domain.empty()) return NeedDomain();
      if (!d) return NoSuchDomain(opt_.domain);
      const ManifestUser* u = nullptr;
      for (const auto& cand : d->users)
        if (cand.entry.name == opt_.user) u = &cand;
      if (!u) return Status::NotFound("the archive has no user " + opt_.user + " in " + d->name);
      mailbox_ = std::make_unique<MailboxRestore>(&ctx_, d, u);
      mailbox_domain_ = d->name;
      mailbox_user_ = u->entry.name;
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
    if (!opt_.move_id.empty() && chosen.size() != 1)
      return Status::InvalidInput("--move-id marks one domain; the archive holds " + std::to_string(chosen.size()) +
                                  " (choose one with --domain D)");
    want_server_ = server && opt_.domain.empty();
    if (want_server_ && !opt_.merge && !opt_.skip_existing) {
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
    for (const ManifestDomain* d : chosen) VM_RETURN_IF_ERROR(AddDomainJob(d));
    return Status::OK();
  }

  // A delta: each domain is checked against what is installed here (its
  // base state, or its result: already applied); one that does not match
  // refuses the whole run before anything is written. A domain new on the
  // source is carried whole and imported as from a full archive.
  Status SelectDelta() {
    if (!opt_.user.empty()) return Status::InvalidInput("--user restores from a full archive, not from a delta");
    // A server delta carries the server's configuration whole: --all
    // applies it as a restore --all would, lines the target lacks added.
    want_server_ = opt_.all && opt_.domain.empty() && !manifest().server_files.empty() && !manifest().delta_add_only;
    std::vector<const ManifestDomain*> chosen;
    if (!opt_.domain.empty()) {
      const ManifestDomain* d = FindDomain(opt_.domain);
      if (!d) return NoSuchDomain(opt_.domain);
      chosen.push_back(d);
    } else {
      for (const auto& d : manifest().domains) chosen.push_back(&d);
    }
    if (manifest().delta_add_only) return SelectTails(chosen);
    for (const ManifestDomain* d : chosen) {
      auto loc = qmail::LocateDomain(opt_.paths, d->name);
      if (!loc.ok()) {
        if (loc.status().code() != Status::Code::kNotFound) return loc.status();
        if (!d->delta.base.empty())
          return Status::Conflict(d->name + ": is not installed on this host, but the delta was made against a state "
                                  "that has it; import the full archive (and the deltas before this one) first" +
                                  (opt_.dry_run ? std::string(" (a dry run installs nothing, so a later archive of the "
                                                              "same run is checked against the target as it is now)")
                                                : std::string()));
        VM_RETURN_IF_ERROR(AddDomainJob(d));
        continue;
      }
      DomainOutcome out = Outcome(*d);
      out.is_delta = true;
      out.domain_dir = loc->dir;
      auto job = std::make_unique<DeltaApply>(&ctx_, d, *loc);
      VM_RETURN_IF_ERROR(job->RecoverInterrupted());
      auto check = job->CheckBase();
      if (!check.ok()) return check.status();
      if (*check == DeltaApply::BaseCheck::kAlreadyApplied) {
        out.status = DomainStatus::kAlreadyApplied;
        out.delta.base = d->delta.base;
        out.delta.result = d->delta.result;
        report_->domains.push_back(out);
        continue;
      }
      VM_RETURN_IF_ERROR(job->Begin());
      sinks_[d->name] = job.get();
      delta_sinks_[d->name] = job.get();
      report_->domains.push_back(out);
      delta_jobs_.push_back({std::move(job), report_->domains.size() - 1});
    }
    return Status::OK();
  }

  // An add-only delta: no base check (the target is live); every domain
  // must be installed here, and one applied before is "already applied".
  Status SelectTails(const std::vector<const ManifestDomain*>& chosen) {
    for (const ManifestDomain* d : chosen) {
      auto loc = qmail::LocateDomain(opt_.paths, d->name);
      if (!loc.ok()) {
        if (loc.status().code() != Status::Code::kNotFound) return loc.status();
        return Status::Conflict(d->name + ": is not installed on this host; an add-only delta only adds mail to a "
                                "domain that is there (import the full archive and the deltas first); nothing was changed");
      }
      DomainOutcome out = Outcome(*d);
      out.is_delta = true;
      out.add_only = true;
      out.domain_dir = loc->dir;
      auto job = std::make_unique<TailApply>(&ctx_, d, *loc);
      auto applied = job->Begin();
      if (!applied.ok()) return applied.status();
      if (*applied) {
        out.status = DomainStatus::kAlreadyApplied;
        out.delta.base = d->delta.base;
        out.delta.result = d->delta.result;
        report_->domains.push_back(out);
        continue;
      }
      sinks_[d->name] = job.get();
      report_->domains.push_back(out);
      tail_jobs_.push_back({std::move(job), report_->domains.size() - 1});
    }
    return Status::OK();
  }

  // A batch of users (merge_users) whose domain is installed here: merged
  // into it. Returns false when the domain is not here (imported whole).
  Result<bool> AddMergeJob(const ManifestDomain* d) {
    auto loc = qmail::LocateDomain(opt_.paths, d->name);
    if (!loc.ok()) {
      if (loc.status().code() == Status::Code::kNotFound) return false;
      return loc.status();
    }
    if (!opt_.move_id.empty())
      return Status::InvalidInput("--move-id marks a domain created by a full import; " + d->name +
                                  " is installed, and this batch of users would be merged into it");
    DomainOutcome out = Outcome(*d);
    auto job = std::make_unique<UserMerge>(&ctx_, d, *loc);
    VM_RETURN_IF_ERROR(job->RecoverInterrupted());
    VM_RETURN_IF_ERROR(job->Begin(&out));
    sinks_[d->name] = job.get();
    report_->domains.push_back(out);
    merge_jobs_.push_back({std::move(job), report_->domains.size() - 1});
    return true;
  }

  // One domain imported whole (full archive, or a domain new in a delta).
  Status AddDomainJob(const ManifestDomain* d) {
    if (d->merge_users && manifest().kind == kKindDomain) {
      auto merged = AddMergeJob(d);
      if (!merged.ok()) return merged.status();
      if (*merged) return Status::OK();
    }
    auto job = std::make_unique<DomainImport>(&ctx_, d);
    if (!opt_.dry_run) VM_RETURN_IF_ERROR(job->RecoverInterrupted());
    DomainOutcome out = Outcome(*d);
    Status s = job->CheckAbsent();
    if (!s.ok()) {
      if (s.code() == Status::Code::kConflict && opt_.skip_existing) {
        auto same = WhyNotFromArchive(opt_.paths, d->name, ctx_.manifest_record.sha256);
        if (!same.ok()) return same.status();
        if (same->empty()) {
          out.status = DomainStatus::kSkipped;
          out.error = "already imported from this archive (" + ctx_.manifest_record.sha256.substr(0, 16) + ")";
          report_->domains.push_back(out);
          return Status::OK();
        }
        if (!opt_.merge) return Status::Conflict(s.message() + "; " + *same);
      }
      if (opt_.merge && s.code() == Status::Code::kConflict) {
        out.status = DomainStatus::kSkipped;
        out.error = s.message();
        report_->domains.push_back(out);
        return Status::OK();
      }
      return s;
    }
    // Accounts vpopmail cannot reach were already dead on the old host:
    // they come along as they are, reported (issue 12, README).
    for (auto& u : vpopmail::FindUnreachableUsers(*d)) {
      report_->warnings.push_back(vpopmail::DescribeUnreachable(u) + "; imported as it is");
      report_->unreachable_users.push_back(std::move(u));
    }
    VM_RETURN_IF_ERROR(job->Begin());
    sinks_[d->name] = job.get();
    report_->domains.push_back(out);
    jobs_.push_back({std::move(job), report_->domains.size() - 1});
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

  // Progress counts what this run restores (or, for a mailbox, the user):
  // the homes of the domains it imports, as the manifest counts them (so
  // bytes_done ends at bytes_total, never past it). --max-rate limits the
  // same bytes, so the rate shown is the rate kept.
  void StartProgress() {
    ProgressTotals totals;
    for (const auto& d : report_->domains) {
      if (d.status == DomainStatus::kSkipped || d.status == DomainStatus::kAlreadyApplied) continue;
      counted_domains_.insert(d.name);
      totals.users += d.users;
      totals.messages += d.messages;
      totals.bytes += d.bytes;
    }
    if (mailbox_) totals = {1, 0, 0};
    if (opt_.progress) opt_.progress->SetTotals(totals);
  }

  void NoteProgress(const EntryHeader& h, const MemberName& name, const FileRecord& rec) {
    if (!opt_.progress && !opt_.rate_limit) return;
    const bool user =
        name.part == MemberPart::kUserHome && (mailbox_ || counted_domains_.count(name.domain) > 0);
    const bool counted = user && rec.type == 'f';
    if (opt_.progress) {
      if (!name.domain.empty() && name.domain != progress_domain_)
        opt_.progress->SetDomain(progress_domain_ = name.domain);
      if (user && h.type == EntryType::kDirectory && name.rel.empty()) opt_.progress->UserDone();
      if (counted) {
        opt_.progress->AddBytes(static_cast<std::uint64_t>(rec.size));
        if (IsMessagePath(name.rel)) opt_.progress->MessageDone();
      }
    }
    if (opt_.rate_limit && counted) opt_.rate_limit->Consume(static_cast<std::uint64_t>(rec.size));
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
      if (!*more) return Status::Corrupt((opt_.archive == "-" ? "<stdin>" : opt_.archive) + ": truncated: checksums.txt is missing");
      if (h.path == kChecksumsEntry) break;
      if (++report_->entries % 5 == 0) CrashPoint("unpacking");
      VM_RETURN_IF_ERROR(CheckEntryHeader(h));
      auto name = ParseMemberName(h.path);
      if (!name.ok()) return name.status();
      FileRecord rec = RecordFromHeader(h);
      VM_RETURN_IF_ERROR(Route(h, *name, &rec));
      NoteProgress(h, *name, rec);
      if (rec.type == 'f') report_->file_bytes += static_cast<std::uint64_t>(rec.size);
      VM_RETURN_IF_ERROR(spool_.Add(rec));
    }
    VM_RETURN_IF_ERROR(CompareWithIndex(reader_.get(), &spool_));
    auto more = reader_->Next(&h);
    if (!more.ok()) return more.status();
    if (*more) return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' follows checksums.txt");
    for (auto& job : jobs_) VM_RETURN_IF_ERROR(job.import->EndOfEntries());
    for (auto& job : merge_jobs_) VM_RETURN_IF_ERROR(job.merge->EndOfEntries());
    if (manifest().kind == kKindDelta && !seen_delta_) return Status::Corrupt("delta archive without delta.txt");
    return Status::OK();
  }

  // delta.txt: each record goes to its domain's DeltaApply (a domain this
  // run does not apply, e.g. one already applied, ignores its records).
  Status AcceptDeltaRecords(const EntryHeader& h, FileRecord* rec) {
    if (manifest().kind != kKindDelta || h.type != EntryType::kFile || seen_delta_)
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is not expected here");
    seen_delta_ = true;
    auto data = reader_->ReadAll(kMaxDeltaBytes);
    if (!data.ok()) return data.status();
    if (static_cast<std::int64_t>(data->size()) != h.size)
      return Status::Corrupt("delta.txt: size differs from its header");
    rec->size = h.size;
    rec->sha256 = Sha256::Of(*data);
    std::vector<std::string> lines = SplitLines(*data);
    if (lines.empty() || lines[0] != "vmigrate-delta 1")
      return Status::Corrupt("delta.txt: unknown format (first line is not 'vmigrate-delta 1')");
    for (size_t k = 1; k < lines.size(); ++k) {
      std::vector<std::string> raw = Split(lines[k], '\t');
      std::vector<std::string> f(raw.size());
      for (size_t i = 0; i < raw.size(); ++i)
        if (!UnescapeC(raw[i], &f[i])) return Status::Corrupt("delta.txt: line " + std::to_string(k + 1) + ": bad escape");
      if (f.size() < 3) return Status::Corrupt("delta.txt: line " + std::to_string(k + 1) + ": too few fields");
      if (manifest().delta_add_only)
        return Status::Corrupt("delta.txt: line " + std::to_string(k + 1) + ": an add-only delta has no records");
      if (!FindDomain(f[1]) || FindDomain(f[1])->name != f[1])
        return Status::Corrupt("delta.txt: line " + std::to_string(k + 1) + ": domain '" + EscapeC(f[1]) +
                               "' is not in the manifest");
      auto sink = delta_sinks_.find(f[1]);
      if (sink != delta_sinks_.end()) VM_RETURN_IF_ERROR(sink->second->AddRecord(f));
    }
    return Status::OK();
  }

  Status Route(const EntryHeader& h, const MemberName& name, FileRecord* rec) {
    if (name.part == MemberPart::kDelta) return AcceptDeltaRecords(h, rec);
    if (name.part == MemberPart::kServerFile) return server_->Accept(h, name, rec);
    auto known = rewritten_.end();
    if (name.part == MemberPart::kDomainFiles || name.part == MemberPart::kUserHome)
      known = rewritten_.find(name.domain);
    if (known == rewritten_.end())
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is outside the domain the manifest names");
    if (rec->type != 'l') rec->rewritten = known->second.count(name.rel_in_domain) > 0;
    auto sink = sinks_.find(name.domain);
    if (sink != sinks_.end()) return sink->second->Accept(h, name, rec);
    if (mailbox_ && name.part == MemberPart::kUserHome && name.domain == mailbox_domain_ &&
        name.user == mailbox_user_)
      return mailbox_->Accept(h, name, rec);
    // A domain this run does not restore: checked against the index only.
    if (h.type == EntryType::kFile) return ctx_.HashEntry(h, rec);
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
    auto dc = ctx_.DomainsDirControl();
    std::optional<std::string> dir_control;
    if (dc.ok()) dir_control = *dc;
    else if (!jobs_.empty() && !ctx_.store->KeepsDirControlFiles()) return dc.status();
    qmail::ControlTransaction tx(opt_.paths, {});
    qmail::ExtraLines extras = want_server_ ? server_->Extras() : qmail::ExtraLines{};
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
      VM_RETURN_IF_ERROR(job.import->CheckRowsFit(out));
      entries.insert(entries.end(), more.begin(), more.end());
      auto edits = tx.Plan(entries, extras);
      if (!edits.ok()) return edits.status();
      note(*edits);
      out.status = DomainStatus::kPlanned;
      NoteFirst(out);
    }
    if (!jobs_.empty()) report_->domains_dir_control = dir_control.value_or("");
    for (auto& job : delta_jobs_) {
      DomainOutcome& out = report_->domains[job.outcome];
      VM_RETURN_IF_ERROR(job.apply->Plan(&out));
      out.status = DomainStatus::kPlanned;
      NoteFirst(out);
    }
    for (auto& job : tail_jobs_) {
      DomainOutcome& out = report_->domains[job.outcome];
      VM_RETURN_IF_ERROR(job.apply->Plan(&out));
      out.status = DomainStatus::kPlanned;
      NoteFirst(out);
    }
    for (auto& job : merge_jobs_) {
      DomainOutcome& out = report_->domains[job.outcome];
      VM_RETURN_IF_ERROR(job.merge->Plan(&out));
      out.status = DomainStatus::kPlanned;
      NoteFirst(out);
    }
    if (!want_server_) return Status::OK();
    return server_->ReplaceServerFiles(/*dry_run=*/true, *server_edits);
  }

  Status CommitAll() {
    // Server files first: the old host's own control lines (not domain
    // registrations), as its qmail install had them before vpopmail added
    // domains; the whole-file settings come last.
    std::vector<qmail::ControlEdit> server_edits;
    if (want_server_) {
      qmail::ControlUpdateOptions copt;
      copt.use_qmail_programs = opt_.use_qmail_programs;
      qmail::ControlTransaction tx(opt_.paths, copt);
      VM_RETURN_IF_ERROR(tx.Lock());
      qmail::ExtraLines extras = server_->Extras();
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
        out.status = DomainStatus::kFailed;
        out.error = s.message();
        continue;
      }
      out.status = DomainStatus::kImported;
      NoteFirst(out);
    }
    for (auto& job : delta_jobs_) {
      DomainOutcome& out = report_->domains[job.outcome];
      Status s = job.apply->Commit(&out);
      job.apply.reset();
      if (!s.ok()) return s;
      out.status = DomainStatus::kImported;
      NoteFirst(out);
    }
    for (auto& job : tail_jobs_) {
      DomainOutcome& out = report_->domains[job.outcome];
      Status s = job.apply->Commit(&out);
      job.apply.reset();
      if (!s.ok()) return s;
      out.status = DomainStatus::kImported;
      NoteFirst(out);
    }
    for (auto& job : merge_jobs_) {
      DomainOutcome& out = report_->domains[job.outcome];
      Status s = job.merge->Commit(&out);
      job.merge.reset();
      if (!s.ok()) return s;
      out.status = DomainStatus::kImported;
      NoteFirst(out);
    }
    if (!want_server_) return Status::OK();
    return server_->ReplaceServerFiles(/*dry_run=*/false, server_edits);
  }

  struct Job {
    std::unique_ptr<DomainImport> import;
    size_t outcome;  // index in report_->domains
  };

  const ImportOptions& opt_;
  ImportReport* report_;
  ImportContext ctx_;
  std::unique_ptr<vpopmail::UserStore> store_;    // ctx_.store; outlives the jobs
  std::unique_ptr<ArchiveReader> reader_;
  RecordSpool spool_;
  std::vector<Job> jobs_;                         // in commit order
  struct DeltaJob {
    std::unique_ptr<DeltaApply> apply;
    size_t outcome;
  };
  std::vector<DeltaJob> delta_jobs_;              // after jobs_
  struct TailJob {
    std::unique_ptr<TailApply> apply;
    size_t outcome;
  };
  std::vector<TailJob> tail_jobs_;                // an add-only delta (no jobs_ or delta_jobs_ then)
  struct MergeJob {
    std::unique_ptr<UserMerge> merge;
    size_t outcome;
  };
  std::vector<MergeJob> merge_jobs_;              // batches of users into installed domains
  std::map<std::string, DeltaApply*> delta_sinks_;
  bool seen_delta_ = false;                       // delta.txt came
  std::map<std::string, EntrySink*> sinks_;       // domain name -> its DomainImport
  // Every domain of the archive by its exact name (for routing entries), with
  // its members holding placeholders, relative to domains/<name>/.
  std::map<std::string, std::set<std::string>> rewritten_;
  std::unique_ptr<MailboxRestore> mailbox_;
  std::string mailbox_domain_, mailbox_user_;
  std::unique_ptr<ServerRestore> server_;         // server/ members (restored with --all)
  std::string progress_domain_;
  std::set<std::string> counted_domains_;        // those whose homes progress counts
  bool want_server_ = false;                      // restore the server files (--all)
};

}  // namespace

const char* DomainStatusName(DomainStatus status) {
  switch (status) {
    case DomainStatus::kImported: return "imported";
    case DomainStatus::kPlanned: return "planned";
    case DomainStatus::kSkipped: return "skipped";
    case DomainStatus::kFailed: return "failed";
    case DomainStatus::kAlreadyApplied: return "already_applied";
  }
  return "failed";
}

Status ImportArchive(const ImportOptions& options, ImportReport* report) {
  auto importer = std::make_unique<Importer>(options, report);
  Status s = importer->Run();
  // The importer's locks go first: closing any descriptor of a file drops
  // every fcntl lock this process holds on it, so .vpasswd.lock is taken
  // afresh. Domains of a partly failed --all that committed count too.
  importer.reset();
  if (options.rehash_weak && !options.dry_run) RehashWeakImported(options, report);
  return s;
}

}  // namespace vmigrate
