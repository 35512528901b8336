// The import record: which archive a domain was imported from, so that a
// batch run again with --skip-existing can tell "already imported from this
// archive" (skipped) from "a domain that came from elsewhere" (a conflict).
//
// A full import writes `.vmigrate-import` into the staged domain directory,
// so it lands with the domain (and goes with it: a rollback, cutover
// discard, vdeldomain). Export, state and verify skip ".vmigrate-*" names,
// so the record never travels and never changes a state digest. Format:
//   vmigrate-import 1
//   archive <SHA-256 of the archive's manifest.yaml>
//   created <the manifest's created time>
//   source <the manifest's source host>
// and the mtime of the manifest member. Nothing in it depends on when the
// import ran, so two imports of one archive leave the same domain tree.
// The manifest's hash names the export run: it holds the creation time,
// the source host and every account with its message count and bytes.
#ifndef VMIGRATE_IMPORTER_IMPORT_RECORD_H_
#define VMIGRATE_IMPORTER_IMPORT_RECORD_H_

#include <optional>
#include <string>

#include "archive/checksums.h"
#include "core/atomic_file.h"
#include "core/host_paths.h"
#include "core/status.h"
#include "model/manifest.h"

namespace vmigrate {

inline constexpr const char* kImportRecordName = ".vmigrate-import";

/// Writes the record (mode 0600, `owner` when given, the mtime of
/// `manifest_record`) into `staged_dir`.
Status WriteImportRecord(const std::string& staged_dir, const FileRecord& manifest_record,
                         const Manifest& manifest, const std::optional<FileOwner>& owner);

/// The archive id recorded for `domain` installed on the target at `paths`
/// (found through users/assign); "" when the domain has no record (created
/// by vadddomain, imported by an older vmigrate). kNotFound when the domain
/// is not installed; the read error otherwise.
Result<std::string> InstalledArchiveId(const HostPaths& paths, const std::string& domain);

/// --skip-existing: "" when `domain`, installed at `paths`, was imported
/// from the archive whose manifest hash is `archive_id`; else why it does
/// not count as that, one phrase for the conflict message. Read errors
/// other than a missing domain are returned.
Result<std::string> WhyNotFromArchive(const HostPaths& paths, const std::string& domain,
                                      const std::string& archive_id);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_IMPORT_RECORD_H_
