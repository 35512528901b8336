// End to end: the --json output of every command, success and failure, on
// the real fixture, checked against share/doc/json.md: every line parses
// (also with a name that is not UTF-8 on disk), starts with "schema":1 and
// "type", and every key has the one type json.md gives it, wherever it
// appears.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "support/test_support.h"

namespace vmigrate::testing::cli {
namespace {

using Json = nlohmann::ordered_json;

// The key table of share/doc/json.md, "Keys": each key has one JSON type
// (or null where json.md says "or null") in every output and at any depth.
const std::map<std::string, std::set<std::string>>& KeyTypes() {
  static const std::map<std::string, std::set<std::string>> kTypes = [] {
    std::map<std::string, std::set<std::string>> t;
    auto add = [&](std::set<std::string> types, std::initializer_list<const char*> keys) {
      for (const char* k : keys) t[k] = types;
    };
    add({"number"}, {"schema", "users", "messages", "bytes", "entries", "entries_checked", "exit", "seconds",
                     "files", "renames", "removals", "users_added", "users_removed", "users_changed",
                     "messages_added", "added", "already_there", "restored_messages", "restored_bytes",
                     "restored_files", "ok", "failed", "differences", "warning_count", "passwords_checked",
                     "format_version", "uid", "gid", "line", "todo", "local", "remote", "oldest_seconds",
                     "queuelifetime_seconds", "pending", "uidl_kept", "uid_kept", "round", "rounds", "port",
                     "hold_window_seconds", "users_done", "users_total", "messages_done", "messages_total",
                     "bytes_done", "bytes_total", "rate_bytes_per_sec", "elapsed_sec"});
    add({"string"}, {"type", "status", "kind", "name", "dir", "domain_dir", "base", "result",
                     "domains_dir_control", "user", "user_dir", "folder", "path", "what", "message",
                     "command", "object", "archive", "reason", "file", "other_domain", "note", "link", "target",
                     "resolved", "op", "text", "action", "step", "state", "logins", "created_at", "generator",
                     "hostname", "vpopmail_home", "qmail_dir", "quota", "gecos", "weak_hash", "pw_gid",
                     "source_host", "from", "to", "installed_state", "delta_result", "uid_source", "digest",
                     "dir_control", "check", "remote_version", "move_id", "verb", "event", "taken_from",
                     "backend", "mysql_layout", "bucket", "real_domain", "origin", "unix_name", "hash_scheme",
                     "old_server", "pop3_uidls_kept_for", "login", "new_name", "maildir"});
    add({"string", "null"}, {"output", "domain", "error", "state_out", "held_at", "forwarded_at", "forwarded_to"});
    add({"number", "null"}, {"eta_sec"});
    add({"bool"}, {"add_only", "reachable", "cleartext_stored", "qmail_send_signalled", "changed", "dry_run",
                   "resumed", "sticky", "read", "delta", "pop3_order_kept", "passed", "target_has_domain", "merge_users",
                   "hash_verifiable", "disabled", "restarted", "uids_kept", "imap_uids_kept",
                   "dovecot_pop3_uidls_kept", "qmail_pop3d_uidls_kept", "created"});
    add({"array"}, {"aliases", "warnings", "domains", "domain_names", "server_files", "user_list", "user_dirs",
                    "unreachable_users", "skipped_users", "outside_refs", "followed_symlinks", "control_edits",
                    "flags", "domain_files", "weak_hashes", "records", "actions", "changes", "created_dirs",
                    "skipped", "aliases_added", "aliases_removed", "transfers", "alias_domains",
                    "unmatched_aliases", "subscribed_folders", "skipped_message_list", "skipped_file_list", "added_users",
                    "folders", "outputs", "rehashed_users", "rehash_left"});
    add({"object"}, {"source", "queue", "owner", "delta_counts"});
    add({"number"}, {"message_bytes", "stat_sized_messages", "estimated_tar_bytes", "mail_aliases",
                     "skipped_messages", "skipped_files", "batch", "uidvalidity", "on_server", "removed",
                     "uidls_known"});
    return t;
  }();
  return kTypes;
}

std::string TypeOf(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "bool";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

// Every key below `v` has its table type.
void CheckKeys(const Json& v, const std::string& where) {
  if (v.is_array()) {
    for (const auto& e : v) CheckKeys(e, where);
    return;
  }
  if (!v.is_object()) return;
  for (const auto& [key, value] : v.items()) {
    std::string type = TypeOf(value);
    if (key.size() > 4 && key.compare(key.size() - 4, 4, "_hex") == 0) {
      EXPECT_EQ(type, "string") << where << ": " << key;
      continue;
    }
    auto it = KeyTypes().find(key);
    if (it == KeyTypes().end()) {
      ADD_FAILURE() << where << ": key \"" << key << "\" is not in json.md's table";
    } else {
      EXPECT_TRUE(it->second.count(type)) << where << ": \"" << key << "\" is " << type;
    }
    CheckKeys(value, where + "." + key);
  }
}

// These lists hold strings only; "domains" and "user_list" objects only.
void CheckElements(const Json& j, const std::string& where) {
  for (const char* key : {"aliases", "warnings", "domain_names", "flags", "actions", "changes"}) {
    if (!j.contains(key)) continue;
    for (const auto& e : j[key]) {
      EXPECT_TRUE(e.is_string()) << where << ": " << key;
    }
  }
  for (const char* key : {"domains", "user_list", "user_dirs", "control_edits", "outside_refs"}) {
    if (!j.contains(key)) continue;
    for (const auto& e : j[key]) {
      EXPECT_TRUE(e.is_object()) << where << ": " << key;
    }
  }
}

class JsonSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
    domain_disk_ = SourceHomeDisk(src_.path()) + "/domains/example.com";
  }

