#include "unixhost/crypt_check.h"

#include <crypt.h>

#include <cstring>
#include <memory>

#include "core/strings.h"

namespace vmigrate::unixhost {
namespace {

bool IsCryptBase64(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}

bool AllCryptBase64(const std::string& s) {
  for (char c : s) {
    if (!IsCryptBase64(c)) return false;
  }
  return true;
}

// The part of a hash that crypt(3) takes as the setting: for '$' schemes
// everything up to the last '$' (id, parameters, salt), for BSDi DES the
// '_' + 4 rounds + 4 salt characters, for traditional DES the 2-character salt.
std::string SettingPrefix(const std::string& hash) {
  if (StartsWith(hash, "$")) {
    size_t last = hash.rfind('$');
    return hash.substr(0, last + 1);
  }
  if (StartsWith(hash, "_")) return hash.substr(0, 9);
  return hash.substr(0, 2);
}

}  // namespace

std::string HashScheme(const std::string& hash) {
  if (hash.empty()) return "empty";
  if (hash[0] == '!') return "locked";
  if (hash[0] == '*') return "disabled";
  if (hash[0] == '$') {
    // Longest prefixes first: "$md5" before nothing else, "$gy$" before "$y$".
    static const struct {
      const char* prefix;
      const char* scheme;
    } kPrefixes[] = {
        {"$y$", "yescrypt"},   {"$gy$", "gost-yescrypt"}, {"$7$", "scrypt"},
        {"$2a$", "bcrypt"},    {"$2b$", "bcrypt"},        {"$2x$", "bcrypt"},
        {"$2y$", "bcrypt"},    {"$6$", "sha512crypt"},    {"$5$", "sha256crypt"},
        {"$1$", "md5crypt"},   {"$sha1$", "sha1crypt"},   {"$md5$", "sunmd5"},
        {"$md5,", "sunmd5"},   {"$3$", "nt"},
    };
    for (const auto& p : kPrefixes) {
      if (StartsWith(hash, p.prefix)) return p.scheme;
    }
    return "unknown";
  }
  if (hash[0] == '_' && hash.size() == 20 && AllCryptBase64(hash.substr(1))) return "bsdi-des";
  if (hash.size() == 13 && AllCryptBase64(hash)) return "des";
  return "disabled";
}

bool CanVerify(const std::string& hash) {
  std::string scheme = HashScheme(hash);
  if (scheme == "empty" || scheme == "locked" || scheme == "disabled") return false;
  // struct crypt_data is ~32 KiB: on the heap, not the stack.
  auto data = std::make_unique<struct crypt_data>();
  std::memset(data.get(), 0, sizeof(struct crypt_data));
  const char* out = crypt_r("vmigrate-probe", hash.c_str(), data.get());
  // libxcrypt returns "*0" or "*1" (never a valid hash) for a setting it
  // does not support; an old glibc returns NULL.
  if (out == nullptr || out[0] == '*') return false;
  std::string result(out);
  return result.size() == hash.size() && SettingPrefix(result) == SettingPrefix(hash);
}

}  // namespace vmigrate::unixhost
