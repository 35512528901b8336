#include "verify/uidlist.h"

#include <algorithm>

#include "core/strings.h"

namespace vmigrate::verify {
namespace {

bool ParseNumber(std::string_view s, std::uint64_t* out) {
  unsigned long long v = 0;
  if (!ParseUint64(s, &v)) return false;
  *out = v;
  return true;
}

std::vector<std::string> Words(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

std::string CutAtFirstColon(std::string_view name) { return std::string(name.substr(0, name.find(':'))); }

std::string CutAtLastColon(std::string_view name) {
  size_t colon = name.rfind(':');
  return std::string(colon == std::string_view::npos ? name : name.substr(0, colon));
}

}  // namespace

std::string Pop3Uidl(std::string_view file_name) { return CutAtFirstColon(file_name); }

std::string UidList::KeyOf(std::string_view file_name) const {
  return kind == Kind::kCourier ? CutAtLastColon(file_name) : CutAtFirstColon(file_name);
}

std::uint64_t UidList::UidOf(std::string_view file_name) const {
  auto it = by_key.find(KeyOf(file_name));
  return it == by_key.end() ? 0 : it->second;
}

Result<UidList> ParseDovecotUidlist(std::string_view text) {
  std::vector<std::string> lines = SplitLines(text);
  if (lines.empty()) return Status::Corrupt("dovecot-uidlist: empty");
  UidList list;
  list.kind = UidList::Kind::kDovecot;
  std::vector<std::string> head = Words(lines[0]);
  if (head.empty()) return Status::Corrupt("dovecot-uidlist: empty header");
  if (head[0] == "3") {
    for (size_t i = 1; i < head.size(); ++i) {
      const std::string& w = head[i];
      if (w.size() < 2) continue;
      if (w[0] == 'V' && !ParseNumber(w.substr(1), &list.uidvalidity))
        return Status::Corrupt("dovecot-uidlist: bad UIDVALIDITY '" + EscapeC(w) + "'");
      if (w[0] == 'N' && !ParseNumber(w.substr(1), &list.next_uid))
        return Status::Corrupt("dovecot-uidlist: bad next UID '" + EscapeC(w) + "'");
    }
  } else if (head[0] == "1") {
    if (head.size() < 3 || !ParseNumber(head[1], &list.uidvalidity) ||
        !ParseNumber(head[2], &list.next_uid))
      return Status::Corrupt("dovecot-uidlist: bad version 1 header");
  } else {
    return Status::Unsupported("dovecot-uidlist: unknown version '" + EscapeC(head[0]) + "'");
  }
  for (size_t n = 1; n < lines.size(); ++n) {
    const std::string& line = lines[n];
    if (line.empty()) continue;
    auto bad = [&]() {
      return Status::Corrupt("dovecot-uidlist line " + std::to_string(n + 1) + ": '" +
                             EscapeC(line.substr(0, 80)) + "'");
    };
    size_t space = line.find(' ');
    if (space == std::string::npos) return bad();
    std::uint64_t uid = 0;
    if (!ParseNumber(line.substr(0, space), &uid) || uid == 0) return bad();
    std::string name;
    if (head[0] == "3") {
      // Extensions are "<key><value>" words; the file name follows " :".
      size_t colon = line.find(" :", space);
      if (line.compare(space, 2, " :") == 0) colon = space;
      if (colon == std::string::npos) return bad();
      name = line.substr(colon + 2);
    } else {
      name = line.substr(space + 1);
    }
    if (name.empty()) return bad();
    list.by_key[list.KeyOf(name)] = uid;
  }
  return list;
}

Result<UidList> ParseCourierUiddb(std::string_view text) {
  std::vector<std::string> lines = SplitLines(text);
  if (lines.empty()) return Status::Corrupt("courierimapuiddb: empty");
  UidList list;
  list.kind = UidList::Kind::kCourier;
  std::vector<std::string> head = Words(lines[0]);
  if (head.empty() || head[0] != "1")
    return Status::Unsupported("courierimapuiddb: unknown version '" +
                               EscapeC(head.empty() ? "" : head[0]) + "'");
  if (head.size() < 3 || !ParseNumber(head[1], &list.uidvalidity) || !ParseNumber(head[2], &list.next_uid))
    return Status::Corrupt("courierimapuiddb: bad header '" + EscapeC(lines[0].substr(0, 80)) + "'");
  for (size_t n = 1; n < lines.size(); ++n) {
    const std::string& line = lines[n];
    if (line.empty()) continue;
    size_t space = line.find(' ');
    std::uint64_t uid = 0;
    if (space == std::string::npos || !ParseNumber(line.substr(0, space), &uid) || uid == 0 ||
        space + 1 >= line.size())
      return Status::Corrupt("courierimapuiddb line " + std::to_string(n + 1) + ": '" +
                             EscapeC(line.substr(0, 80)) + "'");
    list.by_key[line.substr(space + 1)] = uid;  // already cut at the last ':'
  }
  return list;
}

std::vector<std::string> Pop3Order(std::vector<MessageFile> messages) {
  std::sort(messages.begin(), messages.end(), [](const MessageFile& a, const MessageFile& b) {
    if (a.mtime_sec != b.mtime_sec) return a.mtime_sec < b.mtime_sec;
    return a.name < b.name;
  });
  std::vector<std::string> out;
  out.reserve(messages.size());
  for (const auto& m : messages) out.push_back(Pop3Uidl(m.name));
  return out;
}

}  // namespace vmigrate::verify
