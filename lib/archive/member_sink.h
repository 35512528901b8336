// An archive being written together with its checksums.txt records: every
// member added here is also recorded (type, mode, mtime, size, SHA-256), and
// Finish() writes checksums.txt last and closes the archive. Used by sources
// that build their members themselves (export --from unix) rather than
// copying a tree; the records are spilled to a temp file (RecordSpool), so
// memory stays flat however many members there are.
#ifndef VMIGRATE_ARCHIVE_MEMBER_SINK_H_
#define VMIGRATE_ARCHIVE_MEMBER_SINK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "archive/archive_writer.h"
#include "archive/checksums.h"
#include "core/sha256.h"
#include "core/status.h"

namespace vmigrate {

class MemberSink {
 public:
  /// Opens the archive (ArchiveWriter::Open: whole or not at all, kConflict
  /// for an existing `path` without `overwrite`, kInvalidInput for a terminal).
  static Result<std::unique_ptr<MemberSink>> Open(const std::string& path, Compression compression,
                                                  bool overwrite);

  Status AddDirectory(const EntryInfo& info);
  /// A small file whose bytes are at hand; `rewritten`: it holds path placeholders.
  Status AddBytes(const EntryInfo& info, const std::string& data, bool rewritten = false);
  /// A streamed file: BeginFile, WriteData exactly info.size bytes, EndFile.
  Status BeginFile(const EntryInfo& info);
  Status WriteData(const void* data, size_t size);
  Status EndFile();
  /// Writes checksums.txt and closes; the archive exists under its name only after this.
  Status Finish();

  std::uint64_t members() const { return spool_.count(); }
  bool failed() const { return writer_->failed(); }

 private:
  MemberSink() = default;
  void Record(char type, const EntryInfo& info, std::int64_t size, const std::string& sha, bool rewritten);

  std::unique_ptr<ArchiveWriter> writer_;
  RecordSpool spool_;
  Status record_status_;
  EntryInfo open_;
  Sha256 sha_;
};

}  // namespace vmigrate

#endif  // VMIGRATE_ARCHIVE_MEMBER_SINK_H_
