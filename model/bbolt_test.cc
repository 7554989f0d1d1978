#include "model/bbolt.h"

#include <set>

#include <gtest/gtest.h>

#include "fmt/format.h"

#include "sim/simulation.h"
#include "sim/run_actor_test_util.h"

namespace model::bbolt {
namespace {

uint64_t Le(const std::string& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

uint64_t Fnv(const std::string& b, size_t at, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(b[at + i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

const char* kPath = "/var/etcd/data/member/snap/db";

// The init image is bbolt's, field by field: two metas (txid 0 and 1), an empty freelist, an empty leaf.
TEST(BboltTest, InitImageLayout) {
  const std::string image = InitImage();
  ASSERT_EQ(image.size(), 16384u);
  for (uint64_t page = 0; page < 2; ++page) {
    const size_t at = page * 4096;
    EXPECT_EQ(Le(image, at, 8), page);             // id
    EXPECT_EQ(Le(image, at + 8, 2), 0x04u);        // meta flag
    EXPECT_EQ(Le(image, at + 16, 4), 0xED0CDAEDu);  // magic
    EXPECT_EQ(Le(image, at + 20, 4), 2u);          // version
    EXPECT_EQ(Le(image, at + 24, 4), 4096u);       // page size
    EXPECT_EQ(Le(image, at + 28, 4), 0u);          // flags
    EXPECT_EQ(Le(image, at + 32, 8), 3u);          // root bucket page
    EXPECT_EQ(Le(image, at + 40, 8), 0u);          // sequence
    EXPECT_EQ(Le(image, at + 48, 8), 2u);          // freelist page
    EXPECT_EQ(Le(image, at + 56, 8), 4u);          // high water
    EXPECT_EQ(Le(image, at + 64, 8), page);        // txid
    EXPECT_EQ(Le(image, at + 72, 8), Fnv(image, at + 16, 56));
  }
  EXPECT_EQ(Le(image, 2 * 4096, 8), 2u);
  EXPECT_EQ(Le(image, 2 * 4096 + 8, 2), 0x10u);
  EXPECT_EQ(Le(image, 3 * 4096, 8), 3u);
  EXPECT_EQ(Le(image, 3 * 4096 + 8, 2), 0x02u);
  // Everything past the headers and metas is zero.
  for (size_t page = 0; page < 4; ++page) {
    const size_t used = page < 2 ? 80 : 16;
    for (size_t i = page * 4096 + used; i < (page + 1) * 4096; ++i) ASSERT_EQ(image[i], 0) << i;
  }
}

std::string Outcome(const std::string& image) {
  const ParsedImage parsed = ParseImage(image, kPath);
  if (!parsed.failure.has_value()) return "ok";
  return parsed.failure->etcd_error;
}

// Every row of MODEL_FACTS's table of torn init images, as the real etcd 3.4.23 behaves.
TEST(BboltTest, TornInitOutcomesMatchRealEtcd) {
  const std::string full = InitImage();
  EXPECT_EQ(Outcome(full), "ok");
  EXPECT_EQ(Outcome(""), "ok");  // bbolt initialises it again
  EXPECT_EQ(Outcome(full.substr(0, 4096)), "cannot open database at /var/etcd/data/member/snap/db (file size too small)");
  EXPECT_EQ(Outcome(full.substr(0, 8192)), "signal SIGBUS: bus error");
  EXPECT_EQ(Outcome(full.substr(0, 12288)), "signal SIGBUS: bus error");
  EXPECT_EQ(Outcome(full.substr(0, 8192) + std::string(8192, '\0')),
            "invalid freelist page: 0, page type is unknown<00>");
  EXPECT_EQ(Outcome(std::string(8192, '\0') + full.substr(8192)),
            "cannot open database at /var/etcd/data/member/snap/db (invalid database)");
  std::string meta0_zeroed = full;
  std::fill(meta0_zeroed.begin(), meta0_zeroed.begin() + 4096, '\0');
  EXPECT_EQ(Outcome(meta0_zeroed), "ok");
  // Metas and freelist kept, the root leaf (page 3) lost: the first write transaction's cursor
  // panics on the zeroed page, naming the page header's id and flags (found by a sweep, seed
  // 1670 of single-member-power-loss; checked against etcd 3.4.23's crash image).
  EXPECT_EQ(Outcome(full.substr(0, 12288) + std::string(4096, '\0')), "invalid page type: 0: 0");
}

// Meta validation follows bbolt's order and fallback rules.
TEST(BboltTest, MetaValidation) {
  std::string image = InitImage();
  image[20] = 9;  // meta 0 version
  EXPECT_EQ(Outcome(image), "ok");  // meta 1 is fine
  image[4096 + 20] = 9;
  EXPECT_EQ(Outcome(image), "cannot open database at /var/etcd/data/member/snap/db (version mismatch)");
  image = InitImage();
  image[40] ^= 1;  // meta 0 field under the checksum
  image[4096 + 40] ^= 1;
  EXPECT_EQ(Outcome(image), "cannot open database at /var/etcd/data/member/snap/db (checksum error)");
  // A zero checksum is accepted.
  for (int i = 0; i < 8; ++i) image[72 + i] = 0;
  EXPECT_EQ(Outcome(image), "ok");
}

Buckets SampleState(int keys, size_t value_bytes) {
  Buckets state;
  state["meta"]["consistent_index"] = std::string(8, '\x01');
  state["members"];  // empty bucket
  for (int i = 0; i < keys; ++i) {
    state["key"][fmt::format("{:016x}_{:016x}", i, 0)] = std::string(value_bytes, static_cast<char>('a' + i % 26));
  }
  return state;
}

// Images built in bbolt's format parse back to the same buckets: inline buckets, multi-page
// trees with branch pages, and values larger than a page (overflow).
TEST(BboltTest, BuildAndParse) {
  for (auto [keys, bytes] : std::vector<std::pair<int, size_t>>{{0, 0}, {3, 10}, {500, 100}, {5000, 40}, {4, 20000}}) {
    const Buckets state = SampleState(keys, bytes);
    const ParsedImage parsed = ParseImage(BuildImage(state, 7), kPath);
    ASSERT_FALSE(parsed.failure.has_value()) << parsed.failure->etcd_error;
    EXPECT_EQ(parsed.buckets, state) << keys << " keys of " << bytes;
    EXPECT_EQ(parsed.txid, 7u);
  }
}

// Runs `body` inside an actor of a fresh simulation with the given seed; the test fails if the
// body does not reach its end within an hour of simulated time.
void InSimulation(uint64_t seed, absl::AnyInvocable<void(sim::Simulation&, sim::Disk&)> body) {
  sim::Simulation simulation({.seed = seed, .workload = "bbolt-test"});
  sim::Disk disk(&simulation, "d");
  ASSERT_TRUE(sim::RunActorToEnd(simulation, [&] { body(simulation, disk); }))
      << "test body did not finish, seed " << seed;
}

// Commits survive reopening, and each reuses pages freed by earlier commits rather than growing forever.
TEST(BboltTest, CommitsRoundTripOnDisk) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    ASSERT_TRUE(disk.MkdirAll("member/snap").ok());
    auto opened = Db::Open(&disk, "member/snap/db");
    ASSERT_TRUE(opened.ok() && opened->db != nullptr);
    std::unique_ptr<Db> db = std::move(opened->db);
    EXPECT_EQ(disk.Stat("member/snap/db")->size, 16384u);
    for (int round = 1; round <= 30; ++round) {
      ASSERT_TRUE(db->Commit(SampleState(round * 40, 50)).ok());
    }
    const uint64_t size = disk.Stat("member/snap/db")->size;
    EXPECT_LE(size, 1u << 20);
    db.reset();
    disk.CrashProcess();
    auto reopened = Db::Open(&disk, "member/snap/db");
    ASSERT_TRUE(reopened.ok() && reopened->db != nullptr);
    EXPECT_EQ(reopened->db->Read(), SampleState(30 * 40, 50));
    EXPECT_EQ(reopened->db->txid(), 31u);
  });
}

// A commit is atomic under power loss: a power loss at any moment of a run of commits (disk
// calls take simulated time) leaves one of the committed states, never a mix.
TEST(BboltTest, CommitIsAtomicUnderPowerLoss) {
  std::set<int> seen;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    sim::Simulation simulation({.seed = seed, .workload = "bbolt-test"});
    sim::Disk disk(&simulation, "d");
    sim::Group* process = simulation.scheduler().CreateGroup("etcd");
    int committed = 0;
    bool initialised = false;
    simulation.scheduler().Spawn(process, "committer", [&] {
      ASSERT_TRUE(disk.MkdirAll("member/snap").ok());
      ASSERT_TRUE(disk.FsyncDir("").ok());
      ASSERT_TRUE(disk.FsyncDir("member").ok());
      auto opened = Db::Open(&disk, "member/snap/db");
      ASSERT_TRUE(opened.ok() && opened->db != nullptr);
      ASSERT_TRUE(disk.FsyncDir("member/snap").ok());
      initialised = true;
      for (int round = 1; round <= 20; ++round) {
        ASSERT_TRUE(opened->db->Commit(SampleState(round * 10, 30)).ok());
        committed = round;
      }
    });
    const sim::SimDuration at = simulation.Stream("test").DurationIn(sim::SimDuration::Millis(5), sim::SimDuration::Millis(150));
    simulation.scheduler().ScheduleAfter(at, [&] {
      simulation.scheduler().KillGroup(process);
      disk.PowerLoss();
    });
    simulation.scheduler().Run();
    // A power loss inside bbolt's init is etcd #16596, tested elsewhere.
    if (!initialised) continue;
    int recovered = -1;
    bool checked = false;
    simulation.scheduler().Spawn(nullptr, "checker", [&] {
      auto reopened = Db::Open(&disk, "member/snap/db");
      ASSERT_TRUE(reopened.ok());
      ASSERT_TRUE(reopened->db != nullptr) << reopened->failure->etcd_error;
      const Buckets got = reopened->db->Read();
      if (got.empty()) recovered = 0;
      for (int round = 1; round <= 20; ++round) {
        if (got == SampleState(round * 10, 30)) recovered = round;
      }
      checked = true;
    });
    simulation.scheduler().Run();
    simulation.Shutdown();  // a checker still blocked unwinds now, while the disk it uses exists
    ASSERT_TRUE(checked) << "checker did not finish, seed " << seed;
    ASSERT_GE(recovered, 0) << "mixed state after power loss, seed " << seed;
    EXPECT_GE(recovered, committed) << "a completed commit was lost, seed " << seed;
    EXPECT_LE(recovered, committed + 1) << "seed " << seed;
    seen.insert(recovered - committed);
  }
  EXPECT_EQ(seen, (std::set<int>{0, 1}));  // sometimes the in-flight commit made it
}

// A failed fsync during a commit leaves the previous state, as bbolt's rollback does.
TEST(BboltTest, FailedCommitKeepsPreviousState) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    auto opened = Db::Open(&disk, "db");
    ASSERT_TRUE(opened.ok() && opened->db != nullptr);
    ASSERT_TRUE(opened->db->Commit(SampleState(10, 10)).ok());
    disk.FailNextFsyncs(1);
    EXPECT_FALSE(opened->db->Commit(SampleState(20, 10)).ok());
    EXPECT_EQ(opened->db->Read(), SampleState(10, 10));
    opened->db.reset();
    auto reopened = Db::Open(&disk, "db");
    EXPECT_EQ(reopened->db->Read(), SampleState(10, 10));
  });
}

