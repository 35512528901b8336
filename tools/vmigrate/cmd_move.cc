// vmigrate move: the whole live move of one domain, run from the old host.
// It runs the other commands through their CLI (this host's as children of
// this binary, the new host's over ssh), keeps its progress in a record
// (cutover/move_record.h) so that --resume continues and --abort undoes,
// and prints one line (or one JSON event) per step. The steps and why they
// come in this order: README "Moving a live domain",
// shared/reference/sources-and-cutover.md §3.4.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/json.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "cutover/move_record.h"
#include "cutover/move_support.h"
#include "cutover/remote.h"
#include "tools/vmigrate/commands.h"

namespace vmigrate::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  PathFlags paths;
  std::string domain, to, ssh_command, target_root, target_home, target_qmail;
  std::string remote_vmigrate = "vmigrate";
  unsigned smtp_port = 25, max_rounds = 5, small_delta = 50, tail_timeout = 900;
  bool resume = false, abort = false, dry_run = false, json = false;
};

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// What one export | import carried, from the export's --json summary.
struct Carried {
  std::uint64_t bytes = 0, messages = 0;
  double seconds = 0;
};

// The last line of `lines` that parses as a JSON object of schema 1 and the
// given "type" (a command's --json result, share/doc/json.md; warnings come
// before it), or a discarded value.
nlohmann::ordered_json LastJson(const std::vector<std::string>& lines, const char* type) {
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->empty() || (*it)[0] != '{') continue;
    auto j = nlohmann::ordered_json::parse(*it, nullptr, false);
    if (j.is_object() && j.value("schema", 0) == static_cast<int>(kJsonSchema) && j.value("type", "") == type)
      return j;
  }
  return nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded);
}

// One line of JSON; bytes that are not UTF-8 (a host name, a remote
// error text) become U+FFFD instead of throwing.
std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// A move --json line: {"schema":1,"type":<type>, ...fields}.
nlohmann::ordered_json Record(const char* type) {
  return nlohmann::ordered_json{{"schema", kJsonSchema}, {"type", type}};
}

std::uint64_t Count(const nlohmann::ordered_json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_unsigned()) return 0;
  return j[key].get<std::uint64_t>();
}

class Mover {
 public:
  Mover(const Flags& f, HostPaths paths, SshTarget target)
      : f_(f), paths_(std::move(paths)), target_(std::move(target)),
        dir_(MoveDir(paths_.OnDisk(paths_.domains_dir()), f.domain)) {}

  int Run();

 private:
  // Command lines.
  std::vector<std::string> Local(std::vector<std::string> words) const;
  std::vector<std::string> Remote(std::vector<std::string> words, bool with_paths = true) const;
  std::string StatePath(const std::string& name) const { return dir_ + "/" + name; }

  // Running them.
  Status RunLocal(const std::string& what, std::vector<std::string> words, StageResult* r);
  Status RunRemote(const std::string& what, std::vector<std::string> words, StageResult* r,
                   size_t max_stdout = 4u << 20);
  Status Transfer(const std::string& label, bool add_only, Carried* carried);
  // The content digest of the domain on the new host; "" when it has none.
  Status RemoteDigest(std::string* digest);
  Status LocalDigest(std::string* digest);

  // Steps.
  Status Checks();
  Status Reconcile();
  Status Steps();
  Status StepForward();
  Status Tails();
  int Abort();
  int Finish(const Status& s);
  void PrintPlan() const;
  void PrintDone() const;

  Status Save() { return WriteMoveRecord(dir_, rec_); }
  void Event(const std::string& step, nlohmann::ordered_json fields, const std::string& text);

  const Flags& f_;
  HostPaths paths_;
  SshTarget target_;
  std::string dir_;
  MoveRecord rec_;
  bool have_record_ = false;
  std::string remote_digest_;  // from the checks: "" when the new host lacks the domain
  std::string step_ = "check";
};

