// vmigrate: move vpopmail + qmail mail domains between hosts.
// main only parses the command line and dispatches; the work is in lib/.
// Usage errors follow the one-line rule of every error
// ("vmigrate: <command>: <what>; see vmigrate <command> --help", exit 2).
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/strings.h"
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
    {"pull", "pull a mailbox from a live POP3/IMAP server into an account here (UIDs, UIDLs, flags kept)",
     vmigrate::cli::AddPull},
    {"rehash", "replace one account's DES/MD5-crypt hash with SHA-512 crypt, given its password on a fd",
     vmigrate::cli::AddRehash},
};
constexpr const char* kHelpCommand = "help";

int Usage() { return static_cast<int>(vmigrate::Exit::kUsage); }

// Placeholders shown in --help and in parser errors instead of CLI11's
// TEXT/UINT, by long option name. Options a command named itself
// (->type_name("STATE")) keep their name; any other gets its own name in
// capitals.
const std::map<std::string, std::string>& Placeholders() {
  static const std::map<std::string, std::string> kNames = {
      {"root", "DIR"},           {"vpopmail-home", "DIR"},      {"qmail-dir", "DIR"},
      {"target-root", "DIR"},    {"target-vpopmail-home", "DIR"}, {"target-qmail-dir", "DIR"},
      {"output", "FILE"},        {"domains-from", "FILE"},      {"state-out", "FILE"},
      {"max-rate", "BYTES"},     {"vpasswd-line-max", "BYTES"}, {"compress", "METHOD"},
      {"domain", "DOMAIN"},      {"exclude", "DOMAIN"},         {"user", "USER"},
      {"owner", "UID:GID"},      {"into-folder", "NAME"},       {"smtp-port", "PORT"},
      {"max-rounds", "N"},       {"small-delta-messages", "N"}, {"tail-timeout", "SECONDS"},
  };
  return kNames;
}

bool IsFlag(const CLI::Option* opt) { return opt->get_expected_max() == 0; }

bool IsGenericTypeName(const std::string& name) {
  std::string head = name.substr(0, name.find_first_of(": "));
  for (const char* generic : {"TEXT", "UINT", "INT", "FLOAT", "NUMBER", "BOOLEAN", "ENUM", "CHAR"})
    if (head == generic) return true;
  return head.empty();
}

// --help as an admin reads it: the placeholder of each option and its
// default ("--compress METHOD=zstd"), without CLI11's validator notes (the
// descriptions name the choices).
class HelpFormatter : public CLI::Formatter {
 public:
  std::map<const CLI::Option*, std::string> placeholder;

  // "--progress", not CLI11's "--progress{line}" (the value of a bare flag).
  std::string make_option_name(const CLI::Option* opt, bool positional) const override {
    std::string name = CLI::Formatter::make_option_name(opt, positional);
    for (size_t open; (open = name.find('{')) != std::string::npos;) {
      size_t close = name.find('}', open);
      if (close == std::string::npos) break;
      name.erase(open, close - open + 1);
    }
    return name;
  }

  std::string make_option_opts(const CLI::Option* opt) const override {
    if (!opt->get_option_text().empty()) return opt->get_option_text();
    if (IsFlag(opt)) return "";
    std::string out;
    if (!opt->get_positional()) {
      auto it = placeholder.find(opt);
      out += " " + (it != placeholder.end() ? it->second : opt->get_type_name());
      if (!opt->get_default_str().empty()) out += "=" + opt->get_default_str();
    }
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size)
      out += " ...";
    if (opt->get_required()) out += " REQUIRED";
    return out;
  }
};

