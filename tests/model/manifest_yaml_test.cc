#include "model/manifest_yaml.h"

#include <string>

#include <gtest/gtest.h>

namespace vmigrate {
namespace {

ManifestUser User(const std::string& name, const std::string& passwd) {
  ManifestUser u;
  u.entry.name = name;
  u.entry.passwd = passwd;
  u.entry.uid = "1";
  u.entry.gid = "0";
  u.entry.gecos = name;
  u.entry.dir = "/tmp/realvp/home/vpopmail/domains/example.com/" + name;
  u.entry.quota = "NOQUOTA";
  u.rel_dir = name;
  return u;
}

Manifest FullManifest() {
  Manifest m;
  m.generator = "vmigrate 0.1.0";
  m.created = "2026-01-02T03:04:05Z";
  m.source.hostname = "mail.example.com";
  m.source.vpopmail_home = "/tmp/realvp/home/vpopmail";
  m.source.qmail_dir = "/tmp/realvp/qmail";
  ManifestDomain d;
  d.name = "example.com";
  d.dir = "/tmp/realvp/home/vpopmail/domains/example.com";
  d.uid = 89;
  d.gid = 4294967295ul;
  d.aliases = {"example.org", "mail.example.org"};
  d.domain_files = {".qmail-default", ".qmail-first:last", "0/.qmail-x", "file with spaces"};
  d.rewritten_files = {"files/.qmail-default", "users/carol/files/.qmail"};
  d.dir_control = "cur_users: 17\nlevel_cur: 0\n\tlevel_max: 3\n";

  ManifestUser a = User("alice", "$1$salt$abc:def#ghi");
  a.entry.gecos = "Jürgen Müller – 日本語 ✓";
  a.entry.clear = "pa:ss #word \"quoted\" 'single'";
  a.entry.has_clear = true;
  a.messages = 12;
  a.bytes = 123456789012345ull;
  d.users.push_back(a);

  ManifestUser b = User("bob", "*locked");
  b.entry.clear = "";
  b.entry.has_clear = true;  // an empty 8th field
  b.entry.quota = "5000000S,1000C";
  b.entry.gid = "4096";
  b.home_present = false;
  d.users.push_back(b);

  ManifestUser c = User("carol", "&anchor");
  c.entry.has_clear = false;  // no 8th field at all
  c.entry.gecos = "";
  c.rel_dir = "0/carol";
  d.users.push_back(c);

  const char* awkward[] = {"!tag",     "%percent", "@at",       " leading space",
                           "trailing ", "- dash",  "? q",       "{x: 1}",
                           "[a, b]",    "yes",     "null",      "~",
                           "0123",      "1e3",     "line1\nline2", "back\\slash",
                           "tab\there", "#hash",   "|pipe",     ">fold",
                           "`tick",     ",comma",  "x: y",      "\x01\x7f"};
  int i = 0;
  for (const char* s : awkward) {
    ManifestUser u = User("u" + std::to_string(i++), s);
    u.entry.clear = s;
    u.entry.has_clear = true;
    u.entry.gecos = s;
    d.users.push_back(u);
  }
  m.domains.push_back(d);
  return m;
}

void ExpectSameManifest(const Manifest& a, const Manifest& b) {
  EXPECT_EQ(a.format_version, b.format_version);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.generator, b.generator);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.source.hostname, b.source.hostname);
  EXPECT_EQ(a.source.vpopmail_home, b.source.vpopmail_home);
  EXPECT_EQ(a.source.qmail_dir, b.source.qmail_dir);
  ASSERT_EQ(a.domains.size(), b.domains.size());
  for (size_t i = 0; i < a.domains.size(); ++i) {
    const ManifestDomain& x = a.domains[i];
    const ManifestDomain& y = b.domains[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.dir, y.dir);
    EXPECT_EQ(x.uid, y.uid);
    EXPECT_EQ(x.gid, y.gid);
    EXPECT_EQ(x.aliases, y.aliases);
    EXPECT_EQ(x.domain_files, y.domain_files);
    EXPECT_EQ(x.rewritten_files, y.rewritten_files);
    EXPECT_EQ(x.dir_control, y.dir_control);
    ASSERT_EQ(x.users.size(), y.users.size());
    for (size_t j = 0; j < x.users.size(); ++j) {
      SCOPED_TRACE("user " + x.users[j].entry.name);
      EXPECT_EQ(x.users[j].entry.name, y.users[j].entry.name);
      EXPECT_EQ(x.users[j].entry.passwd, y.users[j].entry.passwd);
      EXPECT_EQ(x.users[j].entry.gecos, y.users[j].entry.gecos);
      EXPECT_EQ(x.users[j].entry.clear, y.users[j].entry.clear);
      EXPECT_EQ(x.users[j].entry.has_clear, y.users[j].entry.has_clear);
      EXPECT_TRUE(x.users[j].entry == y.users[j].entry);
      EXPECT_EQ(x.users[j].rel_dir, y.users[j].rel_dir);
      EXPECT_EQ(x.users[j].messages, y.users[j].messages);
      EXPECT_EQ(x.users[j].bytes, y.users[j].bytes);
      EXPECT_EQ(x.users[j].home_present, y.users[j].home_present);
    }
  }
}

