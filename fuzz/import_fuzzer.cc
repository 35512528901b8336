// libFuzzer target: a whole import, dry run (vmigrate::ImportArchive with
// dry_run = true). The input is the archive; the target is an empty
// vpopmail/qmail tree made once per process under /tmp and removed at exit.
// A dry run reads and checks the whole archive and plans the import but
// writes nothing, so the same tree serves every input. After each input the
// target tree is checked to still be empty.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/atomic_file.h"
#include "core/host_paths.h"
#include "fuzz_util.h"
#include "importer/importer.h"

namespace {

std::string g_root;

void RemoveTree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (DIR* d = opendir(path.c_str())) {
      while (struct dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        RemoveTree(path + "/" + n);
      }
      closedir(d);
    }
    rmdir(path.c_str());
  } else {
    unlink(path.c_str());
  }
}

size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") ++n;
    }
    closedir(d);
  }
  return n;
}

void Cleanup() {
  if (!g_root.empty()) RemoveTree(g_root);
}

void MakeDir(const std::string& p) {
  if (mkdir(p.c_str(), 0755) != 0) {
    perror(p.c_str());
    abort();
  }
}

vmigrate::ImportOptions* Setup() {
  char tmpl[] = "/tmp/vmigrate-fuzz-target-XXXXXX";
  if (!mkdtemp(tmpl)) abort();
  g_root = tmpl;
  atexit(Cleanup);
  for (const char* d : {"/srv", "/srv/vpopmail", "/srv/vpopmail/domains", "/var", "/var/qmail",
                        "/var/qmail/control", "/var/qmail/users"})
    MakeDir(g_root + d);
  auto paths = vmigrate::ResolveHostPaths(g_root, "/srv/vpopmail", "/var/qmail");
  if (!paths.ok()) {
    fprintf(stderr, "ResolveHostPaths: %s\n", paths.status().message().c_str());
    abort();
  }
  auto* opt = new vmigrate::ImportOptions();
  opt->paths = *paths;
  opt->owner = vmigrate::FileOwner{getuid(), getgid()};
  opt->reload = false;
  opt->dry_run = true;
  return opt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static vmigrate::ImportOptions* opt = Setup();
  static vmigrate_fuzz::InputFile* input = new vmigrate_fuzz::InputFile();
  opt->archive = input->Write(data, size);
  vmigrate::ImportReport report;
  vmigrate::Status s = vmigrate::ImportArchive(*opt, &report);
  if (getenv("VMIGRATE_FUZZ_VERBOSE"))
    fprintf(stderr, "ImportArchive: %s\n", s.ok() ? "OK (dry run complete)" : s.message().c_str());
  // A dry run must leave the target exactly as empty as it was.
  if (CountEntries(g_root + "/srv/vpopmail/domains") != 0 ||
      CountEntries(g_root + "/var/qmail/control") != 0 ||
      CountEntries(g_root + "/var/qmail/users") != 0) {
    fprintf(stderr, "dry run wrote to the target tree %s\n", g_root.c_str());
    abort();
  }
  return 0;
}
