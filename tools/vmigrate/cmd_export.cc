#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>

#include "core/json.h"
#include "core/strings.h"
#include "exporter/exporter.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

// The partly written archive is removed when export is interrupted, so a
// truncated file is never left looking like a finished one.
char g_output_path[4096];

void OnSignal(int sig) {
  if (g_output_path[0] != '\0') unlink(g_output_path);
  _exit(sig == SIGINT || sig == SIGTERM ? 130 : 1);
}

}  // namespace

Handler AddExport(CLI::App* app) {
  struct Flags {
    PathFlags paths;
    std::string domain, output, compress = "zstd";
    bool force = false, strip_cleartext = false, json = false;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("DOMAIN", f->domain, "the vpopmail domain to export (its alias domains come along)")
      ->required();
  app->add_option("-o,--output", f->output, "archive file to write, '-' for stdout")->required();
  app->add_option("--compress", f->compress, "zstd (default), gzip or none")
      ->check(CLI::IsMember({"zstd", "gzip", "none"}));
  app->add_flag("--force", f->force, "overwrite an existing output file");
  app->add_flag("--strip-cleartext", f->strip_cleartext,
                "leave the cleartext password field empty in the archive");
  app->add_flag("--json", f->json, "print the result as one JSON object");
  f->paths.Add(app);
  return [f]() -> int {
    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("export", paths.status());
    ExportOptions opt;
    opt.paths = *paths;
    opt.domain = f->domain;
    opt.output = f->output;
    opt.compression = *ParseCompression(f->compress);
    opt.overwrite = f->force;
    opt.strip_cleartext = f->strip_cleartext;
    if (f->output != "-" && f->output.size() < sizeof g_output_path) {
      struct stat st;
      // Only a regular file this run creates or replaces is removed on a signal.
      bool exists = stat(f->output.c_str(), &st) == 0;
      if (!exists || (f->force && S_ISREG(st.st_mode))) {
        std::snprintf(g_output_path, sizeof g_output_path, "%s", f->output.c_str());
        std::signal(SIGINT, OnSignal);
        std::signal(SIGTERM, OnSignal);
      }
    }
    ExportReport report;
    Status s = ExportDomain(opt, &report);
    g_output_path[0] = '\0';
    for (const auto& w : report.warnings) std::fprintf(stderr, "vmigrate: export: warning: %s\n", w.c_str());
    if (!s.ok()) return Fail("export", s.WithContext(f->domain));
    const Manifest& m = report.manifest;
    const ManifestDomain& d = m.domains[0];
    // The archive may be on stdout; the summary then goes to stderr.
    FILE* out = f->output == "-" ? stderr : stdout;
    if (f->json) {
      JsonWriter j;
      j.BeginObject().Key("status").String("ok").Key("domain").String(d.name);
      j.Key("aliases").StringArray(d.aliases).Key("users").Number(d.users.size());
      j.Key("messages").Number(m.total_messages()).Key("bytes").Number(m.total_bytes());
      j.Key("entries").Number(report.entries).Key("output").String(f->output);
      j.Key("warnings").StringArray(report.warnings).EndObject();
      std::fprintf(out, "%s\n", j.str().c_str());
    } else {
      std::fprintf(out, "exported %s (%zu users, %llu messages, %llu bytes, aliases: %s) to %s\n",
                   d.name.c_str(), d.users.size(),
                   static_cast<unsigned long long>(m.total_messages()),
                   static_cast<unsigned long long>(m.total_bytes()),
                   d.aliases.empty() ? "none" : Join(d.aliases, ", ").c_str(), f->output.c_str());
    }
    return 0;
  };
}

}  // namespace vmigrate::cli
