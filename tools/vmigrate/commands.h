// The vmigrate subcommands. Each Add* registers its flags on the CLI11 app
// and returns the handler to run when that subcommand was chosen.
#ifndef VMIGRATE_TOOLS_VMIGRATE_COMMANDS_H_
#define VMIGRATE_TOOLS_VMIGRATE_COMMANDS_H_

#include <atomic>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "archive/archive_writer.h"
#include "core/exit_code.h"
#include "core/host_paths.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/rate_limit.h"
#include "core/status.h"
#include "model/manifest.h"
#include "model/outside_refs.h"
#include "vpopmail/names.h"

namespace vmigrate {
struct ExportReport;
}

namespace vmigrate::cli {

using Handler = std::function<int()>;

struct PathFlags {
  std::string root = "/";
  std::string vpopmail_home;
  std::string qmail_dir;
  std::string backend = "auto";  // --backend auto|cdb|mysql
  std::string mysql_config;      // --mysql-config FILE
  std::string mysql_socket;      // --mysql-socket PATH
  bool mysql_widen_columns = false;
  std::string mysql_layout;      // import --mysql-layout many|perdomain
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


/// --json: from now on Fail() and Usage() also print the error object
/// {"schema":1,"type":"error","command","object","message","exit"}
/// (share/doc/json.md) on `out`: stdout, or stderr when stdout carries
/// data (export -o -, state -o -). `on` false turns it off.
void JsonErrors(bool on, FILE* out = stdout);

/// Prints "vmigrate: <command>: <message>" on stderr (and the JSON error
/// object after JsonErrors(true)) and returns the status's exit code.
/// `object` is what failed, for the JSON object; empty means the first
/// field of the message (the error line's "<object>: ...").
int Fail(const std::string& command, const Status& status, const std::string& object = "");

/// A usage error a handler found (exit 2): "vmigrate: <command>: <message>"
/// on stderr, and the JSON error object (object "") after JsonErrors(true).
int Usage(const std::string& command, const std::string& message);

/// `seconds` since the epoch as ISO 8601 UTC ("2026-11-30T01:02:03Z"), the
/// form of every time in --json (share/doc/json.md).
std::string IsoUtc(std::int64_t seconds);

/// Exit code of a batch: 0 all ok, 4 some failed, 1 nothing done.
int BatchExit(size_t ok, size_t failed);

/// A batch's last line on stdout: {"schema":1,"type":"summary","ok":N,"failed":M,"exit":X}
/// with --json, else "N <done_word>, M failed".
void PrintBatchSummary(bool json, size_t ok, size_t failed, int exit_code, const char* done_word);

/// A password as --password-file and --password-fd hold it: the first line
/// of `text`; its newline (and the CR of a CRLF) is not part of it.
std::string PasswordLine(const std::string& text);

/// The password from `fd` (--password-fd): read to its end and closed, so a
/// writer never blocks on a full pipe; then PasswordLine. kInvalidInput
/// (naming the option) for more than 4096 bytes; kIoError with errno text.
Result<std::string> ReadPasswordFd(int fd);

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

/// One domain of an export --dry-run and the archive it would go to ("" when none).
struct DryRunDomain {
  const ManifestDomain* domain;
  std::string output;
};

/// Prints export --dry-run's result (cmd_export_dry_run.cc): text, or one
/// JSON object {"schema":1,"type":"export","dry_run":true,...}. `report`
/// holds the warnings, references and the size estimate of all `domains`;
/// `kind` is the archive kind ("domain", "server", "delta").
void PrintExportDryRun(const std::vector<DryRunDomain>& domains, const ExportReport& report,
                       const std::string& kind, const std::string& output, bool json);

/// export --from unix (cmd_export_unix.cc): its flags, registered on the
/// export command; the rest of export's flags are shared (UnixExportCommon).
struct UnixExportFlags {
  std::string from = "vpopmail";  // --from vpopmail|unix
  std::string uid_range, users_from, locked = "disable", quota = "NOQUOTA", spool, folders = "mail",
      old_server = "dovecot", old_pop3_uidl, imap_server = "dovecot", time_zone;
  std::vector<std::string> users;
  size_t batch = 0;
  std::vector<CLI::Option*> only;  // the options that need --from unix
  void Add(CLI::App* app);
  bool UnixOnlyGiven() const;
};
struct UnixExportCommon {
  std::vector<std::string> domains;
  std::string root, output;
  Compression compression = Compression::kZstd;
  bool force = false, dry_run = false, json = false;
  ProgressMeter* progress = nullptr;
  const std::atomic<bool>* interrupted = nullptr;
};
/// Runs export --from unix; returns the exit code.
int RunUnixExport(const UnixExportFlags& unix_flags, const UnixExportCommon& common);
Handler AddExport(CLI::App* app);
Handler AddImport(CLI::App* app);
Handler AddInspect(CLI::App* app);
Handler AddList(CLI::App* app);
Handler AddVerify(CLI::App* app);
Handler AddCutover(CLI::App* app);
Handler AddState(CLI::App* app);
Handler AddMove(CLI::App* app);
Handler AddPull(CLI::App* app);
Handler AddRehash(CLI::App* app);
/// Adds the `discard` subcommand to `cutover` (cmd_cutover_discard.cc); the
/// returned handler runs it: call it when cutover->got_subcommand("discard").
Handler AddCutoverDiscard(CLI::App* cutover);

}  // namespace vmigrate::cli

#endif  // VMIGRATE_TOOLS_VMIGRATE_COMMANDS_H_
