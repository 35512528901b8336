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

// U+FFFD as it appears in the output (UTF-8).
const std::string kFffd = "\xEF\xBF\xBD";

TEST(JsonTest, RecordStartsWithSchemaAndType) {
  JsonWriter w;
  w.BeginRecord("export").Key("users").Number(3).EndObject();
  EXPECT_EQ(w.str(), R"({"schema":1,"type":"export","users":3})");
}

TEST(JsonTest, InvalidUtf8BytesBecomeReplacementCharacters) {
  EXPECT_EQ(JsonWriter::Quote("a\xff" "b"), "\"a" + kFffd + "b\"");
  // A lone continuation byte, a truncated sequence, an overlong '/', a
  // UTF-16 surrogate and a code point above U+10FFFF: one U+FFFD per byte.
  EXPECT_EQ(JsonWriter::Quote("\x80"), "\"" + kFffd + "\"");
  EXPECT_EQ(JsonWriter::Quote("\xe2\x82" "x"), "\"" + kFffd + kFffd + "x\"");
  EXPECT_EQ(JsonWriter::Quote("\xc0\xaf"), "\"" + kFffd + kFffd + "\"");
  EXPECT_EQ(JsonWriter::Quote("\xed\xa0\x80"), "\"" + kFffd + kFffd + kFffd + "\"");
  EXPECT_EQ(JsonWriter::Quote("\xf4\x90\x80\x80"), "\"" + kFffd + kFffd + kFffd + kFffd + "\"");
  // Valid sequences of every length stay as they are.
  EXPECT_EQ(JsonWriter::Quote("\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7"), "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7\"");
}

TEST(JsonTest, IsValidUtf8) {
  EXPECT_TRUE(JsonWriter::IsValidUtf8(""));
  EXPECT_TRUE(JsonWriter::IsValidUtf8("J\xc3\xbcrgen \xf4\x8f\xbf\xbf"));
  EXPECT_FALSE(JsonWriter::IsValidUtf8("\xff"));
  EXPECT_FALSE(JsonWriter::IsValidUtf8("ok\xc3"));
  EXPECT_FALSE(JsonWriter::IsValidUtf8("\xe0\x80\x80"));
}

TEST(JsonTest, KeyedInvalidStringGetsAHexSibling) {
  JsonWriter w;
  w.BeginObject().Key("name").String(".qmail-\xff").Key("n").Number(1).EndObject();
  EXPECT_EQ(w.str(), "{\"name\":\".qmail-" + kFffd + "\",\"name_hex\":\"2e716d61696c2dff\",\"n\":1}");
  // Valid values get no sibling; array elements cannot have one.
  JsonWriter v;
  v.BeginObject().Key("name").String("ok").Key("list").StringArray({"\xfe"}).EndObject();
  EXPECT_EQ(v.str(), "{\"name\":\"ok\",\"list\":[\"" + kFffd + "\"]}");
}

}  // namespace
}  // namespace vmigrate
