#include "cluster/etcd_cluster.h"

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "sim/check.h"

namespace cluster {

EtcdCluster::EtcdCluster(sim::Simulation* simulation, Options options)
    : simulation_(simulation), options_(std::move(options)), world_(simulation) {
  SIM_CHECK(!options_.etcd_defaults || options_.members == 1, "etcd's default flags describe one member");
  std::vector<std::string> nodes;
  for (int i = 0; i < options_.nodes; ++i) nodes.push_back(NodeName(i));
  cluster_ = std::make_unique<Cluster>(simulation_, &world_, nodes);
  api_ = std::make_unique<ApiServer>(&simulation_->scheduler(), &world_.network());
  client_node_ = world_.network().AddNode("client");
  for (int i = 0; i < options_.members; ++i) {
    initial_cluster_ += fmt::format("{}{}={}", i ? "," : "", PodName(i), PeerUrl(i));
  }
  replicas_ = options_.members;
  druid_ = std::make_unique<Druid>(&simulation_->scheduler(), api_.get(), cluster_.get(),
                                   Druid::Options{.etcd = options_.name,
                                                  .replicas = options_.members,
                                                  .containers = [this](int ordinal) { return Containers(ordinal); }});
  plan_.set_workload("etcd-cluster");
}

EtcdCluster::~EtcdCluster() { simulation_->Shutdown(); }

std::string EtcdCluster::PeerUrl(int ordinal) const {
  return fmt::format("http://{}.{}-peer.default.svc:2380", PodName(ordinal), options_.name);
}

std::string EtcdCluster::ClientUrl(int ordinal) const {
  return fmt::format("http://{}.{}-peer.default.svc:2379", PodName(ordinal), options_.name);
}

std::vector<std::string> EtcdCluster::ClientUrls() const {
  std::vector<std::string> urls;
  for (int i = 0; i < options_.members; ++i) urls.push_back(ClientUrl(i));
  return urls;
}

std::string EtcdCluster::LastStartFailure(int ordinal) const {
  auto it = last_.find(ordinal);
  if (it == last_.end() || !it->second->failed_at_start()) return "";
  return it->second->failure();
}

void EtcdCluster::RestartWithoutBackOff() {
  for (int i = 0; i < options_.members; ++i) {
    if (cluster_->Created(PodName(i))) cluster_->kubelet(PodName(i)).RestartWithoutBackOff();
  }
}

void EtcdCluster::ScaleTo(int replicas) {
  options_.members = std::max(options_.members, replicas);  // ordinals that ever existed
  replicas_ = replicas;  // druid rewrites the configmap, then the StatefulSet
  for (int i = 0; i < replicas; ++i) {
    if (api_->Get("Lease", druid_->MemberLease(i)).ok()) continue;
    Object lease;
    lease.set_kind("Lease");
    lease.mutable_meta()->set_name(druid_->MemberLease(i));
    lease.mutable_lease();
    SIM_CHECK(api_->Create(lease).ok(), "lease {}", druid_->MemberLease(i));
  }
  druid_->SetReplicas(replicas);
  // The configmap changed with the replicas: so does the pod template's
  // `checksum/etcd-configmap`, and the StatefulSet rolls the pods made from
  // the old one (a 1 -> 3 scale-up restarts etcd-main-0, whose BR then reads
  // the three-member configmap).
  cluster_->SetTemplateRevision(options_.name, fmt::format("configmap-{}", replicas));
  cluster_->Scale(options_.name, replicas);
}

sim::FaultSurface EtcdCluster::Faults(const Options& options) {
  sim::FaultSurface surface;
  for (int i = 0; i < options.members; ++i) {
    surface.nodes.push_back(PodName(options, i));
    surface.volumes.push_back("data-" + PodName(options, i));
  }
  for (int i = 0; i < options.nodes; ++i) surface.hosts.push_back("node-" + std::to_string(i));
  surface.containers = {"etcd"};
  if (options.backup_restore.has_value()) surface.containers.push_back("backup-restore");
  surface.api_server = true;
  surface.object_store = options.backup_restore.has_value();
  return surface;
}

EtcdCluster::PodFaults& EtcdCluster::PodFaults::PendingFor(sim::SimDuration delay) {
  auto* action = cluster_->plan_.add_actions();
  action->set_at_ns(0);
  action->mutable_delay_start()->set_node(cluster_->PodName(ordinal_));
  action->mutable_delay_start()->set_delay_ns(delay.nanos());
  return *this;
}

etcd_dst::faults::Action* EtcdCluster::Moment::Add() {
  SIM_CHECK(!cluster_->started_, "the scenario is said before Start");
  auto* action = cluster_->plan_.add_actions();
  action->set_at_ns(at_.nanos());
  return action;
}

EtcdCluster::Moment& EtcdCluster::Moment::DeletePod(int ordinal) {
  Add()->mutable_pod_delete()->set_pod(cluster_->PodName(ordinal));
  return *this;
}

EtcdCluster::Moment& EtcdCluster::Moment::KillContainer(int ordinal, const std::string& container) {
  auto* kill = Add()->mutable_container_kill();
  kill->set_pod(cluster_->PodName(ordinal));
  kill->set_container(container);
  return *this;
}

EtcdCluster::Moment& EtcdCluster::Moment::PowerLoss(int node, sim::SimDuration restart_after) {
  auto* power = Add()->mutable_power_loss();
  power->set_node(cluster_->NodeName(node));
  power->set_restart_after_ns(restart_after.nanos());
  return *this;
}

EtcdCluster::Moment& EtcdCluster::Moment::LoseVolume(int ordinal) {
  Add()->mutable_volume_loss()->set_volume(cluster_->VolumeName(ordinal));
  return *this;
}

EtcdCluster::Moment& EtcdCluster::Moment::ApiServerOutage(sim::SimDuration duration) {
  Add()->mutable_api_server_outage()->set_duration_ns(duration.nanos());
  return *this;
}

void EtcdCluster::Start() {
  std::stable_sort(plan_.mutable_actions()->begin(), plan_.mutable_actions()->end(),
                   [](const auto& a, const auto& b) { return a.at_ns() < b.at_ns(); });
  const absl::Status valid = sim::ValidatePlan(plan_, Faults());
  SIM_CHECK(valid.ok(), "the scenario's plan: {}", valid.ToString());
  Start(plan_);
}

void EtcdCluster::Start(const sim::FaultPlan& plan) {
  SIM_CHECK(!started_, "started twice");
  started_ = true;
  if (&plan != &plan_) plan_ = plan;
  world_.ApplyPlan(plan_);
  api_->Start();
  druid_->Start();
}

void EtcdCluster::RunUntil(sim::SimDuration time) {
  simulation_->scheduler().Run({.until = sim::SimTime::Zero() + time});
}

model::etcd::EtcdServer* EtcdCluster::Current(int ordinal) {
  auto it = current_.find(ordinal);
  return it == current_.end() ? nullptr : it->second;
}

model::etcd::Client EtcdCluster::Client(std::vector<std::string> endpoints, sim::SimDuration timeout,
                                        sim::Rng* rng) {
  return model::etcd::Client(&world_.network(), client_node_, std::move(endpoints),
                             rng != nullptr ? rng : &simulation_->Stream("client"), timeout, &world_.resolver());
}

model::br::ConfigMap EtcdCluster::ConfigMap() const {
  model::br::ConfigMap config;
  config.etcd = options_.name;
  for (int i = 0; i < replicas_; ++i) {
    config.peer_urls[PodName(i)] = PeerUrl(i);
    config.client_urls[PodName(i)] = ClientUrl(i);
  }
  config.token = options_.token;
  config.data_dir = options_.data_dir;
  config.snapshot_count = options_.snapshot_count;
  return config;
}

std::vector<std::pair<int, const model::br::BackupRestore*>> EtcdCluster::AllBackupRestores() const {
  std::vector<std::pair<int, const model::br::BackupRestore*>> all;
  for (const auto& [ordinal, br] : brs_) all.emplace_back(ordinal, br.get());
  return all;
}

model::br::BackupRestore* EtcdCluster::CurrentBackupRestore(int ordinal) {
  auto it = current_br_.find(ordinal);
  return it == current_br_.end() ? nullptr : it->second;
}

bool EtcdCluster::HttpReady(int ordinal, uint16_t port, const std::string& path) {
  // kubelet's HTTP probe from the node: 1 s timeout.
  const std::string pod = PodName(ordinal);
  sim::ProcessContext context = world_.Context(pod, &simulation_->Stream("probe." + pod));
  absl::StatusOr<model::http::Response> response =
      model::http::Fetch(context, "GET", fmt::format("http://localhost:{}{}", port, path), sim::SimDuration::Seconds(1));
  return response.ok() && response->code >= 200 && response->code < 400;
}

std::vector<ContainerSpec> EtcdCluster::Containers(int ordinal) {
  if (options_.backup_restore.has_value()) {
    // druid v0.28: with more than one replica the wrapper's /readyz, else
    // BR's /healthz (Ready only while that BR leads the backups).
    std::optional<ReadinessProbe> readiness;
    if (options_.readiness) {
      readiness = ReadinessProbe{.check = [this, ordinal] {
        return replicas_ > 1 ? HttpReady(ordinal, model::wrapper::kWrapperPort, "/readyz")
                             : HttpReady(ordinal, model::br::kServerPort, "/healthz");
      }};
    }
    return {{.name = "etcd",
             .main = [this, ordinal](sim::Group* container) { return RunWrapper(ordinal, container); },
             .readiness = std::move(readiness),
             .on_sigterm =
                 [this, ordinal] {
                   if (auto it = current_wrapper_.find(ordinal); it != current_wrapper_.end()) it->second->OnSigterm();
                 }},
            {.name = "backup-restore",
             .main = [this, ordinal](sim::Group* container) { return RunBackupRestore(ordinal, container); }}};
  }
  // druid's readiness for more than one replica: the wrapper's cached
  // Get("foo") on the local member; 15 s initial delay, 5 s period, 5 failures.
  std::optional<ReadinessProbe> readiness;
  if (options_.readiness) readiness = ReadinessProbe{.check = [this, ordinal] { return EtcdReady(ordinal); }};
  return {{.name = "etcd",
           .main = [this, ordinal](sim::Group* container) { return RunEtcd(ordinal, container); },
           .readiness = std::move(readiness)}};
}

bool EtcdCluster::EtcdReady(int ordinal) {
  const std::string pod = PodName(ordinal);
  model::etcd::Client local(&world_.network(), world_.node(pod), {"http://localhost:2379"},
                            &simulation_->Stream("readiness." + pod), sim::SimDuration::Seconds(5),
                            &world_.resolver());
  return local.Get("foo").ok();
}

model::etcd::EtcdConfig EtcdCluster::Flags(int ordinal) const {
  model::etcd::EtcdConfig config;
  config.name = PodName(ordinal);
  config.data_dir = options_.data_dir;
  config.initial_advertise_peer_urls = {PeerUrl(ordinal)};
  config.advertise_client_urls = {ClientUrl(ordinal)};
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
  return config;
}

model::etcd::EtcdServer* EtcdCluster::CreateEtcd(int ordinal, const model::etcd::EtcdConfig& flags) {
  const std::string pod = PodName(ordinal);
  model::etcd::EtcdConfig config = flags;
  config.bbolt_init = options_.bbolt_init;
  config.atomic_wal_bootstrap = options_.atomic_wal_bootstrap;
  if (options_.configure) options_.configure(ordinal, config);
  // The process's stream is named by its pod, never by etcd's member name:
  // restored members are all "default" and must not share a stream.
  all_.push_back(std::make_unique<model::etcd::EtcdServer>(world_.Context(pod, &simulation_->Stream("etcd." + pod)),
                                                           config));
  started_at_.push_back(simulation_->Now());
  model::etcd::EtcdServer* server = all_.back().get();
  current_[ordinal] = server;
  last_[ordinal] = server;
  if (options_.on_start) options_.on_start(ordinal);
  return server;
}

int EtcdCluster::RunWrapper(int ordinal, sim::Group* container) {
  const std::string pod = PodName(ordinal);
  wrappers_.push_back(std::make_unique<model::wrapper::Wrapper>(
      world_.Context(pod, &simulation_->Stream("wrapper." + pod)),
      model::wrapper::Wrapper::Options{
          .etcd = options_.name,
          .create_etcd = [this, ordinal](const model::etcd::EtcdConfig& config) { return CreateEtcd(ordinal, config); }}));
  current_wrapper_[ordinal] = wrappers_.back().get();
  // The container's exit (or its kill, which unwinds this actor) ends both.
  absl::Cleanup gone = [this, ordinal] {
    current_.erase(ordinal);
    current_wrapper_.erase(ordinal);
  };
  return wrappers_.back()->Run(container);
}

int EtcdCluster::RunBackupRestore(int ordinal, sim::Group* container) {
  const std::string pod = PodName(ordinal);
  sim::ProcessContext context = world_.Context(pod, &simulation_->Stream("br." + pod), /*bucket=*/true);
  br_kubernetes_.push_back(std::make_unique<BrKubernetes>(
      ApiClient(&world_.network(), context.node, api_->address(), &simulation_->Stream("br-kube." + pod))));
  model::br::Snapshotter::Options snapshots = options_.snapshots;
  const size_t process = brs_.size();
  snapshots.on_attempt = [this, ordinal, process](const model::br::SnapshotAttempt& attempt) {
    snapshot_attempts_.push_back({ordinal, process, attempt});
  };
  brs_.emplace_back(ordinal, std::make_unique<model::br::BackupRestore>(
      context, model::br::BackupRestore::Options{.pod = pod,
                                                 .config = [this] { return ConfigMap(); },
                                                 .kubernetes = br_kubernetes_.back().get(),
                                                 .profile = *options_.backup_restore,
                                                 .snapshotter = snapshots,
                                                 .lease_with_cluster_id = options_.lease_with_cluster_id}));
  model::br::BackupRestore* br = brs_.back().second.get();
  current_br_[ordinal] = br;
  absl::Cleanup gone = [this, ordinal] { current_br_.erase(ordinal); };
  return br->Run(container);
}

int EtcdCluster::RunEtcd(int ordinal, sim::Group* container) {
  model::etcd::EtcdServer* server = CreateEtcd(ordinal, Flags(ordinal));
  absl::Cleanup gone = [this, ordinal] { current_.erase(ordinal); };
  // etcd's actors run in a group of their own, so that its fatal errors end
  // them and not this process, which reports the exit code.
  server->Start(simulation_->scheduler().CreateGroup("process", container));
  return server->Exited().Wait().value_or(255);
}

}  // namespace cluster
