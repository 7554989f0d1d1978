// Helpers for the backup-restore conformance checks against the real etcd:
//   br_snapshot_tool dump DB        the keys of a db snapshot (bbolt, with or
//                                   without etcd's SHA-256 trailer) as the
//                                   model reads them, in `etcdctl get -w
//                                   fields` form (Revision, then Key,
//                                   ModRevision, Value per key);
//   br_snapshot_tool serve SNAP.gz  a simulated one-member etcd-druid cluster
//                                   whose bucket holds SNAP.gz as BR names a
//                                   full snapshot: BR restores it, the model's
//                                   etcd starts, and what it serves is printed
//                                   in the same form.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cluster/etcd_cluster.h"
#include "fmt/format.h"
#include "model/bbolt.h"
#include "model/br/snapstore.h"
#include "model/codec.h"
#include "model/etcd/kv_store.h"
#include "sim/run_actor_test_util.h"

namespace {

std::string Slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  return data.str();
}

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\\\"") : std::string(1, c);
  return out + "\"";
}

void PrintKvs(int64_t revision, const std::vector<etcd_dst::etcd::KeyValue>& kvs) {
  std::printf("\"Revision\" : %lld\n", static_cast<long long>(revision));
  for (const auto& kv : kvs) {
    std::printf("\"Key\" : %s\n\"ModRevision\" : %lld\n\"Value\" : %s\n", Quote(kv.key()).c_str(),
                static_cast<long long>(kv.mod_revision()), Quote(kv.value()).c_str());
  }
}

int Dump(const char* path) {
  std::string db = Slurp(path);
  if (db.size() % 512 == model::kSha256Size) db.resize(db.size() - model::kSha256Size);
  const model::bbolt::ParsedImage parsed = model::bbolt::ParseImage(db, path);
  if (parsed.failure.has_value()) {
    std::fprintf(stderr, "%s: %s\n", path, parsed.failure->etcd_error.c_str());
    return 1;
  }
  absl::StatusOr<model::etcd::KvStore> kv = model::etcd::KvStore::FromBuckets(parsed.buckets);
  if (!kv.ok()) {
    std::fprintf(stderr, "%s: %s\n", path, std::string(kv.status().message()).c_str());
    return 1;
  }
  int64_t count = 0;
  absl::StatusOr<std::vector<etcd_dst::etcd::KeyValue>> kvs = kv->Range(std::string(1, '\0'), std::string(1, '\0'), 0, 0, &count);
  if (!kvs.ok()) return 1;
  PrintKvs(kv->revision(), *kvs);
  return 0;
}

int Serve(const char* path) {
  const std::string snapshot = Slurp(path);
  sim::Simulation simulation({.seed = 1, .workload = "br-conformance"});
  cluster::EtcdCluster::Options options;
  options.members = 1;
  options.nodes = 1;
  options.backup_restore = model::br::Profile::kV035;
  cluster::EtcdCluster cluster(&simulation, options);
  cluster.Pod(0).PendingFor(sim::SimDuration::Seconds(10));
  cluster.Start();
  // The real etcd's snapshot, named as BR names a full one.
  const model::br::Snapshot full{.kind = model::br::Snapshot::Kind::kFull, .last_revision = 1, .created_unix = 1742305000};
  simulation.scheduler().Spawn(nullptr, "upload", [&] {
    (void)cluster.world().object_store().Put("etcd-main/v2/" + full.Name(), snapshot);
  });
  cluster.RunUntil(sim::SimDuration::Seconds(60));
  int status = 1;
  const bool done = sim::RunActorUntilDone(simulation, [&] {
    model::etcd::Client client = cluster.Client({cluster.ClientUrl(0)});
    etcd_dst::etcd::RangeRequest request;
    request.set_key(std::string(1, '\0'));
    request.set_range_end(std::string(1, '\0'));
    absl::StatusOr<std::string> reply = client.Call("Range", request);
    etcd_dst::etcd::RangeResponse response;
    if (!reply.ok() || !response.ParseFromString(*reply)) {
      std::fprintf(stderr, "the model's etcd does not serve: %s\n", reply.ok() ? "bad reply" : std::string(reply.status().message()).c_str());
      return;
    }
    PrintKvs(response.header().revision(), {response.kvs().begin(), response.kvs().end()});
    status = 0;
  });
  return done ? status : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "dump") return Dump(argv[2]);
  if (argc == 3 && std::string(argv[1]) == "serve") return Serve(argv[2]);
  std::fprintf(stderr, "usage: br_snapshot_tool dump DB | serve SNAPSHOT.gz\n");
  return 2;
}
