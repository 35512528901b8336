#include "mbox/from_line.h"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

namespace vmigrate::mbox {
namespace {

const char* const kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool Digit(char c) { return c >= '0' && c <= '9'; }

int MonthIndex(const char* p) {
  for (int i = 0; i < 12; ++i)
    if (strncasecmp(kMonths[i], p, 3) == 0) return i;
  return -1;
}

std::int64_t NaiveUtc(int year, int mon, int mday, int hour, int min, int sec) {
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = mday;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return static_cast<std::int64_t>(timegm(&tm));
}

// "+hhmm" / "-hhmm" -> minutes east of UTC.
bool NumericZone(const std::string& t, int* minutes) {
  if (t.size() != 5 || (t[0] != '+' && t[0] != '-')) return false;
  for (size_t i = 1; i < 5; ++i)
    if (!Digit(t[i])) return false;
  int v = ((t[1] - '0') * 10 + (t[2] - '0')) * 60 + (t[3] - '0') * 10 + (t[4] - '0');
  *minutes = t[0] == '-' ? -v : v;
  return true;
}

// Dovecot 2.3 mbox-from.c: the date follows the sender and its spaces.
bool ParseDovecot(const char* p, const char* end, FromLine* out) {
  const char* s = p;
  if (s < end && *s == '"') {  // "quoted local part"@domain
    ++s;
    while (s < end && *s != '"') ++s;
    if (s == end) return false;
    ++s;
  }
  while (s < end && *s != ' ') ++s;
  out->sender.assign(p, s);
  while (s < end && *s == ' ') ++s;
  if (end - s < 24) return false;
  s += 4;  // weekday, not checked (as Dovecot)
  int mon = MonthIndex(s);
  if (mon < 0 || s[3] != ' ') return false;
  s += 4;
  int mday;
  if (s[0] == ' ') {
    if (!Digit(s[1]) || s[2] != ' ') return false;
    mday = s[1] - '0';
  } else {
    if (!Digit(s[0]) || !Digit(s[1]) || s[2] != ' ') return false;
    mday = (s[0] - '0') * 10 + (s[1] - '0');
  }
  if (mday == 0) mday = 1;
  s += 3;
  int f[3];
  for (int i = 0; i < 3; ++i) {
    char sep = i < 2 ? ':' : ' ';
    if (end - s < 3 || !Digit(s[0]) || !Digit(s[1]) || s[2] != sep) return false;
    f[i] = (s[0] - '0') * 10 + (s[1] - '0');
    s += 3;
  }
  if (end - s < 4) return false;
  if (!Digit(s[0]) || !Digit(s[1]) || !Digit(s[2]) || !Digit(s[3])) {
    // A named zone ("CEST") before the year: skipped and ignored, as Dovecot does.
    while (s < end && *s != ' ') ++s;
    if (end - s < 5) return false;
    ++s;
  }
  if (end - s < 4 || !Digit(s[0]) || !Digit(s[1]) || !Digit(s[2]) || !Digit(s[3])) return false;
  int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  s += 4;
  out->naive_utc = NaiveUtc(year, mon, mday, f[0], f[1], f[2]);
  int zone = 0;
  if (end - s >= 6 && s[0] == ' ' && NumericZone(std::string(s + 1, 5), &zone)) {
    out->has_zone = true;
    out->zone_minutes = zone;
  }
  return true;
}

// c-client VALID: the date sits at the end of the line, so senders with spaces
// pass; tokens are read backwards.
bool ParseUw(const char* p, const char* end, FromLine* out) {
  std::vector<std::string> tok;
  std::vector<const char*> starts;
  for (const char* s = p; s < end;) {
    while (s < end && *s == ' ') ++s;
    const char* b = s;
    while (s < end && *s != ' ') ++s;
    if (s > b) {
      tok.emplace_back(b, s);
      starts.push_back(b);
    }
  }
  size_t n = tok.size();
  if (n >= 3 && tok[n - 3] == "remote" && tok[n - 2] == "from") n -= 3;
  auto all_digits = [](const std::string& t) {
    if (t.empty()) return false;
    for (char c : t)
      if (!Digit(c)) return false;
    return true;
  };
  int zone = 0;
  bool has_zone = false;
  if (n > 0 && NumericZone(tok[n - 1], &zone)) {
    has_zone = true;
    --n;
  }
  if (n == 0 || tok[n - 1].size() != 4 || !all_digits(tok[n - 1])) return false;
  int year = std::atoi(tok[n - 1].c_str());
  --n;
  if (!has_zone && n > 0 && !tok[n - 1].empty() && !Digit(tok[n - 1][0]) &&
      tok[n - 1].find(':') == std::string::npos) {
    const std::string& z = tok[n - 1];
    if (NumericZone(z, &zone)) {
      has_zone = true;
    } else if (z == "GMT" || z == "UT" || z == "UTC" || z == "Z") {
      has_zone = true;
      zone = 0;
    }  // other names: c-client's zone table is not reproduced; read as local time
    --n;
  }
  if (n < 4) return false;
  const std::string& t = tok[n - 1];
  int hh, mm, ss = 0;
  if (t.size() == 8 && Digit(t[0]) && Digit(t[1]) && t[2] == ':' && Digit(t[3]) && Digit(t[4]) &&
      t[5] == ':' && Digit(t[6]) && Digit(t[7])) {
    ss = (t[6] - '0') * 10 + (t[7] - '0');
  } else if (!(t.size() == 5 && Digit(t[0]) && Digit(t[1]) && t[2] == ':' && Digit(t[3]) &&
               Digit(t[4]))) {
    return false;
  }
  hh = (t[0] - '0') * 10 + (t[1] - '0');
  mm = (t[3] - '0') * 10 + (t[4] - '0');
  const std::string& d = tok[n - 2];
  if (d.empty() || d.size() > 2 || !all_digits(d)) return false;
  int mday = std::atoi(d.c_str());
  const std::string& m = tok[n - 3];
  int mon = m.size() == 3 ? MonthIndex(m.c_str()) : -1;
  if (mon < 0 || tok[n - 4].size() != 3) return false;
  n -= 4;
  out->sender = n > 0 ? std::string(starts[0], starts[n - 1] + tok[n - 1].size()) : std::string();
  out->naive_utc = NaiveUtc(year, mon, mday, hh, mm, ss);
  out->has_zone = has_zone;
  out->zone_minutes = zone;
  return true;
}

std::mutex& TzMutex() {
  static std::mutex m;
  return m;
}

}  // namespace

bool ParseFromLine(const char* line, size_t size, OldServer server, FromLine* out) {
  *out = FromLine();
  if (size < 5 || std::memcmp(line, "From ", 5) != 0) return false;
  const char* end = line + size;
  while (end > line && (end[-1] == '\n' || end[-1] == '\r')) --end;
  return server == OldServer::kDovecot ? ParseDovecot(line + 5, end, out)
                                       : ParseUw(line + 5, end, out);
}

ZoneScope::ZoneScope(const std::string& zone) {
  TzMutex().lock();
  const char* old = std::getenv("TZ");
  had_tz_ = old != nullptr;
  if (had_tz_) old_tz_ = old;
  // glibc reads a tzfile path given as ":/path"; a name is looked up in zoneinfo.
  std::string value = zone.empty() ? "UTC0" : (zone[0] == '/' ? ":" + zone : zone);
  setenv("TZ", value.c_str(), 1);
  tzset();
}

ZoneScope::~ZoneScope() {
  if (had_tz_)
    setenv("TZ", old_tz_.c_str(), 1);
  else
    unsetenv("TZ");
  tzset();
  TzMutex().unlock();
}

std::int64_t ZoneScope::LocalToUtc(std::int64_t naive_utc) const {
  time_t t = static_cast<time_t>(naive_utc);
  struct tm tm {};
  gmtime_r(&t, &tm);
  tm.tm_isdst = -1;
  return static_cast<std::int64_t>(mktime(&tm));
}

int ZoneScope::OffsetAt(std::int64_t utc) const {
  time_t t = static_cast<time_t>(utc);
  struct tm tm {};
  localtime_r(&t, &tm);
  return static_cast<int>(tm.tm_gmtoff);
}

}  // namespace vmigrate::mbox
