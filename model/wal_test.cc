#include "model/wal.h"

#include <set>

#include <gtest/gtest.h>

#include "sim/simulation.h"
#include "sim/run_actor_test_util.h"

namespace model::wal {
namespace {

using raftpb::Entry;
using raftpb::EntryType;
using raftpb::HardState;

// Runs `body` inside an actor of a fresh simulation with the given seed; the test fails if the
// body does not reach its end within an hour of simulated time.
void InSimulation(uint64_t seed, absl::AnyInvocable<void(sim::Simulation&, sim::Disk&)> body) {
  sim::Simulation simulation({.seed = seed, .workload = "wal-test"});
  sim::Disk disk(&simulation, "d", {.persist_unit_bytes = 512});
  ASSERT_TRUE(sim::RunActorToEnd(simulation, [&] { body(simulation, disk); }))
      << "test body did not finish, seed " << seed;
}

std::vector<Entry> Entries(uint64_t first, uint64_t count, uint64_t term) {
  std::vector<Entry> entries;
  for (uint64_t i = first; i < first + count; ++i) {
    entries.push_back({term, i, EntryType::kNormal, std::string(40 + i % 7, static_cast<char>('a' + i % 26))});
  }
  return entries;
}

const std::string kMetadata = raftpb::Encode(raftpb::Metadata{0x8e9e05c52164694d, 0xcdf818194e3a8c32});

// The record framing is etcd's: length word with the padding flag, then walpb.Record.
TEST(WalTest, RecordFraming) {
  uint32_t crc = 0;
  const std::string crc_record = EncodeRecord(kCrc, nullptr, &crc);
  // {type: 4, crc: 0} is 4 bytes, padded to 8: length 0x84 << 56 | 4.
  EXPECT_EQ(crc_record, std::string("\x04\0\0\0\0\0\0\x84\x08\x04\x10\x00\0\0\0\0", 16));
  const std::string snapshot = raftpb::Encode(raftpb::WalSnapshot{});
  EXPECT_EQ(snapshot, std::string("\x08\x00\x10\x00", 4));
  EXPECT_EQ(Crc32c(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(Crc32c(0, "1234"), "56789"), 0xE3069283u);
  EXPECT_EQ(SegmentName(1, 0x1f), "0000000000000001-000000000000001f.wal");
}

// The crc32 instruction path agrees with the table for every length and
// alignment, chained or not.
TEST(WalTest, Crc32cInstructionMatchesTable) {
  std::string data;
  uint64_t x = 0x9e3779b97f4a7c15;
  for (int i = 0; i < 300; ++i) {
    x = x * 6364136223846793005 + 1442695040888963407;
    data.push_back(static_cast<char>(x >> 56));
  }
  for (size_t start = 0; start < 9; ++start) {
    for (size_t length = 0; start + length <= data.size(); length += 7) {
      const std::string_view piece = std::string_view(data).substr(start, length);
      EXPECT_EQ(Crc32c(0, piece), Crc32cPortable(0, piece)) << start << " " << length;
      EXPECT_EQ(Crc32c(0x12345678, piece), Crc32cPortable(0x12345678, piece)) << start << " " << length;
    }
  }
}

// wal.Create leaves a preallocated first segment in member/wal, no temp dir, and reads back.
TEST(WalTest, CreateSaveOpen) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    ASSERT_TRUE(disk.MkdirAll("member").ok());
    auto wal = Wal::Create(&disk, "member/wal", kMetadata);
    ASSERT_TRUE(wal.ok()) << wal.status();
    EXPECT_EQ(*disk.ReadDir("member/wal"), (std::vector<std::string>{"0.tmp", SegmentName(0, 0)}));
    EXPECT_FALSE(disk.Exists("member/wal.tmp"));
    EXPECT_EQ(disk.Stat("member/wal/" + SegmentName(0, 0))->size, kSegmentSizeBytes);
    EXPECT_EQ(Wal::Create(&disk, "member/wal", kMetadata).status().code(), absl::StatusCode::kAlreadyExists);
    ASSERT_TRUE((*wal)->Save({1, 0, 0}, Entries(1, 3, 1)).ok());
    ASSERT_TRUE((*wal)->Save({2, 7, 3}, Entries(4, 2, 2)).ok());
    // A hard state alone with the same term and vote is not synced: a process crash loses it.
    ASSERT_TRUE((*wal)->Save({2, 7, 5}, {}).ok());
    wal->reset();
    disk.CrashProcess();
    ReadResult read;
    auto reopened = Wal::Open(&disk, "member/wal", {}, &read);
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    EXPECT_EQ(read.metadata, kMetadata);
    EXPECT_EQ(read.state, (HardState{2, 7, 3}));
    ASSERT_EQ(read.entries.size(), 5u);
    EXPECT_EQ(read.entries[4], Entries(5, 1, 2)[0]);
    // Appending after reopening continues the CRC chain.
    ASSERT_TRUE((*reopened)->Save({3, 7, 5}, Entries(6, 1, 3)).ok());
    reopened->reset();
    ReadResult again;
    ASSERT_TRUE(Wal::Open(&disk, "member/wal", {}, &again).ok());
    EXPECT_EQ(again.entries.size(), 6u);
    EXPECT_EQ(again.state, (HardState{3, 7, 5}));
  });
}

