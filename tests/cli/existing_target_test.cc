// End to end: importing into a target that already hosts domains. A busy
// target (120 domains, morercpthosts in use) must get the new domain in the
// next hash bucket without any other byte changing; a domain or alias
// domain that already exists must be refused with the target untouched.
#include <sys/stat.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "qmail/assign.h"
#include "qmail/control_file.h"
#include "support/test_support.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

std::string DomainName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "d%03d.test", i);
  return buf;
}

struct BusyTarget {
  std::string dir_control;        // domains/.dir-control after the 120 vadddomains
  std::vector<std::string> assign_lines;
  std::string morercpthosts;
  std::string virtualdomains;
};

// 120 domains laid out the way 120 runs of vadddomain would leave them:
// the first 99 in domains/, the rest in the buckets AllocateBuckets gives;
// rcpthosts full (50 lines) so the later ones went to morercpthosts.
BusyTarget MakeBusyTarget(const std::string& root) {
  BusyTarget t;
  MakeEmptyTarget(root);
  const std::string home = TargetHomeDisk(root);
  const std::string qmail = TargetQmailDisk(root);
  vpopmail::BucketAllocation alloc = vpopmail::AllocateBuckets(std::nullopt, 120);
  t.dir_control = alloc.final_text;
  std::string rcpthosts;
  for (int i = 1; i <= 120; ++i) {
    const std::string name = DomainName(i);
    const std::string& bucket = alloc.buckets[i - 1];
    const std::string rel = "domains/" + (bucket.empty() ? "" : bucket + "/") + name;
    const std::string host = std::string(kTargetHome) + "/" + rel;
    const std::string disk = root + host;
    fs::create_directories(disk + "/postmaster/Maildir/cur");
    fs::create_directories(disk + "/postmaster/Maildir/new");
    fs::create_directories(disk + "/postmaster/Maildir/tmp");
    WriteFile(disk + "/.qmail-default", "| /srv/vpopmail/bin/vdelivermail '' bounce-no-mailbox\n");
    WriteFile(disk + "/vpasswd", "postmaster:$1$abcdefgh$0123456789012345678901:1:0:Postmaster:" + host +
                                     "/postmaster:NOQUOTA:secret-" + std::to_string(i) + "\n");
    WriteFile(disk + "/.dir-control", "1\n0\n3\n0 0 0\n61 61 61\n0 2 4\n0 0 0\n\n");
    WriteFile(disk + "/postmaster/Maildir/new/1700000000." + std::to_string(i) + ".host,S=20",
              "Subject: hello\n\nhi\n");
    t.assign_lines.push_back("+" + name + "-:" + name + ":0:0:" + host + ":-::");
    if (i < 50) rcpthosts += name + "\n";
    else t.morercpthosts += name + "\n";
    t.virtualdomains += name + ":" + name + "\n";
  }
  for (const char* d : {"domains", "domains/0"}) chmod((home + "/" + d).c_str(), 0700);
  WriteFile(home + "/domains/.dir-control", t.dir_control);
  rcpthosts += std::string(kTargetMe) + "\n";  // sorts last: "target.test.mail"
  WriteFile(qmail + "/control/rcpthosts", rcpthosts);
  WriteFile(qmail + "/control/morercpthosts", t.morercpthosts);
  EXPECT_TRUE(qmail::WriteMoreRcpthostsCdb(t.morercpthosts, qmail + "/control/morercpthosts.cdb").ok());
  WriteFile(qmail + "/control/virtualdomains", t.virtualdomains);
  WriteFile(qmail + "/control/locals", std::string(kTargetMe) + "\n");
  std::string assign;
  for (const auto& l : t.assign_lines) assign += l + "\n";
  assign += ".\n";
  WriteFile(qmail + "/users/assign", assign);
  EXPECT_TRUE(qmail::WriteUsersCdb(assign, qmail + "/users/cdb").ok());
  return t;
}

const std::vector<std::string> kLockFiles = {
    "var/qmail/users/assign.lock", "var/qmail/control/rcpthosts.lock",
    "var/qmail/control/morercpthosts.lock", "var/qmail/control/virtualdomains.lock",
    "var/qmail/control/locals.lock"};

