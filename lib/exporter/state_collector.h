// What the exporter's scan of a domain sees, turned into a state
// (vmigrate state) and, given a base state, into a delta against it
// (export --since): section by section, so memory holds one section (one
// user's home) at a time. share/doc/state-format.md.
#ifndef VMIGRATE_EXPORTER_STATE_COLLECTOR_H_
#define VMIGRATE_EXPORTER_STATE_COLLECTOR_H_

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/text_spool.h"
#include "model/manifest.h"
#include "state/state_diff.h"
#include "state/state_file.h"

namespace vmigrate {

/// delta.txt's first line.
constexpr const char* kDeltaMagic = "vmigrate-delta 1";

/// The state's view of a file's content: the SHA-256 and size of what an
/// archive carries for it (the placeholder form of a rewritten file, a
/// symlink's target text); empty/-1 when the content is not digested.
struct Digested {
  std::string sha256;
  std::int64_t size = -1;
};

class StateCollector {
 public:
  /// `writer` receives the state; `base` (nullable) is the state a delta is
  /// made against. Neither is owned.
  StateCollector(StateWriter* writer, StateFile* base) : writer_(writer), base_(base) {}
  /// Creates the spools (a delta only).
  Status Init();
  /// export --add-only: of what is new since the base, only messages (and
  /// the directories new since the base that lead to them) are sent; no
  /// removals, renames or account changes are recorded, and the domain's
  /// delta base is AddOnlyBase() of the real one.
  void set_add_only(bool add_only) { add_only_ = add_only; }

  /// Starts a domain. With a base that lacks the domain, everything of it is sent.
  void BeginDomain(const std::string& name, const std::vector<std::string>& aliases);
  /// One entry of the current section: `rel` relative to its root ("." for
  /// the root), `st` its lstat (stat for a followed storage link), `digest`
  /// what the archive would carry for a small non-message file or a symlink.
  void Add(const std::string& rel, const std::string& disk, const struct stat& st,
           const Digested& digest);
  /// Ends a section: kFilesSection with `member_root` "files", or a user's
  /// (kUserSectionPrefix + name, its StateUserLine, "users/<name>").
  Status EndSection(const std::string& key, const std::string& user_line, const std::string& member_root);
  /// Ends the domain: fills `delta` (digests, counts; users in the base but
  /// gone now are counted as removed).
  void EndDomain(DomainDelta* delta);

  /// The members a delta carries, one line each in scan order:
  /// "<domain>\t<rel_in_domain>\t<disk path>", C-escaped; rel_in_domain is
  /// relative to "domains/<d>/" ("files", "users/bob/Maildir/new/1.2.h").
  TextSpool* sends() { return &sends_; }
  /// delta.txt's records (without its first line).
  TextSpool* records() { return &records_; }
  bool base_has_domain() const { return base_domain_ != nullptr; }

 private:
  struct Item {
    StateEntry entry;
    std::string disk;
  };
  Status NoteDelta(const std::string& member_root, const SectionChanges& changes,
                   const std::vector<Item>& items);

  /// add_only_: keeps of `changes` only the messages and the directories
  /// new since `base` on their way.
  static void KeepNewMessages(const StateSection& base, SectionChanges* changes);

  StateWriter* writer_;
  StateFile* base_;
  bool add_only_ = false;
  const StateDomain* base_domain_ = nullptr;
  std::string domain_;
  DomainDelta delta_;
  std::set<std::string> seen_sections_;
  std::vector<Item> items_;
  TextSpool sends_, records_;
};

/// The `domains[].delta.base` of an add-only delta made against a state
/// whose domain digest is `base` ("" = not in the state): the SHA-256 of
/// "vmigrate-add-only\t" + base, which is the digest of no state. A
/// vmigrate that does not know `add_only` therefore refuses such a delta at
/// its base check and never applies it as a normal delta.
std::string AddOnlyBase(const std::string& base);

/// A delta.txt record line (without newline): "remove\t<domain>\t<rel>" or
/// "rename\t<domain>\t<from>\t<to>\t<mode>\t<sec>.<nsec>", fields C-escaped.
std::string DeltaRemoveLine(const std::string& domain, const std::string& rel_in_domain);
std::string DeltaRenameLine(const std::string& domain, const std::string& from, const std::string& to,
                            const StateEntry& after);

}  // namespace vmigrate

#endif  // VMIGRATE_EXPORTER_STATE_COLLECTOR_H_
