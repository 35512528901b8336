// The vmigrate archive's member layout (share/doc/archive-format.md): which
// member names may appear, what each one maps to, how a tar header becomes a
// checksums.txt record, and how an archive is opened (manifest.yaml first,
// checked the same way for import, verify, inspect and mailbox restore).
// The one place that knows these rules; archive_reader.h stays plain tar.
#ifndef VMIGRATE_ARCHIVE_LAYOUT_H_
#define VMIGRATE_ARCHIVE_LAYOUT_H_

#include <memory>
#include <string>

#include "archive/archive_reader.h"
#include "archive/checksums.h"
#include "core/status.h"
#include "model/manifest.h"

namespace vmigrate {

/// Which part of an archive a member belongs to.
enum class MemberPart {
  kManifest,     // "manifest.yaml"
  kChecksums,    // "checksums.txt"
  kDelta,        // "delta.txt" (kind delta: removals and renames)
  kServerFile,   // "server/<path>" (kind server); `rel` = <path>
  kDomainFiles,  // "domains/<d>/files" or "domains/<d>/files/<rel>"
  kUserHome,     // "domains/<d>/users/<u>" or "domains/<d>/users/<u>/<rel>"
};

/// A member name taken apart. For kDomainFiles and kUserHome, `rel` is the
/// path below the domain dir or the home ("" for that dir itself), and
/// `rel_in_domain` is the name relative to "domains/<d>/" ("files/<rel>",
/// "users/<u>/<rel>"), the form ManifestDomain::rewritten_files uses.
struct MemberName {
  MemberPart part = MemberPart::kManifest;
  std::string domain;
  std::string user;
  std::string rel;
  std::string rel_in_domain;
};

/// Checks a member path: relative, '/'-separated, no empty, "." or ".."
/// components, no NUL or backslash, at most 4096 bytes. kCorrupt naming
/// the member (escaped) and the rule broken.
Status CheckMemberPath(const std::string& path);

/// Parses a member name (CheckMemberPath first). kCorrupt for a name that
/// fits no part ("archive entry 'x' is outside the domain the manifest
/// names"). Does not check that the domain, user or server file is one the
/// manifest lists: the caller knows which of them it accepts.
Result<MemberName> ParseMemberName(const std::string& path);

/// The header checks every reader makes on a member after the manifest:
/// CheckMemberPath, mtime nanoseconds in 0..999999999, and no hard link,
/// device, FIFO or socket. kCorrupt naming the member.
Status CheckEntryHeader(const EntryHeader& h);

/// The checksums.txt record of a member as far as its header tells: type,
/// mode (permission bits), mtime, path; for a symlink also size and SHA-256
/// of the target and `rewritten` when the target holds placeholders. A
/// file's size and SHA-256 are left for the caller (they need its data).
FileRecord RecordFromHeader(const EntryHeader& h);

/// Largest manifest.yaml accepted, in bytes.
constexpr size_t kMaxManifestBytes = 64u << 20;

/// An archive opened and positioned after its manifest.
struct OpenedArchive {
  std::unique_ptr<ArchiveReader> reader;
  Manifest manifest;
  FileRecord manifest_record;  // its checksums.txt record (size, SHA-256 of the text)
};

/// Opens `path` ("-" = stdin) and reads the first member, which must be
/// manifest.yaml as a regular file of at most kMaxManifestBytes whose data
/// is the size its header says; parses it (ManifestFromYaml: format version,
/// kind) and checks every name in it with vpopmail's rules (domains, alias
/// domains, users with vpopmail::ValidateEntry: a name vpopmail cannot reach
/// passes, one unsafe on disk does not; no name listed twice;
/// rewritten_files paths). Errors:
/// kNotFound (no such file), kCorrupt ("<path>: empty archive (no
/// manifest.yaml)", "<path>: first entry is 'x', not manifest.yaml: not a
/// vmigrate archive", "manifest.yaml claims N bytes (limit L)",
/// "manifest.yaml: size differs from its header", ManifestFromYaml's own
/// errors, name errors prefixed "archive: "), kIoError.
/// `parsed`, when given, receives the manifest as soon as it parses, before
/// its names are checked: the importer labels a name error with the
/// archive's (escaped) domain, as it always has.
Result<OpenedArchive> OpenArchive(const std::string& path, Manifest* parsed = nullptr);

}  // namespace vmigrate

#endif  // VMIGRATE_ARCHIVE_LAYOUT_H_
