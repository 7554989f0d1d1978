#include "sim/disk.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "sim/simulation.h"
#include "sim/run_actor_test_util.h"

namespace sim {
namespace {

std::string Pattern(size_t size, char seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(seed + (i % 97) + 1);
  return data;
}

// Runs `body` inside an actor of a fresh simulation with the given seed; the test fails if the
// body does not reach its end within an hour of simulated time.
void InSimulation(uint64_t seed, absl::AnyInvocable<void(Simulation&)> body) {
  Simulation simulation({.seed = seed, .workload = "disk-test"});
  ASSERT_TRUE(RunActorToEnd(simulation, [&] { body(simulation); })) << "test body did not finish, seed " << seed;
}

// The classic torn write of etcd #16596: a fresh 16 KiB write, no sync, power
// loss with 8 KiB units leaves, across seeds, nothing, either half, or both.
TEST(DiskTest, TornWriteOutcomesAcrossSeeds) {
  const std::string image = Pattern(16384, 'a');
  const std::string zeros(8192, '\0');
  std::set<std::string> outcomes;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    InSimulation(seed, [&](Simulation& simulation) {
      Disk disk(&simulation, "d", {.persist_unit_bytes = 8192});
      ASSERT_TRUE(disk.MkdirAll("member/snap").ok());
      ASSERT_TRUE(disk.FsyncDir("member").ok());
      absl::StatusOr<int> fd = disk.Open("member/snap/db", {.create = true});
      ASSERT_TRUE(fd.ok());
      ASSERT_TRUE(disk.FsyncDir("member/snap").ok());  // the file itself survives
      ASSERT_TRUE(disk.Pwrite(*fd, 0, image).ok());
      disk.PowerLoss();
      absl::StatusOr<std::string> after = disk.ReadFile("member/snap/db");
      ASSERT_TRUE(after.ok());
      const bool first = after->size() >= 8192 && after->substr(0, 8192) == image.substr(0, 8192);
      const bool second = after->size() == 16384 && after->substr(8192) == image.substr(8192);
      if (after->empty()) {
        outcomes.insert("nothing");
      } else if (first && second) {
        outcomes.insert("both");
      } else if (first && after->size() == 8192) {
        outcomes.insert("first half, size 8192");
      } else if (first) {
        EXPECT_EQ(after->substr(8192), zeros);
        outcomes.insert("first half, zeros to 16384");
      } else if (second) {
        EXPECT_EQ(after->substr(0, 8192), zeros);
        outcomes.insert("second half");
      } else if (*after == std::string(16384, '\0')) {
        outcomes.insert("size only");
      } else {
        ADD_FAILURE() << "unexpected image of " << after->size() << " bytes, seed " << seed;
      }
    });
  }
  EXPECT_EQ(outcomes, (std::set<std::string>{"nothing", "first half, size 8192", "first half, zeros to 16384",
                                             "second half", "both", "size only"}));
}

// With 4 KiB units the same write tears into quarter pages: a 4096-byte or 12288-byte file appears.
TEST(DiskTest, TornWriteWithSmallerUnits) {
  std::set<uint64_t> sizes;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    InSimulation(seed, [&](Simulation& simulation) {
      Disk disk(&simulation, "d", {.persist_unit_bytes = 4096});
      absl::StatusOr<int> fd = disk.Open("db", {.create = true});
      ASSERT_TRUE(disk.FsyncDir("").ok());
      ASSERT_TRUE(disk.Pwrite(*fd, 0, Pattern(16384, 'b')).ok());
      disk.PowerLoss();
      sizes.insert(disk.Stat("db")->size);
    });
  }
  EXPECT_TRUE(sizes.contains(4096));
  EXPECT_TRUE(sizes.contains(12288));
  EXPECT_TRUE(sizes.contains(0));
  EXPECT_TRUE(sizes.contains(16384));
}

