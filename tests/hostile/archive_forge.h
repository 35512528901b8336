// Forging vmigrate archives for the hostile-archive corpus: read the
// members of a real export, change exactly one thing, recompute
// checksums.txt so that only the intended fault is present, and write the
// result back as a pax tar stream (optionally compressed). Header-only, so
// tests/CMakeLists.txt (which globs *_test.cc and support/*.cc) needs no
// change. Entries libarchive's writer cannot produce (a header claiming a
// terabyte, an unknown type flag) are written as raw ustar headers.
#ifndef VMIGRATE_TESTS_HOSTILE_ARCHIVE_FORGE_H_
#define VMIGRATE_TESTS_HOSTILE_ARCHIVE_FORGE_H_

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "core/strings.h"

namespace vmigrate::testing::hostile {

/// One archive member as the forge sees it.
struct Member {
  std::string path;         // as in the tar header; directories without the trailing '/'
  char type = 'f';          // 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'c' char device,
                            // 'b' block device, 'p' FIFO, 'o' raw header with type flag `raw_flag`
  mode_t mode = 0600;       // permission bits
  std::int64_t mtime_sec = 1795424447;
  long mtime_nsec = 0;
  std::string data;         // file bytes
  std::string link;         // symlink or hard-link target
  bool rewritten = false;   // the 'r' flag of its checksums.txt line
  bool listed = true;       // RecomputeChecksums lists it
  char raw_flag = 'M';      // type 'o' only
  std::int64_t claimed_size = -1;  // type 'o': size written in the header (default data.size())
  bool forged = false;      // added by a test (not from the real export)
};
using Members = std::vector<Member>;

enum class Forged { kNone, kGzip, kZstd };

constexpr const char* kForgedChecksumsHeader = "# vmigrate checksums 1";

inline std::runtime_error ForgeError(struct archive* a, const std::string& what) {
  const char* msg = a ? archive_error_string(a) : nullptr;
  return std::runtime_error("forge: " + what + (msg ? std::string(": ") + msg : ""));
}

/// Every member of an archive, in stream order (checksums.txt included).
/// The 'r' flags are taken from the archive's own checksums.txt.
inline Members ReadMembers(const std::string& file) {
  Members out;
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, file.c_str(), 1 << 16) != ARCHIVE_OK)
    throw ForgeError(a, "cannot open " + file);
  struct archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    Member m;
    m.path = archive_entry_pathname(e);
    m.mode = archive_entry_perm(e);
    m.mtime_sec = archive_entry_mtime(e);
    m.mtime_nsec = archive_entry_mtime_nsec(e);
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR: m.type = 'd'; break;
      case AE_IFLNK: m.type = 'l'; m.link = archive_entry_symlink(e) ? archive_entry_symlink(e) : ""; break;
      case AE_IFREG: m.type = 'f'; break;
      default: throw std::runtime_error("forge: unexpected member type in " + file);
    }
    if (m.type == 'd' && m.path.size() > 1 && m.path.back() == '/') m.path.pop_back();
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) m.data.append(buf, static_cast<size_t>(n));
    if (n < 0) throw ForgeError(a, "cannot read " + m.path);
    out.push_back(std::move(m));
  }
  if (rc != ARCHIVE_EOF) throw ForgeError(a, "cannot read " + file);
  archive_read_free(a);
  if (out.empty() || out.back().path != "checksums.txt")
    throw std::runtime_error("forge: " + file + " does not end with checksums.txt");
  std::map<std::string, bool> flags;
  for (const auto& line : Split(out.back().data, '\n')) {
    // "<t> <mode> <mtime> <size> <sha> <flags> <path>"
    size_t pos = 0;
    for (int i = 0; i < 5 && pos != std::string::npos; ++i) pos = line.find(' ', pos + (i ? 1 : 0));
    if (pos == std::string::npos || line[0] == '#') continue;
    std::string path;
    if (line.size() > pos + 3 && UnescapeC(line.substr(pos + 3), &path)) flags[path] = line[pos + 1] == 'r';
  }
  for (auto& m : out) m.rewritten = flags.count(m.path) ? flags[m.path] : false;
  return out;
}

/// The checksums.txt line the exporter would write for `m`.
inline std::string ChecksumsLine(const Member& m) {
  char t = m.type == 'd' ? 'd' : m.type == 'l' ? 'l' : 'f';
  std::string payload = m.type == 'l' || m.type == 'h' ? m.link : m.data;
  std::int64_t size = t == 'd' ? 0 : static_cast<std::int64_t>(m.type == 'h' ? 0 : payload.size());
  std::string sha = t == 'd' ? "-" : Sha256::Of(m.type == 'h' ? std::string() : payload);
  char head[128];
  std::snprintf(head, sizeof head, "%c %04o %lld.%09ld %lld ", t, static_cast<unsigned>(m.mode & 07777),
                static_cast<long long>(m.mtime_sec), m.mtime_nsec, static_cast<long long>(size));
  return std::string(head) + sha + (m.rewritten ? " r " : " - ") + EscapeC(m.path) + "\n";
}

