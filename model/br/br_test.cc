// Pure pieces of the BR model, each named after the upstream function it
// mirrors (etcd-backup-restore v0.35.0 unless said otherwise).
#include <gtest/gtest.h>

#include "model/bbolt.h"
#include "model/br/config.h"
#include "model/br/delta.h"
#include "model/br/restorer.h"
#include "model/br/snapstore.h"
#include "model/codec.h"
#include "model/etcd/kv_store.h"

namespace model::br {
namespace {

// pkg/snapstore/utils.go ParseSnapshot and snapshot.go GenerateSnapshotName:
// names round-trip, suffixes are read, anything else is refused.
TEST(SnapstoreTest, ParseSnapshot) {
  const Snapshot full{.kind = Snapshot::Kind::kFull, .last_revision = 1, .created_unix = 1742305076};
  EXPECT_EQ(full.Name(), "Full-00000000-00000001-1742305076.gz");
  absl::StatusOr<Snapshot> parsed = ParseSnapshot("etcd-main/v2/" + full.Name());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, full);
  absl::StatusOr<Snapshot> delta = ParseSnapshot("etcd-main/v2/Incr-00000002-00000040-1742305096");
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->kind, Snapshot::Kind::kDelta);
  EXPECT_FALSE(delta->compressed);
  EXPECT_TRUE(ParseSnapshot("v2/Full-00000000-00000009-1.gz.final")->final);
  for (const char* bad : {"v2/Full-1-2", "v2/Base-00000000-00000001-1.gz", "v2/Full-x-00000001-1.gz",
                          "v2/Full-00000009-00000001-1.gz", "v2/Full-00000000-00000001-1.zip"}) {
    EXPECT_FALSE(ParseSnapshot(bad).ok()) << bad;
  }
}

// pkg/miscellaneous GetLatestFullSnapshotAndDeltaSnapList: from the end, the
// deltas up to the first full; deltas alone count as a backup.
TEST(SnapstoreTest, GetLatestFullSnapshotAndDeltaSnapList) {
  const Snapshot f1{.kind = Snapshot::Kind::kFull, .last_revision = 10};
  const Snapshot d1{.kind = Snapshot::Kind::kDelta, .start_revision = 11, .last_revision = 20};
  const Snapshot f2{.kind = Snapshot::Kind::kFull, .last_revision = 25};
  const Snapshot d2{.kind = Snapshot::Kind::kDelta, .start_revision = 26, .last_revision = 30};
  const Snapshot d3{.kind = Snapshot::Kind::kDelta, .start_revision = 31, .last_revision = 33};
  SnapshotSet set = LatestSet({f1, d1, f2, d2, d3});
  ASSERT_TRUE(set.full.has_value());
  EXPECT_EQ(*set.full, f2);
  EXPECT_EQ(set.deltas, (std::vector<Snapshot>{d2, d3}));
  EXPECT_TRUE(LatestSet({}).empty());
  set = LatestSet({d1});
  EXPECT_FALSE(set.empty());
  EXPECT_FALSE(set.full.has_value());
}

etcd_dst::etcd::Event Put(const std::string& key, const std::string& value, int64_t revision) {
  etcd_dst::etcd::Event event;
  event.mutable_kv()->set_key(key);
  event.mutable_kv()->set_value(value);
  event.mutable_kv()->set_mod_revision(revision);
  event.mutable_kv()->set_create_revision(revision);
  event.mutable_kv()->set_version(1);
  return event;
}

// snapshotter.go TakeDeltaSnapshot and restorer.go's delta reading: JSON
// events with protobuf tags (PUT's type omitted, DELETE = 1, base64 bytes),
// the SHA-256 of the JSON after it; a damaged or short file is refused.
TEST(DeltaTest, TakeDeltaSnapshotFormat) {
  etcd_dst::etcd::Event deleted = Put("b", "", 3);
  deleted.set_type(etcd_dst::etcd::Event::DELETE);
  deleted.mutable_kv()->clear_create_revision();
  deleted.mutable_kv()->clear_version();
  const std::vector<DeltaEvent> events = {{Put("a", "1", 2), "t1"}, {deleted, "t2"}};
  EXPECT_EQ(EncodeDeltaEvents(events),
            "[{\"etcdEvent\":{\"kv\":{\"key\":\"YQ==\",\"create_revision\":2,\"mod_revision\":2,\"version\":1,"
            "\"value\":\"MQ==\"}},\"time\":\"t1\"},{\"etcdEvent\":{\"type\":1,\"kv\":{\"key\":\"Yg==\","
            "\"mod_revision\":3}},\"time\":\"t2\"}]");
  const std::string data = EncodeDelta(events);
  absl::StatusOr<std::vector<etcd_dst::etcd::Event>> decoded = DecodeDelta(data);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_EQ((*decoded)[0].kv().value(), "1");
  EXPECT_EQ((*decoded)[1].type(), etcd_dst::etcd::Event::DELETE);
  std::string damaged = data;
  damaged[5] ^= 1;
  EXPECT_FALSE(DecodeDelta(damaged).ok());
  EXPECT_EQ(DecodeDelta("short").status().message(), "delta snapshot is missing hash");
}

// A full snapshot as BR uploads it: a db holding a=0 at revision 2, then
// its SHA-256.
std::string FullHoldingA() {
  model::etcd::KvStore kv;
  {
    model::etcd::KvStore::Write write(&kv);
    write.Put("a", "0", 0);
  }
  bbolt::Buckets buckets;
  kv.ToBuckets(&buckets);
  std::string full = bbolt::BuildImage(buckets, 1);
  return full + Sha256(full);
}

