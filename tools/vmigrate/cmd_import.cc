#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>

#include "core/json.h"
#include "core/strings.h"
#include "importer/domain_discard.h"
#include "importer/importer.h"
#include "importer/target_owner.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

bool g_rehash_weak = false;  // --rehash-weak: its lists go into every result

// --rehash-weak's result: "rehashed_users" [{domain,name,weak_hash}] and
// "rehash_left" [{domain,name,weak_hash,reason}] (the login hook's).
void RehashJson(JsonWriter* j, const ImportReport& report) {
  if (!g_rehash_weak) return;
  for (const auto* list : {&report.rehashed_users, &report.rehash_left}) {
    const bool left = list == &report.rehash_left;
    j->Key(left ? "rehash_left" : "rehashed_users").BeginArray();
    for (const WeakAccount& a : *list) {
      j->BeginObject().Key("domain").String(a.domain).Key("name").String(a.name).Key("weak_hash").String(a.weak_hash);
      if (left) j->Key("reason").String(a.reason);
      j->EndObject();
    }
    j->EndArray();
  }
}

// The same as text, one line per account.
void PrintRehash(const ImportReport& report) {
  if (!g_rehash_weak) return;
  for (const WeakAccount& a : report.rehashed_users)
    std::printf("re-hashed %s@%s (%s -> SHA-512 crypt)\n", a.name.c_str(), a.domain.c_str(), a.weak_hash.c_str());
  for (const WeakAccount& a : report.rehash_left)
    std::printf("left for the login hook: %s@%s (%s: %s)\n", a.name.c_str(), a.domain.c_str(), a.weak_hash.c_str(),
                a.reason.c_str());
}

// "owner": {"uid", "gid", "source"}: who owns the files and the
// users/assign line, and where that was taken from.
void OwnerJson(JsonWriter* j, const ImportReport& report) {
  j->Key("owner").BeginObject().Key("uid").Number(static_cast<std::uint64_t>(report.owner.uid));
  j->Key("gid").Number(static_cast<std::uint64_t>(report.owner.gid)).Key("taken_from").String(report.owner_source);
  j->EndObject();
}

void EditsJson(JsonWriter* j, const std::vector<ImportReport::Edit>& edits) {
  j->Key("control_edits").BeginArray();
  for (const auto& e : edits)
    j->BeginObject().Key("file").String(e.file).Key("op").String(std::string(1, e.op))
        .Key("text").String(e.line).EndObject();
  j->EndArray();
}

// A symlinked domains/ on the target: the domain went where it leads.
void FollowedJson(JsonWriter* j, const ImportReport& report) {
  j->Key("followed_symlinks").BeginArray();
  for (const auto& hop : report.followed_links)
    j->BeginObject().Key("link").String(hop.link).Key("target").String(hop.target)
        .Key("resolved").String(hop.resolved).EndObject();
  j->EndArray();
}

void PrintNotices(const ImportReport& report) {
  if (Quiet()) return;
  // The owner went into users/assign: a guess is worth a line.
  if (report.owner_guessed)
    std::fprintf(stderr, "vmigrate: import: notice: owner %s taken from %s; give --owner to choose\n",
                 OwnerText(report.owner).c_str(), report.owner_source.c_str());
  for (const auto& hop : report.followed_links)
    std::fprintf(stderr, "vmigrate: import: notice: followed storage symlink %s\n",
                 EscapeC(DescribeHop(hop)).c_str());
}

void UserDirsJson(JsonWriter* j, const char* key, const std::map<std::string, std::string>& dirs) {
  j->Key(key).BeginArray();
  for (const auto& [name, dir] : dirs)
    j->BeginObject().Key("name").String(name).Key("dir").String(dir).EndObject();
  j->EndArray();
}

// Paths that lead out of the restored domains, one line each, for the plan
// and the summary: the admin fixes them before cutover.
void PrintOutsideRefs(const ImportReport& report) {
  if (report.outside_refs.empty()) return;
  std::printf("references that leave the domain (carried unchanged; fix them before cutover):\n");
  for (const auto& r : report.outside_refs) std::printf("  %s\n", DescribeReportedRef(r).c_str());
}