std::vector<std::string> Mover::Local(std::vector<std::string> words) const {
  // The running binary, whatever $PATH says: both ends of a step must be
  // the same vmigrate.
  words.insert(words.begin(), "/proc/self/exe");
  for (const char* flag : {"--root", "--vpopmail-home", "--qmail-dir"}) words.push_back(flag);
  words.insert(words.end() - 2, paths_.root);
  words.insert(words.end() - 1, paths_.vpopmail_home);
  words.push_back(paths_.qmail_dir);
  // The old host's backend as given (a MySQL host's export and state).
  words.insert(words.end(), {"--backend", paths_.backend});
  if (!paths_.mysql_config.empty()) words.insert(words.end(), {"--mysql-config", paths_.mysql_config});
  if (!paths_.mysql_socket.empty()) words.insert(words.end(), {"--mysql-socket", paths_.mysql_socket});
  return words;
}

std::vector<std::string> Mover::Remote(std::vector<std::string> words, bool with_paths) const {
  std::vector<std::string> cmd;
  for (const auto& w : Split(f_.remote_vmigrate, ' '))
    if (!w.empty()) cmd.push_back(w);
  cmd.insert(cmd.end(), words.begin(), words.end());
  if (with_paths) {
    if (!f_.target_root.empty()) cmd.insert(cmd.end(), {"--root", f_.target_root});
    if (!f_.target_home.empty()) cmd.insert(cmd.end(), {"--vpopmail-home", f_.target_home});
    if (!f_.target_qmail.empty()) cmd.insert(cmd.end(), {"--qmail-dir", f_.target_qmail});
  }
  return SshArgv(target_, cmd);
}

Status Mover::RunLocal(const std::string& what, std::vector<std::string> words, StageResult* r) {
  auto res = RunProcess(Local(std::move(words)));
  if (!res.ok()) return res.status();
  *r = std::move(*res);
  return ChildStatus("vmigrate " + what, *r);
}

Status Mover::RunRemote(const std::string& what, std::vector<std::string> words, StageResult* r,
                        size_t max_stdout) {
  PipelineOptions opt;
  opt.max_stdout = max_stdout;
  auto res = RunProcess(Remote(std::move(words)), opt);
  if (!res.ok()) return res.status();
  *r = std::move(*res);
  return RemoteStatus(target_, "vmigrate " + what, *r);
}

Status Mover::RemoteDigest(std::string* digest) {
  StageResult r;
  Status s = RunRemote("state", {"state", f_.domain, "-o", "-", "--json"}, &r, 0);
  digest->clear();
  if (r.exit_code == static_cast<int>(Exit::kNotFound)) return Status::OK();
  VM_RETURN_IF_ERROR(s);
  auto j = LastJson(r.err_lines, "state");
  if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string())
    return Status::RemoteFailed(target_.host() + ": vmigrate state printed no digest");
  *digest = j["digest"].get<std::string>();
  return Status::OK();
}

Status Mover::LocalDigest(std::string* digest) {
  StageResult r;
  auto res = RunProcess(Local({"state", f_.domain, "-o", "-", "--json"}), PipelineOptions{0, 200, ""});
  if (!res.ok()) return res.status();
  VM_RETURN_IF_ERROR(ChildStatus("vmigrate state", *res));
  auto j = LastJson(res->err_lines, "state");
  if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string())
    return Status::IoError("vmigrate state printed no digest");
  *digest = j["digest"].get<std::string>();
  return Status::OK();
}

void Mover::Event(const std::string& step, nlohmann::ordered_json fields, const std::string& text) {
  if (f_.json) {
    nlohmann::ordered_json j = Record("step");
    j["step"] = step;
    j.update(fields);
    std::printf("%s\n", Dump(j).c_str());
  } else {
    std::printf("move: %-12s %s\n", (step + ":").c_str(), text.c_str());
  }
  std::fflush(stdout);
}

