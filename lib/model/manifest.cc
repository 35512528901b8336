#include "model/manifest.h"

namespace vmigrate {

std::uint64_t Manifest::total_messages() const {
  std::uint64_t n = 0;
  for (const auto& d : domains)
    for (const auto& u : d.users) n += u.messages;
  return n;
}

std::uint64_t Manifest::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& d : domains)
    for (const auto& u : d.users) n += u.bytes;
  return n;
}

std::string ArchiveDomainPrefix(const std::string& domain) { return "domains/" + domain + "/"; }
std::string ArchiveFilesPrefix(const std::string& domain) {
  return ArchiveDomainPrefix(domain) + "files/";
}
std::string ArchiveUserPrefix(const std::string& domain, const std::string& user) {
  return ArchiveDomainPrefix(domain) + "users/" + user + "/";
}

const std::vector<ServerFileSpec>& ServerFilePaths() {
  // What a mail-hosting restore needs and nothing host-private: no
  // vpopmail.mysql (database credentials) and no qmail binaries or queues.
  static const std::vector<ServerFileSpec> kFiles = {
      {"qmail/control/me", ServerFileMerge::kReplace},
      {"qmail/control/defaultdomain", ServerFileMerge::kReplace},
      {"qmail/control/locals", ServerFileMerge::kLines},
      {"qmail/control/smtproutes", ServerFileMerge::kReplace},
      {"qmail/control/rcpthosts", ServerFileMerge::kLines},
      {"qmail/control/morercpthosts", ServerFileMerge::kLines},
      {"qmail/control/virtualdomains", ServerFileMerge::kLines},
      {"qmail/users/assign", ServerFileMerge::kLines},
      {"vpopmail/etc/vlimits.default", ServerFileMerge::kReplace},
      {"vpopmail/etc/vusagec.conf", ServerFileMerge::kReplace},
      {"vpopmail/etc/tcp.smtp", ServerFileMerge::kReplace},
      {"vpopmail/etc/tcp.smtp.cdb", ServerFileMerge::kReplace},
      {"vpopmail/domains/.dir-control", ServerFileMerge::kInfo},
  };
  return kFiles;
}

const ServerFileSpec* FindServerFile(const std::string& path) {
  for (const ServerFileSpec& spec : ServerFilePaths())
    if (path == spec.path) return &spec;
  return nullptr;
}

std::string ServerFileHostPath(const std::string& path, const std::string& vpopmail_home,
                               const std::string& qmail_dir) {
  const std::string qmail = "qmail/";
  if (path.compare(0, qmail.size(), qmail) == 0) return qmail_dir + path.substr(qmail.size() - 1);
  return vpopmail_home + path.substr(std::string("vpopmail/").size() - 1);
}

}  // namespace vmigrate