TEST(ExistingTargetCliTest, DomainLandsInTheNextBucketOfATargetWith120Domains) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  BusyTarget busy = MakeBusyTarget(dst.path());
  ASSERT_EQ(Lines(ReadFile(TargetQmailDisk(dst.path()) + "/control/rcpthosts")).size(), 50u);

  vpopmail::BucketAllocation next = vpopmail::AllocateBuckets(busy.dir_control, 1);
  const std::string bucket = next.buckets[0];
  // Reference §2.3: allocations 100 ... 199 go to bucket "0".
  EXPECT_EQ(bucket, "0");
  const std::string rel = "domains/" + (bucket.empty() ? "" : bucket + "/") + "example.com";

  std::vector<std::string> skip = {"srv/vpopmail/" + rel,
                                   "srv/vpopmail/domains/.dir-control",
                                   "var/qmail/control/morercpthosts",
                                   "var/qmail/control/morercpthosts.cdb",
                                   "var/qmail/control/virtualdomains",
                                   "var/qmail/users/assign",
                                   "var/qmail/users/cdb"};
  skip.insert(skip.end(), kLockFiles.begin(), kLockFiles.end());
  auto before = TreeDigest(dst.path(), skip);

  CommandResult e = Export(src.path(), "example.com", work / "a.vma");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  CommandResult i = Import(dst.path(), work / "a.vma", {"--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("\"domain_dir\":\"/srv/vpopmail/" + rel + "\""), std::string::npos) << i.out;

  auto after = TreeDigest(dst.path(), skip);
  // Directories that gain (or briefly held) an entry change their mtime.
  for (const char* d : {"srv/vpopmail/domains", "srv/vpopmail/domains/0", "var/qmail/control",
                        "var/qmail/users"}) {
    before.erase(d);
    after.erase(d);
  }
  EXPECT_EQ(DigestDiff(before, after), "") << "the pre-existing tree changed";

  DomainMapping m;
  m.domain = "example.com";
  m.src_root = src.path();
  m.dst_root = dst.path();
  m.src_rel = "domains/example.com";
  m.dst_rel = rel;
  struct stat st;
  stat(TargetHomeDisk(dst.path()).c_str(), &st);
  ExpectImportedLikeSource(m, {"example.org"}, Owner{st.st_uid, st.st_gid});
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/" + rel + "/.qmail-archive"),
            "/srv/vpopmail/" + rel + "/bob/Maildir/\n");
  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/" + rel + "/carol/.qmail"),
            "&carol.chen@gmail.test\n/srv/vpopmail/" + rel + "/carol/Maildir/\n");

  EXPECT_EQ(ReadFile(TargetHomeDisk(dst.path()) + "/domains/.dir-control"), next.final_text);

  const std::string qmail = TargetQmailDisk(dst.path());
  std::string assign;
  for (const auto& l : busy.assign_lines) assign += l + "\n";
  const std::string owner = Owner{st.st_uid, st.st_gid}.str();
  assign += "+example.com-:example.com:" + owner + ":/srv/vpopmail/" + rel + ":-::\n";
  assign += "+example.org-:example.com:" + owner + ":/srv/vpopmail/" + rel + ":-::\n";
  assign += ".\n";
  EXPECT_EQ(ReadFile(qmail + "/users/assign"), assign);
  EXPECT_EQ(ReadFile(qmail + "/control/morercpthosts"), busy.morercpthosts + "example.com\nexample.org\n");
  EXPECT_EQ(ReadFile(qmail + "/control/virtualdomains"),
            busy.virtualdomains + "example.com:example.com\nexample.org:example.org\n");
  EXPECT_FALSE(HasLine(ReadFile(qmail + "/control/rcpthosts"), "example.com"));

  auto more = vpopmail::ReadCdbRecords(qmail + "/control/morercpthosts.cdb");
  ASSERT_TRUE(more.ok()) << more.status().message();
  EXPECT_EQ(more->size(), 71u + 2u);
  for (const char* d : {"example.com", "example.org", "d050.test", "d120.test"}) {
    auto it = more->find(d);
    ASSERT_NE(it, more->end()) << d << " not in morercpthosts.cdb";
    EXPECT_EQ(it->second, "");
  }
  auto users = vpopmail::ReadCdbRecords(qmail + "/users/cdb");
  ASSERT_TRUE(users.ok()) << users.status().message();
  EXPECT_EQ(users->size(), 122u + 1u) << "every domain plus the wildchars record";
  EXPECT_TRUE(users->count("!d001.test-"));
  EXPECT_TRUE(users->count("!d120.test-"));
}

