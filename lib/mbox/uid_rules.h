// IMAP UIDs and UIDVALIDITY of an mbox as the old server showed them, so the
// converted Maildir keeps them (dovecot-uidlist) and clients keep their caches.
#ifndef VMIGRATE_MBOX_UID_RULES_H_
#define VMIGRATE_MBOX_UID_RULES_H_

#include "mbox/mbox_reader.h"

namespace vmigrate::mbox {

/// UIDs and UIDVALIDITY as the old server assigned them (Dovecot: DC mbox-sync; uw: c-client
/// unix_parse §5.2, reset on duplicate/non-increasing X-UID). Fills Message::uid, uid_validity,
/// uid_last; a reset or an invented UIDVALIDITY adds a warning.
///
/// kDovecot (mbox-sync-parse.c parse_x_imap_base / parse_x_uid, mbox-sync.c):
///   next UID = X-IMAPbase's last + 1; an X-UID counts when it is above the
///   previous message's UID and not above the next UID (a larger one may come
///   from outside), never in message 1 before X-IMAPbase, never when repeated or
///   not numeric; every other message gets the next UID. No X-IMAP(base) on disk:
///   UIDs 1..n, UIDVALIDITY = options.now.
/// kUw (unix.c unix_parse, read-only as the client-view was taken):
///   an X-UID counts only while a UIDVALIDITY is known; one that repeats, does not
///   increase or exceeds the recorded last UID discards the UIDVALIDITY (c-client
///   then uses the time of day) and later X-UIDs are ignored; a message without a
///   trusted X-UID gets ++last. The UIDs already given stay (c-client renumbers
///   only when it rewrites the file).
void AssignUids(const ScanOptions& options, Mailbox* mailbox);

}  // namespace vmigrate::mbox

#endif  // VMIGRATE_MBOX_UID_RULES_H_
