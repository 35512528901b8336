#include "vpopmail/user_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "core/resolve_path.h"
#include "vpopmail/mysql_config.h"
#include "vpopmail/mysql_store.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::vpopmail {
namespace {

// The cdb backend: <domaindir>/vpasswd is the source of truth (vpopmail's
// vauth_getall reads it), vpasswd.cdb is what vchkpw reads and is rebuilt
// from it on import.
// A counter file that may be absent (a domain with no users yet).
Result<std::optional<std::string>> ReadOptionalSmallFile(const std::string& disk) {
  auto text = ReadSmallFile(disk, 4096);
  if (text.ok()) return std::optional<std::string>(*text);
  if (text.status().code() == Status::Code::kNotFound) return std::optional<std::string>();
  return text.status();
}

class CdbUserStore : public UserStore {
 public:
  explicit CdbUserStore(HostPaths paths) : paths_(std::move(paths)) {}

  std::string Describe() const override { return "vpasswd (cdb backend)"; }
  std::string Backend() const override { return "cdb"; }

  Result<std::optional<std::string>> ReadDirControl(const qmail::DomainLocation& where) override {
    auto dir = DomainDisk(where);
    if (!dir.ok()) return dir.status();
    return ReadOptionalSmallFile(*dir + "/.dir-control");
  }

  Result<std::optional<std::string>> ReadDomainsDirControl(unsigned long uid) override {
    (void)uid;  // one domain tree per host in the cdb backend
    return ReadOptionalSmallFile(paths_.OnDisk(paths_.domains_dir() + "/.dir-control"));
  }

  Result<std::vector<StoreFile>> ReadDomainFiles(const qmail::DomainLocation& where) override {
    (void)where;  // aliases and limits are real files in the domain dir
    return std::vector<StoreFile>{};
  }

  Status CheckDomainAbsent(const std::string& domain) override {
    (void)domain;  // the importer checks the domain dir and users/assign
    return Status::OK();
  }

  Result<std::vector<VpasswdEntry>> ReadUsers(const qmail::DomainLocation& where) override {
    auto dir = DomainDisk(where);
    if (!dir.ok()) return dir.status();
    auto users = ReadVpasswd(*dir + "/vpasswd");
    if (!users.ok()) return users.status().WithContext(where.domain);
    return users;
  }

  Status StageUsers(const std::string& staged_domain_disk, const std::vector<VpasswdEntry>& entries,
                    const std::optional<FileOwner>& owner) override {
    return WriteVpasswdFiles(staged_domain_disk, entries, owner);
  }

  Status ReplaceUsers(const qmail::DomainLocation& where,
                      const std::vector<VpasswdEntry>& entries) override {
    auto dir = DomainDisk(where);
    if (!dir.ok()) return dir.status();
    struct stat st;
    std::optional<FileOwner> owner;
    if (stat((*dir + "/vpasswd").c_str(), &st) == 0) owner = FileOwner{st.st_uid, st.st_gid};
    return RewriteVpasswdFiles(*dir, entries, owner).WithContext(where.domain);
  }

  Result<bool> InsertUser(const qmail::DomainLocation& where, const VpasswdEntry& entry,
                          const std::string& dir_control) override {
    auto users = ReadUsers(where);
    if (!users.ok() && users.status().code() != Status::Code::kNotFound) return users.status();
    std::vector<VpasswdEntry> entries = users.ok() ? std::move(*users) : std::vector<VpasswdEntry>{};
    for (const VpasswdEntry& e : entries)
      if (e.name == entry.name) return false;
    // vauth_adduser: before the first greater name.
    auto pos = std::find_if(entries.begin(), entries.end(), [&](const VpasswdEntry& e) { return e.name > entry.name; });
    entries.insert(pos, entry);
    VM_RETURN_IF_ERROR(ReplaceUsers(where, entries));
    auto dir = DomainDisk(where);
    if (!dir.ok()) return dir.status();
    struct stat st;
    std::optional<FileOwner> owner;
    if (stat((*dir + "/vpasswd").c_str(), &st) == 0) owner = FileOwner{st.st_uid, st.st_gid};
    VM_RETURN_IF_ERROR(WriteFileAtomic(*dir + "/.dir-control", dir_control, 0600, owner).WithContext(where.domain));
    return true;
  }

