// The mbox From_ line ("From <sender> <asctime date>[ zone]") as Dovecot and
// c-client recognise it, and the zone rules for dates written without a zone.
// Internal to lib/mbox (mbox_reader.cc uses it).
#ifndef VMIGRATE_MBOX_FROM_LINE_H_
#define VMIGRATE_MBOX_FROM_LINE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mbox/mbox_reader.h"

namespace vmigrate::mbox {

struct FromLine {
  std::string sender;
  std::int64_t naive_utc = 0;  // the written date/time read as if it were UTC
  bool has_zone = false;
  int zone_minutes = 0;        // east of UTC, when has_zone
};

/// Parses `line` (without its line end; it starts with "From ") the way `server`
/// decides whether a line is a message separator:
///   kDovecot: mbox-from.c mbox_from_parse: sender (quoted or up to a space),
///     spaces, "Www Mmm dd hh:mm:ss [NAMEDZONE ]yyyy[ +hhmm]"; a named zone is ignored.
///   kUw: c-client's VALID, read from the end of the line: "... Www Mmm dd
///     hh:mm[:ss] [zone ]yyyy[ +hhmm]" with an optional " remote from host" tail.
/// Returns false when the line is not a From_ line for that server.
bool ParseFromLine(const char* line, size_t size, OldServer server, FromLine* out);

/// Sets TZ to `zone` ("" = UTC; a name or a tzfile path) while alive, under a
/// process-wide lock, and restores the old TZ. The C library's zone rules are
/// global, so conversions of one mailbox are batched inside one scope.
class ZoneScope {
 public:
  explicit ZoneScope(const std::string& zone);
  ~ZoneScope();
  ZoneScope(const ZoneScope&) = delete;
  ZoneScope& operator=(const ZoneScope&) = delete;

  /// The UTC time of the wall-clock `naive_utc` in this zone, with the DST
  /// offset in force on that date (Dovecot: mktime with tm_isdst = -1).
  std::int64_t LocalToUtc(std::int64_t naive_utc) const;
  /// Seconds east of UTC in this zone at `utc` (c-client: "today's" offset).
  int OffsetAt(std::int64_t utc) const;

 private:
  bool had_tz_ = false;
  std::string old_tz_;
};

}  // namespace vmigrate::mbox

#endif  // VMIGRATE_MBOX_FROM_LINE_H_
