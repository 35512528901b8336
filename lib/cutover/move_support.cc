#include "cutover/move_support.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate {
namespace {

// The inverse of ToExit for the codes a vmigrate child exits with.
Status StatusForExit(int code, std::string msg) {
  switch (code) {
    case 2: return Status::InvalidInput(std::move(msg));
    case 5: return Status::Conflict(std::move(msg));
    case 6: return Status::Corrupt(std::move(msg));
    case 7: return Status::NotFound(std::move(msg));
    case 8: return Status::DataRefused(std::move(msg));
    case 9: return Status::PeerRefused(std::move(msg));
    case 10: return Status::RemoteFailed(std::move(msg));
    case 130: return Status::Interrupted(std::move(msg));
    default: return Status::IoError(std::move(msg));
  }
}

// "X.Y" of "vmigrate X.Y.Z".
std::string MajorMinor(const std::string& version_line) {
  std::string v = version_line;
  if (StartsWith(v, "vmigrate ")) v = v.substr(9);
  auto parts = Split(Trim(v), '.');
  if (parts.size() < 2 || parts[0].empty() || parts[1].empty()) return "";
  return parts[0] + "." + parts[1];
}

struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

Status ChildStatus(const std::string& what, const StageResult& r) {
  if (r.exit_code == 0) return Status::OK();
  if (r.exit_code < 0)
    return Status::IoError(what + " killed by signal " + std::to_string(r.signal));
  std::string line = r.LastErrLine();
  // "vmigrate: export: example.com: ..." -> "example.com: ..."
  if (StartsWith(line, "vmigrate: ")) {
    size_t colon = line.find(": ", 10);
    if (colon != std::string::npos) line = line.substr(colon + 2);
  }
  return StatusForExit(r.exit_code, what + " failed (exit " + std::to_string(r.exit_code) + ")" +
                                        (line.empty() ? "" : ": " + line));
}

Status CheckCompatibleVersion(const std::string& host, const std::string& remote) {
  std::string first = remote.substr(0, remote.find('\n'));
  std::string theirs = MajorMinor(first), ours = MajorMinor(VMIGRATE_VERSION);
  if (theirs.empty())
    return Status::RemoteFailed(host + ": `vmigrate --version` printed '" + EscapeC(first) +
                                "', not a vmigrate version");
  if (theirs != ours)
    return Status::RemoteFailed(host + ": vmigrate " + Trim(first.substr(first.find(' ') + 1)) +
                                " there is not compatible with " VMIGRATE_VERSION
                                " here (the major.minor versions must match)");
  return Status::OK();
}

Result<std::string> StateFileDigest(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FromErrno("cannot open " + path, errno);
  char buf[256];
  off_t size = lseek(fd, 0, SEEK_END);
  off_t from = size > static_cast<off_t>(sizeof buf) ? size - static_cast<off_t>(sizeof buf) : 0;
  ssize_t got = size < 0 ? -1 : pread(fd, buf, sizeof buf, from);
  int err = errno;
  close(fd);
  if (got < 0) return FromErrno("cannot read " + path, err);
  std::string tail(buf, static_cast<size_t>(got));
  if (tail.empty() || tail.back() != '\n') return Status::Corrupt(path + ": cut short (no final digest line)");
  tail.pop_back();
  std::string last = tail.substr(tail.rfind('\n') == std::string::npos ? 0 : tail.rfind('\n') + 1);
  if (!StartsWith(last, "digest\t") || last.size() != 7 + 64)
    return Status::Corrupt(path + ": cut short (no final digest line)");
  return last.substr(7);
}

Status CheckSmtpGreeting(const std::string& host, unsigned port) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return Status::PeerRefused(where + ": cannot resolve: " + gai_strerror(rc));
  std::string error = "no address";
  Socket s;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    Socket c;
    c.fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (c.fd < 0) continue;
    if (connect(c.fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      error = strerror(errno);
      continue;
    }
    pollfd p{c.fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (poll(&p, 1, 5000) != 1) {
      error = "timed out";
      continue;
    }
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr != 0) {
      error = strerror(soerr);
      continue;
    }
    s.fd = c.fd;
    c.fd = -1;
    break;
  }
  freeaddrinfo(res);
  if (s.fd < 0) return Status::PeerRefused(where + ": cannot connect for SMTP: " + error);
  std::string line;
  char buf[512];
  while (line.find('\n') == std::string::npos && line.size() < 4096) {
    pollfd p{s.fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return Status::PeerRefused(where + ": no SMTP greeting within 5 s");
    ssize_t got = read(s.fd, buf, sizeof buf);
    if (got <= 0) return Status::PeerRefused(where + ": closed the connection before greeting");
    line.append(buf, static_cast<size_t>(got));
  }
  (void)!write(s.fd, "QUIT\r\n", 6);
  line = Trim(line.substr(0, line.find('\n')));
  if (!StartsWith(line, "220")) return Status::PeerRefused(where + ": greeted with '" + EscapeC(line) + "', not 220");
  return Status::OK();
}

}  // namespace vmigrate
