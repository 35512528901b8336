#include "vpopmail/flags.h"

#include <cstdint>
#include <cstdio>

#include "core/strings.h"

namespace vmigrate::vpopmail {

std::vector<std::string> FlagNames(std::string_view pw_gid) {
  // Bit i is kNames[i] (FMT §1.3, identical in vpopmail 5.4, 5.5 and 5.6).
  static const char* const kNames[] = {
      "NO_PASSWD_CHNG", "NO_POP",   "NO_WEBMAIL", "NO_IMAP",    "BOUNCE_MAIL",     "NO_RELAY",
      "NO_DIALUP",      "V_USER0",  "V_USER1",    "V_USER2",    "V_USER3",         "NO_SMTP",
      "QA_ADMIN",       "V_OVERRIDE", "NO_SPAMASSASSIN", "DELETE_SPAM", "SA_ADMIN", "SA_EXPERT",
      "NO_MAILDROP"};
  constexpr size_t kKnown = sizeof kNames / sizeof kNames[0];
  std::vector<std::string> out;
  unsigned long long bits = 0;
  if (!ParseUint64(std::string(pw_gid), &bits)) return out;
  for (size_t i = 0; i < 64; ++i) {
    if ((bits & (1ull << i)) == 0) continue;
    if (i < kKnown) {
      out.push_back(kNames[i]);
    } else {
      char buf[24];
      std::snprintf(buf, sizeof buf, "0x%llx", 1ull << i);
      out.push_back(buf);
    }
  }
  return out;
}

}  // namespace vmigrate::vpopmail
