#include "model/path_rewrite.h"

#include <algorithm>

#include "model/manifest.h"

namespace vmigrate {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::vector<std::pair<std::string, std::string>> SourcePairs(const HostPathSet& s) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& [name, dir] : s.user_dirs)
    if (!dir.empty()) pairs.emplace_back(dir, std::string(kPlaceholderUserDirPrefix) + name + "@@");
  if (!s.domain_dir.empty()) pairs.emplace_back(s.domain_dir, kPlaceholderDomainDir);
  if (!s.vpopmail_home.empty()) pairs.emplace_back(s.vpopmail_home, kPlaceholderVpopmailHome);
  if (!s.qmail_dir.empty()) pairs.emplace_back(s.qmail_dir, kPlaceholderQmailDir);
  for (const auto& [path, replacement] : s.overrides)
    if (!path.empty()) pairs.emplace_back(path, replacement);
  // Longest first, so a user's dir wins over the domain dir that contains it.
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  return pairs;
}

// "/a/b/../c/." -> "/a/c"; nullopt when ".." climbs above "/".
std::optional<std::vector<std::string>> LexicalParts(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    std::string c = path.substr(start, slash - start);
    start = slash + 1;
    if (c.empty() || c == ".") continue;
    if (c != "..") {
      out.push_back(c);
    } else if (out.empty()) {
      return std::nullopt;
    } else {
      out.pop_back();
    }
  }
  return out;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// "../../x" from directory `from` to `to` (both lexical, absolute).
std::string RelativeFrom(const std::vector<std::string>& from, const std::vector<std::string>& to) {
  size_t common = 0;
  while (common < from.size() && common < to.size() && from[common] == to[common]) ++common;
  std::string out;
  for (size_t i = common; i < from.size(); ++i) out += out.empty() ? ".." : "/..";
  for (size_t i = common; i < to.size(); ++i) out += (out.empty() ? "" : "/") + to[i];
  return out.empty() ? "." : out;
}

}  // namespace

std::optional<std::string> EntryHostPath(const HostPathSet& paths, const std::string& rel_in_domain) {
  const std::string files = "files/", users = "users/";
  if (rel_in_domain.compare(0, files.size(), files) == 0)
    return paths.domain_dir + "/" + rel_in_domain.substr(files.size());
  if (rel_in_domain.compare(0, users.size(), users) != 0) return std::nullopt;
  std::string rest = rel_in_domain.substr(users.size());
  size_t slash = rest.find('/');
  auto it = paths.user_dirs.find(rest.substr(0, slash));
  if (it == paths.user_dirs.end()) return std::nullopt;
  return slash == std::string::npos ? it->second : it->second + rest.substr(slash);
}

std::optional<std::string> RebaseRelativeLink(const HostPathSet& source, const HostPathSet& target,
                                              const std::string& from_link,
                                              const std::string& to_link, const std::string& text) {
  if (text.empty() || text[0] == '/') return text;
  auto reached = LexicalParts(DirOf(from_link) + "/" + text);
  if (!reached) return std::nullopt;
  std::string place;
  for (const auto& c : *reached) place += "/" + c;
  if (place.empty()) place = "/";
  // Only the migrated domain moves; any other place (another domain, the
  // vpopmail home's etc/) is the same host path on the target.
  HostPathSet moved;
  moved.domain_dir = source.domain_dir;
  moved.user_dirs = source.user_dirs;
  if (ToPlaceholders(moved, &place) && !FromPlaceholders(target, &place).ok()) return std::nullopt;
  auto wanted = LexicalParts(place);
  auto now = LexicalParts(DirOf(to_link) + "/" + text);
  if (now && *now == *wanted) return text;
  auto from_dir = LexicalParts(DirOf(to_link));
  if (!wanted || !from_dir) return std::nullopt;
  std::string out = RelativeFrom(*from_dir, *wanted);
  if (text.back() == '/' && out.back() != '/') out += "/";  // "dir/" names a directory
  return out;
}

bool HasPlaceholderMarker(const std::string& text) {
  return text.find(kPlaceholderMarker) != std::string::npos;
}

bool ToPlaceholders(const HostPathSet& source, std::string* text) {
  auto pairs = SourcePairs(source);
  std::string out;
  out.reserve(text->size());
  bool changed = false;
  size_t i = 0;
  while (i < text->size()) {
    bool replaced = false;
    char prev = i == 0 ? '\0' : (*text)[i - 1];
    if ((*text)[i] == '/' && !(IsNameChar(prev) || prev == '/')) {
      for (const auto& [path, placeholder] : pairs) {
        if (text->compare(i, path.size(), path) != 0) continue;
        size_t end = i + path.size();
        if (end < text->size() && IsNameChar((*text)[end])) continue;
        out += placeholder;
        i = end;
        replaced = true;
        if (placeholder != path) changed = true;
        break;
      }
    }
    if (!replaced) out.push_back((*text)[i++]);
  }
  if (changed) *text = std::move(out);
  return changed;
}

Status FromPlaceholders(const HostPathSet& target, std::string* text) {
  std::string out;
  out.reserve(text->size());
  size_t i = 0;
  const std::string marker = kPlaceholderMarker;
  while (i < text->size()) {
    size_t pos = text->find(marker, i);
    if (pos == std::string::npos) {
      out.append(*text, i, std::string::npos);
      break;
    }
    out.append(*text, i, pos - i);
    size_t end = text->find("@@", pos + marker.size());
    if (end == std::string::npos) return Status::Corrupt("unterminated path placeholder");
    std::string token = text->substr(pos, end + 2 - pos);
    std::string replacement;
    if (token == kPlaceholderVpopmailHome) {
      replacement = target.vpopmail_home;
    } else if (token == kPlaceholderQmailDir) {
      replacement = target.qmail_dir;
    } else if (token == kPlaceholderDomainDir) {
      replacement = target.domain_dir;
    } else if (token.rfind(kPlaceholderUserDirPrefix, 0) == 0) {
      std::string user = token.substr(std::string(kPlaceholderUserDirPrefix).size());
      user.resize(user.size() - 2);
      auto it = target.user_dirs.find(user);
      if (it == target.user_dirs.end())
        return Status::Corrupt("path placeholder names unknown user '" + user + "'");
      replacement = it->second;
    } else {
      return Status::Corrupt("unknown path placeholder '" + token + "'");
    }
    out += replacement;
    i = end + 2;
  }
  *text = std::move(out);
  return Status::OK();
}

}  // namespace vmigrate
