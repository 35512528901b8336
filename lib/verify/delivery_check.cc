#include "verify/delivery_check.h"

#include <sys/stat.h>

#include "core/atomic_file.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "model/outside_refs.h"

namespace vmigrate::verify {
namespace {

constexpr size_t kMaxDotQmail = 1 << 20;

// A host path as qmail-local and vdelivermail reach it: symlinks followed
// under --root (core/resolve_path.h).
bool Exists(const HostPaths& paths, const std::string& host, bool want_dir) {
  auto r = ResolveUnderRoot(paths.root, host);
  struct stat st;
  return r.ok() && r->exists && stat(r->disk.c_str(), &st) == 0 && (!want_dir || S_ISDIR(st.st_mode));
}

// The delivery targets of the dot-qmail files directly in `host_dir`.
void CheckDir(const InstalledDomain& domain, const std::string& host_dir, const std::string& user,
              VerifyReport* report) {
  const HostPaths& paths = *domain.paths;
  auto dir_disk = domain.StorageDisk(host_dir);
  if (!dir_disk.ok()) return;  // reported by the member comparison
  auto names = ListNames(*dir_disk);
  if (!names.ok()) return;  // a missing home is reported by the member comparison
  for (const std::string& name : *names) {
    if (!IsDotQmailName(name)) continue;
    std::string disk = *dir_disk + "/" + name;
    struct stat st;
    if (lstat(disk.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    auto text = ReadSmallFile(disk, kMaxDotQmail);
    if (!text.ok()) continue;
    std::vector<std::string> lines = SplitLines(*text);
    for (const FoundPath& f : DotQmailPaths(*text)) {
      if (!f.delivery) continue;  // a path handed to a program: the program's business
      // vdelivermail's catch-all home sits on a program line; a delivery
      // line without the final '/' is an mbox, which qmail-local creates:
      // only its directory must be there.
      bool program_line = f.line <= lines.size() && StartsWith(lines[f.line - 1], "|");
      bool mbox = !program_line && !EndsWith(f.path, "/");
      std::string host = LexicalPath(host_dir, f.path);
      if (Exists(paths, mbox ? DirName(host) : host, true)) continue;
      AddDifference(report, user, name,
                    "line " + std::to_string(f.line) + ": delivery target '" + EscapeC(f.path) + "' " +
                        (mbox ? "is in a directory that does not exist" : "does not exist") +
                        " on this host: mail to it is deferred");
    }
  }
}

}  // namespace

void CheckDeliveryTargets(const InstalledDomain& domain, VerifyReport* report) {
  CheckDir(domain, domain.loc.dir, "", report);
  for (const auto& [name, home] : domain.target.user_dirs) CheckDir(domain, home, name, report);
}

void NoteOutsideRefs(const InstalledDomain& domain, VerifyReport* report) {
  for (const OutsideRef& ref : domain.archived->outside_refs) {
    if (ref.reason == kRefArchiveDomain) continue;
    ReportedRef r{domain.archived->name, ref, ""};
    if (StartsWith(ref.path, "/")) {
      bool here = Exists(*domain.paths, LexicalPath("/", ref.path), false);
      r.note = here ? "it exists on this host" : "it does not exist on this host";
    }
    report->outside_refs.push_back(std::move(r));
  }
}

}  // namespace vmigrate::verify
