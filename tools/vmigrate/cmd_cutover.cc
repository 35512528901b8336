// vmigrate cutover hold|forward|release|status|block-logins|open-logins:
// the steps of a live move on the old host (lib/cutover/cutover.h,
// README "Moving a live domain").
#include <cstdio>
#include <ctime>
#include <memory>

#include "core/json.h"
#include "core/strings.h"
#include "cutover/cutover.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

struct Flags {
  PathFlags paths;
  std::string domain, to;
  bool json = false, no_reload = false;
  int smtp_timeout = 30;
};

std::string Utc(std::int64_t t) {
  char buf[64];
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

void AddCommon(CLI::App* app, Flags* f) {
  app->add_option("DOMAIN", f->domain, "the vpopmail domain (its real name, not an alias domain)")->required();
  app->add_flag("--json", f->json, "print the result as one JSON object");
  f->paths.Add(app);
}

int PrintStep(const char* step, const Flags& f, const Result<cutover::StepResult>& r) {
  const std::string command = std::string("cutover ") + step;
  if (!r.ok()) return Fail(command, WithObject(r.status(), f.domain));
  for (const auto& w : r->warnings) std::fprintf(stderr, "vmigrate: %s: warning: %s\n", command.c_str(), w.c_str());
  if (f.json) {
    JsonWriter j;
    j.BeginRecord("cutover").Key("status").String("ok").Key("domain").String(f.domain).Key("step").String(step);
    j.Key("changed").Bool(r->changed).Key("state").String(cutover::PhaseName(r->phase));
    j.Key("actions").StringArray(r->actions).Key("warnings").StringArray(r->warnings).EndObject();
    std::printf("%s\n", j.str().c_str());
  } else if (!r->changed) {
    std::printf("%s: already %s, nothing changed\n", f.domain.c_str(),
                std::string(step) == "release" ? "local" : cutover::PhaseName(r->phase));
  } else {
    std::printf("%s: %s done%s%s\n", f.domain.c_str(), step, r->actions.empty() ? "" : ": ",
                Join(r->actions, "; ").c_str());
  }
  return 0;
}

Result<cutover::StepOptions> Options(const Flags& f) {
  auto paths = f.paths.Resolve();
  if (!paths.ok()) return paths.status();
  cutover::StepOptions opt;
  opt.paths = *paths;
  opt.reload = !f.no_reload;
  opt.smtp_timeout_seconds = f.smtp_timeout;
  return opt;
}

int PrintStatus(const Flags& f, const cutover::CutoverStatus& st) {
  for (const auto& w : st.warnings) std::fprintf(stderr, "vmigrate: cutover status: warning: %s\n", w.c_str());
  std::int64_t oldest = st.queue.oldest_birth > 0 ? st.now - st.queue.oldest_birth : 0;
  if (f.json) {
    JsonWriter j;
    j.BeginRecord("cutover").Key("status").String("ok").Key("domain").String(st.domain).Key("step").String("status");
    j.Key("aliases").StringArray(st.aliases).Key("state").String(cutover::PhaseName(st.phase));
    j.Key("held_at");
    if (st.held_since) j.String(IsoUtc(st.held_since)); else j.Null();
    j.Key("forwarded_to");
    if (!st.forwarded_to.empty()) j.String(st.forwarded_to); else j.Null();
    j.Key("forwarded_at");
    if (st.forwarded_at) j.String(IsoUtc(st.forwarded_at)); else j.Null();
    j.Key("sticky").Bool(st.sticky).Key("logins").String(st.logins_blocked ? "blocked" : "open");
    j.Key("queue").BeginObject().Key("read").Bool(st.queue_read).Key("todo").Number(st.queue.todo);
    j.Key("local").Number(st.queue.local).Key("remote").Number(st.queue.remote);
    j.Key("oldest_seconds").Number(static_cast<std::uint64_t>(oldest > 0 ? oldest : 0)).EndObject();
    j.Key("queuelifetime_seconds").Number(static_cast<std::uint64_t>(st.queuelifetime));
    j.Key("pending").Number(st.pending()).Key("warnings").StringArray(st.warnings).EndObject();
    std::printf("%s\n", j.str().c_str());
    return 0;
  }
  std::printf("%s: %s", st.domain.c_str(), cutover::PhaseName(st.phase));
  if (st.held_since) std::printf(" (held since %s)", Utc(st.held_since).c_str());
  if (!st.forwarded_to.empty()) std::printf(" to %s", st.forwarded_to.c_str());
  if (st.forwarded_at) std::printf(" since %s", Utc(st.forwarded_at).c_str());
  std::printf("\n  logins: %s\n", st.logins_blocked ? "blocked" : "open");
  if (!st.aliases.empty()) std::printf("  alias domains: %s\n", Join(st.aliases, ", ").c_str());
  if (st.queue_read) {
    std::printf("  queued here for the domain: %llu message(s) (not yet preprocessed %llu, local %llu, remote %llu)",
                static_cast<unsigned long long>(st.pending()), static_cast<unsigned long long>(st.queue.todo),
                static_cast<unsigned long long>(st.queue.local), static_cast<unsigned long long>(st.queue.remote));
    if (oldest > 0) std::printf(", oldest %lld s", static_cast<long long>(oldest));
    std::printf("; queuelifetime %lld s\n", static_cast<long long>(st.queuelifetime));
  } else {
    std::printf("  queue: no qmail queue readable on this host\n");
  }
  return 0;
}

}  // namespace

