// Streaming reader for Unix mbox files (spools and UW-IMAP/Dovecot folders), so
// `export --from unix` can turn each message into a Maildir file whose bytes are
// exactly what the old IMAP/POP3 server showed its clients.
//
// Why our own scanner: GMime's GMimeParser (mbox mode) builds MIME objects and
// splits at any "From " line by its own rules; libetpan's mailmbox mmaps the whole
// file and adds its own X-LibEtPan-UID scheme; GNU mailutils' libmailutils has its
// own From_ and Content-Length rules. None of them reproduces Dovecot's or
// c-client's split and header-hiding rules byte for byte, and none gives the file
// ranges we copy verbatim. The rules below follow Dovecot 2.3 (istream-raw-mbox.c,
// mbox-from.c, mbox-sync-parse.c) and UW c-client 2007 (unix.c unix_parse, VALID);
// see reference/sources-and-cutover.md §5.
#ifndef VMIGRATE_MBOX_MBOX_READER_H_
#define VMIGRATE_MBOX_MBOX_READER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <deque>
#include <vector>

#include "core/status.h"

namespace vmigrate::mbox {

/// Which server the users read these spools with (`--old-server`); decides where
/// the two disagree (Content-Length trust, hidden headers, zone-less From_ dates,
/// UID reset rules).
enum class OldServer { kDovecot, kUw };

/// A byte range of the mbox file that is copied verbatim into the Maildir file.
struct Segment {
  std::int64_t offset = 0, length = 0;
};

/// One real message (never the UW pseudo message) with its metadata only: the
/// body stays in the file and is copied with CopyMessage.
struct Message {
  std::uint64_t line = 0;              // 1-based line of its From_ line (for warnings)
  std::int64_t from_offset = 0;        // byte offset of the From_ line
  std::string envelope_sender;
  std::int64_t internal_date = 0;      // UTC seconds: the From_ date (zone rules per OldServer)
  bool date_had_zone = false;
  std::vector<Segment> segments;       // the Maildir file = these byte ranges, in order
  std::int64_t size = 0;               // sum of segment lengths (bytes of the Maildir file)
  bool seen = false, answered = false, flagged = false, deleted = false, draft = false;
  bool recent = false;                 // Status has no 'O'
  std::vector<std::string> keywords;   // X-Keywords (trimmed, padding dropped)
  bool has_x_uid = false;
  std::uint32_t x_uid = 0;
  std::string x_uidl;                  // X-UIDL value, "" = none
  std::uint32_t uid = 0;               // set by AssignUids
  // Facts the UID rules need (uid_rules.cc):
  bool x_uid_garbage = false;          // X-UID has more than digits and blanks (Dovecot: ignored)
  bool x_uid_duplicate = false;        // a second X-UID header (both servers: UID not trusted)
  bool x_uid_before_base = false;      // message 1 only: X-UID came before X-IMAPbase
  std::int64_t crlf_size = 0;          // size with bare LF sent as CRLF (IMAP RFC822.SIZE)
  bool has_content_length = false;
  std::int64_t content_length = 0;
};

struct Mailbox {
  std::string path;
  // A deque: it grows in chunks, never copying the list or holding twice
  // its size, so memory follows the message count and no more.
  std::deque<Message> messages;        // real messages in file order; the pseudo message is dropped
  bool has_uid_validity = false;       // X-IMAP / X-IMAPbase present on disk
  std::uint32_t uid_validity = 0, uid_last = 0;   // after AssignUids: the values clients see
  std::vector<std::string> keywords;   // keyword list from X-IMAP/X-IMAPbase, in order
  std::string variant;                 // what we assumed: "mboxo" "mboxrd" "mboxcl" "mboxcl2" ""(empty)
  std::vector<std::string> warnings;   // "<path> message N (line L): <what>"
  bool had_pseudo = false;             // a UW/Dovecot "FOLDER INTERNAL DATA" message was dropped
  std::int64_t file_size = 0;          // bytes read
};

struct ScanOptions {
  OldServer old_server = OldServer::kDovecot;
  std::string time_zone;               // zone for From_ dates without a zone: a TZ name ("Europe/Berlin")
                                       // or a tzfile path; "" = UTC
  std::int64_t now = 0;                // UTC seconds; uw uses today's offset; UIDVALIDITY when none on disk
};

/// Streams the file once (fixed buffer; never loads it); per-message metadata only.
/// Splitting: at lines "From <sender> <date>" whose date parses (Dovecot's or
/// c-client's From_ rules). kDovecot trusts a Content-Length that ends exactly
/// before "\nFrom " (or the final newline) and hides Status, X-Status, X-Keywords,
/// X-UID, X-IMAP, X-IMAPbase and Content-Length; kUw ignores Content-Length and
/// keeps it visible. Neither server removes ">From " quoting, so bytes are never
/// unquoted (`variant` only records what the file looks like). Malformed input
/// (CRLF lines, NUL bytes, no blank line before a From_ line, a Content-Length
/// running past the end, a missing final newline) adds a warning per message; no
/// byte of a message is dropped except the separator and the hidden headers.
/// The caller keeps delivery away (the old server's dotlock + flock, or a stopped
/// MTA): the file is read once, and a message appended meanwhile may be half seen.
/// Errors: kNotFound / kIoError naming the path, kCorrupt when the first non-blank
/// line is not a From_ line, kInvalidInput for a non-regular file; an empty file
/// is 0 messages.
Result<Mailbox> ScanMbox(const std::string& path, const ScanOptions& options);

/// Copies the message's bytes (its segments) from `fd` to `write` in chunks (never whole).
/// Errors: kIoError naming the offset, kCorrupt when the file got shorter, or
/// whatever `write` returns.
Status CopyMessage(int fd, const Message& m, const std::function<Status(const char*, size_t)>& write);

}  // namespace vmigrate::mbox

#endif  // VMIGRATE_MBOX_MBOX_READER_H_
