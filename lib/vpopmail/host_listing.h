// vmigrate list: the planning view of a host before a migration. Every
// vpopmail domain of qmail's users/assign (reference §4.4) with its alias
// domains, user count, messages, message bytes, user backend and hash
// bucket. Fast on big hosts: it reads users/assign and each domain's user
// store, and only lists the Maildir directories, never a message.
#ifndef VMIGRATE_VPOPMAIL_HOST_LISTING_H_
#define VMIGRATE_VPOPMAIL_HOST_LISTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"

namespace vmigrate::vpopmail {

/// Messages of one or more Maildirs: the files in cur/ and new/ of the
/// Maildir and of every Maildir++ folder (".Name") in it, as export counts
/// them. tmp/ (deliveries in progress) is not counted.
struct MailCount {
  std::uint64_t messages = 0;
  /// Sum of the message sizes: the ",S=<bytes>" of a Maildir++ file name
  /// (written by vdelivermail, Courier and Dovecot) when present, else the
  /// file's st_size from fstatat(2).
  std::uint64_t bytes = 0;
  /// How many of `messages` had no S= and were sized with fstatat(2).
  std::uint64_t stat_sized = 0;

  void Add(const MailCount& o) {
    messages += o.messages;
    bytes += o.bytes;
    stat_sized += o.stat_sized;
  }
};

/// Counts the Maildir at `maildir_disk` (a path on disk). A missing Maildir,
/// cur/ or new/ counts as empty; a Maildir++ folder that is a symlink is not
/// followed. kIoError for a directory that cannot be read.
Result<MailCount> CountMaildir(const std::string& maildir_disk);

/// One real domain of users/assign.
struct DomainListing {
  std::string domain;                      // as users/assign spells it
  std::vector<std::string> alias_domains;  // assign lines that point at it
  std::string dir;                         // host path of the domain directory
  /// The hash bucket the domain dir lies in below <vpopmail home>/domains
  /// ("0" for domains/0/example.com); "" when it lies directly in domains/
  /// (or elsewhere).
  std::string bucket;
  std::string backend;                     // UserStore::Backend(): "cdb" or "mysql"
  std::string mysql_layout;                // for "mysql": UserStore::Layout(), "many" or "perdomain"
  unsigned long uid = 0, gid = 0;          // from its users/assign line
  std::uint64_t users = 0;
  MailCount mail;
  /// Why the counts are incomplete (unreadable vpasswd, missing domain
  /// directory, unreadable Maildir); "" when they are complete.
  std::string error;
};

/// An alias line of users/assign whose real domain has no line of its own.
struct UnmatchedAlias {
  std::string domain;
  std::string real_domain;
  std::string dir;
};

struct HostListing {
  std::vector<DomainListing> domains;  // users/assign order
  std::vector<UnmatchedAlias> unmatched_aliases;
};

/// Lists the host at `paths` (files under paths.root). Only an unreadable
/// users/assign is an error ("cannot read users/assign: ..."); a domain that
/// cannot be counted is listed with `error` set.
Result<HostListing> ListHost(const HostPaths& paths);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_HOST_LISTING_H_
