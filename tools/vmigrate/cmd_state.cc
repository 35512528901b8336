// vmigrate state: what is installed for a domain on this host, for
// export --since (share/doc/state-format.md).
#include <cstdio>
#include <memory>

#include "core/json.h"
#include "core/strings.h"
#include "exporter/exporter.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

struct Flags {
  PathFlags paths;
  std::vector<std::string> domains, exclude;
  std::string output, domains_from;
  bool all = false, force = false, json = false;
};

}  // namespace

Handler AddState(CLI::App* app) {
  auto f = std::make_shared<Flags>();
  app->add_option("DOMAIN", f->domains, "the vpopmail domain to describe");
  app->add_option("-o,--output", f->output, "state file to write, '-' for stdout")
      ->required()
      ->type_name("FILE");
  app->add_flag("--all", f->all, "every domain of this host (users/assign)");
  app->add_option("--exclude", f->exclude, "with --all: leave this domain out (repeatable)");
  app->add_option("--domains-from", f->domains_from, "with --all: only the domains named in FILE")
      ->type_name("FILE");
  app->add_flag("--force", f->force, "overwrite an existing output file");
  app->add_flag("--json", f->json, "print the result as one JSON object");
  f->paths.Add(app);
  return [f]() -> int {
    auto usage = [](const std::string& msg) {
      std::fprintf(stderr, "vmigrate: state: %s\n", msg.c_str());
      return static_cast<int>(Exit::kUsage);
    };
    if (!f->exclude.empty() && !f->all) return usage("--exclude needs --all");
    if (!f->domains_from.empty()) {
      if (!f->all) return usage("--domains-from needs --all");
      auto list = ReadListFile(f->domains_from);
      if (!list.ok()) return Fail("state", list.status());
      if (list->empty()) return usage("--domains-from " + f->domains_from + " names no domain");
      f->domains.insert(f->domains.end(), list->begin(), list->end());
    } else if (f->all && !f->domains.empty()) {
      return usage("--all takes no DOMAIN (use --domains-from or --exclude to choose)");
    }
    if (!f->all && f->domains.size() != 1) return usage("one DOMAIN (or --all) is required");
    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("state", paths.status());
    StateOptions opt;
    opt.paths = *paths;
    opt.all = f->all;
    if (f->all) {
      opt.only = f->domains;
      opt.exclude = f->exclude;
    } else {
      opt.domain = f->domains[0];
    }
    opt.output = f->output;
    opt.overwrite = f->force;
    StateReport report;
    Status s = WriteState(opt, &report);
    for (const auto& w : report.warnings) std::fprintf(stderr, "vmigrate: state: warning: %s\n", w.c_str());
    if (!s.ok()) return Fail("state", f->all ? s : WithObject(s, f->domains[0]));
    FILE* out = f->output == "-" ? stderr : stdout;
    std::vector<std::string> names;
    for (const auto& [name, digest] : report.domain_digests) names.push_back(name);
    if (f->json) {
      JsonWriter j;
      j.BeginObject().Key("status").String("ok").Key("domains").StringArray(names);
      j.Key("digest").String(report.content_digest).Key("users").Number(report.users);
      j.Key("messages").Number(report.messages).Key("output").String(f->output);
      j.Key("warnings").StringArray(report.warnings).EndObject();
      std::fprintf(out, "%s\n", j.str().c_str());
    } else if (!Quiet()) {
      std::fprintf(out, "state of %s (%llu users, %llu messages, digest %s) written to %s\n",
                   Join(names, ", ").c_str(), static_cast<unsigned long long>(report.users),
                   static_cast<unsigned long long>(report.messages), report.content_digest.substr(0, 16).c_str(),
                   f->output.c_str());
    }
    return 0;
  };
}

}  // namespace vmigrate::cli
