#include "mailsource/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libetpan/libetpan.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "mailsource/tls_verify.h"

namespace vmigrate::mailsource {
namespace {

// The EOF-as-error wrapper of OpenPlainStream: `data` is the socket
// mailstream_low it forwards to.
mailstream_low* Inner(mailstream_low* s) { return static_cast<mailstream_low*>(s->data); }

ssize_t EofRead(mailstream_low* s, void* buf, size_t count) {
  ssize_t r = mailstream_low_read(Inner(s), buf, count);
  return r == 0 ? -1 : r;
}
ssize_t EofWrite(mailstream_low* s, const void* buf, size_t count) {
  return mailstream_low_write(Inner(s), buf, count);
}
int EofClose(mailstream_low* s) { return mailstream_low_close(Inner(s)); }
int EofGetFd(mailstream_low* s) { return mailstream_low_get_fd(Inner(s)); }
// Frees the socket low (which does not close the fd: libetpan's STARTTLS
// frees the plain low and keeps the fd for the TLS one) and the wrapper.
void EofFree(mailstream_low* s) {
  mailstream_low_free(Inner(s));
  free(s);
}
void EofCancel(mailstream_low* s) { mailstream_low_cancel(Inner(s)); }
struct mailstream_cancel* EofGetCancel(mailstream_low* s) { return mailstream_low_get_cancel(Inner(s)); }

mailstream_low_driver kEofDriver = {
    EofRead, EofWrite, EofClose, EofGetFd, EofFree, EofCancel, EofGetCancel, nullptr, nullptr, nullptr, nullptr,
};

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// connect() on a non-blocking socket, waiting at most `timeout_seconds`.
// Returns 0 or an errno value.
int ConnectWithin(int fd, const sockaddr* addr, socklen_t len, int timeout_seconds) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return errno;
  int err = 0;
  if (connect(fd, addr, len) != 0) {
    if (errno != EINPROGRESS) return errno;
    pollfd p{fd, POLLOUT, 0};
    int r;
    do {
      r = poll(&p, 1, timeout_seconds * 1000);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return errno;
    if (r == 0) return ETIMEDOUT;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) return errno;
    if (err != 0) return err;
  }
  if (fcntl(fd, F_SETFL, flags) != 0) return errno;
  return 0;
}

}  // namespace

SigpipeBlock::SigpipeBlock() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, &old_);
}

SigpipeBlock::~SigpipeBlock() {
  if (sigismember(&old_, SIGPIPE)) return;  // the caller blocks it anyway
  sigset_t set, pending;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigpending(&pending);
  if (sigismember(&pending, SIGPIPE)) {
    timespec zero{};
    while (sigtimedwait(&set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

Result<int> ConnectTcp(const SourceUrl& url, int timeout_seconds) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(url.port);
  int gai = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0)
    return Status::PeerRefused(url.text + ": cannot resolve " + url.host + ": " + gai_strerror(gai));
  int last_error = 0;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (s < 0) {
      last_error = errno;
      continue;
    }
    last_error = ConnectWithin(s, a->ai_addr, a->ai_addrlen, timeout_seconds);
    if (last_error == 0)
      fd = s;
    else
      close(s);
  }
  freeaddrinfo(found);
  if (fd < 0) return Status::PeerRefused(url.text + ": cannot connect: " + std::strerror(last_error));
  return fd;
}

mailstream* OpenPlainStream(int fd, int timeout_seconds) {
  mailstream* s = mailstream_socket_open_timeout(fd, timeout_seconds);
  if (s == nullptr) {
    close(fd);
    return nullptr;
  }
  mailstream_low* wrapper = mailstream_low_new(mailstream_get_low(s), &kEofDriver);
  if (wrapper == nullptr) {
    mailstream_close(s);
    return nullptr;
  }
  mailstream_set_low(s, wrapper);
  return s;
}

void SetServerNameCallback(::mailstream_ssl_context* context, void* host) {
  if (host != nullptr) mailstream_ssl_set_server_name(context, static_cast<char*>(host));
}

void* ServerNameFor(const SourceUrl& url) {
  return IsIpLiteral(url.host) ? nullptr : const_cast<char*>(url.host.c_str());
}

mailstream* OpenTlsStream(int fd, const std::string& host, int timeout_seconds) {
  void* name = IsIpLiteral(host) ? nullptr : const_cast<char*>(host.c_str());
  return mailstream_ssl_open_with_callback_timeout(fd, timeout_seconds, SetServerNameCallback, name);
}

Status CheckPeer(mailstream* s, const SourceUrl& url, const ConnectOptions& options) {
  if (options.insecure) return Status::OK();
  std::vector<std::string> der;
  carray* chain = mailstream_get_certificate_chain(s);
  if (chain != nullptr) {
    for (unsigned i = 0; i < carray_count(chain); ++i) {
      auto* cert = static_cast<MMAPString*>(carray_get(chain, i));
      if (cert != nullptr) der.emplace_back(cert->str, cert->len);
    }
    mailstream_certificate_chain_free(chain);
  }
  return VerifyServerCertificate(der, url.host, options.ca_file).WithContext(url.text);
}

bool HasLineBreak(const std::string& text) { return text.find_first_of(std::string("\r\n\0", 3)) != std::string::npos; }

}  // namespace vmigrate::mailsource
