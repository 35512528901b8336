// Small string helpers shared by the format readers.
#ifndef VMIGRATE_CORE_STRINGS_H_
#define VMIGRATE_CORE_STRINGS_H_

#include <string>
#include <string_view>
#include <vector>

namespace vmigrate {

std::vector<std::string> Split(std::string_view s, char sep);
/// Splits on '\n'; a final line without '\n' is kept, a trailing '\n' adds no empty line.
std::vector<std::string> SplitLines(std::string_view text);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
std::string ToLower(std::string_view s);
/// The directory part of a path: "/a/b" -> "/a", "/a" -> "/", "a" -> ".".
std::string DirName(const std::string& path);
/// Without leading and trailing spaces, tabs and '\r'.
std::string Trim(std::string_view s);
/// Strict decimal parse of a non-negative integer; false on anything else.
bool ParseUint64(std::string_view s, unsigned long long* out);
/// Escapes '\\', '\n', '\r', '\t' and bytes < 0x20 or 0x7f as C escapes; inverse below.
std::string EscapeC(std::string_view s);
bool UnescapeC(std::string_view s, std::string* out);

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_STRINGS_H_
