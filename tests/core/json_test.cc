#include "core/json.h"

#include <string>

#include <gtest/gtest.h>

namespace vmigrate {
namespace {

TEST(JsonTest, EmptyContainers) {
  JsonWriter w;
  w.BeginObject().Key("a").BeginArray().EndArray().Key("b").BeginObject().EndObject().EndObject();
  EXPECT_EQ(w.str(), R"({"a":[],"b":{}})");
}

TEST(JsonTest, NestedObjectsAndArrays) {
  JsonWriter w;
  w.BeginObject();
  w.Key("domain").String("example.com");
  w.Key("users").BeginArray();
  w.BeginObject().Key("name").String("alice").Key("messages").Number(3).EndObject();
  w.BeginObject().Key("name").String("bob").Key("present").Bool(false).EndObject();
  w.EndArray();
  w.Key("ok").Bool(true);
  w.Key("big").Number(18446744073709551615ull);
  w.Key("aliases").StringArray({"example.net", "example.org"});
  w.Key("none").StringArray({});
  w.Key("matrix").BeginArray().BeginArray().Number(1).Number(2).EndArray().BeginArray().EndArray()
      .EndArray();
  w.EndObject();
  EXPECT_EQ(w.str(),
            R"({"domain":"example.com","users":[{"name":"alice","messages":3},)"
            R"({"name":"bob","present":false}],"ok":true,"big":18446744073709551615,)"
            R"("aliases":["example.net","example.org"],"none":[],"matrix":[[1,2],[]]})");
}

TEST(JsonTest, TopLevelArray) {
  JsonWriter w;
  w.BeginArray().String("a").Number(0).Bool(true).EndArray();
  EXPECT_EQ(w.str(), R"(["a",0,true])");
}

TEST(JsonTest, QuoteEscapesQuotesAndBackslash) {
  EXPECT_EQ(JsonWriter::Quote(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
  EXPECT_EQ(JsonWriter::Quote(""), R"("")");
}

TEST(JsonTest, QuoteEscapesControlCharacters) {
  EXPECT_EQ(JsonWriter::Quote("a\nb\rc\td"), R"("a\nb\rc\td")");
  EXPECT_EQ(JsonWriter::Quote(std::string("\x01\x1f\0", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(JsonWriter::Quote("\b\f"), R"("\u0008\u000c")");
}

TEST(JsonTest, QuoteKeepsUtf8AndPrintableAscii) {
  EXPECT_EQ(JsonWriter::Quote("Jürgen Müller ✓ /path'x'"), "\"Jürgen Müller ✓ /path'x'\"");
}

TEST(JsonTest, KeysAreEscapedToo) {
  JsonWriter w;
  w.BeginObject().Key("a\"b\n").String("v\\").EndObject();
  EXPECT_EQ(w.str(), R"({"a\"b\n":"v\\"})");
}

}  // namespace
}  // namespace vmigrate
