#include "unixhost/accounts.h"

#include <filesystem>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "core/strings.h"
#include "unixhost/crypt_check.h"
#include "vpopmail/names.h"

namespace vmigrate::unixhost {
namespace {

// The overflow uid (kernel's "nobody"): above UID_MIN on every Debian host,
// yet a system account.
constexpr unsigned long kOverflowUid = 65534;

std::string Quote(const std::string& s) { return "'" + EscapeC(s) + "'"; }

std::string Where(const std::string& file, size_t line) {
  return file + ":" + std::to_string(line);
}

bool ParseUlong(const std::string& s, unsigned long* out) {
  unsigned long long v = 0;
  if (!ParseUint64(s, &v) || v > static_cast<unsigned long long>(~0ul)) return false;
  *out = static_cast<unsigned long>(v);
  return true;
}

// The lines of a small text file; kNotFound when it is absent.
Result<std::vector<std::string>> ReadLines(const std::string& path) {
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  return SplitLines(*text);
}

bool IsSystemUid(unsigned long uid) { return uid == 0 || uid == kOverflowUid; }

}  // namespace

Result<std::vector<Account>> ReadAccounts(const std::string& root) {
  const std::string passwd_path = root + "/etc/passwd";
  const std::string shadow_path = root + "/etc/shadow";
  Result<std::vector<std::string>> passwd = ReadLines(passwd_path);
  if (!passwd.ok()) return passwd.status();

  // shadow: name -> hash (the first line of a name wins, as getspnam's scan).
  std::map<std::string, std::string> shadow;
  Result<std::vector<std::string>> shadow_lines = ReadLines(shadow_path);
  if (!shadow_lines.ok() && shadow_lines.status().code() != Status::Code::kNotFound)
    return shadow_lines.status();
  if (shadow_lines.ok()) {
    for (size_t i = 0; i < shadow_lines->size(); ++i) {
      const std::string& line = (*shadow_lines)[i];
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> f = Split(line, ':');
      if (f.size() < 2 || f.size() > 9 || f[0].empty())
        return Status::Corrupt(Where(shadow_path, i + 1) + ": expected 2 to 9 ':'-separated " +
                               "fields (name:hash:...), found " + std::to_string(f.size()));
      shadow.emplace(f[0], f[1]);
    }
  }

  std::vector<Account> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < passwd->size(); ++i) {
    const std::string& line = (*passwd)[i];
    const std::string where = Where(passwd_path, i + 1);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '+' || line[0] == '-')
      return Status::Unsupported(where + ": NIS compat entry " + Quote(line.substr(0, 1)) +
                                 ": its accounts live in NIS, not in this file");
    std::vector<std::string> f = Split(line, ':');
    if (f.size() != 7)
      return Status::Corrupt(where + ": expected 7 ':'-separated fields, found " +
                             std::to_string(f.size()));
    Account a;
    a.name = f[0];
    a.line = i + 1;
    if (a.name.empty()) return Status::Corrupt(where + ": empty user name");
    if (!ParseUlong(f[2], &a.uid)) return Status::Corrupt(where + ": uid " + Quote(f[2]) + " is not a number");
    if (!ParseUlong(f[3], &a.gid)) return Status::Corrupt(where + ": gid " + Quote(f[3]) + " is not a number");
    if (!seen.insert(a.name).second)
      return Status::Corrupt(where + ": user " + Quote(a.name) + " appears twice");
    a.gecos = f[4];
    a.home = f[5];
    a.shell = f[6];
    auto s = shadow.find(a.name);
    a.has_shadow = s != shadow.end();
    // pam_unix reads the shadow hash only when passwd says "x" (is_pwd_shadowed).
    a.hash = (f[1] == "x" && a.has_shadow) ? s->second : f[1];
    out.push_back(std::move(a));
  }
  return out;
}

std::string HomeOnDisk(const std::string& root, const Account& a) {
  if (a.home.empty() || a.home[0] != '/') return "";
  std::string home = std::filesystem::path(a.home).lexically_normal().string();
  if (home.find("/..") != std::string::npos) return "";
  while (home.size() > 1 && home.back() == '/') home.pop_back();
  std::string base = root;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return home == "/" ? (base.empty() ? "/" : base) : base + home;
}

Result<UidRange> ReadUidRange(const std::string& root) {
  const std::string path = root + "/etc/login.defs";
  UidRange range;
  Result<std::vector<std::string>> lines = ReadLines(path);
  if (!lines.ok()) {
    if (lines.status().code() == Status::Code::kNotFound) return range;
    return lines.status();
  }
  for (size_t i = 0; i < lines->size(); ++i) {
    std::string line = Trim((*lines)[i]);
    if (line.empty() || line[0] == '#') continue;
    size_t sep = line.find_first_of(" \t");
    if (sep == std::string::npos) continue;
    std::string key = line.substr(0, sep);
    if (key != "UID_MIN" && key != "UID_MAX") continue;
    std::string value = Trim(line.substr(sep));
    unsigned long v = 0;
    if (!ParseUlong(value, &v))
      return Status::Corrupt(Where(path, i + 1) + ": " + key + " " + Quote(value) +
                             " is not a decimal number");
    (key == "UID_MIN" ? range.min : range.max) = v;
  }
  if (range.min > range.max)
    return Status::Corrupt(path + ": UID_MIN " + std::to_string(range.min) + " is above UID_MAX " +
                           std::to_string(range.max));
  return range;
}

