#include "importer/target_owner.h"

#include <sys/stat.h>

#include <cerrno>

#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate {
namespace {

bool IsRunningSystem(const std::string& root) { return root.empty() || root == "/"; }

// " under ROOT" for lookups in the files of another tree, "" for this host.
std::string Under(const std::string& root) { return IsRunningSystem(root) ? "" : " under " + root; }

bool ParseId(const std::string& text, unsigned long long* id) {
  return ParseUint64(text, id) && *id <= 0xfffffffeULL;
}

}  // namespace

std::string OwnerText(const FileOwner& owner) {
  return std::to_string(owner.uid) + ":" + std::to_string(owner.gid);
}

Result<TargetOwner> ParseOwnerSpec(const std::string& spec, const std::string& root) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("--owner '" + EscapeC(spec) + "': " + why);
  };
  size_t colon = spec.find(':');
  std::string user = spec.substr(0, colon);
  std::string group = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (user.empty() || (colon != std::string::npos && group.empty()) ||
      group.find(':') != std::string::npos)
    return bad("give USER:GROUP or USER (names or numbers, e.g. vpopmail:vchkpw or 89:89)");
  const std::string where = IsRunningSystem(root) ? "on this host" : "in " + NormalizePath(root + "/etc/passwd");
  TargetOwner out;
  out.source = "--owner " + spec;
  bool named = false;
  unsigned long long id = 0;
  std::optional<PasswdEntry> pw;
  if (ParseId(user, &id)) {
    out.owner.uid = static_cast<uid_t>(id);
    if (group.empty()) pw = LookupPasswdByUid(root, out.owner.uid);
  } else {
    pw = LookupPasswd(root, user);
    if (!pw) return bad("no user '" + EscapeC(user) + "' " + where);
    out.owner.uid = pw->uid;
    named = true;
  }
  if (group.empty()) {
    if (!pw) return bad("uid " + user + " has no entry " + where + " to take its group from; give UID:GID");
    out.owner.gid = pw->gid;
  } else if (ParseId(group, &id)) {
    out.owner.gid = static_cast<gid_t>(id);
  } else {
    auto gid = LookupGroup(root, group);
    if (!gid)
      return bad("no group '" + EscapeC(group) + "' " +
                 (IsRunningSystem(root) ? "on this host" : "in " + NormalizePath(root + "/etc/group")));
    out.owner.gid = *gid;
    named = true;
  }
  if (named) out.source += " (" + OwnerText(out.owner) + (IsRunningSystem(root) ? "" : " from the files under " + root) + ")";
  return out;
}

Result<TargetOwner> ResolveTargetOwner(const HostPaths& paths, const std::string& spec,
                                       std::optional<FileOwner> given) {
  TargetOwner out;
  if (!spec.empty()) {
    auto parsed = ParseOwnerSpec(spec, paths.root);
    if (!parsed.ok()) return parsed.status();
    out = *parsed;
  } else if (given) {
    out.owner = *given;
    out.source = "given by the caller";
  } else if (auto pw = LookupPasswd(paths.root, "vpopmail")) {
    out.owner = FileOwner{pw->uid, pw->gid};
    out.source = "etc/passwd user vpopmail" + Under(paths.root);
  } else {
    struct stat st;
    std::string home = paths.OnDisk(paths.vpopmail_home);
    if (stat(home.c_str(), &st) != 0) return FromErrno("cannot stat " + home, errno);
    out.owner = FileOwner{st.st_uid, st.st_gid};
    out.source = "the owner of " + paths.vpopmail_home + ", as no vpopmail user was found" + Under(paths.root);
    out.guessed = true;
  }
  if (out.owner.uid == 0)
    return Status::DataRefused("refusing owner uid 0 (root, taken from " + out.source +
                               "): qmail-lspawn never delivers to root; give --owner vpopmail:vchkpw "
                               "(or the uid:gid vpopmail runs as)");
  return out;
}

}  // namespace vmigrate
