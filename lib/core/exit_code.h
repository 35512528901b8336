// The process exit codes, one table for every command (README "Exit codes",
// share/doc/exit-codes.md).
#ifndef VMIGRATE_CORE_EXIT_CODE_H_
#define VMIGRATE_CORE_EXIT_CODE_H_

#include <string>

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
  kPeerRefused = 9,   // cutover forward: the new host refused over SMTP; pull: the old server refused / unreachable
  kRemoteFailed = 10, // move: ssh or the remote vmigrate failed; --resume continues
  kInterrupted = 130, // SIGINT/SIGTERM; staging removed, target unchanged
};

/// One row of the exit-code table: the code, its short name (as
/// share/doc/exit-codes.md, the README and the man page name it) and a
/// one-line summary. kExitCodes is the one source of the table: main.cc's
/// --help text is made from it, and tests/docs/docs_test.cc checks that the
/// enum above, README.md, share/doc/exit-codes.md and the man page list
/// exactly these codes and names.
struct ExitCodeInfo {
  Exit code;
  const char* name;
  const char* summary;
};

inline constexpr ExitCodeInfo kExitCodes[] = {
    {Exit::kOk, "ok", "success"},
    {Exit::kFailed, "failed", "I/O or system error; an import left the target as it was"},
    {Exit::kUsage, "usage", "bad command line or argument"},
    {Exit::kDifferences, "differences", "verify found differences"},
    {Exit::kPartial, "partial", "a batch or --all run partly failed"},
    {Exit::kConflict, "conflict",
     "the domain exists on the target, the output file exists, a delta's base differs"},
    {Exit::kBadArchive, "bad archive", "corrupt, truncated, hostile or unsupported archive"},
    {Exit::kNotFound, "not found", "the domain, the archive or a directory does not exist"},
    {Exit::kDataRefused, "data refused", "data the target cannot use; nothing written"},
    {Exit::kPeerRefused, "refused by peer", "cutover forward, pull: the other server refused or was unreachable"},
    {Exit::kRemoteFailed, "remote failed", "move: ssh or the remote vmigrate failed (--resume continues)"},
    {Exit::kInterrupted, "interrupted", "SIGINT/SIGTERM; staging removed, target unchanged"},
};

/// "Exit codes:\n  0 ok: success\n  1 failed: ..." for --help, from kExitCodes.
inline std::string ExitCodeHelp() {
  std::string out = "Exit codes:";
  for (const ExitCodeInfo& e : kExitCodes) {
    std::string code = std::to_string(static_cast<int>(e.code));
    out += "\n  " + std::string(4 - code.size(), ' ') + code + " " + e.name + ": " + e.summary;
  }
  return out;
}

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
