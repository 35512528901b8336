// vmigrate list: every vpopmail domain of this host with its alias domains,
// users, messages, bytes, backend and bucket: the planning view for a
// migration (vpopmail/host_listing.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/strings.h"
#include "tools/vmigrate/commands.h"
#include "vpopmail/host_listing.h"

namespace vmigrate::cli {
namespace {

struct Flags {
  PathFlags paths;
  bool json = false;
};

using vpopmail::DomainListing;
using vpopmail::HostListing;

void PrintJson(const HostListing& host) {
  JsonWriter j;
  j.BeginObject().Key("schema").Number(1).Key("type").String("list");
  vpopmail::MailCount total;
  std::uint64_t users = 0;
  j.Key("domains").BeginArray();
  for (const DomainListing& d : host.domains) {
    j.BeginObject().Key("domain").String(d.domain).Key("alias_domains").StringArray(d.alias_domains);
    j.Key("users").Number(d.users).Key("messages").Number(d.mail.messages);
    j.Key("message_bytes").Number(d.mail.bytes).Key("stat_sized_messages").Number(d.mail.stat_sized);
    j.Key("backend").String(d.backend);
    if (!d.mysql_layout.empty()) j.Key("mysql_layout").String(d.mysql_layout);
    j.Key("bucket").String(d.bucket).Key("dir").String(d.dir);
    j.Key("uid").Number(d.uid).Key("gid").Number(d.gid);
    if (d.error.empty()) j.Key("error").Null();
    else j.Key("error").String(d.error);
    j.EndObject();
    total.Add(d.mail);
    users += d.users;
  }
  j.EndArray();
  j.Key("unmatched_aliases").BeginArray();
  for (const auto& a : host.unmatched_aliases)
    j.BeginObject().Key("domain").String(a.domain).Key("real_domain").String(a.real_domain)
        .Key("dir").String(a.dir).EndObject();
  j.EndArray();
  j.Key("users").Number(users).Key("messages").Number(total.messages);
  j.Key("message_bytes").Number(total.bytes).Key("stat_sized_messages").Number(total.stat_sized);
  j.EndObject();
  std::printf("%s\n", j.str().c_str());
}

// Columns of the text table; numbers are right-aligned.
struct Row {
  std::vector<std::string> cells;
};

void PrintTable(const std::vector<Row>& rows, const std::vector<bool>& right) {
  std::vector<size_t> width(right.size(), 0);
  for (const Row& r : rows)
    for (size_t i = 0; i < r.cells.size(); ++i) width[i] = std::max(width[i], r.cells[i].size());
  for (const Row& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.cells.size(); ++i) {
      const std::string& c = r.cells[i];
      std::string pad(width[i] - c.size(), ' ');
      if (i + 1 == r.cells.size() && !right[i]) line += c;  // no trailing blanks
      else line += right[i] ? pad + c : c + pad;
      if (i + 1 < r.cells.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
}

void PrintText(const HostListing& host) {
  std::vector<Row> rows;
  rows.push_back({{"DOMAIN", "USERS", "MESSAGES", "BYTES", "BACKEND", "BUCKET", "DIRECTORY"}});
  vpopmail::MailCount total;
  std::uint64_t users = 0;
  size_t aliases = 0;
  for (const DomainListing& d : host.domains) {
    bool ok = d.error.empty();
    rows.push_back({{EscapeC(d.domain), ok ? std::to_string(d.users) : "?",
                     ok ? std::to_string(d.mail.messages) : "?", ok ? std::to_string(d.mail.bytes) : "?",
                     d.mysql_layout.empty() ? d.backend : d.backend + "/" + d.mysql_layout,
                     d.bucket.empty() ? "-" : EscapeC(d.bucket), EscapeC(d.dir)}});
    for (const std::string& a : d.alias_domains)
      rows.push_back({{"  " + EscapeC(a), "", "", "", "", "", "alias of " + EscapeC(d.domain)}});
    aliases += d.alias_domains.size();
    total.Add(d.mail);
    users += d.users;
  }
  for (const auto& a : host.unmatched_aliases)
    rows.push_back({{EscapeC(a.domain), "", "", "", "", "", "alias of " + EscapeC(a.real_domain) +
                                                               ", which is not a domain here"}});
  PrintTable(rows, {false, true, true, true, false, false, false});
  std::printf("\n%zu domains, %zu alias domains, %llu users, %llu messages, %llu bytes\n",
              host.domains.size(), aliases + host.unmatched_aliases.size(),
              static_cast<unsigned long long>(users), static_cast<unsigned long long>(total.messages),
              static_cast<unsigned long long>(total.bytes));
  std::printf("BYTES: message sizes from the S=<size> of Maildir++ file names, stat(2) for %llu "
              "messages without one\n",
              static_cast<unsigned long long>(total.stat_sized));
}

}  // namespace

Handler AddList(CLI::App* app) {
  auto f = std::make_shared<Flags>();
  app->add_flag("--json", f->json, "print the listing as one JSON object");
  f->paths.Add(app);
  return [f]() -> int {
    JsonErrors(f->json);
    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("list", paths.status());
    auto host = vpopmail::ListHost(*paths);
    if (!host.ok()) return Fail("list", host.status());
    bool complete = true;
    for (const DomainListing& d : host->domains) {
      if (d.error.empty()) continue;
      complete = false;
      std::fprintf(stderr, "vmigrate: list: %s: %s\n", EscapeC(d.domain).c_str(), d.error.c_str());
    }
    if (f->json) PrintJson(*host);
    else PrintText(*host);
    // The listing is printed either way; a domain it could not count fails the run.
    return static_cast<int>(complete ? Exit::kOk : Exit::kFailed);
  };
}

}  // namespace vmigrate::cli
