// vpopmail password hashes (pw_passwd, reference §1.2): crypt(3) strings
// carried verbatim. Checks only; nothing here makes or changes a hash.
#ifndef VMIGRATE_VPOPMAIL_PASSWORD_H_
#define VMIGRATE_VPOPMAIL_PASSWORD_H_

#include <string>

namespace vmigrate::vpopmail {

/// Crypt schemes vpopmail users may carry that are weak today: "des" (13
/// characters, no '$'), "md5" ("$1$"), or "" for stronger or unknown schemes.
std::string WeakHashScheme(const std::string& crypt);

/// Whether `clear` hashes to `hash` with crypt_r(3) (DES, MD5, SHA-256/512,
/// bcrypt, yescrypt: whatever libxcrypt supports). False for an empty hash
/// or one libxcrypt rejects.
bool CryptMatches(const std::string& clear, const std::string& hash);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_PASSWORD_H_
