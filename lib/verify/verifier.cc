#include "verify/verifier.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "archive/archive_reader.h"
#include "archive/checksums.h"
#include "core/atomic_file.h"
#include "core/errno_status.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "importer/importer.h"
#include "model/manifest.h"
#include "model/manifest_yaml.h"
#include "model/path_rewrite.h"
#include "qmail/assign.h"
#include "qmail/control_file.h"
#include "verify/uidlist.h"
#include "vpopmail/names.h"
#include "vpopmail/password.h"
#include "vpopmail/user_store.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate {
namespace {

constexpr size_t kBuffer = 256 * 1024;
constexpr size_t kMaxManifestBytes = 64u << 20;
constexpr size_t kMaxRewriteBytes = 1u << 20;
constexpr size_t kMaxUidlistBytes = 16u << 20;

std::string MtimeText(std::int64_t sec, long nsec) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(sec), nsec);
  return buf;
}

std::string ModeText(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

const char* TypeName(EntryType t) {
  switch (t) {
    case EntryType::kFile: return "a file";
    case EntryType::kDirectory: return "a directory";
    case EntryType::kSymlink: return "a symlink";
    default: return "something else";
  }
}

const char* TypeName(mode_t m) {
  if (S_ISREG(m)) return "a file";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISLNK(m)) return "a symlink";
  return "a special file";
}

bool TypeMatches(EntryType t, mode_t m) {
  return (t == EntryType::kFile && S_ISREG(m)) || (t == EntryType::kDirectory && S_ISDIR(m)) ||
         (t == EntryType::kSymlink && S_ISLNK(m));
}

// 64-bit FNV-1a: the set of installed paths the archive covers is kept as
// hashes, 8 bytes per file however long the paths are.
std::uint64_t PathKey(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Result<std::vector<std::string>> ListNames(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return FromErrno("cannot read directory " + dir, errno);
  std::vector<std::string> out;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Hashes a file on disk, streaming. Returns the digest and the bytes read.
Status HashFile(const std::string& path, std::string* digest, std::int64_t* size, char* buf) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return FromErrno("cannot open " + path, errno);
  Sha256 sha;
  std::int64_t total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, kBuffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return FromErrno("cannot read " + path, err);
    }
    if (n == 0) break;
    sha.Update(buf, static_cast<size_t>(n));
    total += n;
  }
  close(fd);
  *digest = sha.HexDigest();
  *size = total;
  return Status::OK();
}

// Per-user state collected while the archive streams by (for --uidl).
struct FolderState {
  std::vector<verify::MessageFile> messages;
  std::string dovecot;  // archived dovecot-uidlist text
  std::string courier;  // archived courierimapuiddb text
  bool has_dovecot = false, has_courier = false;
};

class Verifier {
 public:
  Verifier(const VerifyOptions& options, VerifyReport* report) : opt_(options), report_(report) {}

