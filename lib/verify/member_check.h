// The files part of `vmigrate verify`: each archive member of the domain
// against its installed counterpart (type, permission bits, mtime with
// nanoseconds, size, SHA-256 or symlink target; path placeholders replaced
// by this host's paths first), then a walk of the installed domain dir and
// homes for what the archive does not have. Each member's checksums.txt
// record goes to the spool for the index comparison.
#ifndef VMIGRATE_VERIFY_MEMBER_CHECK_H_
#define VMIGRATE_VERIFY_MEMBER_CHECK_H_

#include <sys/stat.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "archive/archive_reader.h"
#include "archive/checksums.h"
#include "core/status.h"
#include "verify/installed_domain.h"
#include "verify/uidl_report.h"
#include "verify/verifier.h"

namespace vmigrate::verify {

class MemberCheck {
 public:
  /// `reader` is the archive (positioned by the caller), `spool` receives
  /// one record per member, `uidl` is told about mail folders (null
  /// without --uidl). All must outlive the check.
  MemberCheck(const InstalledDomain& domain, ArchiveReader* reader, RecordSpool* spool,
              UidlReport* uidl, VerifyReport* report);

  /// Compares the member `h` (of this domain; its data not yet read) with
  /// the installed file and adds its record to the spool. Differences go
  /// to the report; kCorrupt for a member the archive format forbids, the
  /// I/O error for an installed file that cannot be read.
  Status Compare(const EntryHeader& h);

  /// After the last member: adds "not in the archive" for every installed
  /// file and directory below the domain dir and the homes that no member
  /// named (vpopmail's regenerated files excepted; a missing
  /// .qmail-default only warns), a difference for a home that exists
  /// though the archive says it was missing at export, and one for each
  /// file the user store keeps as rows (InstalledDomain::store_files) that
  /// no member named.
  Status FindExtras();

 private:
  // A member of the domain, mapped onto this host.
  struct Mapped {
    std::string user;           // "" for the domain dir's files
    std::string shown;          // relative to the home or domain dir; "." for that dir
    std::string disk;           // on-disk path; empty when !installed
    std::string rel_in_domain;  // "files/<rel>", "users/<u>/<rel>"
    bool installed = true;      // false: the member's user is not installed
  };

  Status Map(const std::string& member, Mapped* m) const;
  bool IsStorageLink(const std::string& rel, bool domain_level) const;
  Result<std::string> StorageBase(const std::string& host_dir, const std::string& rel,
                                  bool domain_level) const;
  bool UnderMissingDir(const std::string& disk) const;
  // lstat()s the installed counterpart; adds "missing" or a type mismatch.
  // *present: it exists with the member's type.
  Status FindInstalled(const EntryHeader& h, const Mapped& m, struct stat* st, bool* present);
  void CompareMetadata(const EntryHeader& h, const Mapped& m, const struct stat& st);
  void CompareSymlink(const EntryHeader& h, const Mapped& m);  // installed: is it the same target?
  Status CompareFile(const EntryHeader& h, const Mapped& m, bool present, const struct stat* st,
                     FileRecord* rec);
  // A member whose installed counterpart the store keeps as rows: content only.
  Status CompareStoreFile(const EntryHeader& h, const Mapped& m, const vpopmail::StoreFile& installed,
                          FileRecord* rec);
  // Compares installed `disk` (`st`) with the bytes the archive expects.
  Status CompareContent(const Mapped& m, const struct stat& st, std::int64_t size,
                        const std::string& sha256, bool rewritten);

  bool Seen(const std::string& disk) const;
  Status WalkExtras(const std::string& disk_dir, const std::string& rel_dir, const std::string& user,
                    bool domain_level);
  void Add(const std::string& user, const std::string& path, const std::string& what) {
    AddDifference(report_, user, path, what);
  }

  const InstalledDomain& domain_;
  ArchiveReader* reader_;
  RecordSpool* spool_;
  UidlReport* uidl_;
  VerifyReport* report_;
  std::set<std::string> rewritten_;  // domain_.archived->rewritten_files
  // Homes inside the domain dir, relative to it ("alice", "0/bob"), and the
  // bucket dirs above them ("0"): the domain-level walk leaves them to the users.
  std::set<std::string> home_rels_, bucket_rels_;
  std::set<std::string> missing_dirs_;  // on disk: nothing below them is compared
  std::vector<std::uint64_t> seen_;     // PathKey of every installed path a member named
  std::set<std::string> store_seen_;    // the store files a member named
  std::vector<char> buffer_;
};

}  // namespace vmigrate::verify

#endif  // VMIGRATE_VERIFY_MEMBER_CHECK_H_
