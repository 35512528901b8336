#include "archive/member_sink.h"

#include <ctime>

#include "model/manifest.h"

namespace vmigrate {

Result<std::unique_ptr<MemberSink>> MemberSink::Open(const std::string& path, Compression compression,
                                                     bool overwrite) {
  auto writer = ArchiveWriter::Open(path, compression, overwrite);
  if (!writer.ok()) return writer.status();
  std::unique_ptr<MemberSink> sink(new MemberSink());
  sink->writer_ = std::move(*writer);
  VM_RETURN_IF_ERROR(sink->spool_.Init());
  return sink;
}

void MemberSink::Record(char type, const EntryInfo& info, std::int64_t size, const std::string& sha,
                        bool rewritten) {
  FileRecord r;
  r.type = type;
  r.mode = info.mode;
  r.mtime_sec = info.mtime_sec;
  r.mtime_nsec = info.mtime_nsec;
  r.size = size;
  r.sha256 = sha;
  r.rewritten = rewritten;
  r.path = info.path;
  Status s = spool_.Add(r);
  if (!s.ok() && record_status_.ok()) record_status_ = s;
}

Status MemberSink::AddDirectory(const EntryInfo& info) {
  VM_RETURN_IF_ERROR(writer_->AddDirectory(info));
  Record('d', info, 0, "-", false);
  return record_status_;
}

Status MemberSink::AddBytes(const EntryInfo& info, const std::string& data, bool rewritten) {
  EntryInfo i = info;
  i.size = static_cast<std::int64_t>(data.size());
  VM_RETURN_IF_ERROR(writer_->AddBytes(i, data));
  Record('f', i, i.size, Sha256::Of(data), rewritten);
  return record_status_;
}

Status MemberSink::BeginFile(const EntryInfo& info) {
  VM_RETURN_IF_ERROR(writer_->BeginFile(info));
  open_ = info;  // sha_ is fresh: HexDigest() reset it
  return Status::OK();
}

Status MemberSink::WriteData(const void* data, size_t size) {
  sha_.Update(data, size);
  return writer_->WriteData(data, size);
}

Status MemberSink::EndFile() {
  VM_RETURN_IF_ERROR(writer_->EndFile());
  Record('f', open_, open_.size, sha_.HexDigest(), false);
  return record_status_;
}

Status MemberSink::Finish() {
  VM_RETURN_IF_ERROR(record_status_);
  VM_RETURN_IF_ERROR(spool_.Rewind());
  std::string header = std::string(kChecksumsHeader) + "\n";
  EntryInfo ci;
  ci.path = kChecksumsEntry;
  ci.mode = 0600;
  ci.mtime_sec = std::time(nullptr);
  ci.size = static_cast<std::int64_t>(header.size() + spool_.bytes());
  VM_RETURN_IF_ERROR(writer_->BeginFile(ci));
  VM_RETURN_IF_ERROR(writer_->WriteData(header.data(), header.size()));
  std::string line;
  while (spool_.ReadLine(&line)) VM_RETURN_IF_ERROR(writer_->WriteData(line.data(), line.size()));
  VM_RETURN_IF_ERROR(writer_->EndFile());
  return writer_->Close();
}

}  // namespace vmigrate