// Names the placeholders and captures the defaults of every option of
// `app` and its subcommands, and adds -q/--quiet to each subcommand.
void Finish(CLI::App* app, HelpFormatter* fmt, bool* quiet) {
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    sub->add_flag("-q,--quiet", *quiet,
                  "print only errors, warnings and results: no notices, progress or summary lines");
    Finish(sub, fmt, quiet);
  }
  for (CLI::Option* opt : app->get_options()) {
    if (IsFlag(opt)) continue;
    if (opt->get_positional()) {
      opt->type_name(opt->get_name(true, false));
      continue;
    }
    std::string name = opt->get_lnames().empty() ? opt->get_single_name() : opt->get_lnames()[0];
    std::string shown = opt->get_type_name();
    if (IsGenericTypeName(shown)) {
      auto it = Placeholders().find(name);
      if (it != Placeholders().end()) {
        shown = it->second;
      } else {
        shown = name;
        for (char& c : shown) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      opt->type_name(shown);
    }
    fmt->placeholder[opt] = shown;
    if (opt->get_default_str().empty()) {
      opt->capture_default_str();
      const std::string d = opt->get_default_str();
      if (d == "[]") opt->default_str("");
    }
  }
}

// Optimal string alignment distance: what "did you mean" is judged by.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The command `word` was most likely meant as, or "" when none is close.
std::string Nearest(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = 3;  // at most 2 edits
  for (const std::string& n : names) {
    if (word.size() >= 2 && n.compare(0, word.size(), word) == 0) return n;
    size_t dist = EditDistance(word, n);
    if (dist < best_distance) {
      best = n;
      best_distance = dist;
    }
  }
  return best;
}

std::vector<std::string> SubcommandNames(const CLI::App* app) {
  std::vector<std::string> out;
  for (const CLI::App* sub : app->get_subcommands({})) out.push_back(sub->get_name());
  return out;
}

// "vmigrate: unknown command 'exprot'; did you mean 'export'?" for the
// first word of `args` (after `app`'s own options) that is no subcommand.
// `where` is the command path so far ("" or "cutover").
bool UnknownSubcommand(const CLI::App* app, const std::vector<std::string>& args, size_t from,
                       const std::string& where) {
  std::vector<std::string> names = SubcommandNames(app);
  if (names.empty()) return false;
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return false;
    if (!a.empty() && a[0] == '-') continue;  // the app's own options take no values
    if (std::find(names.begin(), names.end(), a) != names.end()) {
      return UnknownSubcommand(app->get_subcommand(a), args, i + 1, where.empty() ? a : where + " " + a);
    }
    std::string prefix = where.empty() ? "vmigrate: " : "vmigrate: " + where + ": ";
    std::string see = where.empty() ? "vmigrate --help" : "vmigrate " + where + " --help";
    std::string nearest = Nearest(a, names);
    if (!nearest.empty())
      std::fprintf(stderr, "%sunknown command '%s'; did you mean '%s'? (see %s)\n", prefix.c_str(), a.c_str(),
                   nearest.c_str(), see.c_str());
    else
      std::fprintf(stderr, "%sunknown command '%s' (one of: %s; see %s)\n", prefix.c_str(), a.c_str(),
                   vmigrate::Join(names, ", ").c_str(), see.c_str());
    return true;
  }
  return false;
}

// `--progress MODE` as two words means `--progress=MODE` when MODE is a
// progress mode; otherwise a bare --progress leaves the next word alone (it
// may be the ARCHIVE or DOMAIN).
std::vector<std::string> JoinProgressMode(std::vector<std::string> args) {
  for (size_t i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--progress" && !args[i + 1].empty() &&
        vmigrate::ParseProgressMode(args[i + 1], STDERR_FILENO).ok()) {
      args[i] += "=" + args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    }
  }
  return args;
}

// The subcommand path parsing reached: "import", "cutover forward" or "".
std::string ParsedPath(const CLI::App* app) {
  std::string path;
  for (const CLI::App* a = app;;) {
    auto subs = a->get_subcommands();
    if (subs.empty()) return path;
    a = subs[0];
    path += (path.empty() ? "" : " ") + a->get_name();
  }
}

