#include "importer/server_restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "core/sha256.h"
#include "core/strings.h"
#include "qmail/assign.h"

namespace vmigrate {

ServerRestore::ServerRestore(ImportContext* ctx, const Manifest* manifest, bool restore)
    : ctx_(ctx), manifest_(manifest), restore_(restore) {
  for (const ManifestDomain& d : manifest_->domains) {
    archive_names_.insert(ToLower(d.name));
    for (const auto& a : d.aliases) archive_names_.insert(ToLower(a));
  }
}

Status ServerRestore::Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) {
  const std::string& path = name.rel;
  const auto& listed = manifest_->server_files;
  if (!FindServerFile(path) || std::find(listed.begin(), listed.end(), path) == listed.end())
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is not a server file the manifest lists");
  if (h.type != EntryType::kFile)
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' must be a regular file");
  if (!seen_.insert(path).second)
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' appears twice");
  if (!restore_) return ctx_->HashEntry(h, rec);
  if (h.size < 0 || static_cast<size_t>(h.size) > kMaxServerFileBytes)
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is larger than " +
                           std::to_string(kMaxServerFileBytes) + " bytes");
  auto data = ctx_->reader->ReadAll(kMaxServerFileBytes);
  if (!data.ok()) return data.status();
  if (static_cast<std::int64_t>(data->size()) != h.size)
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': size differs from its header");
  rec->size = h.size;
  rec->sha256 = Sha256::Of(*data);
  data_.push_back({path, *data, static_cast<mode_t>(h.mode & 07777),
                   {static_cast<time_t>(h.mtime_sec), h.mtime_nsec}});
  return Status::OK();
}

bool ServerRestore::NamesArchiveDomain(const std::string& name) const {
  return archive_names_.count(ToLower(Trim(name))) > 0;
}

qmail::ExtraLines ServerRestore::Extras() const {
  qmail::ExtraLines extras;
  for (const FileData& f : data_) {
    std::vector<std::string> lines = SplitLines(f.data);
    if (f.path == "qmail/users/assign") {
      std::set<std::string> domain_lines;
      for (const auto& e : qmail::ParseDomainAssigns(f.data))
        if (NamesArchiveDomain(e.domain)) domain_lines.insert(ToLower(e.domain));
      for (const auto& line : lines) {
        if (line == ".") break;
        if (line.empty()) continue;
        std::string key = line.substr(0, line.find(':'));
        if (line[0] == '+' && key.size() > 2 && key.back() == '-' &&
            domain_lines.count(ToLower(key.substr(1, key.size() - 2))))
          continue;
        extras.assign.push_back(line);
      }
      continue;
    }
    std::vector<std::string>* out = nullptr;
    bool by_key = false;
    if (f.path == "qmail/control/rcpthosts") out = &extras.rcpthosts;
    else if (f.path == "qmail/control/morercpthosts") out = &extras.morercpthosts;
    else if (f.path == "qmail/control/virtualdomains") out = &extras.virtualdomains, by_key = true;
    else if (f.path == "qmail/control/locals") out = &extras.locals;
    if (!out) continue;
    for (const auto& line : lines) {
      if (line.empty()) continue;
      if (NamesArchiveDomain(by_key ? line.substr(0, line.find(':')) : line)) continue;
      out->push_back(line);
    }
  }
  return extras;
}

Status ServerRestore::ReplaceServerFiles(bool dry_run, const std::vector<qmail::ControlEdit>& edits) {
  const ImportOptions& opt = *ctx_->options;
  for (const FileData& f : data_) {
    const ServerFileSpec* spec = FindServerFile(f.path);
    std::string host = ServerFileHostPath(f.path, opt.paths.vpopmail_home, opt.paths.qmail_dir);
    if (spec->merge == ServerFileMerge::kLines) {
      bool changed = std::any_of(edits.begin(), edits.end(),
                                 [&](const qmail::ControlEdit& e) { return e.file == host; });
      ctx_->report->server_files.push_back({host, changed ? "add lines" : "unchanged"});
      continue;
    }
    if (spec->merge != ServerFileMerge::kReplace) continue;
    std::string disk = opt.paths.OnDisk(host);
    auto current = ReadSmallFile(disk, kMaxServerFileBytes);
    std::string action;
    if (!current.ok() && current.status().code() == Status::Code::kNotFound) action = "create";
    else if (!current.ok()) return current.status();
    else if (*current == f.data) action = "unchanged";
    else action = opt.merge ? "keep (differs)" : "replace";
    ctx_->report->server_files.push_back({host, action});
    if (dry_run || (action != "create" && action != "replace")) continue;
    std::optional<FileOwner> owner;
    struct stat st;
    if (geteuid() == 0) {
      if (stat(disk.c_str(), &st) == 0 || stat(DirName(disk).c_str(), &st) == 0)
        owner = FileOwner{st.st_uid, st.st_gid};
    }
    VM_RETURN_IF_ERROR(MakeDirs(DirName(disk), 0755, owner, nullptr));
    VM_RETURN_IF_ERROR(WriteFileAtomic(disk, f.data, f.mode, owner));
    struct timespec times[2] = {f.mtime, f.mtime};
    utimensat(AT_FDCWD, disk.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  return Status::OK();
}

}  // namespace vmigrate