  std::vector<StoreProblem> CheckConsistency(const qmail::DomainLocation& where,
                                             const std::vector<VpasswdEntry>& users) override {
    std::vector<StoreProblem> problems;
    auto dir = DomainDisk(where);
    if (!dir.ok()) {
      problems.push_back({"", "vpasswd.cdb", "cannot be read: " + dir.status().message()});
      return problems;
    }
    auto cdb = ReadCdbRecords(*dir + "/vpasswd.cdb");
    if (!cdb.ok()) {
      problems.push_back({"", "vpasswd.cdb", "cannot be read: " + cdb.status().message()});
      return problems;
    }
    std::map<std::string, const VpasswdEntry*> by_name;  // reported in name order
    for (const auto& e : users) by_name[e.name] = &e;
    for (const auto& [name, e] : by_name) {
      auto it = cdb->find(name);
      if (it == cdb->end()) {
        problems.push_back({name, "vpasswd.cdb", "user is missing from vpasswd.cdb"});
        continue;
      }
      std::string line = FormatVpasswdLine(*e);
      if (it->second != line.substr(name.size() + 1))
        problems.push_back({name, "vpasswd.cdb", "record differs from vpasswd"});
    }
    for (const auto& [key, value] : *cdb)
      if (!by_name.count(key))
        problems.push_back({key, "vpasswd.cdb", "record for a user vpasswd does not have"});
    return problems;
  }

 private:
  // The domain dir on disk; vpopmail follows a symlinked one (never out of --root).
  Result<std::string> DomainDisk(const qmail::DomainLocation& where) const {
    auto dir = ResolveUnderRoot(paths_.root, where.dir);
    if (!dir.ok()) return dir.status().WithContext(where.domain + ": domain directory " + where.dir);
    return dir->disk;
  }

  HostPaths paths_;
};

}  // namespace

std::string ConvertPwUid(const std::string& uid, const std::string& from, const std::string& to) {
  if (from == to) return uid;
  // vpasswd: 1 = POP, 2 = APOP; MySQL: 0 = POP, 1 = APOP (reference §8.1).
  if (from == "cdb" && to == "mysql") {
    if (uid == "1") return "0";
    if (uid == "2") return "1";
  } else if (from == "mysql" && to == "cdb") {
    if (uid == "0") return "1";
    if (uid == "1") return "2";
  }
  return uid;
}

std::unique_ptr<UserStore> MakeCdbUserStore(const HostPaths& paths) {
  return std::make_unique<CdbUserStore>(paths);
}

namespace {

bool Exists(const std::string& disk) {
  struct stat st;
  return stat(disk.c_str(), &st) == 0;
}

// "auto" backend for one domain: a vpasswd in its dir wins (the domain is
// still kept by cdb), else vpopmail.mysql says MySQL.
bool DomainHasVpasswd(const HostPaths& paths, const qmail::DomainLocation& where) {
  auto dir = ResolveUnderRoot(paths.root, where.dir);
  return dir.ok() && Exists(dir->disk + "/vpasswd");
}

// "auto" on a host with vpopmail.mysql: the MySQL store, except for the
// domains whose dir still has a vpasswd, which the cdb store reads.
class AutoUserStore : public UserStore {
 public:
  explicit AutoUserStore(const HostPaths& paths)
      : paths_(paths), cdb_(MakeCdbUserStore(paths)), mysql_(std::make_unique<MySqlUserStore>(paths)) {}

