#include "mbox/pop3_uidl.h"

#include <gtest/gtest.h>

namespace vmigrate::mbox {
namespace {

Message WithUid(std::uint32_t uid, const std::string& x_uidl = "") {
  Message m;
  m.uid = uid;
  m.x_uidl = x_uidl;
  return m;
}

TEST(Pop3Uidl, DovecotFormatsGiveTheFixtureValues) {
  // alice's message 1 in client-view/pop3-uidl-*.txt (UIDVALIDITY 1685949153).
  Message m = WithUid(1);
  EXPECT_EQ(*FormatUidl("%08Xu%08Xv", 1685949153, m), "00000001647d8ae1");
  EXPECT_EQ(*FormatUidl("%08Xv%08Xu", 1685949153, m), "647d8ae100000001");
  EXPECT_EQ(*FormatUidl("%v.%u", 1685949153, m), "1685949153.1");
  EXPECT_EQ(*FormatUidl("%{uidvalidity}-%{uid}", 1685949153, m), "1685949153-1");
  EXPECT_EQ(*FormatUidl("%Xu/%Xv%%", 255, WithUid(171)), "ab/ff%");
  EXPECT_EQ(*FormatUidl("%4u", 1, WithUid(7)), "   7");
}

TEST(Pop3Uidl, XUidlUsesTheHeaderElseTheDefault) {
  EXPECT_EQ(*FormatUidl("x-uidl", 1795962205, WithUid(2, "3f8a1c9e2b7d4e60a1b2c3d4e5f60718")),
            "3f8a1c9e2b7d4e60a1b2c3d4e5f60718");
  EXPECT_EQ(*FormatUidl("x-uidl", 1795962205, WithUid(3)), "000000036b0c355d");
}

TEST(Pop3Uidl, UnsupportedVariablesAreRefusedByName) {
  for (const char* f : {"%m", "%08Xu%m", "%{md5}", "%f", "%g", "abc%", "%{uid"}) {
    Status s = CheckUidlFormat(f);
    EXPECT_EQ(s.code(), Status::Code::kInvalidInput) << f;
    Result<std::string> r = FormatUidl(f, 1, WithUid(1));
    EXPECT_FALSE(r.ok()) << f;
  }
  EXPECT_NE(CheckUidlFormat("%08Xu%m").message().find("\"%m\""), std::string::npos)
      << CheckUidlFormat("%08Xu%m").message();
  EXPECT_TRUE(CheckUidlFormat("x-uidl").ok());
  EXPECT_TRUE(CheckUidlFormat("%08Xv%08Xu").ok());
  EXPECT_FALSE(CheckUidlFormat("").ok());
}

TEST(Pop3Uidl, FileNameSafety) {
  EXPECT_TRUE(FileNameSafeUidl("00000001647d8ae1"));
  EXPECT_TRUE(FileNameSafeUidl("1685949153.1"));
  EXPECT_TRUE(FileNameSafeUidl("a!~"));
  EXPECT_FALSE(FileNameSafeUidl(""));
  EXPECT_FALSE(FileNameSafeUidl(".hidden"));
  EXPECT_FALSE(FileNameSafeUidl("a/b"));
  EXPECT_FALSE(FileNameSafeUidl("a:2,S"));
  EXPECT_FALSE(FileNameSafeUidl("a b"));
  EXPECT_FALSE(FileNameSafeUidl(std::string("a\x7f", 2)));
  EXPECT_FALSE(FileNameSafeUidl("caf\xc3\xa9"));
}

}  // namespace
}  // namespace vmigrate::mbox
