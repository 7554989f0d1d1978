#include <algorithm>

#include "workloads/workload.h"

namespace workloads {

// Each workload file defines its factory; the list is explicit so that a
// static library cannot drop a workload by dead-stripping its object file.
std::unique_ptr<Workload> MakeKernelSelftest();

const std::vector<WorkloadEntry>& AllWorkloads() {
  static const std::vector<WorkloadEntry> entries = [] {
    std::vector<WorkloadEntry> list = {
        {"kernel-selftest",
         "actors exchange requests through bounded mailboxes with random delays and timeouts; "
         "one node group is killed midway",
         MakeKernelSelftest},
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
