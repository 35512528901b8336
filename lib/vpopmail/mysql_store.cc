// MySqlUserStore: connection, layout and the read side. The write side
// (StageUsers, CommitDomain, RemoveDomain, ReplaceUsers) is in
// mysql_store_write.cc.
#include "vpopmail/mysql_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include "core/resolve_path.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/limits_file.h"
#include "vpopmail/mysql_config.h"
#include "vpopmail/mysql_store_internal.h"

namespace vmigrate::vpopmail {

using sql::QuoteIdentifier;
using sql::Row;
using sql::Value;

namespace {

constexpr unsigned kNoSuchTable = 1146;  // ER_NO_SUCH_TABLE

std::string Text(const Value& v) { return v.value_or(""); }

}  // namespace

const char kDirControlColumns[] =
    "cur_users, level_cur, level_max, level_start0, level_start1, level_start2, level_end0, "
    "level_end1, level_end2, level_mod0, level_mod1, level_mod2, level_index0, level_index1, "
    "level_index2, the_dir";

std::string DirControlText(const Row& row) {
  DirControl dc;
  auto num = [&row](size_t i, long fallback) { return row[i] ? std::atol(row[i]->c_str()) : fallback; };
  dc.cur_users = static_cast<unsigned long>(num(0, static_cast<long>(dc.cur_users)));
  dc.level_cur = static_cast<int>(num(1, dc.level_cur));
  dc.level_max = static_cast<int>(num(2, dc.level_max));
  for (int i = 0; i < 3; ++i) {
    dc.level_start[i] = static_cast<int>(num(3 + i, dc.level_start[i]));
    dc.level_end[i] = static_cast<int>(num(6 + i, dc.level_end[i]));
    dc.level_mod[i] = static_cast<int>(num(9 + i, dc.level_mod[i]));
    dc.level_index[i] = static_cast<int>(num(12 + i, dc.level_index[i]));
  }
  dc.the_dir = Text(row[15]);
  return dc.Serialize();
}

std::string PerDomainTable(const std::string& domain) {
  std::string t = domain;
  std::replace(t.begin(), t.end(), '.', '_');
  std::replace(t.begin(), t.end(), '-', '_');
  return t;
}

std::string ValiasFileName(const std::string& alias) {
  if (alias.empty() || alias == "default" || alias.find('/') != std::string::npos ||
      alias.find('\0') != std::string::npos)
    return "";
  std::string name = alias;
  std::replace(name.begin(), name.end(), '.', ':');
  return ".qmail-" + name;
}

MySqlUserStore::MySqlUserStore(HostPaths paths) : paths_(std::move(paths)) {}
MySqlUserStore::~MySqlUserStore() = default;

std::string MySqlUserStore::Describe() const {
  auto settings = LoadConnectSettings(paths_);
  return "MySQL (" + (settings.ok() ? settings->Describe() : VpopmailMysqlPath(paths_)) + ")";
}

std::string MySqlUserStore::Layout() const {
  auto db = Db();
  return db.ok() ? layout_ : "unknown";
}

std::string MySqlUserStore::Where() const {
  return db_ ? "database " + db_->settings().database : "the MySQL database";
}

Result<sql::Connection*> MySqlUserStore::Db() const {
  if (db_) return db_.get();
  auto settings = LoadConnectSettings(paths_);
  if (!settings.ok()) return settings.status();
  auto conn = sql::Connection::Open(*settings);
  if (!conn.ok()) return conn.status();
  std::unique_ptr<sql::Connection> c = std::move(*conn);
  // vpopmail makes `vpopmail` in many-domains mode and a table per domain
  // otherwise; dir_control comes with the first domain in both.
  auto many = c->TableExists("vpopmail");
  if (!many.ok()) return many.status();
  std::string layout;
  if (*many) {
    layout = "many";
  } else {
    auto dc = c->TableExists("dir_control");
    if (!dc.ok()) return dc.status();
    if (*dc) layout = "perdomain";
  }
  const std::string& wanted = paths_.mysql_layout;
  if (!layout.empty() && !wanted.empty() && wanted != layout)
    return Status::InvalidInput("--mysql-layout " + wanted + ": database " + settings->database + " has the " +
                                layout + " layout (" +
                                (layout == "many" ? "table vpopmail" : "dir_control without table vpopmail") + ")");
  if (layout.empty()) layout = wanted.empty() ? "many" : wanted;  // vpopmail's default build
  layout_ = layout;
  db_ = std::move(c);
  return db_.get();
}

Result<std::vector<MySqlUserStore::Column>> MySqlUserStore::Columns(const std::string& table) const {
  auto it = columns_.find(table);
  if (it != columns_.end()) return it->second;
  auto db = Db();
  if (!db.ok()) return db.status();
  auto rows = (*db)->Query(
      "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
      "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
      {table});
  if (!rows.ok()) return rows.status();
  std::vector<Column> cols;
  for (const Row& r : *rows)
    cols.push_back({Text(r[0]), Text(r[1]), r[2] ? std::strtoul(r[2]->c_str(), nullptr, 10) : 0});
  columns_[table] = cols;
  return cols;
}

Result<bool> MySqlUserStore::HasTable(const std::string& table) const {
  auto cols = Columns(table);
  if (!cols.ok()) return cols.status();
  return !cols->empty();
}

std::string MySqlUserStore::UserTable(const std::string& domain) const {
  return layout_ == "many" ? "vpopmail" : PerDomainTable(domain);
}

std::string MySqlUserStore::DomainFilter(const std::string& domain, std::vector<Value>* params) const {
  if (layout_ != "many") return "";
  params->push_back(domain);
  return " WHERE pw_domain = ?";
}

Result<std::optional<std::string>> MySqlUserStore::DirControlRow(const std::string& key) const {
  auto db = Db();
  if (!db.ok()) return db.status();
  auto rows = (*db)->Query(std::string("SELECT ") + kDirControlColumns + " FROM dir_control WHERE domain = ?", {key});
  if (!rows.ok()) {
    if ((*db)->error_number() == kNoSuchTable) return std::optional<std::string>();
    return rows.status();
  }
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>(DirControlText((*rows)[0]));
}

Status MySqlUserStore::CheckTableOwner(const std::string& domain) const {
  if (layout_ != "perdomain") return Status::OK();
  auto db = Db();
  if (!db.ok()) return db.status();
  auto dc = HasTable("dir_control");
  if (!dc.ok()) return dc.status();
  if (!*dc) return Status::OK();
  auto rows = (*db)->Query("SELECT domain FROM dir_control");
  if (!rows.ok()) return rows.status();
  std::string table = PerDomainTable(domain), other;
  for (const Row& r : *rows) {
    std::string d = Text(r[0]);
    if (d == domain) return Status::OK();  // its own counter: the table is this domain's
    if (PerDomainTable(d) == table) other = d;
  }
  if (other.empty()) return Status::OK();
  return Status::Conflict(domain + ": MySQL table " + table + " belongs to " + other +
                          " (vpopmail names per-domain tables with '.' and '-' turned into '_')");
}

Result<std::vector<Row>> MySqlUserStore::UserRows(const std::string& domain, const std::vector<Column>& cols) const {
  auto db = Db();
  if (!db.ok()) return db.status();
  std::string list;
  for (const char* c : kUserColumns) {
    bool present = std::any_of(cols.begin(), cols.end(), [c](const Column& k) { return k.name == c; });
    list += std::string(list.empty() ? "" : ", ") + (present ? c : "NULL");
  }
  std::vector<Value> params;
  std::string where = DomainFilter(domain, &params);
  // Byte order of pw_name, as vpasswd is sorted (strcmp), whatever the collation.
  return (*db)->Query("SELECT " + list + " FROM " + QuoteIdentifier(UserTable(domain)) + where +
                          " ORDER BY CAST(pw_name AS BINARY)",
                      params);
}

Result<std::vector<VpasswdEntry>> MySqlUserStore::ReadUsers(const qmail::DomainLocation& where) {
  auto db = Db();
  if (!db.ok()) return db.status().WithContext(where.domain);
  std::string table = UserTable(where.domain);
  auto cols = Columns(table);
  if (!cols.ok()) return cols.status().WithContext(where.domain);
  if (cols->empty())
    return Status::NotFound(where.domain + ": no MySQL table " + table + " in " + Where() + " (" + layout_ +
                            " layout)");
  VM_RETURN_IF_ERROR(CheckTableOwner(where.domain));
  bool has_clear = std::any_of(cols->begin(), cols->end(), [](const Column& c) { return c.name == "pw_clear_passwd"; });
  auto rows = UserRows(where.domain, *cols);
  if (!rows.ok()) return rows.status().WithContext(where.domain);
  if (rows->empty() && layout_ == "many") {
    auto dc = DirControlRow(where.domain);
    if (!dc.ok()) return dc.status().WithContext(where.domain);
    if (!*dc) return Status::NotFound(where.domain + ": no users in MySQL table vpopmail (" + Where() + ")");
  }
  std::vector<VpasswdEntry> users;
  for (const Row& r : *rows) {
    VpasswdEntry e;
    e.name = Text(r[0]);
    e.passwd = Text(r[1]);
    e.uid = Text(r[2]);
    e.gid = Text(r[3]);
    e.gecos = Text(r[4]);
    e.dir = Text(r[5]);
    e.quota = Text(r[6]);
    e.clear = Text(r[7]);
    e.has_clear = has_clear;
    users.push_back(std::move(e));
  }
  return users;
}

Result<std::optional<std::string>> MySqlUserStore::ReadDirControl(const qmail::DomainLocation& where) {
  auto row = DirControlRow(where.domain);
  if (!row.ok()) return row.status().WithContext(where.domain);
  return row;
}

Result<std::optional<std::string>> MySqlUserStore::ReadDomainsDirControl(unsigned long uid) {
  return DirControlRow("dom_" + std::to_string(uid));
}

Result<std::vector<StoreFile>> MySqlUserStore::ReadDomainFiles(const qmail::DomainLocation& where) {
  auto db = Db();
  if (!db.ok()) return db.status().WithContext(where.domain);
  auto dir = ResolveUnderRoot(paths_.root, where.dir);
  if (!dir.ok()) return dir.status().WithContext(where.domain + ": domain directory " + where.dir);
  struct stat st;
  if (stat(dir->disk.c_str(), &st) != 0)
    return Status::IoError(where.domain + ": domain directory " + where.dir + ": cannot stat");
  std::map<std::string, StoreFile> files;  // by name
  auto valias = HasTable("valias");
  if (!valias.ok()) return valias.status().WithContext(where.domain);
  if (*valias) {
    // No ORDER BY: the table has no key to order by, and a scan returns the
    // rows in insertion order, the order vdelivermail delivers them in.
    auto rows = (*db)->Query("SELECT alias, valias_line FROM valias WHERE domain = ?", {where.domain});
    if (!rows.ok()) return rows.status().WithContext(where.domain);
    for (const Row& r : *rows) {
      std::string name = ValiasFileName(Text(r[0]));
      if (name.empty())
        return Status::DataRefused(where.domain + ": valias alias '" + Text(r[0]) +
                                   "' cannot be carried as a .qmail file in the domain directory");
      StoreFile& f = files[name];
      f.rel = name;
      f.data += Text(r[1]) + "\n";
    }
  }
  auto limits_cols = Columns("limits");
  if (!limits_cols.ok()) return limits_cols.status().WithContext(where.domain);
  if (!limits_cols->empty()) {
    std::vector<std::string> names;
    for (const std::string& c : LimitsColumns())
      if (std::any_of(limits_cols->begin(), limits_cols->end(), [&c](const Column& k) { return k.name == c; }))
        names.push_back(c);
    std::string list;
    for (const std::string& c : names) list += (list.empty() ? "" : ", ") + QuoteIdentifier(c);
    if (!names.empty()) {
      auto rows = (*db)->Query("SELECT " + list + " FROM limits WHERE domain = ?", {where.domain});
      if (!rows.ok()) return rows.status().WithContext(where.domain);
      if (!rows->empty()) {
        LimitsRow row;
        for (size_t i = 0; i < names.size(); ++i)
          if ((*rows)[0][i]) row[names[i]] = *(*rows)[0][i];
        StoreFile& f = files[".qmailadmin-limits"];
        f.rel = ".qmailadmin-limits";
        f.data = FormatLimitsFile(row);
        f.mode = 0644;  // as vmoddomlimits leaves it
      }
    }
  }
  std::vector<StoreFile> out;
  for (auto& [name, f] : files) {
    f.mtime = st.st_mtim;
    out.push_back(std::move(f));
  }
  return out;
}

Status MySqlUserStore::CheckDomainAbsent(const std::string& domain) {
  auto db = Db();
  if (!db.ok()) return db.status().WithContext(domain);
  std::string table = UserTable(domain);
  auto cols = Columns(table);
  if (!cols.ok()) return cols.status().WithContext(domain);
  if (!cols->empty()) {
    if (layout_ == "perdomain") {
      VM_RETURN_IF_ERROR(CheckTableOwner(domain));
      return Status::Conflict(domain + ": MySQL table " + table + " already exists in " + Where());
    }
    auto n = (*db)->Query("SELECT COUNT(*) FROM vpopmail WHERE pw_domain = ?", {domain});
    if (!n.ok()) return n.status().WithContext(domain);
    if (Text((*n)[0][0]) != "0")
      return Status::Conflict(domain + ": " + Text((*n)[0][0]) + " users already in MySQL table vpopmail (" + Where() +
                              ")");
  }
  auto dc = DirControlRow(domain);
  if (!dc.ok()) return dc.status().WithContext(domain);
  if (*dc) return Status::Conflict(domain + ": already has a dir_control row in " + Where());
  for (const char* t : {"valias", "limits"}) {
    auto has = HasTable(t);
    if (!has.ok()) return has.status().WithContext(domain);
    if (!*has) continue;
    auto n = (*db)->Query(std::string("SELECT COUNT(*) FROM ") + t + " WHERE domain = ?", {domain});
    if (!n.ok()) return n.status().WithContext(domain);
    if (Text((*n)[0][0]) != "0")
      return Status::Conflict(domain + ": already has " + Text((*n)[0][0]) + " rows in MySQL table " + t + " (" +
                              Where() + ")");
  }
  return Status::OK();
}

Result<std::vector<std::string>> MySqlUserStore::NotCarried(const qmail::DomainLocation& where) {
  auto db = Db();
  if (!db.ok()) return db.status().WithContext(where.domain);
  std::vector<std::string> notes;
  const std::pair<const char*, const char*> tables[] = {
      {"lastauth", " (last logins)"}, {"ip_alias_map", " (IP alias domains)"}, {"vlog", " (SQL auth log)"}};
  for (const auto& [table, what] : tables) {
    auto has = HasTable(table);
    if (!has.ok()) return has.status().WithContext(where.domain);
    if (!*has) continue;
    auto n = (*db)->Query(std::string("SELECT COUNT(*) FROM ") + table + " WHERE domain = ?", {where.domain});
    if (!n.ok()) return n.status().WithContext(where.domain);
    if (Text((*n)[0][0]) != "0") notes.push_back(std::string(table) + ": " + Text((*n)[0][0]) + " rows" + what + " not carried");
  }
  auto relay = HasTable("relay");
  if (!relay.ok()) return relay.status().WithContext(where.domain);
  if (*relay) notes.push_back("relay: table present (POP-before-SMTP, host-wide), not carried");
  return notes;
}

std::vector<StoreProblem> MySqlUserStore::CheckConsistency(const qmail::DomainLocation& where,
                                                           const std::vector<VpasswdEntry>& users) {
  std::vector<StoreProblem> problems;
  std::string table = UserTable(where.domain);
  auto dc = DirControlRow(where.domain);
  if (!dc.ok()) {
    problems.push_back({"", "dir_control", "cannot be read: " + dc.status().message()});
    return problems;
  }
  if (*dc) {
    unsigned long counter = DirControl::ParseExact(**dc).cur_users;
    std::string what = "cur_users " + std::to_string(counter) + " for " + std::to_string(users.size()) + " accounts";
    if (counter < users.size())
      problems.push_back({"", "dir_control", what + ": vpopmail would put new accounts in buckets already filled"});
    else if (counter > users.size())
      problems.push_back({"", "dir_control", what + " (left by failed or deleted vadduser runs)", true});
  }
  for (const VpasswdEntry& e : users)
    if (e.passwd.empty())
      problems.push_back({e.name, table, "pw_passwd is empty: a half-made account no password opens", true});
  auto cols = Columns(table);
  if (cols.ok() && !cols->empty()) {
    auto rows = UserRows(where.domain, *cols);
    if (rows.ok()) {
      for (const Row& r : *rows)
        for (size_t i = 1; i < r.size(); ++i)
          if (!r[i] && (i != 7 || std::any_of(cols->begin(), cols->end(),
                                               [](const Column& c) { return c.name == "pw_clear_passwd"; })))
            problems.push_back({Text(r[0]), table, std::string(kUserColumns[i]) + " is NULL (read as empty)", true});
    }
  }
  return problems;
}

}  // namespace vmigrate::vpopmail
