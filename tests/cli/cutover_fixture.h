// Shared by the cutover CLI and crash tests: a tree's content without the
// parts a cutover step legitimately rewrites (mtimes, the rebuilt cdb).
#ifndef VMIGRATE_TESTS_CLI_CUTOVER_FIXTURE_H_
#define VMIGRATE_TESTS_CLI_CUTOVER_FIXTURE_H_

#include <map>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace vmigrate::testing::cli {

// Regular files and directories below `dir` with mode, size and content,
// without mtimes (a rewritten file or a directory that had a file renamed
// in gets a new one) and without vpasswd.cdb, whose records are compared
// separately (the cdb is rebuilt; its byte layout is the builder's).
inline std::map<std::string, std::string> Contents(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& [path, line] : TreeDigest(dir)) {
    if (path.find(".vmigrate-cutover.") != std::string::npos && path.size() > 5 &&
        path.compare(path.size() - 5, 5, ".lock") == 0)
      continue;  // the step lock stays, like vpopmail's own .lock files
    if (path.size() >= 11 && path.compare(path.size() - 11, 11, "vpasswd.cdb") == 0) continue;
    std::vector<std::string> f;
    size_t pos = 0;
    while (pos <= line.size()) {
      size_t sp = line.find(' ', pos);
      f.push_back(line.substr(pos, sp - pos));
      if (sp == std::string::npos) break;
      pos = sp + 1;
    }
    if (f.size() >= 5 && f[1] == "file") out[path] = f[0] + " file " + f[2] + " " + f[4];
    else if (f.size() >= 2) out[path] = f[0] + " " + f[1];
  }
  return out;
}

}  // namespace vmigrate::testing::cli

#endif  // VMIGRATE_TESTS_CLI_CUTOVER_FIXTURE_H_
