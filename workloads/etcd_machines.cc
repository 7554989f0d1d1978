#include "workloads/etcd_machines.h"

#include "fmt/format.h"
#include "sim/trace.h"

namespace workloads {

EtcdMachines::EtcdMachines(sim::Simulation* simulation, sim::World* world, Options options)
    : simulation_(simulation), world_(world), options_(options) {
  SIM_CHECK(!options_.etcd_defaults || options_.members == 1, "etcd's default flags describe one member");
  std::string initial;
  for (int i = 0; i < options_.members; ++i) {
    names_.push_back(fmt::format("m{}", i));
    initial += fmt::format("{}m{}=http://m{}:2380", i ? "," : "", i, i);
  }
  for (const std::string& name : names_) {
    world_->AddMachine(name, {}, [this, name](sim::Group* machine, int) { Boot(name, machine); });
  }
  initial_cluster_ = initial;
}

model::etcd::EtcdServer* EtcdMachines::Current(const std::string& name) {
  auto it = current_.find(name);
  return it == current_.end() ? nullptr : it->second;
}

std::vector<std::string> EtcdMachines::ClientUrls() const {
  std::vector<std::string> urls;
  for (const std::string& name : names_) urls.push_back(fmt::format("http://{}:2379", name));
  return urls;
}

void EtcdMachines::Boot(const std::string& name, sim::Group* machine) {
  current_.erase(name);
  gave_up_[name] = false;
  simulation_->scheduler().Spawn(machine, "kubelet", [this, name, machine] { Kubelet(name, machine); });
}

void EtcdMachines::RestartGivenUp() {
  for (const std::string& name : names_) {
    if (!gave_up_[name] || !world_->running(name)) continue;
    sim::TraceEvent("ContainerRestartedForLiveness").Detail("machine", name);
    Boot(name, world_->group(name));
  }
}

std::string EtcdMachines::LastStartFailure(const std::string& name) const {
  auto it = last_.find(name);
  if (it == last_.end() || !it->second->failed_at_start()) return "";
  return it->second->failure();
}

std::string EtcdMachines::ClientUrl(const std::string& name) const {
  return fmt::format("http://{}:2379", name);
}

// The container: start etcd; when it dies, start it again after a back-off.
void EtcdMachines::Kubelet(const std::string& name, sim::Group* machine) {
  sim::SimDuration backoff = sim::SimDuration::Seconds(1);
  for (int attempt = 0; attempt <= options_.restart_limit; ++attempt) {
    model::etcd::EtcdConfig config;
    config.name = name;
    config.data_dir = options_.data_dir;
    config.initial_advertise_peer_urls = {fmt::format("http://{}:2380", name)};
    config.advertise_client_urls = {ClientUrl(name)};
    config.initial_cluster = initial_cluster_;
    config.initial_cluster_state = "new";
    config.initial_cluster_token = options_.token;
    config.snapshot_count = options_.snapshot_count;
    if (options_.etcd_defaults) {
      config.name = "default";
      config.initial_advertise_peer_urls = {"http://localhost:2380"};
      config.advertise_client_urls = {"http://localhost:2379"};
      config.initial_cluster = "default=http://localhost:2380";
    }
    config.bbolt_init = options_.bbolt_init;
    config.atomic_wal_bootstrap = options_.atomic_wal_bootstrap;
    all_.push_back(std::make_unique<model::etcd::EtcdServer>(simulation_, &world_->network(), world_->node(name),
                                                             &world_->disk(name), config));
    model::etcd::EtcdServer* server = all_.back().get();
    current_[name] = server;
    last_[name] = server;
    sim::Group* container = simulation_->scheduler().CreateGroup("etcd", machine);
    if (options_.on_start) options_.on_start(name);
    server->Start(container);
    using State = model::etcd::EtcdServer::State;
    while (server->state() == State::kStarting || server->state() == State::kRunning) {
      sim::this_actor::SleepFor(sim::SimDuration::Millis(200));
    }
    if (server->state() == State::kStopped) return;  // removed from the cluster: stays down
    simulation_->scheduler().KillGroup(container);
    current_.erase(name);
    sim::TraceEvent("ContainerRestartBackoff").Detail("machine", name).Detail("backoff", backoff);
    sim::this_actor::SleepFor(backoff);
    backoff = backoff * 2;
  }
  gave_up_[name] = true;
}

}  // namespace workloads
