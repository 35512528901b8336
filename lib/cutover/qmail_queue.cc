#include "cutover/qmail_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate::cutover {
namespace {

// qmail names queue files and split dirs by a decimal number and skips any
// other name (NQ:readsubdir.c, qmail-send.c todo_do: scan_ulong must consume
// the whole name).
bool IsQueueNumber(const char* name) {
  if (*name == '\0') return false;
  for (const char* p = name; *p != '\0'; ++p)
    if (*p < '0' || *p > '9') return false;
  return true;
}

// A DIR* that closes itself; Next() tells end of directory from a read error.
class DirReader {
 public:
  explicit DirReader(std::string path) : path_(std::move(path)) {}
  ~DirReader() {
    if (dir_ != nullptr) closedir(dir_);
  }
  DirReader(const DirReader&) = delete;
  DirReader& operator=(const DirReader&) = delete;

  Status Open() {
    dir_ = opendir(path_.c_str());
    if (dir_ == nullptr) return FromErrno(path_, errno);
    return Status::OK();
  }
  // Sets *entry to the next numeric entry, nullptr at the end.
  Status Next(const dirent** entry) {
    for (;;) {
      errno = 0;
      const dirent* d = readdir(dir_);
      if (d == nullptr) {
        *entry = nullptr;
        return errno == 0 ? Status::OK() : FromErrno(path_, errno);
      }
      if (IsQueueNumber(d->d_name)) {
        *entry = d;
        return Status::OK();
      }
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  DIR* dir_ = nullptr;
};

// Whether `path` (an entry of a queue dir) is a directory; a vanished entry
// is neither file nor directory (*vanished = true).
Status EntryIsDir(const std::string& path, const dirent* d, bool* is_dir, bool* vanished) {
  *vanished = false;
  if (d->d_type != DT_UNKNOWN) {
    *is_dir = d->d_type == DT_DIR;
    return Status::OK();
  }
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      *vanished = true;
      return Status::OK();
    }
    return FromErrno(path, errno);
  }
  *is_dir = S_ISDIR(st.st_mode);
  return Status::OK();
}

// The domain set, lower-cased once.
class DomainSet {
 public:
  explicit DomainSet(const std::vector<std::string>& domains) {
    for (const std::string& d : domains) domains_.insert(ToLower(d));
  }
  // `addr` is a queue address; its domain is what follows the last '@'
  // (qmail-send's rewrite() splits there too).
  bool Matches(std::string_view addr) const {
    size_t at = addr.rfind('@');
    if (at == std::string_view::npos) return false;
    return domains_.count(ToLower(addr.substr(at + 1))) > 0;
  }

 private:
  std::set<std::string> domains_;
};

// What reading one queue file found.
struct FileScan {
  bool vanished = false;  // gone before we could open it: qmail is done with it
  bool matched = false;   // has a 'T' record for one of the domains
  int64_t mtime = 0;
};

// Reads the '\0'-terminated records of a todo/ or channel file and stops at
// the first 'T' record whose address is in `domains`. A last record without
// its '\0' is ignored, as qmail-send's getln() loop does (!match = EOF).
// Only the record being read is held in memory.
Status ScanRecords(const std::string& path, const DomainSet& domains, FileScan* out) {
  *out = FileScan();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      out->vanished = true;
      return Status::OK();
    }
    return FromErrno(path, errno);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return FromErrno(path, err);
  }
  out->mtime = static_cast<int64_t>(st.st_mtime);

  std::string record;
  char buf[8192];
  Status status;
  while (!out->matched) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = FromErrno(path, errno);
      break;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n && !out->matched; ++i) {
      if (buf[i] != '\0') {
        record.push_back(buf[i]);
        continue;
      }
      if (!record.empty() && record[0] == 'T' &&
          domains.Matches(std::string_view(record).substr(1)))
        out->matched = true;
      record.clear();
    }
  }
  close(fd);
  return status;
}

// Whether todo/<id> or the big-todo todo/<split>/<id> exists.
Status TodoExists(const std::string& queue, const std::string& split, const std::string& id,
                  bool* exists) {
  for (const std::string& path : {queue + "/todo/" + id, queue + "/todo/" + split + "/" + id}) {
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
      *exists = true;
      return Status::OK();
    }
    if (errno != ENOENT && errno != ENOTDIR) return FromErrno(path, errno);
  }
  *exists = false;
  return Status::OK();
}

void NoteBirth(int64_t birth, QueueCount* count) {
  if (count->oldest_birth == 0 || birth < count->oldest_birth) count->oldest_birth = birth;
}