/// checksums.txt for `members` (every member with `listed`, in order).
inline std::string RecomputeChecksums(const Members& members) {
  std::string out = std::string(kForgedChecksumsHeader) + "\n";
  for (const auto& m : members)
    if (m.listed && m.path != "checksums.txt") out += ChecksumsLine(m);
  return out;
}

/// `members` without any checksums.txt, plus a freshly computed one last.
inline Members WithChecksums(Members members) {
  Members out;
  for (auto& m : members)
    if (m.path != "checksums.txt") out.push_back(std::move(m));
  Member c;
  c.path = "checksums.txt";
  c.mode = 0600;
  c.data = RecomputeChecksums(out);
  out.push_back(std::move(c));
  return out;
}

inline Member* Find(Members& members, const std::string& path) {
  for (auto& m : members)
    if (m.path == path) return &m;
  return nullptr;
}

inline size_t IndexOf(const Members& members, const std::string& path) {
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].path == path) return i;
  throw std::runtime_error("forge: no member " + path);
}

inline void InsertAfter(Members& members, const std::string& path, const std::vector<Member>& add) {
  size_t at = IndexOf(members, path) + 1;
  members.insert(members.begin() + static_cast<std::ptrdiff_t>(at), add.begin(), add.end());
}

/// Appends before checksums.txt (if present).
inline void Append(Members& members, const Member& m) {
  if (!members.empty() && members.back().path == "checksums.txt")
    members.insert(members.end() - 1, m);
  else
    members.push_back(m);
}

inline Member File(const std::string& path, const std::string& data, mode_t mode = 0600) {
  Member m;
  m.path = path;
  m.data = data;
  m.mode = mode;
  return m;
}
inline Member Dir(const std::string& path) {
  Member m;
  m.path = path;
  m.type = 'd';
  m.mode = 0700;
  return m;
}
inline Member Symlink(const std::string& path, const std::string& target) {
  Member m;
  m.path = path;
  m.type = 'l';
  m.mode = 0777;
  m.link = target;
  return m;
}
inline Member Special(const std::string& path, char type, const std::string& link = "") {
  Member m;
  m.path = path;
  m.type = type;
  m.link = link;
  return m;
}

inline std::string Replace(std::string s, const std::string& from, const std::string& to,
                           bool must_match = true) {
  size_t pos = 0;
  bool found = false;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
    found = true;
  }
  if (must_match && !found) throw std::runtime_error("forge: '" + from + "' not found");
  return s;
}

/// A YAML double-quoted scalar holding exactly `s` (NUL as \0, newline as \n).
inline std::string YamlQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == 0) {
      out += "\\0";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

inline std::string& ManifestText(Members& members) {
  if (members.empty() || members[0].path != "manifest.yaml")
    throw std::runtime_error("forge: first member is not manifest.yaml");
  return members[0].data;
}

/// Renames every member path under domains/<from>/ (paths cannot hold NUL).
inline void RenamePathPrefix(Members& members, const std::string& from, const std::string& to) {
  for (auto& m : members)
    if (m.path == from || m.path.rfind(from + "/", 0) == 0) m.path = to + m.path.substr(from.size());
}

// ---- writing ----------------------------------------------------------

namespace detail {

inline la_ssize_t AppendCallback(struct archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

inline void Octal(char* field, size_t width, std::uint64_t value) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + (value & 7)));
    value >>= 3;
  } while (value);
  if (digits.size() > width - 1) throw std::runtime_error("forge: octal field overflow");
  digits.insert(digits.begin(), width - 1 - digits.size(), '0');
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = '\0';
}

}  // namespace detail

/// One raw 512-byte ustar header. Sizes that do not fit 11 octal digits are
/// written in base-256 (GNU/star), as tar does for members over 8 GiB.
inline std::string RawUstarHeader(const std::string& name, char type_flag, mode_t mode,
                                  std::uint64_t size, std::int64_t mtime) {
  if (name.size() > 100) throw std::runtime_error("forge: raw name too long");
  char h[512];
  std::memset(h, 0, sizeof h);
  std::memcpy(h, name.data(), name.size());
  detail::Octal(h + 100, 8, mode & 07777);
  detail::Octal(h + 108, 8, 0);
  detail::Octal(h + 116, 8, 0);
  if (size < (1ull << 33)) {
    detail::Octal(h + 124, 12, size);
  } else {
    h[124] = static_cast<char>(0x80);
    for (int i = 11; i >= 1; --i, size >>= 8) h[124 + i] = static_cast<char>(size & 0xff);
  }
  detail::Octal(h + 136, 12, static_cast<std::uint64_t>(mtime));
  h[156] = type_flag;
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  detail::Octal(h + 148, 7, sum);
  h[155] = ' ';
  return std::string(h, sizeof h);
}

