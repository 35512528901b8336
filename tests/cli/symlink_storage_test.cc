// Storage reached through symlinks (issue 12, kind 1), end to end: admins
// move a domain, a mailbox or a Maildir to a bigger disk and leave a
// symlink, and vpopmail, qmail-local and the POP/IMAP servers follow it.
// Export carries what they serve and names each link it followed; import
// lands in a symlinked domains/ or bucket dir; verify follows the same
// links, so on the source right after export it is clean only when the
// archive holds that mail. A link never leads outside --root. Symlinks
// inside a home that are not storage (a shared folder) stay links and are
// rewritten when fresh hashing moves the homes they point into.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "support/test_support.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::testing::cli {
namespace {

const std::string kDomainHost = std::string(kFixtureVpopmailHome) + "/domains/example.com";
const std::vector<std::string> kRegenerated = {"vpasswd", "vpasswd.cdb", ".vpasswd.lock", ".dir-control"};

// Messages (files in cur/ and new/ of any folder) below `maildir`.
size_t Messages(const std::string& maildir) {
  size_t n = 0;
  if (!fs::exists(maildir)) return 0;
  for (auto it = fs::recursive_directory_iterator(maildir); it != fs::recursive_directory_iterator(); ++it) {
    std::string parent = it->path().parent_path().filename().string();
    if (it->is_regular_file() && !it->is_symlink() && (parent == "cur" || parent == "new")) ++n;
  }
  return n;
}

std::string ReadLink(const std::string& path) {
  std::error_code ec;
  return fs::read_symlink(path, ec).string();
}

class SymlinkStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UnpackFixture("real-small", src_.path());
    MakeEmptyTarget(dst_.path());
    archive_ = work_ / "a.vma";
  }

  // Moves ROOT/<from> to ROOT/<to> (same filesystem: modes and mtimes stay)
  // and leaves a symlink with text `link_text` in its place.
  static void MoveBehindLink(const std::string& root, const std::string& from, const std::string& to,
                             const std::string& link_text) {
    fs::create_directories(fs::path(root + "/" + to).parent_path());
    ASSERT_EQ(rename((root + "/" + from).c_str(), (root + "/" + to).c_str()), 0) << from;
    ASSERT_EQ(symlink(link_text.c_str(), (root + "/" + from).c_str()), 0) << from;
  }

  std::string SrcDomainRel() const { return kDomainHost.substr(1); }  // relative to the root
  std::string DstDomain() const { return TargetHomeDisk(dst_.path()) + "/domains/example.com"; }

  CommandResult VerifySource(const std::vector<std::string>& extra = {}) {
    return RunVmigrate(Concat(Concat({"verify", archive_}, SourceFlags(src_.path())), extra));
  }
  CommandResult VerifyTarget(const std::vector<std::string>& extra = {}) {
    return RunVmigrate(Concat(Concat({"verify", archive_}, TargetFlags(dst_.path())), extra));
  }

  // export; verify on the source; import; verify on the target: all clean.
  void RoundTrip(CommandResult* exported = nullptr) {
    CommandResult e = Export(src_.path(), "example.com", archive_);
    ASSERT_EQ(e.exit_code, 0) << e.err;
    CommandResult vs = VerifySource();
    EXPECT_EQ(vs.exit_code, 0) << "verify on the source right after export\n" << vs.out << vs.err;
    CommandResult i = Import(dst_.path(), archive_);
    ASSERT_EQ(i.exit_code, 0) << i.err;
    CommandResult vt = VerifyTarget();
    EXPECT_EQ(vt.exit_code, 0) << vt.out << vt.err;
    if (exported) *exported = e;
  }

  DomainMapping Mapping() const {
    DomainMapping m;
    m.domain = "example.com";
    m.src_root = src_.path();
    m.dst_root = dst_.path();
    m.src_rel = m.dst_rel = "domains/example.com";
    return m;
  }

  TempDir src_, dst_, work_;
  std::string archive_;
};

// --- source side: the domain dir ---------------------------------------------

TEST_F(SymlinkStorageTest, RelativeDomainDirLinkIsFollowedNamedAndRoundTrips) {
  // The field case domain-dir-symlink: the link resolves inside the tree.
  MoveBehindLink(src_.path(), SrcDomainRel(), "data2/mail/example.com",
                 "../../../../../data2/mail/example.com");
  CommandResult e;
  RoundTrip(&e);
  EXPECT_NE(e.err.find("vmigrate: export: notice: followed storage symlink " + kDomainHost +
                       " -> ../../../../../data2/mail/example.com (/data2/mail/example.com)"),
            std::string::npos)
      << e.err;
  ExpectSameTree(Mapping(), src_.path() + "/data2/mail/example.com", DstDomain(), kRegenerated);
  EXPECT_EQ(Messages(DstDomain() + "/alice/Maildir"), Messages(src_.path() + "/data2/mail/example.com/alice/Maildir"));
  EXPECT_GT(Messages(DstDomain() + "/alice/Maildir"), 0u);
}

