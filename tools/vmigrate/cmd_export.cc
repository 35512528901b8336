#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>

#include "core/atomic_file.h"
#include "core/json.h"
#include "core/strings.h"
#include "exporter/exporter.h"
#include "vpopmail/names.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

// SIGINT/SIGTERM stop the export between two pieces of data: it fails with
// "interrupted" (exit 130) like import. The archive (and --state-out) is
// written to temp files until it is complete, so the failure removes them and
// an existing output stays as it was. A second signal (a write blocked on a
// stalled pipe never gets to the check) removes the temp files and exits.
std::atomic<bool> g_interrupted{false};

void OnSignal(int) {
  if (!g_interrupted.exchange(true)) return;
  RemoveLiveTempFiles();
  _exit(130);
}

void GuardOutput() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
}

const char* ArchiveSuffix(Compression c) {
  switch (c) {
    case Compression::kZstd: return ".tar.zst";
    case Compression::kGzip: return ".tar.gz";
    default: return ".tar";
  }
}

struct Flags {
  PathFlags paths;
  UnixExportFlags unix_flags;
  ProgressFlags progress;
  std::vector<std::string> domains, exclude;
  std::string output, compress = "zstd", domains_from, since, state_out;
  bool add_only = false;
  bool all = false, each = false, force = false, strip_cleartext = false, json = false,
       skip_invalid_users = false, dry_run = false;
};

// Storage reached through symlinks is carried; say which links were followed.
void PrintFollowed(const ExportReport& report) {
  if (Quiet()) return;
  for (const auto& hop : report.followed_links)
    std::fprintf(stderr, "vmigrate: export: notice: followed storage symlink %s\n",
                 EscapeC(DescribeHop(hop)).c_str());
}

void FollowedJson(const ExportReport& report, JsonWriter* j) {
  j->Key("followed_symlinks").BeginArray();
  for (const auto& hop : report.followed_links)
    j->BeginObject().Key("link").String(hop.link).Key("target").String(hop.target)
        .Key("resolved").String(hop.resolved).EndObject();
  j->EndArray();
}

// Totals of a delta over its domains.
DomainDelta DeltaTotals(const Manifest& m) {
  DomainDelta t;
  for (const auto& d : m.domains) {
    t.files += d.delta.files;
    t.bytes += d.delta.bytes;
    t.messages += d.delta.messages;
    t.renames += d.delta.renames;
    t.removals += d.delta.removals;
    t.users_added += d.delta.users_added;
    t.users_removed += d.delta.users_removed;
    t.users_changed += d.delta.users_changed;
  }
  return t;
}

// The user backend the accounts came from: `backend`, and `mysql_layout`
// for MySQL (share/doc/json.md).
void BackendJson(JsonWriter* j, const SourceHost& s) {
  j->Key("backend").String(s.backend);
  if (!s.mysql_layout.empty()) j->Key("mysql_layout").String(s.mysql_layout);
}

// ", users from MySQL (layout many)" for a MySQL source; "" for cdb, whose
// report line is as it always was.
std::string BackendNote(const SourceHost& s) {
  if (s.backend == "cdb") return "";
  return ", users from " + std::string(s.backend == "mysql" ? "MySQL" : s.backend) + " (layout " +
         s.mysql_layout + ")";
}

void PrintDeltaResult(const Flags& f, const ExportReport& report, FILE* out) {
  const Manifest& m = report.manifest;
  DomainDelta t = DeltaTotals(m);
  std::vector<std::string> names;
  for (const auto& d : m.domains) names.push_back(d.name);
  if (f.json) {
    JsonWriter j;
    j.BeginRecord("export").Key("status").String("ok").Key("kind").String(m.kind);
    j.Key("add_only").Bool(m.delta_add_only);
    BackendJson(&j, m.source);
    j.Key("domain_names").StringArray(names);
    j.Key("base").String(m.delta_base).Key("result").String(m.delta_result);
    j.Key("files").Number(t.files).Key("messages").Number(t.messages).Key("bytes").Number(t.bytes);
    j.Key("renames").Number(t.renames);
    j.Key("removals").Number(t.removals).Key("users_added").Number(t.users_added);
    j.Key("users_removed").Number(t.users_removed).Key("users_changed").Number(t.users_changed);
    j.Key("entries").Number(report.entries).Key("output").String(f.output);
    if (f.state_out.empty()) j.Key("state_out").Null();
    else j.Key("state_out").String(f.state_out);
    j.Key("warnings").StringArray(report.warnings);
    j.EndObject();
    std::fprintf(out, "%s\n", j.str().c_str());
    return;
  }
  if (m.delta_add_only) {
    std::fprintf(out, "exported an add-only delta of %s: %llu new messages (%llu bytes), to %s\n",
                 Join(names, ", ").c_str(), static_cast<unsigned long long>(t.messages),
                 static_cast<unsigned long long>(t.bytes), f.output.c_str());
    return;
  }
  std::fprintf(out,
               "exported a delta of %s: %llu files (%llu messages, %llu bytes), %llu renames, %llu removals, users: "
               "%llu added, %llu removed, %llu changed, to %s\n",
               Join(names, ", ").c_str(), static_cast<unsigned long long>(t.files),
               static_cast<unsigned long long>(t.messages),
               static_cast<unsigned long long>(t.bytes), static_cast<unsigned long long>(t.renames),
               static_cast<unsigned long long>(t.removals), static_cast<unsigned long long>(t.users_added),
               static_cast<unsigned long long>(t.users_removed),
               static_cast<unsigned long long>(t.users_changed), f.output.c_str());
}