// `vmigrate export -o - --state-out S(n) [--since S(n-1)] [--add-only]` on
// this host piped into `vmigrate import -` on the new host, streamed.
Status Mover::Transfer(const std::string& label, bool add_only, Carried* carried) {
  const std::string next = "state." + std::to_string(rec_.transfers.size() + 1);
  rec_.pending = next;
  VM_RETURN_IF_ERROR(Save());
  unlink(StatePath(next).c_str());  // an interrupted earlier try may have left it
  std::vector<std::string> exp = {"export", f_.domain, "-o", "-", "--json", "--state-out", StatePath(next)};
  // A delta round's base is what the new host has, read from it in the same
  // pipeline (`ssh new vmigrate state -o - | export --since - | ssh new
  // import -`): mail delivered here while an earlier round was exported can
  // leave this host's own --state-out a little off what the new host got,
  // and the next base check would refuse it. A tail has no base check (the
  // new host is live): it chains this host's own states, so no message is
  // sent twice or missed.
  const bool remote_base = !rec_.state.empty() && !add_only;
  if (remote_base) exp.insert(exp.end(), {"--since", "-"});
  else if (!rec_.state.empty()) exp.insert(exp.end(), {"--since", StatePath(rec_.state)});
  if (add_only) exp.push_back("--add-only");
  std::vector<std::string> imp = {"import", "-", "--json"};
  if (rec_.state.empty()) imp.insert(imp.end(), {"--move-id", rec_.move_id});
  auto start = Clock::now();
  std::vector<std::vector<std::string>> stages;
  if (remote_base) stages.push_back(Remote({"state", f_.domain, "-o", "-"}));
  stages.push_back(Local(exp));
  stages.push_back(Remote(imp));
  auto res = RunPipeline(stages);
  if (!res.ok()) return res.status();
  if (remote_base) VM_RETURN_IF_ERROR(RemoteStatus(target_, "vmigrate state", (*res)[0]).WithContext(label));
  const StageResult& e = (*res)[remote_base ? 1 : 0];
  const StageResult& i = (*res)[remote_base ? 2 : 1];
  // The export failing on its own (a code, not SIGPIPE from a dead reader)
  // is this host's error; otherwise the remote end is what broke.
  if (e.exit_code > 0) return ChildStatus("vmigrate export", e).WithContext(label);
  VM_RETURN_IF_ERROR(RemoteStatus(target_, "vmigrate import", i).WithContext(label));
  VM_RETURN_IF_ERROR(ChildStatus("vmigrate export", e).WithContext(label));
  auto imported = LastJson(SplitLines(i.out), "import");
  std::string status = imported.is_object() && imported.contains("status") && imported["status"].is_string()
                           ? imported["status"].get<std::string>()
                           : "";
  if (status != "ok" && status != "already_applied")
    return Status::RemoteFailed(target_.host() + ": " + label + ": vmigrate import did not report success");
  auto exported = LastJson(e.err_lines, "export");
  carried->bytes = Count(exported, "bytes");
  carried->messages = Count(exported, "messages");
  carried->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  rec_.state = next;
  rec_.pending.clear();
  rec_.transfers.push_back({label, carried->bytes, carried->messages, carried->seconds});
  // Only the newest state is needed from now on.
  if (rec_.transfers.size() >= 2) unlink(StatePath("state." + std::to_string(rec_.transfers.size() - 1)).c_str());
  char text[160];
  std::snprintf(text, sizeof text, "%llu messages, %llu bytes in %.1f s%s",
                static_cast<unsigned long long>(carried->messages), static_cast<unsigned long long>(carried->bytes),
                carried->seconds, status == "already_applied" ? " (already applied)" : "");
  Event(label, {{"round", rec_.rounds}, {"bytes", carried->bytes}, {"messages", carried->messages},
                {"seconds", carried->seconds}},
        text);
  return Status::OK();
}

Status Mover::Checks() {
  auto ver = RunProcess(Remote({"--version"}, false));
  if (!ver.ok()) return ver.status();
  VM_RETURN_IF_ERROR(RemoteStatus(target_, "vmigrate --version", *ver));
  std::string remote_version = Trim(ver->out.substr(0, ver->out.find('\n')));
  VM_RETURN_IF_ERROR(CheckCompatibleVersion(target_.host(), remote_version));
  Event("check", {{"check", "ssh"}, {"passed", true}, {"remote_version", remote_version}},
        "ssh to " + target_.destination + " works, " + remote_version + " there");
  std::string local_digest;
  VM_RETURN_IF_ERROR(LocalDigest(&local_digest).WithContext(f_.domain));
  VM_RETURN_IF_ERROR(RemoteDigest(&remote_digest_));
  if (!remote_digest_.empty() && !f_.resume)
    return Status::Conflict(target_.host() + " already has " + f_.domain +
                            " (a move there is continued with --resume; nothing was changed)");
  Event("check", {{"check", "target"}, {"passed", true}, {"target_has_domain", !remote_digest_.empty()}},
        remote_digest_.empty() ? f_.domain + " is here and not on " + target_.host()
                               : target_.host() + " has " + f_.domain + " from this move");
  if (f_.dry_run) {
    VM_RETURN_IF_ERROR(CheckSmtpGreeting(target_.host(), f_.smtp_port));
    Event("check", {{"check", "smtp"}, {"passed", true}, {"port", f_.smtp_port}},
          target_.host() + ":" + std::to_string(f_.smtp_port) + " answers SMTP");
  }
  return Status::OK();
}

