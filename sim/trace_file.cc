#include "sim/trace_file.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>

#include "absl/strings/str_cat.h"

namespace sim {

absl::StatusOr<std::unique_ptr<ProtoTraceSink>> ProtoTraceSink::Open(
    const std::string& path, const etcd_dst::trace::Header& header) {
  std::unique_ptr<ProtoTraceSink> sink(new ProtoTraceSink());
  sink->path_ = path;
  sink->file_.open(path, std::ios::binary | std::ios::trunc);
  if (!sink->file_) return absl::PermissionDeniedError(absl::StrCat("cannot write trace file ", path));
  sink->stream_ = std::make_unique<google::protobuf::io::OstreamOutputStream>(&sink->file_);
  etcd_dst::trace::Record record;
  *record.mutable_header() = header;
  sink->WriteRecord(record);
  return sink;
}

ProtoTraceSink::~ProtoTraceSink() { Flush(); }

void ProtoTraceSink::WriteRecord(const etcd_dst::trace::Record& record) {
  google::protobuf::util::SerializeDelimitedToZeroCopyStream(record, stream_.get());
}

void ProtoTraceSink::Write(const TraceRecord& in) {
  etcd_dst::trace::Record record;
  etcd_dst::trace::Event* event = record.mutable_event();
  event->set_time_ns(in.time.nanos());
  event->set_group(in.group);
  event->set_actor(in.actor);
  event->set_name(in.name);
  for (const TraceDetail& detail : in.details) {
    etcd_dst::trace::Detail* out = event->add_details();
    out->set_key(detail.key);
    out->set_value(detail.value);
  }
  WriteRecord(record);
}

void ProtoTraceSink::Flush() {
  // The zero-copy stream buffers; recreating it pushes its buffer to the file.
  if (stream_ == nullptr) return;
  stream_.reset();
  file_.flush();
  stream_ = std::make_unique<google::protobuf::io::OstreamOutputStream>(&file_);
}

absl::Status ProtoTraceSink::status() const {
  if (file_.good()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("cannot write trace file ", path_));
}

void ProtoTraceSink::WriteFooter(const etcd_dst::trace::Footer& footer) {
  etcd_dst::trace::Record record;
  *record.mutable_footer() = footer;
  WriteRecord(record);
  Flush();
}

namespace {
// True if the length-delimited record at `offset` of `path` runs past the end.
bool RunsPastTheEnd(const std::string& path, int64_t offset) {
  std::ifstream file(path, std::ios::binary);
  file.seekg(0, std::ios::end);
  const int64_t size = file.tellg();
  file.seekg(offset);
  uint64_t length = 0;
  int shift = 0, bytes = 0;
  for (int c; bytes < 10 && (c = file.get()) != EOF;) {
    ++bytes;
    length |= static_cast<uint64_t>(c & 0x7f) << shift;
    shift += 7;
    if ((c & 0x80) == 0) return offset + bytes + static_cast<int64_t>(length) > size;
  }
  return true;  // the length itself is cut short
}
}  // namespace

absl::StatusOr<TraceFileContents> ReadTraceFile(const std::string& path, bool keep_torn_tail) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open trace file ", path));
  google::protobuf::io::IstreamInputStream stream(&file);
  TraceFileContents contents;
  bool has_header = false;
  for (uint64_t index = 0;; ++index) {
    etcd_dst::trace::Record record;
    bool clean_eof = false;
    const int64_t offset = stream.ByteCount();
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&record, &stream, &clean_eof)) {
      if (clean_eof) break;
      if (keep_torn_tail && has_header && !contents.has_footer && RunsPastTheEnd(path, offset)) {
        contents.torn_tail = true;
        break;
      }
      return absl::DataLossError(absl::StrCat(path, ": record ", index, " is truncated or corrupt"));
    }
    if (index == 0 && !record.has_header()) {
      return absl::DataLossError(absl::StrCat(path, ": not an etcd-dst trace (no header record)"));
    }
    if (contents.has_footer) {
      return absl::DataLossError(absl::StrCat(path, ": record ", index, " follows the footer"));
    }
    switch (record.kind_case()) {
      case etcd_dst::trace::Record::kHeader:
        if (index != 0) return absl::DataLossError(absl::StrCat(path, ": second header at record ", index));
        contents.header = record.header();
        has_header = true;
        if (contents.header.format_version() != 1) {
          return absl::DataLossError(absl::StrCat(path, ": unknown trace format version ",
                                                  contents.header.format_version()));
        }
        break;
      case etcd_dst::trace::Record::kEvent:
        contents.events.push_back(record.event());
        break;
      case etcd_dst::trace::Record::kFooter:
        contents.has_footer = true;
        contents.footer = record.footer();
        break;
      default:
        return absl::DataLossError(absl::StrCat(path, ": record ", index, " has no kind"));
    }
  }
  if (!has_header) {
    return absl::DataLossError(absl::StrCat(path, ": empty trace file"));
  }
  return contents;
}

TraceRecord FromProto(const etcd_dst::trace::Event& event) {
  TraceRecord record;
  record.time = SimTime::FromNanos(event.time_ns());
  record.group = event.group();
  record.actor = event.actor();
  record.name = event.name();
  for (const auto& detail : event.details()) record.details.push_back({detail.key(), detail.value()});
  return record;
}

}  // namespace sim