// Random transactions (puts, overwrites, deletes, values from a few bytes to
// over a page, buckets created, cleared and removed) commit incrementally:
// after each one the in-memory copy and the file on disk, parsed from
// scratch, both equal a plain map kept beside them, and the file reuses the
// pages freed by earlier transactions.
TEST(BboltTest, IncrementalCommitsMatchAReferenceMap) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    InSimulation(seed, [seed](sim::Simulation& simulation, sim::Disk& disk) {
      auto opened = Db::Open(&disk, "db");
      ASSERT_TRUE(opened.ok() && opened->db != nullptr);
      std::unique_ptr<Db> db = std::move(opened->db);
      sim::Rng& rng = simulation.Stream("test");
      Buckets reference;
      for (int round = 0; round < 150; ++round) {
        Changes changes;
        const int count = static_cast<int>(rng.UniformIn(1, round < 20 ? 400 : 40));
        for (int i = 0; i < count; ++i) {
          const std::string bucket = rng.Chance(1, 8) ? "small" : "key";
          const std::string key = fmt::format("{:08x}", rng.UniformBelow(3000));
          if (rng.Chance(1, 4)) {
            changes[bucket].keys[key] = std::nullopt;
            reference[bucket].erase(key);
          } else {
            const size_t size = rng.Chance(1, 50) ? rng.UniformIn(4000, 9000) : rng.UniformIn(1, 120);
            const std::string value(size, static_cast<char>('a' + rng.UniformBelow(26)));
            changes[bucket].keys[key] = value;
            reference[bucket][key] = value;
          }
        }
        if (rng.Chance(1, 40)) {
          changes["scratch"].clear = true;
          reference["scratch"].clear();
        } else if (rng.Chance(1, 40) && reference.contains("scratch")) {
          changes["scratch"].remove = true;
          reference.erase("scratch");
        } else if (rng.Chance(1, 10)) {
          changes["scratch"].keys[fmt::format("s{}", round)] = "x";
          reference["scratch"][fmt::format("s{}", round)] = "x";
        }
        for (const auto& [name, change] : changes) {
          if (!change.remove) reference[name];
        }
        ASSERT_TRUE(db->Commit(changes).ok()) << "seed " << seed << " round " << round;
        ASSERT_EQ(db->Read(), reference) << "seed " << seed << " round " << round;
        absl::StatusOr<int> fd = disk.Open("db");
        const std::string image = *disk.Pread(*fd, 0, UINT64_MAX);
        (void)disk.Close(*fd);
        const ParsedImage parsed = ParseImage(image, kPath);
        ASSERT_FALSE(parsed.failure.has_value()) << parsed.failure->etcd_error << " seed " << seed << " round " << round;
        ASSERT_EQ(parsed.buckets, reference) << "seed " << seed << " round " << round;
      }
      // Pages are reused: the file stays within a small multiple of the live data.
      size_t bytes = 0;
      for (const auto& [name, bucket] : reference) {
        for (const auto& [key, value] : bucket) bytes += 16 + key.size() + value.size();
      }
      EXPECT_LE(db->high_water() * 4096, 6 * bytes + (1u << 20)) << "seed " << seed;
      db.reset();
      auto reopened = Db::Open(&disk, "db");
      ASSERT_TRUE(reopened.ok() && reopened->db != nullptr);
      EXPECT_EQ(reopened->db->Read(), reference);
    });
  }
}

