#include "archive/layout.h"

#include <set>
#include <string_view>

#include "core/sha256.h"
#include "core/strings.h"
#include "model/manifest_yaml.h"
#include "model/path_rewrite.h"
#include "vpopmail/names.h"

namespace vmigrate {
namespace {

constexpr std::string_view kDomainsDir = "domains/";

Status Outside(const std::string& path) {
  return Status::Corrupt("archive entry '" + EscapeC(path) + "' is outside the domain the manifest names");
}

// The manifest is untrusted input: every name is checked with vpopmail's
// rules before it can reach a path or a control file.
Status CheckManifestNames(const Manifest& manifest) {
  std::set<std::string> names;  // every domain and alias, across domains
  for (const ManifestDomain& d : manifest.domains) {
    Status s = vpopmail::ValidateDomainName(d.name);
    if (!s.ok()) return Status::Corrupt("archive: domain: " + s.message());
    if (!names.insert(ToLower(d.name)).second)
      return Status::Corrupt("archive: domain '" + EscapeC(d.name) + "' is listed twice");
    for (const auto& a : d.aliases) {
      s = vpopmail::ValidateDomainName(a);
      if (!s.ok()) return Status::Corrupt("archive: alias domain: " + s.message());
      if (!names.insert(ToLower(a)).second)
        return Status::Corrupt("archive: alias domain '" + EscapeC(a) + "' is listed twice");
    }
    std::set<std::string> users;
    for (const auto& u : d.users) {
      s = vpopmail::ValidateEntry(u.entry);
      if (!s.ok()) return Status::Corrupt("archive: " + s.message());
      if (!users.insert(u.entry.name).second)
        return Status::Corrupt("archive: user '" + EscapeC(u.entry.name) + "' is listed twice");
    }
    for (const auto& f : d.rewritten_files) {
      s = CheckMemberPath(f);
      if (!s.ok()) return s.WithContext("archive");
    }
  }
  return Status::OK();
}

}  // namespace

// Walks the components in place: this runs for every member, twice on the
// import path (CheckEntryHeader, ParseMemberName), so it allocates nothing
// unless it fails.
Status CheckMemberPath(const std::string& path) {
  auto bad = [&](const std::string& why) {
    return Status::Corrupt("archive entry '" + EscapeC(path.substr(0, 300)) + "': " + why);
  };
  if (path.empty()) return bad("empty path");
  if (path.size() > 4096) return bad("path longer than 4096 bytes");
  if (path[0] == '/') return bad("absolute path");
  if (path.find('\0') != std::string::npos) return bad("NUL byte in path");
  if (path.find('\\') != std::string::npos) return bad("backslash in path");
  std::string_view rest(path);
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (part.empty()) return bad("empty path component");
    if (part == "..") return bad("'..' component escapes the domain");
    if (part == ".") return bad("'.' component");
    if (slash == std::string_view::npos) return Status::OK();
    rest.remove_prefix(slash + 1);
  }
}

Result<MemberName> ParseMemberName(const std::string& path) {
  VM_RETURN_IF_ERROR(CheckMemberPath(path));
  MemberName m;
  if (path == kManifestEntry) {
    m.part = MemberPart::kManifest;
    return m;
  }
  if (path == kDeltaEntry) {
    m.part = MemberPart::kDelta;
    return m;
  }
  if (path == kChecksumsEntry) {
    m.part = MemberPart::kChecksums;
    return m;
  }
  if (StartsWith(path, kServerPrefix)) {
    m.part = MemberPart::kServerFile;
    m.rel = path.substr(std::string_view(kServerPrefix).size());
    return m;
  }
  if (!StartsWith(path, kDomainsDir)) return Outside(path);
  size_t domain_end = path.find('/', kDomainsDir.size());
  if (domain_end == std::string::npos) return Outside(path);
  m.domain = path.substr(kDomainsDir.size(), domain_end - kDomainsDir.size());
  m.rel_in_domain = path.substr(domain_end + 1);
  const std::string& rest = m.rel_in_domain;
  if (rest == "files" || StartsWith(rest, "files/")) {
    m.part = MemberPart::kDomainFiles;
    if (rest.size() > 5) m.rel = rest.substr(6);
    return m;
  }
  if (!StartsWith(rest, "users/")) return Outside(path);
  m.part = MemberPart::kUserHome;
  size_t user_end = rest.find('/', 6);
  m.user = rest.substr(6, user_end == std::string::npos ? std::string::npos : user_end - 6);
  if (user_end != std::string::npos) m.rel = rest.substr(user_end + 1);
  return m;
}

Status CheckEntryHeader(const EntryHeader& h) {
  VM_RETURN_IF_ERROR(CheckMemberPath(h.path));
  if (h.mtime_nsec < 0 || h.mtime_nsec > 999999999)
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': bad mtime");
  if (h.type == EntryType::kHardlink)
    return Status::Corrupt("archive entry '" + EscapeC(h.path) +
                           "' is a hard link; vmigrate archives never contain one");
  if (h.type == EntryType::kOther)
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "' is a device, FIFO or socket; refused");
  return Status::OK();
}

FileRecord RecordFromHeader(const EntryHeader& h) {
  FileRecord rec;
  rec.type = h.type == EntryType::kDirectory ? 'd' : h.type == EntryType::kSymlink ? 'l' : 'f';
  rec.mode = h.mode & 07777;
  rec.mtime_sec = h.mtime_sec;
  rec.mtime_nsec = h.mtime_nsec;
  rec.path = h.path;
  if (h.type == EntryType::kSymlink) {
    rec.rewritten = HasPlaceholderMarker(h.link_target);
    rec.size = static_cast<std::int64_t>(h.link_target.size());
    rec.sha256 = Sha256::Of(h.link_target);
  }
  return rec;
}

Result<OpenedArchive> OpenArchive(const std::string& path, Manifest* parsed) {
  auto reader = ArchiveReader::Open(path);
  if (!reader.ok()) return reader.status();
  EntryHeader h;
  auto more = (*reader)->Next(&h);
  if (!more.ok()) return more.status();
  if (!*more) return Status::Corrupt(path + ": empty archive (no manifest.yaml)");
  if (h.path != kManifestEntry || h.type != EntryType::kFile)
    return Status::Corrupt(path + ": first entry is '" + EscapeC(h.path) +
                           "', not manifest.yaml: not a vmigrate archive");
  if (h.size < 0 || static_cast<size_t>(h.size) > kMaxManifestBytes)
    return Status::Corrupt("manifest.yaml claims " + std::to_string(h.size) + " bytes (limit " +
                           std::to_string(kMaxManifestBytes) + ")");
  auto text = (*reader)->ReadAll(kMaxManifestBytes);
  if (!text.ok()) return text.status();
  if (static_cast<std::int64_t>(text->size()) != h.size)
    return Status::Corrupt("manifest.yaml: size differs from its header");
  auto manifest = ManifestFromYaml(*text);
  if (!manifest.ok()) return manifest.status();
  if (parsed) *parsed = *manifest;
  VM_RETURN_IF_ERROR(CheckManifestNames(*manifest));
  OpenedArchive out;
  out.reader = std::move(*reader);
  out.manifest = std::move(*manifest);
  out.manifest_record = RecordFromHeader(h);
  out.manifest_record.size = h.size;
  out.manifest_record.sha256 = Sha256::Of(*text);
  return Result<OpenedArchive>(std::move(out));
}

}  // namespace vmigrate
