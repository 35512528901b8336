// Running vmigrate on the new host over ssh, for `vmigrate move`.
//
// ssh joins the words after the destination with spaces and hands that one
// string to the remote user's shell (OpenSSH ssh(1): "command ... is executed
// on the remote host instead of a login shell"). So the remote command is
// sent as one line in which every word is single-quoted: the remote shell
// then sees exactly our words, whatever spaces, quotes, `$` or `;` they hold.
// No shell runs on this host: ssh is exec'd with an argv.
#ifndef VMIGRATE_CUTOVER_REMOTE_H_
#define VMIGRATE_CUTOVER_REMOTE_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/subprocess.h"

namespace vmigrate {

/// `word` as one POSIX shell word: in single quotes, each ' written as '\''.
std::string ShellQuote(std::string_view word);

/// The words, each ShellQuote'd, joined by single spaces.
std::string ShellCommandLine(const std::vector<std::string>& words);

/// Where and how to reach the new host.
struct SshTarget {
  /// The ssh program and its options (--ssh-command split on blanks),
  /// e.g. {"ssh", "-p", "2222"}.
  std::vector<std::string> ssh_command;
  /// "[USER@]HOST" as given to --to.
  std::string destination;

  /// HOST without "USER@", for messages and for the forward route.
  std::string host() const;
};

/// Checks --to and splits --ssh-command (empty means "ssh"). kInvalidInput
/// for an empty or option-like destination ("-oProxyCommand=..." would be
/// taken by ssh as an option) or one holding blanks.
Result<SshTarget> MakeSshTarget(const std::string& ssh_command, const std::string& destination);

/// ssh_command + {"--", destination, ShellCommandLine(remote_words)}.
std::vector<std::string> SshArgv(const SshTarget& target, const std::vector<std::string>& remote_words);

/// ssh's own exit code when it fails (cannot connect, authentication,
/// host key); the remote command's exit code is passed through otherwise.
constexpr int kSshFailedExit = 255;

/// Status of one ssh run: OK for exit 0; otherwise kRemoteFailed with one
/// line naming the host: "HOST: ssh failed: <ssh's stderr line>" for exit
/// 255, "HOST: <what> failed (exit N): <its stderr line>" for the remote
/// command's own failure, "HOST: <what> killed by signal N" for a signal.
Status RemoteStatus(const SshTarget& target, const std::string& what, const StageResult& r);

}  // namespace vmigrate

#endif  // VMIGRATE_CUTOVER_REMOTE_H_
