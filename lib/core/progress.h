// A progress meter for long export/import runs: a rewritten status line on a
// terminal, or one JSON object per line for tools that watch the run.
#ifndef VMIGRATE_CORE_PROGRESS_H_
#define VMIGRATE_CORE_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "core/status.h"

namespace vmigrate {

enum class ProgressMode { kOff, kLine, kJson };

/// "" or "auto": kLine when `fd` is a terminal, else kOff. "line"/"tty": kLine.
/// "json": kJson. "none"/"off": kOff. Case-insensitive.
/// Anything else: kInvalidInput naming the value.
Result<ProgressMode> ParseProgressMode(const std::string& value, int fd);

/// Expected (or counted-so-far) amounts; 0 means unknown. The callers count
/// done exactly what their totals count; a count that still passes its known
/// total (mail that arrived during the run) takes the total along, so done
/// never exceeds total.
struct ProgressTotals {
  std::uint64_t users = 0, messages = 0, bytes = 0;
};

/// Counts users, messages and bytes and prints at most every 0.25 s (line
/// mode) or 1 s (JSON mode), plus once from Finish(). Counters are never
/// reset, so either use one meter per domain or give SetTotals() the totals of
/// the whole run. Nothing here throws or reports write errors: progress output
/// is best effort.
///
/// Line mode: "\r<line>\x1b[K", e.g.
///   export example.com: users 3/17, messages 1200/5000, 120.5 MB/402.1 MB (29%), 38.2 MB/s, ETA 0:07
/// A count with an unknown total is shown alone ("users 3"). The percentage
/// follows bytes when their total is known, else messages; units are 1024-based.
///
/// JSON mode: one object per line, flushed, with keys event ("progress", or
/// "done" from Finish), verb, domain, users_done, users_total, messages_done,
/// messages_total, bytes_done, bytes_total, rate_bytes_per_sec (integer),
/// elapsed_sec (3 decimals), eta_sec (integer, null when unknown).
///
/// ETA comes from bytes when their total is known, else from messages; it is
/// unknown ("ETA --", null) without a total or while nothing has moved. Rates
/// are averages since construction.
class ProgressMeter {
 public:
  /// `out` is not owned; nullptr acts like kOff. `verb` is "export" or
  /// "import". `clock` returns monotonic seconds; default CLOCK_MONOTONIC.
  ProgressMeter(ProgressMode mode, FILE* out, std::string verb,
                std::function<double()> clock = {});

  void SetTotals(const ProgressTotals& totals);
  void SetDomain(const std::string& name);  // shown in the line / "domain" in JSON
  void UserDone();
  void MessageDone();  // one Maildir message (cur/ or new/ file)
  void AddBytes(std::uint64_t n);
  /// Prints the final update (line mode ends it with '\n'). Later calls and
  /// updates print nothing.
  void Finish();

 private:
  void MaybePrint();
  void Print(double now, bool final);

  ProgressMode mode_;
  FILE* out_;
  std::string verb_;
  std::function<double()> clock_;
  std::string domain_;
  ProgressTotals totals_;
  ProgressTotals done_;
  double start_ = 0;
  double last_print_ = 0;
  double interval_ = 0;
  bool finished_ = false;
};

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_PROGRESS_H_
