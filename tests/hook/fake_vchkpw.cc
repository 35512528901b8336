// A stand-in for vpopmail's vchkpw in the login hook tests, with the
// checkpassword contract the hook relies on (sources-and-cutover.md §8.1,
// §8.3): reads fd 3 (login\0password\0timestamp\0, at most 512 bytes) and
// closes it, splits the login as parse_email does (lower case, first of
// '@', '%', '/'), verifies the password with crypt(3) against the domain's
// vpasswd, and on success sets USER, HOME and VPOPUSER and execs argv[1...].
// A bad password or unknown user exits 1 (the checkpassword code; real
// vchkpw says 3). The environment steers it:
//   FAKE_VCHKPW_DOMAINS  the domains dir on disk (<domains>/<domain>/vpasswd)
//   FAKE_VCHKPW_RECORD   append every byte read from fd 3 to this file
//   FAKE_VCHKPW_EXIT     exit with this code right after reading fd 3
//   FAKE_VCHKPW_DEFAULT_DOMAIN  the domain of a login without one
#include <crypt.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::string in;
  char buf[512];
  ssize_t n;
  while (in.size() < sizeof buf && (n = read(3, buf, sizeof buf - in.size())) > 0) in.append(buf, static_cast<size_t>(n));
  close(3);
  if (const char* rec = std::getenv("FAKE_VCHKPW_RECORD")) {
    std::ofstream(rec, std::ios::app | std::ios::binary) << in;
  }
  if (const char* code = std::getenv("FAKE_VCHKPW_EXIT")) return std::atoi(code);
  size_t nul1 = in.find('\0');
  size_t nul2 = nul1 == std::string::npos ? nul1 : in.find('\0', nul1 + 1);
  if (nul2 == std::string::npos) return 2;
  std::string login = in.substr(0, nul1), password = in.substr(nul1 + 1, nul2 - nul1 - 1);
  std::string lower = login;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t cut = lower.find_first_of("@%/");
  std::string user = lower.substr(0, cut), domain = cut == std::string::npos ? "" : lower.substr(cut + 1);
  const char* default_domain = std::getenv("FAKE_VCHKPW_DEFAULT_DOMAIN");
  if (domain.empty() && default_domain != nullptr) domain = default_domain;
  const char* domains = std::getenv("FAKE_VCHKPW_DOMAINS");
  if (domains == nullptr) return 111;
  // Read whole and closed before the exec: the session must not inherit it.
  std::vector<std::string> lines;
  {
    std::ifstream vpasswd(std::string(domains) + "/" + domain + "/vpasswd");
    for (std::string l; std::getline(vpasswd, l);) lines.push_back(l);
  }
  for (const std::string& line : lines) {
    std::istringstream fields(line);
    std::string name, hash, uid, gid, gecos, dir;
    std::getline(fields, name, ':');
    std::getline(fields, hash, ':');
    if (name != user) continue;
    std::getline(fields, uid, ':');
    std::getline(fields, gid, ':');
    std::getline(fields, gecos, ':');
    std::getline(fields, dir, ':');
    const char* out = crypt(password.c_str(), hash.c_str());
    if (out == nullptr || hash.empty() || hash != out) return 1;
    setenv("USER", user.c_str(), 1);
    setenv("HOME", dir.c_str(), 1);
    setenv("VPOPUSER", login.c_str(), 1);
    if (argc < 2) return 0;
    execvp(argv[1], argv + 1);
    return 0;  // as vchkpw: an exec failure exits 0
  }
  return 1;
}
