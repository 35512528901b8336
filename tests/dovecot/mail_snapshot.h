// What a real Dovecot serves for a vpopmail tree: for every user of the
// fixture MANIFEST, the POP3 UIDL list and message bytes, and for every IMAP
// folder its UIDVALIDITY, FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) and
// message bytes. Two snapshots (source tree, imported tree) are compared line
// by line.
#ifndef VMIGRATE_TESTS_DOVECOT_MAIL_SNAPSHOT_H_
#define VMIGRATE_TESTS_DOVECOT_MAIL_SNAPSHOT_H_

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "dovecot/dovecot_server.h"
#include "dovecot/mail_client.h"
#include "support/test_support.h"

namespace vmigrate::testing::dovecot {

namespace fs = std::filesystem;

/// One account of a fixture MANIFEST "## users" section.
struct ManifestUser {
  std::string email;
  std::string domain;
  std::string password;
};

inline std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

/// Every user of `manifest_text` (email, dir, bucket, password, ...).
inline std::vector<ManifestUser> ParseManifestUsers(const std::string& manifest_text) {
  std::vector<ManifestUser> users;
  std::istringstream in(manifest_text);
  std::string line;
  bool in_users = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      in_users = line.rfind("## users", 0) == 0;
      continue;
    }
    if (!in_users || line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = SplitTabs(line);
    if (f.size() < 4) continue;
    ManifestUser u;
    u.email = f[0];
    u.domain = f[0].substr(f[0].find('@') + 1);
    u.password = f[3];
    users.push_back(u);
  }
  return users;
}

/// The domain dir (a host path) of `domain` from a qmail users/assign file.
inline std::string AssignDomainDir(const std::string& assign_text, const std::string& domain) {
  std::istringstream in(assign_text);
  std::string line;
  const std::string prefix = "+" + domain + "-:";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    // +dom-:realdom:uid:gid:dir:-::
    std::vector<std::string> f;
    std::string field;
    std::istringstream fl(line);
    while (std::getline(fl, field, ':')) f.push_back(field);
    if (f.size() >= 5) return f[4];
  }
  return "";
}

/// name -> {crypt, dir} from a vpasswd file (name:crypt:uid:gid:gecos:dir:quota[:clear]).
struct VpasswdLogin {
  std::string crypt;
  std::string dir;
};
inline std::map<std::string, VpasswdLogin> ReadVpasswdLogins(const std::string& text) {
  std::map<std::string, VpasswdLogin> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    size_t start = 0;
    for (int i = 0; i < 7; ++i) {
      size_t colon = line.find(':', start);
      f.push_back(line.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (f.size() < 6 || f[0].empty()) continue;
    out[f[0]] = VpasswdLogin{f[1], f[5]};
  }
  return out;
}

/// user -> the lines that describe what the server served to that user.
using MailSnapshot = std::map<std::string, std::vector<std::string>>;

/// Every difference between two snapshots, one readable line each.
inline std::vector<std::string> CompareSnapshots(const MailSnapshot& source, const MailSnapshot& target) {
  std::vector<std::string> diffs;
  for (const auto& [user, a] : source) {
    auto it = target.find(user);
    if (it == target.end()) {
      diffs.push_back(user + ": not served by the target at all");
      continue;
    }
    const auto& b = it->second;
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      std::string la = i < a.size() ? a[i] : "(nothing)";
      std::string lb = i < b.size() ? b[i] : "(nothing)";
      if (la != lb) diffs.push_back(user + ": source [" + la + "] target [" + lb + "]");
    }
  }
  for (const auto& [user, lines] : target)
    if (!source.count(user)) diffs.push_back(user + ": served by the target only");
  return diffs;
}

inline std::string Join(const std::vector<std::string>& lines, size_t max = 200) {
  std::string out;
  for (size_t i = 0; i < lines.size() && i < max; ++i) out += lines[i] + "\n";
  if (lines.size() > max) out += "... and " + std::to_string(lines.size() - max) + " more\n";
  return out;
}

