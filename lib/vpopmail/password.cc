#include "vpopmail/password.h"

#include <crypt.h>

#include <cstring>
#include <memory>

#include "core/strings.h"

namespace vmigrate::vpopmail {

std::string WeakHashScheme(const std::string& crypt) {
  if (StartsWith(crypt, "$1$")) return "md5";
  if (crypt.size() == 13 && crypt[0] != '$') return "des";
  return "";
}

bool CryptMatches(const std::string& clear, const std::string& hash) {
  if (hash.empty()) return false;
  // struct crypt_data is ~32 KiB: on the heap, not the stack.
  auto data = std::make_unique<struct crypt_data>();
  std::memset(data.get(), 0, sizeof(struct crypt_data));
  const char* out = crypt_r(clear.c_str(), hash.c_str(), data.get());
  // libxcrypt returns "*0"/"*1" (never a valid hash) on failure.
  return out != nullptr && out[0] != '*' && hash == out;
}

}  // namespace vmigrate::vpopmail
