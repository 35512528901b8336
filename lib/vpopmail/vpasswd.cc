#include "vpopmail/vpasswd.h"

#include <cdb.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <string_view>

#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate::vpopmail {
namespace {

constexpr mode_t kVpasswdMode = 0600;
constexpr char kFieldError[] = "expected 7 or 8 ':'-separated fields";

// A line that would not read back as the same entry would corrupt the file
// for every user after it, so the writer refuses it up front. The message
// names the user but never the password fields.
Status CheckWritable(const VpasswdEntry& entry) {
  VpasswdEntry expected = entry;
  if (!expected.has_clear) expected.clear.clear();  // not written, so not compared
  Result<VpasswdEntry> back = ParseVpasswdLine(FormatVpasswdLine(entry));
  bool has_break = false;
  for (const std::string* f : {&entry.name, &entry.passwd, &entry.uid, &entry.gid, &entry.gecos,
                               &entry.dir, &entry.quota, &entry.clear}) {
    if (f->find_first_of(std::string("\n\0", 2)) != std::string::npos) has_break = true;
  }
  if (entry.name.empty() || has_break || !back.ok() || !(*back == expected)) {
    return Status::InvalidInput("user '" + EscapeC(entry.name) +
                                "': fields cannot be stored in vpasswd (':' or newline)");
  }
  return Status::OK();
}

Status BuildCdb(const std::string& path, const std::vector<VpasswdEntry>& entries,
                std::optional<FileOwner> owner) {
  AtomicFile out(path, kVpasswdMode, owner);
  VM_RETURN_IF_ERROR(out.Open());
  struct cdb_make maker;
  if (cdb_make_start(&maker, out.fd()) != 0) return FromErrno("cannot start " + path, errno);
  for (const VpasswdEntry& e : entries) {
    // The value is the line minus "name:", exactly as make_vpasswd_cdb stores it.
    std::string line = FormatVpasswdLine(e);
    std::string value = line.substr(e.name.size() + 1);
    if (cdb_make_add(&maker, e.name.data(), static_cast<unsigned>(e.name.size()), value.data(),
                     static_cast<unsigned>(value.size())) != 0) {
      int err = errno;
      cdb_make_finish(&maker);  // frees the maker's memory; the temp file is dropped
      return FromErrno("cannot write " + out.temp_path(), err);
    }
  }
  if (cdb_make_finish(&maker) != 0) return FromErrno("cannot write " + out.temp_path(), errno);
  return out.Commit();
}

}  // namespace

Result<VpasswdEntry> ParseVpasswdLine(std::string_view line) {
  VpasswdEntry e;
  std::string* fixed[] = {&e.name, &e.passwd, &e.uid, &e.gid, &e.gecos, &e.dir};
  size_t pos = 0;
  for (std::string* field : fixed) {
    size_t colon = line.find(':', pos);
    if (colon == std::string_view::npos) return Status::Corrupt(kFieldError);
    field->assign(line.substr(pos, colon - pos));
    pos = colon + 1;
  }
  // The quota ends at ':' or at the end; the cleartext copy takes the rest,
  // colons included.
  size_t colon = line.find(':', pos);
  if (colon == std::string_view::npos) {
    e.quota.assign(line.substr(pos));
  } else {
    e.quota.assign(line.substr(pos, colon - pos));
    e.clear.assign(line.substr(colon + 1));
    e.has_clear = true;
  }
  return e;
}

std::string FormatVpasswdLine(const VpasswdEntry& entry) {
  std::string line = entry.name + ':' + entry.passwd + ':' + entry.uid + ':' + entry.gid + ':' +
                     entry.gecos + ':' + entry.dir + ':' + entry.quota;
  if (entry.has_clear) line += ':' + entry.clear;
  return line;
}

Result<std::vector<VpasswdEntry>> ReadVpasswd(const std::string& path) {
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  std::vector<VpasswdEntry> entries;
  std::vector<std::string> lines = SplitLines(*text);
  for (size_t i = 0; i < lines.size(); ++i) {
    // A blank line is corrupt too: vpopmail's cdb builder cannot handle one.
    Result<VpasswdEntry> entry = ParseVpasswdLine(lines[i]);
    if (!entry.ok()) return entry.status().WithContext(path + " line " + std::to_string(i + 1));
    entries.push_back(std::move(*entry));
  }
  return entries;
}

Status WriteVpasswdFiles(const std::string& domain_dir, std::vector<VpasswdEntry> entries,
                         std::optional<FileOwner> owner) {
  // vauth_adduser inserts each new user before the first greater name
  // (strcmp), so a file vpopmail built is in byte order of name.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const VpasswdEntry& a, const VpasswdEntry& b) { return a.name < b.name; });
  return RewriteVpasswdFiles(domain_dir, entries, owner);
}

Status RewriteVpasswdFiles(const std::string& domain_dir, const std::vector<VpasswdEntry>& entries,
                           std::optional<FileOwner> owner) {
  std::string text;
  std::set<std::string_view> seen;
  for (const VpasswdEntry& e : entries) {
    VM_RETURN_IF_ERROR(CheckWritable(e));
    if (!seen.insert(e.name).second)
      return Status::InvalidInput("user '" + EscapeC(e.name) + "' appears twice in vpasswd");
    text += FormatVpasswdLine(e);
    text += '\n';
  }
  // vpasswd first: it is the source of truth, and the cdb is rebuilt from it.
  VM_RETURN_IF_ERROR(WriteFileAtomic(domain_dir + "/vpasswd", text, kVpasswdMode, owner));
  return BuildCdb(domain_dir + "/vpasswd.cdb", entries, owner);
}

Result<std::map<std::string, std::string>> ReadCdbRecords(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FromErrno("cannot open " + path, errno);
  struct cdb db;
  if (cdb_init(&db, fd) != 0) {
    close(fd);
    return Status::Corrupt(path + ": not a cdb file");
  }
  std::map<std::string, std::string> records;
  unsigned cursor;
  cdb_seqinit(&cursor, &db);
  int rc;
  while ((rc = cdb_seqnext(&cursor, &db)) > 0) {
    const char* key = static_cast<const char*>(cdb_getkey(&db));
    const char* data = static_cast<const char*>(cdb_getdata(&db));
    if (key == nullptr || data == nullptr) {
      rc = -1;
      break;
    }
    // With duplicate keys a lookup finds the first record; keep that one.
    records.emplace(std::string(key, cdb_keylen(&db)), std::string(data, cdb_datalen(&db)));
  }
  cdb_free(&db);
  close(fd);
  if (rc < 0) return Status::Corrupt(path + ": damaged cdb file");
  return records;
}

}  // namespace vmigrate::vpopmail