// One domain archive, one domain: the plan of a dry run.
void PrintPlan(const ImportReport& report, bool json) {
  const DomainOutcome& d = report.domains[0];
  if (json) {
    JsonWriter j;
    j.BeginRecord("import").Key("status").String("dry-run").Key("kind").String(report.manifest.kind);
    j.Key("domain").String(d.name);
    j.Key("aliases").StringArray(d.aliases).Key("domain_dir").String(d.domain_dir);
    OwnerJson(&j, report);
    j.Key("users").Number(d.user_dirs.size());
    j.Key("messages").Number(d.messages).Key("bytes").Number(d.bytes);
    j.Key("entries_checked").Number(report.entries);
    UserDirsJson(&j, "user_dirs", d.user_dirs);
    EditsJson(&j, report.control_edits);
    j.Key("domains_dir_control").String(report.domains_dir_control);
    UnreachableUsersJson(&j, "unreachable_users", report.unreachable_users);
    AddOutsideRefsJson(&j, report.outside_refs);
    FollowedJson(&j, report);
    RehashJson(&j, report);
    j.Key("warnings").StringArray(report.warnings).EndObject();
    std::printf("%s\n", j.str().c_str());
    return;
  }
  std::printf("dry run: the archive checked out (%llu entries, checksums match); nothing was changed\n",
              static_cast<unsigned long long>(report.entries));
  std::printf("domain:        %s -> %s\n", d.name.c_str(), d.domain_dir.c_str());
  std::printf("alias domains: %s\n", d.aliases.empty() ? "none" : Join(d.aliases, ", ").c_str());
  std::printf("owner:         %s (%s)%s\n", OwnerText(report.owner).c_str(), report.owner_source.c_str(),
              report.chowned ? "" : " (files keep the current user)");
  std::printf("messages:      %llu (%llu bytes)\n", static_cast<unsigned long long>(d.messages),
              static_cast<unsigned long long>(d.bytes));
  std::printf("users (%zu):\n", d.user_dirs.size());
  for (const auto& [name, dir] : d.user_dirs) std::printf("  %-24s %s\n", name.c_str(), dir.c_str());
  std::printf("control files:\n");
  for (const auto& e : report.control_edits) std::printf("  %c %s: %s\n", e.op, e.file.c_str(), e.line.c_str());
  std::string dc = report.domains_dir_control;
  for (char& c : dc)
    if (c == '\n') c = ' ';
  std::printf("  domains/.dir-control becomes: %s\n", dc.c_str());
  PrintOutsideRefs(report);
}

// --all, or a server archive: every domain's outcome and the server files.
int PrintServer(const ImportReport& report, bool json, bool dry_run) {
  size_t imported = 0, skipped = 0, failed = 0;
  for (const auto& d : report.domains) {
    if (d.status == DomainStatus::kFailed) ++failed;
    else if (d.status == DomainStatus::kSkipped) ++skipped;
    else ++imported;
  }
  int code = failed == 0 ? 0 : imported > 0 ? static_cast<int>(Exit::kPartial) : static_cast<int>(Exit::kFailed);
  if (json) {
    JsonWriter j;
    j.BeginRecord("import").Key("status").String(dry_run ? "dry-run" : failed ? "partial" : "ok");
    j.Key("kind").String(report.manifest.kind);
    OwnerJson(&j, report);
    j.Key("entries_checked").Number(report.entries);
    j.Key("domains").BeginArray();
    for (const auto& d : report.domains) {
      j.BeginObject().Key("name").String(d.name).Key("status").String(DomainStatusName(d.status));
      j.Key("aliases").StringArray(d.aliases).Key("domain_dir").String(d.domain_dir);
      j.Key("users").Number(d.users).Key("messages").Number(d.messages).Key("bytes").Number(d.bytes);
      UserDirsJson(&j, "user_dirs", d.user_dirs);
      if (d.error.empty()) j.Key("error").Null();
      else j.Key("error").String(d.error);
      j.EndObject();
    }
    j.EndArray();
    EditsJson(&j, report.control_edits);
    j.Key("server_files").BeginArray();
    for (const auto& f : report.server_files)
      j.BeginObject().Key("path").String(f.path).Key("action").String(f.action).EndObject();
    j.EndArray().Key("domains_dir_control").String(report.domains_dir_control);
    UnreachableUsersJson(&j, "unreachable_users", report.unreachable_users);
    AddOutsideRefsJson(&j, report.outside_refs);
    RehashJson(&j, report);
    j.Key("warnings").StringArray(report.warnings).Key("exit").Number(code).EndObject();
    std::printf("%s\n", j.str().c_str());
    return code;
  }
  if (dry_run)
    std::printf("dry run: the archive checked out (%llu entries, checksums match); nothing was changed\n",
                static_cast<unsigned long long>(report.entries));
  for (const auto& d : report.domains) {
    if (d.status == DomainStatus::kSkipped || d.status == DomainStatus::kFailed) {
      std::printf("%-8s %s: %s\n", DomainStatusName(d.status), d.name.c_str(), d.error.c_str());
      continue;
    }
    std::printf("%-8s %s -> %s (%llu users, %llu messages, %llu bytes, aliases: %s)\n",
                DomainStatusName(d.status), d.name.c_str(), d.domain_dir.c_str(),
                static_cast<unsigned long long>(d.users), static_cast<unsigned long long>(d.messages), static_cast<unsigned long long>(d.bytes),
                d.aliases.empty() ? "none" : Join(d.aliases, ", ").c_str());
    if (dry_run)
      for (const auto& [name, dir] : d.user_dirs) std::printf("           %-24s %s\n", name.c_str(), dir.c_str());
  }
  if (!report.control_edits.empty()) std::printf("control files:\n");
  for (const auto& e : report.control_edits) std::printf("  %c %s: %s\n", e.op, e.file.c_str(), e.line.c_str());
  if (!report.server_files.empty()) std::printf("server files:\n");
  for (const auto& f : report.server_files) std::printf("  %-16s %s\n", f.action.c_str(), f.path.c_str());
  PrintOutsideRefs(report);
  std::printf("%zu %s, %zu skipped (already on the target), %zu failed\n", imported,
              dry_run ? "planned" : "imported", skipped, failed);
  return code;
}

