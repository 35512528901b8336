#include "exporter/state_collector.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/dir_mode.h"
#include "core/sha256.h"
#include "core/strings.h"

namespace vmigrate {
namespace {

std::string Member(const std::string& root, const std::string& path) {
  return path == "." ? root : root + "/" + path;
}

}  // namespace

std::string DeltaRemoveLine(const std::string& domain, const std::string& rel_in_domain) {
  return "remove\t" + EscapeC(domain) + "\t" + EscapeC(rel_in_domain);
}

std::string DeltaRenameLine(const std::string& domain, const std::string& from, const std::string& to,
                            const StateEntry& after) {
  char meta[64];
  std::snprintf(meta, sizeof meta, "%04o\t%" PRId64 ".%09ld", static_cast<unsigned>(after.mode & 07777),
                after.mtime_sec, after.mtime_nsec);
  return "rename\t" + EscapeC(domain) + "\t" + EscapeC(from) + "\t" + EscapeC(to) + "\t" + meta;
}

std::string AddOnlyBase(const std::string& base) { return Sha256::Of("vmigrate-add-only\t" + base); }

Status StateCollector::Init() {
  VM_RETURN_IF_ERROR(sends_.Init());
  return records_.Init();
}

void StateCollector::BeginDomain(const std::string& name, const std::vector<std::string>& aliases) {
  domain_ = name;
  delta_ = DomainDelta{};
  seen_sections_.clear();
  items_.clear();
  base_domain_ = base_ ? base_->FindDomain(name) : nullptr;
  writer_->BeginDomain(name, aliases);
}

void StateCollector::Add(const std::string& rel, const std::string& disk, const struct stat& st,
                         const Digested& digest) {
  // A FIFO, socket or device is never carried (export warns about it), so
  // it is not part of what a host has either.
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) return;
  Item item;
  StateEntry& e = item.entry;
  e.type = S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'f';
  e.path = rel;
  e.mode = e.type == 'd' ? CarriedDirMode(st.st_mode) : st.st_mode & 07777;
  e.mtime_sec = st.st_mtim.tv_sec;
  e.mtime_nsec = st.st_mtim.tv_nsec;
  e.size = e.type == 'd' ? 0 : digest.size >= 0 ? digest.size : static_cast<std::int64_t>(st.st_size);
  e.sha256 = digest.sha256;
  item.disk = disk;
  items_.push_back(std::move(item));
}

Status StateCollector::EndSection(const std::string& key, const std::string& user_line,
                                  const std::string& member_root) {
  std::sort(items_.begin(), items_.end(),
            [](const Item& a, const Item& b) { return a.entry.path < b.entry.path; });
  std::vector<StateEntry> entries;
  entries.reserve(items_.size());
  for (const Item& item : items_) entries.push_back(item.entry);
  writer_->Section(key, user_line, &entries);
  seen_sections_.insert(key);
  if (base_) {
    StateSection base;
    const bool user = StartsWith(key, kUserSectionPrefix);
    if (base_domain_ && base_domain_->sections.count(key)) {
      auto loaded = base_->Load(domain_, key);
      if (!loaded.ok()) return loaded.status();
      base = std::move(*loaded);
      if (user && base.user_line != user_line && !add_only_) ++delta_.users_changed;
    } else if (user && !add_only_) {
      ++delta_.users_added;
    }
    SectionChanges changes = DiffSection(base, entries, user_line);
    if (add_only_) {
      KeepNewMessages(base, &changes);
      if (!user) changes.send.clear();  // the domain dir holds no mailbox
    }
    VM_RETURN_IF_ERROR(NoteDelta(member_root, changes, items_));
  }
  items_.clear();
  return Status::OK();
}

void StateCollector::KeepNewMessages(const StateSection& base, SectionChanges* changes) {
  // base.entries is sorted by path (StateFile::Load).
  auto in_base = [&](const std::string& path) {
    auto it = std::lower_bound(base.entries.begin(), base.entries.end(), path,
                               [](const StateEntry& e, const std::string& p) { return e.path < p; });
    return it != base.entries.end() && it->path == path;
  };
  std::vector<StateEntry> messages;
  std::set<std::string> dirs;  // every directory on the way to a message
  for (const StateEntry& e : changes->send) {
    if (e.type != 'f' || !IsStateMessage(e.path)) continue;
    messages.push_back(e);
    for (std::string dir = DirName(e.path); !dir.empty() && dir != "."; dir = DirName(dir)) dirs.insert(dir);
  }
  std::vector<StateEntry> keep;
  for (const StateEntry& e : changes->send)
    if (e.type == 'd' && dirs.count(e.path) && !in_base(e.path)) keep.push_back(e);
  keep.insert(keep.end(), messages.begin(), messages.end());
  std::sort(keep.begin(), keep.end(), [](const StateEntry& a, const StateEntry& b) { return a.path < b.path; });
  changes->send = std::move(keep);
  changes->remove.clear();
  changes->renames.clear();
}

Status StateCollector::NoteDelta(const std::string& member_root, const SectionChanges& changes,
                                 const std::vector<Item>& items) {
  for (const StateEntry& e : changes.send) {
    auto it = std::lower_bound(items.begin(), items.end(), e.path,
                               [](const Item& item, const std::string& path) { return item.entry.path < path; });
    VM_RETURN_IF_ERROR(sends_.Add(EscapeC(domain_) + "\t" + EscapeC(Member(member_root, e.path)) + "\t" +
                                  EscapeC(it->disk)));
    ++delta_.files;
    if (e.type == 'f') delta_.bytes += static_cast<std::uint64_t>(e.size);
    if (e.type == 'f' && member_root != "files" && IsStateMessage(e.path)) ++delta_.messages;
  }
  for (const StateRename& r : changes.renames) {
    VM_RETURN_IF_ERROR(records_.Add(DeltaRenameLine(domain_, Member(member_root, r.from), Member(member_root, r.to), r.after)));
    ++delta_.renames;
  }
  for (const std::string& path : changes.remove) {
    VM_RETURN_IF_ERROR(records_.Add(DeltaRemoveLine(domain_, Member(member_root, path))));
    ++delta_.removals;
  }
  return Status::OK();
}

void StateCollector::EndDomain(DomainDelta* delta) {
  std::string digest = writer_->EndDomain();
  if (base_domain_) {
    for (const auto& [key, pos] : base_domain_->sections)
      if (StartsWith(key, kUserSectionPrefix) && !seen_sections_.count(key) && !add_only_) ++delta_.users_removed;
    delta_.base = base_domain_->digest;
  }
  if (add_only_) delta_.base = AddOnlyBase(delta_.base);
  delta_.result = digest;
  *delta = delta_;
}

}  // namespace vmigrate
