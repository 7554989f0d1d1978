// Writes bbolt images for the real-etcd conformance check, and reads back
// files the real etcd wrote.
//   bbolt_images write DIR   -> DIR/<case>/member/snap/db and DIR/expected.txt
//                               ("<case> ok" or "<case> <text etcd prints>")
//   bbolt_images read FILE BUCKET KEYS
//                            -> parses FILE with the model's reader and checks
//                               that BUCKET holds KEYS keys (exit 0) or says why (exit 1)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "model/bbolt.h"
#include "sim/disk.h"
#include "sim/simulation.h"

namespace {

using model::bbolt::Buckets;

Buckets TestBuckets(int keys) {
  Buckets state;
  for (int i = 0; i < keys; ++i) state["conformance"][fmt::format("key-{:08d}", i)] = std::string(100 + i % 300, 'v');
  state["conformance-big"]["huge"] = std::string(20000, 'h');  // an overflow page
  state["conformance-inline"]["small"] = "s";
  return state;
}

// A db written the way etcd's backend writes it: 80 incremental commits on
// the simulated disk that add keys, overwrite and delete some (leaves split,
// merge and move to freed pages). Returns the file and the bucket's final
// number of keys.
std::pair<std::string, size_t> IncrementalImage() {
  sim::Simulation simulation({.seed = 1, .workload = "bbolt-images"});
  sim::Disk disk(&simulation, "images");
  std::string image;
  size_t keys = 0;
  simulation.scheduler().Spawn(nullptr, "writer", [&] {
    auto opened = model::bbolt::Db::Open(&disk, "db");
    if (!opened.ok() || opened->db == nullptr) std::abort();
    model::bbolt::Bucket reference;
    for (int round = 0; round < 80; ++round) {
      model::bbolt::Changes changes;
      for (int i = 0; i < 150; ++i) {
        const std::string key = fmt::format("key-{:08d}", (round * 150 + i) * 7 % 9000);
        if (i % 4 == 3) {
          changes["conformance"].keys[key] = std::nullopt;
          reference.erase(key);
        } else {
          const std::string value(60 + (round + i) % 200, static_cast<char>('a' + round % 26));
          changes["conformance"].keys[key] = value;
          reference[key] = value;
        }
      }
      changes["conformance-inline"].keys["round"] = std::to_string(round);
      if (!opened->db->Commit(changes).ok()) std::abort();
    }
    keys = reference.size();
    opened->db.reset();
    absl::StatusOr<int> fd = disk.Open("db");
    image = *disk.Pread(*fd, 0, UINT64_MAX);
    (void)disk.Close(*fd);
  });
  simulation.scheduler().Run();
  simulation.Shutdown();
  return {image, keys};
}

int Write(const std::string& dir) {
  const std::string full = model::bbolt::InitImage();
  std::string meta0_zeroed = full;
  std::fill(meta0_zeroed.begin(), meta0_zeroed.begin() + 4096, '\0');
  std::vector<std::pair<std::string, std::string>> cases = {
      {"whole-init", full},
      {"empty", ""},
      {"first-4096", full.substr(0, 4096)},
      {"first-8192", full.substr(0, 8192)},
      {"first-12288", full.substr(0, 12288)},
      {"first-8192-then-zeros", full.substr(0, 8192) + std::string(8192, '\0')},
      {"zeros-then-last-8192", std::string(8192, '\0') + full.substr(8192)},
      {"meta0-zeroed", meta0_zeroed},
      {"model-committed", model::bbolt::BuildImage(TestBuckets(2000), 5)},
  };
  const auto [incremental, incremental_keys] = IncrementalImage();
  cases.push_back({"model-incremental", incremental});
  std::ofstream(dir + "/incremental_keys.txt") << incremental_keys << "\n";
  std::ofstream expected(dir + "/expected.txt");
  for (const auto& [name, image] : cases) {
    const std::string snap = dir + "/" + name + "/member/snap";
    std::filesystem::create_directories(snap);
    std::ofstream(snap + "/db", std::ios::binary).write(image.data(), static_cast<std::streamsize>(image.size()));
    const std::string path = std::filesystem::absolute(snap + "/db").string();
    const model::bbolt::ParsedImage parsed = model::bbolt::ParseImage(image, path);
    expected << name << " " << (parsed.failure ? parsed.failure->etcd_error : "ok") << "\n";
  }
  return 0;
}

int Read(const std::string& file, const std::string& bucket, size_t keys) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const model::bbolt::ParsedImage parsed = model::bbolt::ParseImage(buffer.str(), file);
  if (parsed.failure) {
    std::printf("model cannot read %s: %s\n", file.c_str(), parsed.failure->etcd_error.c_str());
    return 1;
  }
  auto it = parsed.buckets.find(bucket);
  const size_t found = it == parsed.buckets.end() ? 0 : it->second.size();
  std::printf("%s: txid %llu, %zu buckets, %s has %zu keys\n", file.c_str(),
              static_cast<unsigned long long>(parsed.txid), parsed.buckets.size(), bucket.c_str(), found);
  return found == keys ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "write") return Write(argv[2]);
  if (argc == 5 && std::string(argv[1]) == "read") return Read(argv[2], argv[3], std::strtoul(argv[4], nullptr, 10));
  std::fprintf(stderr, "usage: bbolt_images write DIR | read FILE BUCKET KEYS\n");
  return 2;
}