inline std::string Pad512(std::string data) {
  data.append((512 - data.size() % 512) % 512, '\0');
  return data;
}

/// The tar bytes of one member, without the end-of-archive blocks.
inline std::string TarBytes(const Member& m) {
  if (m.type == 'o') {
    std::uint64_t size = m.claimed_size >= 0 ? static_cast<std::uint64_t>(m.claimed_size) : m.data.size();
    return RawUstarHeader(m.path, m.raw_flag, m.mode, size, m.mtime_sec) + Pad512(m.data);
  }
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_add_filter_none(a);
  archive_write_set_bytes_per_block(a, 0);
  if (archive_write_open(a, &out, nullptr, detail::AppendCallback, nullptr) != ARCHIVE_OK)
    throw ForgeError(a, "open");
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, m.path.c_str());
  archive_entry_set_perm(e, m.mode & 07777);
  archive_entry_set_mtime(e, m.mtime_sec, m.mtime_nsec);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  archive_entry_set_size(e, 0);
  switch (m.type) {
    case 'f':
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
      break;
    case 'd': archive_entry_set_filetype(e, AE_IFDIR); break;
    case 'l':
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, m.link.c_str());
      break;
    case 'h':
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, m.link.c_str());
      break;
    case 'c':
      archive_entry_set_filetype(e, AE_IFCHR);
      archive_entry_set_rdev(e, makedev(1, 3));
      break;
    case 'b':
      archive_entry_set_filetype(e, AE_IFBLK);
      archive_entry_set_rdev(e, makedev(8, 0));
      break;
    case 'p': archive_entry_set_filetype(e, AE_IFIFO); break;
    default: throw std::runtime_error(std::string("forge: unknown member type ") + m.type);
  }
  if (archive_write_header(a, e) != ARCHIVE_OK) throw ForgeError(a, "header of " + m.path);
  archive_entry_free(e);
  if (m.type == 'f' && !m.data.empty() &&
      archive_write_data(a, m.data.data(), m.data.size()) != static_cast<la_ssize_t>(m.data.size()))
    throw ForgeError(a, "data of " + m.path);
  if (archive_write_close(a) != ARCHIVE_OK) throw ForgeError(a, "close");
  archive_write_free(a);
  // Without blocking, the pax writer ends the stream with exactly two zero blocks.
  if (out.size() < 1024 || out.find_first_not_of('\0', out.size() - 1024) != std::string::npos)
    throw std::runtime_error("forge: unexpected end of archive for " + m.path);
  out.resize(out.size() - 1024);
  return out;
}

/// The whole uncompressed tar stream; `end_blocks` = write the two zero blocks.
inline std::string TarStream(const Members& members, bool end_blocks = true) {
  std::string out;
  for (const auto& m : members) out += TarBytes(m);
  if (end_blocks) out.append(1024, '\0');
  return out;
}

/// Compresses `bytes` as a whole (gzip or zstd), as the exporter does.
inline std::string Compress(const std::string& bytes, Forged how) {
  if (how == Forged::kNone) return bytes;
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  if ((how == Forged::kGzip ? archive_write_add_filter_gzip(a) : archive_write_add_filter_zstd(a)) != ARCHIVE_OK)
    throw ForgeError(a, "filter");
  archive_write_set_bytes_per_block(a, 0);
  if (archive_write_open(a, &out, nullptr, detail::AppendCallback, nullptr) != ARCHIVE_OK)
    throw ForgeError(a, "open");
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "data");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
  if (archive_write_header(a, e) != ARCHIVE_OK) throw ForgeError(a, "raw header");
  archive_entry_free(e);
  if (archive_write_data(a, bytes.data(), bytes.size()) != static_cast<la_ssize_t>(bytes.size()))
    throw ForgeError(a, "raw data");
  if (archive_write_close(a) != ARCHIVE_OK) throw ForgeError(a, "close");
  archive_write_free(a);
  return out;
}

/// Writes `members` exactly as given (call WithChecksums first for a
/// consistent index) to `file`.
inline void WriteArchive(const std::string& file, const Members& members, Forged how = Forged::kNone) {
  std::string bytes = Compress(TarStream(members), how);
  FILE* f = std::fopen(file.c_str(), "wb");
  if (!f) throw std::runtime_error("forge: cannot create " + file);
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) throw std::runtime_error("forge: cannot write " + file);
}

}  // namespace vmigrate::testing::hostile

#endif  // VMIGRATE_TESTS_HOSTILE_ARCHIVE_FORGE_H_
