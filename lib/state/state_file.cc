#include "state/state_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>

#include "core/errno_status.h"
#include "core/strings.h"

namespace vmigrate {
namespace {

std::string Field(const std::string& s) { return "\t" + EscapeC(s); }

bool ParseInt(const std::string& s, std::int64_t* out) {
  unsigned long long v = 0;
  if (!ParseUint64(s, &v) || v > static_cast<unsigned long long>(INT64_MAX)) return false;
  *out = static_cast<std::int64_t>(v);
  return true;
}

// "<sec>.<nsec>" with nine digits of nanoseconds.
std::string MtimeText(std::int64_t sec, long nsec) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%" PRId64 ".%09ld", sec, nsec);
  return buf;
}

bool ParseMtime(const std::string& s, std::int64_t* sec, long* nsec) {
  size_t dot = s.find('.');
  if (dot == std::string::npos || s.size() - dot - 1 != 9) return false;
  std::int64_t ns = 0;
  if (!ParseInt(s.substr(0, dot), sec) || !ParseInt(s.substr(dot + 1), &ns)) return false;
  *nsec = static_cast<long>(ns);
  return true;
}

std::vector<std::string> Fields(const std::string& line, bool* ok) {
  std::vector<std::string> raw = Split(line, '\t');
  std::vector<std::string> out(raw.size());
  *ok = true;
  for (size_t i = 0; i < raw.size(); ++i) *ok = *ok && UnescapeC(raw[i], &out[i]);
  return out;
}

std::string DomainDigest(const std::string& name, std::vector<std::string> aliases,
                         const std::map<std::string, std::string>& sections) {
  std::sort(aliases.begin(), aliases.end());
  Sha256 sha;
  std::string head = "domain" + Field(name) + "\n";
  for (const auto& a : aliases) head += "alias" + Field(a) + "\n";
  sha.Update(head.data(), head.size());
  for (const auto& [key, digest] : sections) {
    std::string line = EscapeC(key) + "\t" + digest + "\n";
    sha.Update(line.data(), line.size());
  }
  return sha.HexDigest();
}

}  // namespace

std::string StateEntry::Line() const {
  char mode_text[16];
  std::snprintf(mode_text, sizeof mode_text, "%04o", static_cast<unsigned>(mode & 07777));
  std::string line = std::string(1, type) + Field(path) + "\t" + mode_text + "\t" +
                     MtimeText(mtime_sec, mtime_nsec);
  if (type == 'd') return line;
  return line + "\t" + std::to_string(size) + "\t" + (sha256.empty() ? "-" : sha256);
}

Result<StateEntry> StateEntry::Parse(const std::string& line) {
  bool ok = false;
  std::vector<std::string> f = Fields(line, &ok);
  StateEntry e;
  auto bad = [&](const char* what) {
    return Status::Corrupt(std::string(what) + " in record '" + EscapeC(line.substr(0, 200)) + "'");
  };
  if (!ok || f.empty() || f[0].size() != 1) return bad("bad field");
  e.type = f[0][0];
  const size_t want = e.type == 'd' ? 4 : 6;
  if ((e.type != 'd' && e.type != 'f' && e.type != 'l') || f.size() != want) return bad("bad type or field count");
  e.path = f[1];
  if (e.path.empty() || e.path.find('\0') != std::string::npos) return bad("empty path");
  char* end = nullptr;
  unsigned long mode = std::strtoul(f[2].c_str(), &end, 8);
  if (f[2].empty() || *end != '\0' || mode > 07777) return bad("bad mode");
  e.mode = static_cast<mode_t>(mode);
  if (!ParseMtime(f[3], &e.mtime_sec, &e.mtime_nsec)) return bad("bad mtime");
  if (e.type == 'd') return e;
  if (!ParseInt(f[4], &e.size)) return bad("bad size");
  if (f[5] != "-") {
    if (f[5].size() != 64 || f[5].find_first_not_of("0123456789abcdef") != std::string::npos)
      return bad("bad sha256");
    e.sha256 = f[5];
  }
  return e;
}

