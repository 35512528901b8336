#include "importer/domain_discard.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>

#include "core/crash_point.h"
#include "core/errno_status.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "importer/import_context.h"
#include "qmail/assign.h"
#include "qmail/control_file.h"
#include "qmail/control_update.h"
#include "qmail/domains.h"

namespace vmigrate {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string HostPath(const HostPaths& paths, const std::string& disk) {
  if (paths.root.empty() || paths.root == "/") return disk;
  std::string root = NormalizePath(paths.root);
  return StartsWith(disk, root + "/") ? disk.substr(root.size()) : disk;
}

// The domain a control line is about: "+d-:..." (assign), "d:d"
// (virtualdomains), "d" (rcpthosts, morercpthosts, locals).
std::string LineDomain(const std::string& file, const std::string& line) {
  std::string key = line.substr(0, line.find(':'));
  if (EndsWith(file, "/users/assign") && StartsWith(key, "+") && EndsWith(key, "-"))
    key = key.substr(1, key.size() - 2);
  return ToLower(key);
}

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// What undoing `e` changes in its file as it is now: true when the line a
// '+' edit added is still there, or the line a '-' edit removed is missing.
bool WouldChange(const JournalPlan::Edit& e) {
  auto cf = qmail::ControlFile::Load(e.file, EndsWith(e.file, "/users/assign"));
  if (!cf.ok()) return false;
  return e.op == '+' ? cf->Contains(e.line) : !cf->Contains(e.line);
}

// The import's record, narrowed to the names that are the domain's now,
// plus the lines of alias domains added since (a delta import adds them
// the way vaddaliasdomain does).
JournalPlan PlanFor(const JournalPlan& saved, const qmail::DomainLocation& loc, const HostPaths& paths) {
  std::set<std::string> names = {ToLower(loc.domain)};
  for (const auto& a : loc.aliases) names.insert(ToLower(a));
  JournalPlan plan = saved;
  plan.edits.clear();
  std::set<std::string> recorded;  // names whose assign line the record holds
  for (const auto& e : saved.edits) {
    std::string name = LineDomain(e.file, e.line);
    if (!names.count(name)) continue;
    plan.edits.push_back(e);
    if (EndsWith(e.file, "/users/assign")) recorded.insert(name);
  }
  const std::string assign = paths.OnDisk(paths.assign_file());
  const std::string rcpt = paths.OnDisk(paths.control_file("rcpthosts"));
  const std::string more = paths.OnDisk(paths.control_file("morercpthosts"));
  const std::string virt = paths.OnDisk(paths.control_file("virtualdomains"));
  auto text = ReadSmallFile(assign);
  std::vector<qmail::DomainAssign> entries;
  if (text.ok()) entries = qmail::ParseDomainAssigns(*text);
  for (const auto& alias : loc.aliases) {
    if (recorded.count(ToLower(alias))) continue;
    for (const auto& e : entries)
      if (ToLower(e.domain) == ToLower(alias)) plan.edits.push_back({'+', assign, qmail::FormatDomainAssignLine(e)});
    for (const std::string& file : {rcpt, more}) {
      auto cf = qmail::ControlFile::Load(file);
      if (cf.ok() && cf->Contains(alias)) plan.edits.push_back({'+', file, alias});
    }
    plan.edits.push_back({'+', virt, alias + ":" + alias});
  }
  // A file the record does not know existed before (it has these lines now).
  std::set<std::string> known;
  for (const auto& [file, existed] : plan.existed) known.insert(file);
  for (const auto& e : plan.edits)
    if (known.insert(e.file).second) plan.existed.push_back({e.file, true});
  return plan;
}

Status CheckDomainName(const std::string& domain) {
  if (domain.empty() || domain[0] == '.' || domain.find('/') != std::string::npos ||
      domain.find('\0') != std::string::npos || domain.find('\n') != std::string::npos)
    return Status::InvalidInput("'" + EscapeC(domain) + "' is not a domain name");
  return Status::OK();
}

// An alias domain is named with its real domain (vdeldomain removes an
// alias alone; here the whole move is taken back, so the real domain is meant).
Status AliasRefusal(const HostPaths& paths, const std::string& domain) {
  auto text = ReadSmallFile(paths.OnDisk(paths.assign_file()));
  if (text.ok())
    for (const auto& e : qmail::ParseDomainAssigns(*text))
      if (ToLower(e.domain) == ToLower(domain) && e.is_alias())
        return Status::InvalidInput(domain + " is an alias domain of " + e.real_domain + "; discard " +
                                    e.real_domain + " (its alias domains go with it)");
  return Status::InvalidInput(domain + " is an alias domain");
}

class Discard {
 public:
  Discard(const DiscardOptions& opt, DiscardReport* report) : opt_(opt), r_(report) {
    domains_disk_ = opt.paths.OnDisk(opt.paths.domains_dir());
    const std::string name = ToLower(opt.domain);
    journal_ = domains_disk_ + "/.vmigrate-discard-journal." + name;
    trash_ = domains_disk_ + "/.vmigrate-discard." + name;
  }

