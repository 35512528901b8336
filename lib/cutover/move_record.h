// The progress record of `vmigrate move`, kept on the old host so that
// `move --resume` continues after any interruption and `move --abort` knows
// what to undo. It lives in `<vpopmail home>/domains/.vmigrate-move.<domain>/`
// (a `.vmigrate-*` name: never exported, never part of a state), as the file
// `record` beside the state files `state.<n>` the export rounds write
// (`export --state-out`). The record is rewritten whole (temp + fsync +
// rename) after every step, so a reader sees one step's end or the next's.
//
// Format, one "key<TAB>value" a line, values C-escaped (core/strings.h):
//   vmigrate-move 1
//   move_id   <hex>           the --move-id the full import wrote on the target
//   domain    <domain>
//   target    <[USER@]HOST>
//   done      <step>          the last step completed (MoveStep names)
//   full_started 0|1          the full import was started: --abort discards on the target
//   rounds    <n>             delta rounds done before the hold
//   state     <file>          state file the target is known to have reached ("" before full)
//   pending   <file>          state file of the transfer under way ("" when none)
//   started   <epoch>         when the move began
//   hold_time <epoch>         0 until `cutover hold` returned
//   forward_time <epoch>      0 until `cutover forward` returned
//   transfer  <label> <bytes> <messages> <seconds>   one per transfer, in order
#ifndef VMIGRATE_CUTOVER_MOVE_RECORD_H_
#define VMIGRATE_CUTOVER_MOVE_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate {

/// The steps of a move, in order; a record names the last one done.
enum class MoveStep : int {
  kNone = 0,
  kFull,         // full export | import
  kBlockLogins,  // remote cutover block-logins
  kRounds,       // delta rounds until a small one
  kHold,         // local cutover hold
  kFinal,        // final delta under the hold
  kVerify,       // remote state digest == local state digest
  kForward,      // local cutover forward
  kTail,         // add-only tails until the queue is empty
  kOpenLogins,   // remote cutover open-logins
};

const char* MoveStepName(MoveStep step);

/// One export | import of the move: what it carried.
struct MoveTransfer {
  std::string label;  // "full", "round1", "final", "tail3"
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  double seconds = 0;
};

struct MoveRecord {
  std::string move_id;
  std::string domain;
  std::string target;
  MoveStep done = MoveStep::kNone;
  bool full_started = false;
  int rounds = 0;
  std::string state;
  std::string pending;
  std::int64_t started = 0;
  std::int64_t hold_time = 0;
  std::int64_t forward_time = 0;
  std::vector<MoveTransfer> transfers;
};

/// `<domains dir on disk>/.vmigrate-move.<domain>`.
std::string MoveDir(const std::string& domains_dir_on_disk, const std::string& domain);

/// Reads `<dir>/record`. kNotFound when there is none; kCorrupt, naming the
/// file and line, for anything else than the format above.
Result<MoveRecord> ReadMoveRecord(const std::string& dir);

/// Creates `dir` (0700) when missing and replaces `<dir>/record` atomically.
Status WriteMoveRecord(const std::string& dir, const MoveRecord& record);

/// Removes `dir` with the record and its state files. OK when already gone.
Status RemoveMoveDir(const std::string& dir);

/// A random 128-bit id in hex (from /dev/urandom).
Result<std::string> NewMoveId();

}  // namespace vmigrate

#endif  // VMIGRATE_CUTOVER_MOVE_RECORD_H_
