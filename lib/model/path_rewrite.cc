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

}  // namespace

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
