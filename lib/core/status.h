// Errors as values (leveldb's Status): a code plus a one-line message that
// reads from the outside in, e.g. "example.com: vpasswd line 3: bad quota".
#ifndef VMIGRATE_CORE_STATUS_H_
#define VMIGRATE_CORE_STATUS_H_

#include <optional>
#include <string>
#include <utility>

namespace vmigrate {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,
    kInvalidInput,  // bad argument or name given by the user or the archive
    kCorrupt,       // a file or archive is not in the expected format
    kUnsupported,   // a format version or feature this build does not read
    kConflict,      // the target already has what we were asked to create
    kIoError,
    kInterrupted,
    kDataRefused,   // data the target's vpopmail could not use (a vpasswd line too
                    // long for it, an account name that is unsafe on disk); nothing written
    kPeerRefused,   // the forward target refused the domain over SMTP or cannot be reached
    kRemoteFailed,  // ssh or the vmigrate on the other host failed (move --resume continues)
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status InvalidInput(std::string msg) { return Status(Code::kInvalidInput, std::move(msg)); }
  static Status Corrupt(std::string msg) { return Status(Code::kCorrupt, std::move(msg)); }
  static Status Unsupported(std::string msg) { return Status(Code::kUnsupported, std::move(msg)); }
  static Status Conflict(std::string msg) { return Status(Code::kConflict, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status Interrupted(std::string msg) { return Status(Code::kInterrupted, std::move(msg)); }
  static Status DataRefused(std::string msg) { return Status(Code::kDataRefused, std::move(msg)); }
  static Status PeerRefused(std::string msg) { return Status(Code::kPeerRefused, std::move(msg)); }
  static Status RemoteFailed(std::string msg) { return Status(Code::kRemoteFailed, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  /// Returns a copy whose message is "context: message" (no-op when ok).
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

  std::string ToString() const { return ok() ? "OK" : message_; }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

/// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace vmigrate

// Returns early from the enclosing function when `expr` is not ok.
#define VM_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::vmigrate::Status vm_status_ = (expr);   \
    if (!vm_status_.ok()) return vm_status_;  \
  } while (0)

#endif  // VMIGRATE_CORE_STATUS_H_
