#include "model/manifest_yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <set>
#include <sstream>
#include <vector>

#include "core/strings.h"

namespace vmigrate {
namespace {

bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += len;
  }
  return true;
}

// Every string is written double-quoted, so hashes, gecos and passwords with
// YAML-significant characters survive unchanged. Bytes that are not UTF-8
// (a Latin-1 gecos, say) would be replaced by the emitter, so such values
// are written as !!binary (base64) and decoded back byte for byte.
void Str(YAML::Emitter& out, const char* key, const std::string& value) {
  out << YAML::Key << key << YAML::Value;
  if (IsValidUtf8(value))
    out << YAML::DoubleQuoted << value;
  else
    out << YAML::Binary(reinterpret_cast<const unsigned char*>(value.data()), value.size());
}

template <typename T>
void Num(YAML::Emitter& out, const char* key, T value) {
  out << YAML::Key << key << YAML::Value << value;
}

void StrList(YAML::Emitter& out, const char* key, const std::vector<std::string>& values) {
  out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const auto& v : values) out << YAML::DoubleQuoted << v;
  out << YAML::EndSeq;
}

bool IsDigestText(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Readers: each names the key it failed on. Exceptions stay in this file.
class Reader {
 public:
  Status status;

  const YAML::Node Map(const YAML::Node& parent, const std::string& key, const std::string& where) {
    YAML::Node n = parent[key];
    if (!n || !n.IsMap()) Fail(where + key + " must be a mapping");
    return n;
  }
  const YAML::Node Seq(const YAML::Node& parent, const std::string& key, const std::string& where) {
    YAML::Node n = parent[key];
    if (!n || !n.IsSequence()) Fail(where + key + " must be a list");
    return n;
  }
  std::string String(const YAML::Node& parent, const std::string& key, const std::string& where,
                     bool required = true) {
    YAML::Node n = parent[key];
    if (!n) {
      if (required) Fail(where + key + " is missing");
      return "";
    }
    if (!n.IsScalar()) {
      Fail(where + key + " must be a string");
      return "";
    }
    if (n.Tag() == "tag:yaml.org,2002:binary") {
      std::vector<unsigned char> bytes = YAML::DecodeBase64(n.Scalar());
      if (bytes.empty() && !n.Scalar().empty()) Fail(where + key + " is not valid base64");
      return std::string(bytes.begin(), bytes.end());
    }
    return n.Scalar();
  }
  unsigned long long Unsigned(const YAML::Node& parent, const std::string& key,
                              const std::string& where, bool required = true) {
    YAML::Node n = parent[key];
    if (!n) {
      if (required) Fail(where + key + " is missing");
      return 0;
    }
    if (!n.IsScalar()) {
      Fail(where + key + " must be a number");
      return 0;
    }
    unsigned long long value = 0;
    if (!ParseUint64(n.Scalar(), &value)) {
      Fail(where + key + " must be a non-negative integer");
      return 0;
    }
    return value;
  }
  bool Bool(const YAML::Node& parent, const std::string& key, const std::string& where,
            bool fallback) {
    YAML::Node n = parent[key];
    if (!n) return fallback;
    if (!n.IsScalar() || (n.Scalar() != "true" && n.Scalar() != "false")) {
      Fail(where + key + " must be true or false");
      return fallback;
    }
    return n.Scalar() == "true";
  }
  std::vector<std::string> Strings(const YAML::Node& parent, const std::string& key,
                                   const std::string& where) {
    std::vector<std::string> out;
    YAML::Node n = Seq(parent, key, where);
    if (!status.ok()) return out;
    for (size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) {
        Fail(where + key + "[" + std::to_string(i) + "] must be a string");
        return out;
      }
      out.push_back(n[i].Scalar());
    }
    return out;
  }
  void Fail(const std::string& msg) {
    if (status.ok()) status = Status::Corrupt("manifest: " + msg);
  }
};

}  // namespace