bool StateEntry::operator==(const StateEntry& o) const {
  return type == o.type && path == o.path && mode == o.mode && mtime_sec == o.mtime_sec &&
         mtime_nsec == o.mtime_nsec && size == o.size && sha256 == o.sha256;
}

bool IsStateMessage(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return false;
  size_t start = path.rfind('/', slash - 1);
  start = start == std::string::npos ? 0 : start + 1;
  std::string_view dir(path.data() + start, slash - start);
  return dir == "cur" || dir == "new";
}

std::string MaildirUniqueName(const std::string& file_name) {
  return file_name.substr(0, file_name.find(':'));
}

std::string StateUserLine(const VpasswdEntry& e) {
  return "user" + Field(e.name) + Field(e.passwd) + Field(e.uid) + Field(e.gid) + Field(e.gecos) +
         Field(e.quota) + (e.has_clear ? Field(e.clear) : std::string("\t-"));
}

StateOutput::~StateOutput() {
  if (file_ && out_) std::fclose(out_);
}

Status StateOutput::Open(const std::string& path, bool overwrite) {
  path_ = path;
  if (path == "-") {
    out_ = stdout;
    return Status::OK();
  }
  if (path.empty()) return Status::OK();
  struct stat st;
  if (!overwrite && lstat(path.c_str(), &st) == 0)
    return Status::Conflict(path + " already exists (--force replaces it)");
  RemoveStaleTempFiles(path);
  file_ = std::make_unique<AtomicFile>(path, 0600);
  file_->set_replace_existing(overwrite);
  VM_RETURN_IF_ERROR(file_->Open());
  int fd = dup(file_->fd());
  if (fd < 0 || !(out_ = fdopen(fd, "w"))) {
    if (fd >= 0) close(fd);
    return FromErrno("cannot write " + path, errno);
  }
  return Status::OK();
}

Status StateOutput::Commit() {
  if (!file_) {
    if (out_ && std::fflush(out_) != 0) return FromErrno("cannot write the state", errno);
    return Status::OK();
  }
  FILE* out = out_;
  out_ = nullptr;
  if (std::fclose(out) != 0) return FromErrno("cannot write " + path_, errno);
  return file_->Commit();
}

std::string ContentDigest(const std::map<std::string, std::string>& digests) {
  Sha256 sha;
  for (const auto& [name, digest] : digests) {
    std::string line = EscapeC(name) + "\t" + digest + "\n";
    sha.Update(line.data(), line.size());
  }
  return sha.HexDigest();
}

std::string ShownDigest(const std::string& domain, const std::string& domain_digest) {
  if (domain_digest.empty()) return "(none)";
  return ContentDigest({{domain, domain_digest}});
}

// StateWriter -------------------------------------------------------------

StateWriter::StateWriter(FILE* out) : out_(out) {}

void StateWriter::Put(const std::string& line) {
  if (!out_ || failed_) return;
  if (std::fwrite(line.data(), 1, line.size(), out_) != line.size() || std::fputc('\n', out_) == EOF)
    failed_ = true;
}

void StateWriter::Header(const std::string& created, const std::string& host,
                         const std::string& vpopmail_home, const std::string& qmail_dir) {
  Put(kStateMagic);
  Put("created" + Field(created));
  Put("host" + Field(host));
  Put("vpopmail_home" + Field(vpopmail_home));
  Put("qmail_dir" + Field(qmail_dir));
}

void StateWriter::BeginDomain(const std::string& name, std::vector<std::string> aliases) {
  std::sort(aliases.begin(), aliases.end());
  domain_ = name;
  aliases_ = aliases;
  sections_.clear();
  Put("domain" + Field(name));
  for (const auto& a : aliases_) Put("alias" + Field(a));
}

