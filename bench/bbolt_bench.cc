// bbolt commit benchmark: what one backend commit costs with 1,000 and with
// 100,000 keys in the db, for the same change (10 new revisions, as etcd
// appends them, and the consistent index), through the simulated disk.
//
// Two paths, measured in the same run:
// - incremental: Db::Commit(Changes), copy-on-write of the touched leaves
//   and the branches above them (the product);
// - full rewrite: the whole state encoded into pages and written, then the
//   meta, each commit: what the model did before issue 11, kept here only as
//   the reference the ratio is judged against.
// Each figure is the best of several alternating repetitions. The last line
// is commit_cost_ratio_100k_vs_1k (incremental); the goal is <= 2.
//
// Usage: bbolt_bench [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "fmt/format.h"
#include "model/bbolt.h"
#include "sim/disk.h"
#include "sim/simulation.h"

namespace {

using Clock = std::chrono::steady_clock;
using model::bbolt::Buckets;
using model::bbolt::Changes;

// A revision key as etcd writes them: 8-byte main, '_', 8-byte sub.
std::string RevisionKey(uint64_t main) {
  std::string key(17, '\0');
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>((main >> (56 - 8 * i)) & 0xff);
  key[8] = '_';
  return key;
}

std::string Value(uint64_t main) { return fmt::format("{:0>96}", main); }  // ~ a serialized KeyValue

// Runs `body` as an actor of a fresh simulation (disk calls take simulated time).
void InActor(const std::function<void(sim::Disk&)>& body) {
  sim::Simulation simulation({.seed = 1, .workload = "bbolt-bench"});
  sim::Disk disk(&simulation, "bench");
  simulation.scheduler().Spawn(nullptr, "bench", [&] { body(disk); });
  simulation.scheduler().Run();
  simulation.Shutdown();
}

// Microseconds per commit of `commits` commits on a db of `keys` keys.
double Incremental(uint64_t keys, int commits) {
  double micros = 0;
  InActor([&](sim::Disk& disk) {
    auto opened = model::bbolt::Db::Open(&disk, "db");
    if (!opened.ok() || opened->db == nullptr) std::abort();
    model::bbolt::Db& db = *opened->db;
    Changes initial;
    for (uint64_t main = 1; main <= keys; ++main) initial["key"].keys[RevisionKey(main)] = Value(main);
    initial["meta"].keys["consistent_index"] = std::string(8, '\0');
    if (!db.Commit(initial).ok()) std::abort();
    uint64_t next = keys + 1;
    const Clock::time_point start = Clock::now();
    for (int c = 0; c < commits; ++c) {
      Changes changes;
      for (int i = 0; i < 10; ++i, ++next) changes["key"].keys[RevisionKey(next)] = Value(next);
      changes["meta"].keys["consistent_index"] = std::string(8, static_cast<char>(c));
      if (!db.Commit(changes).ok()) std::abort();
    }
    micros = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / commits;
  });
  return micros;
}

// The reference: the whole state kept as a map, encoded and written each commit.
double FullRewrite(uint64_t keys, int commits) {
  double micros = 0;
  InActor([&](sim::Disk& disk) {
    Buckets state;
    for (uint64_t main = 1; main <= keys; ++main) state["key"][RevisionKey(main)] = Value(main);
    absl::StatusOr<int> fd = disk.Open("db", {.create = true});
    if (!fd.ok()) std::abort();
    uint64_t next = keys + 1;
    const Clock::time_point start = Clock::now();
    for (int c = 0; c < commits; ++c) {
      for (int i = 0; i < 10; ++i, ++next) state["key"][RevisionKey(next)] = Value(next);
      state["meta"]["consistent_index"] = std::string(8, static_cast<char>(c));
      const std::string image = model::bbolt::BuildImage(state, static_cast<uint64_t>(c) + 2);
      if (!disk.Pwrite(*fd, 2 * 4096, std::string_view(image).substr(2 * 4096)).ok()) std::abort();
      if (!disk.Fdatasync(*fd).ok()) std::abort();
      if (!disk.Pwrite(*fd, 0, std::string_view(image).substr(0, 4096)).ok()) std::abort();
      if (!disk.Fdatasync(*fd).ok()) std::abort();
    }
    micros = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / commits;
  });
  return micros;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int repetitions = quick ? 2 : 5;
  const int commits = quick ? 100 : 400;
  const int full_commits_small = quick ? 50 : 200;
  const int full_commits_large = quick ? 3 : 10;
  double inc_1k = 1e18, inc_100k = 1e18, full_1k = 1e18, full_100k = 1e18;
  for (int r = 0; r < repetitions; ++r) {
    inc_1k = std::min(inc_1k, Incremental(1000, commits));
    inc_100k = std::min(inc_100k, Incremental(100000, commits));
    full_1k = std::min(full_1k, FullRewrite(1000, full_commits_small));
    full_100k = std::min(full_100k, FullRewrite(100000, full_commits_large));
  }
  std::printf("incremental_commit_us_1k=%.1f\n", inc_1k);
  std::printf("incremental_commit_us_100k=%.1f\n", inc_100k);
  std::printf("full_rewrite_commit_us_1k=%.1f\n", full_1k);
  std::printf("full_rewrite_commit_us_100k=%.1f\n", full_100k);
  std::printf("full_rewrite_cost_ratio_100k_vs_1k=%.2f\n", full_100k / full_1k);
  std::printf("incremental_vs_full_rewrite_speedup_100k=%.1f\n", full_100k / inc_100k);
  std::printf("commit_cost_ratio_100k_vs_1k=%.2f\n", inc_100k / inc_1k);
  return 0;
}