  // Parses every line of `text` (a command's stdout, or its stderr where
  // json.md says so) as a schema-1 record; returns them. `label` names
  // the command in failures.
  std::vector<Json> Records(const std::string& text, const std::string& label, bool stderr_text = false) {
    std::vector<Json> out;
    for (const std::string& line : Lines(text)) {
      if (stderr_text && (line.empty() || line[0] != '{')) continue;  // the error and warning lines
      Json j = Json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object()) << label << ": not a JSON object: " << line;
      if (!j.is_object()) continue;
      auto it = j.begin();
      EXPECT_EQ(it.key(), "schema") << label << ": " << line;
      EXPECT_EQ(it.value(), 1) << label << ": " << line;
      ++it;
      EXPECT_TRUE(it != j.end() && it.key() == "type" && it.value().is_string()) << label << ": " << line;
      std::string type = j.value("type", "");
      seen_.insert(type);
      CheckKeys(j, label + " (" + type + ")");
      CheckElements(j, label + " (" + type + ")");
      if (type == "error") {
        for (const char* key : {"command", "object", "message", "exit"})
          EXPECT_TRUE(j.contains(key)) << label << ": error object without " << key << ": " << line;
        EXPECT_NE(j.value("exit", 0), 0) << line;
      }
      out.push_back(std::move(j));
    }
    return out;
  }

  // Runs vmigrate; checks the exit code and that stdout holds JSON Lines
  // only. Returns stdout's records.
  std::vector<Json> Run(const std::vector<std::string>& args, int want_exit, const std::string& stdin_file = "") {
    std::string label = "vmigrate";
    for (const auto& a : args) label += " " + a;
    last_ = RunVmigrate(args, stdin_file);
    EXPECT_EQ(last_.exit_code, want_exit) << label << "\n" << last_.out << last_.err;
    auto records = Records(last_.out, label);
    EXPECT_FALSE(records.empty()) << label << ": nothing on stdout\n" << last_.err;
    return records;
  }

