#include <csignal>
#include <cstdio>
#include <memory>

#include "core/json.h"
#include "core/strings.h"
#include "importer/importer.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

Result<FileOwner> ParseOwner(const std::string& text) {
  auto parts = Split(text, ':');
  unsigned long long uid = 0, gid = 0;
  if (parts.size() != 2 || !ParseUint64(parts[0], &uid) || !ParseUint64(parts[1], &gid) ||
      uid > 0xfffffffe || gid > 0xfffffffe)
    return Status::InvalidInput("--owner must be UID:GID in numbers, got '" + text + "'");
  return FileOwner{static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
}

void PrintPlan(const ImportReport& report, bool json) {
  const Manifest& m = report.manifest;
  const ManifestDomain& d = m.domains[0];
  if (json) {
    JsonWriter j;
    j.BeginObject().Key("status").String("dry-run").Key("domain").String(d.name);
    j.Key("aliases").StringArray(d.aliases).Key("domain_dir").String(report.domain_dir);
    j.Key("owner").String(std::to_string(report.owner.uid) + ":" + std::to_string(report.owner.gid));
    j.Key("messages").Number(m.total_messages()).Key("bytes").Number(m.total_bytes());
    j.Key("entries_checked").Number(report.entries);
    j.Key("users").BeginArray();
    for (const auto& [name, dir] : report.user_dirs)
      j.BeginObject().Key("name").String(name).Key("dir").String(dir).EndObject();
    j.EndArray().Key("control_edits").BeginArray();
    for (const auto& e : report.control_edits)
      j.BeginObject().Key("file").String(e.file).Key("op").String(std::string(1, e.op))
          .Key("line").String(e.line).EndObject();
    j.EndArray().Key("domains_dir_control").String(report.domains_dir_control);
    j.Key("warnings").StringArray(report.warnings).EndObject();
    std::printf("%s\n", j.str().c_str());
    return;
  }
  std::printf("dry run: the archive checked out (%llu entries, checksums match); nothing was changed\n",
              static_cast<unsigned long long>(report.entries));
  std::printf("domain:        %s -> %s\n", d.name.c_str(), report.domain_dir.c_str());
  std::printf("alias domains: %s\n", d.aliases.empty() ? "none" : Join(d.aliases, ", ").c_str());
  std::printf("owner:         %u:%u%s\n", static_cast<unsigned>(report.owner.uid),
              static_cast<unsigned>(report.owner.gid), report.chowned ? "" : " (files keep the current user)");
  std::printf("messages:      %llu (%llu bytes)\n", static_cast<unsigned long long>(m.total_messages()),
              static_cast<unsigned long long>(m.total_bytes()));
  std::printf("users (%zu):\n", report.user_dirs.size());
  for (const auto& [name, dir] : report.user_dirs) std::printf("  %-24s %s\n", name.c_str(), dir.c_str());
  std::printf("control files:\n");
  for (const auto& e : report.control_edits)
    std::printf("  %c %s: %s\n", e.op, e.file.c_str(), e.line.c_str());
  std::string dc = report.domains_dir_control;
  for (char& c : dc)
    if (c == '\n') c = ' ';
  std::printf("  domains/.dir-control becomes: %s\n", dc.c_str());
}

}  // namespace

Handler AddImport(CLI::App* app) {
  struct Flags {
    PathFlags paths;
    std::string archive, owner;
    bool no_reload = false, qmail_programs = false, json = false, dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("ARCHIVE", f->archive, "archive written by 'vmigrate export', '-' for stdin")
      ->required();
  app->add_option("--owner", f->owner,
                  "UID:GID for the imported files and the users/assign line (default: the "
                  "target's vpopmail user; files keep the current user when not root)");
  app->add_flag("--no-reload", f->no_reload, "do not send SIGHUP to qmail-send afterwards");
  app->add_flag("--qmail-programs", f->qmail_programs,
                "rebuild users/cdb and morercpthosts.cdb with qmail-newu/qmail-newmrh instead "
                "of vmigrate's own writer");
  app->add_flag("--dry-run", f->dry_run,
                "check the whole archive and print the plan (where the domain and its users "
                "land, control-file lines to add) without changing anything");
  app->add_flag("--json", f->json, "print the result as one JSON object");
  f->paths.Add(app);
  return [f]() -> int {
    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("import", paths.status());
    ImportOptions opt;
    opt.paths = *paths;
    opt.archive = f->archive;
    if (!f->owner.empty()) {
      auto owner = ParseOwner(f->owner);
      if (!owner.ok()) return Fail("import", owner.status());
      opt.owner = *owner;
    }
    opt.reload = !f->no_reload;
    opt.use_qmail_programs = f->qmail_programs;
    opt.dry_run = f->dry_run;
    opt.interrupted = &g_interrupted;
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    std::signal(SIGPIPE, SIG_IGN);
    // A file-size limit becomes EFBIG, handled as an error. sigaction, not
    // signal(): under ASan the signal() call for SIGXFSZ never took effect.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &ignore, nullptr);
    ImportReport report;
    Status s = ImportArchive(opt, &report);
    for (const auto& w : report.warnings) std::fprintf(stderr, "vmigrate: import: warning: %s\n", w.c_str());
    // The manifest's name is untrusted until the importer checked it: escape it.
    std::string label = EscapeC(report.manifest.domains.empty() ? f->archive
                                                                : report.manifest.domains[0].name);
    if (!s.ok()) {
      if (f->json) {
        JsonWriter j;
        j.BeginObject().Key("status").String("error").Key("domain").String(label);
        j.Key("error").String(s.message()).Key("exit").Number(static_cast<int>(ToExit(s))).EndObject();
        std::printf("%s\n", j.str().c_str());
      }
      return Fail("import", s.WithContext(label));
    }
    const Manifest& m = report.manifest;
    const ManifestDomain& d = m.domains[0];
    if (f->dry_run) {
      PrintPlan(report, f->json);
      return 0;
    }
    if (f->json) {
      JsonWriter j;
      j.BeginObject().Key("status").String("ok").Key("domain").String(d.name);
      j.Key("aliases").StringArray(d.aliases).Key("domain_dir").String(report.domain_dir);
      j.Key("users").Number(d.users.size()).Key("messages").Number(m.total_messages());
      j.Key("bytes").Number(m.total_bytes());
      j.Key("owner").String(std::to_string(report.owner.uid) + ":" + std::to_string(report.owner.gid));
      j.Key("qmail_send_signalled").Number(static_cast<std::uint64_t>(report.qmail_send_signalled));
      j.Key("warnings").StringArray(report.warnings).EndObject();
      std::printf("%s\n", j.str().c_str());
    } else {
      std::printf("imported %s into %s (%zu users, %llu messages, %llu bytes, aliases: %s)\n",
                  d.name.c_str(), report.domain_dir.c_str(), d.users.size(),
                  static_cast<unsigned long long>(m.total_messages()),
                  static_cast<unsigned long long>(m.total_bytes()),
                  d.aliases.empty() ? "none" : Join(d.aliases, ", ").c_str());
    }
    return 0;
  };
}

}  // namespace vmigrate::cli
