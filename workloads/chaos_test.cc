// etcd-cluster-chaos over 200 consecutive seeds (a separate binary, so that
// the sanitizer run can leave it out: it is slow under ASan).
#include <gtest/gtest.h>

#include "workloads/runner.h"

namespace workloads {
namespace {

// etcd-cluster-chaos: 200 consecutive seeds without a safety or integrity violation,
// in four slices so that CTest can run them in parallel.
class ChaosSlice : public testing::TestWithParam<int> {};

TEST_P(ChaosSlice, NoViolations) {
  const uint64_t first = 1 + 50 * static_cast<uint64_t>(GetParam());
  for (uint64_t seed = first; seed < first + 50; ++seed) {
    auto result = RunWorkload({.workload = "etcd-cluster-chaos", .seed = seed});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->pass()) << ResultLine(*result);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds1To200, ChaosSlice, testing::Range(0, 4));

}  // namespace
}  // namespace workloads
