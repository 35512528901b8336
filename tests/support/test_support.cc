#include "support/test_support.h"

#include <cdb.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace fs = std::filesystem;

namespace vmigrate::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/vmigrate-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) std::abort();
  path_ = buf.data();
}

TempDir::~TempDir() {
  const char* keep = std::getenv("VMIGRATE_KEEP_TEST_DIRS");
  bool failed = ::testing::Test::HasFailure();
  if ((keep && std::string(keep) == "1") || failed) {
    std::fprintf(stderr, "test dir kept: %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string FixtureDir() {
  const char* env = std::getenv("VMIGRATE_FIXTURES");
  if (env && *env) return env;
  return VMIGRATE_FIXTURE_DIR;
}

void UnpackFixture(const std::string& name, const std::string& root) {
  std::string dest = root + "/tmp/realvp";
  fs::create_directories(dest);
  std::string tarball = FixtureDir() + "/" + name + ".tar.gz";
  // A checkout without the data (or VMIGRATE_FIXTURES pointing elsewhere)
  // is not a bug in vmigrate: skip, loudly, rather than fail.
  if (!fs::exists(tarball))
    GTEST_SKIP() << "\n*** SKIPPED: fixture " << tarball << " missing (the suite ships it in "
                 << "tests/fixtures/; set VMIGRATE_FIXTURES=DIR for another copy) ***";
  CommandResult r = RunCommand({"tar", "-xzpf", tarball, "-C", dest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::map<std::string, std::string> TreeDigest(const std::string& dir,
                                              const std::vector<std::string>& skip) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    std::string rel = fs::relative(it->path(), dir).string();
    bool skipped = false;
    for (const auto& s : skip)
      if (rel == s || rel.rfind(s + "/", 0) == 0) skipped = true;
    if (skipped) {
      if (it->is_directory() && !it->is_symlink()) it.disable_recursion_pending();
      continue;
    }
    struct stat st;
    lstat(it->path().c_str(), &st);
    std::ostringstream line;
    line << std::oct << (st.st_mode & 07777) << std::dec;
    if (S_ISDIR(st.st_mode)) {
      line << " dir " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
    } else if (S_ISLNK(st.st_mode)) {
      line << " link " << fs::read_symlink(it->path()).string();
    } else {
      line << " file " << st.st_size << " " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec
           << " " << Sha256::Of(ReadFile(it->path().string()));
    }
    line << " " << st.st_uid << ":" << st.st_gid;
    out[rel] = line.str();
  }
  return out;
}

static std::string ReadFd(int fd) {
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input_file) {
  CommandResult result;
  std::string out_path = "/tmp/vmigrate-test-out-" + std::to_string(getpid());
  std::string err_path = "/tmp/vmigrate-test-err-" + std::to_string(getpid());
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(input_file.empty() ? "/dev/null" : input_file.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  int fd = open(out_path.c_str(), O_RDONLY);
  result.out = ReadFd(fd);
  close(fd);
  fd = open(err_path.c_str(), O_RDONLY);
  result.err = ReadFd(fd);
  close(fd);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return result;
}

CommandResult RunVmigrate(const std::vector<std::string>& args, const std::string& input_file) {
  std::vector<std::string> argv = {VMIGRATE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input_file);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

std::optional<std::string> CdbLookup(const std::string& path, const std::string& key) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return std::nullopt;
  struct cdb c;
  std::optional<std::string> out;
  if (cdb_init(&c, fd) == 0) {
    if (cdb_find(&c, key.data(), static_cast<unsigned>(key.size())) > 0) {
      std::string value(cdb_datalen(&c), '\0');
      cdb_read(&c, value.data(), cdb_datalen(&c), cdb_datapos(&c));
      out = value;
    }
    cdb_free(&c);
  }
  close(fd);
  return out;
}

bool CdbHas(const std::string& path, const std::string& key) {
  return CdbLookup(path, key).has_value();
}

}  // namespace vmigrate::testing
