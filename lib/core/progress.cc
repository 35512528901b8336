#include "core/progress.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "core/json.h"
#include "core/strings.h"

namespace vmigrate {

namespace {

double MonotonicSeconds() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// 1024-based, to match ParseByteRate ("10M" is shown as "10.0 MB/s").
std::string FormatBytes(double n) {
  static const char* const kUnits[] = {"KB", "MB", "GB", "TB"};
  char buf[32];
  if (n < 1024) {
    std::snprintf(buf, sizeof buf, "%.0f B", n);
    return buf;
  }
  int unit = -1;
  while (n >= 1024 && unit < 3) {
    n /= 1024;
    ++unit;
  }
  std::snprintf(buf, sizeof buf, "%.1f %s", n, kUnits[unit]);
  return buf;
}

std::string FormatCount(std::uint64_t done, std::uint64_t total) {
  std::string s = std::to_string(done);
  if (total > 0) s += "/" + std::to_string(total);
  return s;
}

// "M:SS", or "H:MM:SS" from one hour on.
std::string FormatEta(std::uint64_t secs) {
  char buf[48];
  unsigned long long h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
  if (h > 0) {
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", h, m, s);
  } else {
    std::snprintf(buf, sizeof buf, "%llu:%02llu", m, s);
  }
  return buf;
}

// Seconds left at the average rate so far; -1 when unknown.
double Remaining(std::uint64_t done, std::uint64_t total, double elapsed) {
  if (total == 0) return -1;
  if (done >= total) return 0;
  if (done == 0 || elapsed <= 0) return -1;
  double eta = static_cast<double>(total - done) * elapsed / static_cast<double>(done);
  return eta > 1e9 ? -1 : eta;  // ~30 years: no useful answer
}

// A known total the count has passed grows with it (see progress.h).
void Grow(std::uint64_t done, std::uint64_t* total) {
  if (*total > 0 && done > *total) *total = done;
}

int Percent(std::uint64_t done, std::uint64_t total) {
  double p = static_cast<double>(done) * 100 / static_cast<double>(total);
  return static_cast<int>(std::min(p, 100.0));
}

}  // namespace

Result<ProgressMode> ParseProgressMode(const std::string& value, int fd) {
  std::string v = ToLower(value);
  if (v.empty() || v == "auto") return isatty(fd) ? ProgressMode::kLine : ProgressMode::kOff;
  if (v == "line" || v == "tty") return ProgressMode::kLine;
  if (v == "json") return ProgressMode::kJson;
  if (v == "none" || v == "off") return ProgressMode::kOff;
  return Status::InvalidInput("unknown progress mode '" + value +
                              "' (want auto, line, json or none)");
}

ProgressMeter::ProgressMeter(ProgressMode mode, FILE* out, std::string verb,
                             std::function<double()> clock)
    : mode_(out ? mode : ProgressMode::kOff),
      out_(out),
      verb_(std::move(verb)),
      clock_(clock ? std::move(clock) : MonotonicSeconds) {
  if (mode_ == ProgressMode::kOff) return;
  start_ = last_print_ = clock_();
  // A terminal line can redraw often; JSON consumers want fewer, whole records.
  interval_ = mode_ == ProgressMode::kLine ? 0.25 : 1.0;
}

void ProgressMeter::SetTotals(const ProgressTotals& totals) { totals_ = totals; }

void ProgressMeter::SetDomain(const std::string& name) { domain_ = name; }

void ProgressMeter::UserDone() {
  Grow(++done_.users, &totals_.users);
  MaybePrint();
}

void ProgressMeter::MessageDone() {
  Grow(++done_.messages, &totals_.messages);
  MaybePrint();
}

void ProgressMeter::AddBytes(std::uint64_t n) {
  done_.bytes += n;
  Grow(done_.bytes, &totals_.bytes);
  MaybePrint();
}

void ProgressMeter::Finish() {
  if (mode_ == ProgressMode::kOff || finished_) return;
  finished_ = true;
  Print(clock_(), /*final=*/true);
}

void ProgressMeter::MaybePrint() {
  if (mode_ == ProgressMode::kOff || finished_) return;
  double now = clock_();
  if (now - last_print_ < interval_) return;
  Print(now, /*final=*/false);
}

void ProgressMeter::Print(double now, bool final) {
  last_print_ = now;
  double elapsed = std::max(0.0, now - start_);
  double rate = elapsed > 0 ? static_cast<double>(done_.bytes) / elapsed : 0;
  double eta = totals_.bytes > 0 ? Remaining(done_.bytes, totals_.bytes, elapsed)
                                 : Remaining(done_.messages, totals_.messages, elapsed);
  auto eta_secs = static_cast<std::uint64_t>(eta + 0.5);

  if (mode_ == ProgressMode::kJson) {
    JsonWriter w;
    w.BeginObject()
        .Key("event").String(final ? "done" : "progress")
        .Key("verb").String(verb_)
        .Key("domain").String(domain_)
        .Key("users_done").Number(done_.users)
        .Key("users_total").Number(totals_.users)
        .Key("messages_done").Number(done_.messages)
        .Key("messages_total").Number(totals_.messages)
        .Key("bytes_done").Number(done_.bytes)
        .Key("bytes_total").Number(totals_.bytes)
        .Key("rate_bytes_per_sec").Number(static_cast<std::uint64_t>(rate + 0.5));
    // JsonWriter has no double or null, so the last two keys and the closing
    // brace are written here. %.3f assumes the "C" numeric locale.
    char tail[96];
    if (eta < 0) {
      std::snprintf(tail, sizeof tail, ",\"elapsed_sec\":%.3f,\"eta_sec\":null}", elapsed);
    } else {
      std::snprintf(tail, sizeof tail, ",\"elapsed_sec\":%.3f,\"eta_sec\":%llu}", elapsed,
                    static_cast<unsigned long long>(eta_secs));
    }
    std::fprintf(out_, "%s%s\n", w.str().c_str(), tail);
    std::fflush(out_);
    return;
  }

  std::string line = verb_;
  // The domain may come from an archive; keep control bytes off the terminal.
  if (!domain_.empty()) line += " " + EscapeC(domain_);
  line += ": users " + FormatCount(done_.users, totals_.users);
  line += ", messages " + FormatCount(done_.messages, totals_.messages);
  if (totals_.bytes == 0 && totals_.messages > 0) {
    line += " (" + std::to_string(Percent(done_.messages, totals_.messages)) + "%)";
  }
  line += ", " + FormatBytes(static_cast<double>(done_.bytes));
  if (totals_.bytes > 0) {
    line += "/" + FormatBytes(static_cast<double>(totals_.bytes));
    line += " (" + std::to_string(Percent(done_.bytes, totals_.bytes)) + "%)";
  }
  line += ", " + FormatBytes(rate) + "/s";
  line += ", ETA " + (eta < 0 ? std::string("--") : FormatEta(eta_secs));
  std::fprintf(out_, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
  std::fflush(out_);
}

}  // namespace vmigrate
