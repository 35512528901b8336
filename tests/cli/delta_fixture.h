// Shared helpers for the incremental-sync tests (issue 13): the changes a
// live vpopmail host goes through between two syncs, made on an unpacked
// real-small source tree the way the mail system makes them (vdelivermail
// deliveries with maildirsize lines, POP/IMAP clients moving and re-flagging
// messages, vadduser/vdeluser/vpasswd/vsetuserquota, qmailadmin aliases),
// and running `vmigrate state` / `export --since`.
#ifndef VMIGRATE_TESTS_CLI_DELTA_FIXTURE_H_
#define VMIGRATE_TESTS_CLI_DELTA_FIXTURE_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {

/// The source domain dir of real-small's `domain` on disk.
inline std::string SourceDomainDisk(const std::string& src_root, const std::string& domain = "example.com") {
  return SourceHomeDisk(src_root) + "/domains/" + domain;
}
inline std::string TargetDomainDisk(const std::string& dst_root, const std::string& domain = "example.com") {
  return TargetHomeDisk(dst_root) + "/domains/" + domain;
}

/// Sets the mtime (and atime) of `path` without following a symlink.
inline void SetMtime(const std::string& path, long sec, long nsec = 0) {
  struct timespec t[2];
  t[0].tv_sec = t[1].tv_sec = sec;
  t[0].tv_nsec = t[1].tv_nsec = nsec;
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), t, AT_SYMLINK_NOFOLLOW), 0) << path;
}

inline void WriteFileMode(const std::string& path, const std::string& text, mode_t mode) {
  WriteFile(path, text);
  ASSERT_EQ(chmod(path.c_str(), mode), 0) << path;
}

/// Delivers a message the way vdelivermail does: the file lands in
/// `maildir`/new/ as "<time>.<pid>.mail.example.com,S=<size>" with mtime
/// `time`.`nsec`, and a "<size> 1" line is appended to the Maildir's
/// maildirsize when it has one. Returns the file name.
inline std::string Deliver(const std::string& maildir, const std::string& to, long time, int pid,
                           const std::string& subject, long nsec = 0) {
  std::string body = "Return-Path: <sender@partner.test>\nDelivered-To: " + to +
                     "\nFrom: Sender <sender@partner.test>\nTo: <" + to + ">\nSubject: " + subject +
                     "\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <" + std::to_string(time) +
                     "." + std::to_string(pid) + "@partner.test>\n\n" + subject + "\n";
  std::string name = std::to_string(time) + "." + std::to_string(pid) + ".mail.example.com,S=" +
                     std::to_string(body.size());
  WriteFileMode(maildir + "/new/" + name, body, 0600);
  SetMtime(maildir + "/new/" + name, time, nsec);
  std::string quota = maildir + "/maildirsize";
  if (std::filesystem::exists(quota)) {
    std::string text = ReadFile(quota) + std::to_string(body.size()) + " 1\n";
    WriteFile(quota, text);
  }
  return name;
}

/// Removes a message as a client's expunge does (and the "-size -1" line a
/// quota-aware client appends to maildirsize when the Maildir has one).
inline void Expunge(const std::string& maildir, const std::string& rel) {
  std::string path = maildir + "/" + rel;
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
  ASSERT_EQ(unlink(path.c_str()), 0) << path;
  std::string quota = maildir + "/maildirsize";
  if (std::filesystem::exists(quota))
    WriteFile(quota, ReadFile(quota) + "-" + std::to_string(st.st_size) + " -1\n");
}

/// Renames `from` to `to` (relative to `maildir`), as a client moving a
/// message new/ -> cur/ or changing its flags does: bytes and mtime stay.
inline void Move(const std::string& maildir, const std::string& from, const std::string& to) {
  ASSERT_EQ(rename((maildir + "/" + from).c_str(), (maildir + "/" + to).c_str()), 0) << from << " -> " << to;
}

/// vpasswd (and vpasswd.cdb) of the source domain, changed by `edit`.
template <typename Edit>
void EditVpasswd(const std::string& domain_disk, Edit edit) {
  auto pw = vpopmail::ReadVpasswd(domain_disk + "/vpasswd");
  ASSERT_TRUE(pw.ok()) << pw.status().message();
  std::vector<VpasswdEntry> entries = *pw;
  edit(entries);
  Status s = vpopmail::WriteVpasswdFiles(domain_disk, entries, std::nullopt);
  ASSERT_TRUE(s.ok()) << s.message();
}