Result<UidRange> ParseUidRange(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("uid range " + Quote(text) + ": " + why);
  };
  size_t dash = text.find('-');
  if (dash == std::string::npos) return bad("expected A-B, e.g. 1000-60000");
  UidRange range;
  if (!ParseUlong(text.substr(0, dash), &range.min) || !ParseUlong(text.substr(dash + 1), &range.max))
    return bad("expected two decimal numbers A-B, e.g. 1000-60000");
  if (range.min > range.max) return bad("the first number is larger than the second");
  return range;
}

Result<std::vector<Account>> SelectAccounts(const std::vector<Account>& all, const UidRange& range,
                                            const std::vector<std::string>& names) {
  auto in_range = [&](const Account& a) {
    return !IsSystemUid(a.uid) && a.uid >= range.min && a.uid <= range.max;
  };
  const std::string range_text = std::to_string(range.min) + "-" + std::to_string(range.max);
  std::vector<Account> out;
  if (names.empty()) {
    for (const Account& a : all) {
      if (in_range(a)) out.push_back(a);
    }
  } else {
    std::set<std::string> done;
    for (const std::string& name : names) {
      if (!done.insert(name).second) continue;
      const Account* found = nullptr;
      for (const Account& a : all) {
        if (a.name == name) found = &a;
      }
      if (found == nullptr)
        return Status::NotFound("user " + Quote(name) + ": no such account in etc/passwd");
      if (!in_range(*found))
        return Status::DataRefused("user " + Quote(name) + ": uid " + std::to_string(found->uid) +
                                   " is a system account (real users have uids " + range_text +
                                   ", never 0 or 65534)");
      out.push_back(*found);
    }
  }
  // vpopmail lower-cases every login and recipient: "Bob" and "bob" would be
  // one mailbox.
  std::map<std::string, std::string> lowered;
  for (const Account& a : out) {
    auto [it, fresh] = lowered.emplace(ToLower(a.name), a.name);
    if (!fresh)
      return Status::Conflict("users " + Quote(it->second) + " and " + Quote(a.name) +
                              " would both become vpopmail user " + Quote(it->first));
  }
  return out;
}

Result<std::vector<std::string>> ReadUserList(const std::string& path) {
  Result<std::vector<std::string>> lines = ReadLines(path);
  if (!lines.ok()) return lines.status();
  std::vector<std::string> out;
  for (const std::string& raw : *lines) {
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    out.push_back(line);
  }
  return out;
}

Result<Converted> ConvertAccount(const Account& a, LockedPolicy policy) {
  const std::string who = "user " + Quote(a.name);
  Converted c;
  c.scheme = HashScheme(a.hash);
  c.name = ToLower(a.name);
  Status valid = vpopmail::ValidateUserName(c.name);
  if (!valid.ok()) {
    // ValidateUserName's reason without its own "user '...': " prefix.
    std::string why = valid.message();
    if (size_t colon = why.find("': "); colon != std::string::npos) why = why.substr(colon + 3);
    return Status::DataRefused(who + ": vpopmail cannot hold this name: " + why);
  }
  if (c.name != a.name)
    c.warnings.push_back(who + ": becomes " + Quote(c.name) + " (vpopmail lower-cases every login)");

  if (c.scheme == "locked" || c.scheme == "disabled" || c.scheme == "empty") {
    const std::string what = c.scheme == "locked"  ? "is locked ('!' hash)"
                             : c.scheme == "empty" ? "has an empty password field (no password at all)"
                                                   : "has no usable password (" + Quote(a.hash) + ")";
    if (policy == LockedPolicy::kSkip)
      return Status::DataRefused(who + ": " + what + "; --locked skip leaves it out");
    // crypt(3) never returns a string starting with '!' or '*' as a hash, so
    // such a passwd matches no password, the empty one included; "" would
    // match an empty password on an old libc (crypt("", "") == "").
    bool keep = !a.hash.empty() && (a.hash[0] == '!' || a.hash[0] == '*');
    c.passwd = keep ? a.hash : "!" + a.hash;
    c.flags = kDisabledFlags;
    c.disabled = true;
    c.warnings.push_back(who + ": " + what + "; carried as a disabled account (no login, mail kept)");
    return c;
  }
  if (!CanVerify(a.hash))
    return Status::DataRefused(who + ": its " + c.scheme +
                               " hash cannot be verified by this host's libcrypt; not carried");
  c.passwd = a.hash;
  if (c.scheme == "des")
    c.warnings.push_back(who + ": traditional DES hash: only the first 8 characters of the password count");
  return c;
}

}  // namespace vmigrate::unixhost
