#include "core/rate_limit.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace vmigrate {

namespace {

constexpr double kBurstSeconds = 0.25;
// Shorter sleeps cost more in syscalls and timer slack than they smooth.
constexpr double kMinSleepSeconds = 0.01;

double MonotonicSeconds() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void SleepSeconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

Status BadRate(const std::string& text) {
  return Status::InvalidInput("invalid byte rate '" + text +
                              "' (want a positive number with optional k, M or G suffix)");
}

}  // namespace

Result<std::uint64_t> ParseByteRate(const std::string& text) {
  // Hand-parsed: strtod would take "1e3", "inf", " 5" and a locale's comma.
  std::uint64_t whole = 0;
  double fraction = 0, scale = 0.1;
  bool digits = false, in_fraction = false;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !in_fraction) {
      in_fraction = true;
    } else if (c >= '0' && c <= '9') {
      digits = true;
      if (in_fraction) {
        fraction += static_cast<double>(c - '0') * scale;
        scale /= 10;
      } else {
        auto d = static_cast<std::uint64_t>(c - '0');
        if (whole > (UINT64_MAX - d) / 10) return BadRate(text);
        whole = whole * 10 + d;
      }
    } else {
      break;
    }
  }
  if (!digits) return BadRate(text);
  std::uint64_t mult = 1;
  if (i < text.size()) {
    switch (text[i]) {
      case 'k': case 'K': mult = 1ull << 10; break;
      case 'm': case 'M': mult = 1ull << 20; break;
      case 'g': case 'G': mult = 1ull << 30; break;
      default: return BadRate(text);
    }
    if (++i != text.size()) return BadRate(text);
  }
  if (whole > (UINT64_MAX - mult) / mult) return BadRate(text);
  std::uint64_t rate =
      whole * mult + static_cast<std::uint64_t>(fraction * static_cast<double>(mult));
  if (rate == 0) return Status::InvalidInput("byte rate '" + text + "' must be more than 0");
  return rate;
}

RateLimiter::RateLimiter(std::uint64_t bytes_per_sec, std::function<double()> clock,
                         std::function<void(double)> sleep)
    : rate_(static_cast<double>(bytes_per_sec)),
      burst_(rate_ * kBurstSeconds),
      tokens_(burst_),
      clock_(clock ? std::move(clock) : MonotonicSeconds),
      sleep_(sleep ? std::move(sleep) : SleepSeconds) {
  if (rate_ > 0) last_ = clock_();
}

void RateLimiter::Consume(std::uint64_t n) {
  if (rate_ <= 0 || n == 0) return;
  double now = clock_();
  // Idle time refills the bucket, but never past one burst.
  tokens_ = std::min(burst_, tokens_ + std::max(0.0, now - last_) * rate_);
  last_ = now;
  tokens_ -= static_cast<double>(n);
  // The sleep itself is paid back by the refill on the next call.
  double owed = -tokens_ / rate_;
  if (owed >= kMinSleepSeconds) sleep_(owed);
}

}  // namespace vmigrate