// A delta (export --since): per domain, applied, planned or already applied.
int PrintDelta(const ImportReport& report, bool json, bool dry_run) {
  bool all_applied = true;
  for (const auto& d : report.domains) all_applied &= d.status == DomainStatus::kAlreadyApplied;
  if (json) {
    JsonWriter j;
    j.BeginRecord("import").Key("status").String(dry_run ? "dry-run" : all_applied ? "already_applied" : "ok");
    j.Key("kind").String(report.manifest.kind).Key("base").String(report.manifest.delta_base);
    j.Key("result").String(report.manifest.delta_result).Key("entries_checked").Number(report.entries);
    j.Key("domains").BeginArray();
    for (const auto& d : report.domains) {
      j.BeginObject().Key("name").String(d.name).Key("status").String(DomainStatusName(d.status));
      j.Key("delta").Bool(d.is_delta).Key("domain_dir").String(d.domain_dir);
      if (d.add_only) {
        j.Key("add_only").Bool(true).Key("added").Number(d.added).Key("already_there").Number(d.already_there);
        j.Key("bytes").Number(d.delta.bytes);
      } else if (d.is_delta) {
        j.Key("files").Number(d.delta.files).Key("bytes").Number(d.delta.bytes);
        j.Key("messages_added").Number(d.delta.messages);
        j.Key("renames").Number(d.delta.renames).Key("removals").Number(d.delta.removals);
        j.Key("users_added").Number(d.delta.users_added).Key("users_removed").Number(d.delta.users_removed);
        j.Key("users_changed").Number(d.delta.users_changed);
        j.Key("aliases_added").StringArray(d.aliases_added).Key("aliases_removed").StringArray(d.aliases_removed);
      } else {
        j.Key("users").Number(d.users).Key("messages").Number(d.messages).Key("bytes").Number(d.bytes);
      }
      j.EndObject();
    }
    j.EndArray();
    EditsJson(&j, report.control_edits);
    j.Key("server_files").BeginArray();
    for (const auto& f : report.server_files)
      j.BeginObject().Key("path").String(f.path).Key("action").String(f.action).EndObject();
    j.EndArray();
    RehashJson(&j, report);
    j.Key("warnings").StringArray(report.warnings).EndObject();
    std::printf("%s\n", j.str().c_str());
    return 0;
  }
  if (dry_run)
    std::printf("dry run: the delta checked out (%llu entries, checksums match); nothing was changed\n",
                static_cast<unsigned long long>(report.entries));
  for (const auto& d : report.domains) {
    if (d.status == DomainStatus::kAlreadyApplied) {
      std::printf(d.add_only ? "already applied: this add-only delta was imported into %s before; nothing changed\n"
                             : "already applied: %s has the delta's result state; nothing changed\n",
                  d.name.c_str());
      continue;
    }
    if (d.add_only) {
      std::printf("%s %s: %llu messages added (%llu bytes), %llu already there\n",
                  dry_run ? "would add to" : "added to", d.name.c_str(), static_cast<unsigned long long>(d.added),
                  static_cast<unsigned long long>(d.delta.bytes), static_cast<unsigned long long>(d.already_there));
      continue;
    }
    if (!d.is_delta) {
      std::printf("%s %s -> %s (new on the source: %llu users, %llu messages, %llu bytes)\n",
                  dry_run ? "would import" : "imported", d.name.c_str(), d.domain_dir.c_str(),
                  static_cast<unsigned long long>(d.users), static_cast<unsigned long long>(d.messages),
                  static_cast<unsigned long long>(d.bytes));
      continue;
    }
    std::printf("%s %s: %llu files and directories (%llu messages added, %llu bytes), %llu renames, %llu removals; "
                "users: %llu added, %llu removed, %llu changed\n",
                dry_run ? "would apply the delta to" : "applied the delta to", d.name.c_str(),
                static_cast<unsigned long long>(d.delta.files), static_cast<unsigned long long>(d.delta.messages),
                static_cast<unsigned long long>(d.delta.bytes),
                static_cast<unsigned long long>(d.delta.renames), static_cast<unsigned long long>(d.delta.removals),
                static_cast<unsigned long long>(d.delta.users_added),
                static_cast<unsigned long long>(d.delta.users_removed),
                static_cast<unsigned long long>(d.delta.users_changed));
    for (const auto& a : d.aliases_added) std::printf("  alias domain added:   %s\n", a.c_str());
    for (const auto& a : d.aliases_removed) std::printf("  alias domain removed: %s\n", a.c_str());
  }
  if (!report.control_edits.empty()) std::printf("control files:\n");
  for (const auto& e : report.control_edits) std::printf("  %c %s: %s\n", e.op, e.file.c_str(), e.line.c_str());
  if (!report.server_files.empty()) std::printf("server files:\n");
  for (const auto& f : report.server_files) std::printf("  %-16s %s\n", f.action.c_str(), f.path.c_str());
  return 0;
}

