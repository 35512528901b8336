// Shared between mysql_store.cc (read side) and mysql_store_write.cc.
#ifndef VMIGRATE_VPOPMAIL_MYSQL_STORE_INTERNAL_H_
#define VMIGRATE_VPOPMAIL_MYSQL_STORE_INTERNAL_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/vpasswd_entry.h"
#include "vpopmail/limits_file.h"
#include "vpopmail/mysql_store.h"

namespace vmigrate::vpopmail {

// The user columns in VpasswdEntry order (vmysql.h TABLE_LAYOUT, without
// pw_domain).
inline constexpr const char* kUserColumns[] = {"pw_name",  "pw_passwd", "pw_uid",   "pw_gid",
                                               "pw_gecos", "pw_dir",    "pw_shell", "pw_clear_passwd"};

// dir_control's 16 value columns in table order (DIR_CONTROL_TABLE_LAYOUT),
// and a row of them as .dir-control text (a NULL keeps DirControl's default).
extern const char kDirControlColumns[];
std::string DirControlText(const sql::Row& row);

// What StageUsers holds for CommitDomain.
struct MySqlUserStore::Staged {
  std::vector<VpasswdEntry> entries;
  std::vector<std::pair<std::string, std::string>> valias;  // (alias, valias_line) in file/line order
  std::optional<LimitsRow> limits;
  // Columns of the user table to widen first: (column, new definition).
  std::vector<std::pair<std::string, std::string>> widen;
};

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_MYSQL_STORE_INTERNAL_H_