  Status Run() {
    auto reader = ArchiveReader::Open(opt_.archive);
    if (!reader.ok()) return reader.status();
    reader_ = std::move(*reader);
    VM_RETURN_IF_ERROR(ReadManifest());
    VM_RETURN_IF_ERROR(ChooseDomain());
    const ManifestDomain& d = domain();
    report_->domain = d.name;
    report_->aliases = d.aliases;
    report_->users = d.users.size();

    auto loc = qmail::LocateDomain(opt_.paths, d.name);
    if (!loc.ok()) return loc.status();
    loc_ = *loc;
    report_->domain_dir = loc_.dir;
    domain_disk_ = opt_.paths.OnDisk(loc_.dir);
    struct stat st;
    if (stat(domain_disk_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status::NotFound(d.name + ": domain directory " + loc_.dir +
                              " (from users/assign) does not exist under " + opt_.paths.root);
    store_ = vpopmail::OpenUserStore(opt_.paths);
    auto installed = store_->ReadUsers(loc_);
    if (!installed.ok()) return installed.status();
    installed_list_ = *installed;
    for (const auto& e : *installed) installed_[e.name] = e;

    target_.vpopmail_home = opt_.paths.vpopmail_home;
    target_.qmail_dir = opt_.paths.qmail_dir;
    target_.domain_dir = loc_.dir;
    for (const auto& [name, e] : installed_) {
      std::string dir = NormalizePath(e.dir);
      target_.user_dirs[name] = dir;
      if (StartsWith(dir, loc_.dir + "/")) {
        std::string rel = dir.substr(loc_.dir.size() + 1);
        home_rels_.insert(rel);
        for (size_t slash = rel.rfind('/'); slash != std::string::npos; slash = rel.rfind('/')) {
          rel.resize(slash);
          bucket_rels_.insert(rel);
        }
      }
    }
    for (const auto& f : d.rewritten_files) rewritten_.insert(f);

    CompareUsers();
    CheckVpasswdCdb();
    CheckControlFiles();
    VM_RETURN_IF_ERROR(StreamMembers());
    VM_RETURN_IF_ERROR(CheckIndex());
    FinishUidl();
    std::sort(seen_.begin(), seen_.end());
    VM_RETURN_IF_ERROR(FindExtras());
    return Status::OK();
  }

 private:
  const ManifestDomain& domain() const { return manifest_.domains[domain_index_]; }

  // A server archive holds several domains; one pass verifies one of them
  // and only checksums the others.
  Status ChooseDomain() {
    if (manifest_.domains.empty()) return Status::NotFound("the archive holds no domain");
    std::vector<std::string> names;
    for (size_t i = 0; i < manifest_.domains.size(); ++i) {
      const ManifestDomain& d = manifest_.domains[i];
      names.push_back(d.name);
      for (const auto& f : d.rewritten_files) all_rewritten_.insert(ArchiveDomainPrefix(d.name) + f);
      if (!opt_.domain.empty() && ToLower(d.name) == ToLower(opt_.domain)) domain_index_ = i;
    }
    if (!opt_.domain.empty() && ToLower(domain().name) != ToLower(opt_.domain))
      return Status::NotFound("the archive has no domain " + opt_.domain + " (it holds: " + Join(names, ", ") + ")");
    return Status::OK();
  }

  // A member of another domain or a server file: into the index comparison only.
  Status HashOtherMember(const EntryHeader& h) {
    VM_RETURN_IF_ERROR(CheckMemberPath(h.path));
    FileRecord rec;
    rec.type = h.type == EntryType::kDirectory ? 'd' : h.type == EntryType::kSymlink ? 'l' : 'f';
    rec.mode = h.mode & 07777;
    rec.mtime_sec = h.mtime_sec;
    rec.mtime_nsec = h.mtime_nsec;
    rec.path = h.path;
    if (h.type == EntryType::kSymlink) {
      rec.size = static_cast<std::int64_t>(h.link_target.size());
      rec.sha256 = Sha256::Of(h.link_target);
      rec.rewritten = HasPlaceholderMarker(h.link_target);
    } else if (h.type == EntryType::kFile) {
      VM_RETURN_IF_ERROR(HashEntryData(reader_.get(), h, buffer_, kBuffer, &rec));
      rec.rewritten = all_rewritten_.count(h.path) > 0;
    }
    return spool_.Add(rec);
  }

  void Add(const std::string& user, const std::string& path, const std::string& what) {
    report_->differences.push_back({user, path, what});
  }

  Status ReadManifest() {
    EntryHeader h;
    auto more = reader_->Next(&h);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Corrupt(opt_.archive + ": empty archive (no manifest.yaml)");
    if (h.path != kManifestEntry || h.type != EntryType::kFile)
      return Status::Corrupt(opt_.archive + ": first entry is '" + EscapeC(h.path) +
                             "', not manifest.yaml: not a vmigrate archive");
    if (h.size < 0 || static_cast<size_t>(h.size) > kMaxManifestBytes)
      return Status::Corrupt("manifest.yaml claims " + std::to_string(h.size) + " bytes");
    auto text = reader_->ReadAll(kMaxManifestBytes);
    if (!text.ok()) return text.status();
    auto m = ManifestFromYaml(*text);
    if (!m.ok()) return m.status();
    manifest_ = *m;
    VM_RETURN_IF_ERROR(spool_.Init());
    FileRecord r;
    r.type = 'f';
    r.mode = h.mode & 07777;
    r.mtime_sec = h.mtime_sec;
    r.mtime_nsec = h.mtime_nsec;
    r.size = static_cast<std::int64_t>(text->size());
    r.sha256 = Sha256::Of(*text);
    r.path = h.path;
    return spool_.Add(r);
  }

  // --- users --------------------------------------------------------------

  void CompareUsers() {
    std::set<std::string> in_archive;
    for (const ManifestUser& u : domain().users) {
      const VpasswdEntry& a = u.entry;
      in_archive.insert(a.name);
      auto it = installed_.find(a.name);
      if (it == installed_.end()) {
        Add(a.name, "vpasswd", "user is in the archive but not installed");
        continue;
      }
      const VpasswdEntry& b = it->second;
      auto field = [&](const char* label, const std::string& x, const std::string& y) {
        if (x != y)
          Add(a.name, "vpasswd", std::string(label) + " '" + EscapeC(x) + "' in the archive, '" +
                                     EscapeC(y) + "' installed");
      };
      if (a.passwd != b.passwd) Add(a.name, "vpasswd", "password hash differs from the archive");
      field("uid (POP/APOP) field", a.uid, b.uid);
      field("flags (gid)", a.gid, b.gid);
      field("gecos", a.gecos, b.gecos);
      field("quota", a.quota, b.quota);
      if (a.has_clear != b.has_clear)
        Add(a.name, "vpasswd",
            std::string("cleartext field ") + (a.has_clear ? "present" : "absent") +
                " in the archive, " + (b.has_clear ? "present" : "absent") + " installed");
      else if (a.clear != b.clear)
        Add(a.name, "vpasswd", "cleartext password differs from the archive");
      if (!a.clear.empty()) {
        ++report_->passwords_checked;
        if (!vpopmail::CryptMatches(a.clear, b.passwd))
          Add(a.name, "vpasswd", "the cleartext password does not verify against the installed hash");
      }
      std::string weak = vpopmail::WeakHashScheme(b.passwd);
      if (!weak.empty()) weak_.push_back(a.name + " (" + weak + ")");
    }
    if (!weak_.empty())
      report_->warnings.push_back(domain().name + ": weak password hashes (DES/MD5-crypt): " +
                                  Join(weak_, ", "));
    for (const auto& [name, e] : installed_)
      if (!in_archive.count(name)) Add(name, "vpasswd", "user is installed but not in the archive");
  }

  void CheckVpasswdCdb() {
    for (const auto& p : store_->CheckConsistency(loc_, installed_list_)) Add(p.user, p.file, p.what);
  }

  // --- qmail registration ---------------------------------------------------

  void CheckControlFiles() {
    const ManifestDomain& d = domain();
    std::vector<std::string> names = {d.name};
    names.insert(names.end(), d.aliases.begin(), d.aliases.end());
    const HostPaths& p = opt_.paths;
    const std::string assign_path = p.assign_file();

    std::set<std::string> wanted;
    for (const auto& n : names) wanted.insert(ToLower(n));
    for (const auto& a : loc_.aliases)
      if (!wanted.count(ToLower(a)))
        Add("", assign_path, a + ": alias domain of " + d.name + " on this host but not in the archive");

    auto assign_text = ReadSmallFile(p.OnDisk(assign_path));
    std::vector<qmail::DomainAssign> assigns;
    if (assign_text.ok()) assigns = qmail::ParseDomainAssigns(*assign_text);
    for (const auto& n : names) {
      const qmail::DomainAssign* line = nullptr;
      for (const auto& a : assigns)
        if (ToLower(a.domain) == ToLower(n)) line = &a;
      if (!line) {
        Add("", assign_path, n + ": no '+" + n + "-:' line");
        continue;
      }
      if (ToLower(line->real_domain) != ToLower(d.name) || NormalizePath(line->dir) != loc_.dir)
        Add("", assign_path, n + ": points to " + line->real_domain + " in " + line->dir + ", not to " +
                                 d.name + " in " + loc_.dir);
    }

    const std::string users_cdb = p.qmail_dir + "/users/cdb";
    auto ucdb = vpopmail::ReadCdbRecords(p.OnDisk(users_cdb));
    if (!ucdb.ok()) {
      Add("", users_cdb, "cannot be read: " + ucdb.status().message());
    } else {
      for (const auto& n : names) {
        auto it = ucdb->find("!" + ToLower(n) + "-");
        if (it == ucdb->end()) {
          Add("", users_cdb, n + ": missing (users/cdb is older than users/assign: run qmail-newu)");
          continue;
        }
        std::vector<std::string> f = Split(it->second, '\0');
        if (f.size() < 4 || ToLower(f[0]) != ToLower(d.name) || NormalizePath(f[3]) != loc_.dir)
          Add("", users_cdb, n + ": record does not point to " + d.name + " in " + loc_.dir);
      }
    }

    auto load = [&](const std::string& name) -> std::set<std::string> {
      std::set<std::string> out;
      auto f = qmail::ControlFile::Load(p.OnDisk(p.control_file(name)));
      if (!f.ok()) return out;
      for (std::string line : f->lines()) {
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
          line.pop_back();
        out.insert(ToLower(line));
      }
      return out;
    };
    std::set<std::string> rcpt = load("rcpthosts"), more = load("morercpthosts");
    std::set<std::string> virt = load("virtualdomains"), locals = load("locals");
    std::map<std::string, std::string> more_cdb;
    bool more_cdb_ok = false;
    for (const auto& n : names) {
      std::string l = ToLower(n);
      if (rcpt.count(l)) {
      } else if (more.count(l)) {
        if (!more_cdb_ok) {
          auto c = vpopmail::ReadCdbRecords(p.OnDisk(p.control_file("morercpthosts.cdb")));
          if (c.ok()) more_cdb = *c;
          more_cdb_ok = true;
        }
        if (!more_cdb.count(l))
          Add("", p.control_file("morercpthosts.cdb"), n + ": missing (run qmail-newmrh)");
      } else {
        Add("", p.control_file("rcpthosts"), n + ": in neither rcpthosts nor morercpthosts");
      }
      if (!virt.count(l + ":" + l))
        Add("", p.control_file("virtualdomains"), n + ": no '" + n + ":" + n + "' line");
      if (locals.count(l))
        Add("", p.control_file("locals"), n + ": listed in locals, so qmail would deliver it locally");
    }
  }

  // --- archive members ------------------------------------------------------

  Status StreamMembers() {
    EntryHeader h;
    for (;;) {
      auto more = reader_->Next(&h);
      if (!more.ok()) return more.status();
      if (!*more) return Status::Corrupt(opt_.archive + ": truncated: checksums.txt is missing");
      if (h.path == kChecksumsEntry) return Status::OK();
      if (manifest_.kind == kKindServer && !StartsWith(h.path, ArchiveDomainPrefix(domain().name))) {
        VM_RETURN_IF_ERROR(HashOtherMember(h));
        continue;
      }
      ++report_->entries;
      VM_RETURN_IF_ERROR(CompareMember(h));
    }
  }

  // Maps a member to (user, path shown, on-disk path). `user_known` is false
  // when the member belongs to a user that is not installed.
  Status MapMember(const std::string& member, std::string* user, std::string* shown,
                   std::string* disk, std::string* rel_in_domain, bool* mapped) {
    VM_RETURN_IF_ERROR(CheckMemberPath(member));
    const std::string prefix = ArchiveDomainPrefix(domain().name);
    const std::string files = ArchiveFilesPrefix(domain().name);
    const std::string users = prefix + "users/";
    *mapped = true;
    if (member + "/" == files) {
      *shown = ".";
      *disk = domain_disk_;
      *rel_in_domain = "files";
      return Status::OK();
    }
    if (StartsWith(member, files)) {
      *shown = member.substr(files.size());
      *disk = domain_disk_ + "/" + *shown;
      *rel_in_domain = "files/" + *shown;
      return Status::OK();
    }
    if (StartsWith(member, users)) {
      std::string rest = member.substr(users.size());
      size_t slash = rest.find('/');
      *user = rest.substr(0, slash);
      *shown = slash == std::string::npos ? "." : rest.substr(slash + 1);
      *rel_in_domain = "users/" + rest;
      auto it = target_.user_dirs.find(*user);
      if (it == target_.user_dirs.end()) {
        *mapped = false;
        return Status::OK();
      }
      *disk = opt_.paths.OnDisk(it->second) + (slash == std::string::npos ? "" : rest.substr(slash));
      return Status::OK();
    }
    return Status::Corrupt("archive entry '" + EscapeC(member) +
                           "' is outside the domain the manifest names");
  }

  bool UnderMissingDir(const std::string& disk) const {
    for (size_t slash = disk.rfind('/'); slash != std::string::npos && slash > 0;
         slash = disk.rfind('/', slash - 1)) {
      if (missing_dirs_.count(disk.substr(0, slash))) return true;
    }
    return false;
  }

  Status CompareMember(const EntryHeader& h) {
    std::string user, shown, disk, rel;
    bool mapped = false;
    VM_RETURN_IF_ERROR(MapMember(h.path, &user, &shown, &disk, &rel, &mapped));
    if (h.mtime_nsec < 0 || h.mtime_nsec > 999999999)
      return Status::Corrupt("archive entry '" + EscapeC(h.path) + "': bad mtime");
    if (h.type == EntryType::kHardlink || h.type == EntryType::kOther)
      return Status::Corrupt("archive entry '" + EscapeC(h.path) +
                             "' is a hard link, device, FIFO or socket; vmigrate archives never hold one");
    if (opt_.uidl && !user.empty()) NoteUidlUser(user);

    FileRecord rec;
    rec.type = h.type == EntryType::kDirectory ? 'd' : h.type == EntryType::kSymlink ? 'l' : 'f';
    rec.mode = h.mode & 07777;
    rec.mtime_sec = h.mtime_sec;
    rec.mtime_nsec = h.mtime_nsec;
    rec.path = h.path;
    rec.rewritten = h.type == EntryType::kFile && rewritten_.count(rel) > 0;

    struct stat st;
    bool present = false;
    if (mapped) {
      seen_.push_back(PathKey(disk));
      if (!UnderMissingDir(disk)) {
        if (lstat(disk.c_str(), &st) == 0) {
          present = true;
        } else if (errno == ENOENT || errno == ENOTDIR) {
          Add(user, shown, std::string("missing (") + TypeName(h.type) + " in the archive)");
          if (h.type == EntryType::kDirectory) missing_dirs_.insert(disk);
        } else {
          return FromErrno("cannot stat " + disk, errno);
        }
      }
    }
    if (present && !TypeMatches(h.type, st.st_mode)) {
      Add(user, shown, std::string("is ") + TypeName(h.type) + " in the archive, " +
                           TypeName(st.st_mode) + " installed");
      if (h.type == EntryType::kDirectory) missing_dirs_.insert(disk);
      present = false;
    }
    if (present) {
      if (h.type != EntryType::kSymlink && (st.st_mode & 07777) != (h.mode & 07777))
        Add(user, shown, "mode " + ModeText(h.mode) + " in the archive, " + ModeText(st.st_mode) +
                             " installed");
      if (st.st_mtim.tv_sec != h.mtime_sec || st.st_mtim.tv_nsec != h.mtime_nsec)
        Add(user, shown, "mtime " + MtimeText(h.mtime_sec, h.mtime_nsec) + " in the archive, " +
                             MtimeText(st.st_mtim.tv_sec, st.st_mtim.tv_nsec) + " installed");
    }

    switch (h.type) {
      case EntryType::kDirectory:
        if (opt_.uidl && !user.empty()) NoteUidlDir(user, shown);
        break;
      case EntryType::kSymlink: {
        rec.rewritten = HasPlaceholderMarker(h.link_target);
        rec.size = static_cast<std::int64_t>(h.link_target.size());
        rec.sha256 = Sha256::Of(h.link_target);
        if (present) {
          std::string expected = h.link_target;
          Status s = FromPlaceholders(target_, &expected);
          char buf[4096];
          ssize_t n = readlink(disk.c_str(), buf, sizeof buf - 1);
          std::string actual = n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
          if (!s.ok())
            Add(user, shown, "symlink target cannot be rewritten for this host: " + s.message());
          else if (actual != expected)
            Add(user, shown, "symlink points to '" + EscapeC(actual) + "', the archive says '" +
                                 EscapeC(expected) + "'");
        }
        break;
      }
      case EntryType::kFile:
        VM_RETURN_IF_ERROR(CompareFile(h, user, shown, disk, present, present ? &st : nullptr, &rec));
        break;
      default:
        break;
    }
    return spool_.Add(rec);
  }

  Status CompareFile(const EntryHeader& h, const std::string& user, const std::string& shown,
                     const std::string& disk, bool present, const struct stat* st, FileRecord* rec) {
    bool uidl_file = opt_.uidl && !user.empty() && IsUidlistFile(shown);
    if (rec->rewritten || (uidl_file && h.size >= 0 && static_cast<size_t>(h.size) <= kMaxUidlistBytes)) {
      auto data = reader_->ReadAll(rec->rewritten ? kMaxRewriteBytes : kMaxUidlistBytes);
      if (!data.ok()) return data.status();
      rec->size = static_cast<std::int64_t>(data->size());
      rec->sha256 = Sha256::Of(*data);
      if (uidl_file) NoteUidlist(user, shown, *data);
      if (!present) return Status::OK();
      std::string expected = *data;
      if (rec->rewritten) {
        Status s = FromPlaceholders(target_, &expected);
        if (!s.ok()) {
          Add(user, shown, "cannot be rewritten for this host: " + s.message());
          return Status::OK();
        }
      }
      if (st->st_size != static_cast<off_t>(expected.size())) {
        Add(user, shown, "size " + std::to_string(expected.size()) + " in the archive" +
                             (rec->rewritten ? " (after path rewriting)" : "") + ", " +
                             std::to_string(st->st_size) + " installed");
        return Status::OK();
      }
      std::string digest;
      std::int64_t size = 0;
      VM_RETURN_IF_ERROR(HashFile(disk, &digest, &size, buffer_));
      if (digest != Sha256::Of(expected))
        Add(user, shown, std::string("SHA-256 differs") + (rec->rewritten ? " (after path rewriting)" : "") +
                             ": the content changed");
      return Status::OK();
    }
    VM_RETURN_IF_ERROR(HashEntryData(reader_.get(), h, buffer_, kBuffer, rec));
    const std::int64_t total = rec->size;
    if (opt_.uidl && !user.empty()) NoteUidlMessage(user, shown, h);
    if (!present) return Status::OK();
    if (st->st_size != total) {
      Add(user, shown, "size " + std::to_string(total) + " in the archive, " +
                           std::to_string(st->st_size) + " installed");
      return Status::OK();
    }
    std::string digest;
    std::int64_t size = 0;
    VM_RETURN_IF_ERROR(HashFile(disk, &digest, &size, buffer_));
    if (digest != rec->sha256) Add(user, shown, "SHA-256 differs: the content changed");
    return Status::OK();
  }

  // The archive's own index: what we read must be what the exporter wrote.
  Status CheckIndex() { return CompareWithIndex(reader_.get(), &spool_); }

  // --- installed files the archive does not have ---------------------------

  bool Seen(const std::string& disk) const {
    return std::binary_search(seen_.begin(), seen_.end(), PathKey(disk));
  }

  Status WalkExtras(const std::string& disk_dir, const std::string& rel_dir, const std::string& user,
                    bool domain_level) {
    auto names = ListNames(disk_dir);
    if (!names.ok()) {
      if (names.status().code() == Status::Code::kNotFound) return Status::OK();
      return names.status();
    }
    for (const auto& name : *names) {
      std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      std::string disk = disk_dir + "/" + name;
      if (domain_level) {
        if (rel_dir.empty() && vpopmail::IsRegeneratedDomainFile(name)) continue;
        if (home_rels_.count(rel)) continue;
        if (bucket_rels_.count(rel)) {
          VM_RETURN_IF_ERROR(WalkExtras(disk, rel, user, true));
          continue;
        }
      }
      struct stat st;
      if (lstat(disk.c_str(), &st) != 0) continue;
      if (!Seen(disk)) {
        if (domain_level && rel == ".qmail-default") {
          report_->warnings.push_back(domain().name +
                                      ": .qmail-default is not in the archive (import writes one "
                                      "from the template when the archive has none)");
          continue;
        }
        Add(user, rel, std::string("not in the archive (") + TypeName(st.st_mode) + " installed)");
        continue;
      }
      if (S_ISDIR(st.st_mode)) VM_RETURN_IF_ERROR(WalkExtras(disk, rel, user, domain_level));
    }
    return Status::OK();
  }

  Status FindExtras() {
    if (!missing_dirs_.count(domain_disk_)) VM_RETURN_IF_ERROR(WalkExtras(domain_disk_, "", "", true));
    for (const ManifestUser& u : domain().users) {
      auto it = target_.user_dirs.find(u.entry.name);
      if (it == target_.user_dirs.end()) continue;
      std::string home = opt_.paths.OnDisk(it->second);
      if (missing_dirs_.count(home)) continue;
      struct stat st;
      if (lstat(home.c_str(), &st) != 0) continue;
      if (!u.home_present) {
        Add(u.entry.name, ".", "home directory exists; the archive has none (it was missing at export)");
        continue;
      }
      if (S_ISDIR(st.st_mode)) VM_RETURN_IF_ERROR(WalkExtras(home, "", u.entry.name, false));
    }
    return Status::OK();
  }

  // --- POP3 UIDL / IMAP UID report -------------------------------------------

  // "Maildir" -> "INBOX", "Maildir/.Sent" -> "Sent"; "" when not a folder.
  static std::string FolderOf(const std::string& dir) {
    if (dir == "Maildir") return "INBOX";
    if (StartsWith(dir, "Maildir/.") && dir.find('/', 9) == std::string::npos && dir.size() > 9)
      return dir.substr(9);
    return "";
  }

  static std::string FolderDir(const std::string& folder) {
    return folder == "INBOX" ? "Maildir" : "Maildir/." + folder;
  }

  static bool IsUidlistFile(const std::string& shown) {
    size_t slash = shown.rfind('/');
    if (slash == std::string::npos) return false;
    std::string base = shown.substr(slash + 1);
    return (base == "dovecot-uidlist" || base == "courierimapuiddb") &&
           !FolderOf(shown.substr(0, slash)).empty();
  }

  void NoteUidlUser(const std::string& user) {
    if (user == uidl_user_) return;
    FinishUidl();
    uidl_user_ = user;
  }

  void NoteUidlDir(const std::string&, const std::string& shown) {
    // A folder is a Maildir++ directory with cur/ (empty folders count too).
    size_t slash = shown.rfind('/');
    if (slash == std::string::npos || shown.substr(slash + 1) != "cur") return;
    std::string folder = FolderOf(shown.substr(0, slash));
    if (!folder.empty()) folders_[folder];
  }

  void NoteUidlMessage(const std::string&, const std::string& shown, const EntryHeader& h) {
    size_t slash = shown.rfind('/');
    if (slash == std::string::npos) return;
    std::string dir = shown.substr(0, slash);
    size_t up = dir.rfind('/');
    std::string sub = up == std::string::npos ? dir : dir.substr(up + 1);
    if (up == std::string::npos || (sub != "cur" && sub != "new")) return;
    std::string folder = FolderOf(dir.substr(0, up));
    if (folder.empty()) return;
    folders_[folder].messages.push_back({shown.substr(slash + 1), h.mtime_sec, h.mtime_nsec});
  }

  void NoteUidlist(const std::string&, const std::string& shown, const std::string& data) {
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
  verify::UidList ParseUids(bool has_dovecot, const std::string& dovecot, bool has_courier,
                            const std::string& courier, const std::string& where) {
    Result<verify::UidList> r = verify::UidList();
    if (has_dovecot) r = verify::ParseDovecotUidlist(dovecot);
    else if (has_courier) r = verify::ParseCourierUiddb(courier);
    if (!r.ok()) {
      report_->warnings.push_back(where + ": " + r.status().message());
      return verify::UidList();
    }
    return *r;
  }

  std::vector<verify::MessageFile> InstalledMessages(const std::string& folder_disk) {
    std::vector<verify::MessageFile> out;
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

  void FinishUidl() {
    if (uidl_user_.empty()) return;
    const std::string user = uidl_user_;
    uidl_user_.clear();
    std::map<std::string, FolderState> folders;
    folders.swap(folders_);
    auto home_it = target_.user_dirs.find(user);
    std::string home = home_it == target_.user_dirs.end() ? "" : opt_.paths.OnDisk(home_it->second);
    for (auto& [folder, state] : folders) {
      FolderUidl out;
      out.user = user;
      out.folder = folder;
      out.messages = state.messages.size();
      std::string folder_disk = home.empty() ? "" : home + "/" + FolderDir(folder);
      std::vector<verify::MessageFile> installed =
          folder_disk.empty() ? std::vector<verify::MessageFile>() : InstalledMessages(folder_disk);
      std::map<std::string, std::string> installed_by_uidl;
      for (const auto& m : installed) installed_by_uidl[verify::Pop3Uidl(m.name)] = m.name;

      verify::UidList archived =
          ParseUids(state.has_dovecot, state.dovecot, state.has_courier, state.courier,
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
      if (archived.kind == verify::UidList::Kind::kCourier) has_inst_dovecot = false;
      if (archived.kind == verify::UidList::Kind::kDovecot) has_inst_courier = false;
      verify::UidList current = ParseUids(has_inst_dovecot, inst_dovecot, has_inst_courier,
                                          inst_courier, user + ": " + FolderDir(folder));
      out.uid_source = archived.kind == verify::UidList::Kind::kDovecot   ? "dovecot-uidlist"
                       : archived.kind == verify::UidList::Kind::kCourier ? "courierimapuiddb"
                                                                          : "";
      bool same_validity = archived.kind == current.kind && archived.uidvalidity == current.uidvalidity;
      if (archived.kind != verify::UidList::Kind::kNone && !same_validity)
        out.changes.push_back("UIDVALIDITY " + std::to_string(archived.uidvalidity) + " would become " +
                              (current.kind == verify::UidList::Kind::kNone
                                   ? std::string("new (no ") + out.uid_source + ")"
                                   : std::to_string(current.uidvalidity)) +
                              ": IMAP clients download the folder again");
      for (const auto& m : state.messages) {
        std::string uidl = verify::Pop3Uidl(m.name);
        auto inst = installed_by_uidl.find(uidl);
        if (inst != installed_by_uidl.end()) ++out.uidl_kept;
        else out.changes.push_back("POP3 UIDL " + uidl + ": no message with this name on this host");
        std::uint64_t before = archived.UidOf(m.name);
        std::uint64_t after = inst == installed_by_uidl.end() ? 0 : current.UidOf(inst->second);
        bool kept = inst != installed_by_uidl.end() && before == after &&
                    (before == 0 || same_validity);
        if (kept) {
          ++out.uid_kept;
        } else if (before != 0) {
          out.changes.push_back("IMAP UID " + std::to_string(before) + " of " + uidl +
                                (after == 0 ? std::string(" would be lost")
                                            : " would become " + std::to_string(after)));
        } else if (inst != installed_by_uidl.end()) {
          out.changes.push_back("IMAP UID of " + uidl + ": none in the archive, " +
                                std::to_string(after) + " on this host");
        }
      }
      if (folder == "INBOX" && verify::Pop3Order(state.messages) != verify::Pop3Order(installed)) {
        out.pop3_order_kept = false;
        out.changes.push_back("qmail-pop3d would list INBOX in a different order (mtimes or names differ)");
      }
      report_->uidl.push_back(std::move(out));
    }
  }

  const VerifyOptions& opt_;
  VerifyReport* report_;
  std::unique_ptr<ArchiveReader> reader_;
  Manifest manifest_;
  qmail::DomainLocation loc_;
  std::string domain_disk_;
  std::unique_ptr<vpopmail::UserStore> store_;
  std::vector<VpasswdEntry> installed_list_;  // in the store's order
  std::map<std::string, VpasswdEntry> installed_;
  HostPathSet target_;
  std::set<std::string> home_rels_, bucket_rels_;
  std::set<std::string> rewritten_;
  std::set<std::string> all_rewritten_;  // full member paths, every domain
  size_t domain_index_ = 0;
  std::set<std::string> missing_dirs_;
  std::vector<std::string> weak_;
  std::vector<std::uint64_t> seen_;
  RecordSpool spool_;
  std::string uidl_user_;
  std::map<std::string, FolderState> folders_;
  char buffer_[kBuffer];
};

}  // namespace

Status Verify(const VerifyOptions& options, VerifyReport* report) {
  auto verifier = std::make_unique<Verifier>(options, report);
  return verifier->Run();
}

}  // namespace vmigrate
