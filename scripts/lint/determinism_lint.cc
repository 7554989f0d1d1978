#include "lint/determinism_lint.h"

#include "lint/source_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace lint {
namespace {

struct Rule {
  const char* name;
  std::regex pattern;
};

const std::vector<Rule>& Rules() {
  static const std::vector<Rule> rules = {
      {"wall-clock", std::regex(R"(\b(system_clock|steady_clock|high_resolution_clock|gettimeofday|clock_gettime|absl::Now|GetCurrentTimeNanos|localtime|gmtime)\b)")},
      {"wall-clock", std::regex(R"((^|[^\w.:>])(std::)?time\s*\(\s*(nullptr|NULL|0|&\s*\w+)\s*\))")},
      {"random-device", std::regex(R"(\brandom_device\b)")},
      {"libc-rand", std::regex(R"((^|[^\w.:>])(rand|srand|random|srandom|drand48|rand_r)\s*\()")},
      {"std-distribution", std::regex(R"(\b\w+_distribution\s*<|\b(uniform_int_distribution|uniform_real_distribution|bernoulli_distribution|normal_distribution)\b)")},
      {"std-engine", std::regex(R"(\b(mt19937(_64)?|default_random_engine|minstd_rand0?|ranlux\w*|knuth_b)\b|std::shuffle\b|std::sample\b)")},
      {"absl-random", std::regex(R"(\babsl::(BitGen|InsecureBitGen|Uniform|Bernoulli)\b)")},
      {"thread", std::regex(R"(\bstd::(thread|jthread|async)\b|\bpthread_create\b)")},
      {"pointer-ordered", std::regex(R"(\bstd::(set|map|multiset|multimap)\s*<\s*(const\s+)?[\w:]+\s*\*)")},
      {"pointer-ordered", std::regex(R"(\babsl::btree_(set|map|multiset|multimap)\s*<\s*(const\s+)?[\w:]+\s*\*)")},
  };
  return rules;
}

const std::regex& HashDeclaration() {
  // A hash container's variable name: `absl::flat_hash_map<K, V> name` (the
  // template arguments may nest one level).
  static const std::regex pattern(
      R"(\b(std::unordered_(map|set|multimap|multiset)|absl::(flat|node)_hash_(map|set)|google::protobuf::Map)\s*<([^<>]|<[^<>]*>)*>\s*&?\s*(\w+))");
  return pattern;
}

// Blanks comments and string/char literals, keeping line structure, so that
// rules see only code.
std::string StripCommentsAndStrings(const std::string& text) {
  std::string out = text;
  enum { kCode, kLine, kBlock, kString, kChar } state = kCode;
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    switch (state) {
      case kCode:
        if (c == '/' && next == '/') {
          state = kLine;
          out[i] = ' ';
        } else if (c == '/' && next == '*') {
          state = kBlock;
          out[i] = ' ';
        } else if (c == '"') {
          state = kString;
        } else if (c == '\'') {
          state = kChar;
        }
        break;
      case kLine:
        if (c == '\n') state = kCode; else out[i] = ' ';
        break;
      case kBlock:
        if (c == '*' && next == '/') {
          out[i] = out[i + 1] = ' ';
          ++i;
          state = kCode;
        } else if (c != '\n') {
          out[i] = ' ';
        }
        break;
      case kString:
      case kChar:
        if (c == '\\' && next != '\0') {
          out[i] = ' ';
          if (next != '\n') out[i + 1] = ' ';
          ++i;
        } else if ((state == kString && c == '"') || (state == kChar && c == '\'')) {
          state = kCode;
        } else if (c != '\n') {
          out[i] = ' ';
        }
        break;
    }
  }
  return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

bool Allowed(const std::string& raw_line, const std::string& rule) {
  return raw_line.find("lint:allow(" + rule + ")") != std::string::npos;
}

}  // namespace

std::vector<Finding> LintSource(const std::string& file, const std::string& text) {
  const std::vector<std::string> raw = SplitLines(text);
  const std::string stripped_text = StripCommentsAndStrings(text);
  const std::vector<std::string> code = SplitLines(stripped_text);
  std::vector<Finding> findings;
  auto report = [&](size_t index, const std::string& rule) {
    if (Allowed(raw[index], rule)) return;
    findings.push_back({file, static_cast<int>(index + 1), rule, Trim(raw[index])});
  };

  // Names of hash containers declared anywhere in the file.
  std::set<std::string> hash_names;
  for (auto it = std::sregex_iterator(stripped_text.begin(), stripped_text.end(), HashDeclaration());
       it != std::sregex_iterator(); ++it) {
    hash_names.insert((*it)[6].str());
  }

  for (size_t i = 0; i < code.size() && i < raw.size(); ++i) {
    const std::string& line = code[i];
    for (const Rule& rule : Rules()) {
      if (std::regex_search(line, rule.pattern)) report(i, rule.name);
    }
    for (const std::string& name : hash_names) {
      const std::regex range_for("for\\s*\\(.*:\\s*(\\*?this->)?" + name + "\\s*\\)");
      const std::regex begin_call("\\b" + name + "\\s*(\\.|->)\\s*c?begin\\s*\\(");
      if (std::regex_search(line, range_for) || std::regex_search(line, begin_call)) {
        report(i, "hash-iteration");
      }
    }
  }
  return findings;
}

std::vector<Finding> LintTree(const std::string& top, const std::vector<std::string>& roots) {
  std::vector<Finding> findings;
  for (const auto& [file, text] : ReadSources(top, roots, {".h", ".cc"})) {
    for (Finding& finding : LintSource(file, text)) findings.push_back(std::move(finding));
  }
  return findings;
}

std::string FormatFinding(const Finding& finding) {
  return finding.file + ":" + std::to_string(finding.line) + ": [" + finding.rule + "] " + finding.text;
}

}  // namespace lint