// A later entry with an index already in the log replaces the tail from there (a new leader's log).
TEST(WalTest, OverwrittenTail) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    auto wal = Wal::Create(&disk, "wal", kMetadata);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Save({1, 1, 0}, Entries(1, 5, 1)).ok());
    ASSERT_TRUE((*wal)->Save({2, 2, 0}, Entries(3, 1, 2)).ok());
    wal->reset();
    ReadResult read;
    ASSERT_TRUE(Wal::Open(&disk, "wal", {}, &read).ok());
    ASSERT_EQ(read.entries.size(), 3u);
    EXPECT_EQ(read.entries[2].term, 2u);
  });
}

// A power loss during a save tears the tail; opening says "unexpected EOF"; Repair keeps a
// .broken copy and cuts the tail; afterwards every synced entry is there.
TEST(WalTest, TornTailRepairedOnce) {
  std::set<std::string> outcomes;
  for (uint64_t seed = 1; seed <= 80; ++seed) {
    sim::Simulation simulation({.seed = seed, .workload = "wal-test"});
    sim::Disk disk(&simulation, "d", {.persist_unit_bytes = 512});
    sim::Group* process = simulation.scheduler().CreateGroup("etcd");
    uint64_t synced = 0;
    simulation.scheduler().Spawn(process, "writer", [&] {
      auto wal = Wal::Create(&disk, "wal", kMetadata);
      ASSERT_TRUE(wal.ok());
      for (uint64_t batch = 0; batch < 40; ++batch) {
        ASSERT_TRUE((*wal)->Save({1, 1, batch * 5}, Entries(batch * 5 + 1, 5, 1)).ok());
        synced = batch * 5 + 5;
      }
    });
    simulation.scheduler().ScheduleAfter(
        simulation.Stream("t").DurationIn(sim::SimDuration::Millis(20), sim::SimDuration::Millis(150)), [&] {
          simulation.scheduler().KillGroup(process);
          disk.PowerLoss();
        });
    simulation.scheduler().Run();
    if (!Exists(&disk, "wal")) continue;  // the directory rename itself was lost
    bool restarted = false;
    simulation.scheduler().Spawn(nullptr, "restart", [&] {
      ReadResult read;
      auto opened = Wal::Open(&disk, "wal", {}, &read);
      if (!opened.ok()) {
        ASSERT_EQ(opened.status().message(), kErrUnexpectedEof) << "seed " << seed;
        outcomes.insert("torn");
        ASSERT_TRUE(Repair(&disk, "wal"));
        EXPECT_TRUE(disk.Exists("wal/" + SegmentName(0, 0) + ".broken"));
        opened = Wal::Open(&disk, "wal", {}, &read);
        ASSERT_TRUE(opened.ok()) << opened.status() << " after repair, seed " << seed;
      } else {
        outcomes.insert("clean");
      }
      EXPECT_GE(read.entries.size(), synced) << "synced entries lost, seed " << seed;
      for (size_t i = 0; i < read.entries.size(); ++i) EXPECT_EQ(read.entries[i].index, i + 1);
      restarted = true;
    });
    simulation.scheduler().Run();
    simulation.Shutdown();  // a restart still blocked unwinds now, while the disk it uses exists
    ASSERT_TRUE(restarted) << "restart did not finish, seed " << seed;
  }
  EXPECT_EQ(outcomes, (std::set<std::string>{"torn", "clean"}));
}

// Corruption that is not a torn tail is fatal: a CRC mismatch in a synced record.
TEST(WalTest, CrcMismatchIsFatal) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    auto wal = Wal::Create(&disk, "wal", kMetadata);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Save({1, 1, 3}, Entries(1, 3, 1)).ok());
    wal->reset();
    const std::string path = "wal/" + SegmentName(0, 0);
    absl::StatusOr<int> fd = disk.Open(path);
    std::string bytes = *disk.Pread(*fd, 0, 4096);
    const size_t at = bytes.find("bbbbbbbb");  // inside entry 1's data
    ASSERT_NE(at, std::string::npos);
    ASSERT_TRUE(disk.Pwrite(*fd, at, "X").ok());
    (void)disk.Close(*fd);
    ReadResult read;
    EXPECT_EQ(Wal::Open(&disk, "wal", {}, &read).status().message(), kErrCrcMismatch);
    EXPECT_FALSE(Repair(&disk, "wal"));
  });
}

