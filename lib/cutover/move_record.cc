#include "cutover/move_record.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate {
namespace {

constexpr const char* kHeader = "vmigrate-move 1";

constexpr MoveStep kSteps[] = {MoveStep::kNone,  MoveStep::kFull,   MoveStep::kBlockLogins,
                               MoveStep::kRounds, MoveStep::kHold,  MoveStep::kFinal,
                               MoveStep::kVerify, MoveStep::kForward, MoveStep::kTail,
                               MoveStep::kOpenLogins};

bool ParseInt64(const std::string& s, std::int64_t* out) {
  unsigned long long v = 0;
  if (!ParseUint64(s, &v) || v > static_cast<unsigned long long>(INT64_MAX)) return false;
  *out = static_cast<std::int64_t>(v);
  return true;
}

}  // namespace

const char* MoveStepName(MoveStep step) {
  switch (step) {
    case MoveStep::kNone: return "none";
    case MoveStep::kFull: return "full";
    case MoveStep::kBlockLogins: return "block-logins";
    case MoveStep::kRounds: return "rounds";
    case MoveStep::kHold: return "hold";
    case MoveStep::kFinal: return "final";
    case MoveStep::kVerify: return "verify";
    case MoveStep::kForward: return "forward";
    case MoveStep::kTail: return "tail";
    case MoveStep::kOpenLogins: return "open-logins";
  }
  return "?";
}

std::string MoveDir(const std::string& domains_dir_on_disk, const std::string& domain) {
  return domains_dir_on_disk + "/.vmigrate-move." + domain;
}

Result<MoveRecord> ReadMoveRecord(const std::string& dir) {
  const std::string path = dir + "/record";
  auto text = ReadSmallFile(path, 1u << 20);
  if (!text.ok()) return text.status();
  auto lines = SplitLines(*text);
  if (lines.empty() || lines[0] != kHeader) return Status::Corrupt(path + ": not a vmigrate move record");
  MoveRecord r;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto bad = [&](const std::string& why) {
      return Status::Corrupt(path + " line " + std::to_string(i + 1) + ": " + why);
    };
    auto fields = Split(lines[i], '\t');
    std::vector<std::string> v;
    for (size_t k = 1; k < fields.size(); ++k) {
      std::string s;
      if (!UnescapeC(fields[k], &s)) return bad("bad escape");
      v.push_back(s);
    }
    const std::string& key = fields[0];
    if (key == "transfer") {
      unsigned long long bytes = 0, messages = 0;
      if (v.size() != 4 || !ParseUint64(v[1], &bytes) || !ParseUint64(v[2], &messages))
        return bad("transfer needs label, bytes, messages, seconds");
      r.transfers.push_back({v[0], bytes, messages, std::strtod(v[3].c_str(), nullptr)});
      continue;
    }
    if (v.size() != 1) return bad("'" + EscapeC(key) + "' needs one value");
    const std::string& val = v[0];
    std::int64_t n = 0;
    if (key == "move_id") r.move_id = val;
    else if (key == "domain") r.domain = val;
    else if (key == "target") r.target = val;
    else if (key == "state") r.state = val;
    else if (key == "pending") r.pending = val;
    else if (key == "full_started") r.full_started = val == "1";
    else if (key == "done") {
      bool found = false;
      for (MoveStep s : kSteps)
        if (val == MoveStepName(s)) r.done = s, found = true;
      if (!found) return bad("unknown step '" + EscapeC(val) + "'");
    } else if (!ParseInt64(val, &n)) {
      return bad("'" + EscapeC(key) + "' is not a number");
    } else if (key == "rounds") {
      r.rounds = static_cast<int>(n);
    } else if (key == "started") {
      r.started = n;
    } else if (key == "hold_time") {
      r.hold_time = n;
    } else if (key == "forward_time") {
      r.forward_time = n;
    } else {
      return bad("unknown key '" + EscapeC(key) + "'");
    }
  }
  if (r.move_id.empty() || r.domain.empty() || r.target.empty())
    return Status::Corrupt(path + ": move_id, domain or target missing");
  return r;
}

Status WriteMoveRecord(const std::string& dir, const MoveRecord& r) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return FromErrno("cannot create " + dir, errno);
  std::string t = std::string(kHeader) + "\n";
  auto line = [&t](const std::string& key, const std::string& value) {
    t += key + "\t" + EscapeC(value) + "\n";
  };
  line("move_id", r.move_id);
  line("domain", r.domain);
  line("target", r.target);
  line("done", MoveStepName(r.done));
  line("full_started", r.full_started ? "1" : "0");
  line("rounds", std::to_string(r.rounds));
  line("state", r.state);
  line("pending", r.pending);
  line("started", std::to_string(r.started));
  line("hold_time", std::to_string(r.hold_time));
  line("forward_time", std::to_string(r.forward_time));
  for (const auto& x : r.transfers) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", x.seconds);
    t += "transfer\t" + EscapeC(x.label) + "\t" + std::to_string(x.bytes) + "\t" + std::to_string(x.messages) +
         "\t" + seconds + "\n";
  }
  return WriteFileAtomic(dir + "/record", t, 0600);
}

Status RemoveMoveDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return FromErrorCode("cannot remove " + dir, ec);
  return Status::OK();
}

Result<std::string> NewMoveId() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FromErrno("getrandom", errno);
    }
    got += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

}  // namespace vmigrate
