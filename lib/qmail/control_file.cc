#include "qmail/control_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/strings.h"
#include "qmail/assign.h"

namespace vmigrate::qmail {
namespace {

// vpopmail splits the domain into at most this many labels (strtok, so
// empty labels vanish and anything past the tenth is ignored).
constexpr size_t kMaxLabels = 10;

bool IsTerminator(const std::string& line) { return line == "."; }

}  // namespace

std::string VpopmailSortKey(std::string_view line, bool assign_format) {
  std::string_view name = line.substr(0, line.find(':'));
  if (assign_format) {
    if (!name.empty() && name.front() == '+') name.remove_prefix(1);
    if (!name.empty() && name.back() == '-') name.remove_suffix(1);
  }
  std::vector<std::string> labels;
  for (std::string& label : Split(name, '.')) {
    if (label.empty()) continue;
    if (labels.size() == kMaxLabels) break;
    labels.push_back(std::move(label));
  }
  if (labels.size() < 3) return Join(labels, ".");
  // The last two labels (the registered domain) go first, so hosts of one
  // domain sort next to it: "mail.example.com" -> "example.com.mail".
  std::vector<std::string> reordered;
  reordered.push_back(labels[labels.size() - 2]);
  reordered.push_back(labels[labels.size() - 1]);
  reordered.insert(reordered.end(), labels.begin(), labels.end() - 2);
  return Join(reordered, ".");
}

Result<ControlFile> ControlFile::Load(const std::string& path, bool assign_format) {
  ControlFile file;
  file.path_ = path;
  file.assign_format_ = assign_format;
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) return file;
    return text.status();
  }
  file.present_ = true;
  file.lines_ = SplitLines(*text);
  if (assign_format) {
    // vpopmail drops every "." line while copying and appends one at the end.
    file.lines_.erase(std::remove_if(file.lines_.begin(), file.lines_.end(), IsTerminator),
                      file.lines_.end());
  }
  return file;
}

bool ControlFile::Contains(std::string_view line) const {
  return std::find(lines_.begin(), lines_.end(), line) != lines_.end();
}

bool ControlFile::InsertSorted(const std::string& line) {
  if (Contains(line)) return false;
  std::string key = VpopmailSortKey(line, assign_format_);
  auto it = std::find_if(lines_.begin(), lines_.end(), [&](const std::string& existing) {
    return std::strcmp(VpopmailSortKey(existing, assign_format_).c_str(), key.c_str()) > 0;
  });
  lines_.insert(it, line);
  return true;
}

bool ControlFile::Append(const std::string& line) {
  if (Contains(line)) return false;
  lines_.push_back(line);
  return true;
}

bool ControlFile::Remove(std::string_view line) {
  size_t before = lines_.size();
  lines_.erase(std::remove(lines_.begin(), lines_.end(), line), lines_.end());
  return lines_.size() != before;
}

std::string ControlFile::Text() const {
  std::string out;
  for (const std::string& line : lines_) {
    out += line;
    out += '\n';
  }
  if (assign_format_) out += ".\n";
  return out;
}

QmailFileAttrs QmailFileAttrsFor(const std::string& path) {
  QmailFileAttrs attrs;
  const bool root = geteuid() == 0;
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    attrs.mode = st.st_mode & 07777;
    if (root) attrs.owner = FileOwner{st.st_uid, st.st_gid};
  } else if (root) {
    attrs.owner = FileOwner{0, 0};
  }
  return attrs;
}

Status ControlFile::Save() const {
  QmailFileAttrs attrs = QmailFileAttrsFor(path_);
  return WriteFileAtomic(path_, Text(), attrs.mode, attrs.owner);
}

Status WriteMoreRcpthostsCdb(std::string_view morercpthosts_text, const std::string& cdb_path) {
  std::vector<std::pair<std::string, std::string>> records;
  for (const std::string& raw : SplitLines(morercpthosts_text)) {
    std::string line = ToLower(raw);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    records.emplace_back(std::move(line), std::string());
  }
  // qmail-newmrh writes "morercpthosts.tmp" next to "morercpthosts.cdb".
  std::string tmp = cdb_path;
  if (EndsWith(tmp, ".cdb")) tmp.resize(tmp.size() - 4);
  tmp += ".tmp";
  return WriteCdbFile(records, cdb_path, tmp);
}

}  // namespace vmigrate::qmail