void SkippedJson(JsonWriter* j, const char* key, const std::vector<SkippedFile>& files) {
  j->Key(key).BeginArray();
  for (const auto& f : files) j->BeginObject().Key("path").String(f.path).Key("reason").String(f.reason).EndObject();
  j->EndArray();
}

// At most 20 lines of a skipped list; --json has them all.
void PrintSkippedList(const char* what, const std::vector<SkippedFile>& files, bool with_reason) {
  std::printf("skipped %zu %s%s\n", files.size(), what, files.empty() ? "" : ":");
  size_t shown = 0;
  for (const auto& f : files) {
    if (++shown > 20) {
      std::printf("  ... and %zu more (--json lists them all)\n", files.size() - 20);
      break;
    }
    if (with_reason) std::printf("  %s (%s)\n", f.path.c_str(), f.reason.c_str());
    else std::printf("  %s\n", f.path.c_str());
  }
}

int PrintMailbox(const ImportReport& report, bool json, bool dry_run) {
  const MailboxOutcome& m = *report.mailbox;
  if (json) {
    JsonWriter j;
    j.BeginRecord("import").Key("status").String(dry_run ? "dry-run" : "ok").Key("kind").String("mailbox");
    j.Key("domain").String(m.domain);
    j.Key("user").String(m.user).Key("user_dir").String(m.user_dir).Key("folder").String(m.folder);
    j.Key("restored_messages").Number(m.restored_messages).Key("restored_bytes").Number(m.restored_bytes);
    j.Key("restored_files").Number(m.restored_files).Key("created_dirs").StringArray(m.created_dirs);
    j.Key("subscribed_folders").StringArray(m.subscribed);
    j.Key("skipped_messages").Number(static_cast<std::uint64_t>(m.skipped_messages.size()));
    j.Key("skipped_files").Number(static_cast<std::uint64_t>(m.skipped_files.size()));
    SkippedJson(&j, "skipped_message_list", m.skipped_messages);
    SkippedJson(&j, "skipped_file_list", m.skipped_files);
    RehashJson(&j, report);
    j.Key("warnings").StringArray(report.warnings).EndObject();
    std::printf("%s\n", j.str().c_str());
    return 0;
  }
  std::string where = m.user_dir + "/Maildir" + (m.folder.empty() ? "" : "/" + m.folder);
  std::printf("%s %llu messages (%llu bytes, %llu files in all) for %s@%s into %s\n",
              dry_run ? "dry run: would restore" : "restored",
              static_cast<unsigned long long>(m.restored_messages),
              static_cast<unsigned long long>(m.restored_bytes),
              static_cast<unsigned long long>(m.restored_files), m.user.c_str(), m.domain.c_str(), where.c_str());
  for (const auto& d : m.created_dirs) std::printf("  new directory  %s\n", d.c_str());
  for (const auto& f : m.subscribed) std::printf("  %s  %s\n", dry_run ? "would subscribe" : "subscribed", f.c_str());
  PrintSkippedList("messages already there (never overwritten)", m.skipped_messages, false);
  PrintSkippedList("other files (IMAP/POP state, ...; never overwritten)", m.skipped_files, true);
  return 0;
}

