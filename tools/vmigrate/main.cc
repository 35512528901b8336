// vmigrate: move vpopmail + qmail mail domains between hosts.
// main only parses the command line and dispatches; the work is in lib/.
#include <cstdio>
#include <map>
#include <string>

#include "tools/vmigrate/commands.h"

namespace {

struct Command {
  const char* name;
  const char* help;
  vmigrate::cli::Handler (*add)(CLI::App*);
};

// The command table: help text and dispatch come from here.
constexpr Command kCommands[] = {
    {"export", "write one vpopmail domain (users, mail, aliases) to a portable archive",
     vmigrate::cli::AddExport},
    {"import", "recreate a domain from an archive on this host (fresh hashing, target paths)",
     vmigrate::cli::AddImport},
    {"inspect", "show what an archive holds: domain, aliases, users, messages, source host",
     vmigrate::cli::AddInspect},
    {"list", "list this host's domains: alias domains, users, messages, bytes, backend, bucket",
     vmigrate::cli::AddList},
    {"verify", "compare a domain installed on this host with its archive (exit 3 on differences)",
     vmigrate::cli::AddVerify},
    {"state", "describe what is installed for a domain here, for export --since (incremental sync)",
     vmigrate::cli::AddState},
    {"cutover", "live move on the old host: hold, forward, release the domain's mail; status",
     vmigrate::cli::AddCutover},
    {"move", "move a live domain to another host over ssh: copy, hold, final delta, forward (resumable)",
     vmigrate::cli::AddMove},
};

}  // namespace

int main(int argc, char** argv) {
  // The exit-code table comes from lib/core/exit_code.h (kExitCodes).
  CLI::App app{"vmigrate " VMIGRATE_VERSION
               " - move vpopmail + qmail mail domains between hosts without losing a message,\n"
               "password, alias, quota or POP3 UIDL.\n\n" +
               vmigrate::ExitCodeHelp()};
  app.set_version_flag("--version", std::string("vmigrate ") + VMIGRATE_VERSION);
  app.require_subcommand(1);
  std::map<CLI::App*, vmigrate::cli::Handler> handlers;
  for (const Command& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    handlers[sub] = c.add(sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(vmigrate::Exit::kUsage);
  }
  for (auto& [sub, handler] : handlers)
    if (sub->parsed()) return handler();
  return static_cast<int>(vmigrate::Exit::kUsage);
}
