// world-selftest: exercises the simulated world under the seed's fault plan,
// before any etcd exists. Three machines each run a ping server, a client
// calling the others, a writer appending fixed-size records to a log on its
// disk (some synced, some not) and replacing a state file by
// write-temp/fsync/rename/fsync-dir, and an uploader putting objects in the
// bucket and listing them. Its properties are the world's promises: synced
// data survives power loss, a process crash loses nothing, a renamed file
// made durable stays, replies never come from a node partitioned away, and a
// lagging listing catches up. At the end every fault stops and every machine
// loses power once more, so that each run checks durability at least once.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "sim/simulation.h"
#include "sim/world.h"
#include "workloads/workload.h"

namespace workloads {
namespace {

using sim::SimDuration;
using sim::SimTime;
using sim::TraceEvent;
using sim::World;

constexpr uint16_t kPingPort = 80;
constexpr uint64_t kRecordBytes = 32;
// The longest listing lag a plan can set (bursts included), plus slack.
constexpr SimDuration kListingSettled = SimDuration::Seconds(12);
// Planned faults start before 30 s and last at most 10 s (see Faults()).
const SimTime kFaultsEnd = SimTime::Zero() + SimDuration::Seconds(45);
const SimTime kFinalPowerLoss = SimTime::Zero() + SimDuration::Seconds(50);

std::string Record(const std::string& machine, uint64_t index) {
  std::string record = fmt::format("rec {:08d} {}", index, machine);
  record.resize(kRecordBytes - 1, '.');
  record.push_back('\n');
  return record;
}

class WorldSelftest : public Workload {
 public:
  std::optional<sim::FaultSurface> Faults() const override {
    sim::FaultSurface surface;
    surface.nodes = machines_;
    surface.horizon = SimDuration::Seconds(30);
    surface.max_actions = 10;
    surface.max_start_delay = SimDuration::Seconds(10);
    surface.max_outage = SimDuration::Seconds(10);
    return surface;
  }

  void Setup(sim::Simulation& simulation, const sim::FaultPlan& plan) override {
    simulation_ = &simulation;
    world_ = std::make_unique<World>(&simulation);
    for (const char* name : {"CallRefused", "CallReset", "CallTimedOut", "ReplyReceived", "RecoveredAfterPowerLoss",
                             "RecoveredAfterCrash", "TornLogTail", "FsyncFailedRewrote", "WriteFailedDiskFull",
                             "ListingLagHidObject", "AmbiguousPut", "ObjectStoreTransientError"}) {
      simulation.properties().DeclareSometimes(name);
    }
    for (const std::string& name : machines_) {
      state_[name];
      world_->AddMachine(name, {}, [this, name](sim::Group* group, int boot) { Boot(name, group, boot); });
    }
    simulation.properties().DeclareCheck("SyncedWriteSurvives");
    world_->ApplyPlan(plan);
    for (const std::string& name : machines_) world_->Start(name);
    simulation.scheduler().Spawn(simulation.scheduler().CreateGroup("closer"), "closer", [this] { Close(); });
  }

  sim::World* world() override { return world_.get(); }

  sim::RunLimits Limits() const override {
    return {.until = SimTime::Zero() + SimDuration::Seconds(60), .max_events = 20'000'000};
  }

 private:
  // What the workload knows about each machine, across its reboots.
  struct MachineState {
    uint64_t written = 0;     // records in the page cache
    uint64_t synced = 0;      // records an fdatasync made durable
    bool rewrite_before_sync = false;  // an fsync failed since `synced`
    uint64_t state_durable = 0;  // the last state file made durable by rename + fsync-dir
    uint64_t state_next = 1;
    uint64_t uploads = 0;
    std::map<std::string, SimTime> uploaded;  // key -> when its put succeeded
  };

  // Ends the faults, then pulls every plug once: each writer checks on its
  // next boot that what it synced is there.
  void Close() {
    sim::this_actor::SleepFor(kFaultsEnd - simulation_->Now());
    world_->EndAllFaults();
    sim::this_actor::SleepFor(kFinalPowerLoss - simulation_->Now());
    for (const std::string& name : machines_) world_->PowerOff(name);
    sim::this_actor::SleepFor(SimDuration::Seconds(1));
    for (const std::string& name : machines_) world_->PowerOn(name);
  }

