// A Unix user's ~/.forward as a vpopmail .qmail (reference sources-and-cutover
// §6.5; sendmail's .forward syntax, qmail's dot-qmail(5)).
#ifndef VMIGRATE_UNIXHOST_FORWARD_H_
#define VMIGRATE_UNIXHOST_FORWARD_H_

#include <string>
#include <vector>

#include "core/status.h"
#include "unixhost/accounts.h"

namespace vmigrate::unixhost {

struct ForwardResult {
  /// The user's .qmail lines, in .forward order, no duplicates. Empty: write
  /// no .qmail (vdelivermail then delivers to the Maildir, as the old host
  /// delivered to the spool when nothing was forwarded).
  std::vector<std::string> qmail_lines;
  std::vector<std::string> warnings;  // "user 'carol': ~/.forward: ..." one line each
};

/// Converts `.forward` text for user `name`. Entries are separated by ','
/// or new lines; '#' starts a comment line; "..." quotes are removed.
///  - "addr@host" (or <addr@host>) -> "&addr@host";
///  - a bare local name -> "&name@<domain>" (qmail would qualify it with the
///    new host's envnoathost otherwise); with `domain` empty it is carried as
///    "&name" and warned about;
///  - "\name" or "name" (the user himself) -> "@@VMIGRATE:USER_DIR:<name>@@/Maildir/"
///    (the local copy; without it nothing stays local, FMT §5.3);
///  - "|cmd", "/path" (mbox append: vdelivermail defers such lines),
///    ":include:file", "\other" -> a warning each, not carried. When such a
///    line is dropped while addresses are forwarded and no local copy is
///    asked for, the local Maildir line is added (with a warning): the dropped
///    program or file kept the mail on the old host, and mail must not be lost.
ForwardResult ConvertForward(const std::string& text, const std::string& name,
                             const std::string& domain = "");

/// Reads <root><home>/.forward (absent: no lines) and converts it for the
/// account's lower-cased name; warns about ~/.procmailrc, which has no
/// vpopmail equivalent (its filtering does not happen after the move).
/// kIoError when a file exists but cannot be read.
Result<ForwardResult> ReadUserForward(const std::string& root, const Account& a,
                                      const std::string& domain = "");

}  // namespace vmigrate::unixhost

#endif  // VMIGRATE_UNIXHOST_FORWARD_H_
