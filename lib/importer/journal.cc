#include "importer/journal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/strings.h"
#include "qmail/assign.h"
#include "qmail/control_file.h"
#include "vpopmail/dir_control.h"

namespace vmigrate {
namespace {

std::string Field(const std::string& s) { return "\t" + EscapeC(s); }

bool IsAssign(const std::string& path) { return EndsWith(path, "/users/assign"); }

Status Bad(const std::string& journal_dir, const std::string& line) {
  return Status::Corrupt(journal_dir + "/index: bad line '" + EscapeC(line.substr(0, 200)) +
                         "'; check the target and remove the journal by hand");
}

}  // namespace

std::string JournalDir(const std::string& domains_dir_on_disk, const std::string& domain) {
  return domains_dir_on_disk + "/.vmigrate-journal." + domain;
}

Status WriteJournal(const std::string& journal_dir, const JournalPlan& plan) {
  std::error_code ec;
  std::filesystem::remove_all(journal_dir, ec);
  if (mkdir(journal_dir.c_str(), 0700) != 0)
    return FromErrno("cannot create journal " + journal_dir, errno);
  if (plan.dir_control_old)
    VM_RETURN_IF_ERROR(WriteFileAtomic(journal_dir + "/dircontrol.old", *plan.dir_control_old, 0600));
  VM_RETURN_IF_ERROR(WriteFileAtomic(journal_dir + "/dircontrol.new", plan.dir_control_new, 0600));
  std::string index = "vmigrate-journal 2\nfinal" + Field(plan.final_dir) + "\n";
  for (const auto& d : plan.created_dirs) index += "created" + Field(d) + "\n";
  for (const auto& [file, existed] : plan.existed)
    index += std::string("existed") + Field(existed ? "1" : "0") + Field(file) + "\n";
  for (const auto& e : plan.edits)
    index += "edit" + Field(std::string(1, e.op)) + Field(e.file) + Field(e.line) + "\n";
  index += "userscdb" + Field(plan.users_cdb) + "\n";
  index += "morercpthostscdb" + Field(plan.morercpthosts_cdb) + "\n";
  if (!plan.dir_control.empty()) index += "dircontrol" + Field(plan.dir_control) + "\n";
  if (!plan.sql_domain.empty())
    index += "sql" + Field(plan.sql_domain) + Field(std::to_string(plan.sql_uid)) + "\n";
  VM_RETURN_IF_ERROR(WriteFileAtomic(journal_dir + "/index", index, 0600));
  return SyncDirectory(journal_dir.substr(0, journal_dir.rfind('/')));
}

Result<JournalPlan> ReadJournal(const std::string& journal_dir) {
  auto index = ReadSmallFile(journal_dir + "/index", 16u << 20);
  if (!index.ok()) return index.status();
  std::vector<std::string> lines = SplitLines(*index);
  if (lines.empty() || lines[0] != "vmigrate-journal 2")
    return Status::Corrupt(journal_dir + "/index: unknown journal format; check the target and remove it by hand");
  JournalPlan plan;
  for (size_t k = 1; k < lines.size(); ++k) {
    std::vector<std::string> raw = Split(lines[k], '\t');
    std::vector<std::string> f(raw.size());
    f[0] = raw[0];
    for (size_t i = 1; i < raw.size(); ++i)
      if (!UnescapeC(raw[i], &f[i])) return Bad(journal_dir, lines[k]);
    if (f[0] == "final" && f.size() == 2) plan.final_dir = f[1];
    else if (f[0] == "created" && f.size() == 2) plan.created_dirs.push_back(f[1]);
    else if (f[0] == "existed" && f.size() == 3) plan.existed.push_back({f[2], f[1] == "1"});
    else if (f[0] == "edit" && f.size() == 4 && f[1].size() == 1) plan.edits.push_back({f[1][0], f[2], f[3]});
    else if (f[0] == "userscdb" && f.size() == 2) plan.users_cdb = f[1];
    else if (f[0] == "morercpthostscdb" && f.size() == 2) plan.morercpthosts_cdb = f[1];
    else if (f[0] == "dircontrol" && f.size() == 2) plan.dir_control = f[1];
    else if (f[0] == "sql" && f.size() == 3 && !f[1].empty()) {
      unsigned long long uid = 0;
      if (!ParseUint64(f[2], &uid)) return Bad(journal_dir, lines[k]);
      plan.sql_domain = f[1];
      plan.sql_uid = static_cast<unsigned long>(uid);
    }
    else return Bad(journal_dir, lines[k]);
  }
  auto old_text = ReadSmallFile(journal_dir + "/dircontrol.old", 4096);
  if (old_text.ok()) plan.dir_control_old = *old_text;
  auto new_text = ReadSmallFile(journal_dir + "/dircontrol.new", 4096);
  if (new_text.ok()) plan.dir_control_new = *new_text;
  return plan;
}

Status UndoControlEdits(const JournalPlan& plan, bool always_rebuild_cdbs) {
  std::map<std::string, bool> existed(plan.existed.begin(), plan.existed.end());
  // Undo this import's own lines, file by file; lines of other domains stay.
  std::map<std::string, std::vector<JournalPlan::Edit>> by_file;
  for (const auto& e : plan.edits) by_file[e.file].push_back(e);
  for (const auto& [file, edits] : by_file) {
    auto cf = qmail::ControlFile::Load(file, IsAssign(file));
    if (!cf.ok()) return cf.status();
    bool changed = false;
    for (const auto& e : edits)
      changed |= e.op == '+' ? cf->Remove(e.line) : cf->InsertSorted(e.line);
    if (!changed && !always_rebuild_cdbs) continue;
    bool drop = !existed[file] && cf->lines().empty();
    if (drop) {
      if (unlink(file.c_str()) != 0 && errno != ENOENT) return FromErrno("cannot remove " + file, errno);
    } else if (changed) {
      VM_RETURN_IF_ERROR(cf->Save());
    }
    const std::string& cdb = IsAssign(file) ? plan.users_cdb
                             : EndsWith(file, "/control/morercpthosts") ? plan.morercpthosts_cdb
                                                                         : std::string();
    if (cdb.empty()) continue;
    if (drop) {
      unlink(cdb.c_str());
    } else if (!cf->present() && !changed) {
      continue;  // nothing to build a cdb from (a re-run after the file went)
    } else if (IsAssign(file)) {
      VM_RETURN_IF_ERROR(qmail::WriteUsersCdb(cf->Text(), cdb));
    } else {
      VM_RETURN_IF_ERROR(qmail::WriteMoreRcpthostsCdb(cf->Text(), cdb));
    }
  }
  return Status::OK();
}

namespace {

// The SQL step of a journal: the domain's rows go (RemoveDomain is
// idempotent, so also when the transaction never committed), and dom_<uid>
// goes back the way domains/.dir-control does below: to the old text if
// it is still ours, unchanged if ours never landed, one user less if
// another domain was added since ours.
Status UndoSqlStep(const std::string& journal_dir, const JournalPlan& plan, vpopmail::UserStore* store) {
  if (!store)
    return Status::InvalidInput(journal_dir + ": the interrupted import wrote MySQL rows for " + plan.sql_domain +
                                ", but this run has no MySQL store to take them back (--backend?)");
  auto now = store->ReadDomainsDirControl(plan.sql_uid);
  if (!now.ok()) return now.status().WithContext("recovery");
  auto old_text = ReadSmallFile(journal_dir + "/dircontrol.old", 4096);
  std::optional<std::string> old;
  if (old_text.ok()) old = *old_text;
  struct stat st;
  const bool committed = lstat((journal_dir + "/sql.done").c_str(), &st) == 0;
  std::optional<std::string> put_back = *now;
  if (now->has_value() && **now == plan.dir_control_new) {
    put_back = old;
  } else if (committed && now->has_value() && *now != old) {
    vpopmail::DirControl dc = vpopmail::DirControl::Parse(**now);
    if (dc.cur_users > 0) --dc.cur_users;
    put_back = dc.Serialize();
  }
  return store->RemoveDomain(plan.sql_domain, plan.sql_uid, put_back).WithContext("recovery");
}

}  // namespace

Result<bool> RecoverJournal(const std::string& journal_dir, vpopmail::UserStore* store) {
  struct stat st;
  if (lstat(journal_dir.c_str(), &st) != 0) return false;
  if (lstat((journal_dir + "/index").c_str(), &st) != 0) {
    // No index: the run died while writing the journal, before touching anything.
    VM_RETURN_IF_ERROR(RemoveJournal(journal_dir));
    return true;
  }
  auto read = ReadJournal(journal_dir);
  if (!read.ok()) return read.status();
  const JournalPlan& plan = *read;
  // The rows first: a store that cannot be reached leaves everything as it was.
  if (!plan.sql_domain.empty()) VM_RETURN_IF_ERROR(UndoSqlStep(journal_dir, plan, store));
  VM_RETURN_IF_ERROR(UndoControlEdits(plan, /*always_rebuild_cdbs=*/false).WithContext("recovery"));

  // domains/.dir-control: put it back if it is still what we wrote; if
  // another domain was added since, give our allocation back the way
  // vdeldomain does (the counter goes down, the bucket does not move).
  auto now = plan.dir_control.empty() ? Result<std::string>(Status::NotFound("no file"))
                                      : ReadSmallFile(plan.dir_control, 4096);
  auto old_text = ReadSmallFile(journal_dir + "/dircontrol.old", 4096);
  auto new_text = ReadSmallFile(journal_dir + "/dircontrol.new", 4096);
  // Only if our write happened (the marker follows it): another import may
  // since have written the very same text.
  bool written = lstat((journal_dir + "/dircontrol.done").c_str(), &st) == 0;
  if (written && now.ok() && new_text.ok()) {
    if (*now == *new_text) {
      if (old_text.ok()) VM_RETURN_IF_ERROR(WriteFileAtomic(plan.dir_control, *old_text, 0600));
      else if (unlink(plan.dir_control.c_str()) != 0) return FromErrno("cannot remove " + plan.dir_control, errno);
    } else if (!old_text.ok() || *now != *old_text) {
      vpopmail::DirControl dc = vpopmail::DirControl::Parse(*now);
      if (dc.cur_users > 0) --dc.cur_users;
      VM_RETURN_IF_ERROR(WriteFileAtomic(plan.dir_control, dc.Serialize(), 0600));
    }
  }

  std::error_code ec;
  if (!plan.final_dir.empty()) std::filesystem::remove_all(plan.final_dir, ec);
  if (ec) return FromErrorCode("cannot remove " + plan.final_dir, ec);
  for (auto it = plan.created_dirs.rbegin(); it != plan.created_dirs.rend(); ++it) rmdir(it->c_str());
  VM_RETURN_IF_ERROR(RemoveJournal(journal_dir));
  return true;
}

Status MarkDirControlWritten(const std::string& journal_dir) {
  return WriteFileAtomic(journal_dir + "/dircontrol.done", "", 0600);
}

Status MarkSqlCommitted(const std::string& journal_dir) {
  return WriteFileAtomic(journal_dir + "/sql.done", "", 0600);
}

Status RemoveJournal(const std::string& journal_dir) {
  std::error_code ec;
  std::filesystem::remove_all(journal_dir, ec);
  if (ec) return FromErrorCode("cannot remove journal " + journal_dir, ec);
  return SyncDirectory(journal_dir.substr(0, journal_dir.rfind('/')));
}

}  // namespace vmigrate
