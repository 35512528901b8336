// Names of the per-user flag bits vpopmail keeps in vpasswd's pw_gid field
// (reference FMT §1.3, V54:vpopmail.h "gid flags"), for inspect.
#ifndef VMIGRATE_VPOPMAIL_FLAGS_H_
#define VMIGRATE_VPOPMAIL_FLAGS_H_

#include <string>
#include <string_view>
#include <vector>

namespace vmigrate::vpopmail {

/// The names of the bits set in a pw_gid field, lowest bit first
/// ("NO_POP", "NO_SMTP", ...); a bit vpopmail does not define is named by
/// its value ("0x80000"). Empty for "0" and for a field that is not a
/// decimal number (the caller shows the field as it is).
std::vector<std::string> FlagNames(std::string_view pw_gid);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_FLAGS_H_
