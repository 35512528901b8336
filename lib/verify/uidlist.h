// The mailbox state POP3 and IMAP clients see, as files on disk say it:
// qmail-pop3d UIDLs (Maildir base name cut at the first ':', INBOX listed by
// ascending mtime) and IMAP UIDs from Dovecot's dovecot-uidlist (v3) or
// Courier's courierimapuiddb (v1). Pure parsing, no I/O (reference §7.3-§7.5).
#ifndef VMIGRATE_VERIFY_UIDLIST_H_
#define VMIGRATE_VERIFY_UIDLIST_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vmigrate::verify {

/// qmail-pop3d's UIDL of a message file: the name cut at the first ':'.
std::string Pop3Uidl(std::string_view file_name);

/// IMAP UIDs of one folder. `by_key` maps the key a message is matched by
/// (Dovecot: base name cut at the first ':'; Courier: cut at the last ':')
/// to its UID.
struct UidList {
  enum class Kind { kNone, kDovecot, kCourier };
  Kind kind = Kind::kNone;
  std::uint64_t uidvalidity = 0;
  std::uint64_t next_uid = 0;
  std::map<std::string, std::uint64_t> by_key;

  /// The key `file_name` (a message file name, flags included) is looked up by.
  std::string KeyOf(std::string_view file_name) const;
  /// The UID of `file_name`, 0 when the list has none.
  std::uint64_t UidOf(std::string_view file_name) const;
};

/// dovecot-uidlist v3: "3 V<uidv> N<next> [G..] [..]" then "<uid> [ext..] :<filename>".
/// Version 1 headers ("1 <uidv> <next>") are accepted too. kCorrupt on a bad line.
Result<UidList> ParseDovecotUidlist(std::string_view text);

/// courierimapuiddb v1: "1 <uidvalidity> <nextuid>" then "<uid> <base name>".
Result<UidList> ParseCourierUiddb(std::string_view text);

/// A message of a folder: its file name (without cur/ or new/) and mtime.
struct MessageFile {
  std::string name;
  std::int64_t mtime_sec = 0;
  long mtime_nsec = 0;
};

/// The UIDLs in the order qmail-pop3d lists them: ascending mtime (seconds,
/// as maildir_scan keeps them), ties broken by name.
std::vector<std::string> Pop3Order(std::vector<MessageFile> messages);

}  // namespace vmigrate::verify

#endif  // VMIGRATE_VERIFY_UIDLIST_H_