TEST_F(SymlinkStorageTest, AbsoluteDomainDirLinkIsTakenUnderTheRoot) {
  // Before: exit 7 "does not exist under ROOT" (the link was read on this host).
  MoveBehindLink(src_.path(), SrcDomainRel(), "data2/mail/example.com", "/data2/mail/example.com");
  CommandResult e = Export(src_.path(), "example.com", archive_, {"--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("\"followed_symlinks\":[{\"link\":\"" + kDomainHost +
                       "\",\"target\":\"/data2/mail/example.com\",\"resolved\":\"/data2/mail/example.com\"}]"),
            std::string::npos)
      << e.out;
  CommandResult vs = VerifySource();
  EXPECT_EQ(vs.exit_code, 0) << vs.out << vs.err;
  ASSERT_EQ(Import(dst_.path(), archive_).exit_code, 0);
  EXPECT_EQ(VerifyTarget().exit_code, 0);
  ExpectSameTree(Mapping(), src_.path() + "/data2/mail/example.com", DstDomain(), kRegenerated);
}

TEST_F(SymlinkStorageTest, DomainDirLinkThatLeavesTheRootIsRefusedWithOneLine) {
  const std::string good = work_ / "good.vma";
  ASSERT_EQ(Export(src_.path(), "example.com", good).exit_code, 0);
  // Five levels up from domains/ is the root; the sixth leaves it.
  MoveBehindLink(src_.path(), SrcDomainRel(), "data2/mail/example.com",
                 "../../../../../../data2/mail/example.com");
  CommandResult e = Export(src_.path(), "example.com", archive_);
  EXPECT_EQ(e.exit_code, 1) << e.err;
  EXPECT_EQ(Lines(e.err).size(), 1u) << e.err;
  EXPECT_NE(e.err.find("symlink " + kDomainHost + " -> ../../../../../../data2/mail/example.com leads "
                       "outside --root " + src_.path()),
            std::string::npos)
      << e.err;
  EXPECT_FALSE(fs::exists(archive_));
  // verify refuses the same link the same way.
  archive_ = good;
  CommandResult v = VerifySource();
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
  EXPECT_NE(v.err.find("leads outside --root"), std::string::npos) << v.err;
}

// --- source side: a home, a Maildir --------------------------------------------

TEST_F(SymlinkStorageTest, RelativeHomeLinkCarriesTheMailbox) {
  // The field case user-home-symlink: before, bob's 3 messages were lost with exit 0.
  MoveBehindLink(src_.path(), SrcDomainRel() + "/bob", "bigdisk/bob", "../../../../../../bigdisk/bob");
  CommandResult e;
  RoundTrip(&e);
  EXPECT_EQ(e.err.find("does not exist"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("followed storage symlink " + kDomainHost + "/bob -> ../../../../../../bigdisk/bob"),
            std::string::npos)
      << e.err;
  EXPECT_EQ(Messages(DstDomain() + "/bob/Maildir"), Messages(src_.path() + "/bigdisk/bob/Maildir"));
  EXPECT_GE(Messages(DstDomain() + "/bob/Maildir"), 3u);
  ExpectSameTree(Mapping(), src_.path() + "/bigdisk/bob", DstDomain() + "/bob");
}

TEST_F(SymlinkStorageTest, AbsoluteHomeLinkOutsideTheVpopmailHomeCarriesTheMailbox) {
  MoveBehindLink(src_.path(), SrcDomainRel() + "/bob", "bigdisk/bob", "/bigdisk/bob");
  RoundTrip();
  EXPECT_EQ(Messages(DstDomain() + "/bob/Maildir"), Messages(src_.path() + "/bigdisk/bob/Maildir"));
  ExpectSameTree(Mapping(), src_.path() + "/bigdisk/bob", DstDomain() + "/bob");
}

TEST_F(SymlinkStorageTest, HomeLinkInsideTheVpopmailHomeCarriesTheMailbox) {
  // Another place under ~vpopmail (not a domain): still storage, still carried.
  MoveBehindLink(src_.path(), SrcDomainRel() + "/bob", "tmp/realvp/home/vpopmail/spool/bob", "../../spool/bob");
  RoundTrip();
  EXPECT_EQ(Messages(DstDomain() + "/bob/Maildir"),
            Messages(src_.path() + "/tmp/realvp/home/vpopmail/spool/bob/Maildir"));
}

TEST_F(SymlinkStorageTest, VerifyOnTheSourceFailsWhenTheArchiveLacksALinkedMailbox) {
  // An archive made while bob's home was not there, checked against the tree
  // where it is there through a link: verify must see the mailbox.
  fs::rename(src_.path() + "/" + SrcDomainRel() + "/bob", src_.path() + "/bigdisk-bob");
  CommandResult e = Export(src_.path(), "example.com", archive_);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.err.find("home of bob"), std::string::npos) << e.err;  // really missing: a warning
  ASSERT_EQ(symlink("../../../../../../bigdisk-bob", (src_.path() + "/" + SrcDomainRel() + "/bob").c_str()), 0);
  CommandResult v = VerifySource();
  EXPECT_EQ(v.exit_code, 3) << v.out << v.err;
  EXPECT_NE(v.out.find("user bob: .: home directory exists; the archive has none"), std::string::npos) << v.out;
}

