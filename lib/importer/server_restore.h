// import --all of a server archive: the old host's configuration files
// ("server/<path>" members, model/manifest.h ServerFilePaths). Their data is
// kept in memory while the archive is read (each at most
// kMaxServerFileBytes); after the domains are staged, Extras() gives the
// control lines that are not about the archive's domains and
// ReplaceServerFiles() writes the whole-file settings. Without --all the
// members are only checked and hashed.
#ifndef VMIGRATE_IMPORTER_SERVER_RESTORE_H_
#define VMIGRATE_IMPORTER_SERVER_RESTORE_H_

#include <sys/types.h>

#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "importer/import_context.h"
#include "model/manifest.h"
#include "qmail/control_update.h"

namespace vmigrate {

class ServerRestore : public EntrySink {
 public:
  /// `restore` = keep the data for Extras/ReplaceServerFiles (--all on a
  /// server archive); otherwise members are only checked and hashed.
  ServerRestore(ImportContext* ctx, const Manifest* manifest, bool restore);

  /// A "server/<path>" member. kCorrupt when the path is not a server file
  /// the manifest lists, not a regular file, seen twice, or (restoring)
  /// larger than kMaxServerFileBytes or not the size its header says.
  Status Accept(const EntryHeader& h, const MemberName& name, FileRecord* rec) override;

  /// Lines of the carried control files that are not about the archive's
  /// domains or aliases (those are registered by each domain's commit).
  qmail::ExtraLines Extras() const;

  /// me, defaultdomain, smtproutes and vpopmail's etc/ files: written when
  /// absent; replaced when different, except with --merge, which keeps the
  /// target's and reports it. Line-merged files are reported as "add lines"
  /// when `edits` (the server's own control edits) touch them. Appends to
  /// report->server_files; a dry run writes nothing.
  Status ReplaceServerFiles(bool dry_run, const std::vector<qmail::ControlEdit>& edits);

  static constexpr size_t kMaxServerFileBytes = 16u << 20;

 private:
  struct FileData {
    std::string path;  // relative to "server/"
    std::string data;
    mode_t mode;
    struct timespec mtime;
  };

  bool NamesArchiveDomain(const std::string& name) const;

  ImportContext* ctx_;
  const Manifest* manifest_;
  const bool restore_;
  std::set<std::string> archive_names_;  // every domain and alias, lower case
  std::vector<FileData> data_;
  std::set<std::string> seen_;
};

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_SERVER_RESTORE_H_
