// export --from unix: a classic Unix mail host (etc/passwd + shadow, mbox
// spools, UW-IMAP folders) into an archive of one vpopmail domain
// (lib/unixhost/unix_export.h).
#include <cstdio>

#include "core/json.h"
#include "core/strings.h"
#include "tools/vmigrate/commands.h"
#include "unixhost/unix_export.h"

namespace vmigrate::cli {

void UnixExportFlags::Add(CLI::App* app) {
  app->add_option("--from", from,
                  "what the source is: vpopmail (default: a vpopmail host) or unix (a classic Unix mail "
                  "host: accounts from etc/passwd + etc/shadow under --root, mail from mbox spools and "
                  "UW-IMAP folders)")
      ->check(CLI::IsMember({"vpopmail", "unix"}));
  only.push_back(app->add_option("--uid-range", uid_range,
                                 "--from unix: carry the accounts with a UID in A-B (default: UID_MIN-UID_MAX "
                                 "of etc/login.defs); system accounts never come along")
                     ->type_name("A-B"));
  only.push_back(app->add_option("--user", users, "--from unix: carry exactly this account (repeatable)")
                     ->type_name("USER"));
  only.push_back(app->add_option("--users-from", users_from,
                                 "--from unix: carry exactly the accounts named in FILE (one per line, '#' "
                                 "comments)")
                     ->type_name("FILE"));
  only.push_back(app->add_option("--batch", batch,
                                 "--from unix: write one archive per N users into the -o directory "
                                 "(<domain>-batchNNN.tar.zst); import adds each batch to the domain the "
                                 "first one created")
                     ->type_name("N")
                     ->check(CLI::PositiveNumber));
  only.push_back(app->add_option("--locked", locked,
                                 "--from unix: accounts with a locked ('!'), disabled ('*') or empty hash: "
                                 "disable (default: carried with their mail, unable to log in) or skip")
                     ->check(CLI::IsMember({"disable", "skip"})));
  only.push_back(app->add_option("--quota", quota, "--from unix: every user's vpopmail quota (default NOQUOTA)"));
  only.push_back(app->add_option("--spool", spool,
                                 "--from unix: the INBOX spool directory on the old host (default /var/mail)")
                     ->type_name("DIR"));
  only.push_back(app->add_option("--folders", folders,
                                 "--from unix: the folder directory below each home (default mail; e.g. Mail)")
                     ->type_name("DIR"));
  only.push_back(app->add_option("--old-server", old_server,
                                 "--from unix: the server users read these spools with, whose view is kept: "
                                 "dovecot (default) or uw (UW-IMAP / c-client)")
                     ->check(CLI::IsMember({"dovecot", "uw"})));
  only.push_back(app->add_option("--old-pop3-uidl", old_pop3_uidl,
                                 "--from unix: how the old server formed POP3 UIDLs: a Dovecot "
                                 "pop3_uidl_format (default %08Xu%08Xv; UW ipop3d is %08Xv%08Xu) or x-uidl "
                                 "(a message's X-UIDL header)")
                     ->type_name("FORMAT"));
  only.push_back(app->add_option("--imap-server", imap_server,
                                 "--from unix: also write the IMAP UID state of courier "
                                 "(courierimapuiddb); dovecot-uidlist is always written")
                     ->check(CLI::IsMember({"dovecot", "courier"})));
  only.push_back(app->add_option("--time-zone", time_zone,
                                 "--from unix: zone of From_ lines without one (default: the old host's "
                                 "etc/timezone)")
                     ->type_name("ZONE"));
}

bool UnixExportFlags::UnixOnlyGiven() const {
  for (const CLI::Option* o : only)
    if (o->count() > 0) return true;
  return false;
}

namespace {

void PrintUnixResult(const UnixExportFlags& u, const unixhost::UnixExportReport& r, bool json, bool dry_run,
                     FILE* out) {
  std::uint64_t messages = 0, bytes = 0;
  for (const auto& user : r.users) {
    messages += user.messages;
    bytes += user.bytes;
  }
  const std::string domain = r.manifests.empty() ? "" : r.manifests[0].domains[0].name;
  if (json) {
    JsonWriter j;
    j.BeginRecord("export").Key("status").String("ok").Key("kind").String(kKindDomain);
    j.Key("origin").String("unix").Key("dry_run").Bool(dry_run).Key("domain").String(domain);
    j.Key("old_server").String(u.old_server);
    j.Key("users").Number(r.users.size()).Key("user_list").BeginArray();
    for (const auto& user : r.users) {
      j.BeginObject().Key("name").String(user.name).Key("unix_name").String(user.unix_name);
      j.Key("hash_scheme").String(user.scheme).Key("hash_verifiable").Bool(user.verifiable);
      j.Key("disabled").Bool(user.disabled).Key("messages").Number(user.messages);
      j.Key("bytes").Number(user.bytes).Key("folders").StringArray(user.folders);
      j.Key("pop3_uidls_kept_for").String(user.uidl_kept).Key("batch").Number(user.batch + 1);
      j.Key("warnings").StringArray(user.warnings).EndObject();
    }
    j.EndArray();
    j.Key("skipped").BeginArray();
    for (const auto& s : r.skipped)
      j.BeginObject().Key("name").String(s.name).Key("uid").Number(s.uid).Key("reason").String(s.reason).EndObject();
    j.EndArray();
    j.Key("messages").Number(messages).Key("bytes").Number(bytes);
    j.Key("entries").Number(r.entries).Key("outputs").StringArray(r.outputs);
    j.Key("warnings").StringArray(r.warnings);
    j.EndObject();
    std::fprintf(out, "%s\n", j.str().c_str());
    return;
  }
  if (Quiet() && !dry_run) return;
  for (const auto& user : r.users)
    std::fprintf(out, "  %-16s %-12s %s%llu messages, %llu bytes, folders: %s; POP3 UIDLs kept for: %s\n",
                 user.name.c_str(), user.scheme.c_str(), user.disabled ? "DISABLED, " : "",
                 static_cast<unsigned long long>(user.messages), static_cast<unsigned long long>(user.bytes),
                 user.folders.empty() ? "none" : Join(user.folders, ", ").c_str(), user.uidl_kept.c_str());
  for (const auto& s : r.skipped)
    std::fprintf(out, "  skipped %s (uid %lu): %s\n", EscapeC(s.name).c_str(), s.uid, s.reason.c_str());
  std::fprintf(out, "%s %zu users into %s (%llu messages, %llu bytes) %s %s\n",
               dry_run ? "would export" : "exported", r.users.size(), domain.c_str(),
               static_cast<unsigned long long>(messages), static_cast<unsigned long long>(bytes),
               dry_run ? "to" : "to", r.outputs.empty() || r.outputs[0].empty() ? "(no output)" : Join(r.outputs, ", ").c_str());
}

}  // namespace

int RunUnixExport(const UnixExportFlags& u, const UnixExportCommon& c) {
  auto usage = [](const std::string& msg) { return Usage("export", msg); };
  if (c.domains.size() != 1) return usage("--from unix takes one DOMAIN: the vpopmail domain the users join");
  unixhost::UnixExportOptions opt;
  opt.root = c.root;
  opt.domain = c.domains[0];
  opt.output = c.output;
  opt.compression = c.compression;
  opt.overwrite = c.force;
  opt.dry_run = c.dry_run;
  opt.users = u.users;
  if (!u.users_from.empty()) {
    auto list = ReadListFile(u.users_from);
    if (!list.ok()) return Fail("export", list.status());
    opt.users.insert(opt.users.end(), list->begin(), list->end());
    if (list->empty()) return usage("--users-from " + u.users_from + " names no user");
  }
  if (!u.uid_range.empty()) {
    if (!opt.users.empty()) return usage("--uid-range and --user/--users-from exclude each other");
    auto range = unixhost::ParseUidRange(u.uid_range);
    if (!range.ok()) return Fail("export", range.status());
    opt.has_uid_range = true;
    opt.uid_range = *range;
  }
  opt.batch_size = u.batch;
  opt.locked = u.locked == "skip" ? unixhost::LockedPolicy::kSkip : unixhost::LockedPolicy::kDisable;
  opt.quota = u.quota;
  opt.spool_dir = u.spool;
  opt.folders = u.folders;
  opt.old_server = u.old_server == "uw" ? mbox::OldServer::kUw : mbox::OldServer::kDovecot;
  opt.old_pop3_uidl = u.old_pop3_uidl;
  opt.imap_server = u.imap_server;
  opt.time_zone = u.time_zone;
  opt.progress = c.progress;
  opt.interrupted = c.interrupted;
  unixhost::UnixExportReport report;
  Status s = unixhost::ExportUnix(opt, &report);
  if (c.progress) c.progress->Finish();
  for (const auto& w : report.warnings) std::fprintf(stderr, "vmigrate: export: warning: %s\n", w.c_str());
  for (const auto& user : report.users)
    for (const auto& w : user.warnings)
      std::fprintf(stderr, "vmigrate: export: warning: %s\n", w.c_str());
  if (!s.ok()) return Fail("export", s, c.domains[0]);
  PrintUnixResult(u, report, c.json, c.dry_run, c.output == "-" ? stderr : stdout);
  return 0;
}

}  // namespace vmigrate::cli
