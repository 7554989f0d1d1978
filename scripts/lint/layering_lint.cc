#include "lint/layering_lint.h"

#include <map>
#include <sstream>

#include "lint/source_files.h"

namespace lint {
namespace {

// What each layer may include, itself included.
const std::map<std::string, std::vector<std::string>>& Allowed() {
  static const auto* allowed = new std::map<std::string, std::vector<std::string>>{
      {"sim", {"sim"}},
      {"model", {"model", "sim"}},
      {"cluster", {"cluster", "model", "sim"}},
      {"workloads", {"workloads", "cluster", "model", "sim"}},
      {"viz", {"viz", "sim"}},
      {"cli", {"cli", "viz", "workloads", "cluster", "model", "sim"}},
  };
  return *allowed;
}

std::string TopFolder(const std::string& path) { return path.substr(0, path.find('/')); }

}  // namespace

std::vector<LayeringFinding> LintIncludes(const std::string& file, const std::string& text) {
  std::vector<LayeringFinding> findings;
  auto layer = Allowed().find(TopFolder(file));
  if (layer == Allowed().end()) return findings;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    // #include "x/..." and proto's import "x/...".
    const bool include = line.rfind("#include \"", 0) == 0;
    const bool import = line.rfind("import \"", 0) == 0;
    if (!include && !import) continue;
    const size_t open = line.find('"');
    const std::string header = line.substr(open + 1, line.find('"', open + 1) - open - 1);
    if (header.find('/') == std::string::npos) continue;  // a file of the same folder
    const std::string target = TopFolder(header);
    if (!Allowed().contains(target)) continue;  // a library (absl/, fmt/, google/...)
    bool ok = false;
    for (const std::string& allowed : layer->second) ok |= allowed == target;
    if (!ok) findings.push_back({file, number, header});
  }
  return findings;
}

std::vector<LayeringFinding> LintLayering(const std::string& top) {
  std::vector<std::string> roots;
  for (const auto& [folder, allowed] : Allowed()) roots.push_back(folder);
  std::vector<LayeringFinding> findings;
  for (const auto& [file, text] : ReadSources(top, roots, {".h", ".cc", ".proto"})) {
    for (LayeringFinding& finding : LintIncludes(file, text)) findings.push_back(std::move(finding));
  }
  return findings;
}

std::string FormatLayeringFinding(const LayeringFinding& finding) {
  return finding.file + ":" + std::to_string(finding.line) + ": includes " + finding.include +
         ", a layer above it (cli -> workloads -> cluster -> model -> sim)";
}

}  // namespace lint
