// What vpopmail accepts as user and domain names, quotas and flags
// (reference §1.2-1.4, §3.1), and the longest vpasswd line each vpopmail
// version reads. Used on export (refuse what would be unsafe to carry), on
// import (the archive is untrusted) and by verify and inspect.
#ifndef VMIGRATE_VPOPMAIL_NAMES_H_
#define VMIGRATE_VPOPMAIL_NAMES_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/manifest.h"
#include "model/vpasswd_entry.h"

namespace vmigrate::vpopmail {

// The longest vpasswd line (bytes, without the newline) that vpopmail reads
// back whole. Every tool reads vpasswd with fgets() into a fixed buffer; a
// longer line is split, and the rest is taken for a line of its own.
//  - 5.4.33: make_vpasswd_cdb (vcdb.c), which builds vpasswd.cdb (the file
//    every login and delivery reads), uses char pwline[256]: 254 bytes plus
//    the newline. Its ':' scan of the split-off rest runs past the buffer.
//    vgetent (vpopmail.c; listing users) reads MAX_BUFF = 300.
//  - 5.6.x: make_vpasswd_cdb reads MAX_BUFF_CDB = 512 (vcdb.h), but vgetent,
//    behind vauth_getall (vuserinfo -D, vdeldomain, qmailadmin's user list),
//    still reads MAX_BUFF = 300: 298 bytes plus the newline; the split-off
//    newline ends its iteration, hiding every later user.
// Writers check none of this: 5.6 writes SHA-512 hashes (106 bytes) and
// 64-byte gecos fields, so its lines can be longer than 5.4 reads. Export
// reads any length; import refuses, before writing, a line (with the
// target's home path) longer than the target reads: kVpasswdLineMax54 unless
// --vpasswd-line-max says the target reads more.
constexpr size_t kVpasswdLineMax54 = 254;
constexpr size_t kVpasswdLineMax56 = 298;

/// Length of `entry`'s vpasswd line without the newline.
size_t VpasswdLineLength(const VpasswdEntry& entry);

/// kDataRefused when `entry`'s line is longer than `max` bytes: "user 'ken':
/// vpasswd line is 258 bytes; the target's vpopmail reads at most 254 ...",
/// naming the user, the length and the limit (never a password field).
Status CheckVpasswdLineLength(const VpasswdEntry& entry, size_t max);

/// Empty when vpopmail 5.4 reads `entry`'s line whole; otherwise a warning
/// naming the user, the length and which vpopmail versions read it.
std::string VpasswdLineWarning(const VpasswdEntry& entry);

/// Lower-case, 3..96 chars, [a-z0-9.-], no leading/trailing '-' or '.', no "..".
Status ValidateDomainName(std::string_view domain);
/// A name vpopmail could have created: non-empty, at most 32 bytes (5.4's
/// MAX_PW_NAME), printable ASCII without space and "%(),:;<>@[\]/ and no
/// upper case; not "." or "..".
Status ValidateUserName(std::string_view name);
/// A name that is safe to carry even though vpopmail may not reach it: one
/// directory component (not empty, "." or "..", no '/' or '\\', at most 255
/// bytes), one vpasswd field (no ':'), one path placeholder (no '@'), one
/// line of output (no NUL, control byte or DEL). kInvalidInput otherwise.
Status CheckUserNameCarriable(std::string_view name);
/// Empty when ValidateUserName accepts `name`; otherwise why vpopmail cannot
/// reach that account (e.g. upper case: vpopmail lower-cases every login and
/// recipient before it looks the user up).
std::string UnreachableReason(std::string_view name);
/// NOQUOTA (anything starting "NO"), "", a bare number, NS, NC, NS,NC; <= 20 chars.
Status ValidateQuota(std::string_view quota);
/// Every field of an entry: a carriable name (CheckUserNameCarriable), flags
/// (decimal), uid, quota, no ':' or newline where vpopmail cannot store one.
/// The line length is not checked here: it depends on the host that reads
/// the line (CheckVpasswdLineLength). kInvalidInput naming the user.
Status ValidateEntry(const VpasswdEntry& entry);

/// An account vpopmail could not have created (UnreachableReason), found in
/// a vpasswd file or an archive; `name` is as stored, escape it to print.
struct UnreachableUser {
  std::string domain;
  std::string name;
  std::string reason;
};

/// The accounts of `domain` that vpopmail cannot reach, in manifest order.
std::vector<UnreachableUser> FindUnreachableUsers(const ManifestDomain& domain);

/// "<domain>: user '<name>': <reason>" (name escaped), one line.
std::string DescribeUnreachable(const UnreachableUser& user);

/// Names at the top of a domain dir that vpopmail regenerates (vpasswd,
/// vpasswd.cdb, .dir-control and their locks and backups) or that are
/// temporary files of vpopmail or vmigrate: never carried, never compared.
bool IsRegeneratedDomainFile(const std::string& name);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_NAMES_H_