// restorer.go applyDeltaSnapshots: events of one revision are one txn; the
// revision after each delta must be its last revision; a first delta that
// the full already covers is skipped.
TEST(RestorerTest, ApplyDeltaSnapshots) {
  const std::string full = FullHoldingA();
  const std::vector<Snapshot> deltas = {{.kind = Snapshot::Kind::kDelta, .start_revision = 3, .last_revision = 3}};
  const std::string payload = EncodeDelta({{Put("a", "1", 3), "t"}, {Put("b", "2", 3), "t"}});
  absl::StatusOr<std::string> applied = ApplyDeltas(full, deltas, {payload});
  ASSERT_TRUE(applied.ok()) << applied.status();
  const bbolt::ParsedImage parsed = bbolt::ParseImage(applied->substr(0, applied->size() - kSha256Size), "db");
  absl::StatusOr<model::etcd::KvStore> restored = model::etcd::KvStore::FromBuckets(parsed.buckets);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->revision(), 3);  // the full held revision 2; the delta is one transaction
  // A delta claiming revision 9 that applies to 3 is refused.
  const std::vector<Snapshot> wrong = {{.kind = Snapshot::Kind::kDelta, .start_revision = 3, .last_revision = 9}};
  EXPECT_EQ(ApplyDeltas(full, wrong, {payload}).status().message(),
            "mismatched event revision while applying delta snapshot, expected 9 but applied 3");
}

// DeltaApplier is ApplyDeltas one delta at a time: after each delta its
// image equals ApplyDeltas over that prefix, the first delta that the full
// covers is skipped only in first place, and an error is the same error.
TEST(RestorerTest, DeltaApplierMatchesApplyDeltasOnEveryPrefix) {
  const std::string full = FullHoldingA();
  const std::vector<Snapshot> deltas = {
      {.kind = Snapshot::Kind::kDelta, .start_revision = 2, .last_revision = 2},  // covered by the full
      {.kind = Snapshot::Kind::kDelta, .start_revision = 3, .last_revision = 3},
      {.kind = Snapshot::Kind::kDelta, .start_revision = 4, .last_revision = 5},
  };
  const std::vector<std::string> payloads = {
      EncodeDelta({{Put("a", "0", 2), "t"}}),
      EncodeDelta({{Put("a", "1", 3), "t"}, {Put("b", "2", 3), "t"}}),
      EncodeDelta({{Put("c", "3", 4), "t"}, {Put("a", "4", 5), "t"}}),
  };
  absl::StatusOr<DeltaApplier> applier = DeltaApplier::Open(full);
  ASSERT_TRUE(applier.ok()) << applier.status();
  EXPECT_EQ(applier->Image(), *ApplyDeltas(full, {}, {}));
  for (size_t k = 1; k <= deltas.size(); ++k) {
    ASSERT_TRUE(applier->Apply(deltas[k - 1], payloads[k - 1]).ok());
    const std::vector<Snapshot> prefix(deltas.begin(), deltas.begin() + k);
    const std::vector<std::string> prefix_payloads(payloads.begin(), payloads.begin() + k);
    absl::StatusOr<std::string> expected = ApplyDeltas(full, prefix, prefix_payloads);
    ASSERT_TRUE(expected.ok()) << expected.status();
    EXPECT_EQ(applier->Image(), *expected) << "after " << k << " deltas";
  }
  EXPECT_EQ(applier->kv().revision(), 5);
  // The covered delta in second place is applied (and fails the revision check).
  absl::StatusOr<DeltaApplier> other = DeltaApplier::Open(full);
  ASSERT_TRUE(other->Apply(deltas[1], payloads[1]).ok());
  EXPECT_EQ(other->Apply(deltas[0], payloads[0]).message(),
            "mismatched event revision while applying delta snapshot, expected 2 but applied 3");
  EXPECT_FALSE(DeltaApplier::Open("not a snapshot").ok());
}

// pkg/server/httpAPI.go serveConfig's YAML, read back as the wrapper's
// embed.ConfigFromFile reads it.
TEST(ConfigTest, ServeConfigRoundTrip) {
  model::etcd::EtcdConfig config;
  config.name = "etcd-main-1";
  config.data_dir = "var/etcd/data/new.etcd";
  config.initial_cluster = "etcd-main-0=http://a:2380,etcd-main-1=http://b:2380";
  config.initial_cluster_state = "existing";
  config.initial_advertise_peer_urls = {"http://b:2380"};
  config.advertise_client_urls = {"http://b:2379"};
  config.snapshot_count = 75000;
  absl::StatusOr<model::etcd::EtcdConfig> parsed = ParseEtcdConfig(RenderEtcdConfig(config));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->name, config.name);
  EXPECT_EQ(parsed->initial_cluster, config.initial_cluster);
  EXPECT_EQ(parsed->initial_cluster_state, "existing");
  EXPECT_EQ(parsed->initial_advertise_peer_urls, config.initial_advertise_peer_urls);
  EXPECT_EQ(parsed->snapshot_count, 75000u);
  EXPECT_FALSE(ParseEtcdConfig("name etcd-main-1\n").ok());
  EXPECT_FALSE(ParseEtcdConfig("name: x\n").ok());
}

// The codecs: gzip round-trips (and concatenated members), SHA-256 is the
// standard one.
TEST(CodecTest, GzipAndSha256) {
  const std::string data(100000, 'x');
  EXPECT_EQ(*Gunzip(Gzip(data)), data);
  EXPECT_EQ(*Gunzip(Gzip("ab") + Gzip("cd")), "abcd");
  EXPECT_FALSE(Gunzip("not gzip").ok());
  EXPECT_FALSE(Gunzip(Gzip(data).substr(0, 20)).ok());
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace model::br
