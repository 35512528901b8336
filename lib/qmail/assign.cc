#include "qmail/assign.h"

#include <cdb.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/strings.h"
#include "qmail/control_file.h"

namespace vmigrate::qmail {
namespace {


// Parses assign text the way qmail-newu reads it. Returns the records in the
// order qmail-newu adds them (file order, then the wildchars record), or
// kCorrupt naming the offending line.
Result<std::vector<std::pair<std::string, std::string>>> ParseForCdb(std::string_view text) {
  if (text.find('\0') != std::string_view::npos)
    return Status::Corrupt("users/assign: contains a NUL byte");
  std::vector<std::pair<std::string, std::string>> records;
  std::string wildchars;
  size_t pos = 0;
  size_t line_no = 0;
  for (;;) {
    if (pos >= text.size())
      return Status::Corrupt("users/assign: bad format: no \".\" terminator line");
    ++line_no;
    size_t nl = text.find('\n', pos);
    bool has_newline = nl != std::string_view::npos;
    std::string_view line = text.substr(pos, has_newline ? nl - pos : std::string_view::npos);
    pos = has_newline ? nl + 1 : text.size();
    // The terminator ends the file even without a final newline.
    if (!line.empty() && line[0] == '.') break;
    std::string where = "users/assign line " + std::to_string(line_no);
    // qmail-newu reads whole records: a last line without '\n' is EOF
    // inside a record.
    if (!has_newline) return Status::Corrupt(where + ": bad format: no \".\" terminator line");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return Status::Corrupt(where + ": bad format: no ':' after the local part");
    // The six fields after the local part end at the 7th colon.
    size_t end = colon;
    for (int i = 0; i < 6; ++i) {
      end = line.find(':', end + 1);
      if (end == std::string_view::npos)
        return Status::Corrupt(where + ": bad format: fewer than 7 fields");
    }
    std::string value(line.substr(colon + 1, end - colon - 1));
    for (char& c : value)
      if (c == ':') c = '\0';
    std::string_view local = line.substr(1, colon - 1);
    if (line[0] == '+') {
      if (!local.empty() && wildchars.find(local.back()) == std::string::npos)
        wildchars.push_back(local.back());
      records.emplace_back("!" + ToLower(local), std::move(value));
    } else if (line[0] == '=') {
      std::string key = "!" + ToLower(local);
      key.push_back('\0');
      records.emplace_back(std::move(key), std::move(value));
    }
    // Other lines carry no assignment; qmail-newu passes over them.
  }
  records.emplace_back(std::string(), wildchars);
  return records;
}

}  // namespace

std::string FormatDomainAssignLine(const DomainAssign& entry) {
  return "+" + entry.domain + "-:" + entry.real_domain + ":" + std::to_string(entry.uid) + ":" +
         std::to_string(entry.gid) + ":" + entry.dir + ":-::";
}

std::vector<DomainAssign> ParseDomainAssigns(std::string_view assign_text) {
  std::vector<DomainAssign> out;
  for (const std::string& line : SplitLines(assign_text)) {
    if (!line.empty() && line[0] == '.') break;
    if (line.empty() || line[0] != '+') continue;
    std::vector<std::string> f = Split(line, ':');
    if (f.size() < 7) continue;
    const std::string& key = f[0];
    if (key.size() < 3 || key.back() != '-') continue;
    unsigned long long uid = 0;
    unsigned long long gid = 0;
    if (!ParseUint64(f[2], &uid) || !ParseUint64(f[3], &gid)) continue;
    DomainAssign entry;
    entry.domain = key.substr(1, key.size() - 2);
    entry.real_domain = f[1];
    entry.uid = static_cast<uid_t>(uid);
    entry.gid = static_cast<gid_t>(gid);
    entry.dir = f[4];
    out.push_back(std::move(entry));
  }
  return out;
}

Status WriteCdbFile(const std::vector<std::pair<std::string, std::string>>& records,
                    const std::string& cdb_path, const std::string& tmp_path) {
  const QmailFileAttrs attrs = QmailFileAttrsFor(cdb_path);
  int fd = open(tmp_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return FromErrno("cannot create " + tmp_path, errno);
  auto fail = [&](const std::string& what, int err) {
    close(fd);
    unlink(tmp_path.c_str());
    return FromErrno(what + " " + tmp_path, err);
  };
  struct cdb_make cdbm;
  if (cdb_make_start(&cdbm, fd) != 0) return fail("cannot start cdb", errno);
  for (const auto& [key, value] : records) {
    if (cdb_make_add(&cdbm, key.data(), static_cast<unsigned>(key.size()), value.data(),
                     static_cast<unsigned>(value.size())) != 0)
      return fail("cannot write", errno);
  }
  if (cdb_make_finish(&cdbm) != 0) return fail("cannot write", errno);
  if (fsync(fd) != 0) return fail("cannot fsync", errno);
  if (fchmod(fd, attrs.mode) != 0) return fail("cannot chmod", errno);
  if (attrs.owner && fchown(fd, attrs.owner->uid, attrs.owner->gid) != 0) return fail("cannot chown", errno);
  if (close(fd) != 0) {
    int err = errno;
    unlink(tmp_path.c_str());
    return FromErrno("cannot close " + tmp_path, err);
  }
  if (rename(tmp_path.c_str(), cdb_path.c_str()) != 0) {
    int err = errno;
    unlink(tmp_path.c_str());
    return FromErrno("cannot rename " + tmp_path + " to " + cdb_path, err);
  }
  return SyncDirectory(DirName(cdb_path));
}

Status WriteUsersCdb(std::string_view assign_text, const std::string& cdb_path) {
  Result<std::vector<std::pair<std::string, std::string>>> records = ParseForCdb(assign_text);
  if (!records.ok()) return records.status().WithContext(cdb_path);
  // qmail-newu's own temp name, so a crashed run of either tool leaves the
  // same stray file.
  return WriteCdbFile(*records, cdb_path, cdb_path + ".tmp");
}

}  // namespace vmigrate::qmail
