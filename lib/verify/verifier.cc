#include "verify/verifier.h"

#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <set>
#include <vector>

#include "archive/checksums.h"
#include "archive/layout.h"
#include "core/errno_status.h"
#include "core/strings.h"
#include "model/manifest.h"
#include "qmail/domains.h"
#include "verify/delivery_check.h"
#include "verify/installed_domain.h"
#include "verify/member_check.h"
#include "verify/qmail_check.h"
#include "verify/uidl_report.h"
#include "verify/user_check.h"
#include "vpopmail/login_lock.h"
#include "vpopmail/user_store.h"

namespace vmigrate {
namespace {

constexpr size_t kBuffer = 256 * 1024;

// One run of `verify`: opens the archive, finds the domain on this host,
// then runs the checks in the order the report lists them: users, the
// user store, qmail registration, the members (with the UIDL report), the
// archive's own index, and last the installed files no member named.
class Verifier {
 public:
  Verifier(const VerifyOptions& options, VerifyReport* report) : opt_(options), report_(report) {}

  Status Run() {
    auto opened = OpenArchive(opt_.archive);
    if (!opened.ok()) return opened.status();
    reader_ = std::move(opened->reader);
    manifest_ = std::move(opened->manifest);
    VM_RETURN_IF_ERROR(spool_.Init());
    VM_RETURN_IF_ERROR(spool_.Add(opened->manifest_record));
    VM_RETURN_IF_ERROR(ChooseDomain());
    const ManifestDomain& d = manifest_.domains[domain_index_];
    report_->domain = d.name;
    report_->aliases = d.aliases;
    report_->users = d.users.size();

    auto loc = qmail::LocateDomain(opt_.paths, d.name);
    if (!loc.ok()) return loc.status();
    domain_.paths = &opt_.paths;
    domain_.archived = &d;
    domain_.loc = *loc;
    report_->domain_dir = domain_.loc.dir;
    // A symlinked domain dir is followed, as vpopmail and export do.
    auto dir = domain_.StorageDisk(domain_.loc.dir);
    if (!dir.ok()) return dir.status();
    domain_.disk = *dir;
    struct stat st;
    // Only a missing directory "does not exist"; one we may not enter says so.
    if (stat(domain_.disk.c_str(), &st) != 0 && errno != ENOENT)
      return FromErrno(d.name + ": cannot read domain directory " + domain_.disk, errno);
    if (stat(domain_.disk.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status::NotFound(d.name + ": domain directory " + domain_.loc.dir +
                              " (from users/assign) does not exist under " + opt_.paths.root);
    std::unique_ptr<vpopmail::UserStore> store = vpopmail::OpenUserStore(opt_.paths);
    // Compared with the archive in the unlocked view (a cutover's login lock
    // is not a difference); the store's own check sees the accounts as stored.
    auto stored = store->ReadUsers(domain_.loc);
    if (!stored.ok()) return stored.status();
    auto installed = vpopmail::ReadUsersUnlocked(store.get(), opt_.paths, domain_.loc);
    if (!installed.ok()) return installed.status();
    domain_.users = *installed;
    domain_.source_backend = manifest_.source.backend;
    domain_.backend = vpopmail::OpenUserStoreFor(opt_.paths, domain_.loc)->Backend();
    auto store_files = store->ReadDomainFiles(domain_.loc);
    if (!store_files.ok()) return store_files.status().WithContext(d.name);
    for (auto& f : *store_files) domain_.store_files[f.rel] = std::move(f);
    for (const auto& e : domain_.users) domain_.users_by_name[e.name] = e;

    domain_.target.vpopmail_home = opt_.paths.vpopmail_home;
    domain_.target.qmail_dir = opt_.paths.qmail_dir;
    domain_.target.domain_dir = domain_.loc.dir;
    for (const auto& [name, e] : domain_.users_by_name) domain_.target.user_dirs[name] = NormalizePath(e.dir);
    domain_.source.vpopmail_home = manifest_.source.vpopmail_home;
    domain_.source.qmail_dir = manifest_.source.qmail_dir;
    domain_.source.domain_dir = d.dir;
    for (const auto& u : d.users) domain_.source.user_dirs[u.entry.name] = NormalizePath(u.entry.dir);

    verify::CheckUsers(domain_, report_);
    {
      verify::InstalledDomain as_stored = domain_;
      as_stored.users = *stored;
      verify::CheckUserStore(as_stored, store.get(), report_);
    }
    verify::CheckQmailRegistration(domain_, report_);
    verify::CheckDeliveryTargets(domain_, report_);
    verify::NoteOutsideRefs(domain_, report_);

    std::unique_ptr<verify::UidlReport> uidl;
    if (opt_.uidl) uidl = std::make_unique<verify::UidlReport>(domain_, report_);
    verify::MemberCheck members(domain_, reader_.get(), &spool_, uidl.get(), report_);
    VM_RETURN_IF_ERROR(StreamMembers(&members));
    // The archive's own index: what we read must be what the exporter wrote.
    VM_RETURN_IF_ERROR(CompareWithIndex(reader_.get(), &spool_));
    if (uidl) uidl->Finish();
    return members.FindExtras();
  }

 private:
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
    if (!opt_.domain.empty() && ToLower(manifest_.domains[domain_index_].name) != ToLower(opt_.domain))
      return Status::NotFound("the archive has no domain " + opt_.domain + " (it holds: " + Join(names, ", ") + ")");
    return Status::OK();
  }

  // Every member up to checksums.txt: the verified domain's go to the
  // member check, the rest (other domains, server files) into the index only.
  Status StreamMembers(verify::MemberCheck* members) {
    const std::string prefix = ArchiveDomainPrefix(manifest_.domains[domain_index_].name);
    EntryHeader h;
    for (;;) {
      auto more = reader_->Next(&h);
      if (!more.ok()) return more.status();
      if (!*more) return Status::Corrupt(opt_.archive + ": truncated: checksums.txt is missing");
      if (h.path == kChecksumsEntry) return Status::OK();
      if (manifest_.kind == kKindServer && !StartsWith(h.path, prefix)) {
        VM_RETURN_IF_ERROR(HashOtherMember(h));
        continue;
      }
      ++report_->entries;
      VM_RETURN_IF_ERROR(members->Compare(h));
    }
  }

  // A member of another domain or a server file: into the index comparison only.
  Status HashOtherMember(const EntryHeader& h) {
    VM_RETURN_IF_ERROR(CheckEntryHeader(h));
    FileRecord rec = RecordFromHeader(h);
    if (h.type == EntryType::kFile) {
      if (buffer_.empty()) buffer_.resize(kBuffer);
      VM_RETURN_IF_ERROR(HashEntryData(reader_.get(), h, buffer_.data(), buffer_.size(), &rec));
      rec.rewritten = all_rewritten_.count(h.path) > 0;
    }
    return spool_.Add(rec);
  }

  const VerifyOptions& opt_;
  VerifyReport* report_;
  std::unique_ptr<ArchiveReader> reader_;
  Manifest manifest_;
  size_t domain_index_ = 0;
  std::set<std::string> all_rewritten_;  // full member paths, every domain
  verify::InstalledDomain domain_;
  RecordSpool spool_;
  std::vector<char> buffer_;  // for other domains' members, allocated on the first
};

}  // namespace

Status Verify(const VerifyOptions& options, VerifyReport* report) {
  Verifier verifier(options, report);
  return verifier.Run();
}

}  // namespace vmigrate
