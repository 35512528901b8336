// vpopmail domain -> archive. Streams every file once (hashing while it
// copies), so memory does not grow with the number or size of messages.
#ifndef VMIGRATE_EXPORTER_EXPORTER_H_
#define VMIGRATE_EXPORTER_EXPORTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "archive/archive_writer.h"
#include "core/host_paths.h"
#include "core/progress.h"
#include "core/rate_limit.h"
#include "core/resolve_path.h"
#include "core/status.h"
#include "model/manifest.h"

namespace vmigrate {

struct ExportOptions {
  HostPaths paths;                          // --root, --vpopmail-home, --qmail-dir
  std::string domain;                       // DOMAIN (kind "domain")
  bool all = false;                         // --all: kind "server", every domain + server config
  std::vector<std::string> only;            // --all --domains-from FILE: just these domains
  std::vector<std::string> exclude;         // --all --exclude DOMAIN
  std::string output;                       // -o FILE, "-" for stdout
  Compression compression = Compression::kZstd;  // --compress
  bool overwrite = false;                   // --force: replace an existing FILE
  bool strip_cleartext = false;             // --strip-cleartext: empty the 8th vpasswd field
  ProgressMeter* progress = nullptr;        // --progress; not owned
  RateLimiter* rate_limit = nullptr;        // --max-rate; not owned
};

struct ExportReport {
  Manifest manifest;
  std::uint64_t entries = 0;       // archive members written
  std::uint64_t file_bytes = 0;    // bytes of file data archived
  std::vector<std::string> warnings;
  /// Storage symlinks followed (domains/, a domain dir, a bucket dir, a
  /// home, a Maildir), each once, as vpopmail follows them; links above the
  /// vpopmail home (e.g. /home -> /usr/home) are not listed.
  std::vector<SymlinkHop> followed_links;
};

/// Writes the archive: one domain, or with `all` a server backup. On failure a partly written output file is removed.
Status ExportDomain(const ExportOptions& options, ExportReport* report);

}  // namespace vmigrate

#endif  // VMIGRATE_EXPORTER_EXPORTER_H_
