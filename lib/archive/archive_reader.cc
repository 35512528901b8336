#include "archive/archive_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "core/errno_status.h"
#include "core/sha256.h"
#include "core/strings.h"

namespace vmigrate {

namespace {
constexpr size_t kReadBlock = 64 * 1024;  // libarchive reads and our data pieces
}  // namespace

// Reading ahead on a second thread: decompression, tar parsing and hashing
// run there, so they overlap with what the caller does with the data (on
// import: creating files). The thread makes the same libarchive calls as the
// single-threaded reader (DirectNext/DirectRead) and hands the results over
// in pieces through a bounded queue, so the caller sees the same headers,
// bytes, digests and error messages in the same order. Pieces travel in
// batches: one lock and wake-up per batch, not per small file.
struct ArchiveReader::Pipeline {
  static constexpr size_t kPieceBytes = 256 * 1024;  // data per piece
  static constexpr size_t kBatchBytes = 256 * 1024;  // a batch is full at this much data
  static constexpr size_t kBatchPieces = 256;        // ... or at this many pieces
  static constexpr size_t kMaxBatches = 8;           // the memory bound: about 8 * 512 KiB

  struct Piece {
    bool has_header = false;  // starts an entry
    EntryHeader header;
    std::string data;         // the next bytes of the current entry
    bool end = false;         // the entry's data is complete and `digest` set
    std::string digest;
    bool eof = false;         // no more entries
    Status error;             // the stream failed here
  };
  using Batch = std::vector<Piece>;

  ArchiveReader* reader = nullptr;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Batch> queue;  // guarded by mu
  bool stop = false;        // guarded by mu: the consumer is gone

  // Producer side only.
  Batch filling;
  size_t filling_bytes = 0;
  std::vector<char> block = std::vector<char>(kReadBlock);

  // Consumer side only.
  Batch taken;
  size_t next_piece = 0;  // in taken
  Piece current;
  size_t offset = 0;      // into current.data
  bool finished = false;  // current is the eof or error piece

  Pipeline() { current.end = true; }

  ~Pipeline() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (thread.joinable()) thread.join();
  }

  // Producer side. False when the consumer is gone.
  bool Flush() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return stop || queue.size() < kMaxBatches; });
    if (stop) return false;
    bool was_empty = queue.empty();
    queue.push_back(std::move(filling));
    if (was_empty) cv.notify_all();
    filling = Batch();
    filling.reserve(kBatchPieces);
    filling_bytes = 0;
    return true;
  }

  bool Add(Piece&& p, bool last) {
    filling_bytes += p.data.size();
    filling.push_back(std::move(p));
    if (last || filling_bytes >= kBatchBytes || filling.size() >= kBatchPieces) return Flush();
    return true;
  }

  void Run() {
    filling.reserve(kBatchPieces);
    for (;;) {
      Piece p;
      auto more = reader->DirectNext(&p.header);
      if (!more.ok() || !*more) {
        if (more.ok()) p.eof = true;
        else p.error = more.status();
        Add(std::move(p), true);
        return;
      }
      p.has_header = true;
      for (;;) {
        auto n = reader->DirectRead(block.data(), block.size());
        if (!n.ok()) {
          if (!Add(std::move(p), false)) return;
          Piece failed;
          failed.error = n.status();
          Add(std::move(failed), true);
          return;
        }
        if (*n == 0) {
          p.end = true;
          p.digest = reader->digest_;
          break;
        }
        p.data.append(block.data(), *n);
        if (p.data.size() >= kPieceBytes) {
          if (!Add(std::move(p), false)) return;
          p = Piece();
        }
      }
      if (!Add(std::move(p), false)) return;
    }
  }

  // Consumer side.
  void Pop() {
    if (next_piece == taken.size()) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !queue.empty(); });
      bool was_full = queue.size() == kMaxBatches;
      taken = std::move(queue.front());
      queue.pop_front();
      if (was_full) cv.notify_all();
      next_piece = 0;
    }
    current = std::move(taken[next_piece++]);
    offset = 0;
    finished = current.eof || !current.error.ok();
  }

  Result<bool> Finished() const {
    if (current.eof) return false;
    return current.error;
  }

  Result<bool> Next(EntryHeader* h) {
    if (finished) return Finished();
    while (!current.end) {  // the rest of an entry the caller did not read
      Pop();
      if (finished) return Finished();
    }
    Pop();
    if (finished) return Finished();
    *h = current.header;
    return true;
  }

  // Points *data at up to `size` next bytes of the current entry.
  Result<size_t> View(const char** data, size_t size) {
    if (finished) {
      if (current.eof) return size_t{0};
      return current.error;
    }
    while (offset == current.data.size()) {
      if (current.end) return size_t{0};
      Pop();
      if (finished) return current.error;
    }
    size_t n = std::min(size, current.data.size() - offset);
    *data = current.data.data() + offset;
    offset += n;
    return n;
  }
};

