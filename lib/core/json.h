// A minimal JSON writer for --json output (objects, arrays, strings,
// numbers, booleans), one line per document. The schema every command
// follows (first keys "schema" and "type", key names, units) is
// share/doc/json.md.
#ifndef VMIGRATE_CORE_JSON_H_
#define VMIGRATE_CORE_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vmigrate {

/// The "schema" number of every --json document (share/doc/json.md).
constexpr std::uint64_t kJsonSchema = 1;

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  /// Opens a top-level record: `{"schema":1,"type":"<type>"`.
  JsonWriter& BeginRecord(std::string_view type);
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  /// A string value. Bytes that are not valid UTF-8 become U+FFFD; when the
  /// value belongs to a key, the writer then adds "<key>_hex" with every byte
  /// of the original value as lowercase hex, so that the exact name can be
  /// rebuilt (share/doc/json.md, "Names that are not UTF-8").
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(std::uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Double(double value);  // fixed, 3 decimals ("C" locale)
  JsonWriter& Null();
  JsonWriter& StringArray(const std::vector<std::string>& values);
  const std::string& str() const { return out_; }

  /// `s` as a JSON string literal: quotes, backslashes and control bytes
  /// escaped, valid UTF-8 kept as it is, each invalid byte as U+FFFD.
  static std::string Quote(std::string_view s);
  /// True when `s` is well-formed UTF-8 (RFC 3629: no overlongs, no
  /// surrogates, nothing above U+10FFFF).
  static bool IsValidUtf8(std::string_view s);

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
  std::string last_key_;     // the key the next value belongs to
};

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_JSON_H_
