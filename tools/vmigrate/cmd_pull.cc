// vmigrate pull: a mailbox from a live POP3/IMAP server into an account on
// this host (lib/pull; sources-and-cutover.md §7). One account from
// --user/--password-file/--into, or many from --accounts FILE (CSV), --jobs
// at a time, one JSON line each and a summary as a batch import prints.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/atomic_file.h"
#include "core/json.h"
#include "core/strings.h"
#include "mbox/pop3_uidl.h"
#include "pull/pull.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void OnSignal(int) { g_interrupted.store(true); }

struct Flags {
  PathFlags paths;
  ProgressFlags progress;
  std::string from, user, password_file, into, accounts, uidls_from, old_pop3_uidl, ca_file,
      starttls = "when-offered";
  int password_fd = -1;
  int timeout = 60;
  size_t jobs = 1;
  bool insecure = false, no_uidl = false, check_local_password = false, create = false, dry_run = false, json = false;
};

// One account to pull.
struct Job {
  std::string login, password, into, from;
  size_t line = 0;  // in --accounts, for messages
};

// RFC 4180 fields of one line: "a,b" and "\"x,y\"" with "" for a quote.
Result<std::vector<std::string>> CsvFields(const std::string& line, const std::string& where) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"' && cur.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  if (quoted) return Status::InvalidInput(where + ": unterminated quote");
  out.push_back(cur);
  return out;
}

Result<std::vector<Job>> ReadAccounts(const std::string& path, const std::string& default_from) {
  auto text = ReadSmallFile(path);
  if (!text.ok()) return text.status().WithContext("--accounts " + path);
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
    std::fprintf(stderr, "vmigrate: pull: warning: %s holds passwords and is readable by others (chmod 600)\n",
                 path.c_str());
  std::vector<Job> jobs;
  auto lines = SplitLines(*text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string l = lines[i];
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (Trim(l).empty() || Trim(l)[0] == '#') continue;
    std::string where = path + " line " + std::to_string(i + 1);
    auto f = CsvFields(l, where);
    if (!f.ok()) return f.status();
    if (f->size() < 3 || f->size() > 4)
      return Status::InvalidInput(where + ": expected login,password,user@domain[,source URL]");
    Job j{(*f)[0], (*f)[1], (*f)[2], f->size() == 4 && !(*f)[3].empty() ? (*f)[3] : default_from, i + 1};
    if (j.login.empty() || j.into.empty()) return Status::InvalidInput(where + ": empty login or address");
    if (j.from.empty()) return Status::InvalidInput(where + ": no source URL (give --from or a 4th field)");
    jobs.push_back(std::move(j));
  }
  if (jobs.empty()) return Status::InvalidInput("--accounts " + path + " names no account");
  return jobs;
}

void PrintText(const pull::PullReport& r, bool dry_run) {
  if (r.created)
    std::printf("%s %s with the password the old server accepted (SHA-512 crypt, quota %s)\n",
                dry_run ? "would create" : "created", r.address.c_str(), r.created_quota.c_str());
  for (const auto& f : r.folders) {
    std::printf("%-20s %s%s uidvalidity %u: %u on the server, %s %u (%llu bytes), %u already here%s\n",
                f.new_name.c_str(), f.maildir.empty() ? "Maildir" : "Maildir/", f.maildir.c_str(), f.uidvalidity,
                f.on_server, dry_run ? "would pull" : "pulled", f.pulled, static_cast<unsigned long long>(f.bytes),
                f.already, f.restarted ? " (UIDVALIDITY changed: pulled again)" : "");
  }
  std::printf("%s %s from %s as %s: %u messages, %llu bytes%s\n", dry_run ? "would pull" : "pulled",
              r.address.c_str(), r.source.c_str(), r.login.c_str(), r.pulled,
              static_cast<unsigned long long>(r.bytes), dry_run ? " (dry run: nothing written)" : "");
  if (dry_run) return;
  std::printf("clients keep: IMAP UIDs %s; Dovecot POP3 UIDLs %s; qmail-pop3d UIDLs %s\n",
              r.imap_uids_kept ? "yes" : "no", r.dovecot_pop3_uidls ? "yes" : "no",
              r.qmail_pop3d_uidls ? "yes" : "no");
}