void PrintResult(const Flags& f, const ExportReport& report, FILE* out) {
  const Manifest& m = report.manifest;
  if (Quiet() && !f.json) return;
  if (m.kind == kKindDelta) return PrintDeltaResult(f, report, out);
  if (f.json) {
    JsonWriter j;
    j.BeginRecord("export").Key("status").String("ok").Key("kind").String(m.kind);
    BackendJson(&j, m.source);
    if (m.kind == kKindDomain) {
      j.Key("domain").String(m.domains[0].name).Key("aliases").StringArray(m.domains[0].aliases);
      j.Key("users").Number(m.domains[0].users.size());
    } else {
      std::vector<std::string> names;
      size_t users = 0;
      for (const auto& d : m.domains) {
        names.push_back(d.name);
        users += d.users.size();
      }
      j.Key("domain_names").StringArray(names).Key("users").Number(users);
      j.Key("server_files").StringArray(m.server_files);
    }
    j.Key("messages").Number(m.total_messages()).Key("bytes").Number(m.total_bytes());
    j.Key("entries").Number(report.entries).Key("output").String(f.output);
    UnreachableUsersJson(&j, "unreachable_users", report.unreachable_users);
    UnreachableUsersJson(&j, "skipped_users", report.skipped_users);
    AddOutsideRefsJson(&j, ManifestRefs(m, /*with_archive_domains=*/false));
    j.Key("warnings").StringArray(report.warnings);
    FollowedJson(report, &j);
    j.EndObject();
    std::fprintf(out, "%s\n", j.str().c_str());
    return;
  }
  if (m.kind == kKindDomain) {
    const ManifestDomain& d = m.domains[0];
    std::fprintf(out, "exported %s (%zu users, %llu messages, %llu bytes, aliases: %s%s) to %s\n",
                 d.name.c_str(), d.users.size(), static_cast<unsigned long long>(m.total_messages()),
                 static_cast<unsigned long long>(m.total_bytes()),
                 d.aliases.empty() ? "none" : Join(d.aliases, ", ").c_str(), BackendNote(m.source).c_str(),
                 f.output.c_str());
    return;
  }
  size_t users = 0;
  for (const auto& d : m.domains) users += d.users.size();
  std::fprintf(out, "exported the server: %zu domains, %zu users, %llu messages, %llu bytes, %zu config files%s, to %s\n",
               m.domains.size(), users, static_cast<unsigned long long>(m.total_messages()),
               static_cast<unsigned long long>(m.total_bytes()), m.server_files.size(),
               BackendNote(m.source).c_str(), f.output.c_str());
}