std::string StateWriter::Section(const std::string& key, const std::string& user_line,
                                 std::vector<StateEntry>* entries) {
  std::sort(entries->begin(), entries->end(),
            [](const StateEntry& a, const StateEntry& b) { return a.path < b.path; });
  if (StartsWith(key, kUserSectionPrefix))
    Put("section\tuser" + Field(key.substr(std::strlen(kUserSectionPrefix))));
  else
    Put("section" + Field(key));
  Sha256 sha;
  auto add = [&](const std::string& line) {
    Put(line);
    sha.Update(line.data(), line.size());
    sha.Update("\n", 1);
  };
  if (!user_line.empty()) add(user_line);
  for (const StateEntry& e : *entries) add(e.Line());
  std::string digest = sha.HexDigest();
  sections_[key] = digest;
  return digest;
}

std::string StateWriter::EndDomain() {
  std::string digest = DomainDigest(domain_, aliases_, sections_);
  Put("end-domain" + Field(domain_) + "\t" + digest);
  domain_digests_[domain_] = digest;
  return digest;
}

Status StateWriter::Finish() {
  content_digest_ = ContentDigest(domain_digests_);
  Put("digest\t" + content_digest_);
  if (out_ && std::fflush(out_) != 0) failed_ = true;
  if (failed_) return FromErrno("cannot write the state file", errno ? errno : EIO);
  return Status::OK();
}

// StateFile ---------------------------------------------------------------

StateFile::~StateFile() {
  if (file_) std::fclose(file_);
}

Result<std::unique_ptr<StateFile>> StateFile::Open(const std::string& path) {
  std::unique_ptr<StateFile> sf(new StateFile);
  sf->path_ = path;
  if (path == "-") {
    // Sections are read back by offset: a pipe is copied first.
    sf->file_ = std::tmpfile();
    if (!sf->file_) return FromErrno("cannot create a temporary file for the state", errno);
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0)
      if (std::fwrite(buf, 1, n, sf->file_) != n) return FromErrno("cannot spool the state", errno);
    if (std::ferror(stdin)) return FromErrno("cannot read the state from stdin", errno);
    std::rewind(sf->file_);
  } else {
    sf->file_ = std::fopen(path.c_str(), "rbe");
    if (!sf->file_) {
      if (errno == ENOENT) return Status::NotFound(path + ": no such state file");
      return FromErrno("cannot open state file " + path, errno);
    }
  }
  VM_RETURN_IF_ERROR(sf->Index().WithContext(path));
  return sf;
}