TEST_F(SymlinkStorageTest, DanglingHomeLinkIsAWarningNamingTheLink) {
  ASSERT_EQ(symlink("/bigdisk/gone", (src_.path() + "/" + SrcDomainRel() + "/bob.tmp").c_str()), 0);
  fs::remove_all(src_.path() + "/" + SrcDomainRel() + "/bob");
  fs::rename(src_.path() + "/" + SrcDomainRel() + "/bob.tmp", src_.path() + "/" + SrcDomainRel() + "/bob");
  CommandResult e = Export(src_.path(), "example.com", archive_);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.err.find("home of bob (" + kDomainHost + "/bob) does not exist (symlink " + kDomainHost +
                       "/bob -> /bigdisk/gone); the account is carried without files"),
            std::string::npos)
      << e.err;
}

TEST_F(SymlinkStorageTest, MaildirLinkIsCarriedAsTheMaildir) {
  MoveBehindLink(src_.path(), SrcDomainRel() + "/bob/Maildir", "bigdisk/bob-Maildir", "/bigdisk/bob-Maildir");
  CommandResult e;
  RoundTrip(&e);
  EXPECT_NE(e.err.find("followed storage symlink " + kDomainHost + "/bob/Maildir -> /bigdisk/bob-Maildir"),
            std::string::npos)
      << e.err;
  struct stat st;
  ASSERT_EQ(lstat((DstDomain() + "/bob/Maildir").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(Messages(DstDomain() + "/bob/Maildir"), Messages(src_.path() + "/bigdisk/bob-Maildir"));
  ExpectSameTree(Mapping(), src_.path() + "/bigdisk/bob-Maildir", DstDomain() + "/bob/Maildir");
}

// --- links that are not storage ------------------------------------------------

TEST_F(SymlinkStorageTest, SharedFolderLinksFollowAHomeThatMovesBucket) {
  // bob lives in bucket 0/ on the source; fresh hashing puts him at the top.
  const std::string dom = src_.path() + "/" + SrcDomainRel();
  fs::create_directories(dom + "/0");
  ASSERT_EQ(rename((dom + "/bob").c_str(), (dom + "/0/bob").c_str()), 0);
  auto users = vpopmail::ReadVpasswd(dom + "/vpasswd");
  ASSERT_TRUE(users.ok());
  for (auto& u : *users)
    if (u.name == "bob") u.dir = kDomainHost + "/0/bob";
  ASSERT_TRUE(vpopmail::WriteVpasswdFiles(dom, *users, std::nullopt).ok());
  WriteFile(dom + "/.qmail-archive", kDomainHost + "/0/bob/Maildir/\n");
  // alice sees bob's Trash: once relative, once absolute.
  ASSERT_EQ(symlink("../../0/bob/Maildir/.Trash", (dom + "/alice/Maildir/.BobTrash").c_str()), 0);
  ASSERT_EQ(symlink((kDomainHost + "/0/bob/Maildir/.Trash").c_str(), (dom + "/alice/Maildir/.BobAbs").c_str()), 0);
  // and bob sees alice's Sent, from one level deeper.
  ASSERT_EQ(symlink("../../../alice/Maildir/.Sent", (dom + "/0/bob/Maildir/.AliceSent").c_str()), 0);

  RoundTrip();
  EXPECT_EQ(ReadLink(DstDomain() + "/alice/Maildir/.BobTrash"), "../../bob/Maildir/.Trash");
  EXPECT_EQ(ReadLink(DstDomain() + "/alice/Maildir/.BobAbs"), "/srv/vpopmail/domains/example.com/bob/Maildir/.Trash");
  EXPECT_EQ(ReadLink(DstDomain() + "/bob/Maildir/.AliceSent"), "../../alice/Maildir/.Sent");
  EXPECT_TRUE(fs::is_directory(DstDomain() + "/alice/Maildir/.BobTrash/cur"));
  EXPECT_TRUE(fs::is_directory(DstDomain() + "/bob/Maildir/.AliceSent/cur"));

  // verify compares the rewritten link, not the archive's text (mtimes kept).
  const std::string maildir = DstDomain() + "/alice/Maildir", link = maildir + "/.BobTrash";
  struct stat dir_st, link_st;
  ASSERT_EQ(lstat(maildir.c_str(), &dir_st), 0);
  ASSERT_EQ(lstat(link.c_str(), &link_st), 0);
  ASSERT_EQ(unlink(link.c_str()), 0);
  ASSERT_EQ(symlink("../../0/bob/Maildir/.Trash", link.c_str()), 0);
  struct timespec link_times[2] = {link_st.st_mtim, link_st.st_mtim};
  struct timespec dir_times[2] = {dir_st.st_mtim, dir_st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, link.c_str(), link_times, AT_SYMLINK_NOFOLLOW), 0);
  ASSERT_EQ(utimensat(AT_FDCWD, maildir.c_str(), dir_times, AT_SYMLINK_NOFOLLOW), 0);
  CommandResult v = VerifyTarget();
  EXPECT_EQ(v.exit_code, 3) << v.out << v.err;
  EXPECT_NE(v.out.find("user alice: Maildir/.BobTrash: symlink points to '../../0/bob/Maildir/.Trash', the "
                       "archive says '../../bob/Maildir/.Trash'"),
            std::string::npos)
      << v.out;
}

// --- target side ------------------------------------------------------------------

TEST_F(SymlinkStorageTest, ImportLandsInARelativelySymlinkedDomainsDir) {
  // The field case target-domains-symlink: before, exit 5 "exists and is not a directory".
  const std::string home = TargetHomeDisk(dst_.path());
  fs::create_directories(dst_.path() + "/data/domains");
  ASSERT_EQ(symlink("../../data/domains", (home + "/domains").c_str()), 0);
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  CommandResult i = Import(dst_.path(), archive_);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.err.find("vmigrate: import: notice: followed storage symlink /srv/vpopmail/domains -> "
                       "../../data/domains (/data/domains)"),
            std::string::npos)
      << i.err;
  EXPECT_EQ(ReadLink(home + "/domains"), "../../data/domains");
  EXPECT_TRUE(fs::is_directory(dst_.path() + "/data/domains/example.com/alice/Maildir/cur"));
  EXPECT_TRUE(fs::exists(dst_.path() + "/data/domains/.dir-control"));
  EXPECT_TRUE(StagingLeftovers(dst_.path()).empty());
  EXPECT_NE(ReadFile(TargetQmailDisk(dst_.path()) + "/users/assign")
                .find("+example.com-:example.com:"),
            std::string::npos);
  CommandResult v = VerifyTarget();
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  ExpectSameTree(Mapping(), src_.path() + "/" + SrcDomainRel(), dst_.path() + "/data/domains/example.com",
                 kRegenerated);
}

