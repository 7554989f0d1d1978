// Checks that the model encodes WAL records byte for byte as the real etcd:
//   wal_tool reencode SEGMENT
// walks every record of a segment the real etcd wrote, decodes it with the
// model (frames, walpb.Record, raftpb.Entry/HardState, walpb.Snapshot,
// Metadata), encodes it again, and compares the bytes. Exit 0 if identical.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "model/raftpb.h"
#include "model/wal.h"

namespace {

template <typename Message>
bool RoundTrips(const std::string& data) {
  Message message;
  return model::raftpb::Decode(data, &message) && model::raftpb::Encode(message) == data;
}

int Reencode(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  uint64_t offset = 0;
  uint32_t crc = 0;
  int records = 0, entries = 0;
  while (true) {
    absl::StatusOr<model::wal::Frame> frame = model::wal::DecodeFrame(std::string_view(bytes).substr(offset));
    if (frame.status().code() == absl::StatusCode::kOutOfRange) break;
    if (!frame.ok()) {
      std::printf("record %d at %llu: %s\n", records, static_cast<unsigned long long>(offset),
                  std::string(frame.status().message()).c_str());
      return 1;
    }
    if (frame->type == model::wal::kCrc) crc = frame->crc;
    const std::string reencoded = model::wal::EncodeRecord(frame->type, frame->data ? &*frame->data : nullptr, &crc);
    if (reencoded != bytes.substr(offset, frame->frame_bytes)) {
      std::printf("record %d (type %lld) at %llu differs when encoded again\n", records,
                  static_cast<long long>(frame->type), static_cast<unsigned long long>(offset));
      return 1;
    }
    const std::string data = frame->data.value_or("");
    bool ok = true;
    switch (frame->type) {
      case model::wal::kEntry: ok = RoundTrips<model::raftpb::Entry>(data); ++entries; break;
      case model::wal::kState: ok = RoundTrips<model::raftpb::HardState>(data); break;
      case model::wal::kSnapshot: ok = RoundTrips<model::raftpb::WalSnapshot>(data); break;
      case model::wal::kMetadata: ok = RoundTrips<model::raftpb::Metadata>(data); break;
    }
    if (frame->type == model::wal::kEntry) {
      model::raftpb::Entry entry;
      model::raftpb::Decode(data, &entry);
      if (entry.type == model::raftpb::EntryType::kConfChange) ok = ok && RoundTrips<model::raftpb::ConfChange>(*entry.data);
    }
    if (!ok) {
      std::printf("record %d (type %lld): its message does not round-trip\n", records, static_cast<long long>(frame->type));
      return 1;
    }
    offset += frame->frame_bytes;
    ++records;
  }
  std::printf("%s: %d records (%d entries) re-encode byte for byte\n", path.c_str(), records, entries);
  return records > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "reencode") return Reencode(argv[2]);
  std::fprintf(stderr, "usage: wal_tool reencode SEGMENT\n");
  return 2;
}
