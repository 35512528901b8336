#include "importer/import_record.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "core/errno_status.h"
#include "core/resolve_path.h"
#include "core/strings.h"
#include "qmail/domains.h"

namespace vmigrate {
namespace {

constexpr const char* kMagic = "vmigrate-import 1";

// Names and hosts come from an archive: one line each, whatever they hold.
std::string OneLine(const std::string& s) { return EscapeC(s); }

}  // namespace

Status WriteImportRecord(const std::string& staged_dir, const FileRecord& manifest_record,
                         const Manifest& manifest, const std::optional<FileOwner>& owner) {
  std::string text = std::string(kMagic) + "\n";
  text += "archive " + manifest_record.sha256 + "\n";
  text += "created " + OneLine(manifest.created) + "\n";
  text += "source " + OneLine(manifest.source.hostname) + "\n";
  const std::string path = staged_dir + "/" + kImportRecordName;
  VM_RETURN_IF_ERROR(WriteFileAtomic(path, text, 0600, owner));
  struct timespec mtime = {static_cast<time_t>(manifest_record.mtime_sec), manifest_record.mtime_nsec};
  struct timespec times[2] = {mtime, mtime};
  if (utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return FromErrno("cannot set the mtime of " + path, errno);
  return Status::OK();
}

Result<std::string> InstalledArchiveId(const HostPaths& paths, const std::string& domain) {
  auto loc = qmail::LocateDomain(paths, domain);
  if (!loc.ok()) return loc.status();
  auto dir = ResolveUnderRoot(paths.root, loc->dir);  // a symlinked domain dir is followed
  if (!dir.ok()) return dir.status();
  auto text = ReadSmallFile(dir->disk + "/" + kImportRecordName, 4096);
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) return std::string();
    return text.status();
  }
  std::vector<std::string> lines = SplitLines(*text);
  if (lines.empty() || lines[0] != kMagic) return std::string();
  for (const std::string& line : lines)
    if (StartsWith(line, "archive ")) return line.substr(8);
  return std::string();
}

Result<std::string> WhyNotFromArchive(const HostPaths& paths, const std::string& domain,
                                      const std::string& archive_id) {
  auto id = InstalledArchiveId(paths, domain);
  if (!id.ok()) {
    // An alias domain or a leftover directory is what is there, not the domain.
    if (id.status().code() == Status::Code::kNotFound || id.status().code() == Status::Code::kInvalidInput)
      return std::string("--skip-existing: it is not a domain this archive installed");
    return id.status();
  }
  if (*id == archive_id) return std::string();
  if (id->empty()) return std::string("--skip-existing: it was not imported by vmigrate (no import record)");
  return "--skip-existing: it was imported from another archive (" + id->substr(0, 16) + ", this is " +
         archive_id.substr(0, 16) + ")";
}

}  // namespace vmigrate
