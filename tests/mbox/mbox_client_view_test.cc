// The mbox scanner against what real clients saw on the real-unix-mbox fixture
// (client-view/, taken with Dovecot 2.3.19.1 and libc-client2007e): every message's
// bytes (LF sent as CRLF), size, UID, flags, keywords and INTERNALDATE, each
// folder's UIDVALIDITY/UIDNEXT and the POP3 UIDL lists.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "mbox/mbox_reader.h"
#include "mbox/pop3_uidl.h"
#include "mbox/uid_rules.h"
#include "support/test_support.h"

namespace vmigrate::mbox {
namespace {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<std::string>>;

// When the client-view was taken (29 Nov 2026, CET): c-client's "today's offset".
constexpr std::int64_t kViewTime = 1795962205;

Rows ReadTsv(const std::string& path) {
  Rows rows;
  std::istringstream in(testing::ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    size_t b = 0;
    for (size_t e; (e = line.find('\t', b)) != std::string::npos; b = e + 1)
      f.push_back(line.substr(b, e - b));
    f.push_back(line.substr(b));
    rows.push_back(f);
  }
  return rows;
}

// "03-Sep-2023 08:00:10 +0200" / "5-Jun-2023 09:12:33 +0200" -> UTC seconds.
std::int64_t ImapDate(const std::string& s) {
  static const char* kMon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm {};
  char mon[4] = {};
  int zone = 0;
  EXPECT_EQ(std::sscanf(s.c_str(), "%d-%3s-%d %d:%d:%d %d", &tm.tm_mday, mon, &tm.tm_year,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &zone),
            7)
      << s;
  for (int i = 0; i < 12; ++i)
    if (std::string(mon) == kMon[i]) tm.tm_mon = i;
  tm.tm_year -= 1900;
  int minutes = (std::abs(zone) / 100) * 60 + std::abs(zone) % 100;
  return static_cast<std::int64_t>(timegm(&tm)) - (zone < 0 ? -minutes : minutes) * 60;
}

std::string Bytes(const std::string& path, const Message& m) {
  int fd = open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  std::string out;
  Status s = CopyMessage(fd, m, [&](const char* p, size_t n) {
    out.append(p, n);
    return Status::OK();
  });
  close(fd);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// What an IMAP server sends: bare LF as CRLF.
std::string Crlf(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out.push_back('\r');
    out.push_back(s[i]);
  }
  return out;
}

std::set<std::string> FlagSet(const std::string& flags) {
  std::set<std::string> out;
  std::istringstream in(flags.substr(1, flags.size() - 2));
  std::string w;
  while (in >> w) out.insert(w);
  return out;
}

std::set<std::string> OurFlags(const Message& m, bool with_keywords) {
  std::set<std::string> out;
  if (m.seen) out.insert("\\Seen");
  if (m.answered) out.insert("\\Answered");
  if (m.flagged) out.insert("\\Flagged");
  if (m.deleted) out.insert("\\Deleted");
  if (m.draft) out.insert("\\Draft");
  if (m.recent) out.insert("\\Recent");
  if (with_keywords)
    for (const auto& k : m.keywords) out.insert(k);
  return out;
}

class MboxClientView : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::UnpackFixture("real-unix-mbox", dir_.path());
    root_ = dir_.path() + "/tmp/realvp";
  }

  // Dovecot's folder name (mUTF-7, as the files are named) -> the mbox file.
  std::string DovecotPath(const std::string& user, const std::string& folder) const {
    if (folder == "INBOX") return root_ + "/var/mail/" + user;
    return root_ + "/home/" + user + "/mail/" + folder;
  }
  // c-client's mailbox name ("INBOX", "mail/sent-mail") -> the mbox file.
  std::string CclientPath(const std::string& user, const std::string& name) const {
    if (name == "INBOX") return root_ + "/var/mail/" + user;
    return root_ + "/home/" + user + "/" + name;
  }

  Mailbox Scan(const std::string& path, OldServer server) {
    ScanOptions o;
    o.old_server = server;
    o.time_zone = "Europe/Berlin";
    o.now = kViewTime;
    Result<Mailbox> box = ScanMbox(path, o);
    EXPECT_TRUE(box.ok()) << box.status().ToString();
    if (!box.ok()) return Mailbox();
    AssignUids(o, &*box);
    return *box;
  }

  testing::TempDir dir_;
  std::string root_;
};

