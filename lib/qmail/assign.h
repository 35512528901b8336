// qmail's users/assign and the users/cdb that qmail-newu builds from it
// (reference §4.4). vpopmail registers each domain with one wildcard line:
//   +<domain>-:<realdomain>:<uid>:<gid>:<domaindir>:-::
#ifndef VMIGRATE_QMAIL_ASSIGN_H_
#define VMIGRATE_QMAIL_ASSIGN_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "core/status.h"

namespace vmigrate::qmail {

/// A vpopmail domain line of users/assign.
struct DomainAssign {
  std::string domain;       // the name mail is addressed to (real or alias)
  std::string real_domain;  // the domain whose directory and users it uses
  uid_t uid = 0;
  gid_t gid = 0;
  std::string dir;          // absolute domain directory (host path)

  bool is_alias() const { return domain != real_domain; }
};

/// "+<domain>-:<real>:<uid>:<gid>:<dir>:-::"
std::string FormatDomainAssignLine(const DomainAssign& entry);

/// The vpopmail domain lines of an assign file's text: '+' lines whose key
/// ends in '-', with at least 7 fields and numeric uid/gid. Lines after the
/// "." terminator are ignored. Other lines are not returned (but are kept by
/// writers, which work on the raw text).
std::vector<DomainAssign> ParseDomainAssigns(std::string_view assign_text);

/// Builds users/cdb from assign text exactly as qmail-newu does: key
/// "!"+lower(local) for '+' lines, "!"+lower(local)+"\0" for '=' lines,
/// value = the next 6 fields joined by '\0', plus the empty key holding the
/// set of wildcard characters. Written to <cdb_path>.tmp, fsynced, renamed.
/// kCorrupt (and no change) when the text lacks the "." terminator or a line
/// is malformed, as qmail-newu refuses.
/// Mode and owner as qmail::QmailFileAttrsFor() (qmail/control_file.h).
Status WriteUsersCdb(std::string_view assign_text, const std::string& cdb_path);

/// Writes a cdb holding `records` (key, value), added in the given order, to
/// `tmp_path`; fsyncs it, sets the mode and owner QmailFileAttrsFor(cdb_path)
/// gives (an existing cdb keeps its own; a new one is 0644, root's when we
/// run as root) and renames it to `cdb_path` (the qmail-newu / qmail-newmrh
/// sequence). The temp file is removed on failure.
Status WriteCdbFile(const std::vector<std::pair<std::string, std::string>>& records,
                    const std::string& cdb_path, const std::string& tmp_path);

}  // namespace vmigrate::qmail

#endif  // VMIGRATE_QMAIL_ASSIGN_H_