// A CLI11 parse error as one line: "vmigrate: import: --owner: 1 required
// UID:GID missing; see vmigrate import --help".
int ParseFailure(const CLI::App& app, const CLI::ParseError& e) {
  std::string where = ParsedPath(&app);
  std::string msg = e.what();
  if (msg.size() > 1 && std::isupper(static_cast<unsigned char>(msg[0])) &&
      std::islower(static_cast<unsigned char>(msg[1])))
    msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
  if (e.get_name() == "RequiredError" && msg.rfind("A subcommand", 0) == 0) {
    const CLI::App* at = where.empty() ? &app : app.get_subcommand(where.substr(0, where.find(' ')));
    msg = "missing command (one of: " + vmigrate::Join(SubcommandNames(at), ", ") + ")";
  }
  std::string see = where.empty() ? "vmigrate --help" : "vmigrate " + where + " --help";
  std::fprintf(stderr, "vmigrate: %s%s; see %s\n", where.empty() ? "" : (where + ": ").c_str(), msg.c_str(),
               see.c_str());
  return Usage();
}

// `vmigrate help [COMMAND [SUBCOMMAND]]`: the same text as --help.
int PrintHelp(const CLI::App& app, const std::vector<std::string>& words) {
  const CLI::App* at = &app;
  std::string prefix;
  for (const std::string& w : words) {
    std::vector<std::string> names = SubcommandNames(at);
    if (std::find(names.begin(), names.end(), w) == names.end()) {
      std::vector<std::string> args = {"vmigrate"};
      args.insert(args.end(), words.begin(), words.end());
      if (!UnknownSubcommand(&app, args, 1, ""))
        std::fprintf(stderr, "vmigrate: help: '%s' has no subcommands\n", at->get_name().c_str());
      return Usage();
    }
    prefix += (prefix.empty() ? "" : " ") + at->get_name();
    at = at->get_subcommand(w);
  }
  // The formatter, not at->help(): that would show `help` itself, the
  // subcommand this run selected.
  std::string name = prefix.empty() ? at->get_name() : prefix + " " + at->get_name();
  std::fputs(at->get_formatter()->make_help(at, name, CLI::AppFormatMode::Normal).c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The exit-code table comes from lib/core/exit_code.h (kExitCodes).
  CLI::App app{"vmigrate " VMIGRATE_VERSION
               " - move vpopmail + qmail mail domains between hosts without losing a message,\n"
               "password, alias, quota or POP3 UIDL.\n\n" +
                   vmigrate::ExitCodeHelp(),
               "vmigrate"};
  auto fmt = std::make_shared<HelpFormatter>();
  app.formatter(fmt);  // before the subcommands: they inherit it
  app.set_version_flag("--version", std::string("vmigrate ") + VMIGRATE_VERSION);
  app.require_subcommand(1);
  std::map<CLI::App*, vmigrate::cli::Handler> handlers;
  for (const Command& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    handlers[sub] = c.add(sub);
  }
  std::vector<std::string> help_words;
  CLI::App* help = app.add_subcommand(kHelpCommand, "show the help of COMMAND (the same as vmigrate COMMAND --help)");
  help->add_option("COMMAND", help_words, "a command, and a subcommand of it (cutover hold)");
  bool quiet = false;
  Finish(&app, fmt.get(), &quiet);
  app.add_flag("-q,--quiet", quiet, "print only errors, warnings and results (also accepted after the command)");

  std::vector<std::string> args = JoinProgressMode(std::vector<std::string>(argv, argv + argc));
  if (UnknownSubcommand(&app, args, 1, "")) return Usage();
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return ParseFailure(app, e);
  }
  vmigrate::cli::SetQuiet(quiet);
  if (help->parsed()) return PrintHelp(app, help_words);
  for (auto& [sub, handler] : handlers)
    if (sub->parsed()) return handler();
  return Usage();
}