// A synced write always survives a power loss, whatever the seed.
TEST(DiskTest, SyncedWriteSurvives) {
  for (uint64_t seed = 1; seed <= 32; ++seed) {
    InSimulation(seed, [&](Simulation& simulation) {
      Disk disk(&simulation, "d");
      absl::StatusOr<int> fd = disk.Open("wal", {.create = true});
      ASSERT_TRUE(disk.FsyncDir("").ok());
      ASSERT_TRUE(disk.Pwrite(*fd, 0, "synced").ok());
      ASSERT_TRUE(disk.Fdatasync(*fd).ok());
      ASSERT_TRUE(disk.Pwrite(*fd, 6, "-unsynced").ok());
      disk.PowerLoss();
      absl::StatusOr<std::string> after = disk.ReadFile("wal");
      ASSERT_TRUE(after.ok());
      EXPECT_EQ(after->substr(0, 6), "synced") << "seed " << seed;
    });
  }
}

// A rename without a directory fsync can vanish after a power loss, never after a process crash;
// with the directory fsync it always stays.
TEST(DiskTest, RenameNeedsDirectorySync) {
  std::set<bool> renamed_after_power_loss;
  for (uint64_t seed = 1; seed <= 32; ++seed) {
    InSimulation(seed, [&](Simulation& simulation) {
      Disk disk(&simulation, "d");
      ASSERT_TRUE(disk.Mkdir("wal").ok());
      absl::StatusOr<int> fd = disk.Open("wal/0.tmp", {.create = true});
      ASSERT_TRUE(disk.Pwrite(*fd, 0, "segment").ok());
      ASSERT_TRUE(disk.Fsync(*fd).ok());
      ASSERT_TRUE(disk.FsyncDir("wal").ok());
      ASSERT_TRUE(disk.Rename("wal/0.tmp", "wal/0.wal").ok());
      disk.CrashProcess();
      EXPECT_TRUE(disk.Exists("wal/0.wal"));
      disk.PowerLoss();
      renamed_after_power_loss.insert(disk.Exists("wal/0.wal"));
      EXPECT_NE(disk.Exists("wal/0.wal"), disk.Exists("wal/0.tmp"));
      // Made durable, a rename stays.
      ASSERT_TRUE(disk.Rename(disk.Exists("wal/0.tmp") ? "wal/0.tmp" : "wal/0.wal", "wal/1.wal").ok());
      ASSERT_TRUE(disk.FsyncDir("wal").ok());
      disk.PowerLoss();
      EXPECT_TRUE(disk.Exists("wal/1.wal"));
      EXPECT_EQ(*disk.ReadFile("wal/1.wal"), "segment");
    });
  }
  EXPECT_EQ(renamed_after_power_loss, (std::set<bool>{false, true}));
}

// A process crash keeps the page cache: unsynced data and creates are still there.
TEST(DiskTest, ProcessCrashKeepsCache) {
  InSimulation(1, [](Simulation& simulation) {
    Disk disk(&simulation, "d");
    absl::StatusOr<int> fd = disk.Open("f", {.create = true});
    ASSERT_TRUE(disk.Write(*fd, "unsynced").ok());
    disk.CrashProcess();
    EXPECT_EQ(disk.Pread(*fd, 0, 10).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(*disk.ReadFile("f"), "unsynced");
  });
}

// Writes older than the writeback age were flushed by the kernel and always survive.
TEST(DiskTest, WritebackAgePersists) {
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    InSimulation(seed, [&](Simulation& simulation) {
      Disk disk(&simulation, "d");
      absl::StatusOr<int> fd = disk.Open("f", {.create = true});
      ASSERT_TRUE(disk.Write(*fd, "old").ok());
      this_actor::SleepFor(SimDuration::Seconds(31));
      disk.PowerLoss();
      EXPECT_EQ(*disk.ReadFile("f"), "old");
    });
  }
}

