#include "verify/qmail_check.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/strings.h"
#include "qmail/assign.h"
#include "qmail/control_file.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::verify {
namespace {

// The lines of a control file, lower-cased, trailing blanks cut; empty when
// the file cannot be read.
std::set<std::string> LoadControlLines(const HostPaths& p, const std::string& name) {
  std::set<std::string> out;
  auto f = qmail::ControlFile::Load(p.OnDisk(p.control_file(name)));
  if (!f.ok()) return out;
  for (std::string line : f->lines()) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.pop_back();
    out.insert(ToLower(line));
  }
  return out;
}

}  // namespace

void CheckQmailRegistration(const InstalledDomain& domain, VerifyReport* report) {
  const ManifestDomain& d = *domain.archived;
  const qmail::DomainLocation& loc = domain.loc;
  auto add = [&](const std::string& path, const std::string& what) {
    AddDifference(report, "", path, what);
  };
  std::vector<std::string> names = {d.name};
  names.insert(names.end(), d.aliases.begin(), d.aliases.end());
  const HostPaths& p = *domain.paths;
  const std::string assign_path = p.assign_file();

  std::set<std::string> wanted;
  for (const auto& n : names) wanted.insert(ToLower(n));
  for (const auto& a : loc.aliases)
    if (!wanted.count(ToLower(a)))
      add(assign_path, a + ": alias domain of " + d.name + " on this host but not in the archive");

  auto assign_text = ReadSmallFile(p.OnDisk(assign_path));
  std::vector<qmail::DomainAssign> assigns;
  if (assign_text.ok()) assigns = qmail::ParseDomainAssigns(*assign_text);
  for (const auto& n : names) {
    const qmail::DomainAssign* line = nullptr;
    for (const auto& a : assigns)
      if (ToLower(a.domain) == ToLower(n)) line = &a;
    if (!line) {
      add(assign_path, n + ": no '+" + n + "-:' line");
      continue;
    }
    if (ToLower(line->real_domain) != ToLower(d.name) || NormalizePath(line->dir) != loc.dir)
      add(assign_path, n + ": points to " + line->real_domain + " in " + line->dir + ", not to " +
                           d.name + " in " + loc.dir);
  }

  const std::string users_cdb = p.qmail_dir + "/users/cdb";
  auto ucdb = vpopmail::ReadCdbRecords(p.OnDisk(users_cdb));
  if (!ucdb.ok()) {
    add(users_cdb, "cannot be read: " + ucdb.status().message());
  } else {
    for (const auto& n : names) {
      auto it = ucdb->find("!" + ToLower(n) + "-");
      if (it == ucdb->end()) {
        add(users_cdb, n + ": missing (users/cdb is older than users/assign: run qmail-newu)");
        continue;
      }
      std::vector<std::string> f = Split(it->second, '\0');
      if (f.size() < 4 || ToLower(f[0]) != ToLower(d.name) || NormalizePath(f[3]) != loc.dir)
        add(users_cdb, n + ": record does not point to " + d.name + " in " + loc.dir);
    }
  }

  std::set<std::string> rcpt = LoadControlLines(p, "rcpthosts");
  std::set<std::string> more = LoadControlLines(p, "morercpthosts");
  std::set<std::string> virt = LoadControlLines(p, "virtualdomains");
  std::set<std::string> locals = LoadControlLines(p, "locals");
  std::map<std::string, std::string> more_cdb;
  bool more_cdb_ok = false;
  for (const auto& n : names) {
    std::string l = ToLower(n);
    if (rcpt.count(l)) {
    } else if (more.count(l)) {
      if (!more_cdb_ok) {
        auto c = vpopmail::ReadCdbRecords(p.OnDisk(p.control_file("morercpthosts.cdb")));
        if (c.ok()) more_cdb = *c;
        more_cdb_ok = true;
      }
      if (!more_cdb.count(l)) add(p.control_file("morercpthosts.cdb"), n + ": missing (run qmail-newmrh)");
    } else {
      add(p.control_file("rcpthosts"), n + ": in neither rcpthosts nor morercpthosts");
    }
    if (!virt.count(l + ":" + l)) add(p.control_file("virtualdomains"), n + ": no '" + n + ":" + n + "' line");
    if (locals.count(l))
      add(p.control_file("locals"), n + ": listed in locals, so qmail would deliver it locally");
  }
}

}  // namespace vmigrate::verify