// --skip-existing: the one domain of the archive was imported from it before.
int PrintSkipped(const DomainOutcome& d, bool json) {
  if (json) {
    JsonWriter j;
    j.BeginRecord("import").Key("status").String("skipped").Key("domain").String(d.name);
    j.Key("reason").String(d.error).EndObject();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("skipped %s: %s; nothing changed\n", d.name.c_str(), d.error.c_str());
  }
  return 0;
}

void PrintImported(const ImportReport& report, bool json) {
  const DomainOutcome& d = report.domains[0];
  if (json) {
    JsonWriter j;
    j.BeginRecord("import").Key("status").String("ok").Key("kind").String(report.manifest.kind);
    j.Key("domain").String(d.name);
    j.Key("aliases").StringArray(d.aliases).Key("domain_dir").String(d.domain_dir);
    j.Key("users").Number(d.users).Key("messages").Number(d.messages).Key("bytes").Number(d.bytes);
    OwnerJson(&j, report);
    j.Key("qmail_send_signalled").Bool(report.qmail_send_signalled > 0);
    UnreachableUsersJson(&j, "unreachable_users", report.unreachable_users);
    AddOutsideRefsJson(&j, report.outside_refs);
    FollowedJson(&j, report);
    RehashJson(&j, report);
    j.Key("warnings").StringArray(report.warnings).EndObject();
    std::printf("%s\n", j.str().c_str());
    return;
  }
  std::printf("imported %s into %s (%llu users, %llu messages, %llu bytes, aliases: %s)\n", d.name.c_str(),
              d.domain_dir.c_str(), static_cast<unsigned long long>(d.users),
              static_cast<unsigned long long>(d.messages), static_cast<unsigned long long>(d.bytes),
              d.aliases.empty() ? "none" : Join(d.aliases, ", ").c_str());
  PrintOutsideRefs(report);
}

// "skipped_users": [{domain, name, reason}], as export's --skip-invalid-users.
void SkippedUsersJson(JsonWriter* j, const DomainOutcome& d) {
  j->Key("skipped_users").BeginArray();
  for (const auto& [name, why] : d.users_skipped)
    j->BeginObject().Key("domain").String(d.name).Key("name").String(name).Key("reason").String(why).EndObject();
  j->EndArray();
}

// A batch of users merged into the installed domain (importer/user_merge.h):
// who was (or would be) added, where, and who was left out.
void PrintMerged(const ImportReport& report, bool json, bool dry_run) {
  const DomainOutcome& d = report.domains[0];
  if (json) {
    JsonWriter j;
    j.BeginRecord("import").Key("status").String(dry_run ? "dry-run" : "ok").Key("kind").String(report.manifest.kind);
    j.Key("domain").String(d.name).Key("merge_users").Bool(true).Key("domain_dir").String(d.domain_dir);
    j.Key("users").Number(d.users).Key("messages").Number(d.messages).Key("bytes").Number(d.bytes);
    j.Key("added_users").StringArray(d.users_added);
    SkippedUsersJson(&j, d);
    UserDirsJson(&j, "user_dirs", d.user_dirs);
    OwnerJson(&j, report);
    j.Key("entries_checked").Number(report.entries);
    AddOutsideRefsJson(&j, report.outside_refs);
    RehashJson(&j, report);
    j.Key("warnings").StringArray(report.warnings).EndObject();
    std::printf("%s\n", j.str().c_str());
    return;
  }
  if (dry_run)
    std::printf("dry run: the archive checked out (%llu entries, checksums match); nothing was changed\n",
                static_cast<unsigned long long>(report.entries));
  std::printf("%s %zu users into %s in %s (%llu messages, %llu bytes); %zu skipped\n",
              dry_run ? "would merge" : "merged", d.users_added.size(), d.name.c_str(), d.domain_dir.c_str(),
              static_cast<unsigned long long>(d.messages), static_cast<unsigned long long>(d.bytes),
              d.users_skipped.size());
  for (const auto& [name, dir] : d.user_dirs) std::printf("  added    %-24s %s\n", name.c_str(), dir.c_str());
  for (const auto& [name, why] : d.users_skipped)
    std::printf("  skipped  %s@%s %s\n", name.c_str(), d.name.c_str(), why.c_str());
  PrintOutsideRefs(report);
}

