#include "vpopmail/limits_file.h"

#include <cstdlib>

namespace vmigrate::vpopmail {
namespace {

enum class Kind { kNumber, kFlag, kPerm };

struct Field {
  const char* column;    // limits table column
  const char* file_key;  // .qmailadmin-limits key
  Kind kind;
  const char* default_value;
};

// In the order vlimits_write_limits_file writes them; flags in its order
// too (disable_webmail before disable_external_relay, unlike the table).
constexpr Field kFields[] = {
    {"maxpopaccounts", "maxpopaccounts", Kind::kNumber, "-1"},
    {"maxaliases", "maxaliases", Kind::kNumber, "-1"},
    {"maxforwards", "maxforwards", Kind::kNumber, "-1"},
    {"maxautoresponders", "maxautoresponders", Kind::kNumber, "-1"},
    {"maxmailinglists", "maxmailinglists", Kind::kNumber, "-1"},
    {"diskquota", "quota", Kind::kNumber, "0"},
    {"maxmsgcount", "maxmsgcount", Kind::kNumber, "0"},
    {"defaultquota", "default_quota", Kind::kNumber, "0"},
    {"defaultmaxmsgcount", "default_maxmsgcount", Kind::kNumber, "0"},
    {"disable_pop", "disable_pop", Kind::kFlag, "0"},
    {"disable_imap", "disable_imap", Kind::kFlag, "0"},
    {"disable_dialup", "disable_dialup", Kind::kFlag, "0"},
    {"disable_passwordchanging", "disable_password_changing", Kind::kFlag, "0"},
    {"disable_webmail", "disable_webmail", Kind::kFlag, "0"},
    {"disable_relay", "disable_external_relay", Kind::kFlag, "0"},
    {"disable_smtp", "disable_smtp", Kind::kFlag, "0"},
    {"disable_spamassassin", "disable_spamassassin", Kind::kFlag, "0"},
    {"delete_spam", "delete_spam", Kind::kFlag, "0"},
    {"disable_maildrop", "disable_maildrop", Kind::kFlag, "0"},
    {"perm_account", "perm_account", Kind::kPerm, "0"},
    {"perm_alias", "perm_alias", Kind::kPerm, "0"},
    {"perm_forward", "perm_forward", Kind::kPerm, "0"},
    {"perm_autoresponder", "perm_autoresponder", Kind::kPerm, "0"},
    {"perm_maillist", "perm_maillist", Kind::kPerm, "0"},
    {"perm_quota", "perm_quota", Kind::kPerm, "0"},
    {"perm_defaultquota", "perm_defaultquota", Kind::kPerm, "0"},
};

constexpr long kDisableAll = 7;         // VLIMIT_DISABLE_ALL: one 3-bit permission
constexpr long kMaillistSubBits = 0770;  // perm_maillist's user and moderator bits

std::string Get(const LimitsRow& row, const Field& f) {
  auto it = row.find(f.column);
  return it == row.end() ? f.default_value : it->second;
}

long Number(const std::string& s) { return std::atol(s.c_str()); }

}  // namespace

const std::vector<std::string>& LimitsColumns() {
  // Table order (LIMITS_TABLE_LAYOUT); the same set as kFields.
  static const std::vector<std::string> columns = {
      "maxpopaccounts", "maxaliases", "maxforwards", "maxautoresponders", "maxmailinglists",
      "diskquota", "maxmsgcount", "defaultquota", "defaultmaxmsgcount", "disable_pop", "disable_imap",
      "disable_dialup", "disable_passwordchanging", "disable_webmail", "disable_relay", "disable_smtp",
      "disable_spamassassin", "delete_spam", "disable_maildrop", "perm_account", "perm_alias",
      "perm_forward", "perm_autoresponder", "perm_maillist", "perm_quota", "perm_defaultquota"};
  return columns;
}

std::string FormatLimitsFile(const LimitsRow& row) {
  long maillist = 0;
  for (const Field& f : kFields)
    if (std::string(f.column) == "perm_maillist") maillist = Number(Get(row, f));
  std::string out;
  for (const Field& f : kFields) {
    std::string value = Get(row, f);
    switch (f.kind) {
      case Kind::kNumber:
        out += std::string(f.file_key) + ": " + value + "\n";
        break;
      case Kind::kFlag:
        if (Number(value) != 0) out += std::string(f.file_key) + "\n";
        break;
      case Kind::kPerm: {
        std::string key = f.column;
        if (key == "perm_maillist") value = std::to_string(maillist & kDisableAll);
        if (key == "perm_quota") value = std::to_string((Number(value) & kDisableAll) | (maillist & kMaillistSubBits));
        out += std::string(f.file_key) + ": " + value + "\n";
        break;
      }
    }
  }
  return out;
}

LimitsRow ParseLimitsFile(std::string_view text) {
  LimitsRow row;
  for (const Field& f : kFields) row[f.column] = f.default_value;
  long file_maillist = 0, file_quota = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t key_end = line.find_first_of(" \t:");
    std::string key(line.substr(0, key_end));
    std::string value;
    bool has_value = false;
    if (key_end != std::string_view::npos) {
      size_t v = line.find_first_not_of(" \t:", key_end);
      if (v != std::string_view::npos) value = std::string(line.substr(v));
      has_value = true;  // vpopmail's s2 is set even when only separators follow
    }
    for (const Field& f : kFields) {
      if (key != f.file_key) continue;
      if (f.kind == Kind::kFlag) {
        row[f.column] = "1";
      } else if (!has_value) {
        // vpopmail keeps the previous value when the key has no value
      } else if (f.kind == Kind::kNumber) {
        row[f.column] = std::to_string(std::strtoll(value.c_str(), nullptr, 10));
      } else if (key == "perm_maillist") {
        file_maillist = Number(value);
      } else if (key == "perm_quota") {
        file_quota = Number(value);
      } else {
        row[f.column] = std::to_string(Number(value) & kDisableAll);
      }
    }
  }
  row["perm_maillist"] = std::to_string((file_maillist & 0777) | (file_quota & kMaillistSubBits));
  row["perm_quota"] = std::to_string(file_quota & kDisableAll);
  return row;
}

}  // namespace vmigrate::vpopmail
