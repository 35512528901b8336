#include "vpopmail/names.h"

#include <string>

#include "core/strings.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::vpopmail {
namespace {

constexpr size_t kMinDomain = 3;
constexpr size_t kMaxDomain = 96;
constexpr size_t kMaxUserName = 32;  // MAX_PW_NAME in 5.4
constexpr size_t kMaxQuota = 20;     // MAX_PW_QUOTA
// make_vpasswd_cdb reads vpasswd with fgets() into 256 bytes: 255 characters
// including the newline. A longer line is split in two and the second half
// sends its ':' scan past the buffer.
constexpr size_t kMaxLine = 254;

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Names are quoted with escapes so a hostile name cannot break the line.
std::string Quote(std::string_view s) { return "'" + EscapeC(s) + "'"; }

bool HasAny(std::string_view s, std::string_view chars) {
  return s.find_first_of(chars) != std::string_view::npos;
}

const std::string_view kLineBreaksAndNul("\n\r\0", 3);

}  // namespace

Status ValidateDomainName(std::string_view domain) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("domain " + Quote(domain) + ": " + why);
  };
  if (domain.size() < kMinDomain || domain.size() > kMaxDomain) {
    return bad("must be 3 to 96 characters long");
  }
  for (char c : domain) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    if (!ok) return bad("only lower-case letters, digits, '.' and '-' are allowed");
  }
  if (domain.front() == '-' || domain.front() == '.' || domain.back() == '-' ||
      domain.back() == '.') {
    return bad("must not start or end with '-' or '.'");
  }
  if (domain.find("..") != std::string_view::npos) return bad("contains an empty label");
  if (domain.find('.') == std::string_view::npos) return bad("has no '.'");
  return Status::OK();
}

Status ValidateUserName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("user " + Quote(name) + ": " + why);
  };
  if (name.empty()) return Status::InvalidInput("user name is empty");
  if (name.size() > kMaxUserName) return bad("longer than 32 bytes");
  if (name == "." || name == "..") return bad("not a valid user name");
  for (char c : name) {
    if (c < 0x21 || c > 0x7e) return bad("contains a space, control or non-ASCII byte");
    if (c >= 'A' && c <= 'Z') return bad("contains upper-case letters");
  }
  // One-character names are refused for new users by vpopmail (they could
  // clash with bucket dirs) but may exist in old data, so they pass here.
  if (HasAny(name, "\"%(),:;<>@[\\]/")) return bad("contains a character vpopmail refuses");
  return Status::OK();
}

Status ValidateQuota(std::string_view quota) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("quota " + Quote(quota) + ": " + why);
  };
  if (quota.size() > kMaxQuota) return bad("longer than 20 characters");
  if (HasAny(quota, std::string_view(":\n\r\0", 4))) return bad("contains ':' or a line break");
  // vdelivermail compares only the first two characters with "NOQUOTA".
  if (quota.empty() || StartsWith(quota, "NO")) return Status::OK();
  int sizes = 0;
  int counts = 0;
  for (const std::string& part : Split(quota, ',')) {
    std::string_view digits = part;
    if (!part.empty() && (part.back() == 'S' || part.back() == 'C')) {
      (part.back() == 'S' ? sizes : counts)++;
      digits.remove_suffix(1);
    } else {
      ++sizes;  // a bare number is bytes (pre-5.1.1 data)
    }
    if (!IsDigits(digits)) return bad("expected <bytes>S, <count>C or both");
  }
  if (sizes > 1 || counts > 1) return bad("gives the size or the count twice");
  return Status::OK();
}

Status ValidateEntry(const VpasswdEntry& entry) {
  VM_RETURN_IF_ERROR(ValidateUserName(entry.name));
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("user " + Quote(entry.name) + ": " + why);
  };
  unsigned long long flags = 0;
  if (!ParseUint64(entry.gid, &flags) || !IsDigits(entry.gid) || flags > 0xffffffffULL) {
    return bad("flags (gid) must be a decimal number below 2^32");
  }
  if (!entry.uid.empty() && !IsDigits(entry.uid)) return bad("uid field must be decimal");
  // The password fields are never echoed: only the field name is reported.
  struct Field {
    const char* what;
    const std::string* value;
  };
  const Field fields[] = {{"password hash", &entry.passwd},
                          {"gecos", &entry.gecos},
                          {"dir", &entry.dir},
                          {"quota", &entry.quota}};
  for (const Field& f : fields) {
    if (HasAny(*f.value, ":") || HasAny(*f.value, kLineBreaksAndNul)) {
      return bad(std::string(f.what) + " contains ':' or a line break");
    }
  }
  VM_RETURN_IF_ERROR(ValidateQuota(entry.quota).WithContext("user " + Quote(entry.name)));
  if (entry.has_clear && HasAny(entry.clear, kLineBreaksAndNul)) {
    return bad("cleartext password contains a line break");
  }
  if (!entry.has_clear && !entry.clear.empty()) {
    return bad("cleartext password given without the 8th field");
  }
  size_t length = FormatVpasswdLine(entry).size();
  if (length > kMaxLine) {
    return bad("vpasswd line is " + std::to_string(length) + " bytes; vpopmail reads at most " +
               std::to_string(kMaxLine));
  }
  return Status::OK();
}

bool IsRegeneratedDomainFile(const std::string& name) {
  return name == "vpasswd" || name == "vpasswd.cdb" || name == ".vpasswd.lock" ||
         name == ".dir-control" || name == ".dir_control_free" ||
         name == ".dir_control_free.lock" || name == "cdb.tmp" ||
         StartsWith(name, "vpasswd.bak.") || StartsWith(name, ".dir-control.") ||
         StartsWith(name, ".vmigrate-");
}

}  // namespace vmigrate::vpopmail
