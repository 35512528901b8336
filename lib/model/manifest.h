// The archive's table of contents (manifest.yaml, the first tar entry).
// Plain data: no I/O here. manifest_yaml.{h,cc} turns it into YAML and back.
// share/doc/archive-format.md documents every field.
#ifndef VMIGRATE_MODEL_MANIFEST_H_
#define VMIGRATE_MODEL_MANIFEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model/vpasswd_entry.h"

namespace vmigrate {

/// Written as `format_version`. Readers refuse newer versions with a message
/// naming both numbers.
constexpr int kManifestFormat = 1;
constexpr int kOldestReadableManifest = 1;

/// What an archive holds.
constexpr const char* kKindDomain = "domain";  // one domain and its alias domains
constexpr const char* kKindServer = "server";  // export --all: many domains + server config
constexpr const char* kKindDelta = "delta";    // export --since: changes since a state (delta.txt)

/// Placeholders for host paths found in text files (.qmail*, autoresponder
/// and list config). The exporter writes them, the importer replaces them.
constexpr const char* kPlaceholderVpopmailHome = "@@VMIGRATE:VPOPMAIL_HOME@@";
constexpr const char* kPlaceholderQmailDir = "@@VMIGRATE:QMAIL_DIR@@";
constexpr const char* kPlaceholderDomainDir = "@@VMIGRATE:DOMAIN_DIR@@";
constexpr const char* kPlaceholderUserDirPrefix = "@@VMIGRATE:USER_DIR:";  // + name + "@@"
constexpr const char* kPlaceholderMarker = "@@VMIGRATE:";

/// A host path in a carried file (or a symlink target) that leads out of the
/// domain; model/outside_refs.h says which paths count and why. Carried
/// unchanged, except kind "archive_domain", which is rewritten for the new host.
struct OutsideRef {
  std::string file;    // member relative to domains/<name>/: "files/.qmail-x", "users/bob/.qmail"
  unsigned line = 0;   // 1-based line of the file; 0: `file` is a symlink and `path` its target
  std::string path;    // as the source file has it
  std::string reason;  // one of the kRef* values below
  std::string domain;  // the other domain, for kRefOtherDomain and kRefArchiveDomain
};

/// OutsideRef::reason values.
constexpr const char* kRefOtherDomain = "other_domain";      // another domain, not in the archive
constexpr const char* kRefArchiveDomain = "archive_domain";  // another domain of this server archive
constexpr const char* kRefNotInArchive = "not_in_archive";   // vpopmail's tree, but no domain or user the archive holds
constexpr const char* kRefOutsideHome = "outside_home";      // outside vpopmail's home and qmail's dir

struct ManifestUser {
  VpasswdEntry entry;      // every vpasswd field verbatim; entry.dir is the SOURCE path
  std::string rel_dir;     // home relative to the domain dir ("alice", "0/user150"); empty if outside
  std::uint64_t messages = 0;  // files in Maildir cur/ and new/ of every folder
  std::uint64_t bytes = 0;     // bytes of every regular file under the home
  bool home_present = true;    // false when the home directory did not exist at export
  /// Optional, written by sources other than vpopmail (export --from unix):
  /// the source account's hash scheme ("yescrypt", "sha512crypt", "locked",
  /// ... unixhost::HashScheme), the IMAP names of the folders made (INBOX
  /// excluded), and what the conversion warned about this user.
  std::string hash_scheme;
  std::vector<std::string> folders;
  std::vector<std::string> warnings;
};

/// Kind "delta": what one domain's delta holds (share/doc/archive-format.md).
struct DomainDelta {
  std::string base;     // the domain's digest in the base state; "" = not in it (carried whole)
  std::string result;   // the domain's digest on the source when the delta was made
  std::uint64_t files = 0, bytes = 0;       // members sent (files, links, directories) and file bytes
  std::uint64_t messages = 0;               // of `files`: Maildir messages (new bytes, not renames)
  std::uint64_t renames = 0, removals = 0;  // records of delta.txt
  std::uint64_t users_added = 0, users_removed = 0, users_changed = 0;
};

struct ManifestDomain {
  std::string name;
  std::string dir;                    // source domain dir (host path)
  unsigned long uid = 0;              // from the source users/assign line
  unsigned long gid = 0;
  std::vector<std::string> aliases;   // alias domains (users/assign lines pointing here)
  std::vector<std::string> domain_files;  // names in the domain dir we carry ("0/x" inside a bucket)
  std::vector<std::string> rewritten_files;  // members (relative to domains/<name>/) holding path placeholders
  std::vector<ManifestUser> users;    // in vpasswd order
  /// Optional (absent in archives of vmigrate 0.1.0): paths that lead out of the domain.
  std::vector<OutsideRef> outside_refs;
  std::string dir_control;            // the source .dir-control text (informational)
  DomainDelta delta;                  // kind "delta" only
  /// Kind "domain", optional (written only when true): one batch of a
  /// domain's users (export --from unix --batch N). Import creates the
  /// domain when the target lacks it, else adds the users to it and leaves
  /// the domain's own files alone (importer/user_merge.h).
  bool merge_users = false;
};

struct SourceHost {
  std::string hostname;        // control/me, else gethostname()
  std::string vpopmail_home;
  std::string qmail_dir;
  /// vpopmail's auth backend the source read its accounts from
  /// (UserStore::Backend()): "cdb" or "mysql"; an archive without the key
  /// (older vmigrate) is "cdb". The users' pw_uid is as this backend wrote
  /// it (vpopmail::ConvertPwUid converts it for another backend).
  std::string backend = "cdb";
  /// For backend "mysql": "many" (one `vpopmail` table) or "perdomain"
  /// (one table per domain), UserStore::Layout(); "" otherwise.
  std::string mysql_layout = "";  // (initialised: SourceHost{host, home, qmail} stays valid)
  /// What the accounts were read from: "vpopmail" (a vpopmail host; the key
  /// is absent then) or "unix" (export --from unix: etc/passwd + shadow and
  /// mbox spools, converted; vpopmail_home and the domain dir are nominal).
  std::string origin = "vpopmail";
};

struct Manifest {
  int format_version = kManifestFormat;
  std::string kind = kKindDomain;
  std::string generator;       // "vmigrate 0.1.0"
  std::string created;         // UTC, ISO 8601
  SourceHost source;
  std::vector<ManifestDomain> domains;  // exactly one for kind "domain"
  /// Kind "server" only: the configuration files carried, as paths relative
  /// to the archive's "server/" folder (see ServerFilePaths()).
  std::vector<std::string> server_files;
  /// Kind "delta" only: content digests of the base state and of the
  /// source's state when the delta was made (state/state_file.h).
  std::string delta_base, delta_result;
  /// Kind "delta": an add-only ("tail") delta (export --since --add-only):
  /// only messages new on the source, imported without a base check and
  /// never deleting, renaming or overwriting (share/doc/archive-format.md).
  bool delta_add_only = false;

