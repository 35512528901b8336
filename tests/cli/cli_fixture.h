// Shared helpers for the end-to-end CLI tests: empty target trees, running
// export/import against the real vpopmail fixtures, and comparing an
// imported domain with the source tree it came from.
#ifndef VMIGRATE_TESTS_CLI_CLI_FIXTURE_H_
#define VMIGRATE_TESTS_CLI_CLI_FIXTURE_H_

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {

namespace fs = std::filesystem;

/// Where every target tree of these tests keeps vpopmail and qmail. The
/// vpopmail home is deliberately not the fixtures' /tmp/realvp/home/vpopmail.
constexpr const char* kTargetHome = "/srv/vpopmail";
constexpr const char* kTargetQmail = "/var/qmail";
constexpr const char* kTargetMe = "mail.target.test";

inline std::vector<std::string> SourceFlags(const std::string& root) {
  return {"--root", root, "--vpopmail-home", kFixtureVpopmailHome, "--qmail-dir", kFixtureQmailDir};
}

inline std::vector<std::string> TargetFlags(const std::string& root) {
  return {"--root", root, "--vpopmail-home", kTargetHome, "--qmail-dir", kTargetQmail};
}

inline std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// On-disk path of the source fixture's vpopmail home under `root`.
inline std::string SourceHomeDisk(const std::string& root) { return root + kFixtureVpopmailHome; }
inline std::string TargetHomeDisk(const std::string& root) { return root + kTargetHome; }
inline std::string TargetQmailDisk(const std::string& root) { return root + kTargetQmail; }

/// The target's vpopmail user: vpopmail:vchkpw, 89:89 as on the fixtures'
/// hosts, when the tests run as root; else the running user (who cannot
/// chown, and whose files an import as that user keeps).
inline std::pair<unsigned, unsigned> TargetVpopmailIds() {
  if (geteuid() == 0) return {89, 89};
  return {static_cast<unsigned>(getuid()), static_cast<unsigned>(getgid())};
}

/// An empty target as a base qmail install plus an installed (unused)
/// vpopmail leaves it: ROOT/srv/vpopmail (owned by the vpopmail user),
/// ROOT/var/qmail/{control,users}, control/me and control/rcpthosts holding
/// the host name, and ROOT/etc/passwd and etc/group with root and
/// vpopmail:vchkpw (TargetVpopmailIds), where import looks its owner up.
inline void MakeEmptyTarget(const std::string& root) {
  fs::create_directories(TargetHomeDisk(root));
  chmod(TargetHomeDisk(root).c_str(), 0755);
  fs::create_directories(TargetQmailDisk(root) + "/control");
  fs::create_directories(TargetQmailDisk(root) + "/users");
  WriteFile(TargetQmailDisk(root) + "/control/me", std::string(kTargetMe) + "\n");
  WriteFile(TargetQmailDisk(root) + "/control/rcpthosts", std::string(kTargetMe) + "\n");
  chmod((TargetQmailDisk(root) + "/control/me").c_str(), 0644);
  chmod((TargetQmailDisk(root) + "/control/rcpthosts").c_str(), 0644);
  auto [uid, gid] = TargetVpopmailIds();
  fs::create_directories(root + "/etc");
  WriteFile(root + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nvpopmail:x:" + std::to_string(uid) + ":" +
                                      std::to_string(gid) + "::" + kTargetHome + ":/usr/sbin/nologin\n");
  WriteFile(root + "/etc/group", "root:x:0:\nvchkpw:x:" + std::to_string(gid) + ":\n");
  if (geteuid() == 0 && chown(TargetHomeDisk(root).c_str(), uid, gid) != 0)
    ADD_FAILURE() << "cannot chown " << TargetHomeDisk(root);
}

/// `vmigrate export DOMAIN -o OUT` against a fixture unpacked under `src_root`.
inline CommandResult Export(const std::string& src_root, const std::string& domain,
                            const std::string& out, const std::vector<std::string>& extra = {}) {
  return RunVmigrate(Concat(Concat({"export", domain, "-o", out}, SourceFlags(src_root)), extra));
}

/// `vmigrate import ARCHIVE --no-reload` into the target under `dst_root`.
inline CommandResult Import(const std::string& dst_root, const std::string& archive,
                            const std::vector<std::string>& extra = {},
                            const std::string& stdin_file = "") {
  return RunVmigrate(
      Concat(Concat({"import", archive, "--no-reload"}, TargetFlags(dst_root)), extra), stdin_file);
}

/// Lines of a text (without the newlines).
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

inline bool HasLine(const std::string& text, const std::string& line) {
  auto lines = Lines(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

inline std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

/// A TreeDigest line without its trailing " uid:gid".
inline std::string WithoutOwner(const std::string& digest_line) {
  return digest_line.substr(0, digest_line.rfind(' '));
}

/// "mode mtime" of a directory (or "mode size mtime" of a file), for checks
/// of an entry TreeDigest does not list (the root it was given).
inline std::string StatLine(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return "missing";
  std::ostringstream s;
  s << std::oct << (st.st_mode & 07777) << std::dec << " " << st.st_mtim.tv_sec << "."
    << st.st_mtim.tv_nsec;
  return s.str();
}

/// Names of leftover ".vmigrate-staging*" entries anywhere under `root`.
inline std::vector<std::string> StagingLeftovers(const std::string& root) {
  std::vector<std::string> out;
  if (!fs::exists(root)) return out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it)
    if (it->path().filename().string().rfind(".vmigrate-staging", 0) == 0) out.push_back(it->path());
  return out;
}

/// Every difference between two digests, one line each ("" when equal),
/// so a failure message says exactly what changed.
inline std::string DigestDiff(const std::map<std::string, std::string>& before,
                              const std::map<std::string, std::string>& after) {
  std::ostringstream d;
  for (const auto& [path, line] : before) {
    auto it = after.find(path);
    if (it == after.end()) d << "removed: " << path << "\n";
    else if (it->second != line) d << "changed: " << path << ": " << line << " -> " << it->second << "\n";
  }
  for (const auto& [path, line] : after)
    if (!before.count(path)) d << "added:   " << path << " " << line << "\n";
  return d.str();
}

/// Where a source domain lands and how its host paths map.
struct DomainMapping {
  std::string domain;
  std::string src_root;       // fixture unpacked here
  std::string dst_root;       // target root
  std::string src_rel = "";   // "domains/example.com" (relative to the home)
  std::string dst_rel = "";   // "domains/example.com" or "domains/0/example.com"

  std::string src_host_dir() const { return std::string(kFixtureVpopmailHome) + "/" + src_rel; }
  std::string dst_host_dir() const { return std::string(kTargetHome) + "/" + dst_rel; }
  std::string src_disk() const { return src_root + src_host_dir(); }
  std::string dst_disk() const { return dst_root + dst_host_dir(); }
  /// The source text as it must read on the target: source paths replaced.
  std::string Rewrite(const std::string& text) const {
    std::string t = ReplaceAll(text, src_host_dir() + "/", dst_host_dir() + "/");
    t = ReplaceAll(t, src_host_dir() + "\n", dst_host_dir() + "\n");
    return ReplaceAll(t, kFixtureVpopmailHome, kTargetHome);
  }
};

/// Compares the tree below `src` with the tree below `dst` (both on disk):
/// same paths, types, modes, sizes, mtimes and bytes, owners ignored.
/// Files whose source text holds the fixture vpopmail home must equal the
/// rewritten text instead (with the same mode and mtime). `skip` is passed
/// to TreeDigest; `mode_only` entries are compared by mode alone.
inline void ExpectSameTree(const DomainMapping& m, const std::string& src, const std::string& dst,
                           const std::vector<std::string>& skip = {},
                           const std::set<std::string>& mode_only = {}) {
  // The import record (importer/import_record.h) exists only on the target.
  std::vector<std::string> skip_all = skip;
  skip_all.push_back(".vmigrate-import");
  auto a = TreeDigest(src, skip_all);
  auto b = TreeDigest(dst, skip_all);
  ASSERT_FALSE(a.empty()) << src;
  for (const auto& [path, line] : a) {
    SCOPED_TRACE(dst + "/" + path);
    auto it = b.find(path);
    if (it == b.end()) {
      ADD_FAILURE() << "missing on the target: " << path;
      continue;
    }
    struct stat st;
    lstat((src + "/" + path).c_str(), &st);
    std::string mode = line.substr(0, line.find(' '));
    if (mode_only.count(path)) {
      EXPECT_EQ(it->second.substr(0, it->second.find(' ')), mode) << path;
      continue;
    }
    if (S_ISREG(st.st_mode)) {
      std::string text = ReadFile(src + "/" + path);
      if (text.find(kFixtureVpopmailHome) != std::string::npos) {
        EXPECT_EQ(ReadFile(dst + "/" + path), m.Rewrite(text)) << path;
        struct stat dt;
        lstat((dst + "/" + path).c_str(), &dt);
        EXPECT_EQ(dt.st_mode & 07777, st.st_mode & 07777) << path;
        EXPECT_EQ(dt.st_mtim.tv_sec, st.st_mtim.tv_sec) << path;
        EXPECT_EQ(dt.st_mtim.tv_nsec, st.st_mtim.tv_nsec) << path;
        continue;
      }
    }
    EXPECT_EQ(WithoutOwner(it->second), WithoutOwner(line)) << path;
  }
  for (const auto& [path, line] : b)
    if (!a.count(path)) ADD_FAILURE() << "extra on the target: " << path << " " << line;
}

/// The owner every imported file must have.
struct Owner {
  unsigned uid = 0;
  unsigned gid = 0;
  std::string str() const { return std::to_string(uid) + ":" + std::to_string(gid); }
};

/// Full check of one imported domain against its source (see the brief of
/// roundtrip_test.cc). `aliases` are the alias domains that came along.
inline void ExpectImportedLikeSource(const DomainMapping& m, const std::vector<std::string>& aliases,
                                     const Owner& owner) {
  SCOPED_TRACE("domain " + m.domain);
  const std::string src = m.src_disk();
  const std::string dst = m.dst_disk();
  ASSERT_TRUE(fs::is_directory(dst)) << dst;

  // vpasswd: every field verbatim except the dir.
  auto src_pw = vpopmail::ReadVpasswd(src + "/vpasswd");
  auto dst_pw = vpopmail::ReadVpasswd(dst + "/vpasswd");
  ASSERT_TRUE(src_pw.ok()) << src_pw.status().message();
  ASSERT_TRUE(dst_pw.ok()) << dst_pw.status().message();
  ASSERT_EQ(dst_pw->size(), src_pw->size());
  std::map<std::string, VpasswdEntry> by_name;
  for (const auto& e : *dst_pw) by_name[e.name] = e;
  ASSERT_EQ(by_name.size(), src_pw->size());
  for (const auto& s : *src_pw) {
    SCOPED_TRACE("user " + s.name);
    ASSERT_TRUE(by_name.count(s.name));
    VpasswdEntry expected = s;
    ASSERT_EQ(s.dir.rfind(m.src_host_dir() + "/", 0), 0u) << s.dir;
    std::string rel = s.dir.substr(m.src_host_dir().size() + 1);
    expected.dir = m.dst_host_dir() + "/" + rel;
    EXPECT_EQ(vpopmail::FormatVpasswdLine(by_name[s.name]), vpopmail::FormatVpasswdLine(expected));
    EXPECT_EQ(by_name[s.name].has_clear, s.has_clear);
  }

  // vpasswd.cdb: key = name, value = the rest of the line.
  auto cdb = vpopmail::ReadCdbRecords(dst + "/vpasswd.cdb");
  ASSERT_TRUE(cdb.ok()) << cdb.status().message();
  EXPECT_EQ(cdb->size(), dst_pw->size());
  for (const auto& e : *dst_pw) {
    std::string line = vpopmail::FormatVpasswdLine(e);
    auto it = cdb->find(e.name);
    ASSERT_NE(it, cdb->end()) << e.name << " missing from vpasswd.cdb";
    EXPECT_EQ(it->second, line.substr(line.find(':') + 1)) << e.name;
  }

  // The whole domain dir: homes, Maildirs, IMAP/POP state, .qmail* files,
  // .qmailadmin-limits. Regenerated files are checked below; bucket dirs
  // are made fresh by the hashing, so only their mode must match.
  std::set<std::string> buckets;
  for (const auto& s : *src_pw) {
    std::string rel = s.dir.substr(m.src_host_dir().size() + 1);
    if (rel.find('/') != std::string::npos) buckets.insert(rel.substr(0, rel.rfind('/')));
    EXPECT_EQ(StatLine(dst + "/" + rel), StatLine(src + "/" + rel)) << "home dir of " << s.name;
  }
  ExpectSameTree(m, src, dst, {"vpasswd", "vpasswd.cdb", ".vpasswd.lock", ".dir-control"}, buckets);
  EXPECT_EQ(StatLine(dst), StatLine(src)) << "domain dir mode/mtime";

  // .dir-control: what vpopmail wrote on the source.
  EXPECT_EQ(ReadFile(dst + "/.dir-control"), ReadFile(src + "/.dir-control"));

  // Every entry owned by the target owner.
  for (const auto& [path, line] : TreeDigest(dst))
    EXPECT_EQ(line.substr(line.rfind(' ') + 1), owner.str()) << path;
  struct stat st;
  ASSERT_EQ(stat(dst.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, owner.uid);
  EXPECT_EQ(st.st_gid, owner.gid);

  // qmail registration.
  const std::string qmail = TargetQmailDisk(m.dst_root);
  std::string assign = ReadFile(qmail + "/users/assign");
  auto assign_lines = Lines(assign);
  ASSERT_FALSE(assign_lines.empty());
  EXPECT_EQ(assign_lines.back(), ".") << assign;
  std::vector<std::string> names = {m.domain};
  names.insert(names.end(), aliases.begin(), aliases.end());
  std::string rcpt = ReadFile(qmail + "/control/rcpthosts");
  std::string more = ReadFile(qmail + "/control/morercpthosts");
  std::string virt = ReadFile(qmail + "/control/virtualdomains");
  auto users_cdb = vpopmail::ReadCdbRecords(qmail + "/users/cdb");
  ASSERT_TRUE(users_cdb.ok()) << users_cdb.status().message();
  for (const auto& n : names) {
    std::string line = "+" + n + "-:" + m.domain + ":" + owner.str() + ":" + m.dst_host_dir() + ":-::";
    EXPECT_TRUE(HasLine(assign, line)) << line << "\nnot in\n" << assign;
    EXPECT_TRUE(HasLine(rcpt, n) || HasLine(more, n)) << n << " in neither rcpthosts nor morercpthosts";
    EXPECT_TRUE(HasLine(virt, n + ":" + n)) << virt;
    auto it = users_cdb->find("!" + n + "-");
    ASSERT_NE(it, users_cdb->end()) << n << " not in users/cdb";
    EXPECT_EQ(it->second, m.domain + std::string(1, '\0') + std::to_string(owner.uid) +
                              std::string(1, '\0') + std::to_string(owner.gid) +
                              std::string(1, '\0') + m.dst_host_dir() + std::string(1, '\0') + "-" +
                              std::string(1, '\0'));
  }
  EXPECT_TRUE(StagingLeftovers(m.dst_root).empty());
}

/// The domains/.dir-control vpopmail leaves after `n` vadddomains on a fresh host.
inline std::string DomainsDirControlAfter(int n) {
  if (n == 1) return "1\n0\n3\n0 0 0\n61 61 61\n0 2 4\n0 0 0\n\n";
  return std::to_string(n) + "\n0\n3\n0 0 0\n61 61 61\n0 2 2\n0 0 0\n\n";
}

/// Messages (files in cur/ and new/ of every Maildir folder) and bytes (every
/// regular file) below the homes of a domain on disk.
struct MailCount {
  unsigned long messages = 0;
  unsigned long bytes = 0;
};
inline MailCount CountMail(const std::string& domain_disk, const std::vector<std::string>& home_rels) {
  MailCount c;
  for (const auto& rel : home_rels) {
    std::string home = domain_disk + "/" + rel;
    for (auto it = fs::recursive_directory_iterator(home); it != fs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file() || it->is_symlink()) continue;
      c.bytes += it->file_size();
      std::string parent = it->path().parent_path().filename().string();
      std::string relpath = fs::relative(it->path(), home).string();
      if ((parent == "cur" || parent == "new") && relpath.rfind("Maildir/", 0) == 0) ++c.messages;
    }
  }
  return c;
}

}  // namespace vmigrate::testing::cli

#endif  // VMIGRATE_TESTS_CLI_CLI_FIXTURE_H_