void PrintJson(const pull::PullReport& r, bool dry_run, double seconds) {
  JsonWriter j;
  j.BeginRecord("pull").Key("status").String(dry_run ? "dry-run" : "ok").Key("user").String(r.address);
  j.Key("from").String(r.source).Key("login").String(r.login).Key("dry_run").Bool(dry_run);
  j.Key("created").Bool(r.created);
  j.Key("messages").Number(r.pulled).Key("bytes").Number(r.bytes).Key("already_there").Number(r.already);
  j.Key("imap_uids_kept").Bool(r.imap_uids_kept).Key("dovecot_pop3_uidls_kept").Bool(r.dovecot_pop3_uidls);
  j.Key("qmail_pop3d_uidls_kept").Bool(r.qmail_pop3d_uidls).Key("uidls_known").Number(r.uidls_known);
  j.Key("folders").BeginArray();
  for (const auto& f : r.folders) {
    j.BeginObject().Key("name").String(f.name).Key("new_name").String(f.new_name).Key("maildir").String(f.maildir);
    j.Key("uidvalidity").Number(f.uidvalidity).Key("on_server").Number(f.on_server);
    j.Key("messages").Number(f.pulled).Key("bytes").Number(f.bytes).Key("already_there").Number(f.already);
    j.Key("restarted").Bool(f.restarted).Key("removed").Number(f.removed).Key("uids_kept").Bool(f.uids_kept);
    j.EndObject();
  }
  j.EndArray();
  j.Key("warnings").StringArray(r.warnings).Key("seconds").Double(seconds).Key("error").Null();
  j.EndObject();
  std::printf("%s\n", j.str().c_str());
}

Result<pull::PullOptions> BaseOptions(const Flags& f) {
  pull::PullOptions o;
  auto paths = f.paths.Resolve();
  if (!paths.ok()) return paths.status();
  o.paths = *paths;
  o.connect.ca_file = f.ca_file;
  o.connect.insecure = f.insecure;
  o.connect.timeout_seconds = f.timeout;
  o.connect.starttls = f.starttls == "always" ? mailsource::StartTls::kAlways
                       : f.starttls == "never" ? mailsource::StartTls::kNever
                                               : mailsource::StartTls::kWhenOffered;
  if (!f.uidls_from.empty()) {
    auto u = mailsource::ParseSourceUrl(f.uidls_from);
    if (!u.ok()) return u.status().WithContext("--uidls-from");
    if (u->protocol != mailsource::Protocol::kPop3)
      return Status::InvalidInput("--uidls-from " + f.uidls_from + ": must be a pop3:// or pop3s:// URL");
    o.uidls_from = *u;
  }
  if (!f.old_pop3_uidl.empty()) {
    if (!f.uidls_from.empty()) return Status::InvalidInput("--old-pop3-uidl and --uidls-from exclude each other");
    if (f.old_pop3_uidl == "x-uidl")
      return Status::InvalidInput("--old-pop3-uidl x-uidl: an X-UIDL header is not known before the message is "
                                  "fetched; give the POP3 server with --uidls-from");
    Status ok = mbox::CheckUidlFormat(f.old_pop3_uidl);
    if (!ok.ok()) return ok.WithContext("--old-pop3-uidl");
    o.old_pop3_uidl = f.old_pop3_uidl;
  }
  o.no_uidl = f.no_uidl;
  o.check_local_password = f.check_local_password;
  o.create = f.create;
  o.dry_run = f.dry_run;
  o.interrupted = &g_interrupted;
  return o;
}

Result<pull::PullReport> RunJob(const pull::PullOptions& base, const Job& job, ProgressMeter* meter,
                                RateLimiter* limiter) {
  pull::PullOptions o = base;
  auto url = mailsource::ParseSourceUrl(job.from);
  if (!url.ok()) return url.status();
  o.url = *url;
  if ((o.uidls_from || !o.old_pop3_uidl.empty()) && o.url.protocol != mailsource::Protocol::kImap)
    return Status::InvalidInput("--uidls-from and --old-pop3-uidl go with an imap:// or imaps:// --from");
  o.credentials.login = job.login;
  o.credentials.password = job.password;
  o.address = job.into;
  o.progress = meter;
  o.limiter = limiter;
  if (meter) meter->SetDomain(job.into);
  return pull::PullAccount(o);
}

