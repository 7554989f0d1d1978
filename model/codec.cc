#include "model/codec.h"

#include <openssl/evp.h>
#include <zlib.h>

#include "fmt/format.h"

namespace model {

std::string Sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

std::string Hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

std::string Gzip(std::string_view data) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip header and trailer; the default header has
  // no name and mtime 0, so the output depends on the data alone.
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, data.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

absl::StatusOr<std::string> Gunzip(std::string_view compressed) {
  std::string out;
  size_t offset = 0;
  do {
    z_stream stream{};
    if (inflateInit2(&stream, 15 + 16) != Z_OK) return absl::InternalError("inflateInit2");
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + offset));
    stream.avail_in = static_cast<uInt>(compressed.size() - offset);
    int result = Z_OK;
    // On the heap: actors have small stacks.
    std::string buffer(1 << 16, '\0');
    while (result == Z_OK) {
      stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
      stream.avail_out = static_cast<uInt>(buffer.size());
      result = inflate(&stream, Z_NO_FLUSH);
      out.append(buffer.data(), buffer.size() - stream.avail_out);
      if (result == Z_BUF_ERROR && stream.avail_in == 0) break;
      if (result == Z_BUF_ERROR) result = Z_OK;  // output space only
    }
    const size_t used = stream.total_in;
    inflateEnd(&stream);
    if (result != Z_STREAM_END) {
      return absl::DataLossError(result == Z_BUF_ERROR ? "unexpected EOF" : "gzip: invalid header");
    }
    offset += used;
  } while (offset < compressed.size());
  return out;
}

}  // namespace model
