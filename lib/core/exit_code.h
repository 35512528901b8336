// The process exit codes, one table for every command (README "Exit codes",
// share/doc/exit-codes.md).
#ifndef VMIGRATE_CORE_EXIT_CODE_H_
#define VMIGRATE_CORE_EXIT_CODE_H_

#include "core/status.h"

namespace vmigrate {

enum class Exit : int {
  kOk = 0,
  kFailed = 1,        // an error; an import left the target as it was
  kUsage = 2,         // bad command line
  kDifferences = 3,   // verify: differences found
  kPartial = 4,       // batch: some items failed
  kConflict = 5,      // the domain or an alias domain already exists on the target
  kBadArchive = 6,    // corrupt, hostile or unsupported archive
  kNotFound = 7,      // the domain, archive or a directory does not exist
  kDataRefused = 8,   // data the target cannot use (vpasswd line limit, unsafe account name)
  kPeerRefused = 9,   // cutover forward: the new host refused the domain over SMTP / unreachable
  kRemoteFailed = 10, // move: ssh or the remote vmigrate failed; --resume continues
  kInterrupted = 130, // SIGINT/SIGTERM; staging removed, target unchanged
};

inline Exit ToExit(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return Exit::kOk;
    case Status::Code::kInvalidInput: return Exit::kUsage;
    case Status::Code::kConflict: return Exit::kConflict;
    case Status::Code::kCorrupt:
    case Status::Code::kUnsupported: return Exit::kBadArchive;
    case Status::Code::kNotFound: return Exit::kNotFound;
    case Status::Code::kInterrupted: return Exit::kInterrupted;
    case Status::Code::kIoError: return Exit::kFailed;
    case Status::Code::kDataRefused: return Exit::kDataRefused;
    case Status::Code::kPeerRefused: return Exit::kPeerRefused;
    case Status::Code::kRemoteFailed: return Exit::kRemoteFailed;
  }
  return Exit::kFailed;
}

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_EXIT_CODE_H_