  Status Run() {
    r_->domain = opt_.domain;
    VM_RETURN_IF_ERROR(CheckDomainName(opt_.domain));
    qmail::ControlTransaction locks(opt_.paths, {});
    // The importer's locks: no import or other discard changes these files meanwhile.
    if (!opt_.dry_run) VM_RETURN_IF_ERROR(locks.Lock());
    auto started = Resume();
    if (!started.ok()) return started.status();
    if (!*started) {
      auto found = Start();
      if (!found.ok()) return found.status();
      if (!*found) return Status::OK();
    }
    if (opt_.dry_run) return Status::OK();
    r_->changed = true;
    VM_RETURN_IF_ERROR(Finish());
    if (opt_.reload && (opt_.paths.root.empty() || opt_.paths.root == "/")) {
      auto hup = qmail::SignalQmailSend();
      if (hup.ok()) r_->qmail_send_signalled = *hup;
      else r_->warnings.push_back("the domain is gone, but qmail-send was not told: " + hup.status().message());
    }
    return Status::OK();
  }

 private:
  // A discard journal left by a killed run: continue it (true).
  Result<bool> Resume() {
    if (!Exists(journal_)) return false;
    if (!Exists(journal_ + "/index")) {
      // Never acted on: nothing had changed yet.
      if (!opt_.dry_run) VM_RETURN_IF_ERROR(RemoveJournal(journal_));
      return false;
    }
    auto id = ReadSmallFile(journal_ + "/move-id", 256);
    if (!id.ok()) return id.status().WithContext("unfinished discard " + journal_);
    std::string pending = *id;
    while (!pending.empty() && pending.back() == '\n') pending.pop_back();
    if (pending != opt_.move_id)
      return Status::Conflict(opt_.domain + ": an unfinished discard of move " + EscapeC(pending) +
                              " is pending here; run it again with --move-id " + EscapeC(pending));
    auto plan = ReadJournal(journal_);
    if (!plan.ok()) return plan.status();
    plan_ = std::move(*plan);
    r_->resumed = true;
    r_->domain_dir = HostPath(opt_.paths, plan_.final_dir);
    Describe();
    return true;
  }

  // Finds the domain, checks that our import made it and writes the
  // discard journal. false: nothing to discard.
  Result<bool> Start() {
    VM_RETURN_IF_ERROR(RollBackInterruptedImport());
    auto loc = qmail::LocateDomain(opt_.paths, opt_.domain);
    if (!loc.ok()) {
      if (loc.status().code() == Status::Code::kInvalidInput) return AliasRefusal(opt_.paths, opt_.domain);
      if (loc.status().code() != Status::Code::kNotFound) return loc.status();
      // A directory a killed run had moved aside (its journal already gone).
      if (Exists(trash_) && !opt_.dry_run) {
        VM_RETURN_IF_ERROR(RemoveTree(trash_));
        r_->changed = true;
      }
      return false;
    }
    r_->domain = loc->domain;
    r_->domain_dir = loc->dir;
    auto place = ResolveParentUnderRoot(opt_.paths.root, loc->dir);
    if (!place.ok()) return place.status().WithContext(loc->domain);
    const std::string dir = place->disk;
    const Status not_ours =
        Status::Conflict(loc->domain + " was not created by move " + opt_.move_id + "; not removing it");
    auto marker = ReadSmallFile(dir + "/" + kMoveMarkerName, 256);
    if (!marker.ok()) {
      if (marker.status().code() == Status::Code::kNotFound) return not_ours;
      return marker.status();
    }
    if (*marker != opt_.move_id + "\n") return not_ours;
    auto saved = ReadJournal(dir + "/" + kMoveRecordName);
    if (!saved.ok() || saved->final_dir != dir)
      return Status::Conflict(loc->domain + ": the record of move " + opt_.move_id + "'s import (" + loc->dir + "/" +
                              kMoveRecordName + ") is " + (saved.ok() ? "for another directory" : "missing") +
                              "; not removing it");
    plan_ = PlanFor(*saved, *loc, opt_.paths);
    Describe();
    if (opt_.dry_run) return true;
    // Written under another name and renamed: a journal is complete or absent.
    const std::string tmp = journal_ + ".tmp";
    VM_RETURN_IF_ERROR(WriteJournal(tmp, plan_));
    VM_RETURN_IF_ERROR(WriteFileAtomic(tmp + "/move-id", opt_.move_id + "\n", 0600));
    if (rename(tmp.c_str(), journal_.c_str()) != 0) return FromErrno("cannot rename " + tmp + " to " + journal_, errno);
    VM_RETURN_IF_ERROR(SyncDirectory(domains_disk_));
    CrashPoint("discard journal written");
    return true;
  }

