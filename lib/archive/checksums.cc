#include "archive/checksums.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "archive/archive_reader.h"
#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate {

bool FileRecord::operator==(const FileRecord& o) const {
  return type == o.type && mode == o.mode && mtime_sec == o.mtime_sec &&
         mtime_nsec == o.mtime_nsec && size == o.size && sha256 == o.sha256 &&
         rewritten == o.rewritten && path == o.path;
}

std::string FormatRecord(const FileRecord& r) {
  char head[128];
  std::snprintf(head, sizeof head, "%c %04o %lld.%09ld %lld ", r.type,
                static_cast<unsigned>(r.mode & 07777), static_cast<long long>(r.mtime_sec),
                r.mtime_nsec, static_cast<long long>(r.size));
  return std::string(head) + (r.sha256.empty() ? "-" : r.sha256) + (r.rewritten ? " r " : " - ") +
         EscapeC(r.path) + "\n";
}

Result<FileRecord> ParseRecord(std::string_view line) {
  auto bad = [&](const char* what) {
    return Status::Corrupt(std::string("checksums.txt: ") + what + " in line '" +
                           EscapeC(line.substr(0, 200)) + "'");
  };
  FileRecord r;
  // Six space-separated fields, then the path (which may hold spaces).
  std::string_view rest = line;
  std::string field[6];
  for (auto& f : field) {
    size_t sp = rest.find(' ');
    if (sp == std::string_view::npos) return bad("too few fields");
    f = std::string(rest.substr(0, sp));
    rest.remove_prefix(sp + 1);
  }
  if (field[0].size() != 1 || std::strchr("fdl", field[0][0]) == nullptr) return bad("bad type");
  r.type = field[0][0];
  if (field[1].size() != 4 || field[1].find_first_not_of("01234567") != std::string::npos)
    return bad("bad mode");
  r.mode = static_cast<mode_t>(std::stoul(field[1], nullptr, 8));
  // Seconds may be negative (a pre-1970 mtime); nanoseconds never are.
  bool negative = !field[2].empty() && field[2][0] == '-';
  std::string mtime = negative ? field[2].substr(1) : field[2];
  size_t dot = mtime.find('.');
  unsigned long long sec = 0, nsec = 0, size = 0;
  if (dot == std::string::npos || !ParseUint64(mtime.substr(0, dot), &sec) ||
      !ParseUint64(mtime.substr(dot + 1), &nsec) || nsec > 999999999 || sec > (1ull << 62))
    return bad("bad mtime");
  r.mtime_sec = negative ? -static_cast<std::int64_t>(sec) : static_cast<std::int64_t>(sec);
  r.mtime_nsec = static_cast<long>(nsec);
  if (!ParseUint64(field[3], &size) || size > (1ull << 62)) return bad("bad size");
  r.size = static_cast<std::int64_t>(size);
  r.sha256 = field[4];
  if (r.sha256 != "-" && (r.sha256.size() != 64 ||
                          r.sha256.find_first_not_of("0123456789abcdef") != std::string::npos))
    return bad("bad sha256");
  if (r.sha256 == "-") r.sha256.clear();
  if (field[5] != "r" && field[5] != "-") return bad("bad flags");
  r.rewritten = field[5] == "r";
  if (!UnescapeC(rest, &r.path) || r.path.empty()) return bad("bad path");
  return r;
}

RecordSpool::RecordSpool() = default;

RecordSpool::~RecordSpool() {
  if (file_) std::fclose(file_);
  std::free(line_buf_);
}

Status RecordSpool::Init() {
  file_ = std::tmpfile();
  if (!file_) return FromErrno("cannot create a temporary file", errno);
  return Status::OK();
}

Status RecordSpool::Add(const FileRecord& record) {
  std::string line = FormatRecord(record);
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size())
    return FromErrno("cannot write temporary file", errno);
  bytes_ += line.size();
  ++count_;
  return Status::OK();
}

Status RecordSpool::Rewind() {
  if (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0)
    return FromErrno("cannot rewind temporary file", errno);
  return Status::OK();
}

