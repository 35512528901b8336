// A domain's qmailadmin limits in their two forms: the `.qmailadmin-limits`
// file (reference §6.1; vpopmail vlimits.c) and a row of the MySQL `limits`
// table of a --enable-mysql-limits build (reference §8.2). The MySQL store
// shows the row as the file, and turns an archived file into the row.
#ifndef VMIGRATE_VPOPMAIL_LIMITS_FILE_H_
#define VMIGRATE_VPOPMAIL_LIMITS_FILE_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vmigrate::vpopmail {

/// The value columns of the `limits` table after `domain`, in table order
/// (vpopmail 5.4.33 LIMITS_TABLE_LAYOUT).
const std::vector<std::string>& LimitsColumns();

/// A limits row: column name -> value as MySQL prints it ("50", "0").
using LimitsRow = std::map<std::string, std::string>;

/// The file vlimits_write_limits_file would write for `row`: `key: value`
/// lines for maxpopaccounts .. default_maxmsgcount, one line per set flag
/// (disable_pop ... disable_maildrop; disable_passwordchanging is written
/// disable_password_changing, disable_relay disable_external_relay), then
/// perm_account .. perm_defaultquota. Like vpopmail's writer, the mailing
/// list user/moderator bits (perm_maillist bits 3-8) go into perm_quota's
/// upper bits, and perm_maillist keeps bits 0-2. Missing columns read as
/// vpopmail's defaults (vdefault_limits).
std::string FormatLimitsFile(const LimitsRow& row);

/// The row for a file, read as vlimits_read_limits_file reads it (lines
/// split on LF/CR, '#' lines skipped, key up to ' ', '\t' or ':', values
/// atoi'd, flags by presence, perm_* masked to 3 bits); the inverse of
/// FormatLimitsFile, including the perm_quota/perm_maillist packing, so
/// a row survives row -> file -> row. Unknown keys are ignored, as vpopmail
/// does.
LimitsRow ParseLimitsFile(std::string_view text);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_LIMITS_FILE_H_
