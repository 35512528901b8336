// The second half of a domain's import: finishing the staging dir once the
// domain's place on the target is known (placeholders, symlinks, the
// accounts through the target's UserStore, .qmail-default, directory modes
// and mtimes), and the dry run's check of the accounts against a MySQL
// target's columns. Split from domain_import.cc to keep files short.
#include "importer/domain_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/strings.h"
#include "templates.h"
#include "vpopmail/user_store.h"

namespace vmigrate {
namespace {

constexpr size_t kMaxRewriteBytes = 1u << 20;

}  // namespace

// A dry run stages no files, but a MySQL target's store still checks every
// value against its column (StageUsers writes nothing to the database),
// on an empty scratch dir outside the target.
Status DomainImport::CheckRowsFit(const DomainOutcome& out) {
  if (WritesVpasswd()) return Status::OK();
  HostPathSet target;
  target.domain_dir = out.domain_dir;
  target.user_dirs = out.user_dirs;
  const char* tmp = std::getenv("TMPDIR");
  std::string scratch = std::string(tmp && *tmp ? tmp : "/tmp") + "/vmigrate-dry-run.XXXXXX";
  if (!mkdtemp(scratch.data())) return FromErrno("cannot create a scratch directory in " + DirName(scratch), errno);
  Status s = ctx_->store->StageUsers(scratch, TargetEntries(target), std::nullopt);
  rmdir(scratch.c_str());
  return ctx_->report->manifest.domains.size() > 1 ? s.WithContext(domain().name) : s;
}

// Everything that depends on where the domain lands: placeholders,
// symlinks, vpasswd, the user .dir-control; then modes and mtimes of
// directories, and one syncfs for the whole tree.
Status DomainImport::FinishStaging(const HostPathSet& target) {
  const std::optional<FileOwner>& chown = ctx_->chown;
  for (const auto& path : rewrite_files_) {
    auto text = ReadSmallFile(path, kMaxRewriteBytes);
    if (!text.ok()) return text.status();
    std::string data = *text;
    Status s = FromPlaceholders(target, &data);
    if (!s.ok()) return s.WithContext(path.substr(staging_.size() + 1));
    struct stat st;
    lstat(path.c_str(), &st);
    int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return FromErrno("cannot rewrite " + path, errno);
    bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
    struct timespec times[2] = {st.st_mtim, st.st_mtim};
    ok = ok && futimens(fd, times) == 0;
    int err = errno;
    if (close(fd) != 0 && ok) {
      ok = false;
      err = errno;
    }
    if (!ok) return FromErrno("cannot rewrite " + path, err);
  }
  for (const auto& link : links_) {
    std::string t = link.target;
    Status s = FromPlaceholders(target, &t);
    if (!s.ok()) return s.WithContext(link.disk.substr(staging_.size() + 1));
    t = RebaseLink(target, link, t);
    if (symlink(t.c_str(), link.disk.c_str()) != 0)
      return FromErrno("cannot create symlink " + link.disk, errno);
    if (chown && lchown(link.disk.c_str(), chown->uid, chown->gid) != 0)
      return FromErrno("cannot chown symlink " + link.disk, errno);
    struct timespec times[2] = {link.mtime, link.mtime};
    if (utimensat(AT_FDCWD, link.disk.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return FromErrno("cannot set mtime of symlink " + link.disk, errno);
  }

  if (WritesVpasswd()) VM_RETURN_IF_ERROR(CheckVpasswdLines(target.domain_dir, /*warn=*/false));
  VM_RETURN_IF_ERROR(ctx_->store->StageUsers(staging_, TargetEntries(target), chown));
  VM_RETURN_IF_ERROR(WriteDefaultDelivery(target));
  // A MySQL target keeps the counter as a row (CommitDomain), no file.
  if (!domain().users.empty() && ctx_->store->KeepsDirControlFiles())
    VM_RETURN_IF_ERROR(WriteFileAtomic(staging_ + "/.dir-control", dir_control_text_, 0600, chown));
  int lock_fd = -1;
  if (WritesVpasswd())
    lock_fd = open((staging_ + "/.vpasswd.lock").c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock_fd >= 0) {
    if (chown && fchown(lock_fd, chown->uid, chown->gid) != 0) {
      close(lock_fd);
      return FromErrno("cannot chown " + staging_ + "/.vpasswd.lock", errno);
    }
    close(lock_fd);
  }
  // Homes and buckets the archive had no entry for (e.g. a missing home).
  for (const auto& [name, rel] : user_rel_) {
    size_t slash = rel.rfind('/');
    if (slash != std::string::npos)
      VM_RETURN_IF_ERROR(MakeDirs(staging_ + "/" + rel.substr(0, slash), 0700, chown, nullptr));
  }

  // Deepest first, so setting a child's mtime does not disturb its parent.
  std::stable_sort(dirs_.begin(), dirs_.end(), [](const PendingDir& a, const PendingDir& b) {
    return std::count(a.disk.begin(), a.disk.end(), '/') > std::count(b.disk.begin(), b.disk.end(), '/');
  });
  for (const auto& d : dirs_) {
    if (chmod(d.disk.c_str(), d.mode) != 0) return FromErrno("cannot chmod " + d.disk, errno);
    struct timespec times[2] = {d.mtime, d.mtime};
    if (utimensat(AT_FDCWD, d.disk.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return FromErrno("cannot set mtime of " + d.disk, errno);
  }
  // One flush for the whole staging tree instead of an fsync per message.
  return SyncFilesystemOf(staging_);
}

// The accounts as the target's store takes them: homes under `target`,
// pw_uid as the target's backend means it (the archive has the source's).
std::vector<VpasswdEntry> DomainImport::TargetEntries(const HostPathSet& target) const {
  std::vector<VpasswdEntry> entries;
  for (const auto& u : domain().users) {
    VpasswdEntry e = u.entry;
    e.dir = target.user_dirs.at(e.name);
    e.uid = vpopmail::ConvertPwUid(e.uid, ctx_->source_backend, ctx_->store->Backend());
    entries.push_back(e);
  }
  return entries;
}

// A relative link (a shared folder, "../../0/bob/Maildir/.Shared") must
// still reach the place it reached on the source when fresh hashing moves
// its home or the home it points into; absolute ones went through the
// placeholders already.
std::string DomainImport::RebaseLink(const HostPathSet& target, const PendingLink& link,
                                     const std::string& text) {
  HostPathSet source;
  source.vpopmail_home = ctx_->report->manifest.source.vpopmail_home;
  source.qmail_dir = ctx_->report->manifest.source.qmail_dir;
  source.domain_dir = domain().dir;
  for (const auto& u : domain().users) source.user_dirs[u.entry.name] = NormalizePath(u.entry.dir);
  auto from = EntryHostPath(source, link.rel);
  auto to = EntryHostPath(target, link.rel);
  if (!from || !to) return text;
  auto rebased = RebaseRelativeLink(source, target, *from, *to, text);
  if (rebased) return *rebased;
  ctx_->report->warnings.push_back(domain().name + ": symlink " + EscapeC(link.rel) + " -> " + EscapeC(text) +
                                   ": cannot be rewritten to reach what it reached on the source; carried unchanged");
  return text;
}

// A domain without .qmail-default (made by another tool) gets the one
// vadddomain writes, from templates/qmail-default.
Status DomainImport::WriteDefaultDelivery(const HostPathSet& target) {
  std::string path = staging_ + "/.qmail-default";
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) return Status::OK();
  std::string text = kBuiltinQmailDefaultTemplate;
  if (const char* dir = std::getenv("VMIGRATE_TEMPLATE_DIR")) {
    auto custom = ReadSmallFile(std::string(dir) + "/qmail-default", 65536);
    if (custom.ok()) text = *custom;
  }
  auto replace = [&](const std::string& key, const std::string& value) {
    for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size()))
      text.replace(pos, key.size(), value);
  };
  replace("@VPOPMAIL_HOME@", target.vpopmail_home);
  replace("@DOMAIN_DIR@", target.domain_dir);
  ctx_->report->warnings.push_back(domain().name + ": the archive has no .qmail-default; wrote one from the template");
  return WriteFileAtomic(path, text, 0600, ctx_->chown);
}

}  // namespace vmigrate
