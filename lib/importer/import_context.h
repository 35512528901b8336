// What the parts of one import run share: the options, the report, the
// archive being read, who owns the files we write, and the copy helpers.
// ImportArchive (importer.cc) reads the archive once and hands each entry
// to the EntrySink that owns its path: a DomainImport (one domain), a
// MailboxRestore (one user's mail), the ServerRestore (server/ members), or
// nobody (hashed and checked only).
#ifndef VMIGRATE_IMPORTER_IMPORT_CONTEXT_H_
#define VMIGRATE_IMPORTER_IMPORT_CONTEXT_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "archive/archive_reader.h"
#include "archive/layout.h"
#include "archive/checksums.h"
#include "core/atomic_file.h"
#include "core/status.h"
#include "importer/importer.h"
#include "vpopmail/user_store.h"

namespace vmigrate {

struct ImportContext {
  const ImportOptions* options = nullptr;
  ImportReport* report = nullptr;
  ArchiveReader* reader = nullptr;
  std::optional<FileOwner> chown;   // set when running as root
  FileRecord manifest_record;       // the archive's manifest.yaml: its hash names the archive
  std::string vp_disk;              // the target's vpopmail home on disk
  std::string domains_disk;         // its domains/ on disk, symlinks followed (vpopmail chdir()s into it)
  /// The target's accounts (OpenUserStore on options->paths); not owned.
  vpopmail::UserStore* store = nullptr;
  /// The manifest's source.backend ("cdb" when absent): how its pw_uid
  /// values are meant (vpopmail::ConvertPwUid).
  std::string source_backend = "cdb";

  /// The domain-tree counter (where the next domain goes, reference §2.2)
  /// as the target keeps it: domains/.dir-control, or with a store that
  /// keeps no files its dom_<uid> row for the target owner's uid. nullopt
  /// when there is none; errors other than a missing file are returned.
  Result<std::optional<std::string>> DomainsDirControl() const;

  Status CheckInterrupted() const;
  /// Reads the current entry to its end, hashing it into `rec` (size, sha256).
  Status HashEntry(const EntryHeader& h, FileRecord* rec);
  /// Writes the current entry to a new file `disk` (O_EXCL) with the
  /// header's mode and mtime, hashing it into `rec`. No fsync: the caller
  /// syncs the whole tree once.
  /// `umask_sets_mode` says open(..., 0600) gives 0600 & ~umask in that
  /// directory (see UmaskSetsMode); then a member with that mode needs no fchmod.
  Status WriteEntry(const EntryHeader& h, const std::string& disk, const std::optional<FileOwner>& owner,
                    bool umask_sets_mode, FileRecord* rec);

  /// False when `dir` has a default ACL: it, not the umask, then sets the
  /// mode of new files below it.
  static bool UmaskSetsMode(const std::string& dir);

 private:
  static constexpr size_t kCopyBuffer = 256 * 1024;
  static mode_t CreatedMode();  // what open(..., 0600) gives under our umask
  const mode_t created_mode_ = CreatedMode();
  std::vector<char> buffer_ = std::vector<char>(kCopyBuffer);
};

/// Receives the archive entries of one part of the archive.
class EntrySink {
 public:
  virtual ~EntrySink() = default;
  /// Handles one entry, reading its data if it is a file. `h` passed
  /// CheckEntryHeader and `name` is its ParseMemberName. `rec` comes with
  /// type, mode, mtime, path, the rewritten flag and a symlink's size and
  /// hash filled in; the sink adds a file's size and sha256.
  virtual Status Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) = 0;
};

/// mkdir -p with `mode` and `owner` for every directory it creates, each
/// appended to `created` when given.
Status MakeDirs(const std::string& dir, mode_t mode, const std::optional<FileOwner>& owner,
                std::vector<std::string>* created);

/// rename() that refuses to replace an existing target.
int RenameNoReplace(const std::string& from, const std::string& to);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_IMPORT_CONTEXT_H_