inline VpasswdEntry* FindUser(std::vector<VpasswdEntry>& entries, const std::string& name) {
  for (auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

/// vadduser/vdeluser rewrite the domain's .dir-control (count up, count down).
inline void TouchDirControl(const std::string& domain_disk) {
  std::string path = domain_disk + "/.dir-control";
  WriteFile(path, ReadFile(path));
}

/// A new Maildir (cur/new/tmp, 0700), as vadduser or a client creating a
/// folder makes it.
inline void MakeMaildir(const std::string& maildir) {
  for (const char* sub : {"", "/cur", "/new", "/tmp"}) {
    std::filesystem::create_directories(maildir + sub);
    ASSERT_EQ(chmod((maildir + sub).c_str(), 0700), 0);
  }
}

// What the rounds below do, by name, so tests can check individual files.
struct Round1 {
  std::string alice_new1, carol_new, nina_new, work_msg;  // delivered / created files (names)
  // Files that only moved (unique names).
  static constexpr const char* kMovedToCur = "1795424452.28218.mail.example.com,S=462";
  static constexpr const char* kReflagged = "1795424448.28190.mail.example.com,S=675";
  static constexpr const char* kSentReflagged = "1795424451.28211.mail.example.com,S=558";
};

// The first round of changes on real-small's example.com (source tree):
// - new mail for alice (INBOX, maildirsize updated) and carol;
// - alice: one message new/ -> cur/ (":2,S"), two re-flagged (":2,S" -> ":2,RS",
//   .Sent ":2,S" -> ":2,FS"), her .Trash message expunged;
// - bob: one message expunged, a new password (dave's hash and cleartext);
// - alice: a new folder .Work with a message, subscribed;
// - user nina added (vpasswd + vpasswd.cdb, home with Maildir and one new
//   message), user heidi removed (line and home);
// - alias .qmail-newalias added, .qmail-sales removed;
// - grace's quota raised (vpasswd field and maildirsize first line).
inline void ApplyRound1(const std::string& src_root, Round1* out) {
  Round1& r = *out;
  const std::string d = SourceDomainDisk(src_root);
  const std::string alice = d + "/alice/Maildir";
  r.alice_new1 = Deliver(alice, "alice@example.com", 1795900001, 31001, "first new message", 123456789);
  r.carol_new = Deliver(d + "/carol/Maildir", "carol@example.com", 1795900002, 31002, "for carol");
  Move(alice, std::string("new/") + Round1::kMovedToCur, std::string("cur/") + Round1::kMovedToCur + ":2,S");
  Move(alice, std::string("cur/") + Round1::kReflagged + ":2,S", std::string("cur/") + Round1::kReflagged + ":2,RS");
  Move(alice, std::string(".Sent/cur/") + Round1::kSentReflagged + ":2,S",
       std::string(".Sent/cur/") + Round1::kSentReflagged + ":2,FS");
  Expunge(alice, ".Trash/cur/1795424450.28204.mail.example.com,S=1034:2,ST");
  Expunge(d + "/bob/Maildir", "cur/1795424455.28239.mail.example.com,S=678:2,FS");

  // A folder made by an IMAP client, with a message saved into it.
  MakeMaildir(alice + "/.Work");
  WriteFileMode(alice + "/.Work/maildirfolder", "", 0600);
  const std::string work_body = "Subject: work\n\nwork item\n";
  r.work_msg = "1795900003.31003.mail.example.com,S=" + std::to_string(work_body.size()) + ":2,S";
  WriteFileMode(alice + "/.Work/cur/" + r.work_msg, work_body, 0600);
  SetMtime(alice + "/.Work/cur/" + r.work_msg, 1795900003, 500);
  WriteFile(alice + "/subscriptions", ReadFile(alice + "/subscriptions") + "Work\n");

  // vadduser nina (password: alice's), vdeluser heidi, vpasswd bob.
  std::filesystem::create_directories(d + "/nina");
  chmod((d + "/nina").c_str(), 0700);
  MakeMaildir(d + "/nina/Maildir");
  r.nina_new = Deliver(d + "/nina/Maildir", "nina@example.com", 1795900004, 31004, "welcome nina");
  std::filesystem::remove_all(d + "/heidi");
  EditVpasswd(d, [&](std::vector<VpasswdEntry>& e) {
    VpasswdEntry nina = *FindUser(e, "alice");
    nina.name = "nina";
    nina.gecos = "Nina New";
    nina.quota = "NOQUOTA";
    nina.dir = std::string(kFixtureVpopmailHome) + "/domains/example.com/nina";
    e.push_back(nina);
    e.erase(std::remove_if(e.begin(), e.end(), [](const VpasswdEntry& x) { return x.name == "heidi"; }), e.end());
    VpasswdEntry* bob = FindUser(e, "bob");
    VpasswdEntry* dave = FindUser(e, "dave");
    bob->passwd = dave->passwd;
    bob->clear = dave->clear;
    FindUser(e, "grace")->quota = "3000000S,600C";
  });
  TouchDirControl(d);
  WriteFile(d + "/grace/Maildir/maildirsize", "3000000S,600C\n0 0\n");

  // qmailadmin: a new forward, one removed.
  WriteFileMode(d + "/.qmail-newalias", "alice@example.com\n", 0600);
  ASSERT_EQ(unlink((d + "/.qmail-sales").c_str()), 0);
}

struct Round2 {
  std::string nina_new2;
};

// The second round (after round 1): more mail for nina, the message that
// moved to cur/ in round 1 re-flagged, alice's round-1 message expunged, a
// gecos change for ivan, .qmail-info removed.
inline void ApplyRound2(const std::string& src_root, const Round1& r1, Round2* out) {
  Round2& r = *out;
  const std::string d = SourceDomainDisk(src_root);
  const std::string alice = d + "/alice/Maildir";
  r.nina_new2 = Deliver(d + "/nina/Maildir", "nina@example.com", 1795900101, 31101, "second for nina", 7);
  Move(alice, std::string("cur/") + Round1::kMovedToCur + ":2,S", std::string("cur/") + Round1::kMovedToCur + ":2,RS");
  Expunge(alice, "new/" + r1.alice_new1);
  EditVpasswd(d, [](std::vector<VpasswdEntry>& e) { FindUser(e, "ivan")->gecos = "Ivan I. Ivanov"; });
  ASSERT_EQ(unlink((d + "/.qmail-info").c_str()), 0);
}

/// Changes to real-small's example.net: mail for tom, uma's message
/// expunged, a new alias.
inline void ApplyNetChanges(const std::string& src_root) {
  const std::string d = SourceDomainDisk(src_root, "example.net");
  Deliver(d + "/tom/Maildir", "tom@example.net", 1795900201, 31201, "for tom");
  Expunge(d + "/uma/Maildir", "new/1795424459.28267.mail.example.com,S=460");
  WriteFileMode(d + "/.qmail-sales", "tom@example.net\n", 0600);
}

// ---- running the commands --------------------------------------------

/// `vmigrate state DOMAIN -o OUT` with `flags` (SourceFlags or TargetFlags).
inline CommandResult State(const std::vector<std::string>& flags, const std::string& domain,
                           const std::string& out, const std::vector<std::string>& extra = {}) {
  return RunVmigrate(Concat(Concat({"state", domain, "-o", out}, flags), extra));
}

/// `vmigrate export DOMAIN --since STATE -o OUT` from the source under `src_root`.
inline CommandResult ExportSince(const std::string& src_root, const std::string& domain,
                                 const std::string& state, const std::string& out,
                                 const std::vector<std::string>& extra = {}) {
  return Export(src_root, domain, out, Concat({"--since", state}, extra));
}

/// The part of a state file that describes the installed data: everything
/// from the first "domain" line on (the header lines before it name the
/// host and the time).
inline std::string StateBody(const std::string& text) {
  size_t at = text.rfind("domain\t", 0) == 0 ? 0 : text.find("\ndomain\t");
  if (at == std::string::npos) return "(no domain line in:)\n" + text;
  return at == 0 ? text : text.substr(at + 1);
}

/// The state body of `domain` (or "--all") on a tree, via `vmigrate state -o -`.
inline std::string StateBodyOf(const std::vector<std::string>& flags, const std::string& domain) {
  CommandResult r = domain == "--all" ? RunVmigrate(Concat({"state", "--all", "-o", "-"}, flags))
                                      : RunVmigrate(Concat({"state", domain, "-o", "-"}, flags));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return StateBody(r.out);
}

/// Line-by-line difference of two texts ("" when equal), for readable failures.
inline std::string TextDiff(const std::string& a, const std::string& b) {
  std::vector<std::string> la = Lines(a), lb = Lines(b);
  std::set<std::string> sa(la.begin(), la.end()), sb(lb.begin(), lb.end());
  std::string out;
  for (const auto& l : la)
    if (!sb.count(l)) out += "- " + l + "\n";
  for (const auto& l : lb)
    if (!sa.count(l)) out += "+ " + l + "\n";
  if (out.empty() && a != b) out = "(same lines, different order)\n";
  return out;
}

/// Inode and ctime of an entry (not following a symlink), "missing" if absent.
inline std::string InodeCtime(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_ino) + " " + std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec);
}

/// InodeCtime of every entry below `dir` (keyed by relative path), the dir included as ".".
inline std::map<std::string, std::string> InodeCtimes(const std::string& dir) {
  std::map<std::string, std::string> out;
  out["."] = InodeCtime(dir);
  for (auto it = std::filesystem::recursive_directory_iterator(dir);
       it != std::filesystem::recursive_directory_iterator(); ++it)
    out[std::filesystem::relative(it->path(), dir).string()] = InodeCtime(it->path().string());
  return out;
}

/// Copies a whole tree keeping modes, owners and mtimes (cp -a).
inline void CopyTree(const std::string& from, const std::string& to) {
  CommandResult r = RunCommand({"cp", "-a", from + "/.", to});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace vmigrate::testing::cli

#endif  // VMIGRATE_TESTS_CLI_DELTA_FIXTURE_H_
