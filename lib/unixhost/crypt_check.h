// Password hashes of a Unix host's /etc/shadow (reference sources-and-cutover
// §6.1-6.3): which crypt(3) scheme a hash uses, and whether this host's
// libcrypt can verify it. vpopmail checks a login with
// strcmp(crypt(clear, pw_passwd), pw_passwd), so a hash is carried verbatim
// when, and only when, the target's crypt(3) understands its scheme.
#ifndef VMIGRATE_UNIXHOST_CRYPT_CHECK_H_
#define VMIGRATE_UNIXHOST_CRYPT_CHECK_H_

#include <string>

namespace vmigrate::unixhost {

/// Scheme name of a shadow hash field, from its prefix (man 5 crypt, §6.2):
/// "yescrypt" ($y$), "gost-yescrypt" ($gy$), "scrypt" ($7$), "bcrypt"
/// ($2a$ $2b$ $2x$ $2y$), "sha512crypt" ($6$), "sha256crypt" ($5$),
/// "md5crypt" ($1$), "bsdi-des" ('_' + 19 characters), "des" (13 characters
/// of [./0-9A-Za-z]), "sunmd5" ($md5), "sha1crypt" ($sha1$), "nt" ($3$);
/// "locked" for a leading '!' (usermod -L / passwd -l keep the old hash
/// after it), "empty" for an empty field, "disabled" for '*' and any other
/// string that is not a crypt result ("x", "NP", "*LK*"); "unknown" for a
/// '$id$' prefix not listed here (e.g. "$argon2id$").
std::string HashScheme(const std::string& hash);

/// True when THIS host's libcrypt verifies `hash`: crypt_r(3) of a probe
/// password with `hash` as the setting returns a result of the same length
/// and the same setting prefix (salt and parameters), not libxcrypt's '*'
/// failure token. Import runs on the target, so that is where it decides;
/// export asks the machine it runs on and says so in its report. False for
/// locked, disabled and empty hashes. A truncated or damaged hash of a known
/// scheme is false too (its result differs in length).
bool CanVerify(const std::string& hash);

}  // namespace vmigrate::unixhost

#endif  // VMIGRATE_UNIXHOST_CRYPT_CHECK_H_
