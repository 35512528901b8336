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
  EXPECT_TRUE(ValidateEntry(e).ok());
  e.gecos += "x";
  Status s = ValidateEntry(e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("255 bytes"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vmigrate::vpopmail
