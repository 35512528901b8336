#include "importer/journal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate {

std::string JournalDir(const std::string& domains_dir_on_disk, const std::string& domain) {
  return domains_dir_on_disk + "/.vmigrate-journal." + domain;
}

Status WriteJournal(const std::string& journal_dir, const std::vector<std::string>& files,
                    const std::string& final_dir, const std::vector<std::string>& created_dirs) {
  std::error_code ec;
  std::filesystem::remove_all(journal_dir, ec);
  if (mkdir(journal_dir.c_str(), 0700) != 0)
    return FromErrno("cannot create journal " + journal_dir, errno);
  std::string index = "vmigrate-journal 1\nfinal " + EscapeC(final_dir) + "\n";
  for (const auto& d : created_dirs) index += "created " + EscapeC(d) + "\n";
  for (size_t i = 0; i < files.size(); ++i) {
    struct stat st;
    bool existed = lstat(files[i].c_str(), &st) == 0;
    if (existed) {
      auto contents = ReadSmallFile(files[i], 256u << 20);
      if (!contents.ok()) return contents.status().WithContext("journal");
      VM_RETURN_IF_ERROR(WriteFileAtomic(journal_dir + "/" + std::to_string(i), *contents, 0600));
    }
    char line[96];
    std::snprintf(line, sizeof line, "file %zu %d %04o %lu %lu ", i, existed ? 1 : 0,
                  existed ? static_cast<unsigned>(st.st_mode & 07777) : 0u,
                  existed ? static_cast<unsigned long>(st.st_uid) : 0ul,
                  existed ? static_cast<unsigned long>(st.st_gid) : 0ul);
    index += line + EscapeC(files[i]) + "\n";
  }
  VM_RETURN_IF_ERROR(WriteFileAtomic(journal_dir + "/index", index, 0600));
  return SyncDirectory(journal_dir.substr(0, journal_dir.rfind('/')));
}

Result<bool> RecoverJournal(const std::string& journal_dir) {
  struct stat st;
  if (lstat(journal_dir.c_str(), &st) != 0) return false;
  auto index = ReadSmallFile(journal_dir + "/index", 16u << 20);
  if (index.ok()) {
    std::vector<std::string> lines = SplitLines(*index);
    if (lines.empty() || lines[0] != "vmigrate-journal 1")
      return Status::Corrupt(journal_dir + "/index: unknown journal format; remove it by hand after checking the target");
    std::vector<std::string> created;
    std::string final_dir;
    for (size_t k = 1; k < lines.size(); ++k) {
      const std::string& line = lines[k];
      std::string path;
      if (StartsWith(line, "final ")) {
        if (!UnescapeC(line.substr(6), &final_dir)) return Status::Corrupt(journal_dir + ": bad line");
      } else if (StartsWith(line, "created ")) {
        if (!UnescapeC(line.substr(8), &path)) return Status::Corrupt(journal_dir + ": bad line");
        created.push_back(path);
      } else if (StartsWith(line, "file ")) {
        std::istringstream in(line.substr(5));
        size_t n = 0;
        int existed = 0;
        std::string mode_text;
        unsigned long uid = 0, gid = 0;
        in >> n >> existed >> mode_text >> uid >> gid;
        std::string rest;
        std::getline(in, rest);
        if (!in.eof() && in.fail()) return Status::Corrupt(journal_dir + ": bad line");
        if (rest.empty() || !UnescapeC(rest.substr(1), &path))
          return Status::Corrupt(journal_dir + ": bad line");
        if (existed) {
          auto contents = ReadSmallFile(journal_dir + "/" + std::to_string(n), 256u << 20);
          if (!contents.ok()) return contents.status().WithContext("journal");
          std::optional<FileOwner> owner;
          if (geteuid() == 0) owner = FileOwner{static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
          VM_RETURN_IF_ERROR(WriteFileAtomic(path, *contents,
                                             static_cast<mode_t>(std::stoul(mode_text, nullptr, 8)),
                                             owner));
        } else if (unlink(path.c_str()) != 0 && errno != ENOENT) {
          return FromErrno("cannot remove " + path, errno);
        }
      }
    }
    std::error_code ec;
    if (!final_dir.empty()) std::filesystem::remove_all(final_dir, ec);
    if (ec) return FromErrorCode("cannot remove " + final_dir, ec);
    for (auto it = created.rbegin(); it != created.rend(); ++it) rmdir(it->c_str());
  }
  // No index: the run died while writing the journal, before touching anything.
  VM_RETURN_IF_ERROR(RemoveJournal(journal_dir));
  return true;
}

Status RemoveJournal(const std::string& journal_dir) {
  std::error_code ec;
  std::filesystem::remove_all(journal_dir, ec);
  if (ec) return FromErrorCode("cannot remove journal " + journal_dir, ec);
  return SyncDirectory(journal_dir.substr(0, journal_dir.rfind('/')));
}

}  // namespace vmigrate