  std::string Describe() const override { return mysql_->Describe(); }
  std::string Backend() const override { return mysql_->Backend(); }
  std::string Layout() const override { return mysql_->Layout(); }
  bool KeepsDirControlFiles() const override { return mysql_->KeepsDirControlFiles(); }
  Result<std::optional<std::string>> ReadDirControl(const qmail::DomainLocation& where) override {
    return For(where)->ReadDirControl(where);
  }
  Result<std::optional<std::string>> ReadDomainsDirControl(unsigned long uid) override {
    return mysql_->ReadDomainsDirControl(uid);
  }
  Result<std::vector<StoreFile>> ReadDomainFiles(const qmail::DomainLocation& where) override {
    return For(where)->ReadDomainFiles(where);
  }
  Status CheckDomainAbsent(const std::string& domain) override { return mysql_->CheckDomainAbsent(domain); }
  Result<std::vector<std::string>> NotCarried(const qmail::DomainLocation& where) override {
    return For(where)->NotCarried(where);
  }
  Result<std::vector<VpasswdEntry>> ReadUsers(const qmail::DomainLocation& where) override {
    return For(where)->ReadUsers(where);
  }
  Status StageUsers(const std::string& staged_domain_disk, const std::vector<VpasswdEntry>& entries,
                    const std::optional<FileOwner>& owner) override {
    return mysql_->StageUsers(staged_domain_disk, entries, owner);
  }
  Status CommitDomain(const DomainRows& rows) override { return mysql_->CommitDomain(rows); }
  Status RemoveDomain(const std::string& domain, unsigned long uid,
                      const std::optional<std::string>& domains_dir_control_old) override {
    return mysql_->RemoveDomain(domain, uid, domains_dir_control_old);
  }
  Status ReplaceUsers(const qmail::DomainLocation& where, const std::vector<VpasswdEntry>& entries) override {
    return For(where)->ReplaceUsers(where, entries);
  }
  Result<bool> ReplacePasswordHash(const qmail::DomainLocation& where, const std::string& name,
                                   const std::string& old_hash, const std::string& new_hash) override {
    return For(where)->ReplacePasswordHash(where, name, old_hash, new_hash);
  }
  Result<bool> InsertUser(const qmail::DomainLocation& where, const VpasswdEntry& entry,
                          const std::string& dir_control) override {
    return For(where)->InsertUser(where, entry, dir_control);
  }
  std::vector<StoreProblem> CheckConsistency(const qmail::DomainLocation& where,
                                             const std::vector<VpasswdEntry>& users) override {
    return For(where)->CheckConsistency(where, users);
  }

 private:
  UserStore* For(const qmail::DomainLocation& where) {
    return DomainHasVpasswd(paths_, where) ? cdb_.get() : static_cast<UserStore*>(mysql_.get());
  }
  HostPaths paths_;
  std::unique_ptr<UserStore> cdb_;
  std::unique_ptr<MySqlUserStore> mysql_;
};

}  // namespace

Result<bool> UserStore::ReplacePasswordHash(const qmail::DomainLocation& where, const std::string& name,
                                             const std::string& old_hash, const std::string& new_hash) {
  auto users = ReadUsers(where);
  if (!users.ok()) return users.status();
  auto it = std::find_if(users->begin(), users->end(), [&](const VpasswdEntry& e) { return e.name == name; });
  if (it == users->end() || it->passwd != old_hash) return false;
  it->passwd = new_hash;
  VM_RETURN_IF_ERROR(ReplaceUsers(where, *users));
  return true;
}

std::unique_ptr<UserStore> OpenUserStore(const HostPaths& paths) {
  if (paths.backend == "mysql") return std::make_unique<MySqlUserStore>(paths);
  if (paths.backend == "auto" && Exists(VpopmailMysqlPath(paths))) return std::make_unique<AutoUserStore>(paths);
  return MakeCdbUserStore(paths);
}

std::unique_ptr<UserStore> OpenUserStoreFor(const HostPaths& paths, const qmail::DomainLocation& where) {
  if (paths.backend == "mysql") return std::make_unique<MySqlUserStore>(paths);
  if (paths.backend == "auto" && !DomainHasVpasswd(paths, where) && Exists(VpopmailMysqlPath(paths)))
    return std::make_unique<MySqlUserStore>(paths);
  return MakeCdbUserStore(paths);
}

}  // namespace vmigrate::vpopmail