int RunOne(const Flags& f, const pull::PullOptions& base, const Job& job) {
  auto meter = f.progress.MakeMeter("pull");
  if (!meter.ok()) return Fail("pull", meter.status());
  auto limiter = f.progress.MakeLimiter();
  if (!limiter.ok()) return Fail("pull", limiter.status());
  auto start = std::chrono::steady_clock::now();
  auto r = RunJob(base, job, meter->get(), limiter->get());
  if (*meter) (*meter)->Finish();
  if (!r.ok()) return Fail("pull", WithObject(r.status(), ToLower(job.into)), job.into);
  for (const auto& w : r->warnings) std::fprintf(stderr, "vmigrate: pull: warning: %s: %s\n", job.into.c_str(), w.c_str());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (f.json) PrintJson(*r, f.dry_run, seconds);
  else if (!Quiet() || f.dry_run) PrintText(*r, f.dry_run);
  return 0;
}

// --accounts: --jobs workers take accounts in file order; each account's
// line is printed when it ends. Exit 0 all ok, 4 some failed, 1 none.
int RunBatch(const Flags& f, const pull::PullOptions& base, const std::vector<Job>& jobs) {
  std::mutex out;
  std::atomic<size_t> next{0}, ok{0}, failed{0};
  auto limiter_rate = f.progress.max_rate;
  auto worker = [&]() {
    // Each worker limits itself to its share of --max-rate.
    std::unique_ptr<RateLimiter> limiter;
    if (!limiter_rate.empty()) {
      auto rate = ParseByteRate(limiter_rate);
      if (rate.ok()) limiter = std::make_unique<RateLimiter>(std::max<uint64_t>(1, *rate / f.jobs));
    }
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= jobs.size() || g_interrupted.load()) return;
      const Job& job = jobs[i];
      auto start = std::chrono::steady_clock::now();
      auto r = RunJob(base, job, nullptr, limiter.get());
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::lock_guard<std::mutex> lock(out);
      if (r.ok()) {
        ++ok;
        for (const auto& w : r->warnings)
          std::fprintf(stderr, "vmigrate: pull: warning: %s: %s\n", job.into.c_str(), w.c_str());
        if (f.json) PrintJson(*r, f.dry_run, seconds);
        else if (!Quiet() || f.dry_run) PrintText(*r, f.dry_run);
      } else {
        ++failed;
        Status s = WithObject(r.status(), ToLower(job.into));
        std::fprintf(stderr, "vmigrate: pull: %s\n", s.message().c_str());
        if (f.json) {
          JsonWriter j;
          j.BeginRecord("pull").Key("status").String("error").Key("user").String(job.into);
          j.Key("from").String(job.from).Key("login").String(job.login).Key("dry_run").Bool(f.dry_run);
          j.Key("seconds").Double(seconds).Key("error").String(s.message());
          j.Key("exit").Number(static_cast<int>(ToExit(r.status())));
          j.EndObject();
          std::printf("%s\n", j.str().c_str());
        } else {
          std::printf("FAILED   %s from %s (exit %d)\n", job.into.c_str(), job.from.c_str(),
                      static_cast<int>(ToExit(r.status())));
        }
      }
      std::fflush(stdout);
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(f.jobs, jobs.size()); ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  int code = g_interrupted.load() ? static_cast<int>(Exit::kInterrupted) : BatchExit(ok, failed);
  if (f.json || !Quiet()) PrintBatchSummary(f.json, ok, failed, code, "pulled");
  return code;
}

}  // namespace

