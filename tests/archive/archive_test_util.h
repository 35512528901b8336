// Helpers shared by archive_writer_test.cc and archive_reader_test.cc.
#ifndef VMIGRATE_TESTS_ARCHIVE_ARCHIVE_TEST_UTIL_H_
#define VMIGRATE_TESTS_ARCHIVE_ARCHIVE_TEST_UTIL_H_

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "archive/archive_reader.h"
#include "archive/archive_writer.h"

namespace vmigrate::testing {

struct ReadEntry {
  EntryHeader header;
  std::string data;
};

// Reads every entry; on error returns the entries so far and sets *status.
inline std::vector<ReadEntry> ReadArchive(const std::string& path, Status* status) {
  std::vector<ReadEntry> out;
  auto reader = ArchiveReader::Open(path);
  if (!reader.ok()) {
    *status = reader.status();
    return out;
  }
  for (int guard = 0; guard < 100000; ++guard) {
    ReadEntry e;
    auto more = (*reader)->Next(&e.header);
    if (!more.ok()) {
      *status = more.status();
      return out;
    }
    if (!*more) {
      *status = Status::OK();
      return out;
    }
    auto data = (*reader)->ReadAll(size_t{64} << 20);
    if (!data.ok()) {
      *status = data.status();
      return out;
    }
    e.data = std::move(*data);
    out.push_back(std::move(e));
  }
  *status = Status::Corrupt("test: too many entries");
  return out;
}

inline EntryInfo Info(const std::string& path, mode_t mode, std::int64_t sec, long nsec) {
  EntryInfo i;
  i.path = path;
  i.mode = mode;
  i.mtime_sec = sec;
  i.mtime_nsec = nsec;
  return i;
}

}  // namespace vmigrate::testing

#endif  // VMIGRATE_TESTS_ARCHIVE_ARCHIVE_TEST_UTIL_H_
