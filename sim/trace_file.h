// The protobuf trace stream file (sim/trace.proto): writing it as a sink, and
// reading it back with clear errors for truncated or corrupt files.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/trace.h"
#include "sim/trace.pb.h"

namespace google::protobuf::io {
class OstreamOutputStream;
}

namespace sim {

class ProtoTraceSink : public TraceSink {
 public:
  // Opens `path` for writing and writes the header; fails if not writable.
  static absl::StatusOr<std::unique_ptr<ProtoTraceSink>> Open(const std::string& path,
                                                               const etcd_dst::trace::Header& header);
  ~ProtoTraceSink() override;
  void Write(const TraceRecord& record) override;
  void Flush() override;
  void WriteFooter(const etcd_dst::trace::Footer& footer);
  absl::Status status() const override;

 private:
  ProtoTraceSink() = default;
  void WriteRecord(const etcd_dst::trace::Record& record);
  std::string path_;
  std::ofstream file_;
  std::unique_ptr<google::protobuf::io::OstreamOutputStream> stream_;
};

struct TraceFileContents {
  etcd_dst::trace::Header header;
  std::vector<etcd_dst::trace::Event> events;
  bool has_footer = false;
  etcd_dst::trace::Footer footer;
  bool torn_tail = false;  // a last record cut short was dropped (keep_torn_tail)
};

// NotFound if missing; DataLoss with the record number if corrupt. With
// `keep_torn_tail`, a file without a footer whose last record runs past the
// end (a run killed while writing) gives every whole record before it.
absl::StatusOr<TraceFileContents> ReadTraceFile(const std::string& path, bool keep_torn_tail = false);

TraceRecord FromProto(const etcd_dst::trace::Event& event);

}  // namespace sim
