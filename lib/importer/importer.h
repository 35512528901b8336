// archive -> vpopmail domain on this host. The domain is unpacked into a
// staging directory next to the target, checked against the archive's
// checksums, then renamed into place and registered with qmail under the
// locks vpopmail takes. Any failure before that point leaves the target as
// it was; a failure while registering rolls every change back.
#ifndef VMIGRATE_IMPORTER_IMPORTER_H_
#define VMIGRATE_IMPORTER_IMPORTER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/host_paths.h"
#include "core/status.h"
#include "model/manifest.h"

namespace vmigrate {

struct ImportOptions {
  HostPaths paths;                   // --root, --vpopmail-home, --qmail-dir
  std::string archive;               // FILE or "-" for stdin
  std::optional<FileOwner> owner;    // --owner UID:GID; default: the vpopmail user
  bool reload = true;                // --no-reload clears it: no HUP to qmail-send
  bool use_qmail_programs = false;   // --qmail-programs: run qmail-newu/qmail-newmrh
  /// --dry-run: read and check the whole archive, work out the plan, write nothing.
  bool dry_run = false;
  /// Set from a signal handler; checked between entries.
  const std::atomic<bool>* interrupted = nullptr;
};

struct ImportReport {
  Manifest manifest;
  std::string domain_dir;                          // where the domain landed (host path)
  std::map<std::string, std::string> user_dirs;    // user -> new home (host path)
  FileOwner owner;                                  // uid:gid written to users/assign
  bool chowned = false;                             // files were chowned to `owner`
  int qmail_send_signalled = 0;
  /// The control-file lines added ('+') or removed ('-'): file, op, line.
  struct Edit {
    std::string file;
    char op;
    std::string line;
  };
  std::vector<Edit> control_edits;
  std::string domains_dir_control;                  // domains/.dir-control afterwards
  std::uint64_t entries = 0;
  std::uint64_t file_bytes = 0;
  std::vector<std::string> warnings;
};

Status ImportArchive(const ImportOptions& options, ImportReport* report);

/// Checks an archive member path: relative, '/'-separated, no empty, "." or
/// ".." components, no NUL or backslash, at most 4096 bytes.
Status CheckMemberPath(const std::string& path);

/// Resolves the owner for imported files and the users/assign line:
/// `override`, else the target's vpopmail user (<root>/etc/passwd), else the
/// owner of the target's vpopmail home.
Result<FileOwner> ResolveTargetOwner(const HostPaths& paths, std::optional<FileOwner> override);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_IMPORTER_H_
