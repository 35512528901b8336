// The mbox scanner on small hand-made spools (each a rule or a malformation) and
// on a big generated one (streaming: bodies never held in memory).
#include "mbox/mbox_reader.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "mbox/uid_rules.h"
#include "support/test_support.h"

namespace vmigrate::mbox {
namespace {

constexpr const char* kFrom1 = "From alice@example.com Mon Jul  3 08:05:30 2023\n";
constexpr const char* kFrom2 = "From bob@example.com Tue Dec 12 17:30:30 2023\n";

class MboxReader : public ::testing::Test {
 protected:
  std::string Write(const std::string& contents) {
    std::string path = dir_ / ("box" + std::to_string(++n_));
    testing::WriteFile(path, contents);
    return path;
  }
  Mailbox Scan(const std::string& contents, OldServer server = OldServer::kDovecot) {
    path_ = Write(contents);
    ScanOptions o;
    o.old_server = server;
    o.time_zone = "Europe/Berlin";
    o.now = 1795962205;  // 29 Nov 2026, CET
    Result<Mailbox> box = ScanMbox(path_, o);
    EXPECT_TRUE(box.ok()) << box.status().ToString();
    if (!box.ok()) return Mailbox();
    AssignUids(o, &*box);
    return *box;
  }
  std::string Bytes(const Message& m) {
    int fd = open(path_.c_str(), O_RDONLY);
    std::string out;
    Status s = CopyMessage(fd, m, [&](const char* p, size_t n) {
      out.append(p, n);
      return Status::OK();
    });
    close(fd);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  static bool HasWarning(const Mailbox& box, const std::string& what) {
    for (const auto& w : box.warnings)
      if (w.find(what) != std::string::npos) return true;
    return false;
  }

  testing::TempDir dir_;
  std::string path_;
  int n_ = 0;
};

TEST_F(MboxReader, SeparatorNewlineAndHiddenHeadersPerServer) {
  std::string text = std::string(kFrom1) +
                     "Subject: one\nStatus: RO\nX-Status: AF\nX-Keywords: $Label1 work   \n"
                     "   more\nContent-Length: 6\nX-UID: 1\n\nbody1\n\n" + kFrom2 +
                     "Subject: two\n\nbody2\n";
  Mailbox d = Scan(text);
  ASSERT_EQ(d.messages.size(), 2u);
  // Dovecot hides Content-Length and the continuation of X-Keywords too.
  EXPECT_EQ(Bytes(d.messages[0]), "Subject: one\n\nbody1\n");
  EXPECT_EQ(Bytes(d.messages[1]), "Subject: two\n\nbody2");  // final newline = separator
  EXPECT_EQ(d.messages[0].keywords, (std::vector<std::string>{"$Label1", "work", "more"}));
  EXPECT_TRUE(d.messages[0].seen && d.messages[0].answered && d.messages[0].flagged);
  EXPECT_FALSE(d.messages[0].recent);
  EXPECT_TRUE(d.messages[1].recent);
  EXPECT_EQ(d.variant, "mboxcl2");
  Mailbox u = Scan(text, OldServer::kUw);
  ASSERT_EQ(u.messages.size(), 2u);
  // c-client shows Content-Length and keeps the last line's newline.
  EXPECT_EQ(Bytes(u.messages[0]), "Subject: one\nContent-Length: 6\n\nbody1\n");
  EXPECT_EQ(Bytes(u.messages[1]), "Subject: two\n\nbody2\n");
}

TEST_F(MboxReader, ContentLengthDecidesForDovecotOnly) {
  // dovecot-lda: Content-Length on every message, a From_ line left in a body.
  std::string body = "excerpt:\n\nFrom carol@example.com Mon Oct 30 15:59:00 2023\ninner\n";
  std::string text = std::string(kFrom1) + "Subject: a\nContent-Length: " +
                     std::to_string(body.size()) + "\n\n" + body + "\n" + kFrom2 +
                     "Subject: b\n\nlast\n";
  Mailbox d = Scan(text);
  ASSERT_EQ(d.messages.size(), 2u);
  EXPECT_EQ(Bytes(d.messages[0]), "Subject: a\n\n" + body);
  EXPECT_TRUE(HasWarning(d, "inside the Content-Length: kept in the body")) << d.warnings[0];
  Mailbox u = Scan(text, OldServer::kUw);
  ASSERT_EQ(u.messages.size(), 3u);
  EXPECT_EQ(Bytes(u.messages[0]), "Subject: a\nContent-Length: " + std::to_string(body.size()) +
                                      "\n\nexcerpt:\n");
  EXPECT_EQ(u.messages[1].envelope_sender, "carol@example.com");
  EXPECT_TRUE(HasWarning(u, "inside Content-Length"));
  // A wrong Content-Length is ignored with a warning: the From_ line decides.
  Mailbox bad = Scan(std::string(kFrom1) + "Content-Length: 3\n\nabcdef\n\n" + kFrom2 + "\nx\n");
  ASSERT_EQ(bad.messages.size(), 2u);
  EXPECT_EQ(Bytes(bad.messages[0]), "\nabcdef\n");
  EXPECT_TRUE(HasWarning(bad, "does not end where a From_ line starts"));
}

TEST_F(MboxReader, NoBlankLineBeforeFromSplitsWithAWarning) {
  std::string text = std::string(kFrom1) + "Subject: a\n\nno newline at end\n" + kFrom2 +
                     "Subject: b\n\nx\n\n";
  Mailbox d = Scan(text);
  ASSERT_EQ(d.messages.size(), 2u);
  EXPECT_EQ(Bytes(d.messages[0]), "Subject: a\n\nno newline at end");
  EXPECT_EQ(Bytes(d.messages[1]), "Subject: b\n\nx\n");
  EXPECT_TRUE(HasWarning(d, "message 1 (line 1): no blank line before the next From_ line"));
  Mailbox u = Scan(text, OldServer::kUw);
  EXPECT_EQ(Bytes(u.messages[0]), "Subject: a\n\nno newline at end\n");
  EXPECT_EQ(Bytes(u.messages[1]), "Subject: b\n\nx\n");
}

TEST_F(MboxReader, CrlfNulAndTruncationWarnPerMessageAndKeepEveryByte) {
  std::string crlf = "From a@b.example Mon Jul  3 08:05:30 2023\r\nSubject: c\r\nStatus: O\r\n"
                     "\r\nline\r\n\r\n";
  std::string nul = std::string(kFrom2) + "Subject: n\n\nbin" + std::string(1, '\0') + "ary\n\n";
  std::string cut = "From c@d.example Wed Jan 10 11:00:30 2024\nSubject: t\nContent-Length: 900\n"
                    "\nonly part of it";
  Mailbox box = Scan(crlf + nul + cut);
  ASSERT_EQ(box.messages.size(), 3u);
  EXPECT_EQ(Bytes(box.messages[0]), "Subject: c\r\n\r\nline\r\n");
  EXPECT_EQ(box.messages[0].crlf_size, box.messages[0].size);  // nothing to convert
  EXPECT_EQ(Bytes(box.messages[1]), "Subject: n\n\nbin" + std::string(1, '\0') + "ary\n");
  EXPECT_EQ(Bytes(box.messages[2]), "Subject: t\n\nonly part of it");
  EXPECT_TRUE(HasWarning(box, "message 1 (line 1): CRLF line ends"));
  EXPECT_TRUE(HasWarning(box, "message 2 (line 7): NUL bytes"));
  EXPECT_TRUE(HasWarning(box, "message 3 (line 12): Content-Length 900 runs past the end"));
  EXPECT_TRUE(HasWarning(box, "message 3 (line 12): the file ends without a final newline"));
  EXPECT_EQ(box.variant, "mboxo");
}

TEST_F(MboxReader, PseudoMessageIsDroppedButItsUidStateRead) {
  std::string text =
      "From MAILER-DAEMON Sun Nov 29 15:23:02 2026\n"
      "Date: Sun, 29 Nov 2026 15:23:02 +0100\n"
      "From: Mail System Internal Data <MAILER-DAEMON@mailhost.example.com>\n"
      "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
      "X-IMAP: 1685559600 0000000007 $Label1 Family\n"
      "Status: RO\n\nThis text is part of the internal format of your mail folder.\n\n" +
      std::string(kFrom1) + "Subject: a\nX-UID: 5\nStatus: O\n\nA\n\n" + kFrom2 +
      "Subject: b\nX-UID: 7\n\nB\n";
  for (OldServer s : {OldServer::kDovecot, OldServer::kUw}) {
    Mailbox box = Scan(text, s);
    ASSERT_EQ(box.messages.size(), 2u);
    EXPECT_TRUE(box.had_pseudo);
    EXPECT_TRUE(box.has_uid_validity);
    EXPECT_EQ(box.uid_validity, 1685559600u);
    EXPECT_EQ(box.uid_last, 7u);
    EXPECT_EQ(box.keywords, (std::vector<std::string>{"$Label1", "Family"}));
    EXPECT_EQ(box.messages[0].uid, 5u);
    EXPECT_EQ(box.messages[1].uid, 7u);
    EXPECT_EQ(box.messages[0].line, 10u);  // the pseudo message has 9 lines
  }
}

TEST_F(MboxReader, UidRulesDifferWhereTheServersDiffer) {
  // X-UID 9 is above X-IMAPbase's last (4): Dovecot ignores it (it may come from
  // outside) and gives 5; c-client discards the UIDVALIDITY.
  std::string text = std::string(kFrom1) + "X-IMAPbase: 1688364330 4\nX-UID: 1\n\na\n\n" + kFrom2 +
                     "X-UID: 9\n\nb\n\n" + kFrom2 + "X-UID: 3\n\nc\n";
  Mailbox d = Scan(text);
  ASSERT_EQ(d.messages.size(), 3u);
  EXPECT_EQ(d.messages[1].uid, 5u);
  EXPECT_EQ(d.messages[2].uid, 6u);  // 3 is not above 5
  EXPECT_EQ(d.uid_validity, 1688364330u);
  EXPECT_EQ(d.uid_last, 6u);
  Mailbox u = Scan(text, OldServer::kUw);
  EXPECT_EQ(u.messages[0].uid, 1u);
  EXPECT_EQ(u.messages[1].uid, 5u);
  EXPECT_EQ(u.messages[2].uid, 6u);
  EXPECT_EQ(u.uid_validity, 1795962205u);  // options.now
  EXPECT_TRUE(HasWarning(u, "c-client discarded the UIDVALIDITY"));
  // No X-IMAPbase: X-UIDs are not trusted, UIDs start at 1 (ken's spool).
  Mailbox none = Scan(std::string(kFrom1) + "X-UID: 3\n\nx\n");
  EXPECT_EQ(none.messages[0].uid, 1u);
  EXPECT_FALSE(none.has_uid_validity);
  EXPECT_TRUE(HasWarning(none, "UIDVALIDITY 1795962205 invented"));
}

TEST_F(MboxReader, ZoneLessDatesFollowEachServer) {
  // 3 Jul 2023 08:05:30 in Berlin is CEST (+0200); c-client applies the offset of
  // options.now (CET, +0100).
  std::string text = std::string(kFrom1) + "\nx\n\n" +
                     "From b@c.example Mon Jul  3 08:05:30 2023 -0700\n\ny\n";
  Mailbox d = Scan(text);
  EXPECT_EQ(d.messages[0].internal_date, 1688364330);
  EXPECT_FALSE(d.messages[0].date_had_zone);
  EXPECT_EQ(d.messages[1].internal_date, 1688396730);
  EXPECT_TRUE(d.messages[1].date_had_zone);
  Mailbox u = Scan(text, OldServer::kUw);
  EXPECT_EQ(u.messages[0].internal_date, 1688364330 + 3600);
  EXPECT_EQ(u.messages[1].internal_date, 1688396730);
}

TEST_F(MboxReader, FromLinesAndQuotingVariants) {
  // "From " lines without a valid date never split; quoting is never removed.
  std::string text = std::string(kFrom1) + "\nFrom here on\n>From quoted\n>>From deeper\n\n" +
                     "From nobody\n";
  Mailbox box = Scan(text);
  ASSERT_EQ(box.messages.size(), 1u);
  EXPECT_EQ(Bytes(box.messages[0]), "\nFrom here on\n>From quoted\n>>From deeper\n\nFrom nobody");
  EXPECT_EQ(box.variant, "mboxrd");
  EXPECT_TRUE(HasWarning(box, "starts with \"From \" but is no From_ line for Dovecot"));
  // c-client reads the date from the end, so a sender with spaces still splits.
  Mailbox u = Scan(std::string(kFrom1) + "\na\n\nFrom Some One Tue Dec 12 17:30:30 2023\n\nb\n",
                   OldServer::kUw);
  ASSERT_EQ(u.messages.size(), 2u);
  EXPECT_EQ(u.messages[1].envelope_sender, "Some One");
}

TEST_F(MboxReader, EmptyMissingAndForeignFiles) {
  Mailbox empty = Scan("");
  EXPECT_TRUE(empty.messages.empty());
  EXPECT_EQ(empty.variant, "");
  ScanOptions o;
  Result<Mailbox> missing = ScanMbox(dir_ / "nope", o);
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  Result<Mailbox> foreign = ScanMbox(Write("Subject: not an mbox\n\nhello\n"), o);
  EXPECT_EQ(foreign.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(foreign.status().message().find("not an mbox file: line 1"), std::string::npos);
  Result<Mailbox> dir = ScanMbox(dir_.path(), o);
  EXPECT_EQ(dir.status().code(), Status::Code::kInvalidInput);
  Mailbox leading = Scan("\n\n" + std::string(kFrom1) + "\nx\n");
  EXPECT_EQ(leading.messages.size(), 1u);
  EXPECT_TRUE(HasWarning(leading, "blank line 1 before the first From_ line skipped"));
}

TEST_F(MboxReader, LinesLongerThanTheBufferKeepTheirBytes) {
  std::string big(300000, 'x');
  std::string text = std::string(kFrom1) + "X-Long: " + big + "\nStatus: RO\n\n" + big + "\n\n" +
                     kFrom2 + "\n" + big;  // and a last line without newline
  Mailbox box = Scan(text);
  ASSERT_EQ(box.messages.size(), 2u);
  EXPECT_EQ(Bytes(box.messages[0]), "X-Long: " + big + "\n\n" + big + "\n");
  EXPECT_TRUE(box.messages[0].seen);
  EXPECT_EQ(Bytes(box.messages[1]), "\n" + big);
}

TEST_F(MboxReader, BigSpoolIsStreamedNotLoaded) {
  constexpr int kMessages = 20000;
  std::string body;
  for (int i = 0; i < 40; ++i) body += std::string(60, static_cast<char>('a' + i % 26)) + "\n";  // 2.4 KB
  std::string path = dir_ / "big";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("From a@b.example Mon Jul  3 08:05:30 2023\nX-IMAPbase: 1700000000 20000\n", f);
  for (int i = 0; i < kMessages; ++i) {
    if (i > 0) std::fputs("From a@b.example Mon Jul  3 08:05:30 2023\n", f);
    std::fprintf(f, "Subject: %d\nX-UID: %d\nStatus: RO\n\n%s\n", i, i + 1, body.c_str());
  }
  std::fclose(f);
  struct rusage before {};
  getrusage(RUSAGE_SELF, &before);
  size_t heap_before = mallinfo2().uordblks;
  ScanOptions o;
  Result<Mailbox> box = ScanMbox(path, o);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  AssignUids(o, &*box);
  size_t heap_after = mallinfo2().uordblks;
  struct rusage after {};
  getrusage(RUSAGE_SELF, &after);
  ASSERT_EQ(box->messages.size(), static_cast<size_t>(kMessages));
  std::int64_t total = 0;
  for (const Message& m : box->messages) total += m.size;
  EXPECT_GT(total, std::int64_t{kMessages} * 2400);
  EXPECT_EQ(box->messages.back().uid, static_cast<std::uint32_t>(kMessages));
  EXPECT_TRUE(box->warnings.empty());
  // Metadata only: well under the 48 MB of bodies, a few hundred bytes a message.
  EXPECT_LT(heap_after - heap_before, static_cast<size_t>(kMessages) * 400);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 32 * 1024);  // KB
}

}  // namespace
}  // namespace vmigrate::mbox
