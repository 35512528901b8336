// A line-preserving editor for qmail control files (rcpthosts,
// morercpthosts, virtualdomains, locals, users/assign). Lines it does not
// own are kept verbatim; inserts follow vpopmail's sort key so the result
// is what vadddomain would have written (reference §4.1).
#ifndef VMIGRATE_QMAIL_CONTROL_FILE_H_
#define VMIGRATE_QMAIL_CONTROL_FILE_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/atomic_file.h"
#include "core/status.h"

namespace vmigrate::qmail {

/// vpopmail's sort key of a control line: the text up to the first ':'
/// (for assign lines without the leading '+' and trailing '-'), split on
/// '.', with the last two labels moved to the front: "mail.example.com" ->
/// "example.com.mail".
std::string VpopmailSortKey(std::string_view line, bool assign_format);

/// Mode and owner for (re)writing one of qmail's files (control/*,
/// users/assign, users/cdb, morercpthosts.cdb): an existing file keeps its
/// mode and, when we run as root, its owner; a new one gets 0644 and, as
/// root, root:root, as qmail's install and its programs make them
/// (NQ:hier.c, qmail-newu.c). vpopmail's owner never owns qmail's files.
struct QmailFileAttrs {
  mode_t mode = 0644;
  std::optional<FileOwner> owner;  // nullopt: the process's own (not root)
};
QmailFileAttrs QmailFileAttrsFor(const std::string& path);

class ControlFile {
 public:
  /// Loads `path`. A missing file is not an error: present() is false and
  /// the file has no lines. `assign_format` = users/assign (sort key and the
  /// "." terminator line, which is always kept last).
  static Result<ControlFile> Load(const std::string& path, bool assign_format = false);

  bool present() const { return present_; }
  const std::vector<std::string>& lines() const { return lines_; }
  /// Lines counted the way vpopmail counts rcpthosts (every line, comments
  /// and blanks included).
  size_t line_count() const { return lines_.size(); }
  bool Contains(std::string_view line) const;
  /// Inserts before the first line whose sort key is greater (as vpopmail's
  /// update_file). Returns false (no change) when the exact line is there.
  bool InsertSorted(const std::string& line);
  /// Adds `line` at the end (before the assign "." terminator). Returns
  /// false (no change) when the exact line is there.
  bool Append(const std::string& line);
  /// Removes every exact copy of `line`; returns whether any was removed.
  bool Remove(std::string_view line);
  /// The file text: lines joined by '\n' with a final '\n' (and the "."
  /// terminator for assign). Empty string for a file with no lines.
  std::string Text() const;
  /// Atomic write (temp + fsync + rename + dir fsync) with the mode and
  /// owner QmailFileAttrsFor() gives.
  Status Save() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool assign_format_ = false;
  bool present_ = false;
  std::vector<std::string> lines_;  // without the assign "." terminator
};

/// Builds control/morercpthosts.cdb as qmail-newmrh does: each line
/// lower-cased, trailing space/tab stripped, '#' lines and empty lines
/// skipped, key = domain, value empty. Written to "morercpthosts.tmp" (the
/// cdb path without ".cdb", plus ".tmp"), fsynced, renamed; mode and owner
/// as QmailFileAttrsFor().
Status WriteMoreRcpthostsCdb(std::string_view morercpthosts_text, const std::string& cdb_path);

}  // namespace vmigrate::qmail

#endif  // VMIGRATE_QMAIL_CONTROL_FILE_H_
