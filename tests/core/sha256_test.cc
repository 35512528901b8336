#include "core/sha256.h"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

namespace vmigrate {
namespace {

constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256::Of(""), kEmpty);
  EXPECT_EQ(Sha256::Of("abc"), kAbc);
  EXPECT_EQ(Sha256::Of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, FreshObjectDigestsEmptyInput) {
  Sha256 h;
  EXPECT_EQ(h.HexDigest(), kEmpty);
}

TEST(Sha256Test, StreamingInChunksEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>((i * 131) & 0xff));
  std::string expected = Sha256::Of(data);
  for (size_t chunk : {1u, 7u, 64u, 65u, 4096u, 99999u}) {
    Sha256 h;
    for (size_t pos = 0; pos < data.size(); pos += chunk)
      h.Update(data.data() + pos, std::min(chunk, data.size() - pos));
    EXPECT_EQ(h.HexDigest(), expected) << "chunk " << chunk;
  }
}

TEST(Sha256Test, ZeroLengthUpdatesChangeNothing) {
  Sha256 h;
  h.Update("a", 1);
  h.Update("", 0);
  h.Update("bc", 2);
  EXPECT_EQ(h.HexDigest(), kAbc);
}

TEST(Sha256Test, HexDigestResetsTheObject) {
  Sha256 h;
  h.Update("abc", 3);
  EXPECT_EQ(h.HexDigest(), kAbc);
  EXPECT_EQ(h.HexDigest(), kEmpty);
  h.Update("abc", 3);
  EXPECT_EQ(h.HexDigest(), kAbc);
}

TEST(Sha256Test, DigestIsLowerCaseHex) {
  std::string d = Sha256::Of(std::string("\0\xff", 2));
  ASSERT_EQ(d.size(), 64u);
  EXPECT_EQ(d.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace vmigrate
