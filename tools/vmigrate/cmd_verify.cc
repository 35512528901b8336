#include <csignal>
#include <cstdio>
#include <memory>

#include "archive/layout.h"
#include "core/json.h"
#include "core/strings.h"
#include "tools/vmigrate/commands.h"
#include "state/state_file.h"
#include "verify/delta_check.h"
#include "verify/verifier.h"

namespace vmigrate::cli {
namespace {

std::string DifferenceLine(const std::string& domain, const Difference& d) {
  std::string line = "vmigrate: verify: " + domain + ": ";
  if (!d.user.empty()) line += "user " + d.user + ": ";
  return line + EscapeC(d.path) + ": " + d.what;
}

void PrintUidlText(const VerifyReport& r) {
  for (const FolderUidl& f : r.uidl) {
    std::printf("uidl: %s: user %s: %s: %llu messages, %llu POP3 UIDLs kept%s, %llu IMAP UIDs kept (%s)\n",
                r.domain.c_str(), f.user.c_str(), f.folder.c_str(),
                static_cast<unsigned long long>(f.messages),
                static_cast<unsigned long long>(f.uidl_kept),
                f.folder == "INBOX" ? (f.pop3_order_kept ? ", POP3 order kept" : ", POP3 order changes") : "",
                static_cast<unsigned long long>(f.uid_kept),
                f.uid_source.empty() ? "no UID list" : f.uid_source.c_str());
    for (const auto& c : f.changes)
      std::printf("uidl: %s: user %s: %s: would change: %s\n", r.domain.c_str(), f.user.c_str(),
                  f.folder.c_str(), c.c_str());
  }
}

void PrintUidlJson(const VerifyReport& r) {
  for (const FolderUidl& f : r.uidl) {
    JsonWriter j;
    j.BeginObject().Key("type").String("uidl").Key("domain").String(r.domain);
    j.Key("user").String(f.user).Key("folder").String(f.folder).Key("messages").Number(f.messages);
    j.Key("uidl_kept").Number(f.uidl_kept);
    if (f.folder == "INBOX") j.Key("pop3_order_kept").Bool(f.pop3_order_kept);
    j.Key("uid_source").String(f.uid_source).Key("uid_kept").Number(f.uid_kept);
    j.Key("changes").StringArray(f.changes).EndObject();
    std::printf("%s\n", j.str().c_str());
  }
}

}  // namespace

struct VerifyFlags {
  PathFlags paths;
  std::string archive, domain;
  bool json = false, uidl = false;
};

namespace {
int VerifyOne(const VerifyFlags& flags, const HostPaths& paths, const std::string& domain);

// A delta: each domain's state here against the delta's result.
int VerifyDeltaResult(const VerifyFlags& f, const HostPaths& paths, const Manifest& m) {
  std::vector<DeltaVerdict> verdicts;
  Status s = VerifyDelta(paths, m, f.domain, &verdicts);
  if (!s.ok()) return Fail("verify", s);
  bool differ = false;
  for (const DeltaVerdict& v : verdicts) {
    differ |= !v.match();
    if (f.json) {
      JsonWriter j;
      j.BeginObject().Key("type").String("summary").Key("status").String(v.match() ? "ok" : "differences");
      j.Key("domain").String(v.domain).Key("installed_state").String(v.installed);
      j.Key("delta_result").String(v.result);
      j.Key("exit").Number(static_cast<std::uint64_t>(v.match() ? 0 : static_cast<int>(Exit::kDifferences)));
      std::printf("%s\n", j.EndObject().str().c_str());
    } else if (v.installed.empty()) {
      std::printf("vmigrate: verify: %s: not installed on this host\n", v.domain.c_str());
    } else if (!v.match()) {
      std::printf("vmigrate: verify: %s: the installed domain (state %s) differs from the source's state when "
                  "the delta was made (%s); compare `vmigrate state` of both hosts\n",
                  v.domain.c_str(), ShownDigest(v.domain, v.installed).substr(0, 16).c_str(),
                  ShownDigest(v.domain, v.result).substr(0, 16).c_str());
    } else {
      std::printf("%s: no differences: the installed domain has the source's state when the delta was made (%s)\n",
                  v.domain.c_str(), ShownDigest(v.domain, v.result).substr(0, 16).c_str());
    }
  }
  return static_cast<int>(differ ? Exit::kDifferences : Exit::kOk);
}
}  // namespace

Handler AddVerify(CLI::App* app) {
  auto f = std::make_shared<VerifyFlags>();
  app->add_option("ARCHIVE", f->archive,
                  "archive the domain was exported to or imported from, '-' for stdin")
      ->required();
  app->add_flag("--uidl", f->uidl,
                "also report, per user and folder, whether POP3 UIDLs (qmail-pop3d) and IMAP UIDs "
                "(dovecot-uidlist, courierimapuiddb) stay the same");
  app->add_flag("--json", f->json,
                "one JSON object per line: each difference, warning and UIDL folder, then a summary");
  app->add_option("--domain", f->domain,
                  "verify only this domain of a server backup (default: every domain in it)");
  f->paths.Add(app);
  app->footer(
      "Compares every user field, alias domain, domain file, Maildir file (name, size, SHA-256,\n"
      "mode, mtime) and qmail control entry with the archive. Read-only.\n"
      "Exit codes: 0 no differences, 3 differences found, 1/6/7 errors (see 'vmigrate --help').");
  return [f]() -> int {
    std::signal(SIGPIPE, SIG_IGN);
    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("verify", paths.status());
    // A server backup is verified domain by domain, one pass each.
    std::vector<std::string> domains = {f->domain};
    if (f->archive != "-") {
      auto archive = OpenArchive(f->archive);
      if (archive.ok() && archive->manifest.kind == kKindDelta)
        return VerifyDeltaResult(*f, *paths, archive->manifest);
      if (f->domain.empty() && archive.ok() && archive->manifest.kind == kKindServer) {
        domains.clear();
        for (const auto& d : archive->manifest.domains) domains.push_back(d.name);
      }
    }
    int worst = 0;
    for (const std::string& domain : domains) {
      int rc = VerifyOne(*f, *paths, domain);
      if (rc != 0 && (worst == 0 || worst == static_cast<int>(Exit::kDifferences))) worst = rc;
    }
    return worst;
  };
}

namespace {

int VerifyOne(const VerifyFlags& flags, const HostPaths& paths, const std::string& domain) {
  const VerifyFlags* f = &flags;
  VerifyOptions opt;
  opt.paths = paths;
  opt.archive = f->archive;
  opt.uidl = f->uidl;
  opt.domain = domain;
  VerifyReport report;
  Status s = Verify(opt, &report);
  const std::string label = report.domain.empty() ? f->archive : report.domain;
  if (!s.ok()) {
    if (f->json) {
      JsonWriter j;
      j.BeginObject().Key("type").String("summary").Key("status").String("error");
      j.Key("domain").String(label).Key("error").String(s.message());
      j.Key("exit").Number(static_cast<std::uint64_t>(ToExit(s))).EndObject();
      std::printf("%s\n", j.str().c_str());
    }
    // An archive that cannot be read is the object, not the domain in it.
    std::string shown = f->archive == "-" ? "<stdin>" : f->archive;
    return Fail("verify", StartsWith(s.message(), shown + ": ") ? s : WithObject(s, label));
  }
  const bool differ = !report.differences.empty();
  const int rc = static_cast<int>(differ ? Exit::kDifferences : Exit::kOk);
  if (f->json) {
    for (const Difference& d : report.differences) {
      JsonWriter j;
      j.BeginObject().Key("type").String("difference").Key("domain").String(report.domain);
      j.Key("user").String(d.user).Key("path").String(d.path).Key("what").String(d.what).EndObject();
      std::printf("%s\n", j.str().c_str());
    }
    for (const auto& w : report.warnings) {
      JsonWriter j;
      j.BeginObject().Key("type").String("warning").Key("domain").String(report.domain);
      j.Key("message").String(w).EndObject();
      std::printf("%s\n", j.str().c_str());
    }
    for (const auto& r : report.outside_refs) {
      JsonWriter j;
      j.BeginObject().Key("type").String("outside_ref");
      OutsideRefFields(&j, r);
      std::printf("%s\n", j.EndObject().str().c_str());
    }
    PrintUidlJson(report);
    JsonWriter j;
    j.BeginObject().Key("type").String("summary").Key("status").String(differ ? "differences" : "ok");
    j.Key("domain").String(report.domain).Key("domain_dir").String(report.domain_dir);
    j.Key("aliases").StringArray(report.aliases).Key("users").Number(report.users);
    j.Key("entries").Number(report.entries).Key("passwords_checked").Number(report.passwords_checked);
    j.Key("differences").Number(report.differences.size());
    j.Key("warnings").Number(report.warnings.size());
    UnreachableUsersJson(&j, "unreachable_users", report.unreachable_users);
    j.Key("exit").Number(static_cast<std::uint64_t>(rc)).EndObject();
    std::printf("%s\n", j.str().c_str());
    return rc;
  }
  for (const auto& w : report.warnings) std::fprintf(stderr, "vmigrate: verify: warning: %s\n", w.c_str());
  for (const auto& r : report.outside_refs)
    std::fprintf(stderr, "vmigrate: verify: warning: %s\n", DescribeReportedRef(r).c_str());
  for (const Difference& d : report.differences)
    std::printf("%s\n", DifferenceLine(report.domain, d).c_str());
  PrintUidlText(report);
  if (differ)
    std::printf("%s: %zu difference%s between %s and %s\n", report.domain.c_str(),
                report.differences.size(), report.differences.size() == 1 ? "" : "s",
                f->archive.c_str(), report.domain_dir.c_str());
  else
    std::printf("%s: no differences: %llu users (%llu passwords checked), %llu archive entries match %s\n",
                report.domain.c_str(), static_cast<unsigned long long>(report.users),
                static_cast<unsigned long long>(report.passwords_checked),
                static_cast<unsigned long long>(report.entries), report.domain_dir.c_str());
  return rc;
}

}  // namespace

}  // namespace vmigrate::cli