  void Boot(const std::string& name, sim::Group* group, int boot) {
    sim::Scheduler& scheduler = simulation_->scheduler();
    scheduler.Spawn(group, "server", [this, name] { Server(name); });
    scheduler.Spawn(group, "writer", [this, name, boot] { Writer(name, boot); });
    scheduler.Spawn(group, "client", [this, name] { Client(name); });
    scheduler.Spawn(group, "uploader", [this, name] { Uploader(name); });
  }

  void Server(const std::string& name) {
    auto listener = world_->network().Listen({world_->node(name), kPingPort});
    SIM_CHECK(listener.ok(), "listen on {}: {}", name, listener.status().ToString());
    while (true) {
      absl::StatusOr<sim::Envelope> envelope = (*listener)->Receive();
      if (!envelope.ok()) return;
      if (envelope->kind == sim::Envelope::Kind::kCall) {
        envelope->Reply(fmt::format("{}", simulation_->Now().nanos()));
      }
    }
  }

  void Client(const std::string& name) {
    sim::Rng& rng = simulation_->Stream("world-selftest.client." + name);
    sim::Properties& properties = simulation_->properties();
    uint16_t port = 10000;
    while (true) {
      sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Millis(100), SimDuration::Millis(500)));
      const std::string& target = rng.Pick(machines_);
      if (target == name) continue;
      const sim::NodeId from = world_->node(name), to = world_->node(target);
      absl::StatusOr<std::string> reply =
          world_->network().Call({from, port++}, {to, kPingPort}, "Ping", "", SimDuration::Seconds(1));
      if (reply.ok()) {
        int64_t sent_ns = 0;
        SIM_CHECK(absl::SimpleAtoi(*reply, &sent_ns), "bad ping reply '{}'", *reply);
        const SimTime sent = SimTime::FromNanos(sent_ns);
        properties.Sometimes(true, "ReplyReceived");
        properties.Always(!world_->network().WasBlocked(to, from, sent), "NoReplyFromPartitionedNode",
                          fmt::format("{} replied to {} at {} while blocked", target, name, sent.ToString()));
        continue;
      }
      const std::string message(reply.status().message());
      properties.Sometimes(message == "connection refused", "CallRefused");
      properties.Sometimes(message == "connection reset by peer", "CallReset");
      properties.Sometimes(reply.status().code() == absl::StatusCode::kDeadlineExceeded, "CallTimedOut");
    }
  }

