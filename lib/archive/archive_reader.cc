#include "archive/archive_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/errno_status.h"

namespace vmigrate {

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(const std::string& path) {
  std::unique_ptr<ArchiveReader> r(new ArchiveReader());
  r->path_ = path == "-" ? "<stdin>" : path;
  r->a_ = archive_read_new();
  archive_read_support_filter_zstd(r->a_);
  archive_read_support_filter_gzip(r->a_);
  archive_read_support_filter_none(r->a_);
  archive_read_support_format_tar(r->a_);
  int rc;
  if (path == "-") {
    rc = archive_read_open_fd(r->a_, 0, 1 << 16);
  } else {
    if (access(path.c_str(), R_OK) != 0) return FromErrno("cannot read " + path, errno);
    rc = archive_read_open_filename(r->a_, path.c_str(), 1 << 16);
  }
  if (rc != ARCHIVE_OK) {
    if (archive_filter_bytes(r->a_, -1) == 0)
      return Status::Corrupt(r->path_ + ": empty input (no bytes): not a vmigrate archive");
    return r->Error("not a vmigrate archive");
  }
  return r;
}

ArchiveReader::~ArchiveReader() {
  if (a_) archive_read_free(a_);
}

Status ArchiveReader::Error(const std::string& what) {
  const char* msg = archive_error_string(a_);
  std::string where = entry_.empty() ? path_ : path_ + ": entry '" + entry_ + "'";
  return Status::Corrupt(where + ": " + what + (msg ? std::string(": ") + msg : ""));
}

Result<bool> ArchiveReader::Next(EntryHeader* h) {
  struct archive_entry* e = nullptr;
  int rc = archive_read_next_header(a_, &e);
  if (rc == ARCHIVE_EOF) return false;
  // ARCHIVE_RETRY (a damaged header) is an error here too: there is no
  // sensible way to resynchronise a tar stream we do not trust.
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
    return Error(entry_.empty() ? "cannot read archive (not a vmigrate archive, or damaged)"
                                : "truncated or corrupt after this entry");
  const char* name = archive_entry_pathname(e);
  h->path = name ? name : "";
  entry_ = h->path;
  h->mode = archive_entry_perm(e);
  h->mtime_sec = archive_entry_mtime(e);
  h->mtime_nsec = archive_entry_mtime_nsec(e);
  h->size = archive_entry_size(e);
  h->link_target.clear();
  const char* hard = archive_entry_hardlink(e);
  if (hard) {
    h->type = EntryType::kHardlink;
    h->link_target = hard;
    return true;
  }
  switch (archive_entry_filetype(e)) {
    case AE_IFREG: h->type = EntryType::kFile; break;
    case AE_IFDIR:
      h->type = EntryType::kDirectory;
      // tar writes directory names with one trailing '/'.
      if (h->path.size() > 1 && h->path.back() == '/') h->path.pop_back();
      break;
    case AE_IFLNK:
      h->type = EntryType::kSymlink;
      h->link_target = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
      break;
    default: h->type = EntryType::kOther; break;
  }
  return true;
}

Result<size_t> ArchiveReader::Read(void* buf, size_t size) {
  la_ssize_t n = archive_read_data(a_, buf, size);
  if (n < 0) return Error("truncated or corrupt data");
  return static_cast<size_t>(n);
}

Result<std::string> ArchiveReader::ReadAll(size_t max_bytes) {
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = Read(buf, sizeof buf);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    out.append(buf, *n);
    if (out.size() > max_bytes)
      return Status::Corrupt(path_ + ": entry '" + entry_ + "' is larger than " +
                             std::to_string(max_bytes) + " bytes");
  }
  return out;
}

}  // namespace vmigrate
