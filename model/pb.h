// Protobuf wire encoding by hand, for the few etcd messages whose exact bytes
// matter (WAL records, raft entries, hard states, conf changes). etcd marshals
// them with gogoproto: fields in number order, non-nullable scalars written
// even when zero, byte fields written when non-nil. The generic protobuf
// library would drop the zeros, so these are encoded explicitly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace model::pb {

inline void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline void PutUint(std::string& out, int field, uint64_t v) {
  PutVarint(out, static_cast<uint64_t>(field) << 3);
  PutVarint(out, v);
}
inline void PutBytes(std::string& out, int field, std::string_view bytes) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | 2);
  PutVarint(out, bytes.size());
  out.append(bytes);
}

// A forward-only reader; every method returns false on malformed input.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return at_ >= data_.size(); }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= data_.size()) return false;
      const uint8_t byte = static_cast<uint8_t>(data_[at_++]);
      *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;
  }
  // Reads a tag; then the caller reads the value with Varint or Bytes (or Skip).
  bool Tag(int* field, int* wire_type) {
    uint64_t tag;
    if (!Varint(&tag)) return false;
    *field = static_cast<int>(tag >> 3);
    *wire_type = static_cast<int>(tag & 7);
    return *field > 0;
  }
  bool Bytes(std::string* out) {
    uint64_t length;
    if (!Varint(&length) || length > data_.size() - at_) return false;
    out->assign(data_.substr(at_, length));
    at_ += length;
    return true;
  }
  bool Skip(int wire_type) {
    uint64_t ignored;
    std::string bytes;
    switch (wire_type) {
      case 0: return Varint(&ignored);
      case 1: if (data_.size() - at_ < 8) return false; at_ += 8; return true;
      case 2: return Bytes(&bytes);
      case 5: if (data_.size() - at_ < 4) return false; at_ += 4; return true;
    }
    return false;
  }

 private:
  std::string_view data_;
  size_t at_ = 0;
};

// Calls on_varint(field, value) for each varint field and on_bytes(field,
// bytes) for each length-delimited one, in order, skipping other wire types.
// False if the data is malformed or a callback returns false.
template <typename OnVarint, typename OnBytes>
bool Walk(std::string_view data, OnVarint on_varint, OnBytes on_bytes) {
  Reader reader(data);
  while (!reader.done()) {
    int field, wire;
    if (!reader.Tag(&field, &wire)) return false;
    if (wire == 0) {
      uint64_t v;
      if (!reader.Varint(&v) || !on_varint(field, v)) return false;
    } else if (wire == 2) {
      std::string bytes;
      if (!reader.Bytes(&bytes) || !on_bytes(field, std::move(bytes))) return false;
    } else if (!reader.Skip(wire)) {
      return false;
    }
  }
  return true;
}

}  // namespace model::pb