TEST_F(SymlinkStorageTest, ImportLandsInAnAbsolutelySymlinkedDomainsDirUnderTheRoot) {
  const std::string home = TargetHomeDisk(dst_.path());
  fs::create_directories(dst_.path() + "/data/domains");
  ASSERT_EQ(symlink("/data/domains", (home + "/domains").c_str()), 0);
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  CommandResult i = Import(dst_.path(), archive_, {"--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("\"followed_symlinks\":[{\"link\":\"/srv/vpopmail/domains\",\"target\":\"/data/domains\""),
            std::string::npos)
      << i.out;
  EXPECT_TRUE(fs::is_directory(dst_.path() + "/data/domains/example.com/alice/Maildir/cur"));
  CommandResult v = VerifyTarget();
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // A second import of the same domain finds it through the link.
  CommandResult again = Import(dst_.path(), archive_);
  EXPECT_EQ(again.exit_code, 5) << again.err;
}

TEST_F(SymlinkStorageTest, DryRunThroughASymlinkedDomainsDirPlansTheRealRun) {
  const std::string home = TargetHomeDisk(dst_.path());
  fs::create_directories(dst_.path() + "/data/domains");
  ASSERT_EQ(symlink("/data/domains", (home + "/domains").c_str()), 0);
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  auto before = TreeDigest(dst_.path());
  CommandResult plan = Import(dst_.path(), archive_, {"--dry-run"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(SymlinkStorageTest, DanglingDomainsLinkOnTheTargetIsNotFound) {
  ASSERT_EQ(symlink("/data/nowhere", (TargetHomeDisk(dst_.path()) + "/domains").c_str()), 0);
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  auto before = TreeDigest(dst_.path());
  CommandResult i = Import(dst_.path(), archive_);
  EXPECT_EQ(i.exit_code, 7) << i.err;
  EXPECT_NE(i.err.find("target /srv/vpopmail/domains is a symlink to /data/nowhere, which does not exist"),
            std::string::npos)
      << i.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(SymlinkStorageTest, DomainsLinkThatLeavesTheTargetRootIsRefused) {
  ASSERT_EQ(symlink("../../../../data", (TargetHomeDisk(dst_.path()) + "/domains").c_str()), 0);
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  auto before = TreeDigest(dst_.path());
  CommandResult i = Import(dst_.path(), archive_);
  EXPECT_EQ(i.exit_code, 1) << i.err;
  EXPECT_NE(i.err.find("symlink /srv/vpopmail/domains -> ../../../../data leads outside --root"),
            std::string::npos)
      << i.err;
  EXPECT_EQ(DigestDiff(before, TreeDigest(dst_.path())), "");
}

TEST_F(SymlinkStorageTest, ImportLandsInASymlinkedBucketDir) {
  // 100 domains on the target: the next one goes to bucket 0/, which is on another disk.
  const std::string home = TargetHomeDisk(dst_.path());
  fs::create_directories(home + "/domains");
  WriteFile(home + "/domains/.dir-control", vpopmail::AllocateBuckets(std::nullopt, 100).final_text);
  ASSERT_EQ(vpopmail::AllocateBuckets(ReadFile(home + "/domains/.dir-control"), 1).buckets[0], "0");
  fs::create_directories(dst_.path() + "/disk2/bucket0");
  ASSERT_EQ(symlink("/disk2/bucket0", (home + "/domains/0").c_str()), 0);
  ASSERT_EQ(Export(src_.path(), "example.com", archive_).exit_code, 0);
  CommandResult i = Import(dst_.path(), archive_);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_TRUE(fs::is_directory(dst_.path() + "/disk2/bucket0/example.com/alice/Maildir/cur"));
  EXPECT_EQ(ReadLink(home + "/domains/0"), "/disk2/bucket0");
  EXPECT_NE(ReadFile(TargetQmailDisk(dst_.path()) + "/users/assign")
                .find(":/srv/vpopmail/domains/0/example.com:-::"),
            std::string::npos);
  EXPECT_TRUE(StagingLeftovers(dst_.path()).empty());
  CommandResult v = VerifyTarget();
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// --- server backups ---------------------------------------------------------------

TEST_F(SymlinkStorageTest, ServerBackupCarriesASymlinkedDomainDirAndRestoresIt) {
  MoveBehindLink(src_.path(), "tmp/realvp/home/vpopmail/domains/example.net", "data2/example.net",
                 "/data2/example.net");
  CommandResult e = RunVmigrate(Concat({"export", "--all", "-o", archive_}, SourceFlags(src_.path())));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.err.find("followed storage symlink " + std::string(kFixtureVpopmailHome) +
                       "/domains/example.net -> /data2/example.net"),
            std::string::npos)
      << e.err;
  for (const char* d : {"example.com", "example.net"}) {
    CommandResult v = VerifySource({"--domain", d});
    EXPECT_EQ(v.exit_code, 0) << d << "\n" << v.out << v.err;
  }
  CommandResult i = RunVmigrate(Concat({"import", archive_, "--all", "--no-reload"}, TargetFlags(dst_.path())));
  ASSERT_EQ(i.exit_code, 0) << i.err;
  for (const char* d : {"example.com", "example.net"}) {
    CommandResult v = VerifyTarget({"--domain", d});
    EXPECT_EQ(v.exit_code, 0) << d << "\n" << v.out << v.err;
  }
  DomainMapping m = Mapping();
  m.domain = "example.net";
  m.src_rel = m.dst_rel = "domains/example.net";
  ExpectSameTree(m, src_.path() + "/data2/example.net", TargetHomeDisk(dst_.path()) + "/domains/example.net",
                 kRegenerated);
}

}  // namespace
}  // namespace vmigrate::testing::cli
