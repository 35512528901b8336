#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <ctime>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/json.h"
#include "core/strings.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {

namespace {
bool g_quiet = false;  // set once by main before a command runs
}  // namespace

void SetQuiet(bool quiet) { g_quiet = quiet; }
bool Quiet() { return g_quiet; }

void PathFlags::Add(CLI::App* app) {
  app->add_option("--root", root,
                  "operate on the tree under DIR as if it were / (like dpkg --root); paths "
                  "written into the data stay host paths")
      ->capture_default_str();
  app->add_option("--vpopmail-home", vpopmail_home,
                  "vpopmail's home (default: the home of the 'vpopmail' user)");
  app->add_option("--qmail-dir", qmail_dir, "qmail's home (default: /var/qmail)");
  app->add_option("--backend", backend,
                  "vpopmail's auth backend on this host: auto (MySQL when etc/vpopmail.mysql exists "
                  "and the domain has no vpasswd), cdb or mysql")
      ->check(CLI::IsMember({"auto", "cdb", "mysql"}))
      ->capture_default_str();
  app->add_option("--mysql-config", mysql_config,
                  "read the MySQL connection from FILE (vpopmail.mysql format) instead of "
                  "<vpopmail-home>/etc/vpopmail.mysql");
  app->add_option("--mysql-socket", mysql_socket,
                  "connect to MySQL through this unix socket instead of the configured host/port");
}

Result<HostPaths> PathFlags::Resolve() const {
  auto paths = ResolveHostPaths(root, vpopmail_home, qmail_dir);
  if (!paths.ok()) return paths;
  paths->backend = backend;
  paths->mysql_config = mysql_config;
  paths->mysql_socket = mysql_socket;
  paths->mysql_widen_columns = mysql_widen_columns;
  paths->mysql_layout = mysql_layout;
  return paths;
}

Status WithObject(const Status& status, const std::string& object) {
  if (object.empty() || StartsWith(status.message(), object + ": ")) return status;
  return status.WithContext(object);
}

namespace {
// Where Fail() prints the JSON error object; nullptr without --json.
FILE* g_json_errors = nullptr;

void PrintErrorObject(const std::string& command, const std::string& object, const std::string& message,
                      int exit_code) {
  if (g_json_errors == nullptr) return;
  JsonWriter j;
  j.BeginRecord("error").Key("command").String(command).Key("object").String(object);
  j.Key("message").String(message).Key("exit").Number(static_cast<std::uint64_t>(exit_code)).EndObject();
  std::fprintf(g_json_errors, "%s\n", j.str().c_str());
  std::fflush(g_json_errors);
}
}  // namespace

void JsonErrors(bool on, FILE* out) { g_json_errors = on ? out : nullptr; }

int Fail(const std::string& command, const Status& status, const std::string& object) {
  std::fprintf(stderr, "vmigrate: %s: %s\n", command.c_str(), status.message().c_str());
  const int code = static_cast<int>(ToExit(status));
  if (g_json_errors != nullptr) {
    std::string what = object;
    if (what.empty()) {
      // The error line is "<object>: <what failed>: <cause>".
      size_t colon = status.message().find(": ");
      if (colon != std::string::npos) what = status.message().substr(0, colon);
    }
    PrintErrorObject(command, what, status.message(), code);
  }
  return code;
}

int Usage(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "vmigrate: %s: %s\n", command.c_str(), message.c_str());
  PrintErrorObject(command, "", message, static_cast<int>(Exit::kUsage));
  return static_cast<int>(Exit::kUsage);
}

void ProgressFlags::Add(CLI::App* app) {
  // A flag, not an option, so that a bare --progress never takes the next
  // argument as its value; "{line}" is the value a bare --progress stands for,
  // and --progress=MODE overrides it.
  app->add_flag("--progress{line}", mode,
                "show progress on stderr even when it is not a terminal; MODE (--progress=MODE or "
                "--progress MODE) is line (a bare --progress), json (one JSON object per line) or "
                "none (default: a progress line on a terminal, nothing on a pipe)")
      ->option_text("[=MODE]");
  app->add_option("--max-rate", max_rate,
                  "limit the data rate to BYTES per second (e.g. 500k, 20M) so a live server is not starved");
}

