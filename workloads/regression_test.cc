// Replays the regression corpus (seeds/regressions.txt): every recorded seed
// must give its recorded verdict, and a failing one the recorded violation.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "workloads/runner.h"

namespace workloads {
namespace {

struct Record {
  std::string workload;
  std::string profile;
  uint64_t seed = 0;
  bool pass = true;
  std::string property;
  std::string found;  // the commit of the build that recorded it
  int line = 0;
};

std::vector<Record> LoadCorpus() {
  std::ifstream in(ETCD_DST_SOURCE_DIR "/seeds/regressions.txt");
  std::vector<Record> records;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = line.substr(0, line.find('#'));
    std::istringstream fields(line);
    Record record;
    std::string verdict;
    if (!(fields >> record.workload >> record.seed >> verdict)) continue;
    record.pass = verdict == "pass";
    // workload@profile for the workloads that have profiles.
    if (const size_t at = record.workload.find('@'); at != std::string::npos) {
      record.profile = record.workload.substr(at + 1);
      record.workload.resize(at);
    }
    for (std::string token; fields >> token;) {
      if (token.rfind("found=", 0) == 0) {
        record.found = token.substr(6);
      } else {
        record.property = token;
      }
    }
    record.line = number;
    records.push_back(record);
  }
  return records;
}

// Every recorded seed still gives its recorded verdict, and reaches its end:
// a run that exhausts its event budget (a livelock in the model) never
// passes for the recorded failure.
TEST(RegressionSeedsTest, CorpusReplays) {
  const std::vector<Record> corpus = LoadCorpus();
  ASSERT_GE(corpus.size(), 5u);
  for (const Record& record : corpus) {
    EXPECT_FALSE(record.found.empty()) << "seeds/regressions.txt:" << record.line << " does not say which build found it";
  }
  for (const Record& record : corpus) {
    auto result = RunWorkload({.workload = record.workload, .seed = record.seed, .profile = record.profile});
    ASSERT_TRUE(result.ok()) << "line " << record.line << ": " << result.status();
    EXPECT_EQ(result->pass(), record.pass) << "seeds/regressions.txt:" << record.line << ": " << ResultLine(*result);
    if (!record.pass) {
      bool found = false;
      for (const std::string& name : result->violated()) found |= name == record.property;
      EXPECT_TRUE(found) << "seeds/regressions.txt:" << record.line << ": " << ResultLine(*result);
    }
    for (const std::string& name : result->violated()) {
      EXPECT_TRUE(name != "EventBudgetExhausted" || record.property == name)
          << "seeds/regressions.txt:" << record.line << ": " << ResultLine(*result);
    }
  }
}

}  // namespace
}  // namespace workloads
