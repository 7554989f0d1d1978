#include <algorithm>

#include "workloads/workload.h"

namespace workloads {

// Each workload file defines its factory; the list is explicit so that a
// static library cannot drop a workload by dead-stripping its object file.
std::unique_ptr<Workload> MakeKernelSelftest();
std::unique_ptr<Workload> MakeBootstrapZeroToThree();
std::unique_ptr<Workload> MakeScaleUpOneToThree();
std::unique_ptr<Workload> MakeRestoreAllVolumesLost();
std::unique_ptr<Workload> MakeWakeUpZeroToThree();
std::unique_ptr<Workload> MakeMemberVolumeLost();
std::unique_ptr<Workload> MakeRollingUpdate();
std::unique_ptr<Workload> MakeDruidClusterChaos();
std::unique_ptr<Workload> MakeWorldSelftest();
std::unique_ptr<Workload> MakeSweepSelftest();
std::unique_ptr<Workload> MakeSingleMemberPowerLoss();
std::unique_ptr<Workload> MakeEtcdClusterChaos();
std::unique_ptr<Workload> MakeSingleMemberPowerLossSeparateSyncs();
std::unique_ptr<Workload> MakeSingleMemberPowerLossAtomicInit();
std::unique_ptr<Workload> MakeSingleMemberPowerLossAtomicBootstrap();

const std::vector<WorkloadEntry>& AllWorkloads() {
  static const std::vector<WorkloadEntry> entries = [] {
    std::vector<WorkloadEntry> list = {
        {"bootstrap-0-to-3",
         "a new HA cluster as etcd-druid runs it (etcd-wrapper and backup-restore beside each member), Parallel "
         "pods, any of them late, with client traffic; checks one cluster ID and that all members converge",
         MakeBootstrapZeroToThree},
        {"scale-up-1-to-3",
         "a single member with data and backups becomes HA (learners added by backup-restore, then promoted)",
         MakeScaleUpOneToThree},
        {"restore-all-volumes-lost",
         "quorum loss: every volume lost, the cluster rebuilt from the bucket (replicas 0, leases reset, 1, 3); "
         "checks that every write acknowledged up to the last backup survives",
         MakeRestoreAllVolumesLost},
        {"wake-up-0-to-3",
         "a hibernated cluster (replicas 0, volumes and backups kept) scaled back to 3, pods scheduled late",
         MakeWakeUpZeroToThree},
        {"member-volume-lost",
         "one member's volume lost (PVC deleted), its db corrupted or its member dir removed; the member must "
         "come back",
         MakeMemberVolumeLost},
        {"rolling-update",
         "pods restarted one at a time, highest ordinal first, each once the one before is Ready (a new image or "
         "config), backup leadership moving",
         MakeRollingUpdate},
        {"druid-cluster-chaos",
         "a running 3-member druid cluster with backups under every fault for minutes of simulated time",
         MakeDruidClusterChaos},
        {"etcd-cluster-chaos",
         "three etcd members with client traffic under partitions, crashes, power losses and disk faults; "
         "checks raft safety and acknowledged writes",
         MakeEtcdClusterChaos},
        {"kernel-selftest",
         "actors exchange requests through bounded mailboxes with random delays and timeouts; "
         "one node group is killed midway",
         MakeKernelSelftest},
        {"single-member-power-loss",
         "etcd #16596: one member's first start, a power loss in its first seconds (often inside the bbolt "
         "init or the WAL creation), then a restart that must succeed",
         MakeSingleMemberPowerLoss},
        {"single-member-power-loss-pr570",
         "the same, with bbolt initialising as its PR #570 proposes (data pages, sync, metas, sync)",
         MakeSingleMemberPowerLossSeparateSyncs},
        {"single-member-power-loss-atomic-init",
         "the same, with bbolt building the init image in a temp file and renaming it into place",
         MakeSingleMemberPowerLossAtomicInit},
        {"single-member-power-loss-atomic-bootstrap",
         "the atomic bbolt init, and the WAL made visible only with its bootstrap entries in it",
         MakeSingleMemberPowerLossAtomicBootstrap},
        {"sweep-selftest",
         "checks the sweep's isolation, not a model: seeds ending in 3 abort, 5 spin without yielding, 7 "
         "allocate until out of memory, 9 violate a property; the rest pass (not in the default sweep)",
         MakeSweepSelftest, /*in_default_sweep=*/false},
        {"world-selftest",
         "three machines ping, log to disk, rotate a state file and upload to the bucket under the "
         "seed's fault plan (partitions, crashes, power loss, torn writes, bucket errors)",
         MakeWorldSelftest},
    };
    std::sort(list.begin(), list.end(),
              [](const WorkloadEntry& a, const WorkloadEntry& b) { return a.name < b.name; });
    return list;
  }();
  return entries;
}

const WorkloadEntry* FindWorkload(const std::string& name) {
  for (const WorkloadEntry& entry : AllWorkloads()) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace workloads
