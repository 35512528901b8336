#include "model/outside_refs.h"

#include "core/strings.h"

namespace vmigrate {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsUnder(const std::string& path, const std::string& dir) {
  if (dir.empty()) return false;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// One shell command line split into words the way /bin/sh would for the
// simple lines qmail-local runs: quotes removed, a backslash escapes the next
// character outside single quotes. An unquoted ';', '|' or '&' ends a
// command; the word after it is a program again. No expansion: "$EXT@x"
// stays as written (it is not a path either way).
struct Word {
  std::string text;
  bool program = false;  // the first word of a command
};

std::vector<Word> ShellWords(const std::string& line) {
  std::vector<Word> words;
  std::string cur;
  bool in_word = false, next_is_program = true;
  char quote = 0;
  auto finish = [&]() {
    if (!in_word) return;
    // VAR=value before the program is an assignment, not the program.
    bool assignment = next_is_program && cur.find('=') != std::string::npos && cur[0] != '/';
    words.push_back({cur, next_is_program && !assignment});
    if (!assignment) next_is_program = false;
    cur.clear();
    in_word = false;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < line.size()) cur.push_back(line[++i]);
      else cur.push_back(c);
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur.push_back(line[++i]);
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      finish();
    } else if (c == ';' || c == '|' || c == '&') {
      finish();
      next_is_program = true;
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  finish();
  return words;
}

}  // namespace

bool IsDotQmailName(const std::string& base_name) {
  return base_name == ".qmail" || StartsWith(base_name, ".qmail-");
}

std::vector<FoundPath> DotQmailPaths(const std::string& text) {
  std::vector<FoundPath> out;
  std::vector<std::string> lines = SplitLines(text);
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string line = lines[n];
    // qmail-local drops trailing spaces and tabs (and vdelivermail the '\r'
    // of a file edited on Windows) before it looks at the first character.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.pop_back();
    const unsigned number = static_cast<unsigned>(n + 1);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '/' || line[0] == '.') {
      out.push_back({number, line, true});
      continue;
    }
    if (line[0] != '|') continue;  // an address ('&addr', 'addr', '+list'): no path
    std::vector<Word> words = ShellWords(line.substr(1));
    for (size_t i = 0; i < words.size(); ++i) {
      const Word& w = words[i];
      if (w.program) {
        // `| vdelivermail '' <instruction>`: a '/path' instruction is the home
        // mail for unknown users goes to (reference §3.3).
        if (BaseName(w.text) == "vdelivermail" && i + 2 < words.size() &&
            StartsWith(words[i + 2].text, "/")) {
          out.push_back({number, words[i + 2].text, true});
          i += 2;
        }
        continue;
      }
      if (StartsWith(w.text, "/")) out.push_back({number, w.text, false});
    }
  }
  return out;
}

std::vector<FoundPath> ConfigPaths(const std::string& text) {
  std::vector<FoundPath> out;
  const std::string stop = " \t\r\n'\"<>;|&,()`";
  unsigned line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') ++line;
    if (c != '/') continue;
    char prev = i == 0 ? '\0' : text[i - 1];
    if (IsNameChar(prev) || prev == '/') continue;
    size_t end = text.find_first_of(stop, i);
    if (end == std::string::npos) end = text.size();
    std::string path = text.substr(i, end - i);
    i = end - 1;  // the stop character is looked at next (it may be '\n')
    if (StartsWith(path, "//")) continue;  // a URL's "//host/...", not a path
    out.push_back({line, path, false});
  }
  return out;
}

std::string LexicalPath(const std::string& base, const std::string& path) {
  std::string full = !path.empty() && path[0] == '/' ? path : base + "/" + path;
  std::vector<std::string> parts;
  for (const std::string& part : Split(full, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return "/" + Join(parts, "/");
}

bool ClassifyPath(const RefScope& scope, const FoundPath& found, const std::string& file_dir,
                  OutsideRef* ref) {
  if (found.path.empty()) return false;
  // A config value that is not absolute may be anything ("./x" in a message
  // text); only dot-qmail lines and symlinks define a relative path's base.
  if (found.path[0] != '/' && !found.delivery) return false;
  const std::string p = LexicalPath(file_dir, found.path);
  // The innermost of: an archived home, our domain dir, another domain's
  // dir, found by walking up from the path (a set lookup per level, so a
  // domain with many users costs no more per path than a small one).
  std::string best_dir, best_name;
  for (std::string a = p; !a.empty() && best_dir.empty(); a.resize(a.rfind('/'))) {
    if (scope.user_dirs.count(a)) return false;
    if (a == scope.domain_dir) best_dir = a;
    auto other = scope.other_domains.find(a);
    if (other != scope.other_domains.end()) best_dir = a, best_name = other->second;
  }
  ref->path = found.path;
  ref->domain.clear();
  if (!best_dir.empty() && best_name.empty()) {
    // Inside the domain dir but in no archived home: the exporter carries
    // everything there is, so only what does not exist is not in the archive
    // (a deleted user's Maildir, a mistyped alias).
    if (!scope.exists || scope.exists(p)) return false;
    ref->reason = kRefNotInArchive;
    return true;
  }
  if (!best_name.empty()) {
    ref->reason = scope.archive_domains.count(best_name) ? kRefArchiveDomain : kRefOtherDomain;
    ref->domain = best_name;
    return true;
  }
  if (IsUnder(p, scope.vpopmail_home + "/domains")) {
    ref->reason = kRefNotInArchive;  // a directory there that users/assign does not know
    return true;
  }
  // vpopmail's and qmail's own trees (bin/, etc/, control/) are installed on
  // the new host and rewritten to its paths; only mail stored there leaves.
  if (IsUnder(p, scope.vpopmail_home)) {
    if (!found.delivery) return false;
    ref->reason = kRefNotInArchive;
    return true;
  }
  if (IsUnder(p, scope.qmail_dir) || !found.delivery) return false;
  ref->reason = kRefOutsideHome;
  return true;
}

std::string OutsideRefWhere(const OutsideRef& ref) {
  if (StartsWith(ref.file, "files/")) return ref.file.substr(6);
  if (StartsWith(ref.file, "users/")) {
    std::string rest = ref.file.substr(6);
    size_t slash = rest.find('/');
    if (slash != std::string::npos)
      return "user " + rest.substr(0, slash) + ": " + rest.substr(slash + 1);
  }
  return ref.file;
}

std::string DescribeOutsideRef(const std::string& domain, const OutsideRef& ref) {
  std::string where = domain + ": " + EscapeC(OutsideRefWhere(ref)) +
                      (ref.line ? " line " + std::to_string(ref.line) : std::string(" (symlink)"));
  std::string what = "'" + EscapeC(ref.path) + "' ";
  if (ref.reason == kRefOtherDomain)
    what += "leads into domain " + EscapeC(ref.domain) + ", which is not in the archive; carried unchanged";
  else if (ref.reason == kRefArchiveDomain)
    what += "leads into domain " + EscapeC(ref.domain) + " (also in this archive); rewritten for the new host";
  else if (ref.reason == kRefNotInArchive)
    what += "leads to a mailbox or directory that is not in the archive; carried unchanged";
  else if (ref.reason == kRefOutsideHome)
    what += "is outside vpopmail's home; carried unchanged, it must exist on the new host";
  else
    what += "leaves the domain (" + EscapeC(ref.reason) + ")";
  return where + ": " + what;
}

std::string DescribeReportedRef(const ReportedRef& r) {
  return DescribeOutsideRef(r.domain, r.ref) + (r.note.empty() ? "" : "; " + r.note);
}

}  // namespace vmigrate
