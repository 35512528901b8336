// libFuzzer target: the import side's archive reading, piece by piece.
// The input is written to a memfd / temp file and read with ArchiveReader
// (Open, then Next + Read over every entry, any compression libarchive
// detects). Every member path goes through CheckMemberPath, and every line
// of a checksums.txt member through ParseRecord; records that parse are
// formatted and parsed again (the round trip must be exact).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "archive/archive_reader.h"
#include "archive/checksums.h"
#include "fuzz_util.h"
#include "archive/layout.h"
#include "model/manifest.h"
#include "model/manifest_yaml.h"

namespace {

constexpr size_t kMaxMemberBytes = 4u << 20;   // per member: memory stays flat
constexpr size_t kMaxTotalBytes = 64u << 20;   // per input: compression bombs stay fast

void CheckLines(const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + start, nl - start);
    start = nl + 1;
    auto rec = vmigrate::ParseRecord(line);
    if (!rec.ok()) continue;
    vmigrate::Status p = vmigrate::CheckMemberPath(rec->path);
    (void)p;
    std::string formatted = vmigrate::FormatRecord(*rec);
    if (formatted.empty() || formatted.back() != '\n') abort();
    auto back = vmigrate::ParseRecord(std::string_view(formatted).substr(0, formatted.size() - 1));
    if (!back.ok() || !(*back == *rec)) {
      fprintf(stderr, "FormatRecord/ParseRecord round trip differs for: %s", formatted.c_str());
      abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static vmigrate_fuzz::InputFile* input = new vmigrate_fuzz::InputFile();
  const std::string& path = input->Write(data, size);

  auto reader = vmigrate::ArchiveReader::Open(path);
  if (!reader.ok()) return 0;
  vmigrate::EntryHeader h;
  char buf[8192];
  size_t grand_total = 0;
  for (int entries = 0; entries < 10000; ++entries) {
    auto more = (*reader)->Next(&h);
    if (!more.ok() || !*more) break;
    vmigrate::Status ps = vmigrate::CheckMemberPath(h.path);
    (void)ps;
    if (h.type == vmigrate::EntryType::kSymlink || h.type == vmigrate::EntryType::kHardlink) {
      vmigrate::Status ls = vmigrate::CheckMemberPath(h.link_target);
      (void)ls;
    }
    if (h.path == vmigrate::kChecksumsEntry || h.path == vmigrate::kManifestEntry) {
      auto text = (*reader)->ReadAll(kMaxMemberBytes);
      if (!text.ok()) break;
      if (h.path == vmigrate::kChecksumsEntry) {
        CheckLines(*text);
      } else {
        auto m = vmigrate::ManifestFromYaml(*text);
        (void)m;
      }
      continue;
    }
    // Other members: stream them with Read, as the importer does.
    size_t total = 0;
    bool failed = false;
    while (total < kMaxMemberBytes && grand_total < kMaxTotalBytes) {
      auto n = (*reader)->Read(buf, sizeof buf);
      if (!n.ok()) { failed = true; break; }
      if (*n == 0) break;
      if (*n > sizeof buf) abort();
      total += *n;
      grand_total += *n;
    }
    if (failed || grand_total >= kMaxTotalBytes) break;
  }
  return 0;
}
