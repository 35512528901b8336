// The delivery side of "references that leave the domain" (issue 12, kind
// 4; model/outside_refs.h) in `vmigrate verify`. Mail for an alias whose
// Maildir does not exist on this host is deferred until qmail gives up, so
// verify reads the installed .qmail files themselves: this works for
// archives of any vmigrate version (no manifest field needed) and on both
// hosts (on the old host right after export every target exists). It also
// reports the references the exporter recorded, so that the admin sees
// them again on the new host.
#ifndef VMIGRATE_VERIFY_DELIVERY_CHECK_H_
#define VMIGRATE_VERIFY_DELIVERY_CHECK_H_

#include "verify/installed_domain.h"
#include "verify/verifier.h"

namespace vmigrate::verify {

/// Reads every regular ".qmail" / ".qmail-*" file (IsDotQmailName) at the
/// top of the installed domain dir and of each installed home, and adds a
/// difference (path: the file, relative to the domain dir or the home) for
/// every delivery target (DotQmailPaths: a '/' or '.' line, taken from the
/// file's directory when relative, or vdelivermail's catch-all home) that
/// does not exist on this host: a Maildir line's directory, an mbox line's
/// parent directory (qmail-local creates the file), the catch-all home.
/// Symlinked .qmail files (ezmlm lists) and paths handed to programs are
/// left alone; an unreadable file is left to the member comparison.
void CheckDeliveryTargets(const InstalledDomain& domain, VerifyReport* report);

/// Adds to report->outside_refs each reference the manifest records for the
/// domain, except paths into another domain of the same archive (those were
/// rewritten), with a note saying whether the path exists on this host.
void NoteOutsideRefs(const InstalledDomain& domain, VerifyReport* report);

}  // namespace vmigrate::verify

#endif  // VMIGRATE_VERIFY_DELIVERY_CHECK_H_
