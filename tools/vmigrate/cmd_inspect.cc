#include <cstdio>
#include <memory>

#include "archive/layout.h"
#include "core/json.h"
#include "core/strings.h"
#include "vpopmail/password.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

// A full-server backup: one line per domain and the configuration files.
int InspectServer(const std::string& archive, const Manifest& m, bool json) {
  if (json) {
    JsonWriter j;
    j.BeginObject().Key("format_version").Number(static_cast<std::uint64_t>(m.format_version));
    j.Key("kind").String(m.kind).Key("created").String(m.created).Key("generator").String(m.generator);
    j.Key("source").BeginObject().Key("hostname").String(m.source.hostname);
    j.Key("vpopmail_home").String(m.source.vpopmail_home).Key("qmail_dir").String(m.source.qmail_dir).EndObject();
    j.Key("messages").Number(m.total_messages()).Key("bytes").Number(m.total_bytes());
    j.Key("domains").BeginArray();
    for (const auto& d : m.domains) {
      std::uint64_t messages = 0, bytes = 0;
      std::vector<std::string> weak;
      for (const auto& u : d.users) {
        messages += u.messages;
        bytes += u.bytes;
        if (!vpopmail::WeakHashScheme(u.entry.passwd).empty()) weak.push_back(u.entry.name);
      }
      j.BeginObject().Key("name").String(d.name).Key("dir").String(d.dir).Key("aliases").StringArray(d.aliases);
      j.Key("users").Number(d.users.size()).Key("messages").Number(messages).Key("bytes").Number(bytes);
      j.Key("weak_hashes").StringArray(weak).EndObject();
    }
    j.EndArray().Key("server_files").StringArray(m.server_files).EndObject();
    std::printf("%s\n", j.str().c_str());
    return 0;
  }
  std::printf("archive:        %s (format %d, kind %s: a full-server backup)\n", archive.c_str(),
              m.format_version, m.kind.c_str());
  std::printf("created:        %s by %s\n", m.created.c_str(), m.generator.c_str());
  std::printf("source host:    %s (vpopmail home %s, qmail dir %s)\n", m.source.hostname.c_str(),
              m.source.vpopmail_home.c_str(), m.source.qmail_dir.c_str());
  std::printf("messages:       %llu\n", static_cast<unsigned long long>(m.total_messages()));
  std::printf("bytes:          %llu\n", static_cast<unsigned long long>(m.total_bytes()));
  std::printf("server files:   %s\n", m.server_files.empty() ? "none" : Join(m.server_files, " ").c_str());
  std::printf("\n%-32s %6s %10s %12s  %s\n", "DOMAIN", "USERS", "MESSAGES", "BYTES", "ALIASES");
  for (const auto& d : m.domains) {
    std::uint64_t messages = 0, bytes = 0;
    for (const auto& u : d.users) {
      messages += u.messages;
      bytes += u.bytes;
    }
    std::printf("%-32s %6zu %10llu %12llu  %s\n", d.name.c_str(), d.users.size(),
                static_cast<unsigned long long>(messages), static_cast<unsigned long long>(bytes),
                d.aliases.empty() ? "-" : Join(d.aliases, ", ").c_str());
  }
  return 0;
}

}  // namespace

Handler AddInspect(CLI::App* app) {
  struct Flags {
    std::string archive;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("ARCHIVE", f->archive, "archive to describe, '-' for stdin")->required();
  app->add_flag("--json", f->json, "print one JSON object");
  return [f]() -> int {
    auto archive = OpenArchive(f->archive);
    if (!archive.ok()) return Fail("inspect", archive.status());
    const Manifest* m = &archive->manifest;
    if (m->kind == kKindServer) return InspectServer(f->archive, *m, f->json);
    const ManifestDomain& d = m->domains[0];
    std::vector<std::string> weak;
    for (const auto& u : d.users) {
      std::string scheme = vpopmail::WeakHashScheme(u.entry.passwd);
      if (!scheme.empty()) weak.push_back(u.entry.name + " (" + scheme + ")");
    }
    if (f->json) {
      JsonWriter j;
      j.BeginObject().Key("format_version").Number(static_cast<std::uint64_t>(m->format_version));
      j.Key("kind").String(m->kind).Key("created").String(m->created);
      j.Key("generator").String(m->generator);
      j.Key("source").BeginObject().Key("hostname").String(m->source.hostname);
      j.Key("vpopmail_home").String(m->source.vpopmail_home);
      j.Key("qmail_dir").String(m->source.qmail_dir).Key("domain_dir").String(d.dir);
      j.Key("uid").Number(d.uid).Key("gid").Number(d.gid).EndObject();
      j.Key("domain").String(d.name).Key("aliases").StringArray(d.aliases);
      j.Key("messages").Number(m->total_messages()).Key("bytes").Number(m->total_bytes());
      j.Key("users").BeginArray();
      for (const auto& u : d.users) {
        j.BeginObject().Key("name").String(u.entry.name).Key("flags").String(u.entry.gid);
        j.Key("quota").String(u.entry.quota).Key("gecos").String(u.entry.gecos);
        j.Key("dir").String(u.rel_dir).Key("cleartext_stored").Bool(u.entry.has_clear && !u.entry.clear.empty());
        j.Key("weak_hash").String(vpopmail::WeakHashScheme(u.entry.passwd));
        j.Key("messages").Number(u.messages).Key("bytes").Number(u.bytes).EndObject();
      }
      j.EndArray().Key("domain_files").StringArray(d.domain_files).EndObject();
      std::printf("%s\n", j.str().c_str());
      return 0;
    }
    std::printf("archive:        %s (format %d, kind %s)\n", f->archive.c_str(), m->format_version,
                m->kind.c_str());
    std::printf("created:        %s by %s\n", m->created.c_str(), m->generator.c_str());
    std::printf("source host:    %s (vpopmail home %s, qmail dir %s)\n", m->source.hostname.c_str(),
                m->source.vpopmail_home.c_str(), m->source.qmail_dir.c_str());
    std::printf("domain:         %s (dir %s, uid %lu gid %lu)\n", d.name.c_str(), d.dir.c_str(),
                d.uid, d.gid);
    std::printf("alias domains:  %s\n", d.aliases.empty() ? "none" : Join(d.aliases, ", ").c_str());
    std::printf("users:          %zu\n", d.users.size());
    std::printf("messages:       %llu\n", static_cast<unsigned long long>(m->total_messages()));
    std::printf("bytes:          %llu\n", static_cast<unsigned long long>(m->total_bytes()));
    std::printf("domain files:   %s\n", Join(d.domain_files, " ").c_str());
    std::printf("\n%-24s %-10s %-18s %8s %10s  %s\n", "USER", "FLAGS", "QUOTA", "MESSAGES", "BYTES", "HOME");
    for (const auto& u : d.users)
      std::printf("%-24s %-10s %-18s %8llu %10llu  %s\n", u.entry.name.c_str(), u.entry.gid.c_str(),
                  u.entry.quota.c_str(), static_cast<unsigned long long>(u.messages),
                  static_cast<unsigned long long>(u.bytes), u.rel_dir.c_str());
    if (!weak.empty())
      std::printf("\nwarning: weak password hashes (DES/MD5-crypt): %s\n", Join(weak, ", ").c_str());
    return 0;
  };
}

}  // namespace vmigrate::cli
