#include "vpopmail/names.h"

#include <gtest/gtest.h>

#include "support/test_support.h"
#include "vpopmail/vpasswd.h"

namespace vmigrate::vpopmail {
namespace {

using vmigrate::testing::TempDir;
using vmigrate::testing::UnpackFixture;

VpasswdEntry Entry() {
  auto e = ParseVpasswdLine(
      "alice:$1$8iXIBzKs$UgI/PCw3e/q6Ih8gjdOai.:1:0:Alice Example:"
      "/home/vpopmail/domains/example.com/alice:5000000S,1000C:Alice#2023");
  return *e;
}

TEST(NamesTest, AcceptsOrdinaryDomains) {
  for (const char* d : {"example.com", "a.b", "mail-1.example.co.uk", "0.example"}) {
    EXPECT_TRUE(ValidateDomainName(d).ok()) << d;
  }
}

TEST(NamesTest, RejectsMalformedDomains) {
  for (const char* d : {"", "ab", "Example.com", "example", "-example.com", "example.com-",
                        ".example.com", "example.com.", "exa..mple.com", "ex_ample.com",
                        "exa mple.com", "../etc.com", "a/b.com"}) {
    Status s = ValidateDomainName(d);
    EXPECT_EQ(s.code(), Status::Code::kInvalidInput) << d;
  }
  EXPECT_FALSE(ValidateDomainName(std::string(94, 'a') + ".com").ok());
  EXPECT_TRUE(ValidateDomainName(std::string(92, 'a') + ".com").ok());
}

TEST(NamesTest, AcceptsUserNamesVpopmailAccepts) {
  for (const char* n : {"alice", "first.last", "a-b_c+d", "x", "user001", "o'brien", "a=b",
                        "postmaster"}) {
    EXPECT_TRUE(ValidateUserName(n).ok()) << n;
  }
  EXPECT_TRUE(ValidateUserName(std::string(32, 'a')).ok());
}

TEST(NamesTest, RejectsUserNamesVpopmailRefuses) {
  for (const char* n : {"", ".", "..", "Alice", "a b", "a\"b", "a%b", "a(b", "a)b", "a,b",
                        "a:b", "a;b", "a<b", "a>b", "a@b", "a[b", "a\\b", "a]b", "a/b", "a\tb",
                        "caf\xc3\xa9", "a\x7f"}) {
    EXPECT_EQ(ValidateUserName(n).code(), Status::Code::kInvalidInput) << n;
  }
  EXPECT_FALSE(ValidateUserName(std::string(33, 'a')).ok());
  EXPECT_FALSE(ValidateUserName(std::string("a\0b", 3)).ok());
}

TEST(NamesTest, UserNameErrorEscapesControlBytes) {
  Status s = ValidateUserName("a\nb");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
}

TEST(NamesTest, AcceptsEveryQuotaForm) {
  for (const char* q : {"", "NOQUOTA", "NO", "NOthing", "1048576S", "1000C", "5000000S,1000C",
                        "1000C,5000000S", "1048576", "0S"}) {
    EXPECT_TRUE(ValidateQuota(q).ok()) << q;
  }
}

TEST(NamesTest, RejectsMalformedQuotas) {
  for (const char* q : {"abc", "10M", "S", "C", "5S,6S", "5C,6C", "1,2", "5S,", ",5S", "-5S",
                        "5 S", "123456789012345678901", "NO:QUOTA", "5S\n"}) {
    EXPECT_EQ(ValidateQuota(q).code(), Status::Code::kInvalidInput) << q;
  }
}

TEST(NamesTest, AcceptsEveryEntryOfTheRealFixtures) {
  TempDir root;
  UnpackFixture("real-small", root.path());
  UnpackFixture("real-hashed", root.path());
  for (const char* domain : {"example.com", "example.net", "big.example"}) {
    auto entries = ReadVpasswd(root.path() + "/tmp/realvp/home/vpopmail/domains/" + domain +
                               "/vpasswd");
    ASSERT_TRUE(entries.ok()) << entries.status().message();
    for (const auto& e : *entries) {
      Status s = ValidateEntry(e);
      EXPECT_TRUE(s.ok()) << s.message();
    }
  }
}

TEST(NamesTest, RejectsNonDecimalFlags) {
  for (const char* gid : {"", "-1", "0x10", "1 ", "4294967296"}) {
    VpasswdEntry e = Entry();
    e.gid = gid;
    EXPECT_FALSE(ValidateEntry(e).ok()) << gid;
  }
  VpasswdEntry e = Entry();
  e.gid = "4294967295";
  EXPECT_TRUE(ValidateEntry(e).ok());
}

TEST(NamesTest, AcceptsEmptyUidButNotText) {
  VpasswdEntry e = Entry();
  e.uid = "";
  EXPECT_TRUE(ValidateEntry(e).ok());
  e.uid = "pop";
  EXPECT_FALSE(ValidateEntry(e).ok());
}

TEST(NamesTest, RejectsColonsAndLineBreaksInStoredFieldsWithoutLeakingSecrets) {
  VpasswdEntry e = Entry();
  e.passwd = "$1$secret:hash";
  Status s = ValidateEntry(e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("password hash"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("secret"), std::string::npos) << s.message();

  e = Entry();
  e.gecos = "Alice\nExample";
  EXPECT_FALSE(ValidateEntry(e).ok());
  e = Entry();
  e.dir = "/home/x\r";
  EXPECT_FALSE(ValidateEntry(e).ok());
  e = Entry();
  e.clear = "line\nbreak-secret";
  s = ValidateEntry(e);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find("break-secret"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("alice"), std::string::npos) << s.message();
}

TEST(NamesTest, AllowsColonsInTheCleartextPassword) {
  VpasswdEntry e = Entry();
  e.clear = "pa:ss";
  EXPECT_TRUE(ValidateEntry(e).ok());
}

TEST(NamesTest, RejectsLinesTooLongForVpopmailsCdbBuilder) {
  VpasswdEntry e = Entry();
  size_t base = FormatVpasswdLine(e).size();
  e.gecos += std::string(254 - base, 'x');
  EXPECT_EQ(FormatVpasswdLine(e).size(), 254u);
  EXPECT_TRUE(CheckVpasswdLineLength(e, kVpasswdLineMax54).ok());
  EXPECT_EQ(VpasswdLineWarning(e), "");
  e.gecos += "x";
  Status s = CheckVpasswdLineLength(e, kVpasswdLineMax54);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kDataRefused);
  EXPECT_NE(s.message().find("255 bytes"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("at most 254"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'alice'"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("Alice#2023"), std::string::npos) << "no password in messages";
}

TEST(NamesTest, LineLengthIsNotPartOfTheEntryRules) {
  // vpopmail 5.6 writes such lines (SHA-512 hash, 64-byte gecos): export
  // reads them, only the reading host's limit decides.
  VpasswdEntry e = Entry();
  e.passwd = "$6$LongSalt1234abcd$" + std::string(86, 'h');
  e.gecos = std::string(64, 'g');
  e.clear = std::string(40, 'c');
  ASSERT_GT(VpasswdLineLength(e), kVpasswdLineMax54);
  EXPECT_TRUE(ValidateEntry(e).ok());
}

TEST(NamesTest, VpopmailFiveSixReadsLongerLinesThanFiveFour) {
  VpasswdEntry e = Entry();
  e.gecos += std::string(kVpasswdLineMax56 - VpasswdLineLength(e), 'x');
  ASSERT_EQ(VpasswdLineLength(e), kVpasswdLineMax56);
  EXPECT_EQ(CheckVpasswdLineLength(e, kVpasswdLineMax54).code(), Status::Code::kDataRefused);
  EXPECT_TRUE(CheckVpasswdLineLength(e, kVpasswdLineMax56).ok());
  std::string warning = VpasswdLineWarning(e);
  EXPECT_NE(warning.find("298 bytes"), std::string::npos) << warning;
  EXPECT_NE(warning.find("5.6 reads it"), std::string::npos) << warning;
  e.gecos += "x";
  EXPECT_FALSE(CheckVpasswdLineLength(e, kVpasswdLineMax56).ok());
  EXPECT_NE(VpasswdLineWarning(e).find("5.6 at most 298"), std::string::npos) << VpasswdLineWarning(e);
}

TEST(NamesTest, CarriesNamesVpopmailCannotReachButThatAreSafeOnDisk) {
  for (const char* n : {"Dave.Dunn", "ALICE", "a b", "j;reboot", "$(x)", "a%b", "a\"b",
                        "caf\xc3\xa9"}) {
    EXPECT_TRUE(CheckUserNameCarriable(n).ok()) << n;
    EXPECT_FALSE(ValidateUserName(n).ok()) << n;
    EXPECT_NE(UnreachableReason(n), "") << n;
  }
  EXPECT_TRUE(CheckUserNameCarriable(std::string(255, 'a')).ok());
  EXPECT_EQ(UnreachableReason("alice"), "");
}

TEST(NamesTest, RefusesNamesThatCouldEscapeADirectoryOrBreakALine) {
  for (const char* n : {"", ".", "..", "a/b", "../x", "a\\b", "a:b", "a@@b", "a\nb", "a\tb",
                        "a\x7f"}) {
    EXPECT_EQ(CheckUserNameCarriable(n).code(), Status::Code::kInvalidInput) << n;
  }
  EXPECT_FALSE(CheckUserNameCarriable(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(CheckUserNameCarriable(std::string(256, 'a')).ok());
  Status s = CheckUserNameCarriable("a\nb");
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
}

TEST(NamesTest, SaysWhyAnAccountIsUnreachable) {
  EXPECT_NE(UnreachableReason("Dave.Dunn").find("lower-cases every login"), std::string::npos);
  std::string long_name(40, 'a');
  EXPECT_NE(UnreachableReason(long_name).find("5.6 allows 64"), std::string::npos)
      << UnreachableReason(long_name);
  EXPECT_NE(UnreachableReason("a b").find("vpopmail never creates"), std::string::npos) << UnreachableReason("a b");
}

TEST(NamesTest, FindsTheUnreachableAccountsOfADomain) {
  ManifestDomain d;
  d.name = "example.com";
  for (const char* n : {"alice", "Dave.Dunn", "bob"}) {
    ManifestUser u;
    u.entry = Entry();
    u.entry.name = n;
    d.users.push_back(u);
  }
  auto found = FindUnreachableUsers(d);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].domain, "example.com");
  EXPECT_EQ(found[0].name, "Dave.Dunn");
  EXPECT_EQ(DescribeUnreachable(found[0]).rfind("example.com: user 'Dave.Dunn': upper-case", 0), 0u)
      << DescribeUnreachable(found[0]);
}

}  // namespace
}  // namespace vmigrate::vpopmail