Result<std::unique_ptr<ProgressMeter>> ProgressFlags::MakeMeter(const std::string& verb) const {
  if (mode.empty() && Quiet()) return std::unique_ptr<ProgressMeter>();
  auto parsed = ParseProgressMode(mode.empty() ? "auto" : mode, STDERR_FILENO);
  if (!parsed.ok()) return parsed.status().WithContext("--progress");
  if (*parsed == ProgressMode::kOff) return std::unique_ptr<ProgressMeter>();
  return std::make_unique<ProgressMeter>(*parsed, stderr, verb);
}

Result<std::unique_ptr<RateLimiter>> ProgressFlags::MakeLimiter() const {
  if (max_rate.empty()) return std::unique_ptr<RateLimiter>();
  auto parsed = ParseByteRate(max_rate);
  if (!parsed.ok()) return parsed.status().WithContext("--max-rate");
  return std::make_unique<RateLimiter>(*parsed);
}

std::string IsoUtc(std::int64_t t) {
  char buf[64];
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int BatchExit(size_t ok, size_t failed) {
  if (failed == 0) return static_cast<int>(Exit::kOk);
  return static_cast<int>(ok > 0 ? Exit::kPartial : Exit::kFailed);
}

void PrintBatchSummary(bool json, size_t ok, size_t failed, int exit_code, const char* done_word) {
  if (json) {
    JsonWriter j;
    j.BeginRecord("summary").Key("ok").Number(ok).Key("failed").Number(failed);
    j.Key("exit").Number(exit_code).EndObject();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("%zu %s, %zu failed\n", ok, done_word, failed);
  }
}

void UnreachableUsersJson(JsonWriter* j, const char* key,
                          const std::vector<vpopmail::UnreachableUser>& users) {
  j->Key(key).BeginArray();
  for (const auto& u : users)
    j->BeginObject().Key("domain").String(u.domain).Key("name").String(u.name)
        .Key("reason").String(u.reason).EndObject();
  j->EndArray();
}

std::string PasswordLine(const std::string& text) {
  size_t nl = text.find('\n');
  std::string p = text.substr(0, nl);
  if (!p.empty() && p.back() == '\r' && nl != std::string::npos) p.pop_back();
  return p;
}

Result<std::string> ReadPasswordFd(int fd) {
  constexpr size_t kMaxPasswordBytes = 4096;
  const std::string what = "--password-fd " + std::to_string(fd);
  std::string data;
  char buf[512];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return FromErrno("cannot read " + what, err);
    }
    if (n == 0) break;
    if (data.size() <= kMaxPasswordBytes) data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (data.size() > kMaxPasswordBytes) return Status::InvalidInput(what + ": more than 4096 bytes, not a password");
  return PasswordLine(data);
}

Result<std::vector<std::string>> ReadListFile(const std::string& path) {
  auto text = ReadSmallFile(path, 64u << 20);
  if (!text.ok()) return text.status();
  std::vector<std::string> out;
  for (std::string line : SplitLines(*text)) {
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = Trim(line);
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::vector<ReportedRef> ManifestRefs(const Manifest& m, bool with_archive_domains) {
  std::vector<ReportedRef> out;
  for (const auto& d : m.domains)
    for (const auto& ref : d.outside_refs)
      if (with_archive_domains || ref.reason != kRefArchiveDomain) out.push_back({d.name, ref, ""});
  return out;
}

void OutsideRefFields(JsonWriter* j, const ReportedRef& r) {
  j->Key("domain").String(r.domain).Key("file").String(r.ref.file);
  j->Key("line").Number(r.ref.line).Key("path").String(r.ref.path).Key("reason").String(r.ref.reason);
  if (!r.ref.domain.empty()) j->Key("other_domain").String(r.ref.domain);
  if (!r.note.empty()) j->Key("note").String(r.note);
}

void AddOutsideRefsJson(JsonWriter* j, const std::vector<ReportedRef>& refs) {
  j->Key("outside_refs").BeginArray();
  for (const auto& r : refs) {
    j->BeginObject();
    OutsideRefFields(j, r);
    j->EndObject();
  }
  j->EndArray();
}

}  // namespace vmigrate::cli