inline std::string BodyLine(const std::string& what, const std::string& body) {
  return what + " bytes=" + std::to_string(body.size()) + " sha256=" + Sha256::Of(body);
}

/// POP3: login, UIDL (content and order), RETR of every message.
inline void SnapshotPop3(int port, const ManifestUser& u, std::vector<std::string>* out) {
  try {
    Pop3Client pop(port);
    pop.Login(u.email, u.password);
    std::vector<std::string> uidl = pop.Uidl();
    for (const auto& l : uidl) out->push_back("pop3 uidl " + l);
    for (size_t i = 1; i <= uidl.size(); ++i)
      out->push_back(BodyLine("pop3 retr " + std::to_string(i), pop.Retr(static_cast<int>(i))));
    pop.Quit();
  } catch (const MailClientError& e) {
    out->push_back(std::string("pop3 ERROR ") + e.what());
  }
}

inline std::string WithoutRecent(std::string s) {
  // \Recent is session state (who opened the mailbox first), not mail state.
  for (const char* r : {" \\Recent", "\\Recent "}) {
    size_t p;
    while ((p = s.find(r)) != std::string::npos) s.erase(p, std::string(r).size());
  }
  size_t p = s.find("(\\Recent)");
  if (p != std::string::npos) s.replace(p, 9, "()");
  return s;
}

inline long NumberAfter(const std::string& text, const std::string& key) {
  size_t p = text.find(key);
  if (p == std::string::npos) return -1;
  return std::strtol(text.c_str() + p + key.size(), nullptr, 10);
}

/// IMAP: login, LIST, then per folder (sorted by name) EXAMINE (read-only
/// SELECT: same UIDVALIDITY, nothing moved), FETCH 1:* (UID FLAGS
/// RFC822.SIZE INTERNALDATE) and BODY.PEEK[] of every message.
inline void SnapshotImap(int port, const ManifestUser& u, std::vector<std::string>* out) {
  try {
    ImapClient imap(port);
    imap.Login(u.email, u.password);
    std::vector<std::string> folders = imap.List();
    std::sort(folders.begin(), folders.end());
    std::string names;
    for (const auto& f : folders) names += " " + f;
    out->push_back("imap folders:" + names);
    for (const auto& folder : folders) {
      long exists = -1, uidvalidity = -1, uidnext = -1;
      std::vector<ImapResponse> examined;
      try {
        examined = imap.Command("EXAMINE " + ImapClient::Quote(folder));
      } catch (const MailClientError&) {
        // A LISTed name that holds no mail: an mbox server's directory
        // ("Archive" of "Archive/2023", \Noselect) or the parent Maildir++
        // implies. Either way clients find no mailbox there.
        out->push_back("imap " + folder + " no mailbox");
        continue;
      }
      for (const auto& r : examined) {
        if (r.text.size() > 9 && r.text.compare(r.text.size() - 7, 7, " EXISTS") == 0)
          exists = std::strtol(r.text.c_str() + 2, nullptr, 10);
        if (r.text.find("[UIDVALIDITY ") != std::string::npos) uidvalidity = NumberAfter(r.text, "[UIDVALIDITY ");
        if (r.text.find("[UIDNEXT ") != std::string::npos) uidnext = NumberAfter(r.text, "[UIDNEXT ");
      }
      out->push_back("imap " + folder + " UIDVALIDITY " + std::to_string(uidvalidity) + " EXISTS " +
                     std::to_string(exists) + " UIDNEXT " + std::to_string(uidnext));
      if (exists <= 0) continue;
      for (const auto& r : imap.Command("FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"))
        if (r.text.find(" FETCH ") != std::string::npos) out->push_back("imap " + folder + " " + WithoutRecent(r.text));
      for (const auto& r : imap.Command("FETCH 1:* (UID BODY.PEEK[])")) {
        if (r.text.find(" FETCH ") == std::string::npos) continue;
        std::string body = r.literals.empty() ? "" : r.literals.front();
        out->push_back(BodyLine("imap " + folder + " body UID " + std::to_string(NumberAfter(r.text, "UID ")), body));
      }
    }
    imap.Logout();
  } catch (const MailClientError& e) {
    out->push_back(std::string("imap ERROR ") + e.what());
  }
}

