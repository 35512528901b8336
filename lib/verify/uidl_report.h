// `vmigrate verify --uidl`: what POP3 and IMAP clients would see change.
// While the archive streams by, the member check tells this report about
// each user's Maildir++ folders, message files and UID lists (archived
// dovecot-uidlist / courierimapuiddb); when a user's members end, the
// report compares them with the installed folders: POP3 UIDLs kept,
// qmail-pop3d's INBOX order kept, IMAP UIDs and UIDVALIDITY kept
// (reference §7.3-§7.5). Parsing lives in uidlist.h.
#ifndef VMIGRATE_VERIFY_UIDL_REPORT_H_
#define VMIGRATE_VERIFY_UIDL_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "verify/installed_domain.h"
#include "verify/uidlist.h"
#include "verify/verifier.h"

namespace vmigrate::verify {

/// Largest UID list read (from the archive or from disk), in bytes.
constexpr size_t kMaxUidlistBytes = 16u << 20;

class UidlReport {
 public:
  /// Appends one FolderUidl per folder to report->uidl, and a warning per
  /// UID list that cannot be parsed.
  UidlReport(const InstalledDomain& domain, VerifyReport* report) : domain_(domain), report_(report) {}

  /// True for "<folder>/dovecot-uidlist" and "<folder>/courierimapuiddb",
  /// `shown` being a path relative to a home.
  static bool IsUidlistFile(const std::string& shown);

  /// The members that follow belong to `user` (a user's members are
  /// contiguous in the archive). A new user finishes the previous one.
  void NoteUser(const std::string& user);
  /// A directory member of the current user (path relative to the home).
  void NoteDir(const std::string& shown);
  /// A file member of the current user, with its mtime in the archive.
  void NoteMessage(const std::string& shown, std::int64_t mtime_sec, long mtime_nsec);
  /// The archived text of a UID list (IsUidlistFile(shown) is true).
  void NoteUidlist(const std::string& shown, const std::string& data);
  /// Compares the current user's folders with this host and reports them.
  void Finish();

 private:
  // One folder as the archive has it.
  struct FolderState {
    std::vector<MessageFile> messages;
    std::string dovecot;  // archived dovecot-uidlist text
    std::string courier;  // archived courierimapuiddb text
    bool has_dovecot = false, has_courier = false;
  };

  UidList ParseUids(bool has_dovecot, const std::string& dovecot, bool has_courier,
                    const std::string& courier, const std::string& where);

  const InstalledDomain& domain_;
  VerifyReport* report_;
  std::string user_;
  std::map<std::string, FolderState> folders_;
};

}  // namespace vmigrate::verify

#endif  // VMIGRATE_VERIFY_UIDL_REPORT_H_
