// POP3 UIDLs as the old server showed them for an mbox message, so the import
// can keep them (dovecot-uidlist P records, qmail-pop3d file names).
#ifndef VMIGRATE_MBOX_POP3_UIDL_H_
#define VMIGRATE_MBOX_POP3_UIDL_H_

#include <cstdint>
#include <string>

#include "core/status.h"
#include "mbox/mbox_reader.h"

namespace vmigrate::mbox {

/// The UIDL of `m` under Dovecot's pop3_uidl_format `format`: the variables %u
/// (UID) and %v (UIDVALIDITY) with Dovecot's var_expand modifiers, i.e. an
/// optional zero-pad width and X for hex ("%08Xu", "%Xv"; Dovecot's hex is
/// lower-case), the long names %{uid} %{uidvalidity}, and "%%". The word "x-uidl"
/// means Dovecot's pop3_reuse_xuidl=yes: the message's X-UIDL header, else the
/// default "%08Xu%08Xv". UW ipop3d's UIDL equals "%08Xv%08Xu".
/// Errors: kInvalidInput as CheckUidlFormat.
Result<std::string> FormatUidl(const std::string& format, std::uint32_t uid_validity,
                               const Message& m);

/// kInvalidInput naming the first variable we cannot compute from an mbox
/// message's UID state (e.g. %m, the header MD5; %f, a Maildir file name) or a
/// malformed '%'. "x-uidl" is accepted.
Status CheckUidlFormat(const std::string& format);

/// Whether `uidl` can be a Maildir base name so qmail-pop3d shows it unchanged
/// (§5.6): 1+ bytes of 0x21..0x7E, no '/', no ':', not starting with '.'.
bool FileNameSafeUidl(const std::string& uidl);

}  // namespace vmigrate::mbox

#endif  // VMIGRATE_MBOX_POP3_UIDL_H_