  // An import of this move killed during its commit left its journal, and
  // maybe the domain half-registered: roll it back as the next import would
  // (only when the directory it moved into place carries our marker; an
  // import killed before that has changed nothing a mail server sees).
  Status RollBackInterruptedImport() {
    const std::string journal = JournalDir(domains_disk_, ToLower(opt_.domain));
    if (!Exists(journal + "/index")) return Status::OK();
    auto plan = ReadJournal(journal);
    if (!plan.ok()) return Status::OK();
    auto marker = ReadSmallFile(plan->final_dir + "/" + kMoveMarkerName, 256);
    if (!marker.ok() || *marker != opt_.move_id + "\n") return Status::OK();
    if (opt_.dry_run) {
      r_->warnings.push_back(opt_.domain + ": an import of move " + opt_.move_id +
                             " was interrupted during its commit; the discard would roll it back");
      return Status::OK();
    }
    // An import into MySQL also wrote rows: the target's store takes them back.
    std::unique_ptr<vpopmail::UserStore> store;
    if (!plan->sql_domain.empty()) store = vpopmail::OpenUserStore(opt_.paths);
    auto rolled = RecoverJournal(journal, store.get());
    if (!rolled.ok()) return rolled.status().WithContext("rolling back the interrupted import of " + opt_.domain);
    r_->changed = true;
    r_->resumed = true;
    r_->domain_dir = HostPath(opt_.paths, plan->final_dir);
    r_->warnings.push_back(opt_.domain + ": rolled back an import of move " + opt_.move_id +
                           " that was interrupted during its commit");
    return Status::OK();
  }

  // Fills the report from plan_ and the files as they are now.
  void Describe() {
    for (const auto& e : plan_.edits)
      if (WouldChange(e))
        r_->control_edits.push_back({HostPath(opt_.paths, e.file), e.op == '+' ? '-' : '+', e.line});
    auto now = ReadSmallFile(plan_.dir_control, 4096);
    if (now.ok() && *now == plan_.dir_control_new) r_->dir_control = "restored";
    else if (AtOldDirControl(now)) r_->dir_control = "restored";
    else r_->dir_control = "kept";
  }

  bool AtOldDirControl(const Result<std::string>& now) const {
    if (plan_.dir_control_old) return now.ok() && *now == *plan_.dir_control_old;
    return !now.ok() && now.status().code() == Status::Code::kNotFound;
  }

