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

}  // namespace vmigrate
