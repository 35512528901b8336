// import --rehash-weak: once the archive is imported, the DES and MD5-crypt
// hashes of the imported accounts that carry a cleartext copy (vpasswd's
// 8th field, pw_clear_passwd) are replaced with SHA-512 crypt, as the login
// hook does at login (vpopmail/rehash.h, sources-and-cutover.md §8.4).
// Accounts without a usable cleartext are reported for the login hook.
#ifndef VMIGRATE_IMPORTER_REHASH_WEAK_H_
#define VMIGRATE_IMPORTER_REHASH_WEAK_H_

#include "importer/importer.h"

namespace vmigrate {

/// For every domain `report` lists as imported (a merged batch: only the
/// users it added), re-hashes with vpopmail::RehashWeakUsers and fills
/// report->rehashed_users and report->rehash_left. A domain that cannot be
/// re-hashed (e.g. a MySQL pw_passwd too narrow) adds a warning naming it
/// and keeps its hashes as imported: the import itself stands.
void RehashWeakImported(const ImportOptions& options, ImportReport* report);

}  // namespace vmigrate

#endif  // VMIGRATE_IMPORTER_REHASH_WEAK_H_
