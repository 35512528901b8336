// The cutover of a live domain on the OLD host: hold its mail in qmail's
// queue, forward new mail to the new host, release what was held
// (sources-and-cutover §3.1-§3.4; README "Moving a live domain").
//
// Every step keeps a write-ahead record,
// <vpopmail>/domains/.vmigrate-cutover.<domain>, written (temp + fsync +
// rename) before it changes anything, so a step killed at any point is
// completed by running it again and always undone by Release(). Nothing in
// a hold depends on vmigrate running afterwards: the hold is the sticky bit
// on the domain directory (qmail-local's checkhome defers every local part
// of the domain and its alias domains, #4.2.1, before any .qmail is read)
// plus the login lock (vpopmail/login_lock.h); both are on disk and survive
// a qmail restart and a reboot.
#ifndef VMIGRATE_CUTOVER_CUTOVER_H_
#define VMIGRATE_CUTOVER_CUTOVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/status.h"
#include "cutover/qmail_queue.h"

namespace vmigrate::cutover {

enum class Phase {
  kLocal,       // no cutover: mail is delivered here
  kHeld,        // mail stays in qmail's queue, logins blocked
  kForwarding,  // a forward was started and not finished (re-run it or release)
  kForwarded,   // new mail is routed to the new host by smtproutes
};
const char* PhaseName(Phase p);  // "local", "held", "forwarding", "forwarded"

struct StepOptions {
  HostPaths paths;
  bool reload = true;            // signal qmail-send (HUP, ALRM); --no-reload clears it
  int smtp_timeout_seconds = 30; // forward's SMTP check, per reply
};

/// What a step did, for the one-line report and --json.
struct StepResult {
  bool changed = false;               // false: it was already done ("already held")
  Phase phase = Phase::kLocal;        // afterwards
  std::vector<std::string> actions;   // what changed, one short line each
  std::vector<std::string> warnings;
};

/// `cutover hold DOMAIN`: from now on every message for the domain and its
/// alias domains stays in this host's queue (deferred, retried, never
/// bounced) and its logins are blocked. Errors: kNotFound (not a domain
/// here), kInvalidInput naming the real domain for an alias domain,
/// kConflict when the domain is already forwarded or a lock stays held,
/// kIoError.
Result<StepResult> Hold(const StepOptions& options, const std::string& domain);

struct ForwardTarget {
  std::string host;     // name or address, as smtproutes takes it
  std::uint16_t port = 25;
  std::string Text() const;  // "host:port"
};
/// Parses HOST[:PORT] ("[v6addr]:port" too). kInvalidInput when malformed.
Result<ForwardTarget> ParseForwardTarget(const std::string& text);

/// `cutover forward DOMAIN --to HOST[:PORT]` on a held domain: checks over
/// SMTP that HOST accepts a real user of the domain and postmaster@ of the
/// domain and each alias domain (kPeerRefused otherwise, nothing changed);
/// adds "D:HOST[:PORT]" to control/smtproutes and removes "D:D" (and each
/// "A:D") from control/virtualdomains for the domain and its alias domains
/// (rcpthosts and users/assign stay: mail already queued locally still
/// needs them, §1.1, §3.2), HUPs qmail-send; then un-holds, so the held
/// mail lands in the old Maildirs (for the tail delta) or is relayed to
/// HOST (forwards, catch-all), §3.3. Errors: kInvalidInput when the domain
/// is not held; kConflict when it is forwarded elsewhere, or smtproutes
/// already routes it, or a virtualdomains wildcard would catch it; as Hold.
Result<StepResult> Forward(const StepOptions& options, const std::string& domain,
                           const ForwardTarget& to);

/// `cutover release DOMAIN`: undoes a hold and a forward, whatever part of
/// them is there: virtualdomains lines back, our smtproutes lines gone,
/// sticky bit cleared, logins unlocked, qmail-send HUPed and ALRMed so the
/// held mail is delivered here now. Errors as Hold.
Result<StepResult> Release(const StepOptions& options, const std::string& domain);

/// `cutover block-logins` / `open-logins DOMAIN`: the login lock alone (the
/// new host during `move`). Errors as Hold.
Result<StepResult> SetLogins(const StepOptions& options, const std::string& domain, bool block);

struct CutoverStatus {
  std::string domain;
  std::vector<std::string> aliases;
  Phase phase = Phase::kLocal;
  std::int64_t held_since = 0;      // epoch seconds; 0 when not held
  std::int64_t forwarded_at = 0;    // epoch seconds; 0 when not forwarded
  std::string forwarded_to;         // "host:port" or ""
  bool sticky = false;              // the domain directory has the hold bit
  bool logins_blocked = false;
  QueueCount queue;                 // messages queued here for the domain
  bool queue_read = false;          // false when this host has no readable queue
  std::int64_t queuelifetime = 0;   // seconds (control/queuelifetime)
  std::int64_t now = 0;
  std::vector<std::string> warnings;
  std::uint64_t pending() const { return queue.todo + queue.local + queue.remote; }
};

/// `cutover status DOMAIN`: the phase, the queue (read from qmail's queue
/// files, cutover/qmail_queue.h) and warnings: held mail approaching
/// queuelifetime (it bounces then, §2.3), an interrupted step. Errors as
/// Hold, minus kConflict.
Result<CutoverStatus> ReadStatus(const StepOptions& options, const std::string& domain);

}  // namespace vmigrate::cutover

#endif  // VMIGRATE_CUTOVER_CUTOVER_H_
