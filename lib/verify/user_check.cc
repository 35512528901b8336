#include "verify/user_check.h"

#include <set>
#include <string>
#include <vector>

#include "core/strings.h"
#include "vpopmail/names.h"
#include "vpopmail/password.h"

namespace vmigrate::verify {

void CheckUsers(const InstalledDomain& domain, VerifyReport* report) {
  auto add = [&](const std::string& user, const std::string& what) {
    AddDifference(report, user, "vpasswd", what);
  };
  std::set<std::string> in_archive;
  std::vector<std::string> weak;
  for (const ManifestUser& u : domain.archived->users) {
    const VpasswdEntry& a = u.entry;
    in_archive.insert(a.name);
    auto it = domain.users_by_name.find(a.name);
    if (it == domain.users_by_name.end()) {
      add(a.name, "user is in the archive but not installed");
      continue;
    }
    const VpasswdEntry& b = it->second;
    auto field = [&](const char* label, const std::string& x, const std::string& y) {
      if (x != y)
        add(a.name, std::string(label) + " '" + EscapeC(x) + "' in the archive, '" + EscapeC(y) +
                        "' installed");
    };
    if (a.passwd != b.passwd) add(a.name, "password hash differs from the archive");
    field("uid (POP/APOP) field", a.uid, b.uid);
    field("flags (gid)", a.gid, b.gid);
    field("gecos", a.gecos, b.gecos);
    field("quota", a.quota, b.quota);
    if (a.has_clear != b.has_clear)
      add(a.name, std::string("cleartext field ") + (a.has_clear ? "present" : "absent") +
                      " in the archive, " + (b.has_clear ? "present" : "absent") + " installed");
    else if (a.clear != b.clear)
      add(a.name, "cleartext password differs from the archive");
    if (!a.clear.empty()) {
      ++report->passwords_checked;
      if (!vpopmail::CryptMatches(a.clear, b.passwd))
        add(a.name, "the cleartext password does not verify against the installed hash");
    }
    std::string scheme = vpopmail::WeakHashScheme(b.passwd);
    if (!scheme.empty()) weak.push_back(a.name + " (" + scheme + ")");
  }
  if (!weak.empty())
    report->warnings.push_back(domain.archived->name + ": weak password hashes (DES/MD5-crypt): " +
                               Join(weak, ", "));
  for (const auto& [name, e] : domain.users_by_name)
    if (!in_archive.count(name)) add(name, "user is installed but not in the archive");
  // Warnings, not differences: such accounts and lines are carried as they
  // are (issue 12); the admin decides.
  for (auto& u : vpopmail::FindUnreachableUsers(*domain.archived)) {
    report->warnings.push_back(vpopmail::DescribeUnreachable(u));
    report->unreachable_users.push_back(std::move(u));
  }
  for (const VpasswdEntry& e : domain.users) {
    std::string note = vpopmail::VpasswdLineWarning(e);
    if (!note.empty()) report->warnings.push_back(domain.archived->name + ": " + note);
  }
}

void CheckUserStore(const InstalledDomain& domain, vpopmail::UserStore* store, VerifyReport* report) {
  for (const auto& p : store->CheckConsistency(domain.loc, domain.users)) {
    if (p.warning)  // vpopmail works with it (e.g. MySQL's dir_control counter above the accounts)
      report->warnings.push_back(domain.loc.domain + ": " + p.file + (p.user.empty() ? "" : " " + p.user) + ": " + p.what);
    else
      AddDifference(report, p.user, p.file, p.what);
  }
}

}  // namespace vmigrate::verify
