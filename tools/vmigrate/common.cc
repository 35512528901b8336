#include <cstdio>

#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {

void PathFlags::Add(CLI::App* app) {
  app->add_option("--root", root,
                  "operate on the tree under DIR as if it were / (like dpkg --root); paths "
                  "written into the data stay host paths")
      ->capture_default_str();
  app->add_option("--vpopmail-home", vpopmail_home,
                  "vpopmail's home (default: the home of the 'vpopmail' user)");
  app->add_option("--qmail-dir", qmail_dir, "qmail's home (default: /var/qmail)");
}

Result<HostPaths> PathFlags::Resolve() const {
  return ResolveHostPaths(root, vpopmail_home, qmail_dir);
}

int Fail(const std::string& command, const Status& status) {
  std::fprintf(stderr, "vmigrate: %s: %s\n", command.c_str(), status.message().c_str());
  return static_cast<int>(ToExit(status));
}

}  // namespace vmigrate::cli