struct Flags {
  PathFlags paths;
  ProgressFlags progress;
  std::vector<std::string> archives;
  std::string owner, domain, user, into_folder, move_id, on_conflict = "fail";
  size_t vpasswd_line_max = vpopmail::kVpasswdLineMax54;
  bool no_reload = false, qmail_programs = false, json = false, dry_run = false, all = false,
       merge = false, skip_existing = false, rehash_weak = false;
};

// The manifest's names are untrusted until the importer checked them: escaped.
std::string Label(const ImportReport& report, const std::string& archive) {
  if (report.manifest.domains.size() == 1) return EscapeC(report.manifest.domains[0].name);
  return archive;
}

// Several archives: each is imported on its own; one JSON line per domain
// and a summary. Exit 0 all ok, 4 some failed, 1 none done.
int RunBatch(const Flags& f, const ImportOptions& base) {
  size_t ok = 0, failed = 0;
  for (const std::string& archive : f.archives) {
    if (g_interrupted.load()) break;
    ImportOptions opt = base;
    opt.archive = archive;
    auto meter = f.progress.MakeMeter("import");
    if (!meter.ok()) return Fail("import", meter.status());
    opt.progress = meter->get();
    ImportReport report;
    auto start = std::chrono::steady_clock::now();
    Status s = ImportArchive(opt, &report);
    if (*meter) (*meter)->Finish();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const auto& w : report.warnings) std::fprintf(stderr, "vmigrate: import: warning: %s\n", w.c_str());
    // A batch prints one line per domain: the references go with the warnings.
    for (const auto& r : report.outside_refs)
      std::fprintf(stderr, "vmigrate: import: warning: %s\n", DescribeReportedRef(r).c_str());
    PrintNotices(report);
    std::vector<DomainOutcome> outcomes = report.domains;
    // The JSON "domain" of a failed archive: null when the archive named none.
    const bool named = report.manifest.domains.size() == 1;
    if (!s.ok()) {
      DomainOutcome out;
      out.name = Label(report, archive);
      out.status = DomainStatus::kFailed;
      out.error = s.message();
      outcomes = {out};
      std::fprintf(stderr, "vmigrate: import: %s\n", WithObject(s, archive).message().c_str());
    }
    for (const auto& d : outcomes) {
      bool good = d.status != DomainStatus::kFailed;
      good ? ++ok : ++failed;
      if (f.json) {
        JsonWriter j;
        j.BeginRecord("domain").Key("archive").String(archive).Key("domain");
        if (s.ok() || named) j.String(s.ok() ? d.name : report.manifest.domains[0].name);
        else j.Null();
        const bool skipped = d.status == DomainStatus::kSkipped;
        const char* status = !good ? "error" : skipped ? "skipped"
                             : f.dry_run ? "dry-run"
                             : d.status == DomainStatus::kAlreadyApplied ? "already_applied" : "ok";
        j.Key("status").String(status);
        j.Key("users").Number(d.users).Key("messages").Number(d.messages).Key("bytes").Number(d.bytes);
        j.Key("seconds").Double(seconds).Key("domain_dir").String(d.domain_dir);
        if (d.merged) {
          j.Key("merge_users").Bool(true);
          SkippedUsersJson(&j, d);
        }
        if (skipped) j.Key("reason").String(d.error);
        if (d.error.empty() || skipped) j.Key("error").Null();
        else j.Key("error").String(d.error);
        if (!s.ok()) j.Key("exit").Number(static_cast<int>(ToExit(s)));
        RehashJson(&j, report);
        j.EndObject();
        std::printf("%s\n", j.str().c_str());
      } else if (d.status == DomainStatus::kSkipped) {
        std::printf("skipped  %s: %s (%s)\n", d.name.c_str(), d.error.c_str(), archive.c_str());
      } else if (good) {
        if (Quiet()) continue;
        std::printf("%-8s %s -> %s (%llu users, %llu messages) from %s\n",
                    d.is_delta && d.status == DomainStatus::kImported ? "applied"
                    : d.merged && d.status == DomainStatus::kImported ? "merged" : DomainStatusName(d.status),
                    d.name.c_str(), d.domain_dir.c_str(), static_cast<unsigned long long>(d.users),
                    static_cast<unsigned long long>(d.messages), archive.c_str());
      } else if (!s.ok()) {  // the reason is on stderr, once
        std::printf("FAILED   %s from %s (exit %d)\n", d.name.c_str(), archive.c_str(), static_cast<int>(ToExit(s)));
      } else {
        std::printf("FAILED   %s (%s): %s\n", d.name.c_str(), archive.c_str(), d.error.c_str());
      }
      std::fflush(stdout);
    }
    if (!f.json && !Quiet()) PrintRehash(report);
  }
  int code = g_interrupted.load() ? static_cast<int>(Exit::kInterrupted) : BatchExit(ok, failed);
  if (f.json || !Quiet()) PrintBatchSummary(f.json, ok, failed, code, "ok");
  return code;
}

}  // namespace