  std::uint64_t total_messages() const;
  std::uint64_t total_bytes() const;
};

/// Archive paths: every member lives under "domains/<name>/".
std::string ArchiveDomainPrefix(const std::string& domain);            // "domains/d/"
std::string ArchiveFilesPrefix(const std::string& domain);             // "domains/d/files/"
std::string ArchiveUserPrefix(const std::string& domain, const std::string& user);  // ".../users/u/"
constexpr const char* kManifestEntry = "manifest.yaml";
constexpr const char* kServerPrefix = "server/";  // + a ServerFilePaths() entry
constexpr const char* kChecksumsEntry = "checksums.txt";
constexpr const char* kDeltaEntry = "delta.txt";  // kind "delta": removals and renames, second member

/// How a restore applies a server file to the target.
enum class ServerFileMerge {
  kLines,    // list of lines: the lines the target lacks are added
  kReplace,  // one value or a table: replaced by --all, written only if absent by --merge
  kInfo,     // informational only (domains/.dir-control is rebuilt, not copied)
};

struct ServerFileSpec {
  const char* path;    // relative to "server/": "qmail/control/me", "vpopmail/etc/tcp.smtp"
  ServerFileMerge merge;
};

/// Every server file an archive may carry, in archive order. The importer
/// refuses any other "server/" member.
const std::vector<ServerFileSpec>& ServerFilePaths();
const ServerFileSpec* FindServerFile(const std::string& path);
/// Where a server file lives on a host: "qmail/control/me" ->
/// <qmail_dir>/control/me, "vpopmail/etc/tcp.smtp" -> <vpopmail_home>/etc/tcp.smtp.
std::string ServerFileHostPath(const std::string& path, const std::string& vpopmail_home,
                               const std::string& qmail_dir);

}  // namespace vmigrate

#endif  // VMIGRATE_MODEL_MANIFEST_H_