  // A failure: exactly one line on stdout, the error object of `command`.
  Json RunFailing(const std::vector<std::string>& args, int want_exit, const std::string& command) {
    auto records = Run(args, want_exit);
    EXPECT_EQ(records.size(), 1u) << last_.out;
    if (records.empty()) return Json();
    EXPECT_EQ(records[0].value("type", ""), "error") << last_.out;
    EXPECT_EQ(records[0].value("command", ""), command) << last_.out;
    EXPECT_EQ(records[0].value("exit", 0), want_exit) << last_.out;
    // The message is the stderr line without "vmigrate: <command>: ".
    EXPECT_NE(last_.err.find("vmigrate: " + command + ": " + records[0].value("message", "?")),
              std::string::npos) << last_.err;
    return records[0];
  }

  std::vector<std::string> Src(std::vector<std::string> a) const { return Concat(a, SourceFlags(src_.path())); }
  std::vector<std::string> Dst(std::vector<std::string> a) const { return Concat(a, TargetFlags(dst_.path())); }

  TempDir src_, dst_, work_;
  std::string domain_disk_;
  CommandResult last_;
  std::set<std::string> seen_;
};

TEST_F(JsonSchemaTest, EveryCommandsSuccessOutputFollowsTheSchema) {
  // A name that is not UTF-8: an alias file .qmail-<0xff>.
  const std::string bad = std::string(".qmail-\xff");
  WriteFile(domain_disk_ + "/" + bad, "&alice@example.com\n");
  const std::string a = work_ / "example.com.tar.zst";
  const std::string net = work_ / "example.net.tar.zst";
  const std::string all = work_ / "all.tar.zst";

  auto e = Run(Src({"export", "example.com", "-o", a, "--json"}), 0);
  EXPECT_EQ(e[0]["type"], "export");
  EXPECT_TRUE(e[0]["users"].is_number());
  Run(Src({"export", "example.net", "-o", net, "--json", "--progress=json"}), 0);
  EXPECT_FALSE(Records(last_.err, "export --progress=json", true).empty()) << last_.err;
  EXPECT_TRUE(seen_.count("progress"));
  Run(Src({"export", "--all", "-o", all, "--json"}), 0);
  // -o -: stdout is the archive, the JSON is the last line of stderr.
  last_ = RunVmigrate(Src({"export", "example.com", "-o", "-", "--json"}));
  EXPECT_EQ(last_.exit_code, 0) << last_.err;
  auto on_err = Records(last_.err, "export -o -", true);
  ASSERT_EQ(on_err.size(), 1u) << last_.err;
  EXPECT_EQ(on_err[0]["type"], "export");
  auto each = Run(Src({"export", "--each", "example.com", "nosuch.test", "-o", work_.path(), "--force", "--json"}), 4);
  ASSERT_EQ(each.size(), 3u) << last_.out;
  EXPECT_EQ(each[1]["type"], "domain");
  EXPECT_EQ(each[1]["status"], "error");
  EXPECT_EQ(each[2]["type"], "summary");

  // inspect lists the domain files: the bad name is there, as U+FFFD.
  auto ins = Run({"inspect", a, "--json"}, 0);
  EXPECT_TRUE(ins[0]["users"].is_number());
  EXPECT_NE(ins[0].dump().find(".qmail-\xef\xbf\xbd"), std::string::npos) << last_.out;
  Run({"inspect", all, "--json"}, 0);

  Run(Dst({"import", a, "--dry-run", "--json"}), 0);
  auto imp = Run(Dst({"import", a, "--no-reload", "--json"}), 0);
  EXPECT_EQ(imp[0]["type"], "import");
  EXPECT_EQ(imp[0]["status"], "ok");
  Run(Dst({"verify", a, "--json", "--uidl"}), 0);
  EXPECT_TRUE(seen_.count("uidl"));
  EXPECT_TRUE(seen_.count("summary"));

  // A difference that names the bad file: its path and the exact bytes.
  const std::string dst_domain = TargetHomeDisk(dst_.path()) + "/domains/example.com";
  ASSERT_EQ(std::remove((dst_domain + "/" + bad).c_str()), 0);
  auto diff = Run(Dst({"verify", a, "--json"}), 3);
  bool found = false;
  for (const auto& j : diff) {
    if (j["type"] != "difference" || !j.contains("path_hex")) continue;
    found = true;
    EXPECT_EQ(j["path_hex"], "2e716d61696c2dff") << j.dump();
  }
  EXPECT_TRUE(found) << last_.out;

  // Batch import (a failure among them), a mailbox restore, state, a delta.
  WriteFile(work_ / "junk.tar.zst", "not an archive\n");
  auto batch = Run(Dst({"import", net, work_ / "junk.tar.zst", "--no-reload", "--json"}), 4);
  ASSERT_EQ(batch.size(), 3u) << last_.out;
  EXPECT_EQ(batch[1]["type"], "domain");
  EXPECT_TRUE(batch[1]["domain"].is_null()) << "domain holds no archive path: " << batch[1].dump();
  EXPECT_EQ(batch[2]["type"], "summary");
  Run(Dst({"import", a, "--domain", "example.com", "--user", "alice", "--no-reload", "--json"}), 0);
  Run(Dst({"import", a, "--user", "alice", "--into-folder", "Restored", "--no-reload", "--json"}), 0);
  auto skip = Run(Dst({"import", a, "--skip-existing", "--no-reload", "--json"}), 0);
  EXPECT_EQ(skip[0]["status"], "skipped") << skip[0].dump();
  auto listed = Run(Dst({"list", "--json"}), 0);
  EXPECT_EQ(listed[0]["type"], "list");
  auto dry = Run(Src({"export", "example.com", "--dry-run", "--json"}), 0);
  EXPECT_EQ(dry[0]["dry_run"], true);
  const std::string st = work_ / "dst.state";
  Run(Dst({"state", "example.com", "-o", st, "--json"}), 0);
  WriteFile(domain_disk_ + "/alice/Maildir/new/1800000000.1.mail.example.com", "Subject: x\n\nnew\n");
  const std::string d = work_ / "delta.tar.zst";
  auto ex = Run(Src({"export", "example.com", "--since", st, "-o", d, "--json"}), 0);
  EXPECT_EQ(ex[0]["kind"], "delta");
  Run({"inspect", d, "--json"}, 0);
  Run(Src({"export", "example.com", "--since", st, "--dry-run", "--json"}), 0);
  Run(Dst({"import", d, "--dry-run", "--json"}), 0);
  Run(Dst({"import", d, "--no-reload", "--json"}), 0);
  Run(Dst({"verify", d, "--json"}), 0);

  // cutover on the source.
  auto status = Run(Src({"cutover", "status", "example.com", "--json"}), 0);
  EXPECT_TRUE(status[0]["held_at"].is_null());
  Run(Src({"cutover", "hold", "example.com", "--no-reload", "--json"}), 0);
  status = Run(Src({"cutover", "status", "example.com", "--json"}), 0);
  ASSERT_TRUE(status[0]["held_at"].is_string());
  EXPECT_EQ(status[0]["held_at"].get<std::string>().back(), 'Z');
  Run(Src({"cutover", "release", "example.com", "--no-reload", "--json"}), 0);
  Run(Src({"cutover", "block-logins", "example.com", "--no-reload", "--json"}), 0);
  Run(Src({"cutover", "open-logins", "example.com", "--no-reload", "--json"}), 0);
  Run(Dst({"cutover", "discard", "nosuch.test", "--move-id", "aaaaaaaa", "--dry-run", "--json"}), 0);

  for (const char* type : {"export", "import", "inspect", "state", "cutover", "domain", "summary", "difference",
                           "progress", "list"})
    EXPECT_TRUE(seen_.count(type)) << "no \"" << type << "\" line seen";
}