// A forced choice reproduces LazyFS's persist=[2]: only the second half of the write survives.
TEST(DiskTest, ForcedChoice) {
  InSimulation(1, [](Simulation& simulation) {
    Disk disk(&simulation, "d", {.persist_unit_bytes = 8192});
    ASSERT_TRUE(disk.MkdirAll("member/snap").ok());
    absl::StatusOr<int> fd = disk.Open("member/snap/db", {.create = true});
    ASSERT_TRUE(disk.Pwrite(*fd, 0, Pattern(16384, 'c')).ok());
    PowerLossChoice choice;
    choice.metadata_ops_kept = 3;
    choice.files["member/snap/db"] = {.parts_kept = {1}, .size_kept = false};
    PowerLossReport report = disk.PowerLoss(&choice);
    EXPECT_EQ(report.metadata_ops_kept, 3u);
    ASSERT_EQ(report.files.size(), 1u);
    EXPECT_EQ(report.files[0].parts_pending, 2u);
    EXPECT_EQ(report.files[0].size_after, 16384u);
    const std::string after = *disk.ReadFile("member/snap/db");
    EXPECT_EQ(after.substr(0, 8192), std::string(8192, '\0'));
    EXPECT_EQ(after.substr(8192), Pattern(16384, 'c').substr(8192));
  });
}

