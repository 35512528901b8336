// export --dry-run: what an export would archive (counts, bytes, warnings,
// estimated size), from the same scan as a real export, with nothing written.
#include <cstdio>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/strings.h"
#include "exporter/exporter.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

// Mail aliases and forwards: the domain's .qmail-<name> files, on MySQL the
// valias rows carried as such files (.qmail-default is the catch-all, not
// an alias).
std::uint64_t MailAliases(const ManifestDomain& d) {
  std::uint64_t n = 0;
  for (const std::string& f : d.domain_files)
    if (StartsWith(f, ".qmail-") && f != ".qmail-default") ++n;
  return n;
}

std::uint64_t Messages(const ManifestDomain& d) {
  std::uint64_t n = 0;
  for (const auto& u : d.users) n += u.messages;
  return n;
}

std::uint64_t Bytes(const ManifestDomain& d) {
  std::uint64_t n = 0;
  for (const auto& u : d.users) n += u.bytes;
  return n;
}

void DeltaJson(JsonWriter* j, const DomainDelta& t) {
  j->Key("delta_counts").BeginObject().Key("files").Number(t.files).Key("bytes").Number(t.bytes);
  j->Key("messages").Number(t.messages).Key("renames").Number(t.renames).Key("removals").Number(t.removals);
  j->Key("users_added").Number(t.users_added).Key("users_removed").Number(t.users_removed);
  j->Key("users_changed").Number(t.users_changed).EndObject();
}

}  // namespace

void PrintExportDryRun(const std::vector<DryRunDomain>& domains, const ExportReport& report,
                       const std::string& kind, const std::string& output, bool json) {
  std::uint64_t users = 0, messages = 0, bytes = 0;
  for (const DryRunDomain& e : domains) {
    users += e.domain->users.size();
    messages += Messages(*e.domain);
    bytes += Bytes(*e.domain);
  }
  if (json) {
    JsonWriter j;
    j.BeginObject().Key("schema").Number(1).Key("type").String("export").Key("dry_run").Bool(true);
    j.Key("kind").String(kind);
    if (output.empty()) j.Key("output").Null();
    else j.Key("output").String(output);
    j.Key("domains").BeginArray();
    for (const DryRunDomain& e : domains) {
      const ManifestDomain& d = *e.domain;
      j.BeginObject().Key("domain").String(d.name).Key("alias_domains").StringArray(d.aliases);
      j.Key("users").Number(d.users.size()).Key("messages").Number(Messages(d)).Key("bytes").Number(Bytes(d));
      j.Key("mail_aliases").Number(MailAliases(d));
      if (e.output.empty()) j.Key("output").Null();
      else j.Key("output").String(e.output);
      if (kind == kKindDelta) DeltaJson(&j, d.delta);
      j.EndObject();
    }
    j.EndArray();
    j.Key("users").Number(users).Key("messages").Number(messages).Key("bytes").Number(bytes);
    j.Key("estimated_tar_bytes").Number(report.estimated_tar_bytes);
    j.Key("server_files").StringArray(report.manifest.server_files);
    UnreachableUsersJson(&j, "unreachable_users", report.unreachable_users);
    UnreachableUsersJson(&j, "skipped_users", report.skipped_users);
    AddOutsideRefsJson(&j, ManifestRefs(report.manifest, /*with_archive_domains=*/false));
    j.Key("followed_symlinks").BeginArray();
    for (const auto& hop : report.followed_links)
      j.BeginObject().Key("link").String(hop.link).Key("target").String(hop.target)
          .Key("resolved").String(hop.resolved).EndObject();
    j.EndArray();
    j.Key("warnings").StringArray(report.warnings).EndObject();
    std::printf("%s\n", j.str().c_str());
    return;
  }
  std::printf("dry run: nothing written%s\n", output.empty() ? "" : (", would write " + output).c_str());
  for (const DryRunDomain& e : domains) {
    const ManifestDomain& d = *e.domain;
    std::printf("%s: %zu users, %llu messages, %llu bytes, %llu mail aliases, alias domains: %s\n",
                EscapeC(d.name).c_str(), d.users.size(), static_cast<unsigned long long>(Messages(d)),
                static_cast<unsigned long long>(Bytes(d)), static_cast<unsigned long long>(MailAliases(d)),
                d.aliases.empty() ? "none" : EscapeC(Join(d.aliases, ", ")).c_str());
    if (kind == kKindDelta)
      std::printf("  delta: %llu files (%llu messages, %llu bytes), %llu renames, %llu removals\n",
                  static_cast<unsigned long long>(d.delta.files), static_cast<unsigned long long>(d.delta.messages),
                  static_cast<unsigned long long>(d.delta.bytes), static_cast<unsigned long long>(d.delta.renames),
                  static_cast<unsigned long long>(d.delta.removals));
  }
  if (!report.manifest.server_files.empty())
    std::printf("server configuration: %zu files\n", report.manifest.server_files.size());
  std::printf("total: %zu domains, %llu users, %llu messages, %llu bytes\n", domains.size(),
              static_cast<unsigned long long>(users), static_cast<unsigned long long>(messages),
              static_cast<unsigned long long>(bytes));
  std::printf("estimated archive size: %llu bytes as an uncompressed tar (headers and data from the scan); "
              "the compressed size is known only once written\n",
              static_cast<unsigned long long>(report.estimated_tar_bytes));
  std::printf("%zu warnings\n", report.warnings.size());
}

}  // namespace vmigrate::cli
