#include "mbox/pop3_uidl.h"

#include <cstdio>

namespace vmigrate::mbox {
namespace {

constexpr const char* kDefaultFormat = "%08Xu%08Xv";

// Expands `format`; with `out` null it only validates.
Status Expand(const std::string& format, std::uint32_t uid, std::uint32_t validity,
              std::string* out) {
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      if (out != nullptr) out->push_back(c);
      continue;
    }
    size_t start = i++;
    if (i < format.size() && format[i] == '%') {
      if (out != nullptr) out->push_back('%');
      continue;
    }
    bool zero = false;
    int width = 0;
    if (i < format.size() && format[i] == '0') {
      zero = true;
      ++i;
    }
    while (i < format.size() && format[i] >= '0' && format[i] <= '9' && width < 100)
      width = width * 10 + (format[i++] - '0');
    bool hex = false;
    if (i < format.size() && format[i] == 'X') {
      hex = true;
      ++i;
    }
    std::string var;
    if (i < format.size() && format[i] == '{') {
      size_t close = format.find('}', i);
      if (close == std::string::npos)
        return Status::InvalidInput("POP3 UIDL format \"" + format + "\": unterminated %{");
      var = format.substr(i + 1, close - i - 1);
      i = close;
    } else if (i < format.size()) {
      var = std::string(1, format[i]);
    } else {
      return Status::InvalidInput("POP3 UIDL format \"" + format + "\": ends with '%'");
    }
    std::uint32_t value;
    if (var == "u" || var == "uid") {
      value = uid;
    } else if (var == "v" || var == "uidvalidity") {
      value = validity;
    } else {
      return Status::InvalidInput("POP3 UIDL format \"" + format + "\": variable \"" +
                                  format.substr(start, i - start + 1) +
                                  "\" is not supported (only %u and %v, with 0-padding and X, "
                                  "can be computed from an mbox's UIDs; or use x-uidl)");
    }
    if (out != nullptr) {
      char buf[128];
      std::snprintf(buf, sizeof(buf), hex ? (zero ? "%0*x" : "%*x") : (zero ? "%0*u" : "%*u"),
                    width, static_cast<unsigned>(value));
      out->append(buf);
    }
  }
  return Status::OK();
}

}  // namespace

Status CheckUidlFormat(const std::string& format) {
  if (format == "x-uidl") return Status::OK();
  if (format.empty()) return Status::InvalidInput("POP3 UIDL format is empty");
  return Expand(format, 0, 0, nullptr);
}

Result<std::string> FormatUidl(const std::string& format, std::uint32_t uid_validity,
                               const Message& m) {
  std::string out;
  if (format == "x-uidl") {
    if (!m.x_uidl.empty()) return m.x_uidl;
    VM_RETURN_IF_ERROR(Expand(kDefaultFormat, m.uid, uid_validity, &out));
    return out;
  }
  VM_RETURN_IF_ERROR(CheckUidlFormat(format));
  VM_RETURN_IF_ERROR(Expand(format, m.uid, uid_validity, &out));
  return out;
}

bool FileNameSafeUidl(const std::string& uidl) {
  if (uidl.empty() || uidl[0] == '.') return false;
  for (char c : uidl) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '/' || c == ':') return false;
  }
  return true;
}

}  // namespace vmigrate::mbox
