// What vpopmail accepts as user and domain names, quotas and flags
// (reference §1.2-1.4, §3.1). Used on export (refuse what would be unsafe to
// carry) and, strictly, on import (the archive is untrusted).
#ifndef VMIGRATE_VPOPMAIL_NAMES_H_
#define VMIGRATE_VPOPMAIL_NAMES_H_

#include <string_view>

#include "core/status.h"
#include "model/vpasswd_entry.h"

namespace vmigrate::vpopmail {

/// Lower-case, 3..96 chars, [a-z0-9.-], no leading/trailing '-' or '.', no "..".
Status ValidateDomainName(std::string_view domain);
/// Non-empty, at most 32 bytes, printable ASCII without space and
/// "%(),:;<>@[\]/ and no upper case; not "." or "..".
Status ValidateUserName(std::string_view name);
/// NOQUOTA (anything starting "NO"), "", a bare number, NS, NC, NS,NC; <= 20 chars.
Status ValidateQuota(std::string_view quota);
/// Every field of an entry: name, flags (decimal), quota, no ':' or
/// newline where vpopmail cannot store one, line length < 256 bytes.
Status ValidateEntry(const VpasswdEntry& entry);

/// Names at the top of a domain dir that vpopmail regenerates (vpasswd,
/// vpasswd.cdb, .dir-control and their locks and backups) or that are
/// temporary files of vpopmail or vmigrate: never carried, never compared.
bool IsRegeneratedDomainFile(const std::string& name);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_NAMES_H_
