#include "lint/layering_lint.h"

#include <gtest/gtest.h>

namespace lint {
namespace {

// An include that points up is caught; down, sideways into its own layer, and libraries are not.
TEST(LayeringLintTest, CatchesIncludesThatPointUp) {
  const std::string code =
      "#include \"sim/world.h\"\n"
      "#include \"model/etcd/server.h\"\n"
      "#include \"workloads/runner.h\"\n"
      "#include \"absl/status/status.h\"\n"
      "#include \"cluster/kubelet.h\"\n"
      "#include \"local.h\"\n";
  const std::vector<LayeringFinding> findings = LintIncludes("model/etcd/x.cc", code);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].line, 3);
  EXPECT_EQ(findings[0].include, "workloads/runner.h");
  EXPECT_EQ(findings[1].include, "cluster/kubelet.h");
  EXPECT_TRUE(LintIncludes("sim/world.cc", "#include \"sim/disk.h\"\n").empty());
  EXPECT_EQ(LintIncludes("sim/world.cc", "#include \"model/raft.h\"\n").size(), 1u);
  EXPECT_EQ(LintIncludes("sim/x.proto", "import \"model/etcd/api.proto\";\n").size(), 1u);
  EXPECT_TRUE(LintIncludes("cli/main.cc", "#include \"workloads/runner.h\"\n").empty());
  EXPECT_EQ(LintIncludes("viz/dot.cc", "#include \"model/raft.h\"\n").size(), 1u);
  EXPECT_TRUE(LintIncludes("scripts/lint/x.cc", "#include \"cli/main.h\"\n").empty());
}

// The repository's own layers point down only.
TEST(LayeringLintTest, TreeIsLayered) {
  const std::vector<LayeringFinding> findings = LintLayering(ETCD_DST_SOURCE_DIR);
  for (const LayeringFinding& finding : findings) ADD_FAILURE() << FormatLayeringFinding(finding);
}

}  // namespace
}  // namespace lint
