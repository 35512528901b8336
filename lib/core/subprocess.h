// Running other programs without a shell: one command or a pipeline
// (`a | b`), with the data between the stages passed by the kernel (never
// through this process, so memory stays flat however much flows), the last
// stage's stdout and every stage's stderr captured. `vmigrate move` runs its
// steps this way: `vmigrate export -o -` piped into `ssh HOST vmigrate import -`.
#ifndef VMIGRATE_CORE_SUBPROCESS_H_
#define VMIGRATE_CORE_SUBPROCESS_H_

#include <string>
#include <vector>

#include "core/status.h"

namespace vmigrate {

/// How one stage of a pipeline ended and what it said.
struct StageResult {
  /// The exit code; -1 when it was killed by a signal (then `signal` is set)
  /// or could not be started (then `err_lines` says why).
  int exit_code = -1;
  int signal = 0;
  /// stdout of the last stage (the other stages' stdout feeds the next one),
  /// at most PipelineOptions::max_stdout bytes; the rest is read and dropped.
  std::string out;
  bool out_truncated = false;
  /// stderr, split into lines without their newline; the last
  /// PipelineOptions::max_stderr_lines lines are kept.
  std::vector<std::string> err_lines;

  bool ok() const { return exit_code == 0; }
  /// The last non-empty stderr line, or "" (what the program said last is
  /// what it failed on).
  std::string LastErrLine() const;
};

struct PipelineOptions {
  size_t max_stdout = 4u << 20;
  size_t max_stderr_lines = 200;
  /// stdin of the first stage: "" for /dev/null, else a file opened for reading.
  std::string stdin_path;
};

/// Runs `stages` (each an argv, argv[0] looked up in $PATH when it has no
/// '/') as `stage0 | stage1 | ...` and waits for all of them. Returns one
/// result per stage, in order; a stage that could not be exec'd has exit
/// code 127 and the reason in its err_lines. Fails only when the pipes or
/// processes cannot be made (kIoError). SIGPIPE is left at its default in the
/// children, so a writer whose reader died stops as `a | b` would in a shell.
Result<std::vector<StageResult>> RunPipeline(const std::vector<std::vector<std::string>>& stages,
                                             const PipelineOptions& options = {});

/// One command: RunPipeline with a single stage.
Result<StageResult> RunProcess(const std::vector<std::string>& argv, const PipelineOptions& options = {});

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_SUBPROCESS_H_