  // Checks what survived the last stop, then appends records and rotates
  // the state file until killed.
  void Writer(const std::string& name, int boot) {
    sim::Disk& disk = world_->disk(name);
    MachineState& state = state_[name];
    sim::Properties& properties = simulation_->properties();
    sim::Rng& rng = simulation_->Stream("world-selftest.writer." + name);

    absl::StatusOr<std::string> log = disk.Exists("log") ? disk.ReadFile("log") : std::string();
    if (!log.ok()) return;  // a read error: try again next boot
    uint64_t intact = 0;
    while ((intact + 1) * kRecordBytes <= log->size() &&
           log->compare(intact * kRecordBytes, kRecordBytes, Record(name, intact)) == 0) {
      ++intact;
    }
    const World::LastStop stop = world_->last_stop(name);
    if (boot > 1 && stop == World::LastStop::kPowerLoss) {
      properties.Sometimes(true, "RecoveredAfterPowerLoss");
      properties.Always(intact >= state.synced, "SyncedWriteSurvives",
                        fmt::format("{} records synced, {} intact after power loss", state.synced, intact));
      properties.Sometimes(log->size() > intact * kRecordBytes, "TornLogTail");
      absl::StatusOr<std::string> saved = disk.Exists("state") ? disk.ReadFile("state") : std::string();
      uint64_t saved_index = 0;
      if (saved.ok() && !saved->empty()) (void)absl::SimpleAtoi(saved->substr(6), &saved_index);
      if (saved.ok()) {
        properties.Always(saved_index >= state.state_durable, "RenamedStateSurvives",
                          fmt::format("state {} durable, {} found", state.state_durable, saved_index));
      }
    } else if (boot > 1 && stop == World::LastStop::kCrash) {
      properties.Sometimes(true, "RecoveredAfterCrash");
      properties.Always(intact >= state.written, "CrashKeepsPageCache",
                        fmt::format("{} records written, {} intact after a crash", state.written, intact));
    }
    // Recovery: keep the intact prefix and make it durable. After a crash the
    // cache may still serve records an earlier fsync failed on; they are
    // written again before the sync (after a power loss the cache is the
    // platter, so nothing is owed).
    if (stop == World::LastStop::kPowerLoss) state.rewrite_before_sync = false;
    state.written = intact;
    state.synced = std::min(state.synced, intact);
    absl::StatusOr<int> fd = disk.Open("log", {.create = true});
    if (!fd.ok()) return;
    if (!disk.Ftruncate(*fd, intact * kRecordBytes).ok()) return;
    Sync(name, *fd);
    if (state.synced != state.written || !disk.FsyncDir("").ok()) return;  // next boot tries again

    while (true) {
      sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Millis(50), SimDuration::Millis(300)));
      absl::StatusOr<size_t> written = disk.Pwrite(*fd, state.written * kRecordBytes, Record(name, state.written));
      if (!written.ok()) {
        properties.Sometimes(written.status().code() == absl::StatusCode::kResourceExhausted, "WriteFailedDiskFull");
        continue;
      }
      ++state.written;
      if (rng.Chance(1, 2)) Sync(name, *fd);
      if (rng.Chance(1, 8)) RotateState(name);
    }
  }

  // fdatasync; after EIO the failed pages never reach the disk, so the
  // records since the last good sync are written again before the next
  // fsync, in this call or a later one (PostgreSQL's lesson): a later sync
  // that succeeds says nothing of pages an earlier one failed.
  void Sync(const std::string& name, int fd) {
    sim::Disk& disk = world_->disk(name);
    MachineState& state = state_[name];
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (state.rewrite_before_sync) {
        for (uint64_t i = state.synced; i < state.written; ++i) {
          if (!disk.Pwrite(fd, i * kRecordBytes, Record(name, i)).ok()) return;
        }
        state.rewrite_before_sync = false;
      }
      if (disk.Fdatasync(fd).ok()) {
        state.synced = state.written;
        return;
      }
      state.rewrite_before_sync = true;
      simulation_->properties().Sometimes(true, "FsyncFailedRewrote");
    }
  }

  void RotateState(const std::string& name) {
    sim::Disk& disk = world_->disk(name);
    MachineState& state = state_[name];
    const uint64_t index = state.state_next++;
    absl::StatusOr<int> fd = disk.Open("state.tmp", {.create = true, .truncate = true});
    if (!fd.ok()) return;
    const bool written = disk.Pwrite(*fd, 0, fmt::format("state {}", index)).ok() && disk.Fsync(*fd).ok();
    (void)disk.Close(*fd);
    if (!written || !disk.Rename("state.tmp", "state").ok()) return;
    if (disk.FsyncDir("").ok()) state.state_durable = index;
  }

  void Uploader(const std::string& name) {
    sim::BucketClient& store = world_->Bucket(name);
    MachineState& state = state_[name];
    sim::Properties& properties = simulation_->properties();
    sim::Rng& rng = simulation_->Stream("world-selftest.uploader." + name);
    const std::string prefix = name + "/";
    while (true) {
      sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Millis(500), SimDuration::Seconds(2)));
      const std::string key = fmt::format("{}obj-{:06d}", prefix, state.uploads++);
      absl::Status put = store.Put(key, std::string(64, 'o'));
      properties.Sometimes(put.code() == absl::StatusCode::kDeadlineExceeded, "AmbiguousPut");
      properties.Sometimes(put.code() == absl::StatusCode::kUnavailable ||
                               put.code() == absl::StatusCode::kResourceExhausted,
                           "ObjectStoreTransientError");
      if (put.ok()) state.uploaded[key] = simulation_->Now();
      absl::StatusOr<std::vector<sim::ObjectInfo>> listing = store.List(prefix);
      if (!listing.ok()) continue;
      std::map<std::string, bool> listed;
      for (const auto& object : *listing) listed[object.key] = true;
      if (put.ok()) properties.Sometimes(!listed.contains(key), "ListingLagHidObject");
      for (const auto& [uploaded_key, when] : state.uploaded) {
        if (when + kListingSettled > simulation_->Now()) continue;
        properties.Always(listed.contains(uploaded_key), "ListingCatchesUp",
                          fmt::format("{} put at {} is still not listed", uploaded_key, when.ToString()));
      }
    }
  }

  const std::vector<std::string> machines_ = {"m0", "m1", "m2"};
  sim::Simulation* simulation_ = nullptr;
  std::unique_ptr<World> world_;
  std::map<std::string, MachineState> state_;
};

}  // namespace

std::unique_ptr<Workload> MakeWorldSelftest() { return std::make_unique<WorldSelftest>(); }

}  // namespace workloads
