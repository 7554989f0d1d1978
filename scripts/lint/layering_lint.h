// The layering lint: dependencies point down only,
//   cli -> workloads -> cluster -> model -> sim,   viz -> sim (trace format),
// so a file may include headers of its own layer and of the layers below it,
// never above (STYLE.md: "a cycle is a design bug"). scripts/ and bench/ are
// tools over every layer and are not checked.
#pragma once

#include <string>
#include <vector>

namespace lint {

struct LayeringFinding {
  std::string file;
  int line = 0;
  std::string include;  // the offending header
};

// The findings of one file (`file` as a path from the repository top, e.g.
// "model/etcd/server.cc"); files outside the layered folders have none.
std::vector<LayeringFinding> LintIncludes(const std::string& file, const std::string& text);

// Every .h/.cc/.proto under the layered folders below `top`.
std::vector<LayeringFinding> LintLayering(const std::string& top);

std::string FormatLayeringFinding(const LayeringFinding& finding);

}  // namespace lint
