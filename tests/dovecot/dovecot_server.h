// A private Dovecot instance for the real-server tests: its own config,
// base_dir, state_dir and log in a work dir, IMAP and POP3 on free loopback
// ports, run in the foreground (-F) in its own process group and stopped
// (the whole group) when the object goes away.
#ifndef VMIGRATE_TESTS_DOVECOT_DOVECOT_SERVER_H_
#define VMIGRATE_TESTS_DOVECOT_DOVECOT_SERVER_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"

namespace vmigrate::testing::dovecot {

constexpr const char* kDovecotBinary = "/usr/sbin/dovecot";

inline bool DovecotInstalled() { return access(kDovecotBinary, X_OK) == 0; }

/// Skips a real-server test where Dovecot is missing, loudly: such a skip
/// means the test proved nothing.
#define SKIP_WITHOUT_DOVECOT()                                                                   \
  do {                                                                                           \
    if (!::vmigrate::testing::dovecot::DovecotInstalled())                                       \
      GTEST_SKIP() << "\n*** DOVECOT IS NOT INSTALLED ("                                         \
                   << ::vmigrate::testing::dovecot::kDovecotBinary << " missing): the "          \
                   << "real-server test did NOT run. Install dovecot-imapd and dovecot-pop3d "   \
                   << "(scripts/install-deps does). ***\n";                                      \
  } while (0)

/// A port nobody listens on right now (bind port 0, read it, close).
inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

inline bool PortAccepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

/// Who Dovecot's processes run as. As root: the internal and login users are
/// the package's `dovecot`/`dovenull` (or `nobody`), and mail is read as
/// `mail_uid`:`mail_gid` (the trees must be owned by them; Dovecot refuses
/// uid 0 for mail). As a normal user everything runs as that user.
struct DovecotIdentity {
  std::string internal_user;
  std::string internal_group;
  std::string login_user;
  unsigned mail_uid = 0;
  unsigned mail_gid = 0;
  bool as_root = false;
};

inline std::string GroupName(gid_t gid) {
  struct group* g = getgrgid(gid);
  return g ? g->gr_name : std::to_string(gid);
}

inline DovecotIdentity PickIdentity() {
  DovecotIdentity id;
  if (geteuid() == 0) {
    id.as_root = true;
    struct passwd* internal = getpwnam("dovecot");
    if (!internal) internal = getpwnam("nobody");
    struct passwd* login = getpwnam("dovenull");
    if (!login) login = getpwnam("nobody");
    if (internal) {
      id.internal_user = internal->pw_name;
      id.internal_group = GroupName(internal->pw_gid);
    }
    if (login) id.login_user = login->pw_name;
    // vpopmail's uid/gid on the fixture host; any unprivileged id will do.
    id.mail_uid = 89;
    id.mail_gid = 89;
  } else {
    struct passwd* me = getpwuid(getuid());
    id.internal_user = me ? me->pw_name : std::to_string(getuid());
    id.internal_group = GroupName(getgid());
    id.login_user = id.internal_user;
    id.mail_uid = getuid();
    id.mail_gid = getgid();
  }
  return id;
}

/// What differs between the servers the tests run: the defaults are the
/// vpopmail target (Maildir below the userdb home, UIDL = file base name).
struct DovecotSettings {
  std::string mail_location = "maildir:%h/Maildir:INDEX=MEMORY";
  std::string pop3_uidl_format = "%f";
  std::string extra;  // more dovecot.conf lines (namespaces, mbox locks, ...)
  std::string tz;     // TZ of the server (INTERNALDATE zones); "" = inherited
  // PEM files (tests/support/test_ca.h): when both are set, ssl = yes, the
  // plain ports offer STARTTLS/STLS and imaps/pop3s listen on their own ports.
  std::string ssl_cert;
  std::string ssl_key;
};

class DovecotServer {
 public:
  /// The passdb and userdb blocks for a passwd-file
  /// (user:{CRYPT}hash:uid:gid::home::) that serves both.
  static std::string PasswdFileAuth(const std::string& passwd_file) {
    return "passdb {\n  driver = passwd-file\n  args = scheme=CRYPT username_format=%u " + passwd_file +
           "\n}\nuserdb {\n  driver = passwd-file\n  args = username_format=%u " + passwd_file + "\n}\n";
  }

