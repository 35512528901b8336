#include "vpopmail/rehash.h"

#include <crypt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/file_lock.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "vpopmail/names.h"
#include "vpopmail/password.h"
#include "vpopmail/user_store.h"
#include "vpopmail/vpasswd_lock.h"

namespace vmigrate::vpopmail {
namespace {

// kDataRefused when `e` with `new_hash` would be a vpasswd line the host's
// vpopmail cannot read whole (names.h): the longer hash must not break the
// account it was meant to protect.
Status CheckLine(const VpasswdEntry& e, const std::string& new_hash, const RehashLimits& limits) {
  VpasswdEntry after = e;
  after.passwd = new_hash;
  return CheckVpasswdLineLength(after, limits.vpasswd_line_max);
}

}  // namespace

Result<std::string> Sha512Crypt(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  // count 0 = libxcrypt's default rounds (5000, as vpopmail 5.6 writes);
  // a null rbytes makes it read the system's random source itself.
  if (crypt_gensalt_rn("$6$", 0, nullptr, 0, salt, sizeof salt) == nullptr)
    return FromErrno("cannot make a SHA-512 crypt salt (crypt_gensalt_rn)", errno);
  // struct crypt_data is ~32 KiB: on the heap, not the stack.
  auto data = std::make_unique<struct crypt_data>();
  std::memset(data.get(), 0, sizeof(struct crypt_data));
  const char* out = crypt_r(password.c_str(), salt, data.get());
  if (out == nullptr || out[0] != '$') return Status::IoError("crypt_r failed to make a SHA-512 crypt");
  return std::string(out);
}

const char* RehashOutcomeName(RehashOutcome outcome) {
  switch (outcome) {
    case RehashOutcome::kRehashed: return "rehashed";
    case RehashOutcome::kNotWeak: return "not_weak";
    case RehashOutcome::kNoSuchUser: return "no_such_user";
    case RehashOutcome::kPasswordMismatch: return "password_mismatch";
  }
  return "?";
}

Result<RehashResult> RehashUser(const HostPaths& paths, const std::string& address, const std::string& password,
                                const RehashLimits& limits) {
  const size_t at = address.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == address.size())
    return Status::InvalidInput("'" + EscapeC(address) + "' is not USER@DOMAIN");
  const std::string user = ToLower(address.substr(0, at));
  auto where = qmail::LocateRealDomain(paths, address.substr(at + 1));
  if (!where.ok()) return where.status().WithContext(address);
  RehashResult result;
  result.address = user + "@" + where->domain;
  auto store = OpenUserStoreFor(paths, *where);
  result.backend = store->Backend();
  auto lock = LockVpasswdIfCdb(paths, *where, *store);
  if (!lock.ok()) return lock.status().WithContext(result.address);
  auto users = store->ReadUsers(*where);
  if (!users.ok()) return users.status().WithContext(result.address);
  auto it = std::find_if(users->begin(), users->end(), [&](const VpasswdEntry& e) { return e.name == user; });
  if (it == users->end()) {
    result.outcome = RehashOutcome::kNoSuchUser;
    return result;
  }
  result.old_scheme = WeakHashScheme(it->passwd);
  if (result.old_scheme.empty()) {
    result.outcome = RehashOutcome::kNotWeak;
    return result;
  }
  // Only a password that verifies against the old hash may become the new
  // one: an APOP/CRAM digest handed over as "password" never does.
  if (!CryptMatches(password, it->passwd)) {
    result.outcome = RehashOutcome::kPasswordMismatch;
    return result;
  }
  auto hash = Sha512Crypt(password);
  if (!hash.ok()) return hash.status().WithContext(result.address);
  if (result.backend == "cdb") {
    Status s = CheckLine(*it, *hash, limits);
    if (!s.ok()) return Status::DataRefused(result.address + ": not re-hashed: " + s.message());
  }
  auto replaced = store->ReplacePasswordHash(*where, it->name, it->passwd, *hash);
  if (!replaced.ok()) return replaced.status().WithContext(result.address);
  if (!*replaced)
    return Status::Conflict(result.address + ": the password hash changed while it was re-hashed; left as it is now");
  result.outcome = RehashOutcome::kRehashed;
  return result;
}

Result<std::vector<WeakUserResult>> RehashWeakUsers(const HostPaths& paths, const qmail::DomainLocation& where,
                                                    const std::vector<std::string>& only,
                                                    const RehashLimits& limits) {
  auto store = OpenUserStoreFor(paths, where);
  const bool cdb = store->Backend() == "cdb";
  auto lock = LockVpasswdIfCdb(paths, where, *store);
  if (!lock.ok()) return lock.status();
  auto users = store->ReadUsers(where);
  if (!users.ok()) return users.status();
  const std::set<std::string> wanted(only.begin(), only.end());
  std::vector<WeakUserResult> results;
  bool changed = false;
  for (VpasswdEntry& e : *users) {
    if (!wanted.empty() && wanted.count(e.name) == 0) continue;
    WeakUserResult r;
    r.name = e.name;
    r.scheme = WeakHashScheme(e.passwd);
    if (r.scheme.empty()) continue;
    if (!e.has_clear || e.clear.empty()) {
      r.reason = "no cleartext stored";
    } else if (!CryptMatches(e.clear, e.passwd)) {
      r.reason = "the stored cleartext does not match the hash";
    } else {
      auto hash = Sha512Crypt(e.clear);
      if (!hash.ok()) return hash.status().WithContext(where.domain);
      Status line = cdb ? CheckLine(e, *hash, limits) : Status::OK();
      if (!line.ok()) {
        r.reason = line.message();
      } else if (cdb) {
        // All users in one rewrite of vpasswd and vpasswd.cdb, below.
        e.passwd = *hash;
        r.rehashed = changed = true;
      } else {
        auto replaced = store->ReplacePasswordHash(where, e.name, e.passwd, *hash);
        if (!replaced.ok()) return replaced.status();
        r.rehashed = *replaced;
        if (!*replaced) r.reason = "the password hash changed meanwhile";
      }
    }
    results.push_back(std::move(r));
  }
  if (changed) VM_RETURN_IF_ERROR(store->ReplaceUsers(where, *users));
  return results;
}

}  // namespace vmigrate::vpopmail
