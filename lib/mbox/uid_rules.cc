#include "mbox/uid_rules.h"

#include <ctime>
#include <string>

namespace vmigrate::mbox {
namespace {

std::uint32_t Now(const ScanOptions& options) {
  std::int64_t now = options.now != 0 ? options.now : static_cast<std::int64_t>(time(nullptr));
  return static_cast<std::uint32_t>(now);
}

std::string Where(const Mailbox& box, size_t i) {
  return box.path + " message " + std::to_string(i + 1) + " (line " +
         std::to_string(box.messages[i].line) + ")";
}

void AssignDovecot(const ScanOptions& options, Mailbox* box) {
  bool base = box->has_uid_validity;
  std::uint32_t next = base ? box->uid_last + 1 : 1;
  std::uint32_t prev = 0;
  for (size_t i = 0; i < box->messages.size(); ++i) {
    Message& m = box->messages[i];
    bool trusted = m.has_x_uid && !m.x_uid_garbage && !m.x_uid_duplicate &&
                   !(i == 0 && (!base || m.x_uid_before_base)) && m.x_uid <= next &&
                   m.x_uid > prev;
    if (trusted) {
      m.uid = m.x_uid;
      if (m.x_uid == next) ++next;
    } else {
      if (m.has_x_uid && base)
        box->warnings.push_back(Where(*box, i) + ": X-UID " + std::to_string(m.x_uid) +
                                " not used (Dovecot gave it UID " + std::to_string(next) + ")");
      m.uid = next++;
    }
    prev = m.uid;
  }
  if (!base) {
    box->uid_validity = Now(options);
    if (!box->messages.empty())
      box->warnings.push_back(box->path + ": no X-IMAPbase/X-IMAP on disk: UIDVALIDITY " +
                              std::to_string(box->uid_validity) +
                              " invented (clients had their own), UIDs 1.." +
                              std::to_string(box->messages.size()));
  }
  box->uid_last = next - 1;
}

void AssignUw(const ScanOptions& options, Mailbox* box) {
  bool valid = box->has_uid_validity;
  std::uint32_t last = valid ? box->uid_last : 0;
  std::uint32_t prev = 0;
  bool reset = false;
  for (size_t i = 0; i < box->messages.size(); ++i) {
    Message& m = box->messages[i];
    m.uid = 0;
    if (valid && m.has_x_uid && !(i == 0 && m.x_uid_before_base)) {
      const char* why = nullptr;
      if (m.x_uid_duplicate)
        why = "a second X-UID";
      else if (m.x_uid <= prev)
        why = "X-UID not above the previous UID";
      else if (m.x_uid > last)
        why = "X-UID above the last UID in X-IMAPbase";
      if (why == nullptr) {
        m.uid = m.x_uid;
      } else {
        box->warnings.push_back(Where(*box, i) + ": " + why + " (X-UID " +
                                std::to_string(m.x_uid) +
                                "): c-client discarded the UIDVALIDITY here");
        valid = false;
        reset = true;
      }
    }
    if (m.uid == 0) m.uid = ++last;
    prev = m.uid;
  }
  box->uid_last = last;
  if (!valid) {
    box->uid_validity = Now(options);
    if (reset || !box->messages.empty())
      box->warnings.push_back(box->path + ": UIDVALIDITY " + std::to_string(box->uid_validity) +
                              " invented (" +
                              (reset ? "c-client reset it" : "none on disk") +
                              "): clients reload this folder");
  }
}

}  // namespace

void AssignUids(const ScanOptions& options, Mailbox* mailbox) {
  if (options.old_server == OldServer::kDovecot)
    AssignDovecot(options, mailbox);
  else
    AssignUw(options, mailbox);
}

}  // namespace vmigrate::mbox
