// Registering domains with qmail the way vpopmail's add_domain_assign does,
// as one transaction: users/assign (+ users/cdb), rcpthosts or
// morercpthosts (+ morercpthosts.cdb), virtualdomains, and removal from
// locals. Every file is written atomically under the "<file>.lock" fcntl
// locks vpopmail takes, and the whole set can be rolled back.
#ifndef VMIGRATE_QMAIL_CONTROL_UPDATE_H_
#define VMIGRATE_QMAIL_CONTROL_UPDATE_H_

#include <signal.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/file_lock.h"
#include "core/host_paths.h"
#include "core/status.h"
#include "qmail/assign.h"
#include "qmail/control_file.h"

namespace vmigrate::qmail {

struct ControlUpdateOptions {
  /// Run <qmail>/bin/qmail-newu and qmail-newmrh (argv, no shell) instead of
  /// writing the cdb files ourselves. Only meaningful for root "/".
  bool use_qmail_programs = false;
  // No owner: qmail's files keep theirs, new ones are root's (QmailFileAttrsFor).
};

/// One line a transaction adds to ('+') or removes from ('-') a file.
struct ControlEdit {
  std::string file;  // host path, e.g. /var/qmail/control/rcpthosts
  char op = '+';
  std::string line;
};

/// Lines of a restored server's control files that are not vpopmail domain
/// registrations (import --all): each is added only when the target lacks it.
struct ExtraLines {
  std::vector<std::string> assign;          // added before "." unless its key is there
  std::vector<std::string> rcpthosts;       // unless rcpthosts or morercpthosts has it
  std::vector<std::string> morercpthosts;   // likewise; morercpthosts.cdb is rebuilt
  std::vector<std::string> virtualdomains;  // unless its key (before ':') is there
  std::vector<std::string> locals;          // unless present

  bool empty() const {
    return assign.empty() && rcpthosts.empty() && morercpthosts.empty() &&
           virtualdomains.empty() && locals.empty();
  }
};

/// One registration transaction. Construct, Lock(), CheckAbsent(), Apply();
/// on any later failure call Rollback() to put every file back.
class ControlTransaction {
 public:
  ControlTransaction(HostPaths paths, ControlUpdateOptions options);
  ~ControlTransaction();

  /// Takes users/assign.lock, control/rcpthosts.lock, control/morercpthosts.lock,
  /// control/virtualdomains.lock and control/locals.lock (creating them 0600),
  /// in that order. Fails with kConflict if they stay locked.
  Status Lock();

  /// kConflict naming the domain if any of `domains` is already a vpopmail
  /// domain in users/assign or has an entry in control/virtualdomains.
  Status CheckAbsent(const std::vector<std::string>& domains) const;

  /// Adds every entry: the assign line, rcpthosts (or morercpthosts once
  /// rcpthosts has >= 50 lines, then rebuilds morercpthosts.cdb), the
  /// "d:d" virtualdomains line, removes "d" from locals if present, and
  /// rebuilds users/cdb. Snapshots each file first for Rollback().
  /// `extras` are added before the entries (see ExtraLines).
  Status Apply(const std::vector<DomainAssign>& entries, const ExtraLines& extras = {});

  /// What Apply() would change, computed from the files as they are now,
  /// without writing anything (import --dry-run).
  Result<std::vector<ControlEdit>> Plan(const std::vector<DomainAssign>& entries,
                                        const ExtraLines& extras = {}) const;

  /// Restores every file Apply() changed (atomically, from the snapshot).
  Status Rollback();

 private:
  struct Snapshot {
    bool existed = false;
    std::string contents;
    mode_t mode = 0644;
    FileOwner owner;
  };
  struct Computed {
    std::string assign_path, rcpthosts_path, more_path, virtual_path, locals_path;
    std::optional<ControlFile> assign, rcpthosts, more, virtualdomains, locals;
    bool assign_changed = false, rcpthosts_changed = false, more_changed = false,
         virtual_changed = false, locals_changed = false;
    std::vector<ControlEdit> edits;
  };
  Status Compute(const std::vector<DomainAssign>& entries, const ExtraLines& extras,
                 Computed* c) const;
  void AddExtras(const ExtraLines& extras, Computed* c) const;
  Status Remember(const std::string& path);
  Status RebuildUsersCdb(const std::string& assign_text);
  Status RebuildMoreRcpthostsCdb(const std::string& text);
  /// Runs <qmail_dir>/bin/<program> (argv, no shell); kIoError unless it exits 0.
  Status RunQmailProgram(const std::string& program) const;

  HostPaths paths_;
  ControlUpdateOptions options_;
  std::vector<FileLock> locks_;
  std::map<std::string, Snapshot> snapshots_;  // on-disk path -> before
};

/// Sends `signal` (SIGHUP: re-read locals and virtualdomains; SIGALRM:
/// retry every queued message now, sources-and-cutover §1.4) to every
/// running qmail-send process (found through /proc, skipping
/// supervise/multilog/runsv/svscan, as vpopmail's signal_process).
/// Returns how many were signalled. `proc_dir` is where the process table is
/// read (tests pass a fake one so the host's own qmail-send is never seen).
Result<int> SignalQmailSend(int signal = SIGHUP, const std::string& proc_dir = "/proc");

/// Like SignalQmailSend, but only the qmail-send of the installation at
/// `paths`: qmail-send runs with <qmail-dir>/queue as its working directory
/// (NQ:qmail-send.c main chdirs there), so a process whose /proc/PID/cwd is
/// another directory belongs to another qmail (a second instance, another
/// --root tree) and is left alone. Returns how many were signalled (0 when
/// none runs: the caller tells the admin). `proc_dir` as for SignalQmailSend.
Result<int> SignalQmailSendOf(const HostPaths& paths, int signal,
                              const std::string& proc_dir = "/proc");

}  // namespace vmigrate::qmail

#endif  // VMIGRATE_QMAIL_CONTROL_UPDATE_H_
