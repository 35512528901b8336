#include "verify/uidl_report.h"

#include <sys/stat.h>

#include "core/atomic_file.h"
#include "core/strings.h"

namespace vmigrate::verify {
namespace {

// "Maildir" -> "INBOX", "Maildir/.Sent" -> "Sent"; "" when not a folder.
std::string FolderOf(const std::string& dir) {
  if (dir == "Maildir") return "INBOX";
  if (StartsWith(dir, "Maildir/.") && dir.find('/', 9) == std::string::npos && dir.size() > 9)
    return dir.substr(9);
  return "";
}

std::string FolderDir(const std::string& folder) {
  return folder == "INBOX" ? "Maildir" : "Maildir/." + folder;
}

std::vector<MessageFile> InstalledMessages(const std::string& folder_disk) {
  std::vector<MessageFile> out;
  for (const char* sub : {"cur", "new"}) {
    std::string dir = folder_disk + "/" + sub;
    auto names = ListNames(dir);
    if (!names.ok()) continue;
    for (const auto& n : *names) {
      struct stat st;
      if (lstat((dir + "/" + n).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back({n, st.st_mtim.tv_sec, st.st_mtim.tv_nsec});
    }
  }
  return out;
}

}  // namespace

bool UidlReport::IsUidlistFile(const std::string& shown) {
  size_t slash = shown.rfind('/');
  if (slash == std::string::npos) return false;
  std::string base = shown.substr(slash + 1);
  return (base == "dovecot-uidlist" || base == "courierimapuiddb") &&
         !FolderOf(shown.substr(0, slash)).empty();
}

void UidlReport::NoteUser(const std::string& user) {
  if (user == user_) return;
  Finish();
  user_ = user;
}

void UidlReport::NoteDir(const std::string& shown) {
  // A folder is a Maildir++ directory with cur/ (empty folders count too).
  size_t slash = shown.rfind('/');
  if (slash == std::string::npos || shown.substr(slash + 1) != "cur") return;
  std::string folder = FolderOf(shown.substr(0, slash));
  if (!folder.empty()) folders_[folder];
}

void UidlReport::NoteMessage(const std::string& shown, std::int64_t mtime_sec, long mtime_nsec) {
  size_t slash = shown.rfind('/');
  if (slash == std::string::npos) return;
  std::string dir = shown.substr(0, slash);
  size_t up = dir.rfind('/');
  std::string sub = up == std::string::npos ? dir : dir.substr(up + 1);
  if (up == std::string::npos || (sub != "cur" && sub != "new")) return;
  std::string folder = FolderOf(dir.substr(0, up));
  if (folder.empty()) return;
  folders_[folder].messages.push_back({shown.substr(slash + 1), mtime_sec, mtime_nsec});
}

void UidlReport::NoteUidlist(const std::string& shown, const std::string& data) {
  size_t slash = shown.rfind('/');
  FolderState& f = folders_[FolderOf(shown.substr(0, slash))];
  if (shown.substr(slash + 1) == "dovecot-uidlist") {
    f.dovecot = data;
    f.has_dovecot = true;
  } else {
    f.courier = data;
    f.has_courier = true;
  }
}

// Reads the UID list of a folder; kind kNone when there is none.
UidList UidlReport::ParseUids(bool has_dovecot, const std::string& dovecot, bool has_courier,
                              const std::string& courier, const std::string& where) {
  Result<UidList> r = UidList();
  if (has_dovecot) r = ParseDovecotUidlist(dovecot);
  else if (has_courier) r = ParseCourierUiddb(courier);
  if (!r.ok()) {
    report_->warnings.push_back(where + ": " + r.status().message());
    return UidList();
  }
  return *r;
}

void UidlReport::Finish() {
  if (user_.empty()) return;
  const std::string user = user_;
  user_.clear();
  std::map<std::string, FolderState> folders;
  folders.swap(folders_);
  auto home_it = domain_.target.user_dirs.find(user);
  // The Maildir as the POP/IMAP servers reach it: through a symlinked home or Maildir.
  std::string maildir;
  if (home_it != domain_.target.user_dirs.end()) {
    auto disk = domain_.StorageDisk(home_it->second + "/Maildir");
    if (disk.ok()) maildir = *disk;
    else report_->warnings.push_back(disk.status().message());
  }
  for (auto& [folder, state] : folders) {
    FolderUidl out;
    out.user = user;
    out.folder = folder;
    out.messages = state.messages.size();
    std::string folder_disk = maildir.empty() ? "" : maildir + FolderDir(folder).substr(7);  // after "Maildir"
    std::vector<MessageFile> installed =
        folder_disk.empty() ? std::vector<MessageFile>() : InstalledMessages(folder_disk);
    std::map<std::string, std::string> installed_by_uidl;
    for (const auto& m : installed) installed_by_uidl[Pop3Uidl(m.name)] = m.name;

    UidList archived = ParseUids(state.has_dovecot, state.dovecot, state.has_courier, state.courier,
                                 user + ": " + FolderDir(folder) + " (archive)");
    std::string inst_dovecot, inst_courier;
    bool has_inst_dovecot = false, has_inst_courier = false;
    if (!folder_disk.empty()) {
      auto t = ReadSmallFile(folder_disk + "/dovecot-uidlist", kMaxUidlistBytes);
      if (t.ok()) inst_dovecot = *t, has_inst_dovecot = true;
      auto c = ReadSmallFile(folder_disk + "/courierimapuiddb", kMaxUidlistBytes);
      if (c.ok()) inst_courier = *c, has_inst_courier = true;
    }
    // Compare like with like: the kind of list the archive has.
    if (archived.kind == UidList::Kind::kCourier) has_inst_dovecot = false;
    if (archived.kind == UidList::Kind::kDovecot) has_inst_courier = false;
    UidList current = ParseUids(has_inst_dovecot, inst_dovecot, has_inst_courier, inst_courier,
                                user + ": " + FolderDir(folder));
    out.uid_source = archived.kind == UidList::Kind::kDovecot   ? "dovecot-uidlist"
                     : archived.kind == UidList::Kind::kCourier ? "courierimapuiddb"
                                                                : "";
    bool same_validity = archived.kind == current.kind && archived.uidvalidity == current.uidvalidity;
    if (archived.kind != UidList::Kind::kNone && !same_validity)
      out.changes.push_back("UIDVALIDITY " + std::to_string(archived.uidvalidity) + " would become " +
                            (current.kind == UidList::Kind::kNone
                                 ? std::string("new (no ") + out.uid_source + ")"
                                 : std::to_string(current.uidvalidity)) +
                            ": IMAP clients download the folder again");
    for (const auto& m : state.messages) {
      std::string uidl = Pop3Uidl(m.name);
      auto inst = installed_by_uidl.find(uidl);
      if (inst != installed_by_uidl.end()) ++out.uidl_kept;
      else out.changes.push_back("POP3 UIDL " + uidl + ": no message with this name on this host");
      std::uint64_t before = archived.UidOf(m.name);
      std::uint64_t after = inst == installed_by_uidl.end() ? 0 : current.UidOf(inst->second);
      bool kept = inst != installed_by_uidl.end() && before == after && (before == 0 || same_validity);
      if (kept) {
        ++out.uid_kept;
      } else if (before != 0) {
        out.changes.push_back("IMAP UID " + std::to_string(before) + " of " + uidl +
                              (after == 0 ? std::string(" would be lost")
                                          : " would become " + std::to_string(after)));
      } else if (inst != installed_by_uidl.end()) {
        out.changes.push_back("IMAP UID of " + uidl + ": none in the archive, " + std::to_string(after) +
                              " on this host");
      }
    }
    if (folder == "INBOX" && Pop3Order(state.messages) != Pop3Order(installed)) {
      out.pop3_order_kept = false;
      out.changes.push_back("qmail-pop3d would list INBOX in a different order (mtimes or names differ)");
    }
    report_->uidl.push_back(std::move(out));
  }
}

}  // namespace vmigrate::verify
