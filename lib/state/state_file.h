// The state file ("vmigrate-state 1", share/doc/state-format.md): what is
// installed for one or more domains on a host, in host-independent terms,
// so that a source can compute what changed since (export --since) and a
// target can tell whether a delta's base is what it has (import). Text,
// one record per line, tab-separated C-escaped fields; one section for the
// domain-level files and one per user, each sorted by path, each with its
// own SHA-256, so that a reader loads one section at a time and memory
// stays flat however many messages a domain holds.
#ifndef VMIGRATE_STATE_STATE_FILE_H_
#define VMIGRATE_STATE_STATE_FILE_H_

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/sha256.h"
#include "core/status.h"
#include "model/vpasswd_entry.h"

namespace vmigrate {

constexpr const char* kStateMagic = "vmigrate-state 1";

/// The key of the domain-level section; a user's is kUserSectionPrefix + name.
constexpr const char* kFilesSection = "files";
constexpr const char* kUserSectionPrefix = "user\t";

/// One directory entry of a section. `path` is relative to the section's
/// root (the domain dir or the user's home), "." for the root itself.
struct StateEntry {
  char type = 'f';          // 'd' directory, 'f' regular file, 'l' symlink
  std::string path;
  mode_t mode = 0;          // permission bits (07777)
  std::int64_t mtime_sec = 0;
  long mtime_nsec = 0;      // 0..999999999
  std::int64_t size = 0;    // bytes; 0 for a directory, the target's length for a symlink
  std::string sha256;       // lower-case hex, "" when not digested (messages, files > 1 MiB)

  /// The record line without its newline: "f\t<path>\t0600\t<sec>.<nsec>\t<size>\t<sha|->".
  std::string Line() const;
  /// Parses Line()'s form. kCorrupt naming what is wrong.
  static Result<StateEntry> Parse(const std::string& line);
  /// Same record in every field.
  bool operator==(const StateEntry& o) const;
  bool operator!=(const StateEntry& o) const { return !(*this == o); }
};

/// Whether `path` (relative to a home) is a Maildir message: a file
/// directly in a cur/ or new/ directory. Messages never change content, so
/// a state identifies them by folder, unique name and size.
bool IsStateMessage(const std::string& path);

/// The Maildir unique name of a message file name: everything before the
/// first ':' ("1700000000.M1P2.host,S=12:2,S" -> "1700000000.M1P2.host,S=12").
std::string MaildirUniqueName(const std::string& file_name);

/// The `user` record of a section: every vpasswd field but the home (a
/// host path): "user\t<name>\t<passwd>\t<uid>\t<gid>\t<gecos>\t<quota>\t<clear or ->".
std::string StateUserLine(const VpasswdEntry& e);

/// Writes a state file section by section, computing the digests.
/// `out` may be null: then only the digests are computed (import's base
/// check). Usage: Header, then per domain BeginDomain, Section..., EndDomain,
/// then Finish.
class StateWriter {
 public:
  explicit StateWriter(FILE* out);

  /// The informational header (not digested): creation time (ISO 8601 UTC),
  /// host name, vpopmail home and qmail dir of the host.
  void Header(const std::string& created, const std::string& host, const std::string& vpopmail_home,
              const std::string& qmail_dir);
  void BeginDomain(const std::string& name, std::vector<std::string> aliases);
  /// One section: sorts `entries` by path and writes them after `user_line`
  /// (empty for the files section). Returns the section's digest.
  std::string Section(const std::string& key, const std::string& user_line,
                      std::vector<StateEntry>* entries);
  /// Returns the domain digest (order-independent over sections).
  std::string EndDomain();
  /// Writes the trailing digest line and flushes. kIoError when writing failed.
  Status Finish();

  const std::string& content_digest() const { return content_digest_; }
  const std::map<std::string, std::string>& domain_digests() const { return domain_digests_; }

 private:
  void Put(const std::string& line);

  FILE* out_;
  bool failed_ = false;
  std::string domain_;
  std::vector<std::string> aliases_;
  std::map<std::string, std::string> sections_;        // key -> digest, current domain
  std::map<std::string, std::string> domain_digests_;  // name -> digest
  std::string content_digest_;
};

/// One domain of a state file as indexed by StateFile::Open.
struct StateDomain {
  std::string name;
  std::vector<std::string> aliases;
  std::string digest;
  struct SectionPos {
    off_t offset = 0;     // of the first line after the "section" line
    std::uint64_t lines = 0;
  };
  std::map<std::string, SectionPos> sections;  // by key
};

/// One section loaded from a state file.
struct StateSection {
  std::string user_line;            // "" for the files section
  std::vector<StateEntry> entries;  // sorted by path
};

/// A state file opened for reading: one pass indexes the sections and
/// checks every digest; sections are then loaded one at a time.
class StateFile {
 public:
  ~StateFile();
  /// Opens `path` ("-" = stdin, copied to a temporary file first). Errors:
  /// kNotFound, kCorrupt ("<path>: not a vmigrate state file", "line N: ...",
  /// "digest of domain D does not match its sections: the file was changed
  /// or cut short"), kUnsupported for a newer format.
  static Result<std::unique_ptr<StateFile>> Open(const std::string& path);

  const std::string& content_digest() const { return content_digest_; }
  const std::string& created() const { return created_; }
  const std::string& host() const { return host_; }
  /// nullptr when the state has no such domain.
  const StateDomain* FindDomain(const std::string& name) const;
  const std::vector<StateDomain>& domains() const { return domains_; }
  /// kNotFound when the domain has no such section.
  Result<StateSection> Load(const std::string& domain, const std::string& key);

 private:
  StateFile() = default;
  Status Index();

  std::string path_;
  FILE* file_ = nullptr;
  std::string created_, host_, content_digest_;
  std::vector<StateDomain> domains_;
};

/// Where a StateWriter writes: "-" is stdout, "" is nowhere (digests only),
/// anything else a file written through a temporary file in its directory
/// and renamed into place by Commit: whole or not at all (mode 0600).
class StateOutput {
 public:
  StateOutput() = default;
  ~StateOutput();  // without Commit, a file is not written
  StateOutput(const StateOutput&) = delete;
  StateOutput& operator=(const StateOutput&) = delete;

  /// kConflict "<path> already exists (--force replaces it)" when `path`
  /// exists and !overwrite; kIoError when the temporary file cannot be made.
  Status Open(const std::string& path, bool overwrite);
  /// The stream for StateWriter; nullptr for "".
  FILE* out() const { return out_; }
  /// Flushes; a file is fsynced and renamed over `path`.
  Status Commit();

 private:
  std::string path_;
  std::unique_ptr<AtomicFile> file_;
  FILE* out_ = nullptr;
};

/// SHA-256 of the domain digests of `digests` (name -> digest), as the
/// state's content digest is made.
std::string ContentDigest(const std::map<std::string, std::string>& digests);

/// The digest `vmigrate state DOMAIN` prints for a state of that domain
/// alone, given its domain digest: what messages show to the admin.
std::string ShownDigest(const std::string& domain, const std::string& domain_digest);

}  // namespace vmigrate

#endif  // VMIGRATE_STATE_STATE_FILE_H_
