#include "archive/archive_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/errno_status.h"

namespace vmigrate {

Result<Compression> ParseCompression(const std::string& name) {
  if (name == "zstd") return Compression::kZstd;
  if (name == "gzip") return Compression::kGzip;
  if (name == "none") return Compression::kNone;
  return Status::InvalidInput("unknown compression '" + name + "' (use zstd, gzip or none)");
}

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::Open(const std::string& path,
                                                          Compression compression,
                                                          bool overwrite) {
  std::unique_ptr<ArchiveWriter> w(new ArchiveWriter());
  w->path_ = path == "-" ? "<stdout>" : path;
  int fd = 1;
  if (path != "-") {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_TRUNC | (overwrite ? 0 : O_EXCL);
    fd = open(path.c_str(), flags, 0600);
    if (fd < 0) {
      if (errno == EEXIST)
        return Status::Conflict(path + ": already exists (remove it or choose another -o)");
      return FromErrno("cannot create " + path, errno);
    }
    // Only a regular file we write is narrowed to 0600 (never /dev/null or a FIFO).
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) fchmod(fd, 0600);
  }
  w->a_ = archive_write_new();
  // Full pax: restricted pax would drop the nanoseconds of mtimes, which
  // IMAP servers use as INTERNALDATE and checksums.txt records.
  archive_write_set_format_pax(w->a_);
  int r = ARCHIVE_OK;
  switch (compression) {
    case Compression::kZstd:
      r = archive_write_add_filter_zstd(w->a_);
      if (r == ARCHIVE_OK) {
        archive_write_set_filter_option(w->a_, "zstd", "compression-level", "3");
        // Compress on a worker thread so reading files and compressing
        // overlap. One worker keeps up with the disk at level 3 (bench/run);
        // a second one cost 12 MB of memory and gained nothing measurable.
        archive_write_set_filter_option(w->a_, "zstd", "threads", "1");
      }
      break;
    case Compression::kGzip:
      r = archive_write_add_filter_gzip(w->a_);
      if (r == ARCHIVE_OK) archive_write_set_filter_option(w->a_, "gzip", "compression-level", "6");
      break;
    case Compression::kNone:
      break;
  }
  if (r != ARCHIVE_OK) {
    Status s = Status::Unsupported(std::string("compression not available: ") +
                                   archive_error_string(w->a_));
    if (fd != 1) close(fd);
    return s;
  }
  // Hand the output file 128 KiB per write(2) instead of 10 KiB tar
  // records: the last block is not padded (bytes_in_last_block 1), so the
  // bytes written are the same.
  archive_write_set_bytes_per_block(w->a_, 128 * 1024);
  archive_write_set_bytes_in_last_block(w->a_, 1);
  if (archive_write_open_fd(w->a_, fd) != ARCHIVE_OK) {
    Status s = w->Error("cannot open archive");
    if (fd != 1) close(fd);
    return s;
  }
  return w;
}

ArchiveWriter::~ArchiveWriter() {
  if (a_) archive_write_free(a_);  // also closes when Close() was never reached
}

Status ArchiveWriter::Error(const std::string& what) {
  failed_ = true;
  // libarchive keeps the errno of a failed write(2) next to its own text
  // ("Write error"): the errno says why (ENOSPC, EDQUOT, EFBIG, EIO).
  int err = archive_errno(a_);
  // Its own categories are not errnos: ARCHIVE_ERRNO_MISC is -1, and
  // ARCHIVE_ERRNO_FILE_FORMAT/_PROGRAMMER are EILSEQ/EINVAL on Linux
  // (archive_private.h, not installed).
  if (err > 0 && err != EILSEQ && err != EINVAL)
    return FromErrno(path_ + ": " + what, err);
  const char* msg = archive_error_string(a_);
  return Status::IoError(path_ + ": " + what + ": " + (msg ? msg : "unknown libarchive error"));
}

Status ArchiveWriter::Header(const EntryInfo& info, unsigned int type, const std::string* link) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, info.path.c_str());
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, info.mode & 07777);
  archive_entry_set_mtime(e, info.mtime_sec, info.mtime_nsec);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  if (type == AE_IFREG) archive_entry_set_size(e, info.size);
  else archive_entry_set_size(e, 0);
  if (link) archive_entry_set_symlink(e, link->c_str());
  int r = archive_write_header(a_, e);
  archive_entry_free(e);
  if (r < ARCHIVE_WARN) return Error("cannot write header of " + info.path);
  return Status::OK();
}

Status ArchiveWriter::AddBytes(const EntryInfo& info, const std::string& data) {
  EntryInfo i = info;
  i.size = static_cast<std::int64_t>(data.size());
  VM_RETURN_IF_ERROR(BeginFile(i));
  VM_RETURN_IF_ERROR(WriteData(data.data(), data.size()));
  return EndFile();
}

Status ArchiveWriter::BeginFile(const EntryInfo& info) {
  remaining_ = info.size;
  return Header(info, AE_IFREG, nullptr);
}

Status ArchiveWriter::WriteData(const void* data, size_t size) {
  if (static_cast<std::int64_t>(size) > remaining_)
    return Status::IoError(path_ + ": file grew while it was being archived");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    la_ssize_t n = archive_write_data(a_, p, size);
    if (n < 0) return Error("cannot write data");
    if (n == 0) return Error("write made no progress");
    p += n;
    size -= static_cast<size_t>(n);
    remaining_ -= n;
    bytes_in_ += static_cast<std::uint64_t>(n);
  }
  return Status::OK();
}

Status ArchiveWriter::EndFile() {
  if (remaining_ != 0) return Status::IoError(path_ + ": file shrank while it was being archived");
  if (archive_write_finish_entry(a_) < ARCHIVE_WARN) return Error("cannot finish entry");
  return Status::OK();
}

Status ArchiveWriter::AddDirectory(const EntryInfo& info) { return Header(info, AE_IFDIR, nullptr); }

Status ArchiveWriter::AddSymlink(const EntryInfo& info, const std::string& target) {
  return Header(info, AE_IFLNK, &target);
}

Status ArchiveWriter::Close() {
  if (closed_) return Status::OK();
  closed_ = true;
  if (archive_write_close(a_) != ARCHIVE_OK) return Error("cannot finish archive");
  return Status::OK();
}

}  // namespace vmigrate