bool RecordSpool::ReadLine(std::string* line) {
  // getline(3) reads a whole line per call; a getc() per byte took the
  // stdio lock for every character (~15k instructions per record).
  ssize_t n = getline(&line_buf_, &line_cap_, file_);
  if (n <= 0) {
    line->clear();
    return false;
  }
  line->assign(line_buf_, static_cast<size_t>(n));
  return true;
}

Status CompareWithIndex(ArchiveReader* reader, RecordSpool* ours) {
  std::vector<char> buffer(64 * 1024);
  size_t pos = 0, len = 0;
  // One line of checksums.txt from the stream; *eof once nothing is left.
  auto next_line = [&](std::string* line, bool* eof) -> Status {
    line->clear();
    for (;;) {
      if (pos == len) {
        auto n = reader->Read(buffer.data(), buffer.size());
        if (!n.ok()) return n.status();
        if (*n == 0) {
          *eof = line->empty();
          return Status::OK();
        }
        pos = 0;
        len = *n;
      }
      // Up to the next newline (or the end of what is buffered) at once.
      const char* start = buffer.data() + pos;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', len - pos));
      size_t take = nl ? static_cast<size_t>(nl - start) : len - pos;
      line->append(start, take);
      pos += take + (nl ? 1 : 0);
      if (line->size() > 16384) return Status::Corrupt("checksums.txt: line too long");
      if (nl) return Status::OK();
    }
  };
  std::string line, mine_line;
  bool eof = false;
  VM_RETURN_IF_ERROR(next_line(&line, &eof));
  if (eof || line != kChecksumsHeader)
    return Status::Corrupt("checksums.txt: unknown header '" + EscapeC(line.substr(0, 80)) + "'");
  VM_RETURN_IF_ERROR(ours->Rewind());
  for (;;) {
    VM_RETURN_IF_ERROR(next_line(&line, &eof));
    bool have_mine = ours->ReadLine(&mine_line);
    if (eof && !have_mine) return Status::OK();
    if (eof) {
      auto r = ParseRecord(mine_line.substr(0, mine_line.size() - 1));
      return Status::Corrupt("archive entry '" + (r.ok() ? EscapeC(r->path) : std::string("?")) +
                             "' is not listed in checksums.txt");
    }
    // The same text parses the same way: one ParseRecord (which still
    // rejects a malformed line) instead of two, and no record comparison.
    if (have_mine && mine_line.size() == line.size() + 1 &&
        mine_line.compare(0, line.size(), line) == 0) {
      auto same = ParseRecord(line);
      if (!same.ok()) return same.status();
      continue;
    }
    auto theirs = ParseRecord(line);
    if (!theirs.ok()) return theirs.status();
    if (!have_mine)
      return Status::Corrupt("archive entry '" + EscapeC(theirs->path) +
                             "' is listed in checksums.txt but missing from the stream");
    auto mine = ParseRecord(mine_line.substr(0, mine_line.size() - 1));
    if (!mine.ok()) return mine.status();
    if (!(*mine == *theirs)) {
      std::string what =
          mine->path != theirs->path
              ? "is not the entry checksums.txt lists next ('" + EscapeC(theirs->path) + "')"
          : mine->sha256 != theirs->sha256 ? "checksum mismatch"
          : mine->size != theirs->size     ? "size mismatch"
                                           : "mode, mtime or type differs from checksums.txt";
      return Status::Corrupt("archive entry '" + EscapeC(mine->path) + "': " + what);
    }
  }
}

Status HashEntryData(ArchiveReader* reader, const EntryHeader& h, char* buf, size_t buf_size,
                     FileRecord* rec) {
  std::int64_t total = 0;
  for (;;) {
    auto n = reader->Read(buf, buf_size);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    total += static_cast<std::int64_t>(*n);
  }
  if (total != h.size)
    return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': " + std::to_string(total) +
                           " bytes where the header says " + std::to_string(h.size));
  rec->size = total;
  rec->sha256 = reader->EntrySha256();
  return Status::OK();
}

}  // namespace vmigrate