// After an interruption: a transfer that was under way may have reached the
// new host (the import committed, the record did not say so yet).
Status Mover::Reconcile() {
  if (rec_.done >= MoveStep::kFull && remote_digest_.empty())
    return Status::Conflict(target_.host() + " lacks " + f_.domain + " though this move copied it there; " +
                            "`vmigrate move --abort` undoes the move");
  if (rec_.pending.empty() || rec_.done >= MoveStep::kForward) return Status::OK();
  auto pending_digest = StateFileDigest(StatePath(rec_.pending));
  if (pending_digest.ok() && !remote_digest_.empty() && *pending_digest == remote_digest_) {
    rec_.transfers.push_back({"resumed", 0, 0, 0});
    rec_.state = rec_.pending;
  }
  rec_.pending.clear();
  if (rec_.done == MoveStep::kNone && rec_.state.empty() && !remote_digest_.empty())
    return Status::Conflict(target_.host() + " has " + f_.domain +
                            " but not as this move's full copy left it: `vmigrate move --abort` removes it there");
  return Save();
}

Status Mover::Steps() {
  Carried c;
  if (rec_.done < MoveStep::kFull) {
    step_ = "full";
    rec_.full_started = true;
    if (rec_.state.empty()) VM_RETURN_IF_ERROR(Transfer("full", false, &c));
    rec_.done = MoveStep::kFull;
    VM_RETURN_IF_ERROR(Save());
  }
  if (rec_.done < MoveStep::kBlockLogins) {
    step_ = "block-logins";
    StageResult r;
    VM_RETURN_IF_ERROR(RunRemote("cutover block-logins", {"cutover", "block-logins", f_.domain}, &r));
    rec_.done = MoveStep::kBlockLogins;
    VM_RETURN_IF_ERROR(Save());
    Event("block-logins", nlohmann::ordered_json::object(), "logins to " + f_.domain + " blocked on " + target_.host());
  }
  if (rec_.done < MoveStep::kRounds) {
    step_ = "rounds";
    while (rec_.rounds < static_cast<int>(f_.max_rounds)) {
      ++rec_.rounds;
      Status s = Transfer("round", false, &c);
      if (!s.ok()) {
        --rec_.rounds;
        return s;
      }
      VM_RETURN_IF_ERROR(Save());
      if (c.messages <= f_.small_delta) break;
    }
    rec_.done = MoveStep::kRounds;
    VM_RETURN_IF_ERROR(Save());
  }
  if (rec_.done < MoveStep::kHold) {
    step_ = "hold";
    StageResult r;
    VM_RETURN_IF_ERROR(RunLocal("cutover hold", {"cutover", "hold", f_.domain}, &r));
    rec_.hold_time = Now();
    rec_.done = MoveStep::kHold;
    VM_RETURN_IF_ERROR(Save());
    Event("hold", {{"held_at", IsoUtc(rec_.hold_time)}}, f_.domain + " held here: mail queued, logins blocked");
  }
  if (rec_.done < MoveStep::kFinal) {
    step_ = "final";
    VM_RETURN_IF_ERROR(Transfer("final", false, &c));
    rec_.done = MoveStep::kFinal;
    VM_RETURN_IF_ERROR(Save());
  }
  if (rec_.done < MoveStep::kVerify) {
    step_ = "verify";
    std::string here, there;
    VM_RETURN_IF_ERROR(LocalDigest(&here));
    VM_RETURN_IF_ERROR(RemoteDigest(&there));
    if (here != there) {
      // Something changed under the hold: the final delta runs again on --resume.
      rec_.done = MoveStep::kHold;
      VM_RETURN_IF_ERROR(Save());
      return Status::IoError("verify: " + f_.domain + " on " + target_.host() + " (state " + there.substr(0, 16) +
                             ") differs from this host's (" + here.substr(0, 16) +
                             "); `vmigrate move --resume` sends the final delta again");
    }
    rec_.done = MoveStep::kVerify;
    VM_RETURN_IF_ERROR(Save());
    Event("verify", {{"digest", here}}, target_.host() + " has the same " + f_.domain + " (state " + here.substr(0, 16) + ")");
  }
  if (rec_.done < MoveStep::kForward) VM_RETURN_IF_ERROR(StepForward());
  if (rec_.done < MoveStep::kTail) VM_RETURN_IF_ERROR(Tails());
  if (rec_.done < MoveStep::kOpenLogins) {
    step_ = "open-logins";
    StageResult r;
    VM_RETURN_IF_ERROR(RunRemote("cutover open-logins", {"cutover", "open-logins", f_.domain}, &r));
    rec_.done = MoveStep::kOpenLogins;
    VM_RETURN_IF_ERROR(Save());
    Event("open-logins", nlohmann::ordered_json::object(), "logins to " + f_.domain + " open on " + target_.host());
  }
  return Status::OK();
}