Result<Manifest> Parse(const std::string& text) { return ManifestFromYaml(text); }

// A minimal valid manifest with `users_yaml` as the user list of its domain.
std::string MinimalYaml(const std::string& users_yaml = "[]", const std::string& head =
                                                                  "format_version: 1\nkind: domain\n") {
  return head +
         "source: {hostname: h, vpopmail_home: /home/vpopmail, qmail_dir: /var/qmail}\n"
         "domains:\n"
         "  - name: example.com\n"
         "    dir: /home/vpopmail/domains/example.com\n"
         "    uid: 89\n"
         "    gid: 89\n"
         "    aliases: []\n"
         "    domain_files: []\n"
         "    rewritten_files: []\n"
         "    users: " + users_yaml + "\n";
}

TEST(ManifestYamlTest, RoundTripOfFullManifest) {
  Manifest m = FullManifest();
  std::string yaml = ManifestToYaml(m);
  auto back = Parse(yaml);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  ExpectSameManifest(m, *back);
  EXPECT_EQ(back->total_messages(), 12u);
  // And it is stable: writing again gives the same text.
  EXPECT_EQ(ManifestToYaml(*back), yaml);
}

TEST(ManifestYamlTest, RoundTripOfLatin1BytesInGecos) {
  // vpasswd files are bytes; a gecos written by a Latin-1 terminal is not UTF-8.
  Manifest m = FullManifest();
  m.domains[0].users[0].entry.gecos = "J\xfcrgen M\xfcller";
  m.domains[0].users[0].entry.clear = "pw\xe9";
  auto back = Parse(ManifestToYaml(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->domains[0].users[0].entry.gecos, "J\xfcrgen M\xfcller");
  EXPECT_EQ(back->domains[0].users[0].entry.clear, "pw\xe9");
}

TEST(ManifestYamlTest, UserBytesRoundTripUpToUint64Max) {
  // The writer emits any uint64; the reader must take back what it wrote.
  Manifest m = FullManifest();
  m.domains[0].users[0].bytes = 18446744073709551615ull;
  m.domains[0].users[1].messages = 10000000000000000000ull;
  auto back = Parse(ManifestToYaml(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->domains[0].users[0].bytes, 18446744073709551615ull);
  EXPECT_EQ(back->domains[0].users[1].messages, 10000000000000000000ull);
}

TEST(ManifestYamlTest, NumberBeyondUint64IsCorruptNotACrash) {
  auto r = Parse(MinimalYaml(
      "\n      - {name: a, passwd: x, uid: '1', gid: '0', gecos: a, dir: /d/a, quota: Q, bytes: "
      "99999999999999999999999}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
}

TEST(ManifestYamlTest, EmptyClearAndAbsentClearStayDistinct) {
  Manifest m = FullManifest();
  std::string yaml = ManifestToYaml(m);
  auto back = Parse(yaml);
  ASSERT_TRUE(back.ok());
  const auto& users = back->domains[0].users;
  EXPECT_TRUE(users[1].entry.has_clear);
  EXPECT_EQ(users[1].entry.clear, "");
  EXPECT_FALSE(users[2].entry.has_clear);
  EXPECT_EQ(users[2].entry.clear, "");
}

TEST(ManifestYamlTest, OutputStartsWithCommentAndVersion) {
  std::string yaml = ManifestToYaml(FullManifest());
  EXPECT_EQ(yaml.rfind("# vmigrate archive manifest", 0), 0u);
  EXPECT_NE(yaml.find("format_version: 1"), std::string::npos);
}

TEST(ManifestYamlTest, MinimalManifestParsesWithDefaults) {
  auto r = Parse(MinimalYaml(
      "\n      - {name: alice, passwd: x, uid: '1', gid: '0', gecos: a, dir: /d/alice, quota: NOQUOTA}"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->domains.size(), 1u);
  ASSERT_EQ(r->domains[0].users.size(), 1u);
  const ManifestUser& u = r->domains[0].users[0];
  EXPECT_EQ(u.entry.uid, "1");
  EXPECT_FALSE(u.entry.has_clear);
  EXPECT_TRUE(u.home_present);
  EXPECT_EQ(u.messages, 0u);
  EXPECT_EQ(r->generator, "");
}

TEST(ManifestYamlTest, OutsideRefsRoundTripAndAreWrittenOnlyWhenThere) {
  Manifest m = FullManifest();
  EXPECT_EQ(ManifestToYaml(m).find("outside_refs"), std::string::npos);
  m.domains[0].outside_refs = {
      {"files/.qmail-support", 1, "/tmp/realvp/home/vpopmail/domains/example.net/tom/Maildir/",
       kRefOtherDomain, "example.net"},
      {"users/alice/Maildir/.Public", 0, "/srv/public", kRefOutsideHome, ""}};
  std::string yaml = ManifestToYaml(m);
  auto back = Parse(yaml);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  const auto& refs = back->domains[0].outside_refs;
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].file, "files/.qmail-support");
  EXPECT_EQ(refs[0].line, 1u);
  EXPECT_EQ(refs[0].path, "/tmp/realvp/home/vpopmail/domains/example.net/tom/Maildir/");
  EXPECT_EQ(refs[0].reason, kRefOtherDomain);
  EXPECT_EQ(refs[0].domain, "example.net");
  EXPECT_EQ(refs[1].line, 0u);
  EXPECT_EQ(refs[1].domain, "");
  EXPECT_EQ(ManifestToYaml(*back), yaml);
}

TEST(ManifestYamlTest, ManifestWithoutOutsideRefsReadsAsNone) {
  // Archives of vmigrate 0.1.0 have no such key.
  auto r = Parse(MinimalYaml());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->domains[0].outside_refs.empty());
}

TEST(ManifestYamlTest, MalformedOutsideRefsAreCorruptNamingTheKey) {
  auto r = Parse(MinimalYaml() + "    outside_refs: {file: x}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "manifest: domains[0].outside_refs must be a list");
  r = Parse(MinimalYaml() + "    outside_refs:\n      - {file: x, line: one, path: /p, reason: outside_home}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "manifest: domains[0].outside_refs[0].line must be a non-negative integer");
  r = Parse(MinimalYaml() + "    outside_refs:\n      - {file: x, line: 1, reason: outside_home}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "manifest: domains[0].outside_refs[0].path is missing");
}

TEST(ManifestYamlTest, NotYamlIsCorrupt) {
  auto r = Parse("format_version: [1\nkind: {{{\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("manifest"), std::string::npos);
}

TEST(ManifestYamlTest, NotAMappingIsCorrupt) {
  for (const char* text : {"- a\n- b\n", "just a string\n", "", "42\n"}) {
    auto r = Parse(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), Status::Code::kCorrupt) << text;
  }
}

TEST(ManifestYamlTest, MissingFormatVersionIsCorrupt) {
  auto r = Parse(MinimalYaml("[]", "kind: domain\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("format_version"), std::string::npos) << r.status().message();
}

TEST(ManifestYamlTest, NewerFormatVersionIsUnsupportedNamingBothNumbers) {
  auto r = Parse(MinimalYaml("[]", "format_version: 7\nkind: domain\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(r.status().message().find("7"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(std::to_string(kManifestFormat)), std::string::npos);
}

TEST(ManifestYamlTest, FormatVersionZeroIsUnsupported) {
  auto r = Parse(MinimalYaml("[]", "format_version: 0\nkind: domain\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnsupported);
}

TEST(ManifestYamlTest, NonNumericFormatVersionIsCorrupt) {
  for (const char* v : {"one", "-1", "1.0", "[1]"}) {
    auto r = Parse(MinimalYaml("[]", std::string("format_version: ") + v + "\nkind: domain\n"));
    ASSERT_FALSE(r.ok()) << v;
    EXPECT_EQ(r.status().code(), Status::Code::kCorrupt) << v;
  }
}

TEST(ManifestYamlTest, ServerKindRoundTripsWithItsFilesAndManyDomains) {
  Manifest m = FullManifest();
  m.kind = kKindServer;
  ManifestDomain second = m.domains[0];
  second.name = "example.net";
  m.domains.push_back(second);
  m.server_files = {"qmail/control/me", "qmail/users/assign", "vpopmail/etc/vlimits.default"};
  auto back = Parse(ManifestToYaml(m));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->kind, kKindServer);
  ASSERT_EQ(back->domains.size(), 2u);
  EXPECT_EQ(back->domains[1].name, "example.net");
  EXPECT_EQ(back->server_files, m.server_files);
}

TEST(ManifestYamlTest, ServerKindWithoutServerFilesIsCorrupt) {
  auto r = Parse(MinimalYaml("[]", "format_version: 1\nkind: server\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("server_files"), std::string::npos) << r.status().message();
}

TEST(ManifestYamlTest, ServerFileOutsideTheKnownListIsRefused) {
  for (const char* bad : {"qmail/control/../../etc/shadow", "vpopmail/etc/vpopmail.mysql", "/etc/passwd"}) {
    auto r = Parse(MinimalYaml("[]", "format_version: 1\nkind: server\n") +
                   "server_files: ['" + bad + "']\n");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kCorrupt) << bad;
    EXPECT_NE(r.status().message().find("not a server file"), std::string::npos) << r.status().message();
  }
}

TEST(ManifestYamlTest, SourceBackendRoundTripsAndIsCdbWhenAbsent) {
  Manifest m = FullManifest();
  m.source.backend = "mysql";
  m.source.mysql_layout = "perdomain";
  std::string yaml = ManifestToYaml(m);
  EXPECT_NE(yaml.find("backend: \"mysql\""), std::string::npos) << yaml;
  auto back = Parse(yaml);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->source.backend, "mysql");
  EXPECT_EQ(back->source.mysql_layout, "perdomain");

  // A cdb archive names its backend and has no layout key.
  std::string cdb = ManifestToYaml(FullManifest());
  EXPECT_NE(cdb.find("backend: \"cdb\""), std::string::npos);
  EXPECT_EQ(cdb.find("mysql_layout"), std::string::npos);
  // An archive of a vmigrate before the key came from cdb.
  auto old = Parse(MinimalYaml());
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->source.backend, "cdb");
  EXPECT_EQ(old->source.mysql_layout, "");
}

TEST(ManifestYamlTest, UnknownBackendOrMissingLayoutIsRefusedByName) {
  auto with_source = [](const std::string& source) {
    std::string y = MinimalYaml();
    const std::string old = "source: {hostname: h, vpopmail_home: /home/vpopmail, qmail_dir: /var/qmail}";
    return y.replace(y.find(old), old.size(),
                     "source: {hostname: h, vpopmail_home: /home/vpopmail, qmail_dir: /var/qmail, " + source + "}");
  };
  auto r = Parse(with_source("backend: ldap"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnsupported);
  EXPECT_EQ(r.status().message(),
            "manifest: source.backend 'ldap' is not a backend this vmigrate reads ('cdb' or 'mysql')");
  r = Parse(with_source("backend: mysql"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("source.mysql_layout must be 'many' or 'perdomain'"), std::string::npos);
  r = Parse(with_source("backend: cdb, mysql_layout: many"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  r = Parse(with_source("backend: mysql, mysql_layout: many"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source.mysql_layout, "many");
}

TEST(ManifestYamlTest, DomainKindStillNeedsExactlyOneDomain) {
  auto r = Parse("format_version: 1\nkind: domain\nsource: {hostname: h, vpopmail_home: /v, qmail_dir: /q}\n"
                 "domains: []\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
}

TEST(ManifestYamlTest, DeltaKindNeedsItsDigests) {
  auto r = Parse(MinimalYaml("[]", "format_version: 1\nkind: delta\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("delta must be a mapping"), std::string::npos) << r.status().message();
}

TEST(ManifestYamlTest, DeltaRoundTrips) {
  Manifest m;
  m.kind = kKindDelta;
  m.source = {"h", "/v", "/q"};
  m.delta_base = std::string(64, 'a');
  m.delta_result = std::string(64, 'b');
  ManifestDomain d;
  d.name = "example.com";
  d.dir = "/v/domains/example.com";
  d.delta.base = "";
  d.delta.result = std::string(64, 'c');
  d.delta.files = 3;
  d.delta.bytes = 99;
  d.delta.renames = 2;
  d.delta.removals = 1;
  d.delta.users_added = 1;
  d.delta.users_removed = 4;
  d.delta.users_changed = 5;
  m.domains.push_back(d);
  auto r = Parse(ManifestToYaml(m));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->delta_base, m.delta_base);
  EXPECT_EQ(r->delta_result, m.delta_result);
  const DomainDelta& got = r->domains[0].delta;
  EXPECT_EQ(got.base, "");
  EXPECT_EQ(got.result, d.delta.result);
  EXPECT_EQ(got.files, 3u);
  EXPECT_EQ(got.bytes, 99u);
  EXPECT_EQ(got.renames, 2u);
  EXPECT_EQ(got.removals, 1u);
  EXPECT_EQ(got.users_added, 1u);
  EXPECT_EQ(got.users_removed, 4u);
  EXPECT_EQ(got.users_changed, 5u);
}

TEST(ManifestYamlTest, UnknownKindIsUnsupportedAndMissingKindCorrupt) {
  auto r = Parse(MinimalYaml("[]", "format_version: 1\nkind: mailbox\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(r.status().message().find("mailbox"), std::string::npos);
  auto missing = Parse(MinimalYaml("[]", "format_version: 1\n"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(missing.status().message().find("kind"), std::string::npos);
}

TEST(ManifestYamlTest, UsersNotAListIsCorrupt) {
  auto r = Parse(MinimalYaml("{alice: 1}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("users"), std::string::npos) << r.status().message();
  auto scalar = Parse(MinimalYaml("alice"));
  ASSERT_FALSE(scalar.ok());
  EXPECT_EQ(scalar.status().code(), Status::Code::kCorrupt);
}

TEST(ManifestYamlTest, UserNotAMappingIsCorrupt) {
  auto r = Parse(MinimalYaml("[alice]"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
}

TEST(ManifestYamlTest, DomainUidNotANumberIsCorrupt) {
  std::string yaml = MinimalYaml();
  yaml.replace(yaml.find("uid: 89"), 7, "uid: eighty");
  auto r = Parse(yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("uid"), std::string::npos) << r.status().message();
  yaml = MinimalYaml();
  yaml.replace(yaml.find("uid: 89"), 7, "uid: [89]");
  r = Parse(yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
}

TEST(ManifestYamlTest, UserMessagesNotANumberIsCorrupt) {
  auto r = Parse(MinimalYaml(
      "\n      - {name: a, passwd: x, uid: '1', gid: '0', gecos: a, dir: /d/a, quota: Q, messages: "
      "lots}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("messages"), std::string::npos) << r.status().message();
}

TEST(ManifestYamlTest, UserFieldWrongTypeIsCorrupt) {
  auto r = Parse(MinimalYaml(
      "\n      - {name: [a], passwd: x, uid: '1', gid: '0', gecos: a, dir: /d/a, quota: Q}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  auto missing = Parse(MinimalYaml("\n      - {name: a, uid: '1', gid: '0', gecos: a, dir: /d/a, quota: Q}"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(missing.status().message().find("passwd"), std::string::npos);
  auto flag = Parse(MinimalYaml(
      "\n      - {name: a, passwd: x, uid: '1', gid: '0', gecos: a, dir: /d/a, quota: Q, "
      "home_present: maybe}"));
  ASSERT_FALSE(flag.ok());
  EXPECT_EQ(flag.status().code(), Status::Code::kCorrupt);
}

TEST(ManifestYamlTest, AliasesWrongTypeIsCorrupt) {
  std::string yaml = MinimalYaml();
  yaml.replace(yaml.find("aliases: []"), 11, "aliases: example.org");
  auto r = Parse(yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  yaml = MinimalYaml();
  yaml.replace(yaml.find("aliases: []"), 11, "aliases: [[x]]");
  r = Parse(yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
}

TEST(ManifestYamlTest, DuplicateUserNamesAreCorrupt) {
  const std::string user =
      "\n      - {name: alice, passwd: x, uid: '1', gid: '0', gecos: a, dir: /d/alice, quota: Q}";
  auto r = Parse(MinimalYaml(user + user));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("alice"), std::string::npos) << r.status().message();
}

TEST(ManifestYamlTest, DomainsListWithNoEntryIsCorrupt) {
  Manifest m = FullManifest();
  m.domains.clear();
  auto r = Parse(ManifestToYaml(m));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("0"), std::string::npos);
}

TEST(ManifestYamlTest, DomainsListWithTwoEntriesIsCorrupt) {
  Manifest m = FullManifest();
  m.domains.push_back(m.domains[0]);
  m.domains[1].name = "example.net";
  auto r = Parse(ManifestToYaml(m));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("2"), std::string::npos);
}

TEST(ManifestYamlTest, DomainsNotAListIsCorrupt) {
  auto r = Parse(
      "format_version: 1\nkind: domain\n"
      "source: {hostname: h, vpopmail_home: /v, qmail_dir: /q}\ndomains: {name: x}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("domains"), std::string::npos);
}

TEST(ManifestYamlTest, MissingSourceIsCorrupt) {
  auto r = Parse("format_version: 1\nkind: domain\ndomains: []\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
  EXPECT_NE(r.status().message().find("source"), std::string::npos);
}

}  // namespace
}  // namespace vmigrate

namespace vmigrate {
namespace {

// Found by manifest_fuzzer (fuzz/crashes/manifest-comma-hang.yaml): yaml-cpp
// 0.7 never consumes a stray ',' and the anchor check looped forever.
TEST(ManifestYamlRegressionTest, StrayCommaIsRejectedInsteadOfHanging) {
  auto m = ManifestFromYaml(",\n");
  EXPECT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kCorrupt);
}

}  // namespace
}  // namespace vmigrate
