// The source files the lints read: every file with one of `extensions` under
// each of `roots` below `top`, as (path relative to top, contents), sorted.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace lint {

inline std::vector<std::pair<std::string, std::string>> ReadSources(const std::string& top,
                                                                    const std::vector<std::string>& roots,
                                                                    const std::vector<std::string>& extensions) {
  std::vector<std::string> paths;
  for (const std::string& root : roots) {
    const std::filesystem::path dir = std::filesystem::path(top) / root;
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      const std::string extension = entry.path().extension().string();
      if (entry.is_regular_file() && std::find(extensions.begin(), extensions.end(), extension) != extensions.end()) {
        paths.push_back(entry.path().string());
      }
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::pair<std::string, std::string>> sources;
  for (const std::string& path : paths) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    sources.emplace_back(std::filesystem::relative(path, top).string(), text.str());
  }
  return sources;
}

}  // namespace lint
