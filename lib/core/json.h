// A minimal JSON writer for --json output (objects, arrays, strings,
// numbers, booleans). Output is one line unless pretty printing is asked.
#ifndef VMIGRATE_CORE_JSON_H_
#define VMIGRATE_CORE_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vmigrate {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(std::uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Double(double value);  // fixed, 3 decimals
  JsonWriter& Null();
  JsonWriter& StringArray(const std::vector<std::string>& values);
  const std::string& str() const { return out_; }

  static std::string Quote(std::string_view s);

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_JSON_H_
