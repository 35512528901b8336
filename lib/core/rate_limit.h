// --max-rate: keeps a run's average throughput under a byte rate so a
// migration does not starve a live mail server's disk.
#ifndef VMIGRATE_CORE_RATE_LIMIT_H_
#define VMIGRATE_CORE_RATE_LIMIT_H_

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"

namespace vmigrate {

/// Bytes per second from "1048576", "500k", "10M" or "1.5G": a decimal number
/// with an optional k, m or g suffix (case-insensitive, 1024-based). A
/// fraction is rounded down to whole bytes. Zero, overflow or anything else:
/// kInvalidInput naming the text.
Result<std::uint64_t> ParseByteRate(const std::string& text);

/// A token bucket holding at most 0.25 s worth of bytes, full at the start.
class RateLimiter {
 public:
  /// `bytes_per_sec` 0 = unlimited (Consume returns at once). `clock` returns
  /// monotonic seconds (default CLOCK_MONOTONIC); `sleep` waits that many
  /// seconds (default std::this_thread::sleep_for) and must let `clock`
  /// advance by about as much.
  explicit RateLimiter(std::uint64_t bytes_per_sec, std::function<double()> clock = {},
                       std::function<void(double)> sleep = {});

  /// Accounts `n` bytes and sleeps as needed so the long-run average stays at
  /// or under the rate. Debts under 10 ms are carried to the next call rather
  /// than slept, so many small calls cost few sleeps. A single call larger
  /// than the burst always sleeps for the excess, so account in chunks
  /// (e.g. per read buffer), not per whole message.
  void Consume(std::uint64_t n);

 private:
  double rate_;
  double burst_;
  double tokens_;  // bytes that may pass now; negative: owed
  double last_ = 0;
  std::function<double()> clock_;
  std::function<void(double)> sleep_;
};

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_RATE_LIMIT_H_