Status Mover::StepForward() {
  step_ = "forward";
  StageResult r;
  const std::string to = target_.host() + ":" + std::to_string(f_.smtp_port);
  VM_RETURN_IF_ERROR(RunLocal("cutover forward", {"cutover", "forward", f_.domain, "--to", to}, &r));
  rec_.forward_time = Now();
  rec_.done = MoveStep::kForward;
  VM_RETURN_IF_ERROR(Save());
  std::int64_t window = rec_.forward_time - rec_.hold_time;
  Event("forward", {{"to", to}, {"forwarded_at", IsoUtc(rec_.forward_time)}, {"hold_window_seconds", window}},
        "new mail for " + f_.domain + " goes to " + to + "; hold window " + std::to_string(window) + " s");
  return Status::OK();
}

// Mail held here before the forward lands in the old Maildirs when the
// hold is lifted: add-only deltas carry it until qmail's queue holds
// nothing more for the domain and a tail carried nothing.
Status Mover::Tails() {
  step_ = "tail";
  auto deadline = Clock::now() + std::chrono::seconds(f_.tail_timeout);
  for (int n = 1;; ++n) {
    Carried c;
    VM_RETURN_IF_ERROR(Transfer("tail", true, &c));
    VM_RETURN_IF_ERROR(Save());
    StageResult r;
    VM_RETURN_IF_ERROR(RunLocal("cutover status", {"cutover", "status", f_.domain, "--json"}, &r));
    auto status = LastJson(SplitLines(r.out), "cutover");
    if (!status.is_object() || !status.contains("pending") || !status["pending"].is_number_unsigned())
      return Status::IoError("tail: vmigrate cutover status printed no 'pending' count");
    std::uint64_t pending = status["pending"].get<std::uint64_t>();
    if (pending == 0 && c.messages == 0) break;
    if (Clock::now() >= deadline)
      return Status::IoError("tail: qmail here still holds " + std::to_string(pending) + " messages for " +
                             f_.domain + " after " + std::to_string(f_.tail_timeout) +
                             " s; `vmigrate move --resume` goes on with the tail");
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  rec_.done = MoveStep::kTail;
  return Save();
}

void Mover::PrintPlan() const {
  const std::string to = target_.host() + ":" + std::to_string(f_.smtp_port);
  std::vector<std::pair<std::string, std::string>> plan = {
      {"full", "export " + f_.domain + " here | import on " + target_.host() + " (--move-id)"},
      {"block-logins", "block logins to " + f_.domain + " on " + target_.host()},
      {"rounds", "deltas until one carries <= " + std::to_string(f_.small_delta) + " messages (at most " +
                     std::to_string(f_.max_rounds) + ")"},
      {"hold", "hold " + f_.domain + " here: mail stays queued, logins blocked"},
      {"final", "final delta under the hold"},
      {"verify", "state of " + f_.domain + " on " + target_.host() + " equals this host's"},
      {"forward", "route new mail to " + to + ", release the held mail here"},
      {"tail", "add-only deltas until qmail here holds nothing more for " + f_.domain},
      {"open-logins", "open logins on " + target_.host()}};
  for (const auto& [step, what] : plan) {
    if (f_.json) {
      nlohmann::ordered_json j = Record("plan");
      j["step"] = step;
      j["what"] = what;
      std::printf("%s\n", Dump(j).c_str());
    } else {
      std::printf("plan: %-12s %s\n", (step + ":").c_str(), what.c_str());
    }
  }
  if (!f_.json) std::printf("dry run: checks passed; nothing was changed\n");
}

void Mover::PrintDone() const {
  double total = static_cast<double>(Now() - rec_.started);
  std::int64_t window = rec_.forward_time - rec_.hold_time;
  if (f_.json) {
    nlohmann::ordered_json transfers = nlohmann::ordered_json::array();
    for (const auto& t : rec_.transfers)
      transfers.push_back({{"step", t.label}, {"bytes", t.bytes}, {"messages", t.messages}, {"seconds", t.seconds}});
    nlohmann::ordered_json j = Record("summary");
    j.update({{"status", "ok"}, {"domain", f_.domain}, {"to", target_.destination}, {"seconds", total},
              {"hold_window_seconds", window}, {"rounds", rec_.rounds}, {"transfers", transfers}});
    std::printf("%s\n", Dump(j).c_str());
    return;
  }
  std::printf("moved %s to %s in %.0f s; hold window %lld s; %d delta rounds\n", f_.domain.c_str(),
              target_.destination.c_str(), total, static_cast<long long>(window), rec_.rounds);
  for (const auto& t : rec_.transfers)
    std::printf("  %-8s %llu messages, %llu bytes, %.1f s\n", t.label.c_str(),
                static_cast<unsigned long long>(t.messages), static_cast<unsigned long long>(t.bytes), t.seconds);
}

int Mover::Finish(const Status& s) {
  if (s.ok()) return 0;
  std::string msg = f_.domain + ": " + step_ + ": " + s.message();
  if (have_record_ && s.code() == Status::Code::kRemoteFailed)
    msg += " (`vmigrate move " + f_.domain + " --to " + target_.destination + " --resume` continues)";
  // The error object (Fail) with the step that failed: printed here, as it
  // has the extra key.
  const int code = static_cast<int>(ToExit(s));
  if (f_.json) {
    nlohmann::ordered_json j = Record("error");
    j.update({{"command", "move"}, {"object", f_.domain}, {"message", msg}, {"exit", code}, {"step", step_}});
    std::printf("%s\n", Dump(j).c_str());
    std::fflush(stdout);
  }
  std::fprintf(stderr, "vmigrate: move: %s\n", msg.c_str());
  return code;
}

int Mover::Abort() {
  auto rec = ReadMoveRecord(dir_);
  if (!rec.ok()) {
    if (rec.status().code() == Status::Code::kNotFound)
      return Fail("move", Status::NotFound(f_.domain + ": no move to abort (no record in " + dir_ + ")"));
    return Fail("move", rec.status());
  }
  rec_ = *rec;
  step_ = "abort";
  if (rec_.done >= MoveStep::kForward)
    return Finish(Status::Conflict("abort refused: " + f_.domain + " was forwarded to " + target_.host() +
                                   ", which has taken mail since; finish with --resume"));
  StageResult r;
  Status s = RunLocal("cutover release", {"cutover", "release", f_.domain}, &r);
  if (!s.ok()) return Finish(s);
  Event("release", nlohmann::ordered_json::object(), f_.domain + " released here (local delivery, logins open)");
  if (rec_.full_started) {
    s = RunRemote("cutover discard", {"cutover", "discard", f_.domain, "--move-id", rec_.move_id}, &r);
    // Nothing there: the full import never committed.
    if (!s.ok() && r.exit_code != static_cast<int>(Exit::kNotFound)) return Finish(s);
    Event("discard", {{"move_id", rec_.move_id}}, f_.domain + " removed from " + target_.host());
  }
  s = RemoveMoveDir(dir_);
  if (!s.ok()) return Finish(s);
  Event("abort", nlohmann::ordered_json::object(), "move of " + f_.domain + " aborted; both hosts as before");
  return 0;
}

int Mover::Run() {
  if (f_.abort) return Abort();
  auto rec = ReadMoveRecord(dir_);
  if (rec.ok()) {
    if (!f_.resume)
      return Fail("move", Status::Conflict(f_.domain + ": a move to " + rec->target + " is under way (" +
                                           MoveStepName(rec->done) +
                                           " done): continue it with --resume or undo it with --abort"));
    if (rec->target != target_.destination)
      return Fail("move", Status::Conflict(f_.domain + ": the move under way goes to " + rec->target + ", not " +
                                           target_.destination));
    rec_ = *rec;
    have_record_ = true;
  } else if (rec.status().code() != Status::Code::kNotFound) {
    return Fail("move", rec.status());
  } else if (f_.resume) {
    return Fail("move", Status::NotFound(f_.domain + ": no move to resume (no record in " + dir_ + ")"));
  }
  Status s = Checks();
  if (!s.ok() || f_.dry_run) {
    if (s.ok()) PrintPlan();
    return Finish(s);
  }
  if (!have_record_) {
    auto id = NewMoveId();
    if (!id.ok()) return Finish(id.status());
    rec_.move_id = *id;
    rec_.domain = f_.domain;
    rec_.target = target_.destination;
    rec_.started = Now();
    s = Save();
    if (!s.ok()) return Finish(s);
    have_record_ = true;
  } else {
    s = Reconcile();
    if (!s.ok()) return Finish(s);
  }
  s = Steps();
  if (!s.ok()) return Finish(s);
  PrintDone();
  s = RemoveMoveDir(dir_);
  return Finish(s);
}

}  // namespace