// export --each: one archive per domain into a directory; a failure is
// reported and the rest go on. Exit 0 all ok, 4 some failed, 1 none done.
int RunEach(const Flags& f, const HostPaths& paths) {
  struct stat st;
  if (stat(f.output.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Fail("export", Status::InvalidInput("--each: -o " + f.output + " must be an existing directory"),
                f.output);
  size_t ok = 0, failed = 0;
  for (const std::string& domain : f.domains) {
    if (g_interrupted.load()) break;
    ExportOptions opt;
    opt.paths = paths;
    opt.domain = domain;
    opt.compression = *ParseCompression(f.compress);
    opt.output = f.output + "/" + ToLower(domain) + ArchiveSuffix(opt.compression);
    opt.overwrite = f.force;
    opt.strip_cleartext = f.strip_cleartext;
    opt.skip_invalid_users = f.skip_invalid_users;
    auto meter = f.progress.MakeMeter("export");
    auto limiter = f.progress.MakeLimiter();
    if (!meter.ok()) return Fail("export", meter.status());
    if (!limiter.ok()) return Fail("export", limiter.status());
    opt.progress = meter->get();
    opt.rate_limit = limiter->get();
    opt.interrupted = &g_interrupted;
    auto start = std::chrono::steady_clock::now();
    ExportReport report;
    Status s = vpopmail::ValidateDomainName(ToLower(domain));
    if (s.ok()) s = ExportDomain(opt, &report);
    if (*meter) (*meter)->Finish();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const auto& w : report.warnings)
      std::fprintf(stderr, "vmigrate: export: warning: %s\n", w.c_str());
    PrintFollowed(report);
    s.ok() ? ++ok : ++failed;
    const Manifest& m = report.manifest;
    if (f.json) {
      JsonWriter j;
      j.BeginRecord("domain").Key("domain").String(domain).Key("status").String(s.ok() ? "ok" : "error");
      j.Key("users").Number(s.ok() ? m.domains[0].users.size() : 0);
      j.Key("messages").Number(s.ok() ? m.total_messages() : 0);
      j.Key("bytes").Number(s.ok() ? m.total_bytes() : 0);
      j.Key("seconds").Double(seconds).Key("output").String(s.ok() ? opt.output : "");
      UnreachableUsersJson(&j, "unreachable_users", report.unreachable_users);
      UnreachableUsersJson(&j, "skipped_users", report.skipped_users);
      if (s.ok()) AddOutsideRefsJson(&j, ManifestRefs(m, /*with_archive_domains=*/false));
      FollowedJson(report, &j);
      if (s.ok()) j.Key("error").Null();
      else j.Key("error").String(s.message()).Key("exit").Number(static_cast<int>(ToExit(s)));
      j.EndObject();
      std::printf("%s\n", j.str().c_str());
    } else if (s.ok() && !Quiet()) {
      std::printf("ok     %s: %zu users, %llu messages, %llu bytes -> %s (%.1f s)\n", domain.c_str(),
                  m.domains[0].users.size(), static_cast<unsigned long long>(m.total_messages()),
                  static_cast<unsigned long long>(m.total_bytes()), opt.output.c_str(), seconds);
    } else if (!s.ok()) {
      // The reason goes to stderr, once; the listing says which and how.
      std::printf("FAILED %s (exit %d)\n", EscapeC(domain).c_str(), static_cast<int>(ToExit(s)));
      std::fprintf(stderr, "vmigrate: export: %s\n", WithObject(s, EscapeC(domain)).message().c_str());
    }
    std::fflush(stdout);
  }
  int code = g_interrupted.load() ? static_cast<int>(Exit::kInterrupted) : BatchExit(ok, failed);
  if (f.json || !Quiet()) PrintBatchSummary(f.json, ok, failed, code, "exported");
  return code;
}

// The options of one DOMAIN or --all from the command line.
ExportOptions BaseOptions(const Flags& f, const HostPaths& paths) {
  ExportOptions opt;
  opt.paths = paths;
  opt.all = f.all;
  if (f.all) {
    opt.only = f.domains;
    opt.exclude = f.exclude;
  } else {
    opt.domain = f.domains[0];
  }
  opt.output = f.output;
  opt.compression = *ParseCompression(f.compress);
  opt.overwrite = f.force;
  opt.strip_cleartext = f.strip_cleartext;
  opt.skip_invalid_users = f.skip_invalid_users;
  opt.since = f.since;
  opt.add_only = f.add_only;
  opt.state_out = f.state_out;
  opt.dry_run = f.dry_run;
  return opt;
}

// export --dry-run: the scan of `base` (one DOMAIN or --all), or with
// --each of every DOMAIN, printed; nothing is written. --each goes on past
// a failed domain and exits as a batch does.
int RunDryRun(const Flags& f, const ExportOptions& base) {
  std::vector<std::unique_ptr<ExportReport>> reports;
  std::vector<DryRunDomain> shown;
  ExportReport total;
  size_t ok = 0, failed = 0;
  Status last;
  const std::vector<std::string> each = f.each ? f.domains : std::vector<std::string>{base.domain};
  for (const std::string& domain : each) {
    ExportOptions opt = base;
    opt.domain = domain;
    if (f.each && !f.output.empty())
      opt.output = f.output + "/" + ToLower(domain) + ArchiveSuffix(opt.compression);
    auto report = std::make_unique<ExportReport>();
    Status s = ExportDomain(opt, report.get());
    for (const auto& w : report->warnings) std::fprintf(stderr, "vmigrate: export: warning: %s\n", w.c_str());
    PrintFollowed(*report);
    if (!s.ok()) {
      ++failed;
      last = f.all ? s : s.WithContext(domain);
      if (f.each) std::fprintf(stderr, "vmigrate: export: %s\n", last.message().c_str());
      continue;
    }
    ++ok;
    for (const auto& d : report->manifest.domains) shown.push_back({&d, opt.output == "-" ? "" : opt.output});
    ExportReport& t = total;
    t.warnings.insert(t.warnings.end(), report->warnings.begin(), report->warnings.end());
    t.unreachable_users.insert(t.unreachable_users.end(), report->unreachable_users.begin(),
                               report->unreachable_users.end());
    t.skipped_users.insert(t.skipped_users.end(), report->skipped_users.begin(), report->skipped_users.end());
    t.followed_links.insert(t.followed_links.end(), report->followed_links.begin(), report->followed_links.end());
    t.manifest.server_files = report->manifest.server_files;
    for (const auto& d : report->manifest.domains) t.manifest.domains.push_back(d);
    t.manifest.kind = report->manifest.kind;
    t.estimated_tar_bytes += report->estimated_tar_bytes;
    reports.push_back(std::move(report));
  }
  if (!f.each && failed) return Fail("export", last);
  const std::string kind = total.manifest.kind.empty() ? kKindDomain : total.manifest.kind;
  PrintExportDryRun(shown, total, kind, f.output == "-" ? "" : f.output, f.json);
  return f.each ? BatchExit(ok, failed) : 0;
}

// export --from unix: the vpopmail-only options are refused, the rest shared.
int RunUnix(const Flags& f) {
  auto usage = [](const std::string& msg) { return Usage("export", msg); };
  if (f.all || f.each || !f.since.empty() || f.add_only || !f.state_out.empty() || !f.exclude.empty() ||
      !f.domains_from.empty() || f.strip_cleartext || f.skip_invalid_users)
    return usage("--from unix takes DOMAIN, -o and its own options, not --all, --each, --since, --add-only, "
                 "--state-out, --exclude, --domains-from, --strip-cleartext or --skip-invalid-users");
  if (f.output.empty() && !f.dry_run) return usage("-o FILE is required (unless --dry-run)");
  if (!f.unix_flags.batch && !f.output.empty()) {
    Status tty = RefuseTerminal(f.output);
    if (!tty.ok()) return Fail("export", tty);
  }
  if (f.unix_flags.batch && f.output == "-") return usage("--batch writes into a directory, not to stdout");
  UnixExportCommon c;
  c.domains = f.domains;
  c.root = f.paths.root;
  c.output = f.output;
  c.compression = *ParseCompression(f.compress);
  c.force = f.force;
  c.dry_run = f.dry_run;
  c.json = f.json;
  auto meter = f.progress.MakeMeter("export");
  if (!meter.ok()) return Fail("export", meter.status());
  c.progress = meter->get();
  c.interrupted = &g_interrupted;
  if (!f.dry_run) GuardOutput();
  return RunUnixExport(f.unix_flags, c);
}

}  // namespace

