#include "model/etcd/server_internal.h"

#include <gtest/gtest.h>

#include "sim/simulation.h"

namespace model::etcd::internal {
namespace {

// The v2 publish request is encoded byte for byte as etcd 3.4.23 wrote it in a real WAL.
TEST(ServerInternalTest, V2RequestBytesAsEtcd) {
  V2Request request;
  request.id = 0x61cfe8cccca5a9e0ull;  // any ID: the tail of the encoding is what matters
  request.method = "PUT";
  request.path = "/0/version";
  request.value = "3.4.0";
  const std::string bytes = EncodeV2Request(request);
  const std::string tail("\x12\x03PUT\x1a\x0a/0/version\x22\x05" "3.4.0(\x00" "2\x00" "8\x00" "H\x00" "P\x00" "X\x00"
                         "`\x00" "h\x00" "p\x00" "x\x00" "\x80\x01\x00", 47);
  ASSERT_GE(bytes.size(), tail.size());
  EXPECT_EQ(bytes.substr(bytes.size() - tail.size()), tail);
  V2Request decoded;
  ASSERT_TRUE(DecodeV2Request(bytes, &decoded));
  EXPECT_EQ(decoded.path, "/0/version");
  EXPECT_EQ(decoded.value, "3.4.0");
}

// A corrupt newest snap file is renamed .broken and the previous one is used.
TEST(ServerInternalTest, BrokenSnapFileFallsBack) {
  sim::Simulation simulation({.seed = 1, .workload = "snap-test"});
  sim::Disk disk(&simulation, "d");
  bool done = false;
  simulation.scheduler().Spawn(nullptr, "test", [&] {
    ASSERT_TRUE(disk.MkdirAll("snap").ok());
    for (uint64_t index : {10, 20}) {
      raft::Snapshot snapshot;
      snapshot.index = index;
      snapshot.term = 2;
      snapshot.conf.voters = {1, 2, 3};
      snapshot.data = SnapshotData(Cluster(), "");
      ASSERT_TRUE(SaveSnapshotFile(&disk, "snap", snapshot).ok());
    }
    const std::string newest = "snap/0000000000000002-0000000000000014.snap";
    absl::StatusOr<int> fd = disk.Open(newest);
    ASSERT_TRUE(disk.Pwrite(*fd, 12, "garbage").ok());
    (void)disk.Close(*fd);
    absl::StatusOr<LoadedSnapshot> loaded = LoadNewestSnapshot(&disk, "snap");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->snapshot.index, 10u);
    EXPECT_EQ(loaded->snapshot.conf.voters, (std::set<uint64_t>{1, 2, 3}));
    EXPECT_TRUE(disk.Exists(newest + ".broken"));
    EXPECT_FALSE(disk.Exists(newest));
    done = true;
  });
  simulation.scheduler().Run({.until = sim::SimTime::Zero() + sim::SimDuration::Minutes(60)});
  simulation.Shutdown();  // a body still blocked unwinds now, while the disk it uses exists
  ASSERT_TRUE(done) << "test body did not finish";
}

}  // namespace
}  // namespace model::etcd::internal
