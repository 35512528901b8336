#include "cutover/remote.h"

#include "core/strings.h"

namespace vmigrate {

std::string ShellQuote(std::string_view word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  out += '\'';
  return out;
}

std::string ShellCommandLine(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) {
    if (!line.empty()) line += ' ';
    line += ShellQuote(w);
  }
  return line;
}

std::string SshTarget::host() const {
  size_t at = destination.rfind('@');
  return at == std::string::npos ? destination : destination.substr(at + 1);
}

Result<SshTarget> MakeSshTarget(const std::string& ssh_command, const std::string& destination) {
  SshTarget t;
  for (const auto& word : Split(ssh_command.empty() ? "ssh" : ssh_command, ' '))
    if (!Trim(word).empty()) t.ssh_command.push_back(Trim(word));
  if (t.ssh_command.empty()) return Status::InvalidInput("--ssh-command is empty");
  if (destination.empty()) return Status::InvalidInput("--to needs [USER@]HOST");
  if (destination[0] == '-')
    return Status::InvalidInput("--to " + destination + ": a host name cannot start with '-'");
  for (char c : destination)
    if (c == ' ' || c == '\t' || c == '\n' || c == '/')
      return Status::InvalidInput("--to '" + EscapeC(destination) + "' is not [USER@]HOST");
  t.destination = destination;
  if (t.host().empty()) return Status::InvalidInput("--to " + destination + " names no host");
  return t;
}

std::vector<std::string> SshArgv(const SshTarget& target, const std::vector<std::string>& remote_words) {
  std::vector<std::string> argv = target.ssh_command;
  argv.push_back("--");
  argv.push_back(target.destination);
  argv.push_back(ShellCommandLine(remote_words));
  return argv;
}

Status RemoteStatus(const SshTarget& target, const std::string& what, const StageResult& r) {
  if (r.exit_code == 0) return Status::OK();
  std::string line = r.LastErrLine();
  if (r.exit_code < 0)
    return Status::RemoteFailed(target.host() + ": " + what + " killed by signal " + std::to_string(r.signal));
  if (r.exit_code == kSshFailedExit)
    return Status::RemoteFailed(target.host() + ": ssh failed: " + (line.empty() ? "exit 255, no message" : line));
  return Status::RemoteFailed(target.host() + ": " + what + " failed (exit " + std::to_string(r.exit_code) +
                              ")" + (line.empty() ? "" : ": " + line));
}

}  // namespace vmigrate
