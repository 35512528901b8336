#include "verify/delivery_check.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "core/atomic_file.h"
#include "core/strings.h"
#include "model/outside_refs.h"

namespace vmigrate {
namespace {

constexpr size_t kMaxDotQmail = 1 << 20;

// The dot-qmail files directly in `dir` (on disk), sorted: regular files only.
std::vector<std::string> DotQmailFiles(const std::string& disk_dir) {
  std::vector<std::string> names;
  DIR* d = opendir(disk_dir.c_str());
  if (!d) return names;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (!IsDotQmailName(name)) continue;
    struct stat st;
    if (lstat((disk_dir + "/" + name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool IsDir(const std::string& disk) {
  struct stat st;
  return stat(disk.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void CheckFile(const HostPaths& paths, const std::string& host_dir, const std::string& user,
               const std::string& name, std::vector<Difference>* out) {
  auto text = ReadSmallFile(paths.OnDisk(host_dir + "/" + name), kMaxDotQmail);
  if (!text.ok()) return;
  std::vector<std::string> lines = SplitLines(*text);
  for (const FoundPath& f : DotQmailPaths(*text)) {
    if (!f.delivery) continue;  // a path handed to a program: the program's business
    std::string host = LexicalPath(host_dir, f.path);
    // vdelivermail's catch-all home sits on a program line; a delivery line
    // without the final '/' is an mbox.
    bool program_line = f.line <= lines.size() && StartsWith(lines[f.line - 1], "|");
    bool mbox = !program_line && !EndsWith(f.path, "/");
    // An mbox file is created by qmail-local; its directory must be there.
    std::string need = mbox ? DirName(host) : host;
    if (IsDir(paths.OnDisk(need))) continue;
    std::string what = "line " + std::to_string(f.line) + ": delivery target '" + EscapeC(f.path) +
                       "' " + (mbox ? "is in a directory that does not exist" : "does not exist") +
                       " on this host: mail to it is deferred";
    out->push_back({user, name, what});
  }
}

}  // namespace

std::vector<Difference> CheckDeliveryTargets(const HostPaths& paths, const std::string& domain_dir,
                                             const std::map<std::string, std::string>& homes) {
  std::vector<Difference> out;
  for (const std::string& name : DotQmailFiles(paths.OnDisk(domain_dir)))
    CheckFile(paths, domain_dir, "", name, &out);
  for (const auto& [user, home] : homes)
    for (const std::string& name : DotQmailFiles(paths.OnDisk(home))) CheckFile(paths, home, user, name, &out);
  return out;
}

std::vector<std::string> OutsideRefWarnings(const HostPaths& paths, const ManifestDomain& domain) {
  std::vector<std::string> out;
  for (const OutsideRef& ref : domain.outside_refs) {
    if (ref.reason == kRefArchiveDomain) continue;
    ReportedRef r{domain.name, ref, ""};
    if (StartsWith(ref.path, "/")) {
      struct stat st;
      bool here = stat(paths.OnDisk(LexicalPath("/", ref.path)).c_str(), &st) == 0;
      r.note = here ? "it exists on this host" : "it does not exist on this host";
    }
    out.push_back(DescribeReportedRef(r));
  }
  return out;
}

}  // namespace vmigrate
