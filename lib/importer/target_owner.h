// Who owns what an import writes on the target: the uid:gid the domain's
// files are chowned to (as root) and the one written into its users/assign
// line, which qmail-lspawn runs the delivery as. qmail-lspawn refuses uid 0
// (NQ:qmail-lspawn.c: "if (!pw->pw_uid) _exit(QLX_ROOT)"), so an owner of
// root would leave a domain that never gets mail: it is refused.
#ifndef VMIGRATE_IMPORTER_TARGET_OWNER_H_
#define VMIGRATE_IMPORTER_TARGET_OWNER_H_

#include <optional>
#include <string>

#include "core/atomic_file.h"
#include "core/host_paths.h"
#include "core/status.h"

namespace vmigrate {

/// An owner and where it was taken from.
struct TargetOwner {
  FileOwner owner;
  /// For the notice and --json "owner.source": "--owner vpopmail:vchkpw",
  /// "etc/passwd user vpopmail", "the owner of /home/vpopmail", ...
  std::string source;
  /// Taken from the owner of the vpopmail home: a guess the admin is told about.
  bool guessed = false;
};

/// Parses --owner USER[:GROUP]. Each part is a number or a name; names are
/// looked up in <root>/etc/passwd and <root>/etc/group (the files, parsed:
/// the target may be a mounted disk), or through NSS (getpwnam_r,
/// getgrnam_r) when root is "/". USER alone takes the user's primary group.
/// kInvalidInput naming the part that is wrong.
Result<TargetOwner> ParseOwnerSpec(const std::string& spec, const std::string& root);

/// The owner of an import: `spec` (--owner) when given, else `given` (a
/// caller's choice), else the target's vpopmail user (<root>/etc/passwd),
/// else the owner of the target's vpopmail home. kDataRefused for uid 0,
/// naming the source and --owner; kNotFound when the home cannot be read.
Result<TargetOwner> ResolveTargetOwner(const HostPaths& paths, const std::string& spec,
                                       std::optional<FileOwner> given = std::nullopt);

/// "89:89".
std::string OwnerText(const FileOwner& owner);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_TARGET_OWNER_H_
