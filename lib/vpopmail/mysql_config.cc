#include "vpopmail/mysql_config.h"

#include <cstdlib>
#include <vector>

#include "core/atomic_file.h"
#include "core/strings.h"

namespace vmigrate::vpopmail {
namespace {

// vpopmail reads the file with fgets() into a 256-byte buffer: a longer
// line would be cut into pieces it then misreads.
constexpr size_t kLineBuffer = 256;

// strtok(line, "|\n"): the non-empty runs between separators.
std::vector<std::string> StrtokFields(std::string_view line) {
  std::vector<std::string> fields;
  std::string cur;
  for (char c : line) {
    if (c == '|' || c == '\n') {
      if (!cur.empty()) fields.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) fields.push_back(cur);
  return fields;
}

}  // namespace

Result<sql::ConnectSettings> ParseVpopmailMysql(std::string_view text, const std::string& file) {
  // The connection lines with their 1-based line numbers.
  std::vector<std::pair<size_t, std::string>> lines;
  size_t number = 0;
  for (const std::string& line : SplitLines(text)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    if (line.size() + 1 >= kLineBuffer)  // + the '\n' fgets keeps
      return Status::IoError(file + " line " + std::to_string(number) + ": longer than the " +
                             std::to_string(kLineBuffer - 1) + " bytes vpopmail reads");
    lines.emplace_back(number, line);
  }
  if (lines.empty()) return Status::IoError(file + ": no connection line (host|port|user|password|database)");
  const auto& [line_no, line] = lines.size() >= 2 ? lines[1] : lines[0];
  std::vector<std::string> f = StrtokFields(line);
  if (f.size() < 5)
    return Status::IoError(file + " line " + std::to_string(line_no) + ": " + std::to_string(f.size()) +
                           " of the 5 fields host|port|user|password|database (vpopmail skips an empty "
                           "field, so none may be empty)");
  sql::ConnectSettings s;
  s.host = f[0];
  if (f[1][0] == '/') {
    s.socket = f[1];
  } else {
    s.port = static_cast<unsigned>(std::atoi(f[1].c_str()));  // atoi, as vpopmail: 0 = default
  }
  s.user = f[2];
  s.password = f[3];
  s.database = f[4];
  return s;
}

std::string VpopmailMysqlPath(const HostPaths& paths) {
  if (!paths.mysql_config.empty()) return paths.mysql_config;
  return paths.OnDisk(paths.vpopmail_home + "/etc/vpopmail.mysql");
}

Result<sql::ConnectSettings> LoadConnectSettings(const HostPaths& paths) {
  std::string file = VpopmailMysqlPath(paths);
  auto text = ReadSmallFile(file, 1 << 20);
  if (!text.ok()) return Status::IoError("MySQL settings: " + text.status().message());
  auto settings = ParseVpopmailMysql(*text, file);
  if (!settings.ok()) return settings.status();
  if (!paths.mysql_socket.empty()) {
    settings->socket = paths.mysql_socket;
    settings->host = "localhost";
    settings->port = 0;
  }
  return settings;
}

}  // namespace vmigrate::vpopmail
