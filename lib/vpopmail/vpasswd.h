// vpasswd (text, the source of truth) and vpasswd.cdb (what vchkpw reads).
// Format: name:passwd:uid:gid:gecos:dir:quota[:clear] (reference §1.2, §1.5).
#ifndef VMIGRATE_VPOPMAIL_VPASSWD_H_
#define VMIGRATE_VPOPMAIL_VPASSWD_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/atomic_file.h"
#include "core/status.h"
#include "model/vpasswd_entry.h"

namespace vmigrate::vpopmail {

/// Parses one line (no trailing newline). The 8th field runs to the end of
/// the line and may itself contain ':'. kCorrupt when fewer than 7 fields.
Result<VpasswdEntry> ParseVpasswdLine(std::string_view line);

/// The line without newline; 8 fields when has_clear, else 7.
std::string FormatVpasswdLine(const VpasswdEntry& entry);

/// Reads a vpasswd file. Errors name the line number. kNotFound when absent.
Result<std::vector<VpasswdEntry>> ReadVpasswd(const std::string& path);

/// Writes <domain_dir>/vpasswd (lines in strcmp order of name, mode 0600)
/// and <domain_dir>/vpasswd.cdb in the layout make_vpasswd_cdb writes (key =
/// name, value = the rest of the line after the first ':'), both atomically.
Status WriteVpasswdFiles(const std::string& domain_dir, std::vector<VpasswdEntry> entries,
                         std::optional<FileOwner> owner);

/// Like WriteVpasswdFiles, but keeps the order of `entries` (a live file
/// rewritten in place, e.g. the login lock changing flags). kInvalidInput
/// for a name given twice or a field vpasswd cannot hold.
Status RewriteVpasswdFiles(const std::string& domain_dir, const std::vector<VpasswdEntry>& entries,
                           std::optional<FileOwner> owner);

/// Reads every record of a cdb file (for checks and tests).
Result<std::map<std::string, std::string>> ReadCdbRecords(const std::string& path);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_VPASSWD_H_
