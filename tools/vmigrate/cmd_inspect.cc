#include <cstdio>
#include <memory>

#include "archive/layout.h"
#include "core/json.h"
#include "core/strings.h"
#include "vpopmail/flags.h"
#include "vpopmail/password.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

// Accounts vpopmail cannot reach (issue 12): carried, but the admin should know.
void PrintUnreachable(const Manifest& m) {
  std::vector<vpopmail::UnreachableUser> found;
  for (const auto& d : m.domains)
    for (auto& u : vpopmail::FindUnreachableUsers(d)) found.push_back(std::move(u));
  if (found.empty()) return;
  std::printf("\nwarning: accounts vpopmail cannot reach (carried as they are):\n");
  for (const auto& u : found)
    std::printf("  %s%s: %s\n", m.domains.size() > 1 ? (u.domain + ": ").c_str() : "",
                EscapeC(u.name).c_str(), u.reason.c_str());
}

// The FLAGS column: vpopmail's names for the bits ("NO_POP,NO_IMAP"), "-"
// for none, the field as it is when it is not a number.
std::string FlagsText(const std::string& pw_gid) {
  auto names = vpopmail::FlagNames(pw_gid);
  if (!names.empty()) return Join(names, ",");
  return pw_gid == "0" ? "-" : pw_gid;
}

// The source's user backend: "cdb", or "mysql (...)" naming the table layout.
std::string BackendText(const SourceHost& s) {
  if (s.backend != "mysql") return s.backend;
  return s.backend + (s.mysql_layout == "many" ? " (one vpopmail table for all domains)"
                                                : " (one table per domain)");
}

// `backend` and, for MySQL, `mysql_layout` (share/doc/json.md).
void BackendJson(JsonWriter* j, const SourceHost& s) {
  j->Key("backend").String(s.backend);
  if (!s.mysql_layout.empty()) j->Key("mysql_layout").String(s.mysql_layout);
}