// --- conflicts ---------------------------------------------------------------

void ExpectOneLineNaming(const std::string& err, const std::string& name) {
  EXPECT_NE(err.find(name), std::string::npos) << err;
  ASSERT_FALSE(err.empty());
  EXPECT_EQ(err.back(), '\n') << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(ExistingTargetCliTest, ImportingTheSameDomainTwiceIsAConflictAndChangesNothing) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  ASSERT_EQ(Export(src.path(), "example.com", work / "a.vma").exit_code, 0);
  CommandResult first = Import(dst.path(), work / "a.vma");
  ASSERT_EQ(first.exit_code, 0) << first.err;

  auto before = TreeDigest(dst.path());
  CommandResult second = Import(dst.path(), work / "a.vma");
  EXPECT_EQ(second.exit_code, 5) << second.err;  // Exit::kConflict
  ExpectOneLineNaming(second.err, "example.com");
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst.path())), "");
  EXPECT_TRUE(StagingLeftovers(dst.path()).empty());
}

TEST(ExistingTargetCliTest, ImportingTheSameDomainTwiceFromStdinIsAConflictToo) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  ASSERT_EQ(Export(src.path(), "example.net", work / "a.vma").exit_code, 0);
  ASSERT_EQ(Import(dst.path(), "-", {}, work / "a.vma").exit_code, 0);
  auto before = TreeDigest(dst.path());
  CommandResult second = Import(dst.path(), "-", {"--json"}, work / "a.vma");
  EXPECT_EQ(second.exit_code, 5) << second.err;
  EXPECT_NE(second.out.find("\"exit\":5"), std::string::npos) << second.out;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst.path())), "");
}

// example.org is an alias of example.com in the archive; the target already
// has example.org as a domain of its own.
TEST(ExistingTargetCliTest, AliasDomainAlreadyOnTheTargetIsAConflictAndChangesNothing) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  const std::string home = TargetHomeDisk(dst.path());
  const std::string qmail = TargetQmailDisk(dst.path());
  fs::create_directories(home + "/domains/example.org");
  chmod((home + "/domains").c_str(), 0700);
  chmod((home + "/domains/example.org").c_str(), 0700);
  WriteFile(home + "/domains/.dir-control", DomainsDirControlAfter(1));
  WriteFile(home + "/domains/example.org/.qmail-default",
            "| /srv/vpopmail/bin/vdelivermail '' bounce-no-mailbox\n");
  std::string assign = "+example.org-:example.org:0:0:/srv/vpopmail/domains/example.org:-::\n.\n";
  WriteFile(qmail + "/users/assign", assign);
  ASSERT_TRUE(qmail::WriteUsersCdb(assign, qmail + "/users/cdb").ok());
  WriteFile(qmail + "/control/rcpthosts", "example.org\nmail.target.test\n");
  WriteFile(qmail + "/control/virtualdomains", "example.org:example.org\n");

  ASSERT_EQ(Export(src.path(), "example.com", work / "a.vma").exit_code, 0);
  auto before = TreeDigest(dst.path());
  CommandResult r = Import(dst.path(), work / "a.vma");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  ExpectOneLineNaming(r.err, "example.org");
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst.path())), "");
  EXPECT_TRUE(StagingLeftovers(dst.path()).empty());
  EXPECT_FALSE(fs::exists(home + "/domains/example.com"));
}