// todo/: files are messages; numeric directories are big-todo split dirs,
// read one level down.
Status CountTodo(const std::string& queue, const DomainSet& domains, QueueCount* count) {
  DirReader todo(queue + "/todo");
  VM_RETURN_IF_ERROR(todo.Open());
  for (;;) {
    const dirent* d = nullptr;
    VM_RETURN_IF_ERROR(todo.Next(&d));
    if (d == nullptr) return Status::OK();
    std::string path = todo.path() + "/" + d->d_name;
    bool is_dir = false;
    bool vanished = false;
    VM_RETURN_IF_ERROR(EntryIsDir(path, d, &is_dir, &vanished));
    if (vanished) continue;
    if (!is_dir) {
      FileScan scan;
      VM_RETURN_IF_ERROR(ScanRecords(path, domains, &scan));
      if (scan.matched) {
        ++count->todo;
        NoteBirth(scan.mtime, count);
      }
      continue;
    }
    DirReader split(path);
    if (Status s = split.Open(); !s.ok()) {
      if (s.code() == Status::Code::kNotFound) continue;
      return s;
    }
    for (;;) {
      const dirent* m = nullptr;
      VM_RETURN_IF_ERROR(split.Next(&m));
      if (m == nullptr) break;
      FileScan scan;
      VM_RETURN_IF_ERROR(ScanRecords(split.path() + "/" + m->d_name, domains, &scan));
      if (scan.matched) {
        ++count->todo;
        NoteBirth(scan.mtime, count);
      }
    }
  }
}

// One message listed in info/<split>/<id>: its local and remote files.
Status CountMessage(const std::string& queue, const std::string& split, const std::string& id,
                    const DomainSet& domains, QueueCount* count) {
  std::string info = queue + "/info/" + split + "/" + id;
  struct stat st;
  if (stat(info.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::OK();  // qmail-send finished it meanwhile
    return FromErrno(info, errno);
  }
  FileScan local;
  FileScan remote;
  VM_RETURN_IF_ERROR(ScanRecords(queue + "/local/" + split + "/" + id, domains, &local));
  VM_RETURN_IF_ERROR(ScanRecords(queue + "/remote/" + split + "/" + id, domains, &remote));
  if (!local.matched && !remote.matched) return Status::OK();
  // qmail-send ignores the channel files while todo/<id> exists (pqadd: "dad
  // crashed writing info"); the message was counted under todo.
  bool in_todo = false;
  VM_RETURN_IF_ERROR(TodoExists(queue, split, id, &in_todo));
  if (in_todo) return Status::OK();
  if (local.matched) ++count->local;
  if (remote.matched) ++count->remote;
  NoteBirth(static_cast<int64_t>(st.st_mtime), count);
  return Status::OK();
}

}  // namespace

Result<QueueCount> CountQueued(const std::string& queue_dir_disk,
                               const std::vector<std::string>& domains) {
  for (const char* sub : {"", "/todo", "/info", "/local", "/remote"}) {
    std::string path = queue_dir_disk + sub;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return FromErrno(path, errno);
    if (!S_ISDIR(st.st_mode)) return Status::IoError(path + ": not a directory");
  }
  DomainSet wanted(domains);
  QueueCount count;
  // todo/ first: a message that leaves todo/ during the scan then shows up
  // again under info/ (counted twice) instead of slipping between the two.
  VM_RETURN_IF_ERROR(CountTodo(queue_dir_disk, wanted, &count));

  DirReader info(queue_dir_disk + "/info");
  VM_RETURN_IF_ERROR(info.Open());
  for (;;) {
    const dirent* s = nullptr;
    VM_RETURN_IF_ERROR(info.Next(&s));
    if (s == nullptr) break;
    std::string split = s->d_name;
    DirReader messages(info.path() + "/" + split);
    VM_RETURN_IF_ERROR(messages.Open());
    for (;;) {
      const dirent* m = nullptr;
      VM_RETURN_IF_ERROR(messages.Next(&m));
      if (m == nullptr) break;
      VM_RETURN_IF_ERROR(CountMessage(queue_dir_disk, split, m->d_name, wanted, &count));
    }
  }
  return count;
}

Result<int64_t> ReadQueueLifetime(const std::string& control_dir_disk) {
  std::string path = control_dir_disk + "/queuelifetime";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return kDefaultQueueLifetime;  // control_readline: 0
    return FromErrno(path, errno);
  }
  // control_readline reads the first line; scan_ulong takes its leading
  // digits, so only those matter: read until the first non-digit.
  uint64_t value = 0;  // unsigned long arithmetic: wraps like scan_ulong
  size_t digits = 0;
  bool done = false;
  char buf[64];
  while (!done) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return FromErrno(path, err);
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] < '0' || buf[i] > '9') {
        done = true;
        break;
      }
      value = value * 10 + static_cast<uint64_t>(buf[i] - '0');
      ++digits;
    }
  }
  close(fd);
  if (digits == 0) return kDefaultQueueLifetime;  // control_readint returns 0
  // `*i = u`: qmail keeps it in an int, so a huge number wraps as it does
  // there (a negative lifetime makes every message "dying").
  return static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(value)));
}

}  // namespace vmigrate::cutover
