// The small checks `vmigrate move` makes between its steps: how a child
// vmigrate ended, whether the remote vmigrate speaks the same CLI, what a
// state file's digest is, whether the new host's SMTP port answers.
#ifndef VMIGRATE_CUTOVER_MOVE_SUPPORT_H_
#define VMIGRATE_CUTOVER_MOVE_SUPPORT_H_

#include <string>

#include "core/status.h"
#include "core/subprocess.h"

namespace vmigrate {

/// Status of a vmigrate child on this host: OK for exit 0; otherwise the
/// Status whose exit code (core/exit_code.h ToExit) is the child's own, so
/// `move` exits with the failed step's code, and the child's last stderr
/// line (without its "vmigrate: CMD: " prefix) as the message.
Status ChildStatus(const std::string& what, const StageResult& r);

/// `remote` is the first line of the remote `vmigrate --version`
/// ("vmigrate X.Y.Z"); compatible when X.Y equals this build's. Otherwise
/// kRemoteFailed naming `host` and both versions.
Status CheckCompatibleVersion(const std::string& host, const std::string& remote);

/// The content digest of a state file (its last line, "digest<TAB><hex>",
/// share/doc/state-format.md); kCorrupt when the file does not end so
/// (cut short), kNotFound when it is missing.
Result<std::string> StateFileDigest(const std::string& path);

/// Connects to host:port (5 s timeout) and reads the greeting: OK for a
/// 220 line; kPeerRefused naming host:port and the cause otherwise (cannot
/// resolve, refused, timed out, another reply). Sends QUIT before closing.
/// The dry run of `move` uses this, not cutover/smtp_probe.h's ProbeSmtp:
/// before the copy, the new host rightly refuses RCPT for the domain, so
/// only "SMTP answers there" can be checked then; `cutover forward` makes
/// the full RCPT check when it matters.
Status CheckSmtpGreeting(const std::string& host, unsigned port);

}  // namespace vmigrate

#endif  // VMIGRATE_CUTOVER_MOVE_SUPPORT_H_
