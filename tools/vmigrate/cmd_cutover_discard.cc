// vmigrate cutover discard DOMAIN --move-id ID: on the new host, take back
// a domain that `import --move-id ID` created (importer/domain_discard.h).
#include <cstdio>
#include <memory>

#include "core/json.h"
#include "importer/domain_discard.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

struct Flags {
  PathFlags paths;
  std::string domain, move_id;
  bool dry_run = false, json = false, no_reload = false;
};

void PrintJson(const DiscardReport& r, bool dry_run) {
  JsonWriter j;
  j.BeginRecord("cutover").Key("status").String(dry_run ? "dry-run" : "ok");
  j.Key("domain").String(r.domain).Key("step").String("discard").Key("changed").Bool(r.changed);
  j.Key("dry_run").Bool(dry_run).Key("resumed").Bool(r.resumed).Key("domain_dir").String(r.domain_dir);
  j.Key("control_edits").BeginArray();
  for (const auto& e : r.control_edits)
    j.BeginObject().Key("file").String(e.file).Key("op").String(std::string(1, e.op)).Key("text").String(e.line).EndObject();
  j.EndArray();
  j.Key("dir_control").String(r.dir_control).Key("qmail_send_signalled").Bool(r.qmail_send_signalled > 0);
  j.Key("warnings").StringArray(r.warnings).EndObject();
  std::printf("%s\n", j.str().c_str());
}

void PrintText(const DiscardReport& r, const std::string& move_id, bool dry_run) {
  if (r.domain_dir.empty()) {
    std::printf("%s: nothing to discard (not a domain on this host)%s\n", r.domain.c_str(),
                r.changed ? "; removed the directory an interrupted discard had moved aside" : "");
    return;
  }
  if (dry_run) {
    for (const auto& e : r.control_edits)
      std::printf("would %s %s: %s\n", e.op == '-' ? "remove from" : "put back into", e.file.c_str(), e.line.c_str());
    if (r.dir_control == "restored") std::printf("would restore domains/.dir-control to its text before the import\n");
    else std::printf("would leave domains/.dir-control as it is (changed since the import)\n");
    std::printf("would remove %s\n", r.domain_dir.c_str());
    std::printf("dry run: %s was created by move %s; nothing was changed\n", r.domain.c_str(), move_id.c_str());
    return;
  }
  std::printf("%sdiscarded %s (move %s): %zu control-file lines taken back, %s removed\n",
              r.resumed ? "finished an interrupted discard: " : "", r.domain.c_str(), move_id.c_str(),
              r.control_edits.size(), r.domain_dir.c_str());
}

}  // namespace

Handler AddCutoverDiscard(CLI::App* cutover) {
  auto f = std::make_shared<Flags>();
  CLI::App* app = cutover->add_subcommand(
      "discard", "on the new host: remove a domain that 'import --move-id ID' created, as if that import had never run");
  app->add_option("DOMAIN", f->domain, "the domain to remove")->required();
  app->add_option("--move-id", f->move_id,
                  "the ID the import was given; a domain without that marker is never removed (exit 5)")
      ->required()
      ->type_name("ID");
  app->add_flag("--dry-run", f->dry_run, "print what would be removed and put back, change nothing");
  app->add_flag("--no-reload", f->no_reload, "do not send SIGHUP to qmail-send afterwards");
  app->add_flag("--json", f->json,
                "print one JSON object: {\"schema\":1,\"type\":\"cutover\",\"status\",\"domain\",\"step\":\"discard\",...}");
  f->paths.Add(app);
  return [f]() -> int {
    JsonErrors(f->json);
    if (!IsValidMoveId(f->move_id))
      return Usage("cutover discard", "--move-id '" + f->move_id + "': not 8-64 characters of [0-9a-f]");
    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("cutover discard", paths.status());
    DiscardOptions opt;
    opt.paths = *paths;
    opt.domain = f->domain;
    opt.move_id = f->move_id;
    opt.dry_run = f->dry_run;
    opt.reload = !f->no_reload;
    DiscardReport report;
    Status s = DiscardDomain(opt, &report);
    for (const auto& w : report.warnings)
      std::fprintf(stderr, "vmigrate: cutover discard: warning: %s\n", w.c_str());
    if (!s.ok()) return Fail("cutover discard", s, f->domain);
    if (f->json) PrintJson(report, f->dry_run);
    else PrintText(report, f->move_id, f->dry_run);
    return 0;
  };
}

}  // namespace vmigrate::cli
