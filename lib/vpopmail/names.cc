#include "vpopmail/names.h"

#include <string>

#include "core/strings.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::vpopmail {
namespace {

constexpr size_t kMinDomain = 3;
constexpr size_t kMaxDomain = 96;
constexpr size_t kMaxUserName = 32;     // MAX_PW_NAME in 5.4 (64 in 5.6)
constexpr size_t kMaxUserName56 = 64;
constexpr size_t kMaxCarriedName = 255;  // NAME_MAX: the name is the home's directory name
constexpr size_t kMaxQuota = 20;        // MAX_PW_QUOTA

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

Status CheckUserNameCarriable(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("user " + Quote(name) + ": " + why);
  };
  if (name.empty()) return Status::InvalidInput("user name is empty");
  if (name == "." || name == "..") return bad("not a valid user name");
  if (name.size() > kMaxCarriedName) return bad("longer than 255 bytes");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad("contains a control byte");
  }
  // '/' and '\\' would leave the home's directory (and break archive member
  // names), ':' the vpasswd line, '@' the @@...@@ path placeholders.
  if (HasAny(name, "/\\:@")) return bad("contains '/', '\\', ':' or '@', which vpopmail refuses");
  return Status::OK();
}

std::string UnreachableReason(std::string_view name) {
  Status valid = ValidateUserName(name);
  if (valid.ok()) return "";
  for (char c : name) {
    if (c >= 'A' && c <= 'Z')
      return "upper-case letters: vpopmail lower-cases every login and recipient, so no login "
             "or mail reaches this account";
  }
  if (name.size() > kMaxUserName && name.size() <= kMaxUserName56 &&
      ValidateUserName(name.substr(0, kMaxUserName)).ok())
    return "longer than the 32 bytes vpopmail 5.4 allows (5.6 allows 64)";
  // ValidateUserName's own reason, without its "user '...': " prefix.
  std::string why = valid.message();
  size_t colon = why.find("': ");
  if (colon != std::string::npos) why = why.substr(colon + 3);
  return "a name vpopmail never creates (" + why + "), so it cannot reach this account";
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
  VM_RETURN_IF_ERROR(CheckUserNameCarriable(entry.name));
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
  return Status::OK();
}

size_t VpasswdLineLength(const VpasswdEntry& entry) { return FormatVpasswdLine(entry).size(); }

Status CheckVpasswdLineLength(const VpasswdEntry& entry, size_t max) {
  size_t length = VpasswdLineLength(entry);
  if (length <= max) return Status::OK();
  std::string which = max == kVpasswdLineMax54   ? " (vpopmail 5.4's cdb builder)"
                      : max == kVpasswdLineMax56 ? " (vpopmail 5.6's user listing)"
                                                 : "";
  return Status::DataRefused("user " + Quote(entry.name) + ": vpasswd line is " +
                             std::to_string(length) + " bytes; the target's vpopmail reads at most " +
                             std::to_string(max) + which);
}

std::string VpasswdLineWarning(const VpasswdEntry& entry) {
  size_t length = VpasswdLineLength(entry);
  if (length <= kVpasswdLineMax54) return "";
  std::string text = "user " + Quote(entry.name) + ": vpasswd line is " + std::to_string(length) +
                     " bytes; vpopmail 5.4 reads at most " + std::to_string(kVpasswdLineMax54);
  if (length <= kVpasswdLineMax56) return text + " (5.6 reads it)";
  return text + ", 5.6 at most " + std::to_string(kVpasswdLineMax56);
}

std::vector<UnreachableUser> FindUnreachableUsers(const ManifestDomain& domain) {
  std::vector<UnreachableUser> out;
  for (const ManifestUser& u : domain.users) {
    std::string reason = UnreachableReason(u.entry.name);
    if (!reason.empty()) out.push_back({domain.name, u.entry.name, reason});
  }
  return out;
}

std::string DescribeUnreachable(const UnreachableUser& user) {
  return user.domain + ": user " + Quote(user.name) + ": " + user.reason;
}

bool IsRegeneratedDomainFile(const std::string& name) {
  return name == "vpasswd" || name == "vpasswd.cdb" || name == ".vpasswd.lock" ||
         name == ".dir-control" || name == ".dir_control_free" ||
         name == ".dir_control_free.lock" || name == "cdb.tmp" ||
         StartsWith(name, "vpasswd.bak.") || StartsWith(name, ".dir-control.") ||
         StartsWith(name, ".vmigrate-") ||
         // AtomicFile's temp files of these (".vpasswd.vmigrate-tmp.<pid>") left by a killed run
         (StartsWith(name, ".vpasswd.") && name.find(".vmigrate-tmp.") != std::string::npos);
}

}  // namespace vmigrate::vpopmail
