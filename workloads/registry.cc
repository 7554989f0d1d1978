#include <algorithm>

#include "workloads/workload.h"

namespace workloads {

// Each workload file defines its factory; the list is explicit so that a
// static library cannot drop a workload by dead-stripping its object file.
std::unique_ptr<Workload> MakeKernelSelftest();
std::unique_ptr<Workload> MakeWorldSelftest();

const std::vector<WorkloadEntry>& AllWorkloads() {
  static const std::vector<WorkloadEntry> entries = [] {
    std::vector<WorkloadEntry> list = {
        {"kernel-selftest",
         "actors exchange requests through bounded mailboxes with random delays and timeouts; "
         "one node group is killed midway",
         MakeKernelSelftest},
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