TEST_F(JsonSchemaTest, EveryCommandsFailurePrintsOneErrorObject) {
  const std::string a = work_ / "a.tar.zst";
  ASSERT_EQ(Export(src_.path(), "example.com", a).exit_code, 0);
  WriteFile(work_ / "text.txt", "hello\n");

  auto e = RunFailing(Src({"export", "nosuch.test", "-o", work_ / "x.tar.zst", "--json"}), 7, "export");
  EXPECT_EQ(e["object"], "nosuch.test");
  RunFailing(Src({"export", "example.com", "-o", work_ / "y.tar.zst", "--exclude", "x", "--json"}), 2, "export");
  // -o -: the error object goes to stderr too, stdout stays the (empty) archive.
  last_ = RunVmigrate(Src({"export", "nosuch.test", "-o", "-", "--json"}));
  EXPECT_EQ(last_.exit_code, 7);
  EXPECT_EQ(Records(last_.err, "export -o -", true).size(), 1u) << last_.err;

  auto i = RunFailing({"inspect", work_ / "missing.tar.zst", "--json"}, 7, "inspect");
  EXPECT_EQ(i["object"], work_ / "missing.tar.zst");
  RunFailing({"inspect", work_ / "text.txt", "--json"}, 6, "inspect");

  RunFailing(Dst({"import", work_ / "missing.tar.zst", "--json"}), 7, "import");
  auto bad = RunFailing(Dst({"import", work_ / "text.txt", "--json"}), 6, "import");
  EXPECT_FALSE(bad.contains("domain")) << bad.dump();
  RunFailing(Dst({"import", a, "--merge", "--json"}), 2, "import");
  ASSERT_EQ(Import(dst_.path(), a).exit_code, 0);
  auto again = RunFailing(Dst({"import", a, "--no-reload", "--json"}), 5, "import");
  EXPECT_EQ(again["object"], "example.com");

  RunFailing(Dst({"verify", work_ / "missing.tar.zst", "--json"}), 7, "verify");
  RunFailing(Src({"export", "nosuch.test", "--dry-run", "--json"}), 7, "export");
  RunFailing({"list", "--root", work_ / "nosuch-root", "--json"}, 2, "list");
  RunFailing(Dst({"import", a, "--user", "alice", "--into-folder", "../x", "--no-reload", "--json"}), 2, "import");
  RunFailing(Src({"state", "nosuch.test", "-o", work_ / "s", "--json"}), 7, "state");
  RunFailing(Src({"cutover", "status", "nosuch.test", "--json"}), 7, "cutover status");
  RunFailing(Src({"cutover", "hold", "nosuch.test", "--no-reload", "--json"}), 7, "cutover hold");
  RunFailing(Src({"cutover", "forward", "example.com", "--to", "127.0.0.1:1", "--smtp-timeout", "2", "--json"}), 2,
             "cutover forward");
  RunFailing(Dst({"cutover", "discard", "example.com", "--move-id", "aaaaaaaa", "--json"}), 5, "cutover discard");
  RunFailing(Dst({"cutover", "discard", "example.com", "--move-id", "xyz", "--json"}), 2, "cutover discard");
  RunFailing(Src({"move", "example.com", "--to", "new.invalid", "--dry-run", "--abort", "--json"}), 2, "move");
  auto mv = RunFailing(Src({"move", "example.com", "--to", "new.invalid", "--ssh-command", "/bin/false",
                            "--dry-run", "--json"}), 10, "move");
  EXPECT_EQ(mv["object"], "example.com");
  EXPECT_EQ(mv["step"], "check");

  std::string pw = work_ / "pw";
  WriteFile(pw, "secret\n");
  // Nothing listens on port 1 of loopback: the old server is unreachable.
  auto pull = RunFailing(Dst({"pull", "--from", "imap://127.0.0.1:1", "--user", "alice@example.com",
                              "--password-file", pw, "--into", "alice@example.com", "--json"}), 9, "pull");
  EXPECT_EQ(pull["object"], "alice@example.com");
  RunFailing(Dst({"pull", "--from", "imap://127.0.0.1:1", "--user", "a", "--password-file", pw, "--into",
                  "nobody@example.com", "--json"}), 7, "pull");
}

}  // namespace
}  // namespace vmigrate::testing::cli
