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
  /// A member the delta carries: `rel_in_domain` is relative to
  /// "domains/<d>/" ("files", "files/.qmail-x", "users/bob/Maildir/new/1.2.h");
  /// `disk` is where it is read from.
  struct Send {
    std::string rel_in_domain;
    std::string disk;
    bool is_file = false;
  };

  /// `writer` receives the state; `base` (nullable) is the state a delta is
  /// made against. Neither is owned.
  StateCollector(StateWriter* writer, StateFile* base) : writer_(writer), base_(base) {}

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

  /// Members to send for `domain`, in path order within each section.
  const std::vector<Send>& sends(const std::string& domain) { return sends_[domain]; }
  /// delta.txt's records so far (without its first line).
  const std::string& delta_records() const { return delta_text_; }
  bool base_has_domain() const { return base_domain_ != nullptr; }

 private:
  struct Item {
    StateEntry entry;
    std::string disk;
  };
  void NoteDelta(const std::string& member_root, const SectionChanges& changes,
                 const std::vector<Item>& items);

  StateWriter* writer_;
  StateFile* base_;
  const StateDomain* base_domain_ = nullptr;
  std::string domain_;
  DomainDelta delta_;
  std::set<std::string> seen_sections_;
  std::vector<Item> items_;
  std::map<std::string, std::vector<Send>> sends_;
  std::string delta_text_;
};

/// A delta.txt record line (with newline): "remove\t<domain>\t<rel>" or
/// "rename\t<domain>\t<from>\t<to>\t<mode>\t<sec>.<nsec>", fields C-escaped.
std::string DeltaRemoveLine(const std::string& domain, const std::string& rel_in_domain);
std::string DeltaRenameLine(const std::string& domain, const std::string& from, const std::string& to,
                            const StateEntry& after);

}  // namespace vmigrate

#endif  // VMIGRATE_EXPORTER_STATE_COLLECTOR_H_
