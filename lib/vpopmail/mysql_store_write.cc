// MySqlUserStore's write side: staging an imported domain (width check,
// alias and limits files taken as rows), the one-transaction commit, its
// undo, and in-place updates of accounts.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/atomic_file.h"
#include "core/strings.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/mysql_store.h"
#include "vpopmail/mysql_store_internal.h"

namespace vmigrate::vpopmail {

using sql::QuoteIdentifier;
using sql::Row;
using sql::Value;

namespace {

// vpopmail 5.4.33's TABLE_LAYOUT (reference §8.1): the user columns a new
// table gets, and what StageUsers checks against when the table is still
// to be made.
struct ColumnDef {
  const char* name;
  const char* type;
  unsigned long length;  // 0: an integer column
  const char* widened;   // vpopmail 5.6's definition, nullptr: 5.6 kept the 5.4 width
};
constexpr ColumnDef kUserColumnDefs[] = {
    {"pw_name", "char", 32, "varchar(64) NOT NULL"},
    {"pw_passwd", "char", 40, "varchar(128)"},
    {"pw_uid", "int", 0, nullptr},
    {"pw_gid", "int", 0, nullptr},
    {"pw_gecos", "char", 48, "varchar(64)"},
    {"pw_dir", "char", 160, nullptr},
    {"pw_shell", "char", 20, nullptr},
    {"pw_clear_passwd", "char", 16, "varchar(128)"},
};

const char kCreateUsers54[] =
    "pw_name char(32) not null, %DOMAIN%pw_passwd char(40), pw_uid int, pw_gid int, pw_gecos char(48), "
    "pw_dir char(160), pw_shell char(20), pw_clear_passwd char(16), primary key (pw_name%KEY%)";
const char kCreateDirControl54[] =
    "domain char(96) not null, cur_users int, level_cur int, level_max int, level_start0 int, level_start1 int, "
    "level_start2 int, level_end0 int, level_end1 int, level_end2 int, level_mod0 int, level_mod1 int, "
    "level_mod2 int, level_index0 int, level_index1 int, level_index2 int, the_dir char(160), primary key (domain)";
const char kDirControlInsert[] =
    "REPLACE INTO dir_control (domain, cur_users, level_cur, level_max, level_start0, level_start1, "
    "level_start2, level_end0, level_end1, level_end2, level_mod0, level_mod1, level_mod2, level_index0, "
    "level_index1, level_index2, the_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

// Characters, as MySQL counts a CHAR/VARCHAR length (UTF-8 code points).
unsigned long CharCount(const std::string& s) {
  return static_cast<unsigned long>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool IsInt(const std::string& s) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i == s.size() || s.size() - i > 10) return false;
  if (!std::all_of(s.begin() + static_cast<long>(i), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  long long v = std::atoll(s.c_str());
  return v >= -2147483648LL && v <= 2147483647LL;
}

std::string FieldOf(const VpasswdEntry& e, size_t i) {
  switch (i) {
    case 0: return e.name;
    case 1: return e.passwd;
    case 2: return e.uid;
    case 3: return e.gid;
    case 4: return e.gecos;
    case 5: return e.dir;
    case 6: return e.quota;
    default: return e.clear;
  }
}

// A dir_control REPLACE's parameters for `key` from .dir-control text.
std::vector<Value> DirControlParams(const std::string& key, const std::string& text) {
  DirControl dc = DirControl::ParseExact(text);
  std::vector<Value> p = {key, std::to_string(dc.cur_users), std::to_string(dc.level_cur),
                          std::to_string(dc.level_max)};
  for (const int* a : {dc.level_start, dc.level_end, dc.level_mod, dc.level_index})
    for (int i = 0; i < 3; ++i) p.push_back(std::to_string(a[i]));
  p.push_back(dc.the_dir);
  return p;
}

// A staged `.qmail-<alias>` that becomes valias rows: not .qmail-default
// (always a file), not a symlink or an ezmlm list (dotqmail2valias skips
// those too), not empty.
bool IsValiasFile(const std::string& dir, const std::string& name, std::string* data) {
  if (!StartsWith(name, ".qmail-") || name == ".qmail-default" || name.size() == 7) return false;
  struct stat st;
  if (lstat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  auto text = ReadSmallFile(dir + "/" + name, 1 << 20);
  if (!text.ok() || text->empty()) return false;
  std::string first = text->substr(0, text->find('\n'));
  if (!first.empty() && first[0] == '|' && first.substr(0, first.find(' ')).find("/ezmlm-") != std::string::npos)
    return false;
  *data = *text;
  return true;
}

}  // namespace

Status MySqlUserStore::StageUsers(const std::string& staged_domain_disk, const std::vector<VpasswdEntry>& entries,
                                  const std::optional<FileOwner>& owner) {
  (void)owner;  // rows have no owner
  auto db = Db();
  if (!db.ok()) return db.status();
  auto staged = std::make_unique<Staged>();
  staged->entries = entries;
  // The columns the values go to: the many-domains table when it is there,
  // else the 5.4.33 layout the table will be made with.
  std::map<std::string, Column> existing;
  if (layout_ == "many") {
    auto cols = Columns("vpopmail");
    if (!cols.ok()) return cols.status();
    for (const Column& c : *cols) existing[c.name] = c;
  }
  std::vector<std::string> refused;
  for (const ColumnDef& def : kUserColumnDefs) {
    Column col{def.name, def.type, def.length};
    if (!existing.empty()) {
      auto it = existing.find(def.name);
      if (it == existing.end()) continue;  // e.g. no pw_clear_passwd: that build keeps no cleartext
      col = it->second;
    }
    size_t index = static_cast<size_t>(&def - kUserColumnDefs);
    bool is_text = col.type.find("char") != std::string::npos || col.type.find("text") != std::string::npos;
    unsigned long widest = 0;
    std::vector<std::string> users;
    for (const VpasswdEntry& e : entries) {
      std::string v = FieldOf(e, index);
      if (!is_text) {
        if (!IsInt(v)) refused.push_back(col.name + " " + col.type + " cannot hold '" + v + "' of " + e.name);
      } else if (CharCount(v) > col.length) {
        users.push_back(e.name);
        widest = std::max(widest, CharCount(v));
      }
    }
    if (users.empty()) continue;
    std::string what = col.name + " " + col.type + "(" + std::to_string(col.length) + ") cannot hold the value of " +
                       Join(users, ", ") + " (up to " + std::to_string(widest) + " characters)";
    bool widenable = def.widened && widest <= 128 && !(index == 0 && widest > 64) && !(index == 4 && widest > 64);
    if (paths_.mysql_widen_columns && widenable) {
      staged->widen.emplace_back(def.name, def.widened);
    } else {
      refused.push_back(what);
    }
  }
  if (!refused.empty())
    return Status::DataRefused("MySQL column " + Join(refused, "; ") + "; nothing written" +
                               (paths_.mysql_widen_columns ? "" : " (import --mysql-widen-columns widens pw_name, "
                                                                  "pw_passwd, pw_gecos and pw_clear_passwd as "
                                                                  "vpopmail 5.6 does)"));
  // Alias and limits files become rows when this build keeps them in tables.
  auto valias = HasTable("valias");
  if (!valias.ok()) return valias.status();
  auto limits = HasTable("limits");
  if (!limits.ok()) return limits.status();
  std::vector<std::string> taken;
  if (*valias) {
    DIR* d = opendir(staged_domain_disk.c_str());
    if (!d) return Status::IoError("cannot read " + staged_domain_disk + ": " + std::strerror(errno));
    std::vector<std::string> names;
    while (dirent* ent = readdir(d)) names.push_back(ent->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::string data;
      if (!IsValiasFile(staged_domain_disk, name, &data)) continue;
      std::string alias = name.substr(7);
      std::replace(alias.begin(), alias.end(), ':', '.');
      for (const std::string& line : SplitLines(data)) staged->valias.emplace_back(alias, line);
      taken.push_back(name);
    }
  }
  if (*limits) {
    auto text = ReadSmallFile(staged_domain_disk + "/.qmailadmin-limits", 1 << 20);
    if (text.ok()) {
      staged->limits = ParseLimitsFile(*text);
      taken.push_back(".qmailadmin-limits");
    } else if (text.status().code() != Status::Code::kNotFound) {
      return text.status();
    }
  }
  for (const std::string& name : taken)
    if (unlink((staged_domain_disk + "/" + name).c_str()) != 0)
      return Status::IoError("cannot remove " + staged_domain_disk + "/" + name + ": " + std::strerror(errno));
  staged_ = std::move(staged);
  return Status::OK();
}

Status MySqlUserStore::CreateMissingTables(const std::string& domain) {
  auto db = Db();
  if (!db.ok()) return db.status();
  std::string table = UserTable(domain);
  auto has = HasTable(table);
  if (!has.ok()) return has.status();
  if (!*has) {
    std::string layout = kCreateUsers54;
    bool many = layout_ == "many";
    layout.replace(layout.find("%DOMAIN%"), 8, many ? "pw_domain char(96) not null, " : "");
    layout.replace(layout.find("%KEY%"), 5, many ? ", pw_domain" : "");
    auto r = (*db)->Execute("CREATE TABLE " + QuoteIdentifier(table) + " (" + layout + ")");
    if (!r.ok()) return r.status();
  }
  has = HasTable("dir_control");
  if (!has.ok()) return has.status();
  if (!*has) {
    auto r = (*db)->Execute(std::string("CREATE TABLE dir_control (") + kCreateDirControl54 + ")");
    if (!r.ok()) return r.status();
  }
  columns_.clear();  // the tables changed
  return Status::OK();
}

Status MySqlUserStore::CommitDomain(const DomainRows& rows) {
  if (!staged_) return Status::InvalidInput(rows.domain + ": nothing staged for the MySQL commit");
  auto db = Db();
  if (!db.ok()) return db.status().WithContext(rows.domain);
  sql::Connection* c = *db;
  // DDL commits on its own in MySQL: tables and widths first (RemoveDomain
  // drops a per-domain table made here; a widened column stays wide).
  VM_RETURN_IF_ERROR(CreateMissingTables(rows.domain).WithContext(rows.domain));
  std::string table = UserTable(rows.domain);
  for (const auto& [col, def] : staged_->widen) {
    auto r = c->Execute("ALTER TABLE " + QuoteIdentifier(table) + " MODIFY " + col + " " + def);
    if (!r.ok()) return r.status().WithContext(rows.domain + ": widening " + table + "." + col);
  }
  columns_.clear();
  auto cols = Columns(table);
  if (!cols.ok()) return cols.status().WithContext(rows.domain);
  bool has_clear = std::any_of(cols->begin(), cols->end(), [](const Column& k) { return k.name == "pw_clear_passwd"; });
  const std::string insert = UserInsert(table, has_clear);
  std::string dom_key = "dom_" + std::to_string(rows.uid);
  auto run = [&]() -> Status {
    for (const VpasswdEntry& e : staged_->entries) {
      std::vector<Value> p = {e.name};
      if (layout_ == "many") p.push_back(rows.domain);
      for (const std::string& v : {e.passwd, e.uid, e.gid, e.gecos, e.dir, e.quota}) p.push_back(v);
      if (has_clear) p.push_back(e.clear);  // vpopmail writes '' when it has no cleartext
      auto r = c->Execute(insert, p);
      if (!r.ok()) return r.status().WithContext("user " + e.name);
    }
    for (const auto& [alias, line] : staged_->valias) {
      auto r = c->Execute("INSERT INTO valias (alias, domain, valias_line) VALUES (?, ?, ?)", {alias, rows.domain, line});
      if (!r.ok()) return r.status().WithContext("valias " + alias);
    }
    if (staged_->limits) {
      std::string names = "domain", marks = "?";
      std::vector<Value> p = {rows.domain};
      auto limit_cols = Columns("limits");
      if (!limit_cols.ok()) return limit_cols.status();
      for (const auto& [col, value] : *staged_->limits) {
        const std::string& name = col;  // C++17 lambdas cannot capture a structured binding (clang)
        if (!std::any_of(limit_cols->begin(), limit_cols->end(), [&](const Column& k) { return k.name == name; }))
          continue;
        names += ", " + QuoteIdentifier(col);
        marks += ", ?";
        p.push_back(value);
      }
      auto r = c->Execute("INSERT INTO limits (" + names + ") VALUES (" + marks + ")", p);
      if (!r.ok()) return r.status().WithContext("limits");
    }
    if (!rows.dir_control.empty()) {
      auto r = c->Execute(kDirControlInsert, DirControlParams(rows.domain, rows.dir_control));
      if (!r.ok()) return r.status().WithContext("dir_control");
    }
    // The domain-tree counter: only if nobody moved it since the importer read it.
    auto now = c->Query(std::string("SELECT ") + kDirControlColumns + " FROM dir_control WHERE domain = ? FOR UPDATE",
                        {dom_key});
    if (!now.ok()) return now.status();
    std::optional<std::string> current;
    if (!now->empty()) current = DirControlText((*now)[0]);
    // Both are DirControlText of the row (ReadDomainsDirControl's text).
    if (current != rows.domains_dir_control_old)
      return Status::Conflict("dir_control row " + dom_key + " changed since the import read it (another domain "
                              "was added meanwhile); run the import again");
    auto r = c->Execute(kDirControlInsert, DirControlParams(dom_key, rows.domains_dir_control_new));
    if (!r.ok()) return r.status().WithContext("dir_control " + dom_key);
    return Status::OK();
  };
  VM_RETURN_IF_ERROR(c->Begin().WithContext(rows.domain));
  Status s = run();
  if (s.ok()) s = c->Commit();
  if (!s.ok()) {
    (void)c->Rollback();
    return s.WithContext(rows.domain + ": MySQL commit (" + Where() + ", rolled back)");
  }
  staged_.reset();
  return Status::OK();
}

Status MySqlUserStore::RemoveDomain(const std::string& domain, unsigned long uid,
                                    const std::optional<std::string>& domains_dir_control_old) {
  auto db = Db();
  if (!db.ok()) return db.status().WithContext(domain);
  sql::Connection* c = *db;
  columns_.clear();  // a crashed run may have made tables since this store looked
  std::string table = UserTable(domain);
  // Decided before the dir_control row goes: a colliding domain's table stays.
  bool drop_table = layout_ == "perdomain" && CheckTableOwner(domain).ok();
  std::vector<std::pair<std::string, std::string>> deletes;  // (table, key column)
  if (layout_ == "many") deletes.emplace_back("vpopmail", "pw_domain");
  for (const char* t : {"valias", "limits", "lastauth", "dir_control"}) deletes.emplace_back(t, "domain");
  std::string dom_key = "dom_" + std::to_string(uid);
  auto run = [&]() -> Status {
    for (const auto& [t, key] : deletes) {
      auto has = HasTable(t);
      if (!has.ok()) return has.status();
      if (!*has) continue;
      auto r = c->Execute("DELETE FROM " + QuoteIdentifier(t) + " WHERE " + key + " = ?", {domain});
      if (!r.ok()) return r.status();
    }
    auto has = HasTable("dir_control");
    if (!has.ok()) return has.status();
    if (!*has) return Status::OK();
    auto r = domains_dir_control_old
                 ? c->Execute(kDirControlInsert, DirControlParams(dom_key, *domains_dir_control_old))
                 : c->Execute("DELETE FROM dir_control WHERE domain = ?", {dom_key});
    return r.ok() ? Status::OK() : r.status();
  };
  VM_RETURN_IF_ERROR(c->Begin().WithContext(domain));
  Status s = run();
  if (s.ok()) s = c->Commit();
  if (!s.ok()) {
    (void)c->Rollback();
    return s.WithContext(domain + ": removing its MySQL rows (" + Where() + ")");
  }
  if (drop_table) {
    auto r = c->Execute("DROP TABLE IF EXISTS " + QuoteIdentifier(table));
    if (!r.ok()) return r.status().WithContext(domain + ": dropping MySQL table " + table);
  }
  staged_.reset();
  columns_.clear();
  return Status::OK();
}

Status MySqlUserStore::ReplaceUsers(const qmail::DomainLocation& where, const std::vector<VpasswdEntry>& entries) {
  auto db = Db();
  if (!db.ok()) return db.status().WithContext(where.domain);
  sql::Connection* c = *db;
  VM_RETURN_IF_ERROR(CheckTableOwner(where.domain));
  std::string table = UserTable(where.domain);
  auto cols = Columns(table);
  if (!cols.ok()) return cols.status().WithContext(where.domain);
  if (cols->empty()) return Status::NotFound(where.domain + ": no MySQL table " + table + " in " + Where());
  bool has_clear = std::any_of(cols->begin(), cols->end(), [](const Column& k) { return k.name == "pw_clear_passwd"; });
  auto rows = UserRows(where.domain, *cols);
  if (!rows.ok()) return rows.status().WithContext(where.domain);
  std::map<std::string, const Row*> by_name;
  for (const Row& r : *rows) by_name[r[0].value_or("")] = &r;
  auto run = [&]() -> Status {
    for (const VpasswdEntry& e : entries) {
      auto it = by_name.find(e.name);
      if (it == by_name.end()) return Status::NotFound("user " + e.name + " has no row in MySQL table " + table);
      std::string set;
      std::vector<Value> p;
      for (size_t i = 1; i < 8; ++i) {
        if (i == 7 && !has_clear) continue;
        std::string v = FieldOf(e, i);
        if ((*it->second)[i].value_or("") == v) continue;  // unchanged (a NULL read as "" stays NULL)
        set += std::string(set.empty() ? "" : ", ") + kUserColumns[i] + " = ?";
        p.push_back(v);
      }
      if (set.empty()) continue;
      p.push_back(e.name);
      std::string filter = " WHERE pw_name = ?";
      if (layout_ == "many") {
        filter += " AND pw_domain = ?";
        p.push_back(where.domain);
      }
      auto r = c->Execute("UPDATE " + QuoteIdentifier(table) + " SET " + set + filter, p);
      if (!r.ok()) return r.status().WithContext("user " + e.name);
    }
    return Status::OK();
  };
  VM_RETURN_IF_ERROR(c->Begin().WithContext(where.domain));
  Status s = run();
  if (s.ok()) s = c->Commit();
  if (!s.ok()) {
    (void)c->Rollback();
    return s.WithContext(where.domain + ": MySQL update (" + Where() + ", rolled back)");
  }
  return Status::OK();
}

Result<bool> MySqlUserStore::ReplacePasswordHash(const qmail::DomainLocation& where, const std::string& name,
                                                 const std::string& old_hash, const std::string& new_hash) {
  auto db = Db();
  if (!db.ok()) return db.status().WithContext(where.domain);
  VM_RETURN_IF_ERROR(CheckTableOwner(where.domain));
  const std::string table = UserTable(where.domain);
  auto cols = Columns(table);
  if (!cols.ok()) return cols.status().WithContext(where.domain);
  if (cols->empty()) return Status::NotFound(where.domain + ": no MySQL table " + table + " in " + Where());
  // vpopmail 5.4 declares pw_passwd char(40): a SHA-512 crypt (~106
  // characters) would be cut (a locked-out user) or refused by strict mode.
  for (const Column& k : *cols) {
    if (k.name != "pw_passwd" || k.type.find("char") == std::string::npos || k.length >= CharCount(new_hash)) continue;
    return Status::DataRefused(where.domain + ": MySQL column " + table + ".pw_passwd " + k.type + "(" +
                               std::to_string(k.length) + ") cannot hold a SHA-512 crypt (" +
                               std::to_string(CharCount(new_hash)) + " characters); widen it first as vpopmail 5.6 "
                               "declares it: ALTER TABLE " + QuoteIdentifier(table) + " MODIFY pw_passwd varchar(128)");
  }
  // BINARY: the columns' collation is usually case-insensitive, and a hash
  // differing only in case is another hash.
  std::vector<Value> p = {new_hash, name};
  std::string filter = " WHERE pw_name = ?";
  if (layout_ == "many") {
    filter += " AND pw_domain = ?";
    p.push_back(where.domain);
  }
  filter += " AND BINARY pw_passwd = ?";
  p.push_back(old_hash);
  auto r = (*db)->Execute("UPDATE " + QuoteIdentifier(table) + " SET pw_passwd = ?" + filter, p);
  if (!r.ok()) return r.status().WithContext(where.domain + ": user " + name + ": MySQL update (" + Where() + ")");
  return *r > 0;
}

std::string MySqlUserStore::UserInsert(const std::string& table, bool has_clear) const {
  const bool many = layout_ == "many";
  return "INSERT INTO " + QuoteIdentifier(table) + " (pw_name, " + std::string(many ? "pw_domain, " : "") +
         "pw_passwd, pw_uid, pw_gid, pw_gecos, pw_dir, pw_shell" + (has_clear ? ", pw_clear_passwd" : "") +
         ") VALUES (?, " + (many ? "?, " : "") + "?, ?, ?, ?, ?, ?" + (has_clear ? ", ?" : "") + ")";
}

Result<bool> MySqlUserStore::InsertUser(const qmail::DomainLocation& where, const VpasswdEntry& entry,
                                        const std::string& dir_control) {
  auto db = Db();
  if (!db.ok()) return db.status().WithContext(where.domain);
  sql::Connection* c = *db;
  VM_RETURN_IF_ERROR(CheckTableOwner(where.domain));
  const std::string table = UserTable(where.domain);
  auto cols = Columns(table);
  if (!cols.ok()) return cols.status().WithContext(where.domain);
  if (cols->empty()) return Status::NotFound(where.domain + ": no MySQL table " + table + " in " + Where());
  VpasswdEntry row = entry;
  row.uid = ConvertPwUid(entry.uid, "cdb", "mysql");
  // Every value must fit its column: a cut hash locks the user out.
  bool has_clear = false;
  for (const Column& k : *cols) {
    if (k.name == "pw_clear_passwd") has_clear = true;
    if (k.type.find("char") == std::string::npos) continue;
    for (const ColumnDef& def : kUserColumnDefs) {
      if (k.name != def.name) continue;
      const std::string v = FieldOf(row, static_cast<size_t>(&def - kUserColumnDefs));
      if (CharCount(v) <= k.length) continue;
      return Status::DataRefused(where.domain + ": user " + entry.name + ": MySQL column " + table + "." + k.name +
                                 " " + k.type + "(" + std::to_string(k.length) + ") cannot hold its value (" +
                                 std::to_string(CharCount(v)) + " characters); nothing written" +
                                 (def.widened ? std::string("; widen it first as vpopmail 5.6 declares it: ALTER "
                                                            "TABLE ") + QuoteIdentifier(table) + " MODIFY " +
                                                    k.name + " " + def.widened
                                              : std::string()));
    }
  }
  std::vector<Value> key = {entry.name};
  std::string filter = " WHERE pw_name = ?";
  if (layout_ == "many") {
    filter += " AND pw_domain = ?";
    key.push_back(where.domain);
  }
  const std::string insert = UserInsert(table, has_clear);
  bool exists = false;
  auto run = [&]() -> Status {
    auto there = c->Query("SELECT pw_name FROM " + QuoteIdentifier(table) + filter + " FOR UPDATE", key);
    if (!there.ok()) return there.status();
    if (!there->empty()) {
      exists = true;
      return Status::OK();
    }
    std::vector<Value> p = key;
    for (const std::string& v : {row.passwd, row.uid, row.gid, row.gecos, row.dir, row.quota}) p.push_back(v);
    if (has_clear) p.push_back(row.has_clear ? row.clear : std::string());  // vpopmail writes '' without one
    auto r = c->Execute(insert, p);
    if (!r.ok()) return r.status().WithContext("user " + entry.name);
    auto d = c->Execute(kDirControlInsert, DirControlParams(where.domain, dir_control));
    if (!d.ok()) return d.status().WithContext("dir_control");
    return Status::OK();
  };
  VM_RETURN_IF_ERROR(c->Begin().WithContext(where.domain));
  Status s = run();
  if (s.ok()) s = exists ? c->Rollback() : c->Commit();
  if (!s.ok()) {
    (void)c->Rollback();
    return s.WithContext(where.domain + ": MySQL insert (" + Where() + ", rolled back)");
  }
  return !exists;
}

}  // namespace vmigrate::vpopmail