// A failed fsync (EIO) leaves the data readable but it never reaches the platter, even after a later good fsync.
TEST(DiskTest, FsyncErrorLosesData) {
  InSimulation(1, [](Simulation& simulation) {
    Disk disk(&simulation, "d");
    absl::StatusOr<int> fd = disk.Open("f", {.create = true});
    ASSERT_TRUE(disk.FsyncDir("").ok());
    ASSERT_TRUE(disk.Write(*fd, "lost").ok());
    disk.FailNextFsyncs(1);
    EXPECT_EQ(disk.Fsync(*fd).code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(*disk.Pread(*fd, 0, 4), "lost");
    ASSERT_TRUE(disk.Fsync(*fd).ok());
    PowerLossChoice keep_everything;
    keep_everything.keep_all_unlisted = true;
    disk.PowerLoss(&keep_everything);
    EXPECT_EQ(*disk.ReadFile("f"), "");
  });
}

// The disk counts what a power loss exposes of a failed fsync (the fsyncgate hole): data the
// cache served after EIO and a later successful sync skipped; rewriting and syncing fills it.
TEST(DiskTest, CountsBytesLostAfterFailedFsync) {
  InSimulation(1, [](Simulation& simulation) {
    Disk disk(&simulation, "d");
    absl::StatusOr<int> fd = disk.Open("f", {.create = true});
    ASSERT_TRUE(disk.FsyncDir("").ok());
    ASSERT_TRUE(disk.Pwrite(*fd, 0, std::string(100, 'a')).ok());
    disk.FailNextFsyncs(1);
    EXPECT_FALSE(disk.Fdatasync(*fd).ok());
    ASSERT_TRUE(disk.Pwrite(*fd, 100, std::string(50, 'b')).ok());
    ASSERT_TRUE(disk.Fdatasync(*fd).ok());  // succeeds, and skips the doomed 100 bytes
    ASSERT_TRUE(disk.Pwrite(*fd, 0, std::string(30, 'c')).ok());
    ASSERT_TRUE(disk.Fdatasync(*fd).ok());  // fills 30 of them
    EXPECT_EQ(disk.Pread(*fd, 0, 150)->substr(30, 70), std::string(70, 'a'));  // the cache still has them
    disk.PowerLoss();
    EXPECT_EQ(disk.bytes_lost_after_failed_sync(), 70u);
    EXPECT_EQ(*disk.ReadFile("f"), std::string(30, 'c') + std::string(70, '\0') + std::string(50, 'b'));
    disk.PowerLoss();
    EXPECT_EQ(disk.bytes_lost_after_failed_sync(), 70u);  // counted once
  });
}

// Read errors and a full disk are reported with their real meanings.
TEST(DiskTest, ReadErrorsAndFullDisk) {
  InSimulation(1, [](Simulation& simulation) {
    Disk disk(&simulation, "d", {.capacity_bytes = 100});
    absl::StatusOr<int> fd = disk.Open("f", {.create = true});
    EXPECT_TRUE(disk.Pwrite(*fd, 0, std::string(100, 'x')).ok());
    EXPECT_EQ(disk.Pwrite(*fd, 100, "y").status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_TRUE(disk.Pwrite(*fd, 0, "overwrite in place fits").ok());
    disk.set_read_error_per_million(1000000);
    EXPECT_EQ(disk.Pread(*fd, 0, 1).status().code(), absl::StatusCode::kDataLoss);
  });
}

// The namespace behaves like POSIX: errors for missing parents, non-empty directories and so on.
TEST(DiskTest, PosixSemantics) {
  InSimulation(1, [](Simulation& simulation) {
    Disk disk(&simulation, "d");
    EXPECT_EQ(disk.Mkdir("a/b").code(), absl::StatusCode::kNotFound);
    ASSERT_TRUE(disk.MkdirAll("a/b").ok());
    EXPECT_EQ(disk.Mkdir("a").code(), absl::StatusCode::kAlreadyExists);
    absl::StatusOr<int> fd = disk.Open("a/b/f", {.create = true, .exclusive = true});
    ASSERT_TRUE(fd.ok());
    EXPECT_EQ(disk.Open("a/b/f", {.create = true, .exclusive = true}).status().code(),
              absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(disk.Open("a/missing").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(disk.Rmdir("a/b").code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(disk.Unlink("a/b").code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(disk.Write(*fd, "hello world").ok());
    ASSERT_TRUE(disk.Ftruncate(*fd, 5).ok());
    EXPECT_EQ(disk.Stat("a/b/f")->size, 5u);
    EXPECT_EQ(*disk.ReadDir("a/b"), std::vector<std::string>{"f"});
    ASSERT_TRUE(disk.Unlink("a/b/f").ok());
    EXPECT_TRUE(disk.ReadDir("a/b")->empty());
    EXPECT_TRUE(disk.Rmdir("a/b").ok());
    EXPECT_EQ(disk.Open("../etc/passwd").status().code(), absl::StatusCode::kInvalidArgument);
  });
}

// Preallocating 64 MB (as etcd does for WAL segments) is cheap and reads back as zeros.
TEST(DiskTest, PreallocationIsSparse) {
  InSimulation(1, [](Simulation& simulation) {
    Disk disk(&simulation, "d");
    absl::StatusOr<int> fd = disk.Open("wal", {.create = true});
    ASSERT_TRUE(disk.Ftruncate(*fd, 64 << 20).ok());
    ASSERT_TRUE(disk.Pwrite(*fd, 0, "record").ok());
    ASSERT_TRUE(disk.Fdatasync(*fd).ok());
    ASSERT_TRUE(disk.FsyncDir("").ok());
    EXPECT_EQ(disk.Stat("wal")->size, uint64_t{64} << 20);
    EXPECT_EQ(*disk.Pread(*fd, 4, 8), std::string("rd") + std::string(6, '\0'));
    EXPECT_EQ(*disk.Pread(*fd, (64 << 20) - 2, 10), std::string(2, '\0'));
    disk.PowerLoss();
    EXPECT_EQ(disk.Stat("wal")->size, uint64_t{64} << 20);
  });
}

// Export writes the cache view and the durable view as real files.
TEST(DiskTest, ExportsRealFiles) {
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / "disk-export";
  std::filesystem::remove_all(dir);
  InSimulation(1, [&](Simulation& simulation) {
    Disk disk(&simulation, "d");
    ASSERT_TRUE(disk.MkdirAll("member/wal").ok());
    absl::StatusOr<int> fd = disk.Open("member/wal/0.wal", {.create = true});
    ASSERT_TRUE(disk.Write(*fd, "durable").ok());
    ASSERT_TRUE(disk.Fsync(*fd).ok());
    ASSERT_TRUE(disk.FsyncDir("member/wal").ok());
    ASSERT_TRUE(disk.Write(*fd, "+cache").ok());
    ASSERT_TRUE(disk.ExportCurrent((dir / "current").string()).ok());
    ASSERT_TRUE(disk.ExportDurable((dir / "durable").string()).ok());
  });
  auto read = [](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(dir / "current/member/wal/0.wal"), "durable+cache");
  EXPECT_EQ(read(dir / "durable/member/wal/0.wal"), "durable");
}

}  // namespace
}  // namespace sim
