// Reads qmail's queue to tell how many messages for a set of domains are
// still waiting there (cutover status, the tail loop of `move`). Read-only:
// nothing here writes to the queue, which only qmail-send may change.
//
// The layout is the one qmail 1.03 / netqmail / notqmail write under
// <qmail-dir>/queue (NQ = notqmail/notqmail @a7012e4):
//   todo/<id>                 qmail-queue's envelope, not yet preprocessed:
//                             "u<uid>\0p<pid>\0F<sender>\0T<rcpt>\0...T<rcpt>\0";
//                             recipients are as given, not yet rewritten
//                             (NQ:qmail-queue.c main). The big-todo patch
//                             splits it as todo/<split>/<id>; both are read.
//   info/<split>/<id>         "F<sender>\0"; its mtime is the message's birth,
//                             from which retries and queuelifetime count
//                             (NQ:qmail-send.c getinfo, nextretry).
//   local/<split>/<id>        one "T<addr>\0" per recipient still to do, the
//   remote/<split>/<id>       'T' overwritten by 'D' once done (NQ:qmail-send.c
//                             todo_do, markdone, pass_dochan).
//   mess/<split>/<id>         the message itself (not read here).
// <split> is id % conf-split (23 by default, NQ:fmtqfn.c); the split dirs are
// listed rather than assumed, so any conf-split works.
#ifndef VMIGRATE_CUTOVER_QMAIL_QUEUE_H_
#define VMIGRATE_CUTOVER_QMAIL_QUEUE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate::cutover {

/// Messages (not recipients) still queued for the domains, per stage.
struct QueueCount {
  uint64_t todo = 0;    // in todo/, not yet preprocessed by qmail-send
  uint64_t local = 0;   // local/ file with a not-done recipient in the domains
  uint64_t remote = 0;  // remote/ file with a not-done recipient in the domains
  /// Epoch seconds of the oldest counted message's birth (info/ mtime; for a
  /// todo/ message, the todo file's mtime, as it has no info/ file yet);
  /// 0 when nothing is counted.
  int64_t oldest_birth = 0;
};

/// Counts the messages under `queue_dir_disk` (the on-disk path of
/// <qmail-dir>/queue) that still have at least one recipient to do whose
/// domain (the text after the last '@', compared case-insensitively) is one
/// of `domains`. A local-channel address is already rewritten by
/// virtualdomains ("example.com-joe@example.com", "example.com-joe@alias.org"
/// for an alias domain), so its domain is still the one it was sent to.
///
/// Follows qmail-send's own view of the queue (NQ:qmail-send.c pqadd,
/// qmail-qread.c): a message is listed by info/; while todo/<id> exists its
/// local/remote files are leftovers of an interrupted preprocessing that
/// qmail-send will redo, so such a message counts once, in `todo`. A message
/// with recipients on both channels counts in `local` and in `remote`. A
/// todo/ recipient without '@' (qmail appends envnoathost) matches no domain.
/// todo/ is read before info/, so a message preprocessed during the scan is
/// counted twice rather than missed.
///
/// Errors: kNotFound when the queue dir (or one of its todo/, info/, local/,
/// remote/ dirs) is missing; kIoError with the path and errno text otherwise.
/// A file that vanishes between readdir and open (qmail finished with it) is
/// skipped. Memory does not grow with the size of the queue.
Result<QueueCount> CountQueued(const std::string& queue_dir_disk,
                               const std::vector<std::string>& domains);

/// The queuelifetime qmail-send uses, in seconds: control/queuelifetime under
/// `control_dir_disk` read as qmail's control_readint does (NQ:control.c,
/// scan_ulong.c): the first line, the leading decimal digits of it, stored in
/// an int. A missing file, or a first line that does not start with a digit
/// ("", " 5", "abc"), gives the default 604800 (NQ:qmail-send.c `lifetime`);
/// "3600s" gives 3600. qmail-send reads it only when it starts.
/// Errors: kIoError when the file exists but cannot be read.
Result<int64_t> ReadQueueLifetime(const std::string& control_dir_disk);

/// qmail-send's default queuelifetime, in seconds (7 days).
constexpr int64_t kDefaultQueueLifetime = 604800;

}  // namespace vmigrate::cutover

#endif  // VMIGRATE_CUTOVER_QMAIL_QUEUE_H_
