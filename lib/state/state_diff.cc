#include "state/state_diff.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/strings.h"

namespace vmigrate {
namespace {

// "<folder>\t<unique name>": a message's identity within its Maildir++ folder.
std::string MessageKey(const std::string& path) {
  std::string dir = DirName(path);       // ".../cur"
  std::string folder = DirName(dir);     // the folder holding cur/ and new/
  std::string name = path.substr(path.rfind('/') + 1);
  return folder + "\t" + MaildirUniqueName(name);
}

size_t Depth(const std::string& path) { return static_cast<size_t>(std::count(path.begin(), path.end(), '/')); }

}  // namespace

SectionChanges DiffSection(const StateSection& base, const std::vector<StateEntry>& current,
                           const std::string& current_user_line) {
  SectionChanges out;
  out.user_changed = base.user_line != current_user_line;
  std::unordered_map<std::string, const StateEntry*> base_by_path;
  std::unordered_map<std::string, const StateEntry*> base_messages;
  base_by_path.reserve(base.entries.size());
  for (const StateEntry& e : base.entries) {
    base_by_path[e.path] = &e;
    if (e.type == 'f' && IsStateMessage(e.path)) base_messages.emplace(MessageKey(e.path), &e);
  }
  std::unordered_map<std::string, bool> kept;  // base paths that are still there (or renamed)
  for (const StateEntry& now : current) {
    if (now.type == 'f' && IsStateMessage(now.path)) {
      auto it = base_messages.find(MessageKey(now.path));
      if (it != base_messages.end() && it->second->size == now.size && !kept.count(it->second->path)) {
        const StateEntry& was = *it->second;
        kept[was.path] = true;
        if (was.path != now.path || was.mode != now.mode || was.mtime_sec != now.mtime_sec ||
            was.mtime_nsec != now.mtime_nsec)
          out.renames.push_back({was.path, now.path, now});
        continue;
      }
    }
    auto it = base_by_path.find(now.path);
    if (it != base_by_path.end() && it->second->type == now.type) {
      // A message at the same path with another size is not the same
      // message: it is replaced like any changed file.
      if (!(*it->second == now)) out.send.push_back(now);
      kept[now.path] = true;
      continue;
    }
    out.send.push_back(now);
  }
  for (const StateEntry& e : base.entries)
    if (!kept.count(e.path)) out.remove.push_back(e.path);
  std::stable_sort(out.remove.begin(), out.remove.end(),
                   [](const std::string& a, const std::string& b) { return Depth(a) > Depth(b); });
  std::sort(out.send.begin(), out.send.end(),
            [](const StateEntry& a, const StateEntry& b) { return a.path < b.path; });
  return out;
}

}  // namespace vmigrate
