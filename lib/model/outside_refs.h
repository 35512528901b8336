// Host paths in carried files that lead out of the migrated domain: a
// `.qmail-support` alias stored as a path into another domain's mailbox, a
// list or autoresponder config naming another domain's directory, a symlink
// into a user's home that is not in the archive, a Maildir line outside
// vpopmail's home. vmigrate cannot move what such a path names, and
// rewriting it to the new host's vpopmail home would name a path that exists
// on neither host, so mail to it would be deferred until qmail gives up
// (sources-and-cutover.md §2.3). These paths are carried unchanged, recorded
// in the manifest (domains[].outside_refs) and reported by export, import
// and verify so the admin can fix them before cutover.
//
// Which paths matter (reference §3.3, §5.1, §5.3, §6.2, §6.4): the targets of
// delivery lines (a line starting with '/' or '.'), vdelivermail's catch-all
// home, symlink targets, and, in program lines and list/autoresponder config,
// paths into vpopmail's mail tree (an autoresponder's message and state dir,
// an ezmlm list dir). Not reported: the program itself (`|/usr/bin/ezmlm-send`,
// `| /home/vpopmail/bin/vdelivermail`) and program arguments outside
// vpopmail's home (`/etc/mailfilter` for maildrop): they belong to the
// programs installed on the new host, like the programs themselves, and
// listing them for every user would bury the references that lose mail.
//
// Pure string functions; the caller supplies the one disk check (exists).
#ifndef VMIGRATE_MODEL_OUTSIDE_REFS_H_
#define VMIGRATE_MODEL_OUTSIDE_REFS_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/manifest.h"

namespace vmigrate {

/// A path found in a carried file, before it is classified.
struct FoundPath {
  unsigned line = 0;      // 1-based line of the file; 0 for a symlink target
  std::string path;       // exactly as written
  bool delivery = false;  // where mail is put (delivery line, catch-all home, symlink),
                          // not a path handed to a program or a config value
};

/// True for the names qmail-local and vdelivermail read as delivery
/// instructions: ".qmail" and ".qmail-*" (not ".qmailadmin-limits").
bool IsDotQmailName(const std::string& base_name);

/// The paths of a dot-qmail text, following qmail-local's line rules
/// (dot-qmail(5); reference §5.1): '#' lines are comments, trailing spaces
/// and tabs are dropped, a line starting with '/' or '.' is a delivery
/// target (Maildir or mbox), a '|' line a program whose words starting with
/// '/' (shell quotes removed) are paths given to it, except the program
/// itself; vdelivermail's `/path` instruction (§3.3) counts as a delivery
/// target. Anything else is an address and holds no path.
std::vector<FoundPath> DotQmailPaths(const std::string& text);

/// Every absolute path in any other small text (ezmlm config, autoresponder
/// files): a '/' not preceded by '/' or a name character, up to the next
/// space, quote or shell separator. None is a delivery target.
std::vector<FoundPath> ConfigPaths(const std::string& text);

/// The source host as far as classification needs it. Host paths, no
/// trailing '/'.
struct RefScope {
  std::string vpopmail_home;
  std::string qmail_dir;
  std::string domain_dir;                     // the migrated domain
  std::set<std::string> user_dirs;            // homes of its users the archive carries
  std::map<std::string, std::string> other_domains;  // dir -> name: every other real domain
  std::set<std::string> archive_domains;      // names of the other domains this archive carries
  /// Whether a host path exists on the source (under --root). Used for
  /// paths inside the domain dir but in no archived home: what does not
  /// exist there cannot be in the archive.
  std::function<bool(const std::string&)> exists;
};

/// Where `found` leads, for the file at host path `file_dir` (the directory
/// relative paths start from: the domain dir for its .qmail files, the home
/// for a user's, the link's directory for a symlink). Fills `ref->reason`
/// (and `ref->domain`) and returns true when the path leaves the domain;
/// false when it stays inside (the domain, an archived home) or belongs to
/// the installed programs (vpopmail's bin/etc, qmail's dir, a program
/// argument outside vpopmail's home). A relative path in a config file is
/// never classified.
bool ClassifyPath(const RefScope& scope, const FoundPath& found, const std::string& file_dir,
                  OutsideRef* ref);

/// `path` with "//", "." and ".." resolved lexically and no trailing '/';
/// relative paths are taken from `base` first.
std::string LexicalPath(const std::string& base, const std::string& path);

/// A reference as a command reports it.
struct ReportedRef {
  std::string domain;  // the domain whose file holds it
  OutsideRef ref;
  std::string note;    // what the command adds ("" if nothing), e.g. whether it exists on this host
};

/// DescribeOutsideRef(r.domain, r.ref), then "; " and the note if there is one.
std::string DescribeReportedRef(const ReportedRef& r);

/// One report line for `ref` of `domain`, without a prefix:
/// "example.com: .qmail-support line 1: '/old/.../example.net/tom/Maildir/'
/// leads into domain example.net, which is not in the archive; carried unchanged".
std::string DescribeOutsideRef(const std::string& domain, const OutsideRef& ref);

/// The member's name as reports show it: "files/.qmail-x" -> ".qmail-x",
/// "users/bob/.qmail" -> "user bob: .qmail".
std::string OutsideRefWhere(const OutsideRef& ref);

}  // namespace vmigrate

#endif  // VMIGRATE_MODEL_OUTSIDE_REFS_H_