Handler AddImport(CLI::App* app) {
  auto f = std::make_shared<Flags>();
  app->add_option("ARCHIVE", f->archives,
                  "archive written by 'vmigrate export', '-' for stdin; several are imported one "
                  "after the other (a failure does not stop the rest)")
      ->required();
  app->add_flag("--all", f->all,
                "restore every domain of a server backup and its configuration files; the target "
                "must have no domains yet (see --merge)");
  app->add_flag("--merge", f->merge,
                "with --all: add only the domains the target lacks and report the others");
  app->add_flag("--skip-existing", f->skip_existing,
                "for re-runs of a batch: a domain already imported from this same archive is "
                "reported as skipped (exit 0), not as a conflict; a domain that exists but came "
                "from elsewhere is still a conflict (exit 5)");
  app->add_option("--domain", f->domain, "restore just this domain of the archive");
  app->add_option("--user", f->user,
                  "restore this user's mail into the existing account on the target (with "
                  "--domain, which may be left out when the archive holds one domain); nothing "
                  "there is overwritten");
  app->add_option("--into-folder", f->into_folder,
                  "with --user: put the restored mail into a new folder Maildir/.NAME (e.g. "
                  "Restored-2026-11-23) instead of the original folders, subscribed for IMAP "
                  "(NAME: ASCII, no '/', no leading '.')")
      ->type_name("NAME");
  app->add_option("--owner", f->owner,
                  "USER[:GROUP] (names or numbers; names from etc/passwd and etc/group under "
                  "--root) for the imported files and the users/assign line (default: the "
                  "target's vpopmail user, else the owner of the vpopmail home; uid 0 is refused, "
                  "exit 8; files keep the current user when not root)")
      ->type_name("USER[:GROUP]");
  app->add_option("--vpasswd-line-max", f->vpasswd_line_max,
                  "the longest vpasswd line (bytes, without the newline) the target's vpopmail "
                  "reads: 254 for vpopmail 5.4 (default), 298 for 5.6. A longer line (with the new "
                  "home path) is refused before anything is written (exit 8); one over 254 but "
                  "within N is written with a warning")
      ->check(CLI::Range(size_t{64}, size_t{65536}));
  app->add_option("--move-id", f->move_id,
                  "mark the domain as created by move ID (8-64 of [0-9a-f]) so that 'cutover discard "
                  "DOMAIN --move-id ID' can take this import back; a full archive of one domain only")
      ->type_name("ID");
  app->add_option("--on-conflict", f->on_conflict,
                  "a batch of users (an archive marked merge_users) going into a domain that is "
                  "installed already: fail (default) refuses the import, changing nothing, when a "
                  "user of the batch is in the domain (each conflict named); skip leaves those "
                  "users out and reports them")
      ->check(CLI::IsMember({"fail", "skip"}))
      ->capture_default_str();
  app->add_flag("--mysql-widen-columns", f->paths.mysql_widen_columns,
                "a MySQL target with vpopmail 5.4's narrow columns that a value does not fit "
                "(pw_passwd char(40) and a SHA-512 crypt, ...): widen them to vpopmail 5.6's "
                "widths instead of refusing (exit 8); nothing is ever truncated");
  app->add_option("--mysql-layout", f->paths.mysql_layout,
                  "the table layout a MySQL target whose database is still empty gets: many "
                  "(one vpopmail table, vpopmail's default) or perdomain (one table per domain); "
                  "a database with vpopmail's tables keeps its own")
      ->check(CLI::IsMember({"many", "perdomain"}));
  app->add_flag("--rehash-weak", f->rehash_weak,
                "after the import, replace the DES and MD5-crypt hashes of accounts that have a stored "
                "cleartext (which must verify) with SHA-512 crypt, each reported; the others are listed "
                "for the login hook (vmigrate-checkpassword --rehash). Not in a dry run. A later delta "
                "onto the domain is then refused: use it on the last import");
  app->add_flag("--no-reload", f->no_reload, "do not send SIGHUP to qmail-send afterwards");
  app->add_flag("--qmail-programs", f->qmail_programs,
                "rebuild users/cdb and morercpthosts.cdb with qmail-newu/qmail-newmrh instead "
                "of vmigrate's own writer");
  app->add_flag("--dry-run", f->dry_run,
                "check the whole archive and print the plan (where domains and users land, "
                "control-file lines to add, files to restore or skip) without changing anything");
  app->add_flag("--json", f->json,
                "print the result as one JSON object (several archives: JSON Lines, one per domain and a "
                "summary); share/doc/json.md");
  f->paths.Add(app);
  f->progress.Add(app);
  return [f]() -> int {
    JsonErrors(f->json);
    auto usage = [](const std::string& msg) { return Usage("import", msg); };
    if (f->merge && !f->all) return usage("--merge needs --all");
    if (f->all && !f->domain.empty()) return usage("--all and --domain exclude each other");
    if (!f->into_folder.empty() && f->user.empty()) return usage("--into-folder needs --user");
    if (f->rehash_weak && !f->user.empty()) return usage("--rehash-weak works on imported domains, not with --user");
    if (f->archives.size() > 1 && !f->user.empty()) return usage("--user restores from one archive");
    if (!f->move_id.empty()) {
      if (!IsValidMoveId(f->move_id)) return usage("--move-id '" + f->move_id + "': not 8-64 characters of [0-9a-f]");
      if (f->archives.size() > 1 || f->all) return usage("--move-id marks one domain of one full archive");
    }
    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("import", paths.status());
    ImportOptions opt;
    opt.paths = *paths;
    opt.owner_spec = f->owner;
    opt.reload = !f->no_reload;
    opt.use_qmail_programs = f->qmail_programs;
    opt.dry_run = f->dry_run;
    opt.all = f->all;
    opt.merge = f->merge;
    opt.skip_existing = f->skip_existing;
    opt.domain = f->domain;
    opt.user = f->user;
    opt.into_folder = f->into_folder;
    opt.vpasswd_line_max = f->vpasswd_line_max;
    opt.move_id = f->move_id;
    opt.rehash_weak = f->rehash_weak;
    g_rehash_weak = f->rehash_weak && !f->dry_run;
    opt.on_conflict = f->on_conflict == "skip" ? ImportOptions::OnConflict::kSkip : ImportOptions::OnConflict::kFail;
    opt.interrupted = &g_interrupted;
    auto limiter = f->progress.MakeLimiter();
    if (!limiter.ok()) return Fail("import", limiter.status());
    opt.rate_limit = limiter->get();
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    std::signal(SIGPIPE, SIG_IGN);
    // A file-size limit becomes EFBIG, handled as an error. sigaction, not
    // signal(): under ASan the signal() call for SIGXFSZ never took effect.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &ignore, nullptr);
    if (f->archives.size() > 1) return RunBatch(*f, opt);

    opt.archive = f->archives[0];
    auto meter = f->progress.MakeMeter("import");
    if (!meter.ok()) return Fail("import", meter.status());
    opt.progress = meter->get();
    ImportReport report;
    Status s = ImportArchive(opt, &report);
    if (*meter) (*meter)->Finish();
    for (const auto& w : report.warnings) std::fprintf(stderr, "vmigrate: import: warning: %s\n", w.c_str());
    PrintNotices(report);
    std::string label = Label(report, opt.archive);
    if (!s.ok()) {
      // An archive that cannot be read is the object, not the domain in it.
      std::string shown = opt.archive == "-" ? "<stdin>" : opt.archive;
      if (StartsWith(s.message(), shown + ": ")) return Fail("import", s, shown);
      return Fail("import", WithObject(s, label), label);
    }
    if (report.mailbox) return PrintMailbox(report, f->json, f->dry_run);
    const bool rehash_text = !f->json && !Quiet();
    if (report.manifest.kind == kKindDelta) {
      int code = PrintDelta(report, f->json, f->dry_run);
      if (rehash_text) PrintRehash(report);
      return code;
    }
    bool single = (report.manifest.kind == kKindDomain || !f->domain.empty()) && !f->all;
    if (!single) {
      int code = PrintServer(report, f->json, f->dry_run);
      if (rehash_text) PrintRehash(report);
      return code;
    }
    if (report.domains[0].status == DomainStatus::kSkipped) return PrintSkipped(report.domains[0], f->json);
    if (report.domains[0].merged) {
      if (f->json || f->dry_run || !Quiet()) PrintMerged(report, f->json, f->dry_run);
      if (rehash_text) PrintRehash(report);
      return 0;
    }
    if (f->dry_run) PrintPlan(report, f->json);
    else if (f->json || !Quiet()) PrintImported(report, f->json);
    else PrintOutsideRefs(report);
    if (rehash_text) PrintRehash(report);
    return 0;
  };
}

}  // namespace vmigrate::cli