std::string ManifestToYaml(const Manifest& m) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Num(out, "format_version", m.format_version);
  Str(out, "kind", m.kind);
  Str(out, "generator", m.generator);
  Str(out, "created", m.created);
  out << YAML::Key << "source" << YAML::Value << YAML::BeginMap;
  Str(out, "hostname", m.source.hostname);
  Str(out, "vpopmail_home", m.source.vpopmail_home);
  Str(out, "qmail_dir", m.source.qmail_dir);
  Str(out, "backend", m.source.backend);
  if (!m.source.mysql_layout.empty()) Str(out, "mysql_layout", m.source.mysql_layout);
  if (m.source.origin != "vpopmail") Str(out, "origin", m.source.origin);
  out << YAML::EndMap;
  out << YAML::Key << "domains" << YAML::Value << YAML::BeginSeq;
  for (const auto& d : m.domains) {
    out << YAML::BeginMap;
    Str(out, "name", d.name);
    Str(out, "dir", d.dir);
    Num(out, "uid", d.uid);
    Num(out, "gid", d.gid);
    StrList(out, "aliases", d.aliases);
    StrList(out, "domain_files", d.domain_files);
    StrList(out, "rewritten_files", d.rewritten_files);
    Str(out, "dir_control", d.dir_control);
    if (d.merge_users) out << YAML::Key << "merge_users" << YAML::Value << true;
    out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
    for (const auto& u : d.users) {
      out << YAML::BeginMap;
      Str(out, "name", u.entry.name);
      Str(out, "passwd", u.entry.passwd);
      Str(out, "uid", u.entry.uid);
      Str(out, "gid", u.entry.gid);
      Str(out, "gecos", u.entry.gecos);
      Str(out, "dir", u.entry.dir);
      Str(out, "rel_dir", u.rel_dir);
      Str(out, "quota", u.entry.quota);
      if (u.entry.has_clear) Str(out, "clear", u.entry.clear);
      Num(out, "messages", u.messages);
      Num(out, "bytes", u.bytes);
      out << YAML::Key << "home_present" << YAML::Value << u.home_present;
      if (!u.hash_scheme.empty()) Str(out, "hash_scheme", u.hash_scheme);
      if (!u.folders.empty()) StrList(out, "folders", u.folders);
      if (!u.warnings.empty()) StrList(out, "warnings", u.warnings);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    // Optional: written only when there is something to say, so archives
    // without such paths read the same as those of vmigrate 0.1.0.
    if (!d.outside_refs.empty()) {
      out << YAML::Key << "outside_refs" << YAML::Value << YAML::BeginSeq;
      for (const auto& ref : d.outside_refs) {
        out << YAML::BeginMap;
        Str(out, "file", ref.file);
        Num(out, "line", ref.line);
        Str(out, "path", ref.path);
        Str(out, "reason", ref.reason);
        if (!ref.domain.empty()) Str(out, "domain", ref.domain);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    if (m.kind == kKindDelta) {
      const DomainDelta& dd = d.delta;
      out << YAML::Key << "delta" << YAML::Value << YAML::BeginMap;
      Str(out, "base", dd.base);
      Str(out, "result", dd.result);
      Num(out, "files", dd.files);
      Num(out, "bytes", dd.bytes);
      Num(out, "messages", dd.messages);
      Num(out, "renames", dd.renames);
      Num(out, "removals", dd.removals);
      Num(out, "users_added", dd.users_added);
      Num(out, "users_removed", dd.users_removed);
      Num(out, "users_changed", dd.users_changed);
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (m.kind == kKindServer || (m.kind == kKindDelta && !m.server_files.empty()))
    StrList(out, "server_files", m.server_files);
  if (m.kind == kKindDelta) {
    out << YAML::Key << "delta" << YAML::Value << YAML::BeginMap;
    Str(out, "base", m.delta_base);
    Str(out, "result", m.delta_result);
    if (m.delta_add_only) out << YAML::Key << "add_only" << YAML::Value << true;
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string("# vmigrate archive manifest; see share/doc/archive-format.md\n") +
         out.c_str() + "\n";
}

namespace {

// The exporter never writes anchors, aliases or tags other than !!binary;
// refusing them keeps "billion laughs" documents out whatever key they hide under.
class AliasDetector : public YAML::EventHandler {
 public:
  bool found = false;
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { Note(anchor); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { found = true; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    Note(anchor);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Note(anchor);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Note(anchor);
  }
  void OnMapEnd() override {}

 private:
  void Note(YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) found = true;
  }
};

// yaml-cpp keeps both copies of a repeated key; a reader would silently
// use one of them. Returns the first repeated key found, or "".
std::string FindDuplicateKey(const YAML::Node& node, int depth = 0) {
  if (depth > 64) return "(nesting deeper than 64 levels)";
  if (node.IsMap()) {
    std::set<std::string> keys;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "(non-scalar key)";
      if (!keys.insert(key).second) return key;
      std::string inner = FindDuplicateKey(it->second, depth + 1);
      if (!inner.empty()) return inner;
    }
  } else if (node.IsSequence()) {
    for (const auto& child : node) {
      std::string inner = FindDuplicateKey(child, depth + 1);
      if (!inner.empty()) return inner;
    }
  }
  return "";
}

}  // namespace

Result<Manifest> ManifestFromYaml(const std::string& text) {
  YAML::Node root;
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    AliasDetector detector;
    // Only the first document is read (as YAML::Load does). No loop: yaml-cpp
    // 0.7 never consumes a stray ',' and would report documents forever.
    parser.HandleNextDocument(detector);
    if (detector.found) return Status::Corrupt("manifest: YAML anchors and aliases are not allowed");
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::Corrupt("manifest: not valid YAML: " + e.msg + " at line " +
                           std::to_string(e.mark.line + 1));
  }
  if (!root || !root.IsMap()) return Status::Corrupt("manifest: not a YAML mapping");
  std::string dup = FindDuplicateKey(root);
  if (!dup.empty()) return Status::Corrupt("manifest: duplicate key '" + EscapeC(dup) + "'");

  Reader r;
  Manifest m;
  try {
    unsigned long long version = r.Unsigned(root, "format_version", "");
    if (!r.status.ok()) return r.status;
    if (version > static_cast<unsigned long long>(kManifestFormat))
      return Status::Unsupported("manifest format " + std::to_string(version) +
                                 " is newer than this vmigrate (reads " +
                                 std::to_string(kOldestReadableManifest) + " to " +
                                 std::to_string(kManifestFormat) + ")");
    if (version < static_cast<unsigned long long>(kOldestReadableManifest))
      return Status::Unsupported("manifest format " + std::to_string(version) +
                                 " is not a format this vmigrate reads");
    m.format_version = static_cast<int>(version);
    m.kind = r.String(root, "kind", "");
    if (!r.status.ok()) return r.status;
    if (m.kind != kKindDomain && m.kind != kKindServer && m.kind != kKindDelta) {
      return Status::Unsupported("archive kind '" + EscapeC(m.kind) +
                                 "' is not supported by this vmigrate (reads kinds 'domain', 'server' and 'delta')");
    }
    m.generator = r.String(root, "generator", "", false);
    m.created = r.String(root, "created", "", false);
    YAML::Node src = r.Map(root, "source", "");
    if (!r.status.ok()) return r.status;
    m.source.hostname = r.String(src, "hostname", "source.", false);
    m.source.vpopmail_home = r.String(src, "vpopmail_home", "source.");
    m.source.qmail_dir = r.String(src, "qmail_dir", "source.");
    // Absent in archives of vmigrate before issue 16: those came from cdb.
    if (src["backend"]) m.source.backend = r.String(src, "backend", "source.");
    m.source.mysql_layout = r.String(src, "mysql_layout", "source.", false);
    if (src["origin"]) m.source.origin = r.String(src, "origin", "source.");
    if (!r.status.ok()) return r.status;
    if (m.source.origin != "vpopmail" && m.source.origin != "unix")
      return Status::Unsupported("manifest: source.origin '" + EscapeC(m.source.origin) +
                                 "' is not a source this vmigrate knows ('vpopmail' or 'unix')");
    // pw_uid means something else per backend: an unknown one cannot be
    // converted, so it is refused by name rather than imported wrong.
    if (m.source.backend != "cdb" && m.source.backend != "mysql")
      return Status::Unsupported("manifest: source.backend '" + EscapeC(m.source.backend) +
                                 "' is not a backend this vmigrate reads ('cdb' or 'mysql')");
    if (m.source.backend == "mysql" && m.source.mysql_layout != "many" && m.source.mysql_layout != "perdomain")
      return Status::Corrupt("manifest: source.mysql_layout must be 'many' or 'perdomain' for backend 'mysql', found '" +
                             EscapeC(m.source.mysql_layout) + "'");
    if (m.source.backend == "cdb" && !m.source.mysql_layout.empty())
      return Status::Corrupt("manifest: source.mysql_layout is set but source.backend is 'cdb'");
    YAML::Node domains = r.Seq(root, "domains", "");
    if (!r.status.ok()) return r.status;
    if (m.kind == kKindDomain && domains.size() != 1)
      return Status::Corrupt("manifest: a 'domain' archive must list exactly one domain, found " +
                             std::to_string(domains.size()));
    for (size_t i = 0; i < domains.size(); ++i) {
      const YAML::Node dn = domains[i];
      std::string where = "domains[" + std::to_string(i) + "].";
      if (!dn.IsMap()) return Status::Corrupt("manifest: " + where + " must be a mapping");
      ManifestDomain d;
      d.name = r.String(dn, "name", where);
      d.dir = r.String(dn, "dir", where);
      d.uid = static_cast<unsigned long>(r.Unsigned(dn, "uid", where));
      d.gid = static_cast<unsigned long>(r.Unsigned(dn, "gid", where));
      d.aliases = r.Strings(dn, "aliases", where);
      d.domain_files = r.Strings(dn, "domain_files", where);
      d.rewritten_files = r.Strings(dn, "rewritten_files", where);
      d.dir_control = r.String(dn, "dir_control", where, false);
      d.merge_users = r.Bool(dn, "merge_users", where, false);
      YAML::Node users = r.Seq(dn, "users", where);
      if (!r.status.ok()) return r.status;
      std::set<std::string> seen;
      for (size_t j = 0; j < users.size(); ++j) {
        const YAML::Node un = users[j];
        std::string uw = where + "users[" + std::to_string(j) + "].";
        if (!un.IsMap()) return Status::Corrupt("manifest: " + uw + " must be a mapping");
        ManifestUser u;
        u.entry.name = r.String(un, "name", uw);
        u.entry.passwd = r.String(un, "passwd", uw);
        u.entry.uid = r.String(un, "uid", uw);
        u.entry.gid = r.String(un, "gid", uw);
        u.entry.gecos = r.String(un, "gecos", uw);
        u.entry.dir = r.String(un, "dir", uw);
        u.rel_dir = r.String(un, "rel_dir", uw, false);
        u.entry.quota = r.String(un, "quota", uw);
        u.entry.has_clear = static_cast<bool>(un["clear"]);
        if (u.entry.has_clear) u.entry.clear = r.String(un, "clear", uw);
        u.messages = r.Unsigned(un, "messages", uw, false);
        u.bytes = r.Unsigned(un, "bytes", uw, false);
        u.home_present = r.Bool(un, "home_present", uw, true);
        u.hash_scheme = r.String(un, "hash_scheme", uw, false);
        if (un["folders"]) u.folders = r.Strings(un, "folders", uw);
        if (un["warnings"]) u.warnings = r.Strings(un, "warnings", uw);
        if (!r.status.ok()) return r.status;
        if (!seen.insert(u.entry.name).second)
          return Status::Corrupt("manifest: user '" + EscapeC(u.entry.name) + "' is listed twice");
        d.users.push_back(std::move(u));
      }
      if (!r.status.ok()) return r.status;
      if (d.merge_users && m.kind != kKindDomain)
        return Status::Corrupt("manifest: " + where + "merge_users is only valid in a 'domain' archive");
      if (dn["outside_refs"]) {
        YAML::Node refs = r.Seq(dn, "outside_refs", where);
        for (size_t j = 0; r.status.ok() && j < refs.size(); ++j) {
          std::string rw = where + "outside_refs[" + std::to_string(j) + "].";
          if (!refs[j].IsMap()) return Status::Corrupt("manifest: " + rw + " must be a mapping");
          OutsideRef ref;
          ref.file = r.String(refs[j], "file", rw);
          unsigned long long line = r.Unsigned(refs[j], "line", rw);
          if (line > 0xffffffffULL) r.Fail(rw + "line is out of range");
          ref.line = static_cast<unsigned>(line);
          ref.path = r.String(refs[j], "path", rw);
          ref.reason = r.String(refs[j], "reason", rw);
          ref.domain = r.String(refs[j], "domain", rw, false);
          d.outside_refs.push_back(std::move(ref));
        }
        if (!r.status.ok()) return r.status;
      }
      if (m.kind == kKindDelta) {
        std::string dw = where + "delta.";
        YAML::Node dd = r.Map(dn, "delta", where);
        if (!r.status.ok()) return r.status;
        d.delta.base = r.String(dd, "base", dw);
        d.delta.result = r.String(dd, "result", dw);
        d.delta.files = r.Unsigned(dd, "files", dw);
        d.delta.bytes = r.Unsigned(dd, "bytes", dw);
        d.delta.messages = r.Unsigned(dd, "messages", dw, false);
        d.delta.renames = r.Unsigned(dd, "renames", dw);
        d.delta.removals = r.Unsigned(dd, "removals", dw);
        d.delta.users_added = r.Unsigned(dd, "users_added", dw);
        d.delta.users_removed = r.Unsigned(dd, "users_removed", dw);
        d.delta.users_changed = r.Unsigned(dd, "users_changed", dw, false);
        if (!r.status.ok()) return r.status;
        if (!IsDigestText(d.delta.result) || (!d.delta.base.empty() && !IsDigestText(d.delta.base)))
          return Status::Corrupt("manifest: " + dw + "base and result must be SHA-256 hex digests");
      }
      m.domains.push_back(std::move(d));
    }
    if (m.kind == kKindDelta) {
      YAML::Node dm = r.Map(root, "delta", "");
      if (!r.status.ok()) return r.status;
      m.delta_base = r.String(dm, "base", "delta.");
      m.delta_result = r.String(dm, "result", "delta.");
      m.delta_add_only = r.Bool(dm, "add_only", "delta.", false);
      if (!r.status.ok()) return r.status;
      if (!IsDigestText(m.delta_base) || !IsDigestText(m.delta_result))
        return Status::Corrupt("manifest: delta.base and delta.result must be SHA-256 hex digests");
    }
    if (m.kind == kKindServer || (m.kind == kKindDelta && root["server_files"])) {
      m.server_files = r.Strings(root, "server_files", "");
      if (!r.status.ok()) return r.status;
      std::set<std::string> seen_files;
      for (const auto& f : m.server_files) {
        if (!FindServerFile(f))
          return Status::Corrupt("manifest: server_files: '" + EscapeC(f) + "' is not a server file vmigrate carries");
        if (!seen_files.insert(f).second)
          return Status::Corrupt("manifest: server_files: '" + EscapeC(f) + "' is listed twice");
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::Corrupt(std::string("manifest: ") + e.what());
  }
  if (!r.status.ok()) return r.status;
  return m;
}

}  // namespace vmigrate