Handler AddMove(CLI::App* app) {
  auto f = std::make_shared<Flags>();
  app->add_option("DOMAIN", f->domain, "the vpopmail domain to move")->required();
  app->add_option("--to", f->to, "the new host, as ssh reaches it")->required()->type_name("[USER@]HOST");
  app->add_option("--ssh-command", f->ssh_command, "ssh and its options (default: ssh)")->type_name("CMD");
  app->add_option("--smtp-port", f->smtp_port, "SMTP port of the new host for the forward (default 25)");
  app->add_option("--target-root", f->target_root, "--root for vmigrate on the new host");
  app->add_option("--target-vpopmail-home", f->target_home, "--vpopmail-home for vmigrate on the new host");
  app->add_option("--target-qmail-dir", f->target_qmail, "--qmail-dir for vmigrate on the new host");
  app->add_option("--remote-vmigrate", f->remote_vmigrate, "the vmigrate command on the new host (default: vmigrate)")
      ->type_name("CMD");
  app->add_option("--max-rounds", f->max_rounds, "delta rounds before the hold, at most (default 5)");
  app->add_option("--small-delta-messages", f->small_delta,
                  "a delta of at most N messages ends the rounds (default 50)");
  app->add_option("--tail-timeout", f->tail_timeout,
                  "seconds to wait for qmail here to deliver the held mail after the forward (default 900)");
  auto* resume = app->add_flag("--resume", f->resume, "continue the move recorded for DOMAIN");
  app->add_flag("--abort", f->abort, "undo the recorded move (only before the forward)")->excludes(resume);
  app->add_flag("--dry-run", f->dry_run, "run the checks and print the plan; change nothing");
  app->add_flag("--json", f->json, "JSON Lines: one object per step, then a summary (share/doc/json.md)");
  f->paths.Add(app);
  return [f]() -> int {
    JsonErrors(f->json);
    if (f->dry_run && f->abort) return Usage("move", "--dry-run and --abort exclude each other");
    f->domain = ToLower(f->domain);
    Status s = vpopmail::ValidateDomainName(f->domain);
    if (!s.ok()) return Fail("move", s);
    auto target = MakeSshTarget(f->ssh_command, f->to);
    if (!target.ok()) return Fail("move", target.status());
    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("move", paths.status());
    Mover m(*f, *paths, *target);
    return m.Run();
  };
}

}  // namespace vmigrate::cli