/// A fixed first UIDVALIDITY for mailboxes that have no dovecot-uidlist yet
/// (written the same way into source and target before serving them).
/// Without it Dovecot takes the current time, which differs between runs.
constexpr const char* kSeedUidValidity = "50000000";

/// Makes the domain dirs below `root` readable to Dovecot's mail processes
/// and seeds each Maildir's dovecot-uidvalidity counter (see above).
inline void PrepareTree(const std::string& root, const std::vector<std::string>& domain_disks,
                        const std::vector<std::string>& maildirs, const DovecotIdentity& id) {
  for (const auto& m : maildirs) {
    if (!fs::is_directory(m) || fs::exists(m + "/dovecot-uidvalidity")) continue;
    WriteFile(m + "/dovecot-uidvalidity", kSeedUidValidity);
    WriteFile(m + "/dovecot-uidvalidity." + std::string(kSeedUidValidity), "");
  }
  if (!id.as_root) return;
  for (const auto& d : domain_disks) {
    if (lchown(d.c_str(), id.mail_uid, id.mail_gid) != 0) continue;
    for (auto it = fs::recursive_directory_iterator(d); it != fs::recursive_directory_iterator(); ++it)
      (void)!lchown(it->path().c_str(), id.mail_uid, id.mail_gid);
    // Search permission on every dir from the domain's parent up to root.
    for (fs::path p = fs::path(d).parent_path(); p.string().size() >= root.size(); p = p.parent_path()) {
      struct stat st;
      if (stat(p.c_str(), &st) == 0) chmod(p.c_str(), (st.st_mode & 07777) | 0111);
      if (p == p.parent_path()) break;
    }
  }
}

/// Makes `work` (an empty dir for Dovecot's own files) and lets Dovecot's
/// unprivileged processes read the config and passdb files in it.
inline void MakeWorkDir(const std::string& work) {
  fs::create_directories(work);
  chmod(work.c_str(), 0755);
  struct stat parent_st;
  std::string parent = fs::path(work).parent_path().string();
  if (stat(parent.c_str(), &parent_st) == 0) chmod(parent.c_str(), (parent_st.st_mode & 07777) | 0111);
}

/// Called while the server runs, after the snapshot is taken (extra checks
/// such as "this user must not log in").
using WhileServing = std::function<void(const DovecotServer&)>;

