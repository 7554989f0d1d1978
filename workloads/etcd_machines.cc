#include "workloads/etcd_machines.h"

#include "fmt/format.h"
#include "sim/trace.h"

namespace workloads {

EtcdMachines::EtcdMachines(sim::Simulation* simulation, sim::World* world, Options options)
    : simulation_(simulation), world_(world), options_(options) {
  SIM_CHECK(!options_.etcd_defaults || options_.members == 1, "etcd's default flags describe one member");
  for (int i = 0; i < options_.members; ++i) {
    names_.push_back(fmt::format("m{}", i));
    initial_cluster_ += fmt::format("{}m{}=http://m{}:2380", i ? "," : "", i, i);
  }
  for (const std::string& name : names_) {
    cluster::ContainerSpec etcd{.name = "etcd",
                                .main = [this, name](sim::Group* container) { return RunEtcd(name, container); }};
    kubelets_[name] = std::make_unique<cluster::Kubelet>(&simulation_->scheduler(), name,
                                                         std::vector<cluster::ContainerSpec>{std::move(etcd)});
    cluster::Kubelet* kubelet = kubelets_[name].get();
    world_->AddMachine(name, {}, [kubelet](sim::Group* pod, int boot) { kubelet->Boot(pod, boot); });
  }
}

model::etcd::EtcdServer* EtcdMachines::Current(const std::string& name) {
  auto it = current_.find(name);
  return it == current_.end() ? nullptr : it->second;
}

std::vector<std::string> EtcdMachines::ClientUrls() const {
  std::vector<std::string> urls;
  for (const std::string& name : names_) urls.push_back(ClientUrl(name));
  return urls;
}

std::string EtcdMachines::ClientUrl(const std::string& name) const { return fmt::format("http://{}:2379", name); }

void EtcdMachines::RestartWithoutBackOff() {
  for (auto& [name, kubelet] : kubelets_) kubelet->RestartWithoutBackOff();
}

std::string EtcdMachines::LastStartFailure(const std::string& name) const {
  auto it = last_.find(name);
  if (it == last_.end() || !it->second->failed_at_start()) return "";
  return it->second->failure();
}

model::etcd::EtcdConfig EtcdMachines::Config(const std::string& name) const {
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
  return config;
}

int EtcdMachines::RunEtcd(const std::string& name, sim::Group* container) {
  const model::etcd::EtcdConfig config = Config(name);
  all_.push_back(std::make_unique<model::etcd::EtcdServer>(
      world_->Context(name, &simulation_->Stream("etcd." + config.name)), config));
  model::etcd::EtcdServer* server = all_.back().get();
  current_[name] = server;
  last_[name] = server;
  // However the process ends (its exit, or the pod's death), it is no
  // longer the machine's current server.
  struct Gone {
    std::map<std::string, model::etcd::EtcdServer*>* current;
    const std::string* name;
    ~Gone() { current->erase(*name); }
  } gone{&current_, &name};
  if (options_.on_start) options_.on_start(name);
  // etcd's actors run in a group of their own, so that its fatal errors end
  // them and not this process, which reports the exit code.
  server->Start(simulation_->scheduler().CreateGroup("process", container));
  return server->Exited().Wait().value_or(255);
}

}  // namespace workloads