  /// `work` is an empty directory for config, sockets, state and log;
  /// `auth` the passdb and userdb blocks of dovecot.conf (PasswdFileAuth,
  /// or an SQL passdb/userdb).
  DovecotServer(const std::string& work, const std::string& auth, const DovecotIdentity& id,
                const DovecotSettings& settings = {})
      : work_(work), tz_(settings.tz) {
    namespace fs = std::filesystem;
    fs::create_directories(work_ + "/base");
    fs::create_directories(work_ + "/state");
    imap_port_ = FreeLoopbackPort();
    pop3_port_ = FreeLoopbackPort();
    while (pop3_port_ == imap_port_) pop3_port_ = FreeLoopbackPort();
    bool tls = !settings.ssl_cert.empty() && !settings.ssl_key.empty();
    if (tls) {
      do imaps_port_ = FreeLoopbackPort();
      while (imaps_port_ == imap_port_ || imaps_port_ == pop3_port_);
      do pop3s_port_ = FreeLoopbackPort();
      while (pop3s_port_ == imap_port_ || pop3s_port_ == pop3_port_ || pop3s_port_ == imaps_port_);
    }
    std::ostringstream c;
    c << "# written by tests/dovecot (vmigrate real-server test)\n"
      << "base_dir = " << work_ << "/base\n"
      << "state_dir = " << work_ << "/state\n"
      << "log_path = " << work_ << "/dovecot.log\n"
      << "info_log_path = " << work_ << "/dovecot.log\n"
      << "listen = 127.0.0.1\n"
      << "protocols = imap pop3\n"
      << (tls ? "ssl = yes\nssl_cert = <" + settings.ssl_cert + "\nssl_key = <" + settings.ssl_key + "\n"
              : std::string("ssl = no\n"))
      << "disable_plaintext_auth = no\n"
      << "auth_mechanisms = plain login\n"
      << "default_internal_user = " << id.internal_user << "\n"
      << "default_internal_group = " << id.internal_group << "\n"
      << "default_login_user = " << id.login_user << "\n"
      << "first_valid_uid = 1\n"
      << "first_valid_gid = 1\n"
      << "mail_max_userip_connections = 100\n"
      // Indexes in memory only: nothing but Dovecot's own control files
      // (dovecot-uidlist, dovecot-uidvalidity) is written into the Maildirs.
      << "mail_location = " << settings.mail_location << "\n"
      << "pop3_uidl_format = " << settings.pop3_uidl_format << "\n"
      << settings.extra
      << auth
      << "service imap-login {\n  chroot =\n  service_count = 0\n"
      << "  inet_listener imap {\n    port = " << imap_port_ << "\n  }\n"
      << "  inet_listener imaps {\n    port = " << (tls ? imaps_port_ : 0) << "\n  }\n}\n"
      << "service pop3-login {\n  chroot =\n  service_count = 0\n"
      << "  inet_listener pop3 {\n    port = " << pop3_port_ << "\n  }\n"
      << "  inet_listener pop3s {\n    port = " << (tls ? pop3s_port_ : 0) << "\n  }\n}\n"
      // Reuse mail processes between logins (all users share one uid):
      // hundreds of logins stay fast.
      // No chroot anywhere: a non-root Dovecot cannot chroot.
      << "service anvil {\n  chroot =\n}\n"
      << "service imap-urlauth-login {\n  chroot =\n}\n"
      << "service imap {\n  service_count = 0\n  process_min_avail = 4\n  process_limit = 16\n}\n"
      << "service pop3 {\n  service_count = 0\n  process_min_avail = 4\n  process_limit = 16\n}\n";
    config_ = work_ + "/dovecot.conf";
    WriteFile(config_, c.str());
    chmod(config_.c_str(), 0644);
  }

  ~DovecotServer() { Stop(); }
  DovecotServer(const DovecotServer&) = delete;
  DovecotServer& operator=(const DovecotServer&) = delete;

  /// Starts `dovecot -F -c config` and waits until both ports accept. On
  /// failure returns false and fills `error` with the log.
  bool Start(std::string* error) {
    std::string out_path = work_ + "/dovecot.out";
    pid_ = fork();
    if (pid_ < 0) {
      *error = "fork failed";
      return false;
    }
    if (pid_ == 0) {
      setpgid(0, 0);
      // If the test process dies, the server must not outlive it.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      int in = open("/dev/null", O_RDONLY);
      int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in >= 0) dup2(in, 0);
      if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
      }
      // Dovecot passes TZ on to its processes (import_environment).
      if (!tz_.empty()) setenv("TZ", tz_.c_str(), 1);
      execl(kDovecotBinary, "dovecot", "-F", "-c", config_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *error = "dovecot exited during start-up (status " + std::to_string(status) + ")\n" + Log();
        return false;
      }
      if (PortAccepts(imap_port_) && PortAccepts(pop3_port_) && (imaps_port_ < 0 || PortAccepts(imaps_port_)) &&
          (pop3s_port_ < 0 || PortAccepts(pop3s_port_)))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    *error = "dovecot did not listen on 127.0.0.1:" + std::to_string(imap_port_) + "/" +
             std::to_string(pop3_port_) + " within 15 s\n" + Log();
    Stop();
    return false;
  }

  /// SIGTERM to the master (it stops its children), SIGKILL to the whole
  /// process group for anything left. The master is reaped last, so its pid
  /// (the group id) cannot be reused before the group kill.
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      siginfo_t info{};
      if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) break;
      if (info.si_pid == pid_) break;
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(-pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string Log() const {
    return "--- " + work_ + "/dovecot.log ---\n" + ReadFile(work_ + "/dovecot.log") + "--- " +
           work_ + "/dovecot.out ---\n" + ReadFile(work_ + "/dovecot.out");
  }

  /// The log's warnings, errors and fatals only.
  std::string LogProblems() const {
    std::istringstream in(ReadFile(work_ + "/dovecot.log") + ReadFile(work_ + "/dovecot.out"));
    std::string line, out;
    while (std::getline(in, line))
      if (line.find("Warning:") != std::string::npos || line.find("Error:") != std::string::npos ||
          line.find("Fatal:") != std::string::npos || line.find("Panic:") != std::string::npos)
        out += line + "\n";
    return out;
  }

  int imap_port() const { return imap_port_; }
  int pop3_port() const { return pop3_port_; }
  /// The implicit-TLS ports; -1 without DovecotSettings::ssl_cert.
  int imaps_port() const { return imaps_port_; }
  int pop3s_port() const { return pop3s_port_; }

 private:
  std::string work_;
  std::string config_;
  std::string tz_;
  int imap_port_ = -1;
  int pop3_port_ = -1;
  int imaps_port_ = -1;
  int pop3s_port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace vmigrate::testing::dovecot

#endif  // VMIGRATE_TESTS_DOVECOT_DOVECOT_SERVER_H_