Handler AddExport(CLI::App* app) {
  auto f = std::make_shared<Flags>();
  app->add_option("DOMAIN", f->domains,
                  "the vpopmail domain to export (its alias domains come along); several with --each");
  app->add_option("-o,--output", f->output,
                  "archive file to write, '-' for stdout; with --each, a directory (required "
                  "unless --dry-run)");
  app->add_flag("--all", f->all,
                "back up the whole server: every domain, its alias domains and the qmail/vpopmail "
                "configuration, in one archive");
  app->add_flag("--each", f->each,
                "write one archive per DOMAIN into the -o directory (<domain>.tar.zst); a failed "
                "domain is reported and the others go on");
  app->add_option("--exclude", f->exclude, "with --all: leave this domain out (repeatable)");
  app->add_option("--domains-from", f->domains_from,
                  "read domain names from FILE (one per line, '#' comments): with --all, back up "
                  "only these; with --each, export these");
  app->add_option("--compress", f->compress, "zstd (default), gzip or none")
      ->check(CLI::IsMember({"zstd", "gzip", "none"}));
  app->add_option("--since", f->since,
                  "write a delta: only what changed since STATE, a file written by `vmigrate state` "
                  "on the target ('-' reads it from stdin)")
      ->type_name("STATE");
  app->add_flag("--add-only", f->add_only,
                "with --since: an add-only (\"tail\") delta for a target that is already live: only "
                "messages new since STATE; importing it never deletes, renames or overwrites anything");
  app->add_option("--state-out", f->state_out,
                  "also write the state of exactly what this export saw to FILE (the base of the "
                  "next --since), whole or not at all")
      ->type_name("FILE");
  app->add_flag("--force", f->force, "overwrite an existing output file (and --state-out FILE)");
  app->add_flag("--dry-run", f->dry_run,
                "scan as the export would and print what it would archive (users, messages, bytes, "
                "warnings, estimated size); write nothing, only check that -o could be written");
  app->add_flag("--strip-cleartext", f->strip_cleartext,
                "leave the cleartext password field empty in the archive");
  app->add_flag("--skip-invalid-users", f->skip_invalid_users,
                "leave out (and report) accounts vpopmail could not have created, such as "
                "upper-case names it can never reach; by default those are carried with a "
                "warning, and one that cannot be carried safely stops the export (exit 8)");
  app->add_flag("--json", f->json,
                "print the result as one JSON object (with --each: one per domain and a summary)");
  f->paths.Add(app);
  f->progress.Add(app);
  f->unix_flags.Add(app);
  return [f]() -> int {
    // With -o - stdout is the archive: the JSON goes to stderr.
    if (f->json) JsonErrors(true, f->output == "-" ? stderr : stdout);
    auto usage = [](const std::string& msg) { return Usage("export", msg); };
    if (f->unix_flags.from == "unix") return RunUnix(*f);
    if (f->unix_flags.UnixOnlyGiven()) return usage("that option needs --from unix");
    if (f->all && f->each) return usage("--all and --each exclude each other");
    if (f->output.empty() && !f->dry_run) return usage("-o FILE is required (unless --dry-run)");
    if (!f->exclude.empty() && !f->all) return usage("--exclude needs --all");
    if (!f->domains_from.empty()) {
      if (!f->all && !f->each) return usage("--domains-from needs --all or --each");
      auto list = ReadListFile(f->domains_from);
      if (!list.ok()) return Fail("export", list.status());
      f->domains.insert(f->domains.end(), list->begin(), list->end());
    }
    if (f->all && !f->domains_from.empty() && f->domains.empty())
      return usage("--domains-from " + f->domains_from + " names no domain");
    if (f->all && f->domains_from.empty() && !f->domains.empty())
      return usage("--all takes no DOMAIN (use --domains-from or --exclude to choose)");
    if (!f->all && f->domains.empty()) return usage("DOMAIN is required (or --all)");
    if (!f->all && !f->each && f->domains.size() > 1)
      return usage("one DOMAIN per archive; use --each -o DIR for several");

    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("export", paths.status());
    if (f->each && !f->since.empty()) return usage("--since works with one DOMAIN or --all, not --each");
    if (f->add_only && f->since.empty())
      return usage("--add-only needs --since STATE (the state the new messages are counted from)");
    if (f->each && !f->state_out.empty()) return usage("--state-out works with one DOMAIN or --all, not --each");
    if (f->state_out == "-") return usage("--state-out needs a file name, not '-'");
    if (!f->state_out.empty() && f->state_out == f->output) return usage("--state-out and -o name the same file");
    if (f->dry_run) {
      struct stat out_st;
      if (f->each && !f->output.empty() &&
          (stat(f->output.c_str(), &out_st) != 0 || !S_ISDIR(out_st.st_mode)))
        return Fail("export", Status::InvalidInput("--each: -o " + f->output + " must be an existing directory"));
      return RunDryRun(*f, BaseOptions(*f, *paths));
    }
    if (!f->each) {
      Status tty = RefuseTerminal(f->output);
      if (!tty.ok()) return Fail("export", tty);
    }
    GuardOutput();
    if (f->each) return RunEach(*f, *paths);

    ExportOptions opt = BaseOptions(*f, *paths);
    auto meter = f->progress.MakeMeter("export");
    auto limiter = f->progress.MakeLimiter();
    if (!meter.ok()) return Fail("export", meter.status());
    if (!limiter.ok()) return Fail("export", limiter.status());
    opt.progress = meter->get();
    opt.rate_limit = limiter->get();
    opt.interrupted = &g_interrupted;
    ExportReport report;
    Status s = ExportDomain(opt, &report);
    if (*meter) (*meter)->Finish();
    for (const auto& w : report.warnings) std::fprintf(stderr, "vmigrate: export: warning: %s\n", w.c_str());
    PrintFollowed(report);
    // The object is the domain, or the output when writing it failed.
    if (!s.ok())
      return Fail("export", f->all || StartsWith(s.message(), f->output + ": ") ? s : WithObject(s, f->domains[0]));
    // The archive may be on stdout; the summary then goes to stderr.
    PrintResult(*f, report, f->output == "-" ? stderr : stdout);
    return 0;
  };
}

}  // namespace vmigrate::cli