Status StateFile::Index() {
  char* buf = nullptr;
  size_t cap = 0;
  std::uint64_t number = 0;
  StateDomain* domain = nullptr;
  std::map<std::string, std::string> sections;  // current domain: key -> recomputed digest
  std::string key;
  Sha256 sha;
  bool in_section = false;
  bool done = false;
  std::map<std::string, std::string> digests;
  Status status;
  auto close_section = [&]() {
    if (in_section) sections[key] = sha.HexDigest();
    in_section = false;
  };
  for (;;) {
    ssize_t n = getline(&buf, &cap, file_);
    if (n < 0) break;
    ++number;
    std::string line(buf, static_cast<size_t>(n));
    if (line.empty() || line.back() != '\n') {
      status = Status::Corrupt("line " + std::to_string(number) + ": cut short (no newline)");
      break;
    }
    line.pop_back();
    auto bad = [&](const std::string& what) {
      return Status::Corrupt("line " + std::to_string(number) + ": " + what);
    };
    if (number == 1) {
      if (StartsWith(line, "vmigrate-state ") && line != kStateMagic) {
        status = Status::Unsupported("state format '" + EscapeC(line) + "' is newer than this vmigrate reads ('" +
                                     kStateMagic + "')");
        break;
      }
      if (line != kStateMagic) {
        status = Status::Corrupt("not a vmigrate state file (first line is not '" + std::string(kStateMagic) + "')");
        break;
      }
      continue;
    }
    if (done) {
      status = bad("text after the digest line");
      break;
    }
    bool ok = false;
    std::vector<std::string> f = Fields(line, &ok);
    if (!ok || f.empty()) {
      status = bad("bad escape");
      break;
    }
    const std::string& word = f[0];
    if (in_section && word.size() == 1) {
      sha.Update(line.data(), line.size());
      sha.Update("\n", 1);
      ++domain->sections[key].lines;
      continue;
    }
    if (in_section && word == "user" && domain->sections[key].lines == 0 &&
        StartsWith(key, kUserSectionPrefix)) {
      sha.Update(line.data(), line.size());
      sha.Update("\n", 1);
      ++domain->sections[key].lines;
      continue;
    }
    close_section();
    if (word == "created" && f.size() == 2 && !domain) {
      created_ = f[1];
    } else if (word == "host" && f.size() == 2 && !domain) {
      host_ = f[1];
    } else if ((word == "vpopmail_home" || word == "qmail_dir") && f.size() == 2 && !domain) {
    } else if (word == "domain" && f.size() == 2) {
      if (domain) {
        status = bad("domain " + EscapeC(f[1]) + " starts before " + EscapeC(domain->name) + " ended");
        break;
      }
      domains_.push_back(StateDomain{});
      domain = &domains_.back();
      domain->name = f[1];
      sections.clear();
    } else if (word == "alias" && f.size() == 2 && domain && domain->sections.empty()) {
      domain->aliases.push_back(f[1]);
    } else if (word == "section" && domain && (f.size() == 2 || (f.size() == 3 && f[1] == "user"))) {
      key = f.size() == 2 ? f[1] : kUserSectionPrefix + f[2];
      if (domain->sections.count(key)) {
        status = bad("section " + EscapeC(key) + " appears twice");
        break;
      }
      domain->sections[key].offset = ftello(file_);
      in_section = true;
    } else if (word == "end-domain" && f.size() == 3 && domain && f[1] == domain->name) {
      std::string digest = DomainDigest(domain->name, domain->aliases, sections);
      if (digest != f[2]) {
        status = Status::Corrupt("digest of domain " + EscapeC(domain->name) +
                                 " does not match its sections: the file was changed or cut short");
        break;
      }
      domain->digest = digest;
      digests[domain->name] = digest;
      domain = nullptr;
    } else if (word == "digest" && f.size() == 2 && !domain) {
      content_digest_ = ContentDigest(digests);
      if (content_digest_ != f[1]) {
        status = Status::Corrupt("content digest does not match the domains: the file was changed");
        break;
      }
      done = true;
    } else {
      status = bad("unexpected record '" + EscapeC(line.substr(0, 80)) + "'");
      break;
    }
  }
  std::free(buf);
  if (!status.ok()) return status;
  if (std::ferror(file_)) return FromErrno("cannot read", errno);
  if (number == 0) return Status::Corrupt("empty state file");
  if (!done) return Status::Corrupt("cut short: the final digest line is missing");
  return Status::OK();
}

const StateDomain* StateFile::FindDomain(const std::string& name) const {
  for (const auto& d : domains_)
    if (d.name == name) return &d;
  return nullptr;
}

Result<StateSection> StateFile::Load(const std::string& domain, const std::string& key) {
  const StateDomain* d = FindDomain(domain);
  if (!d) return Status::NotFound(path_ + ": no domain " + domain);
  auto it = d->sections.find(key);
  if (it == d->sections.end()) return Status::NotFound(path_ + ": no section " + EscapeC(key));
  if (fseeko(file_, it->second.offset, SEEK_SET) != 0) return FromErrno("cannot seek in " + path_, errno);
  StateSection section;
  char* buf = nullptr;
  size_t cap = 0;
  Status status;
  for (std::uint64_t i = 0; i < it->second.lines; ++i) {
    ssize_t n = getline(&buf, &cap, file_);
    if (n <= 0) {
      status = Status::Corrupt(path_ + ": changed while it was read");
      break;
    }
    std::string line(buf, static_cast<size_t>(n) - 1);
    if (i == 0 && StartsWith(line, "user\t")) {
      section.user_line = line;
      continue;
    }
    auto e = StateEntry::Parse(line);
    if (!e.ok()) {
      status = e.status().WithContext(path_);
      break;
    }
    section.entries.push_back(std::move(*e));
  }
  std::free(buf);
  if (!status.ok()) return status;
  return section;
}

}  // namespace vmigrate