TEST_F(MboxClientView, DovecotFoldersMessagesAndBytesMatch) {
  Rows folders = ReadTsv(root_ + "/client-view/imap-folders.txt");
  Rows messages = ReadTsv(root_ + "/client-view/imap-messages.txt");
  ASSERT_FALSE(folders.empty());
  size_t checked_folders = 0, checked_messages = 0;
  for (const auto& f : folders) {
    if (f[3] == "-") continue;  // \Noselect parents
    SCOPED_TRACE(f[0] + " " + f[1]);
    std::string path = DovecotPath(f[0], f[1]);
    Mailbox box = Scan(path, OldServer::kDovecot);
    EXPECT_EQ(box.messages.size(), std::stoul(f[5]));
    if (f[3] != "none-on-disk") {
      EXPECT_TRUE(box.has_uid_validity);
      EXPECT_EQ(std::to_string(box.uid_validity), f[3]);
    } else {
      EXPECT_FALSE(box.has_uid_validity);
    }
    EXPECT_EQ(std::to_string(box.uid_last + 1), f[4]) << "UIDNEXT";
    std::map<std::uint32_t, const Message*> by_uid;
    for (const auto& m : box.messages) by_uid[m.uid] = &m;
    size_t rows = 0;
    for (const auto& r : messages) {
      if (r[0] != f[0] || r[1] != f[1]) continue;
      ++rows;
      SCOPED_TRACE("UID " + r[2] + " " + r[7]);
      auto it = by_uid.find(static_cast<std::uint32_t>(std::stoul(r[2])));
      ASSERT_NE(it, by_uid.end());
      const Message& m = *it->second;
      EXPECT_EQ(OurFlags(m, true), FlagSet(r[3]));
      EXPECT_EQ(m.internal_date, ImapDate(r[4]));
      std::string sent = Crlf(Bytes(path, m));
      EXPECT_EQ(std::to_string(sent.size()), r[5]);
      EXPECT_EQ(std::to_string(m.crlf_size), r[5]);
      EXPECT_EQ(Sha256::Of(sent), r[6]);
      ++checked_messages;
    }
    EXPECT_EQ(rows, box.messages.size());
    ++checked_folders;
  }
  EXPECT_EQ(checked_folders, 27u);  // every selectable folder of imap-folders.txt
  EXPECT_EQ(checked_messages, messages.size());
}

TEST_F(MboxClientView, Pop3UidlListsMatchForEveryFormat) {
  const std::vector<std::pair<std::string, std::string>> formats = {
      {"pop3-uidl-default.txt", "%08Xu%08Xv"},
      {"pop3-uidl-uw.txt", "%08Xv%08Xu"},
      {"pop3-uidl-cyrus.txt", "%v.%u"},
      {"pop3-uidl-xuidl.txt", "x-uidl"}};
  for (const auto& [file, format] : formats) {
    SCOPED_TRACE(file);
    ASSERT_TRUE(CheckUidlFormat(format).ok());
    std::map<std::string, Rows> by_user;
    for (auto& r : ReadTsv(root_ + "/client-view/" + file)) by_user[r[0]].push_back(r);
    ASSERT_GE(by_user.size(), 11u);
    for (const auto& [user, rows] : by_user) {
      Mailbox box = Scan(DovecotPath(user, "INBOX"), OldServer::kDovecot);
      ASSERT_EQ(box.messages.size(), rows.size()) << user;
      for (size_t i = 0; i < rows.size(); ++i) {
        const Message& m = box.messages[i];
        EXPECT_EQ(rows[i][1], std::to_string(i + 1));
        Result<std::string> uidl = FormatUidl(format, box.uid_validity, m);
        ASSERT_TRUE(uidl.ok()) << uidl.status().ToString();
        // Invented UIDVALIDITYs (none on disk) cannot match a past clock.
        if (box.has_uid_validity) {
          EXPECT_EQ(*uidl, rows[i][2]) << user << " " << i + 1;
        }
        EXPECT_EQ(std::to_string(m.crlf_size), rows[i][3]) << user << " " << i + 1;
      }
    }
  }
}

TEST_F(MboxClientView, CclientViewMatchesForUwRules) {
  Rows folders = ReadTsv(root_ + "/client-view/cclient-folders.txt");
  Rows messages = ReadTsv(root_ + "/client-view/cclient-messages.txt");
  size_t checked = 0;
  for (const auto& f : folders) {
    // c-client also opened Dovecot's index files and .subscriptions as mailboxes.
    if (f[1] != "INBOX" && f[1].find("/.") != std::string::npos) continue;
    SCOPED_TRACE(f[0] + " " + f[1]);
    std::string path = CclientPath(f[0], f[1]);
    Mailbox box = Scan(path, OldServer::kUw);
    EXPECT_EQ(box.messages.size(), std::stoul(f[4]));
    if (f[2] != "none-on-disk") {
      EXPECT_EQ(std::to_string(box.uid_validity), f[2]);
    }
    EXPECT_EQ(std::to_string(box.uid_last + 1), f[3]) << "uidnext";
    std::map<std::uint32_t, const Message*> by_uid;
    for (const auto& m : box.messages) by_uid[m.uid] = &m;
    for (const auto& r : messages) {
      if (r[0] != f[0] || r[1] != f[1]) continue;
      SCOPED_TRACE("uid " + r[2] + " " + r[7]);
      auto it = by_uid.find(static_cast<std::uint32_t>(std::stoul(r[2])));
      ASSERT_NE(it, by_uid.end());
      const Message& m = *it->second;
      EXPECT_EQ(OurFlags(m, false), FlagSet(r[3]));  // this API shows no keywords
      EXPECT_EQ(m.internal_date, ImapDate(r[4]));
      std::string sent = Crlf(Bytes(path, m));
      EXPECT_EQ(std::to_string(sent.size()), r[5]);
      EXPECT_EQ(Sha256::Of(sent), r[6]);
      ++checked;
    }
  }
  EXPECT_GE(checked, 40u);
}