// A full-server backup: one line per domain and the configuration files.
int InspectServer(const std::string& archive, const Manifest& m, bool json) {
  if (json) {
    JsonWriter j;
    j.BeginRecord("inspect").Key("format_version").Number(static_cast<std::uint64_t>(m.format_version));
    j.Key("kind").String(m.kind).Key("created_at").String(m.created).Key("generator").String(m.generator);
    j.Key("source").BeginObject().Key("hostname").String(m.source.hostname);
    j.Key("vpopmail_home").String(m.source.vpopmail_home).Key("qmail_dir").String(m.source.qmail_dir);
    BackendJson(&j, m.source);
    j.EndObject();
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
      j.Key("weak_hashes").StringArray(weak);
      UnreachableUsersJson(&j, "unreachable_users", vpopmail::FindUnreachableUsers(d));
      j.EndObject();
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
  std::printf("user backend:   %s\n", BackendText(m.source).c_str());
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
  PrintUnreachable(m);
  return 0;
}

// A delta: its base and result, what it changes per domain, and its
// removals and renames (delta.txt, the member after the manifest).
int InspectDelta(const std::string& path, OpenedArchive* archive, bool json) {
  const Manifest& m = archive->manifest;
  EntryHeader h;
  auto more = archive->reader->Next(&h);
  if (!more.ok()) return Fail("inspect", WithObject(more.status(), path));
  std::vector<std::string> records;
  if (*more && h.path == kDeltaEntry) {
    auto data = archive->reader->ReadAll(1u << 30);
    if (!data.ok()) return Fail("inspect", WithObject(data.status(), path));
    records = SplitLines(*data);
    if (!records.empty()) records.erase(records.begin());
  }
  if (json) {
    JsonWriter j;
    j.BeginRecord("inspect").Key("format_version").Number(static_cast<std::uint64_t>(m.format_version));
    j.Key("kind").String(m.kind).Key("created_at").String(m.created).Key("generator").String(m.generator);
    j.Key("add_only").Bool(m.delta_add_only);
    j.Key("source_host").String(m.source.hostname);
    BackendJson(&j, m.source);
    j.Key("base").String(m.delta_base).Key("result").String(m.delta_result);
    j.Key("domains").BeginArray();
    for (const auto& d : m.domains) {
      j.BeginObject().Key("name").String(d.name).Key("aliases").StringArray(d.aliases);
      j.Key("users").Number(d.users.size()).Key("base").String(d.delta.base).Key("result").String(d.delta.result);
      j.Key("files").Number(d.delta.files).Key("messages").Number(d.delta.messages).Key("bytes").Number(d.delta.bytes);
      j.Key("renames").Number(d.delta.renames).Key("removals").Number(d.delta.removals);
      j.Key("users_added").Number(d.delta.users_added).Key("users_removed").Number(d.delta.users_removed);
      j.Key("users_changed").Number(d.delta.users_changed).EndObject();
    }
    j.EndArray().Key("records").BeginArray();
    for (const std::string& line : records) {
      std::vector<std::string> f = Split(line, '\t');
      for (auto& field : f) UnescapeC(std::string(field), &field);
      j.BeginObject().Key("op").String(f[0]);
      if (f.size() > 1) j.Key("domain").String(f[1]);
      if (f[0] == "remove" && f.size() > 2) j.Key("path").String(f[2]);
      if (f[0] == "rename" && f.size() > 3) j.Key("from").String(f[2]).Key("to").String(f[3]);
      j.EndObject();
    }
    j.EndArray().EndObject();
    std::printf("%s\n", j.str().c_str());
    return 0;
  }
  std::printf("archive:        %s (format %d, kind delta: %s)\n", path.c_str(), m.format_version,
              m.delta_add_only ? "add-only, new messages since a state" : "changes since a state");
  std::printf("created:        %s by %s\n", m.created.c_str(), m.generator.c_str());
  std::printf("source host:    %s\n", m.source.hostname.c_str());
  std::printf("user backend:   %s\n", BackendText(m.source).c_str());
  std::printf("base state:     %s\n", m.delta_base.c_str());
  std::printf("result state:   %s\n", m.delta_result.c_str());
  for (const auto& d : m.domains) {
    std::printf("domain %s%s: %llu files and directories (%llu messages, %llu bytes), %llu renames, %llu removals; "
                "users: %llu added, %llu removed, %llu changed (%zu in all)\n",
                d.name.c_str(), d.delta.base.empty() ? " (new: carried whole)" : "",
                static_cast<unsigned long long>(d.delta.files), static_cast<unsigned long long>(d.delta.messages),
                static_cast<unsigned long long>(d.delta.bytes),
                static_cast<unsigned long long>(d.delta.renames), static_cast<unsigned long long>(d.delta.removals),
                static_cast<unsigned long long>(d.delta.users_added),
                static_cast<unsigned long long>(d.delta.users_removed),
                static_cast<unsigned long long>(d.delta.users_changed), d.users.size());
  }
  size_t shown = 0;
  for (const std::string& line : records) {
    if (++shown > 50) {
      std::printf("  ... and %zu more (--json lists them all)\n", records.size() - 50);
      break;
    }
    std::vector<std::string> f = Split(line, '\t');
    for (auto& field : f) UnescapeC(std::string(field), &field);
    if (f[0] == "remove" && f.size() > 2) std::printf("  remove  %s: %s\n", f[1].c_str(), EscapeC(f[2]).c_str());
    if (f[0] == "rename" && f.size() > 3)
      std::printf("  rename  %s: %s -> %s\n", f[1].c_str(), EscapeC(f[2]).c_str(), EscapeC(f[3]).c_str());
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
    JsonErrors(f->json);
    auto archive = OpenArchive(f->archive);
    if (!archive.ok()) {
      std::string shown = f->archive == "-" ? "<stdin>" : f->archive;
      return Fail("inspect", WithObject(archive.status(), shown), shown);
    }
    const Manifest* m = &archive->manifest;
    if (m->kind == kKindServer) return InspectServer(f->archive, *m, f->json);
    if (m->kind == kKindDelta) return InspectDelta(f->archive, &*archive, f->json);
    const ManifestDomain& d = m->domains[0];
    std::vector<std::string> weak;
    for (const auto& u : d.users) {
      std::string scheme = vpopmail::WeakHashScheme(u.entry.passwd);
      if (!scheme.empty()) weak.push_back(u.entry.name + " (" + scheme + ")");
    }
    if (f->json) {
      JsonWriter j;
      j.BeginRecord("inspect").Key("format_version").Number(static_cast<std::uint64_t>(m->format_version));
      j.Key("kind").String(m->kind).Key("created_at").String(m->created);
      j.Key("generator").String(m->generator);
      j.Key("source").BeginObject().Key("hostname").String(m->source.hostname);
      j.Key("vpopmail_home").String(m->source.vpopmail_home);
      j.Key("qmail_dir").String(m->source.qmail_dir).Key("domain_dir").String(d.dir);
      j.Key("uid").Number(d.uid).Key("gid").Number(d.gid);
      BackendJson(&j, m->source);
      j.Key("origin").String(m->source.origin);
      j.EndObject();
      j.Key("domain").String(d.name).Key("aliases").StringArray(d.aliases);
      j.Key("messages").Number(m->total_messages()).Key("bytes").Number(m->total_bytes());
      j.Key("users").Number(d.users.size()).Key("user_list").BeginArray();
      for (const auto& u : d.users) {
        j.BeginObject().Key("name").String(u.entry.name);
        j.Key("reachable").Bool(vpopmail::UnreachableReason(u.entry.name).empty());
        j.Key("flags").StringArray(vpopmail::FlagNames(u.entry.gid)).Key("pw_gid").String(u.entry.gid);
        j.Key("quota").String(u.entry.quota).Key("gecos").String(u.entry.gecos);
        j.Key("dir").String(u.rel_dir).Key("cleartext_stored").Bool(u.entry.has_clear && !u.entry.clear.empty());
        j.Key("weak_hash").String(vpopmail::WeakHashScheme(u.entry.passwd));
        j.Key("messages").Number(u.messages).Key("bytes").Number(u.bytes);
        // Sources other than vpopmail (export --from unix) say more per user.
        if (!u.hash_scheme.empty()) j.Key("hash_scheme").String(u.hash_scheme);
        if (m->source.origin != "vpopmail")
          j.Key("folders").StringArray(u.folders).Key("warnings").StringArray(u.warnings);
        j.EndObject();
      }
      j.EndArray().Key("merge_users").Bool(d.merge_users).Key("domain_files").StringArray(d.domain_files);
      UnreachableUsersJson(&j, "unreachable_users", vpopmail::FindUnreachableUsers(d));
      j.EndObject();
      std::printf("%s\n", j.str().c_str());
      return 0;
    }
    std::printf("archive:        %s (format %d, kind %s)\n", f->archive.c_str(), m->format_version,
                m->kind.c_str());
    std::printf("created:        %s by %s\n", m->created.c_str(), m->generator.c_str());
    std::printf("source host:    %s (vpopmail home %s, qmail dir %s)\n", m->source.hostname.c_str(),
                m->source.vpopmail_home.c_str(), m->source.qmail_dir.c_str());
    std::printf("user backend:   %s\n", BackendText(m->source).c_str());
    if (m->source.origin != "vpopmail")
      std::printf("converted from: a classic Unix mail host (etc/passwd, mbox spools)%s\n",
                  d.merge_users ? "; a batch: import adds its users to the domain" : "");
    std::printf("domain:         %s (dir %s, uid %lu gid %lu)\n", d.name.c_str(), d.dir.c_str(),
                d.uid, d.gid);
    std::printf("alias domains:  %s\n", d.aliases.empty() ? "none" : Join(d.aliases, ", ").c_str());
    std::printf("users:          %zu\n", d.users.size());
    std::printf("messages:       %llu\n", static_cast<unsigned long long>(m->total_messages()));
    std::printf("bytes:          %llu\n", static_cast<unsigned long long>(m->total_bytes()));
    std::printf("domain files:   %s\n", EscapeC(Join(d.domain_files, " ")).c_str());
    // FLAGS last: the names make it as wide as it needs.
    std::printf("\n%-24s %-18s %8s %10s  %-16s %s\n", "USER", "QUOTA", "MESSAGES", "BYTES", "HOME", "FLAGS");
    for (const auto& u : d.users)
      std::printf("%-24s %-18s %8llu %10llu  %-16s %s\n", u.entry.name.c_str(), u.entry.quota.c_str(),
                  static_cast<unsigned long long>(u.messages), static_cast<unsigned long long>(u.bytes),
                  u.rel_dir.c_str(), FlagsText(u.entry.gid).c_str());
    if (m->source.origin != "vpopmail") {
      std::printf("\n%-24s %-14s %s\n", "USER", "HASH", "FOLDERS");
      for (const auto& u : d.users)
        std::printf("%-24s %-14s %s\n", u.entry.name.c_str(), u.hash_scheme.c_str(),
                    u.folders.empty() ? "-" : Join(u.folders, ", ").c_str());
      for (const auto& u : d.users)
        for (const auto& w : u.warnings) std::printf("warning: %s: %s\n", u.entry.name.c_str(), w.c_str());
    }
    if (!weak.empty())
      std::printf("\nwarning: weak password hashes (DES/MD5-crypt): %s\n", Join(weak, ", ").c_str());
    PrintUnreachable(*m);
    return 0;
  };
}

}  // namespace vmigrate::cli
