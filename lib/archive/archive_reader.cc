#include "archive/archive_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "core/errno_status.h"

namespace vmigrate {

// Decompression on its own thread, so it overlaps with what the caller does
// with the data (hashing, writing files). A second libarchive handle with the
// same filters and the "raw" format turns the file into the decompressed tar
// stream; its bytes go through a small ring of buffers to the tar reader's
// read callback. The tar reader sees exactly the bytes (and, at the point
// where they stop, the error message) it would have read itself.
struct ArchiveReader::Decoder {
  static constexpr size_t kChunk = 512 * 1024;
  static constexpr int kSlots = 4;  // memory: kSlots * kChunk

  struct archive* d = nullptr;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<char> buf[kSlots];
  size_t len[kSlots] = {};
  int filled = 0;          // slots ready for the reader (guarded by mu)
  int head = 0;            // next slot the reader takes
  bool holding = false;    // the reader still uses the slot before head
  bool done = false;       // no more slots will come
  bool stop = false;       // the reader is gone
  std::string error;       // libarchive's message when the stream failed
  int error_code = 0;      // and its archive_errno()

  ~Decoder() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (thread.joinable()) thread.join();
    if (d) archive_read_free(d);
  }

  void Run() {
    const char* block = nullptr;  // what is left of the last block libarchive gave
    size_t block_left = 0;
    bool end = false, failed = false;
    int tail = 0;
    while (!end) {
      {
        std::unique_lock<std::mutex> lock(mu);
        // The slot before head stays with the reader until its next read.
        cv.wait(lock, [&] { return stop || filled + (holding ? 1 : 0) < kSlots; });
        if (stop) return;
      }
      std::vector<char>& out = buf[tail];
      out.resize(kChunk);
      size_t n = 0;
      while (n < kChunk) {
        if (block_left == 0) {
          const void* b = nullptr;
          la_int64_t offset = 0;
          int rc = archive_read_data_block(d, &b, &block_left, &offset);
          if (rc == ARCHIVE_EOF || rc < ARCHIVE_WARN) {
            block_left = 0;
            failed = rc != ARCHIVE_EOF;
            end = true;
            break;
          }
          block = static_cast<const char*>(b);
          continue;
        }
        size_t take = std::min(block_left, kChunk - n);
        std::memcpy(out.data() + n, block, take);
        n += take;
        block += take;
        block_left -= take;
      }
      std::lock_guard<std::mutex> lock(mu);
      len[tail] = n;
      if (n > 0) {
        tail = (tail + 1) % kSlots;
        ++filled;
      }
      if (end) {
        if (failed) {
          const char* msg = archive_error_string(d);
          error = msg ? msg : "decompression failed";
          error_code = archive_errno(d);
        }
        done = true;
      }
      cv.notify_all();
    }
  }

  // libarchive read callback of the tar reader.
  static la_ssize_t Read(struct archive* a, void* self, const void** out) {
    auto* dec = static_cast<Decoder*>(self);
    std::unique_lock<std::mutex> lock(dec->mu);
    dec->holding = false;  // the previous slot may be refilled now
    dec->cv.notify_all();
    dec->cv.wait(lock, [&] { return dec->filled > 0 || dec->done; });
    if (dec->filled == 0) {
      if (dec->error.empty()) return 0;
      archive_set_error(a, dec->error_code, "%s", dec->error.c_str());
      return -1;
    }
    int slot = dec->head;
    dec->head = (dec->head + 1) % kSlots;
    --dec->filled;
    dec->holding = true;
    *out = dec->buf[slot].data();
    return static_cast<la_ssize_t>(dec->len[slot]);
  }
};

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(const std::string& path) {
  std::unique_ptr<ArchiveReader> r(new ArchiveReader());
  r->path_ = path == "-" ? "<stdin>" : path;
  r->a_ = archive_read_new();
  archive_read_support_format_tar(r->a_);
  int rc;
  struct stat st;
  if (path != "-" && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    // A regular file: decompress on a second thread (stdin and FIFOs keep the
    // single-threaded reader, so nothing can block in a read at destruction).
    if (access(path.c_str(), R_OK) != 0) return FromErrno("cannot read " + path, errno);
    auto dec = std::make_unique<Decoder>();
    dec->d = archive_read_new();
    archive_read_support_filter_zstd(dec->d);
    archive_read_support_filter_gzip(dec->d);
    archive_read_support_filter_none(dec->d);
    archive_read_support_format_raw(dec->d);
    struct archive_entry* e = nullptr;
    // Same 64 KiB reads as before: with bigger ones libarchive's zstd filter
    // reports a corrupt frame at a different entry.
    if (archive_read_open_filename(dec->d, path.c_str(), 1 << 16) != ARCHIVE_OK ||
        archive_read_next_header(dec->d, &e) != ARCHIVE_OK) {
      // The raw format takes any input of at least one byte.
      if (archive_filter_bytes(dec->d, -1) == 0)
        return Status::Corrupt(r->path_ + ": empty input (no bytes): not a vmigrate archive");
      const char* msg = archive_error_string(dec->d);
      return Status::Corrupt(r->path_ + ": not a vmigrate archive" +
                             (msg ? std::string(": ") + msg : ""));
    }
    Decoder* raw = dec.get();
    dec->thread = std::thread([raw] { raw->Run(); });
    r->decoder_ = std::move(dec);
    archive_read_support_filter_none(r->a_);
    rc = archive_read_open(r->a_, raw, nullptr, &Decoder::Read, nullptr);
  } else {
    archive_read_support_filter_zstd(r->a_);
    archive_read_support_filter_gzip(r->a_);
    archive_read_support_filter_none(r->a_);
    if (path == "-") {
      rc = archive_read_open_fd(r->a_, 0, 1 << 16);
    } else {
      if (access(path.c_str(), R_OK) != 0) return FromErrno("cannot read " + path, errno);
      rc = archive_read_open_filename(r->a_, path.c_str(), 1 << 16);
    }
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