// The rules of ISSUE 17 by name, on the fixture's spools.
TEST_F(MboxClientView, FixtureSpoolsShowEachRule) {
  // dave: dovecot-lda's Content-Length keeps a body From_ line inside message 3
  // for Dovecot (4 messages); c-client splits there (5) and resets UIDVALIDITY.
  Mailbox dave_d = Scan(root_ + "/var/mail/dave", OldServer::kDovecot);
  Mailbox dave_u = Scan(root_ + "/var/mail/dave", OldServer::kUw);
  EXPECT_EQ(dave_d.messages.size(), 4u);
  EXPECT_EQ(dave_u.messages.size(), 5u);
  EXPECT_EQ(dave_d.variant, "mboxcl2");
  EXPECT_EQ(dave_d.uid_validity, 1688364330u);
  EXPECT_EQ(dave_u.uid_validity, static_cast<std::uint32_t>(kViewTime));  // invented
  // Dovecot hides Content-Length, c-client shows it.
  std::string d2 = Bytes(root_ + "/var/mail/dave", dave_d.messages[1]);
  std::string u2 = Bytes(root_ + "/var/mail/dave", dave_u.messages[1]);
  EXPECT_EQ(d2.find("Content-Length:"), std::string::npos);
  EXPECT_NE(u2.find("Content-Length: 203062\n"), std::string::npos);
  EXPECT_EQ(d2.find("X-UID:"), std::string::npos);
  EXPECT_EQ(u2.find("X-UID:"), std::string::npos);
  // bob: no blank line before a From_ line: split, with a warning; Dovecot drops
  // that last line's newline, c-client keeps it.
  Mailbox bob = Scan(root_ + "/var/mail/bob", OldServer::kDovecot);
  ASSERT_EQ(bob.messages.size(), 4u);
  std::string b3 = Bytes(root_ + "/var/mail/bob", bob.messages[2]);
  const std::string tail = "but no blank separator line";
  ASSERT_GT(b3.size(), tail.size());
  EXPECT_EQ(b3.substr(b3.size() - tail.size()), tail);  // no newline after it
  Mailbox bob_u = Scan(root_ + "/var/mail/bob", OldServer::kUw);
  EXPECT_EQ(Bytes(root_ + "/var/mail/bob", bob_u.messages[2]), b3 + "\n");
  EXPECT_EQ(bob.warnings.size(), 1u);
  EXPECT_NE(bob.warnings[0].find("message 3 (line 32): no blank line before the next From_ line"),
            std::string::npos);
  EXPECT_EQ(bob.messages[0].x_uidl, "3f8a1c9e2b7d4e60a1b2c3d4e5f60718");
  // frank: c-client's ">From " quoting is what both servers showed: never unquoted.
  Mailbox frank = Scan(root_ + "/var/mail/frank", OldServer::kDovecot);
  std::string f2 = Bytes(root_ + "/var/mail/frank", frank.messages[1]);
  EXPECT_NE(f2.find("\n>From bob@example.com Wed Sep 20 11:59:00 2023\n"), std::string::npos);
  EXPECT_EQ(frank.variant, "mboxo");
  // grace: the pseudo message is no mail, but its X-IMAP gives UIDVALIDITY.
  Mailbox grace = Scan(root_ + "/var/mail/grace", OldServer::kDovecot);
  EXPECT_TRUE(grace.had_pseudo);
  ASSERT_EQ(grace.messages.size(), 2u);
  EXPECT_EQ(grace.uid_validity, 1690873230u);
  EXPECT_EQ(grace.messages[0].uid, 3u);
  // judy: an empty spool is an empty mailbox.
  Mailbox judy = Scan(root_ + "/var/mail/judy", OldServer::kDovecot);
  EXPECT_TRUE(judy.messages.empty());
  EXPECT_FALSE(judy.has_uid_validity);
  // ken's ~/mbox (moved there by mail(1)) has its own UW state.
  Mailbox ken = Scan(root_ + "/home/ken/mbox", OldServer::kUw);
  EXPECT_EQ(ken.messages.size(), 2u);
  EXPECT_EQ(ken.uid_validity, 1686117630u);
}

}  // namespace
}  // namespace vmigrate::mbox