// The bytes libarchive reads, through our own callbacks rather than
// archive_read_open_filename: a failed open then still tells how many bytes
// there were, what they began with (to name the format that is not ours)
// and the errno of a failed read.
struct ArchiveReader::Source {
  int fd = -1;
  bool own_fd = false;
  bool seekable = false;       // a regular file: skips seek instead of reading
  std::uint64_t bytes = 0;     // read so far
  std::string head;            // the first bytes, for OpenError
  int read_errno = 0;          // the last read(2) failure
  std::vector<char> block = std::vector<char>(kReadBlock);

  ~Source() {
    if (own_fd) close(fd);
  }

  static la_ssize_t Read(struct archive* a, void* data, const void** buf) {
    auto* s = static_cast<Source*>(data);
    ssize_t n;
    do n = read(s->fd, s->block.data(), s->block.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      s->read_errno = errno;
      archive_set_error(a, errno, "%s", std::strerror(errno));
      return -1;
    }
    if (s->head.size() < kHeadBytes)
      s->head.append(s->block.data(), std::min(static_cast<size_t>(n), kHeadBytes - s->head.size()));
    s->bytes += static_cast<std::uint64_t>(n);
    *buf = s->block.data();
    return n;
  }

  // Whole blocks past data nobody reads (libarchive asks; 0 = read instead).
  static la_int64_t Skip(struct archive*, void* data, la_int64_t request) {
    auto* s = static_cast<Source*>(data);
    if (!s->seekable || request <= 0) return 0;
    la_int64_t step = request / static_cast<la_int64_t>(kReadBlock) * static_cast<la_int64_t>(kReadBlock);
    if (step == 0 || lseek(s->fd, step, SEEK_CUR) < 0) return 0;
    s->bytes += static_cast<std::uint64_t>(step);
    return step;
  }

  static constexpr size_t kHeadBytes = kReadBlock;
};

namespace {

bool LooksLikeText(const std::string& head) {
  size_t odd = 0;
  for (unsigned char c : head) {
    if (c == 0) return false;
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f') ++odd;
  }
  return odd * 100 <= head.size();
}

// What `head` (the first bytes of an input that is no tar archive we read)
// is, by libarchive's format detection with every filter and format
// enabled: "zip file", "xz-compressed tar archive", "text file", ...
// Only the first header is parsed, from memory.
std::string DescribeForeign(const std::string& head) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  std::string filter, format;
  int base = 0;
  if (archive_read_open_memory(a, head.data(), head.size()) == ARCHIVE_OK) {
    if (archive_filter_count(a) > 1) filter = archive_filter_name(a, 0);
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN) {
      base = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
      if (archive_format_name(a)) format = archive_format_name(a);
    }
  }
  archive_read_free(a);
  struct Kind { int base; const char* noun; };
  static const Kind kKinds[] = {
      {ARCHIVE_FORMAT_TAR, "tar archive"},     {ARCHIVE_FORMAT_ZIP, "zip file"},
      {ARCHIVE_FORMAT_CPIO, "cpio archive"},   {ARCHIVE_FORMAT_7ZIP, "7-Zip archive"},
      {ARCHIVE_FORMAT_RAR, "RAR archive"},     {ARCHIVE_FORMAT_RAR_V5, "RAR archive"},
      {ARCHIVE_FORMAT_ISO9660, "ISO 9660 image"}, {ARCHIVE_FORMAT_AR, "ar archive"},
      {ARCHIVE_FORMAT_CAB, "cab archive"},     {ARCHIVE_FORMAT_LHA, "lha archive"},
      {ARCHIVE_FORMAT_XAR, "xar archive"},     {ARCHIVE_FORMAT_WARC, "WARC file"},
      {ARCHIVE_FORMAT_MTREE, "mtree file"},
  };
  std::string noun;
  for (const Kind& k : kKinds)
    if (k.base == base) noun = k.noun;
  if (noun.empty() && !format.empty()) noun = format + " archive";
  if (!filter.empty()) return filter + "-compressed " + (noun.empty() ? "data" : noun);
  if (!noun.empty()) return noun;
  if (LooksLikeText(head)) return "text file";
  return "no archive format libarchive knows";
}

}  // namespace

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(const std::string& path) {
  std::unique_ptr<ArchiveReader> r(new ArchiveReader());
  r->path_ = path == "-" ? "<stdin>" : path;
  r->source_ = std::make_unique<Source>();
  Source* src = r->source_.get();
  if (path == "-") {
    src->fd = 0;
  } else {
    src->fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (src->fd < 0) return FromErrno(path + ": cannot open", errno);
    src->own_fd = true;
  }
  struct stat st;
  if (fstat(src->fd, &st) != 0) return FromErrno(r->path_ + ": cannot stat", errno);
  if (S_ISDIR(st.st_mode)) return FromErrno(r->path_ + ": cannot read", EISDIR);
  src->seekable = S_ISREG(st.st_mode);
  r->a_ = archive_read_new();
  archive_read_support_filter_zstd(r->a_);
  archive_read_support_filter_gzip(r->a_);
  archive_read_support_filter_none(r->a_);
  archive_read_support_format_tar(r->a_);
  archive_read_set_callback_data(r->a_, src);
  archive_read_set_read_callback(r->a_, Source::Read);
  archive_read_set_skip_callback(r->a_, Source::Skip);
  if (archive_read_open1(r->a_) != ARCHIVE_OK) return r->OpenError();
  // A regular file is read ahead on a second thread. Stdin and FIFOs are
  // read on the caller's: a read there can block for ever, and the thread
  // could then not be stopped when the caller gives up.
  if (S_ISREG(st.st_mode)) {
    r->pipeline_ = std::make_unique<Pipeline>();
    r->pipeline_->reader = r.get();
    Pipeline* p = r->pipeline_.get();
    p->thread = std::thread([p] { p->Run(); });
  }
  return r;
}