Handler AddPull(CLI::App* app) {
  auto f = std::make_shared<Flags>();
  app->add_option("--from", f->from, "the old server: imap://HOST[:PORT], imaps://..., pop3://... or pop3s://...")
      ->type_name("URL");
  app->add_option("--user", f->user, "the login on the old server")->type_name("LOGIN");
  app->add_option("--password-file", f->password_file,
                  "read the password from the first line of FILE (never give it on the command line)")
      ->type_name("FILE");
  app->add_option("--password-fd", f->password_fd, "read the password from the first line of descriptor N")
      ->type_name("N");
  app->add_option("--into", f->into, "the account on this host that gets the mail (it must exist)")
      ->type_name("USER@DOMAIN");
  app->add_option("--accounts", f->accounts,
                  "pull many: CSV lines login,password,user@domain[,source URL] (mode 600; '#' comments)")
      ->type_name("FILE");
  app->add_option("--jobs", f->jobs, "with --accounts: pull N accounts at a time")->capture_default_str();
  app->add_option("--uidls-from", f->uidls_from,
                  "with an IMAP --from: the same mailbox's POP3 server, whose UIDLs INBOX keeps")
      ->type_name("URL");
  app->add_option("--old-pop3-uidl", f->old_pop3_uidl,
                  "with an IMAP --from: the old POP3 server's UIDL format (%08Xu%08Xv Dovecot, %08Xv%08Xu "
                  "UW), so INBOX keeps the UIDLs derived from UID and UIDVALIDITY")
      ->type_name("FORMAT");
  app->add_option("--ca-file", f->ca_file, "trust the CA certificates in FILE (PEM) as well")->type_name("FILE");
  app->add_flag("--insecure", f->insecure, "do not verify the server's certificate (TLS is still used)");
  app->add_option("--starttls", f->starttls,
                  "on imap:// and pop3://: when-offered (default), always (refuse a server without it) or never")
      ->check(CLI::IsMember({"when-offered", "always", "never"}))
      ->type_name("WHEN");
  app->add_option("--timeout", f->timeout, "give up on a server that is silent for SECONDS")->capture_default_str();
  app->add_flag("--no-uidl", f->no_uidl,
                "pull from a POP3 server without UIDL (clients re-download; re-runs match by content)");
  app->add_flag("--check-local-password", f->check_local_password,
                "pull only when the password verifies against the account's hash here (the login hook)");
  app->add_flag("--create", f->create,
                "make a missing account (as vadduser does) with the password, once the old server accepts it");
  app->add_flag("--dry-run", f->dry_run, "list folders, messages and bytes that would be pulled; write nothing");
  app->add_flag("--json", f->json, "print one JSON object per account (and a summary with --accounts)");
  f->progress.Add(app);
  f->paths.Add(app);
  return [f]() -> int {
    if (f->json) JsonErrors(true);
    auto usage = [](const std::string& msg) { return Usage("pull", msg); };
    std::vector<Job> jobs;
    if (!f->accounts.empty()) {
      if (!f->user.empty() || !f->into.empty() || !f->password_file.empty() || f->password_fd >= 0)
        return usage("--accounts takes the logins, passwords and targets from the file: no --user, --into or password option");
      auto read = ReadAccounts(f->accounts, f->from);
      if (!read.ok()) return Fail("pull", read.status(), f->accounts);
      jobs = std::move(*read);
    } else {
      if (f->from.empty()) return usage("--from URL is required");
      if (f->user.empty()) return usage("--user LOGIN is required");
      if (f->into.empty()) return usage("--into USER@DOMAIN is required");
      if (f->password_file.empty() == (f->password_fd < 0))
        return usage("give the password with exactly one of --password-file FILE and --password-fd N");
      Job j{f->user, "", f->into, f->from, 0};
      if (!f->password_file.empty()) {
        auto text = ReadSmallFile(f->password_file, 65536);
        if (!text.ok()) return Fail("pull", text.status().WithContext("--password-file " + f->password_file));
        j.password = PasswordLine(*text);
      } else {
        auto p = ReadPasswordFd(f->password_fd);
        if (!p.ok()) return Fail("pull", p.status());
        j.password = *p;
      }
      if (j.password.empty()) return usage("the password is empty");
      jobs.push_back(std::move(j));
    }
    if (f->jobs == 0) return usage("--jobs must be at least 1");
    auto base = BaseOptions(*f);
    if (!base.ok()) return Fail("pull", base.status());
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    std::signal(SIGPIPE, SIG_IGN);
    if (f->accounts.empty()) return RunOne(*f, *base, jobs[0]);
    return RunBatch(*f, *base, jobs);
  };
}

}  // namespace vmigrate::cli