// Opening at a snapshot the WAL does not record is "wal: snapshot not found"; a wrong term is a mismatch.
TEST(WalTest, SnapshotRecords) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    auto wal = Wal::Create(&disk, "wal", kMetadata);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Save({1, 1, 5}, Entries(1, 5, 1)).ok());
    ASSERT_TRUE((*wal)->SaveSnapshot({5, 1}).ok());
    ASSERT_TRUE((*wal)->Save({1, 1, 7}, Entries(6, 2, 1)).ok());
    wal->reset();
    ReadResult read;
    ASSERT_TRUE(Wal::Open(&disk, "wal", {5, 1}, &read).ok());
    ASSERT_EQ(read.entries.size(), 2u);
    EXPECT_EQ(read.entries[0].index, 6u);
    EXPECT_EQ(Wal::Open(&disk, "wal", {5, 2}, &read).status().message(), kErrSnapshotMismatch);
    EXPECT_EQ(Wal::Open(&disk, "wal", {3, 1}, &read).status().message(), kErrSnapshotNotFound);
    EXPECT_EQ(Wal::Open(&disk, "nowhere", {}, &read).status().message(), kErrFileNotFound);
  });
}

// ValidSnapshotEntries: every snapshot record up to the end, without those
// past the committed hard state (etcd 3.4.23 matches snap files against it).
TEST(WalTest, ValidSnapshotEntries) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    auto wal = Wal::Create(&disk, "wal", kMetadata);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Save({1, 1, 5}, Entries(1, 5, 1)).ok());
    ASSERT_TRUE((*wal)->SaveSnapshot({5, 1}).ok());
    ASSERT_TRUE((*wal)->Save({1, 1, 7}, Entries(6, 4, 1)).ok());
    ASSERT_TRUE((*wal)->SaveSnapshot({9, 1}).ok());  // past commit 7
    wal->reset();
    absl::StatusOr<std::vector<raftpb::WalSnapshot>> snapshots = ValidSnapshotEntries(&disk, "wal");
    ASSERT_TRUE(snapshots.ok()) << snapshots.status();
    EXPECT_EQ(*snapshots, (std::vector<raftpb::WalSnapshot>{{0, 0}, {5, 1}}));
    EXPECT_EQ(ValidSnapshotEntries(&disk, "nowhere").status().message(), kErrFileNotFound);
  });
}

}  // namespace
}  // namespace model::wal

namespace model::wal {
namespace {

// After a failed fdatasync the process dies; a restart still reads what the page cache holds,
// and appending after it continues a readable log.
TEST(WalTest, RestartAfterFsyncError) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    auto wal = Wal::Create(&disk, "wal", kMetadata);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Save({1, 1, 3}, Entries(1, 3, 1)).ok());
    disk.FailNextFsyncs(1);
    EXPECT_FALSE((*wal)->Save({2, 2, 5}, Entries(4, 2, 2)).ok());
    wal->reset();
    disk.CrashProcess();
    ReadResult read;
    auto reopened = Wal::Open(&disk, "wal", {}, &read);
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    EXPECT_EQ(read.entries.size(), 5u);
    EXPECT_EQ(read.state.term, 2u);
    ASSERT_TRUE((*reopened)->Save({3, 3, 6}, Entries(6, 1, 3)).ok());
    reopened->reset();
    disk.CrashProcess();
    ReadResult again;
    ASSERT_TRUE(Wal::Open(&disk, "wal", {}, &again).ok());
    EXPECT_EQ(again.entries.size(), 6u);
    EXPECT_EQ(again.state.term, 3u);
  });
}

}  // namespace
}  // namespace model::wal

namespace model::wal {
namespace {

// A read error while opening the log is an error, never a torn tail: nothing is truncated.
TEST(WalTest, ReadErrorIsNotATornTail) {
  InSimulation(1, [](sim::Simulation&, sim::Disk& disk) {
    auto wal = Wal::Create(&disk, "wal", kMetadata);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Save({1, 1, 9}, Entries(1, 9, 1)).ok());
    wal->reset();
    disk.set_read_error_per_million(1000000);
    ReadResult read;
    auto failed = Wal::Open(&disk, "wal", {}, &read);
    EXPECT_EQ(failed.status().message(), "input/output error");
    EXPECT_NE(failed.status().message(), kErrUnexpectedEof);
    disk.set_read_error_per_million(0);
    ASSERT_TRUE(Wal::Open(&disk, "wal", {}, &read).ok());
    EXPECT_EQ(read.entries.size(), 9u);
  });
}

}  // namespace
}  // namespace model::wal
