// The vmigrate subcommands. Each Add* registers its flags on the CLI11 app
// and returns the handler to run when that subcommand was chosen.
#ifndef VMIGRATE_TOOLS_VMIGRATE_COMMANDS_H_
#define VMIGRATE_TOOLS_VMIGRATE_COMMANDS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/exit_code.h"
#include "core/host_paths.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/rate_limit.h"
#include "core/status.h"
#include "model/manifest.h"
#include "model/outside_refs.h"
#include "vpopmail/names.h"

namespace vmigrate::cli {

using Handler = std::function<int()>;

struct PathFlags {
  std::string root = "/";
  std::string vpopmail_home;
  std::string qmail_dir;
  void Add(CLI::App* app);
  Result<HostPaths> Resolve() const;
};

/// --progress[=MODE] and --max-rate. A bare --progress means "line" and never
/// swallows the next argument; MODE is checked by ParseProgressMode.
struct ProgressFlags {
  std::string mode;  ///< empty when --progress was not given ("auto")
  std::string max_rate;
  void Add(CLI::App* app);
  /// The meter writes to stderr; nullptr when no progress is wanted, so
  /// that the per-entry paths skip the bookkeeping entirely.
  Result<std::unique_ptr<ProgressMeter>> MakeMeter(const std::string& verb) const;
  /// nullptr when --max-rate was not given.
  Result<std::unique_ptr<RateLimiter>> MakeLimiter() const;
};

/// -q/--quiet (every command): no notices, progress (unless --progress was
/// given) or success summaries; errors, warnings, --json output and the
/// output that is a command's answer (inspect, verify, a plan) stay.
void SetQuiet(bool quiet);
bool Quiet();

/// `status` with "<object>: " in front, unless its message already names
/// `object` first: an error names its object once.
Status WithObject(const Status& status, const std::string& object);

/// Prints "vmigrate: <command>: <message>" on stderr and returns its exit code.
int Fail(const std::string& command, const Status& status);

/// Exit code of a batch: 0 all ok, 4 some failed, 1 nothing done.
int BatchExit(size_t ok, size_t failed);

/// A batch's last line on stdout: {"summary":true,"ok":N,"failed":M,"exit":X}
/// with --json, else "N <done_word>, M failed".
void PrintBatchSummary(bool json, size_t ok, size_t failed, int exit_code, const char* done_word);

/// Names from a list file: one per line, blank lines and '#' comments skipped.
Result<std::vector<std::string>> ReadListFile(const std::string& path);

/// `"key":[{"domain":"..","name":"..","reason":".."},...]`: accounts vpopmail
/// cannot reach (carried), or that export left out (--skip-invalid-users).
void UnreachableUsersJson(JsonWriter* j, const char* key,
                          const std::vector<vpopmail::UnreachableUser>& users);
/// The references of every domain of `m`; those into another domain of the
/// same archive (rewritten, not leaving) only when `with_archive_domains`.
std::vector<ReportedRef> ManifestRefs(const Manifest& m, bool with_archive_domains);

/// Writes the keys of one reference into an open JSON object: "domain",
/// "file", "line", "path", "reason", then "other_domain" and "note" when set.
void OutsideRefFields(JsonWriter* j, const ReportedRef& r);

/// Appends "outside_refs": [{"domain","file","line","path","reason","other_domain","note"}]
/// to an open JSON object; "other_domain" and "note" only when set.
void AddOutsideRefsJson(JsonWriter* j, const std::vector<ReportedRef>& refs);

Handler AddExport(CLI::App* app);
Handler AddImport(CLI::App* app);
Handler AddInspect(CLI::App* app);
Handler AddVerify(CLI::App* app);
Handler AddCutover(CLI::App* app);
Handler AddState(CLI::App* app);
Handler AddMove(CLI::App* app);
/// Adds the `discard` subcommand to `cutover` (cmd_cutover_discard.cc); the
/// returned handler runs it: call it when cutover->got_subcommand("discard").
Handler AddCutoverDiscard(CLI::App* cutover);

}  // namespace vmigrate::cli

#endif  // VMIGRATE_TOOLS_VMIGRATE_COMMANDS_H_