Handler AddCutover(CLI::App* app) {
  app->require_subcommand(1);
  struct Sub {
    CLI::App* app;
    std::shared_ptr<Flags> flags;
  };
  auto subs = std::make_shared<std::vector<Sub>>();
  auto add = [&](const char* name, const char* help) {
    auto f = std::make_shared<Flags>();
    CLI::App* sub = app->add_subcommand(name, help);
    AddCommon(sub, f.get());
    if (std::string(name) != "status")
      sub->add_flag("--no-reload", f->no_reload, "do not signal qmail-send (HUP, ALRM); do it yourself");
    subs->push_back({sub, f});
    return sub;
  };
  add("hold", "keep every message for the domain in qmail's queue (deferred, never bounced) and block its logins");
  CLI::App* forward = add("forward", "check HOST takes the domain over SMTP, route new mail to it, release the held mail");
  forward->add_option("--to", subs->back().flags->to, "the new host, as smtproutes takes it")
      ->required()
      ->type_name("HOST[:PORT]");
  forward->add_option("--smtp-timeout", subs->back().flags->smtp_timeout, "seconds to wait for each SMTP reply")
      ->type_name("SECONDS")
      ->capture_default_str();
  add("release", "undo hold and forward: deliver here again, held mail included; open logins");
  add("status", "local, held or forwarded; the domain's messages in qmail's queue");
  add("block-logins", "block POP3/IMAP/webmail logins to the domain (vpopmail's NO_POP, NO_IMAP, NO_WEBMAIL)");
  add("open-logins", "undo block-logins (flags the user had before stay)");
  Handler discard = AddCutoverDiscard(app);  // cmd_cutover_discard.cc
  return [subs, discard, app]() -> int {
    if (app->got_subcommand("discard")) return discard();
    for (const Sub& s : *subs) {
      if (!s.app->parsed()) continue;
      const Flags& f = *s.flags;
      const std::string name = s.app->get_name();
      JsonErrors(f.json);
      auto opt = Options(f);
      if (!opt.ok()) return Fail("cutover " + name, opt.status());
      if (name == "hold") return PrintStep("hold", f, cutover::Hold(*opt, f.domain));
      if (name == "release") return PrintStep("release", f, cutover::Release(*opt, f.domain));
      if (name == "block-logins") return PrintStep("block-logins", f, cutover::SetLogins(*opt, f.domain, true));
      if (name == "open-logins") return PrintStep("open-logins", f, cutover::SetLogins(*opt, f.domain, false));
      if (name == "forward") {
        auto to = cutover::ParseForwardTarget(f.to);
        if (!to.ok()) return Fail("cutover forward", to.status());
        return PrintStep("forward", f, cutover::Forward(*opt, f.domain, *to));
      }
      if (name == "status") {
        auto st = cutover::ReadStatus(*opt, f.domain);
        if (!st.ok()) return Fail("cutover status", WithObject(st.status(), f.domain));
        return PrintStatus(f, *st);
      }
    }
    return static_cast<int>(Exit::kUsage);
  };
}

}  // namespace vmigrate::cli
