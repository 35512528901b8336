// vmigrate rehash: replaces one account's weak (DES, MD5-crypt) password
// hash with SHA-512 crypt, given the password on a file descriptor. Run by
// vmigrate-checkpassword --rehash after vchkpw accepted a login
// (vpopmail/rehash.h; sources-and-cutover.md §8.4).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "core/errno_status.h"
#include "core/json.h"
#include "core/strings.h"
#include "tools/vmigrate/commands.h"
#include "vpopmail/rehash.h"

namespace vmigrate::cli {
namespace {

struct Flags {
  PathFlags paths;
  std::string user;
  std::string password_fd;  // a number; text so that --help shows no default
  size_t vpasswd_line_max = vpopmail::kVpasswdLineMax54;
  bool json = false;
};

}  // namespace

Handler AddRehash(CLI::App* app) {
  auto f = std::make_shared<Flags>();
  app->add_option("--user", f->user, "the account, USER@DOMAIN (an alias domain names its real domain)")
      ->required()
      ->type_name("USER@DOMAIN");
  app->add_option("--password-fd", f->password_fd,
                  "read the password from file descriptor N (its first line; never give it on the command line)")
      ->required()
      ->type_name("N");
  app->add_option("--vpasswd-line-max", f->vpasswd_line_max,
                  "the longest vpasswd line this host's vpopmail reads (254 for 5.4, 298 for 5.6): an account "
                  "whose line would be longer with the SHA-512 hash keeps its hash")
      ->capture_default_str();
  app->add_flag("--json", f->json, "print the result as one JSON object");
  f->paths.Add(app);
  return [f]() -> int {
    if (f->json) JsonErrors(true);
    unsigned long long fd = 0;
    if (!ParseUint64(f->password_fd, &fd) || fd > 1000000)
      return Usage("rehash", "--password-fd '" + f->password_fd + "': not a file descriptor number");
    auto password = ReadPasswordFd(static_cast<int>(fd));
    if (password.ok() && password->empty())
      password = Status::InvalidInput("--password-fd " + f->password_fd + ": the password is empty");
    if (!password.ok()) return Fail("rehash", password.status(), f->user);
    auto paths = f->paths.Resolve();
    if (!paths.ok()) return Fail("rehash", paths.status());
    vpopmail::RehashLimits limits;
    limits.vpasswd_line_max = f->vpasswd_line_max;
    auto r = vpopmail::RehashUser(*paths, f->user, *password, limits);
    if (!r.ok()) return Fail("rehash", WithObject(r.status(), f->user), f->user);
    switch (r->outcome) {
      case vpopmail::RehashOutcome::kNoSuchUser:
        return Fail("rehash", Status::NotFound(r->address + ": no such account"), r->address);
      case vpopmail::RehashOutcome::kPasswordMismatch:
        // Exit 1, as a checkpassword program answers a wrong password.
        return Fail("rehash", Status::IoError(r->address + ": the password does not match the stored hash; nothing changed"),
                    r->address);
      case vpopmail::RehashOutcome::kRehashed:
      case vpopmail::RehashOutcome::kNotWeak:
        break;
    }
    const bool rehashed = r->outcome == vpopmail::RehashOutcome::kRehashed;
    if (f->json) {
      JsonWriter j;
      j.BeginRecord("rehash").Key("status").String("ok").Key("user").String(r->address);
      j.Key("result").String(vpopmail::RehashOutcomeName(r->outcome)).Key("weak_hash").String(r->old_scheme);
      j.Key("backend").String(r->backend).EndObject();
      std::printf("%s\n", j.str().c_str());
    } else if (!Quiet()) {
      if (rehashed)
        std::printf("%s: re-hashed (%s-crypt -> SHA-512 crypt, %s)\n", r->address.c_str(),
                    r->old_scheme == "des" ? "DES" : "MD5", r->backend.c_str());
      else
        std::printf("%s: the stored hash is not DES or MD5-crypt; unchanged\n", r->address.c_str());
    }
    return 0;
  };
}

}  // namespace vmigrate::cli
