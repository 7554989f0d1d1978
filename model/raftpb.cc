#include "model/raftpb.h"

#include "model/pb.h"

namespace model::raftpb {

std::string Encode(const Entry& entry) {
  std::string out;
  pb::PutUint(out, 1, static_cast<uint64_t>(entry.type));
  pb::PutUint(out, 2, entry.term);
  pb::PutUint(out, 3, entry.index);
  if (entry.data.has_value()) pb::PutBytes(out, 4, *entry.data);
  return out;
}

std::string Encode(const HardState& state) {
  std::string out;
  pb::PutUint(out, 1, state.term);
  pb::PutUint(out, 2, state.vote);
  pb::PutUint(out, 3, state.commit);
  return out;
}

std::string Encode(const ConfChange& change) {
  std::string out;
  pb::PutUint(out, 1, change.id);
  pb::PutUint(out, 2, static_cast<uint64_t>(change.type));
  pb::PutUint(out, 3, change.node_id);
  if (change.context.has_value()) pb::PutBytes(out, 4, *change.context);
  return out;
}

std::string Encode(const WalSnapshot& snapshot) {
  std::string out;
  pb::PutUint(out, 1, snapshot.index);
  pb::PutUint(out, 2, snapshot.term);
  return out;
}

std::string Encode(const Metadata& metadata) {
  std::string out;
  pb::PutUint(out, 1, metadata.node_id);
  pb::PutUint(out, 2, metadata.cluster_id);
  return out;
}

bool Decode(std::string_view data, Entry* entry) {
  *entry = Entry();
  return pb::Walk(
      data,
      [&](int f, uint64_t v) {
        if (f == 1) entry->type = static_cast<EntryType>(v);
        if (f == 2) entry->term = v;
        if (f == 3) entry->index = v;
        return true;
      },
      [&](int f, std::string b) {
        if (f == 4) entry->data = std::move(b);
        return true;
      });
}

bool Decode(std::string_view data, HardState* state) {
  *state = HardState();
  return pb::Walk(
      data,
      [&](int f, uint64_t v) {
        if (f == 1) state->term = v;
        if (f == 2) state->vote = v;
        if (f == 3) state->commit = v;
        return true;
      },
      [](int, std::string) { return true; });
}

bool Decode(std::string_view data, ConfChange* change) {
  *change = ConfChange();
  return pb::Walk(
      data,
      [&](int f, uint64_t v) {
        if (f == 1) change->id = v;
        if (f == 2) change->type = static_cast<ConfChangeType>(v);
        if (f == 3) change->node_id = v;
        return true;
      },
      [&](int f, std::string b) {
        if (f == 4) change->context = std::move(b);
        return true;
      });
}

bool Decode(std::string_view data, WalSnapshot* snapshot) {
  *snapshot = WalSnapshot();
  return pb::Walk(
      data,
      [&](int f, uint64_t v) {
        if (f == 1) snapshot->index = v;
        if (f == 2) snapshot->term = v;
        return true;
      },
      [](int, std::string) { return true; });
}

bool Decode(std::string_view data, Metadata* metadata) {
  *metadata = Metadata();
  return pb::Walk(
      data,
      [&](int f, uint64_t v) {
        if (f == 1) metadata->node_id = v;
        if (f == 2) metadata->cluster_id = v;
        return true;
      },
      [](int, std::string) { return true; });
}

}  // namespace model::raftpb
