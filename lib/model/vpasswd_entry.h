// One vpasswd line as vpopmail stores it. Every field is kept as the exact
// text found, so hashes, flags and quotas round-trip byte for byte.
#ifndef VMIGRATE_MODEL_VPASSWD_ENTRY_H_
#define VMIGRATE_MODEL_VPASSWD_ENTRY_H_

#include <string>

namespace vmigrate {

struct VpasswdEntry {
  std::string name;     // pw_name: local part
  std::string passwd;   // pw_passwd: crypt(3) string, copied verbatim
  std::string uid;      // pw_uid: 1 = POP, 2 = APOP in the cdb backend; opaque
  std::string gid;      // pw_gid: the per-user flag bitmask, decimal
  std::string gecos;    // pw_gecos
  std::string dir;      // pw_dir: absolute home, <domaindir>[/<bucket>]/<name>
  std::string quota;    // pw_shell: quota string (NOQUOTA, 5000000S,1000C, ...)
  std::string clear;    // pw_clear_passwd; meaningful only when has_clear
  bool has_clear = false;  // the line had an 8th field (possibly empty)

  bool operator==(const VpasswdEntry& o) const {
    return name == o.name && passwd == o.passwd && uid == o.uid && gid == o.gid &&
           gecos == o.gecos && dir == o.dir && quota == o.quota && clear == o.clear &&
           has_clear == o.has_clear;
  }
};

}  // namespace vmigrate

#endif  // VMIGRATE_MODEL_VPASSWD_ENTRY_H_