  Status Finish() {
    // 1. Control files, one at a time (each idempotent; the cdbs are
    // rebuilt every time in case a killed run got no further than the file).
    std::vector<std::string> files;
    for (const auto& e : plan_.edits)
      if (std::find(files.begin(), files.end(), e.file) == files.end()) files.push_back(e.file);
    for (const std::string& file : files) {
      JournalPlan one = plan_;
      one.edits.clear();
      for (const auto& e : plan_.edits)
        if (e.file == file) one.edits.push_back(e);
      VM_RETURN_IF_ERROR(UndoControlEdits(one, /*always_rebuild_cdbs=*/true));
      CrashPoint(("discard: " + BaseName(file) + " restored").c_str());
    }

    // 2. domains/.dir-control: back to its text before the import if it
    // still holds what the import wrote. Anything else means a domain was
    // added or removed since; vdeldomain would decrement the counter, but
    // the counter is only a hint (paths live in users/assign), so we leave
    // it rather than guess.
    auto now = ReadSmallFile(plan_.dir_control, 4096);
    if (now.ok() && *now == plan_.dir_control_new) {
      if (plan_.dir_control_old) {
        struct stat st;
        std::optional<FileOwner> owner;
        if (geteuid() == 0 && stat(plan_.dir_control.c_str(), &st) == 0) owner = FileOwner{st.st_uid, st.st_gid};
        VM_RETURN_IF_ERROR(WriteFileAtomic(plan_.dir_control, *plan_.dir_control_old, 0600, owner));
      } else if (unlink(plan_.dir_control.c_str()) != 0 && errno != ENOENT) {
        return FromErrno("cannot remove " + plan_.dir_control, errno);
      }
      CrashPoint("discard: domains/.dir-control restored");
    } else if (!AtOldDirControl(now)) {
      r_->warnings.push_back(HostPath(opt_.paths, plan_.dir_control) +
                             " changed since the import (a domain was added or removed meanwhile); left as it is");
    }

    // 3. The directory: moved aside in one step, then removed.
    if (Exists(plan_.final_dir)) {
      if (Exists(trash_)) VM_RETURN_IF_ERROR(RemoveTree(trash_));
      if (rename(plan_.final_dir.c_str(), trash_.c_str()) == 0) {
        SyncDirectory(DirName(plan_.final_dir));
        SyncDirectory(domains_disk_);
        CrashPoint("discard: domain dir moved aside");
        VM_RETURN_IF_ERROR(RemoveTree(trash_));
      } else if (errno == EXDEV) {
        // A bucket symlinked to another filesystem: removed where it is.
        VM_RETURN_IF_ERROR(RemoveTree(plan_.final_dir));
      } else {
        return FromErrno("cannot move " + plan_.final_dir + " to " + trash_, errno);
      }
    } else if (Exists(trash_)) {
      VM_RETURN_IF_ERROR(RemoveTree(trash_));
    }
    CrashPoint("discard: domain dir removed");
    // Bucket dirs the import created, if nothing else moved in since.
    for (auto it = plan_.created_dirs.rbegin(); it != plan_.created_dirs.rend(); ++it) rmdir(it->c_str());
    VM_RETURN_IF_ERROR(RemoveJournal(journal_));
    CrashPoint("discard: journal removed");
    return Status::OK();
  }

  Status RemoveTree(const std::string& dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (ec) return FromErrorCode("cannot remove " + dir, ec);
    return SyncDirectory(DirName(dir));
  }

  const DiscardOptions& opt_;
  DiscardReport* r_;
  std::string domains_disk_, journal_, trash_;
  JournalPlan plan_;
};

}  // namespace

bool IsValidMoveId(const std::string& id) {
  if (id.size() < 8 || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Status WriteMoveRecord(const std::string& staged_dir, const std::string& move_id, const JournalPlan& plan,
                       const std::optional<FileOwner>& owner) {
  if (!IsValidMoveId(move_id)) return Status::InvalidInput("move ID '" + EscapeC(move_id) + "' is not 8-64 of [0-9a-f]");
  const std::string record = staged_dir + "/" + kMoveRecordName;
  VM_RETURN_IF_ERROR(WriteJournal(record, plan));
  VM_RETURN_IF_ERROR(WriteFileAtomic(staged_dir + "/" + kMoveMarkerName, move_id + "\n", 0600, owner));
  if (!owner) return Status::OK();
  // The record belongs to the domain like every other file in it.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(record, ec))
    if (lchown(e.path().c_str(), owner->uid, owner->gid) != 0)
      return FromErrno("cannot chown " + e.path().string(), errno);
  if (ec) return FromErrorCode("cannot list " + record, ec);
  if (lchown(record.c_str(), owner->uid, owner->gid) != 0) return FromErrno("cannot chown " + record, errno);
  return Status::OK();
}

Status DiscardDomain(const DiscardOptions& options, DiscardReport* report) {
  if (!IsValidMoveId(options.move_id))
    return Status::InvalidInput("--move-id '" + EscapeC(options.move_id) + "' is not 8-64 of [0-9a-f]");
  Discard discard(options, report);
  return discard.Run();
}

}  // namespace vmigrate
