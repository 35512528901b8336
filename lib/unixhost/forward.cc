#include "unixhost/forward.h"

#include <algorithm>

#include "core/atomic_file.h"
#include "core/strings.h"
#include "model/manifest.h"

namespace vmigrate::unixhost {
namespace {

std::string Quote(const std::string& s) { return "'" + EscapeC(s) + "'"; }

// Splits .forward text into entries: ',' and new lines separate them except
// inside "..." (a quoted program may hold commas); '#' lines are comments.
std::vector<std::string> SplitEntries(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& raw : SplitLines(text)) {
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    std::string cur;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) {
        out.push_back(Trim(cur));
        cur.clear();
        continue;
      }
      cur += c;
    }
    out.push_back(Trim(cur));
  }
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

std::string Unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = Trim(s.substr(1, s.size() - 2));
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = Trim(s.substr(1, s.size() - 2));
  return s;
}

}  // namespace

ForwardResult ConvertForward(const std::string& text, const std::string& name,
                             const std::string& domain) {
  const std::string who = "user " + Quote(name) + ": ~/.forward: ";
  const std::string local_line =
      std::string(kPlaceholderUserDirPrefix) + name + "@@/Maildir/";
  ForwardResult r;
  bool local = false, forwards = false, dropped = false;
  auto add = [&](const std::string& line) {
    if (std::find(r.qmail_lines.begin(), r.qmail_lines.end(), line) == r.qmail_lines.end())
      r.qmail_lines.push_back(line);
  };
  for (const std::string& raw : SplitEntries(text)) {
    std::string e = Unquote(raw);
    if (e.empty()) continue;
    if (e[0] == '|') {
      r.warnings.push_back(who + "program " + Quote(e) +
                           " not carried (vdelivermail would run it as the vpopmail user, not as " +
                           name + "); review it");
      dropped = true;
    } else if (e[0] == '/') {
      r.warnings.push_back(who + "file delivery " + Quote(e) +
                           " not carried (vdelivermail defers lines that are not a Maildir)");
      dropped = true;
    } else if (StartsWith(ToLower(e), ":include:")) {
      r.warnings.push_back(who + Quote(e) + " not carried (qmail has no :include:)");
      dropped = true;
    } else if (e[0] == '\\' || ToLower(e) == name) {
      std::string target = ToLower(e[0] == '\\' ? e.substr(1) : e);
      if (target == name) {
        add(local_line);
        local = true;
      } else {
        r.warnings.push_back(who + Quote(e) + " (delivery to another local user's spool) not carried");
        dropped = true;
      }
    } else if (e.find_first_of(" \t\"") != std::string::npos) {
      r.warnings.push_back(who + Quote(e) + " is not an address; not carried");
      dropped = true;
    } else if (e.find('@') != std::string::npos) {
      add("&" + e);
      forwards = true;
    } else if (!domain.empty()) {
      add("&" + e + "@" + domain);
      forwards = true;
    } else {
      add("&" + e);
      forwards = true;
      r.warnings.push_back(who + "local name " + Quote(e) +
                           " carried without a domain; qmail qualifies it with envnoathost");
    }
  }
  if (dropped && forwards && !local) {
    add(local_line);
    r.warnings.push_back(who + "a local copy is kept in the Maildir in place of the lines not carried");
  }
  return r;
}

Result<ForwardResult> ReadUserForward(const std::string& root, const Account& a,
                                      const std::string& domain) {
  ForwardResult r;
  const std::string home = HomeOnDisk(root, a);
  if (home.empty()) return r;
  const std::string name = ToLower(a.name);
  Result<std::string> text = ReadSmallFile(home + "/.forward", 1u << 20);
  if (text.ok()) {
    r = ConvertForward(*text, name, domain);
  } else if (text.status().code() != Status::Code::kNotFound) {
    return text.status();
  }
  Result<std::string> procmailrc = ReadSmallFile(home + "/.procmailrc", 1u << 20);
  if (procmailrc.ok()) {
    r.warnings.push_back("user " + Quote(name) +
                         ": ~/.procmailrc not carried (no vpopmail equivalent: its recipes do not "
                         "run after the move; rewrite them for maildrop or Sieve)");
  } else if (procmailrc.status().code() != Status::Code::kNotFound) {
    return procmailrc.status();
  }
  return r;
}

}  // namespace vmigrate::unixhost