// libarchive found no filter and tar format it reads at the start.
Status ArchiveReader::OpenError() {
  if (source_->read_errno != 0) return FromErrno(path_ + ": cannot read", source_->read_errno);
  if (source_->bytes == 0)
    return Status::Corrupt(path_ + ": empty input (no bytes): not a vmigrate archive");
  // A stream in a format we read that breaks off before its first tar
  // header: libarchive says why (e.g. "Truncated zstd input").
  // ("Unrecognized archive format" comes with ARCHIVE_ERRNO_FILE_FORMAT,
  // which is EILSEQ on Linux: archive_private.h is not installed.)
  if (archive_errno(a_) != EILSEQ) return Error("truncated or corrupt archive");
  std::string what = DescribeForeign(source_->head);
  if (EndsWith(what, "tar archive"))  // compressed with a filter we leave out
    return Status::Corrupt(path_ + ": not a vmigrate archive: " + what +
                           " (vmigrate reads tar uncompressed or compressed with zstd or gzip)");
  return Status::Corrupt(path_ + ": not a vmigrate archive: not a tar archive (" + what + ")");
}

ArchiveReader::~ArchiveReader() {
  pipeline_.reset();  // stops the thread before the handle goes
  if (a_) archive_read_free(a_);
}

Status ArchiveReader::Error(const std::string& what) {
  const char* msg = archive_error_string(a_);
  std::string where = entry_.empty() ? path_ : path_ + ": entry '" + entry_ + "'";
  return Status::Corrupt(where + ": " + what + (msg ? std::string(": ") + msg : ""));
}

Result<bool> ArchiveReader::Next(EntryHeader* h) {
  auto more = pipeline_ ? pipeline_->Next(h) : DirectNext(h);
  if (more.ok() && *more) shown_entry_ = h->path;
  return more;
}

Result<size_t> ArchiveReader::Read(void* buf, size_t size) {
  if (!pipeline_) return DirectRead(buf, size);
  const char* data = nullptr;
  auto n = pipeline_->View(&data, size);
  if (n.ok() && *n > 0) std::memcpy(buf, data, *n);
  return n;
}

Result<size_t> ArchiveReader::ReadView(const char** data) {
  if (pipeline_) return pipeline_->View(data, SIZE_MAX);
  view_.resize(kReadBlock);
  *data = view_.data();
  return DirectRead(view_.data(), view_.size());
}

const std::string& ArchiveReader::EntrySha256() const {
  return pipeline_ ? pipeline_->current.digest : digest_;
}

Result<bool> ArchiveReader::DirectNext(EntryHeader* h) {
  if (hashing_) sha_.HexDigest();  // the unread rest of the last entry: reset
  hashing_ = true;
  digest_.clear();
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

Result<size_t> ArchiveReader::DirectRead(void* buf, size_t size) {
  la_ssize_t n = archive_read_data(a_, buf, size);
  if (n < 0) return Error("truncated or corrupt data");
  if (n > 0) {
    sha_.Update(buf, static_cast<size_t>(n));
  } else if (hashing_) {
    digest_ = sha_.HexDigest();
    hashing_ = false;
  }
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
      return Status::Corrupt(path_ + ": entry '" + shown_entry_ + "' is larger than " +
                             std::to_string(max_bytes) + " bytes");
  }
  return out;
}

}  // namespace vmigrate
