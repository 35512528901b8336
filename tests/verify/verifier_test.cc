// Unit tests of the pieces `verify` builds on: UID list parsing (the real
// files of the real-small fixture), qmail-pop3d UIDLs and order, crypt_r.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "verify/uidlist.h"
#include "verify/verifier.h"

namespace vmigrate::verify {
namespace {

TEST(VerifierUidlistTest, DovecotUidlistV3FromTheFixture) {
  // alice's INBOX dovecot-uidlist, verbatim.
  auto r = ParseDovecotUidlist(
      "3 V1699866000 N7 G2c51a1b04f5b5a65d31c0000a1b2c3d4\n"
      "1 :1795424448.28190.mail.example.com,S=675\n"
      "2 :1795424449.28197.mail.example.com,S=680\n"
      "5 :1795424452.28218.mail.example.com,S=462\n"
      "6 :1795424461.28306.mail.example.com,S=368\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->kind, UidList::Kind::kDovecot);
  EXPECT_EQ(r->uidvalidity, 1699866000u);
  EXPECT_EQ(r->next_uid, 7u);
  EXPECT_EQ(r->by_key.size(), 4u);
  // Matched by the base name, whatever flags the file carries now.
  EXPECT_EQ(r->UidOf("1795424448.28190.mail.example.com,S=675:2,S"), 1u);
  EXPECT_EQ(r->UidOf("1795424449.28197.mail.example.com,S=680:2,RS"), 2u);
  EXPECT_EQ(r->UidOf("1795424452.28218.mail.example.com,S=462"), 5u);
  EXPECT_EQ(r->UidOf("1795424461.28306.mail.example.com,S=368"), 6u);
  EXPECT_EQ(r->UidOf("1795424999.1.mail.example.com,S=1"), 0u);
}

TEST(VerifierUidlistTest, DovecotRecordExtensionsAndFullNamesWithFlags) {
  auto r = ParseDovecotUidlist("3 N4 V42\n3 W700 O2 Pabc :1.2.host,S=680:2,RS\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->uidvalidity, 42u);
  EXPECT_EQ(r->next_uid, 4u);
  EXPECT_EQ(r->UidOf("1.2.host,S=680"), 3u);
  EXPECT_EQ(r->UidOf("1.2.host,S=680:2,S"), 3u);
}

TEST(VerifierUidlistTest, DovecotBadLinesAndVersionsAreRefused) {
  EXPECT_FALSE(ParseDovecotUidlist("").ok());
  EXPECT_FALSE(ParseDovecotUidlist("3 V1 N2\nx :name\n").ok());
  EXPECT_FALSE(ParseDovecotUidlist("3 V1 N2\n1 name-without-colon\n").ok());
  EXPECT_FALSE(ParseDovecotUidlist("3 Vx N2\n").ok());
  auto v9 = ParseDovecotUidlist("9 V1 N2\n");
  ASSERT_FALSE(v9.ok());
  EXPECT_EQ(v9.status().code(), Status::Code::kUnsupported);
  auto v1 = ParseDovecotUidlist("1 77 3\n2 1.2.host,S=5\n");
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  EXPECT_EQ(v1->uidvalidity, 77u);
  EXPECT_EQ(v1->UidOf("1.2.host,S=5:2,S"), 2u);
}

TEST(VerifierUidlistTest, CourierUiddbFromTheFixtureCutsAtTheLastColon) {
  // bob's INBOX courierimapuiddb, verbatim.
  auto r = ParseCourierUiddb(
      "1 1699952400 4\n"
      "1 1795424453.28225.mail.example.com,S=684\n"
      "3 1795424455.28239.mail.example.com,S=678\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->kind, UidList::Kind::kCourier);
  EXPECT_EQ(r->uidvalidity, 1699952400u);
  EXPECT_EQ(r->next_uid, 4u);
  EXPECT_EQ(r->UidOf("1795424453.28225.mail.example.com,S=684:2,S"), 1u);
  EXPECT_EQ(r->UidOf("1795424455.28239.mail.example.com,S=678:2,FS"), 3u);
  // A ':' inside the base name: Courier keeps everything up to the last ':'.
  auto c = ParseCourierUiddb("1 5 9\n8 odd:name\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->UidOf("odd:name:2,S"), 8u);
  EXPECT_EQ(c->KeyOf("odd:name:2,S"), "odd:name");
}

TEST(VerifierUidlistTest, CourierBadHeadersAreRefused) {
  EXPECT_FALSE(ParseCourierUiddb("").ok());
  EXPECT_FALSE(ParseCourierUiddb("2 1 2\n").ok());
  EXPECT_FALSE(ParseCourierUiddb("1 x 2\n").ok());
  EXPECT_FALSE(ParseCourierUiddb("1 1 2\n0 name\n").ok());
  EXPECT_FALSE(ParseCourierUiddb("1 1 2\n3\n").ok());
}

TEST(VerifierUidlTest, Pop3UidlIsTheNameCutAtTheFirstColon) {
  EXPECT_EQ(Pop3Uidl("1795424448.28190.mail.example.com,S=675:2,S"),
            "1795424448.28190.mail.example.com,S=675");
  EXPECT_EQ(Pop3Uidl("1795424452.28218.mail.example.com,S=462"), "1795424452.28218.mail.example.com,S=462");
  EXPECT_EQ(Pop3Uidl("odd:name:2,S"), "odd");
}

TEST(VerifierUidlTest, Pop3OrderIsAscendingMtimeThenName) {
  std::vector<MessageFile> m = {
      {"c:2,S", 300, 0}, {"a", 100, 5}, {"b:2,", 100, 1}, {"d", 200, 999999999}};
  EXPECT_EQ(Pop3Order(m), (std::vector<std::string>{"a", "b", "d", "c"}));
  // Nanoseconds do not reorder within a second (qmail keeps whole seconds).
  std::vector<MessageFile> n = {{"y", 5, 1}, {"x", 5, 2}};
  EXPECT_EQ(Pop3Order(n), (std::vector<std::string>{"x", "y"}));
}

}  // namespace
}  // namespace vmigrate::verify