// A transaction writes the pages it changed and the branches above them,
// not the db: changing 10 keys of 100,000 writes a handful of pages.
TEST(BboltTest, CommitWritesOnlyWhatChanged) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    auto opened = Db::Open(&disk, "db");
    ASSERT_TRUE(opened.ok() && opened->db != nullptr);
    std::unique_ptr<Db> db = std::move(opened->db);
    Changes all;
    for (int i = 0; i < 100000; ++i) all["key"].keys[fmt::format("{:016x}", i * 2)] = std::string(60, 'v');
    ASSERT_TRUE(db->Commit(all).ok());
    EXPECT_GT(db->last_commit_pages(), 1500u);
    for (int round = 0; round < 5; ++round) {
      Changes few;
      for (int i = 0; i < 10; ++i) few["key"].keys[fmt::format("{:016x}", (round * 7919 + i * 10007) % 200000)] = "w";
      ASSERT_TRUE(db->Commit(few).ok());
      // Ten leaves at most, their branches, the root bucket.
      EXPECT_LE(db->last_commit_pages(), 25u) << "round " << round;
    }
  });
}

// Torn init through the disk model: the first start's single write, cut by a power loss
// with 8 KiB units, gives the table's outcomes.
TEST(BboltTest, PowerLossDuringInitThroughTheDisk) {
  std::set<std::string> outcomes;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    InSimulation(seed, [&](sim::Simulation&, sim::Disk& disk) {
      disk.set_persist_unit_bytes(8192);
      ASSERT_TRUE(disk.MkdirAll("member/snap").ok());
      ASSERT_TRUE(disk.FsyncDir("member").ok());
      absl::StatusOr<int> fd = disk.Open("member/snap/db", {.create = true});
      ASSERT_TRUE(disk.FsyncDir("member/snap").ok());
      ASSERT_TRUE(disk.Pwrite(*fd, 0, InitImage()).ok());  // bbolt's init write, before its fdatasync
      disk.PowerLoss();
      auto reopened = Db::Open(&disk, "member/snap/db");
      ASSERT_TRUE(reopened.ok());
      outcomes.insert(reopened->failure ? reopened->failure->etcd_error : "ok");
    });
  }
  EXPECT_TRUE(outcomes.contains("ok"));
  EXPECT_TRUE(outcomes.contains("signal SIGBUS: bus error"));
  EXPECT_TRUE(outcomes.contains("invalid freelist page: 0, page type is unknown<00>"));
  EXPECT_TRUE(outcomes.contains("cannot open database at /member/snap/db (invalid database)"));
}

}  // namespace
}  // namespace model::bbolt