/// Serves the vpopmail tree under `root` with a fresh Dovecot whose passdb
/// and userdb are `auth` (dovecot.conf blocks) and returns what every user in
/// `users` sees. `domain_disks` and `maildirs` are on-disk paths: they are
/// made readable to Dovecot and seeded (PrepareTree). `work` is an empty dir
/// for Dovecot's own files (MakeWorkDir).
inline void ServeUsers(const std::string& root, const std::string& auth, const std::vector<std::string>& domain_disks,
                       const std::vector<std::string>& maildirs, const std::vector<ManifestUser>& users,
                       const std::string& work, MailSnapshot* snapshot, const WhileServing& while_serving = {}) {
  DovecotIdentity id = PickIdentity();
  PrepareTree(root, domain_disks, maildirs, id);

  // The free ports are picked before Dovecot binds them; if another process
  // took one meanwhile, try again with new ones.
  std::unique_ptr<DovecotServer> started;
  std::string error;
  for (int attempt = 1; attempt <= 3 && !started; ++attempt) {
    auto candidate = std::make_unique<DovecotServer>(work + "/server" + std::to_string(attempt), auth, id);
    if (candidate->Start(&error)) started = std::move(candidate);
  }
  ASSERT_TRUE(started) << "Dovecot did not start:\n" << error;
  DovecotServer& server = *started;

  // A few users at a time; every user's state lives in its own Maildir.
  std::vector<std::vector<std::string>> lines(users.size());
  std::atomic<size_t> next{0};
  std::atomic<int> failed_users{0};
  auto worker = [&]() {
    for (size_t i = next++; i < users.size(); i = next++) {
      if (failed_users >= 10) {
        // Something is broken for everyone; do not wait out every timeout.
        lines[i].push_back("not tried: " + std::to_string(failed_users.load()) +
                           " users failed already (see the server log)");
        continue;
      }
      // IMAP first: EXAMINE changes nothing, while a POP3 session that ends
      // with QUIT marks every RETRieved message \Seen and moves new/ to cur/,
      // which would hide flag differences from the FETCH FLAGS comparison.
      SnapshotImap(server.imap_port(), users[i], &lines[i]);
      SnapshotPop3(server.pop3_port(), users[i], &lines[i]);
      for (const auto& l : lines[i])
        if (l.find(" ERROR ") != std::string::npos) {
          ++failed_users;
          break;
        }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (while_serving) while_serving(server);
  server.Stop();
  if (failed_users > 0) ADD_FAILURE() << failed_users << " users could not be served by Dovecot at "
                                      << root << "\n" << server.LogProblems().substr(0, 20000);
  std::string dump;
  for (size_t i = 0; i < users.size(); ++i) {
    (*snapshot)[users[i].email] = lines[i];
    for (const auto& l : lines[i]) dump += users[i].email + " " + l + "\n";
  }
  WriteFile(work + "/snapshot.txt", dump);  // kept with the test dir on failure
}

/// Serves the vpopmail tree under `root` (whose qmail dir is `qmail_host`,
/// a host path) with a fresh Dovecot reading a passwd-file made from each
/// domain's vpasswd, and returns what every user in `users` sees. `work` is
/// an empty dir for Dovecot's own files.
inline void ServeAndSnapshot(const std::string& root, const std::string& qmail_host,
                             const std::vector<ManifestUser>& users, const std::string& work,
                             MailSnapshot* snapshot) {
  DovecotIdentity id = PickIdentity();
  MakeWorkDir(work);
  std::string assign = ReadFile(root + qmail_host + "/users/assign");
  std::set<std::string> domains;
  for (const auto& u : users) domains.insert(u.domain);
  std::vector<std::string> domain_disks, maildirs;
  std::ostringstream passwd;
  for (const auto& domain : domains) {
    std::string dir = AssignDomainDir(assign, domain);
    ASSERT_FALSE(dir.empty()) << domain << " is not in " << root + qmail_host << "/users/assign";
    domain_disks.push_back(root + dir);
    auto logins = ReadVpasswdLogins(ReadFile(root + dir + "/vpasswd"));
    ASSERT_FALSE(logins.empty()) << "no vpasswd entries in " << root + dir;
    for (const auto& [name, login] : logins) {
      // vpasswd holds host paths; on disk the tree sits under root.
      std::string home = root + login.dir;
      maildirs.push_back(home + "/Maildir");
      passwd << name << "@" << domain << ":{CRYPT}" << login.crypt << ":" << id.mail_uid << ":"
             << id.mail_gid << "::" << home << "::\n";
    }
  }
  std::string passwd_file = work + "/passwd";
  WriteFile(passwd_file, passwd.str());
  chmod(passwd_file.c_str(), 0644);
  ServeUsers(root, DovecotServer::PasswdFileAuth(passwd_file), domain_disks, maildirs, users, work, snapshot);
}

}  // namespace vmigrate::testing::dovecot

#endif  // VMIGRATE_TESTS_DOVECOT_MAIL_SNAPSHOT_H_