// An alias registered only in virtualdomains (e.g. by hand) counts as well.
TEST(ExistingTargetCliTest, AliasDomainOnlyInVirtualdomainsIsAConflictAndChangesNothing) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  WriteFile(TargetQmailDisk(dst.path()) + "/control/virtualdomains", "example.org:example.org\n");
  ASSERT_EQ(Export(src.path(), "example.com", work / "a.vma").exit_code, 0);
  auto before = TreeDigest(dst.path());
  CommandResult r = Import(dst.path(), work / "a.vma");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  ExpectOneLineNaming(r.err, "example.org");
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst.path())), "");
}

// The domain is not registered, but its directory is where it would land.
TEST(ExistingTargetCliTest, LeftoverDomainDirectoryIsAConflictAndChangesNothing) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  const std::string home = TargetHomeDisk(dst.path());
  fs::create_directories(home + "/domains/example.net/tom");
  WriteFile(home + "/domains/example.net/tom/keep-me", "precious\n");
  ASSERT_EQ(Export(src.path(), "example.net", work / "a.vma").exit_code, 0);
  auto before = TreeDigest(dst.path(), kLockFiles);
  CommandResult r = Import(dst.path(), work / "a.vma");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  ExpectOneLineNaming(r.err, "example.net");
  auto after = TreeDigest(dst.path(), kLockFiles);
  EXPECT_TRUE(StagingLeftovers(dst.path()).empty());
  EXPECT_EQ(ReadFile(home + "/domains/example.net/tom/keep-me"), "precious\n");
  // vpopmail's empty *.lock files may appear; the qmail dirs that hold them
  // then change mtime. Everything else must stay as it was...
  auto lenient_before = before, lenient_after = after;
  for (const char* d : {"var/qmail/control", "var/qmail/users", "srv/vpopmail/domains"}) {
    lenient_before.erase(d);
    lenient_after.erase(d);
  }
  EXPECT_EQ(DigestDiff(lenient_before, lenient_after), "");
  // ... including the mtime of domains/, where the importer stages.
  EXPECT_EQ(before.at("srv/vpopmail/domains"), after.at("srv/vpopmail/domains"))
      << "the staging directory was created and removed after the conflict could have been seen";
}

}  // namespace
}  // namespace vmigrate::testing::cli

namespace vmigrate::testing::cli {
namespace {

// vpopmail counts rcpthosts before every single add: with 49 lines the
// domain still goes to rcpthosts, its alias (line 51) to morercpthosts.
// Both names also leave control/locals.
TEST(ExistingTargetCliTest, RcpthostsFillingUpMidImportSendsTheAliasToMorercpthosts) {
  TempDir src, dst, work;
  UnpackFixture("real-small", src.path());
  MakeEmptyTarget(dst.path());
  const std::string qmail = TargetQmailDisk(dst.path());
  std::string rcpthosts;
  for (int i = 1; i <= 48; ++i) rcpthosts += DomainName(i) + "\n";
  rcpthosts += std::string(kTargetMe) + "\n";
  WriteFile(qmail + "/control/rcpthosts", rcpthosts);
  WriteFile(qmail + "/control/locals", std::string(kTargetMe) + "\nexample.com\nexample.org\n");
  ASSERT_EQ(Export(src.path(), "example.com", work / "a.vma").exit_code, 0);
  CommandResult r = Import(dst.path(), work / "a.vma");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string expected_rcpt;
  for (int i = 1; i <= 48; ++i) expected_rcpt += DomainName(i) + "\n";
  expected_rcpt += "example.com\n" + std::string(kTargetMe) + "\n";
  EXPECT_EQ(ReadFile(qmail + "/control/rcpthosts"), expected_rcpt);
  EXPECT_EQ(ReadFile(qmail + "/control/morercpthosts"), "example.org\n");
  auto more = vpopmail::ReadCdbRecords(qmail + "/control/morercpthosts.cdb");
  ASSERT_TRUE(more.ok()) << more.status().message();
  EXPECT_EQ(more->size(), 1u);
  EXPECT_TRUE(more->count("example.org"));
  EXPECT_EQ(ReadFile(qmail + "/control/locals"), std::string(kTargetMe) + "\n");
}

}  // namespace
}  // namespace vmigrate::testing::cli
