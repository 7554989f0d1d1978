// The nightly's manifests, checked structurally: deploy/nightly-job.json
// against the fields of the Job API (batch/v1) it uses and the rules the API
// server applies to them (Indexed completions, backoffLimitPerIndex,
// podFailurePolicy), deploy/prow-periodic.json against Prow's periodic job
// fields, and deploy/run-shard.sh for bash syntax. The manifests are JSON,
// which kubectl and Prow read as YAML, so the project's own JSON reader
// parses them and a typo in a field name fails here, not in the cluster.
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/json.h"

namespace cli {
namespace {

using model::JsonValue;

JsonValue Load(const std::string& relative) {
  std::ifstream in(std::string(ETCD_DST_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<JsonValue> value = model::ParseJson(text.str());
  EXPECT_TRUE(value.ok()) << relative << ": " << value.status();
  return value.ok() ? *value : JsonValue{};
}

// Allowed keys per path ("[]" an array's items, "*" any key); a path not
// listed is a free-form map of strings (labels, annotations).
using Schema = std::map<std::string, std::set<std::string>>;

const std::set<std::string> kContainer = {"name", "image", "command", "args", "env", "resources", "volumeMounts",
                                          "workingDir", "securityContext", "imagePullPolicy"};

Schema PodSpecSchema(const std::string& at) {
  return {
      {at, {"restartPolicy", "containers", "volumes", "terminationGracePeriodSeconds", "nodeSelector", "tolerations",
            "serviceAccountName", "securityContext", "affinity"}},
      {at + ".containers[]", kContainer},
      {at + ".containers[].env[]", {"name", "value", "valueFrom"}},
      {at + ".containers[].env[].valueFrom", {"fieldRef", "secretKeyRef", "configMapKeyRef"}},
      {at + ".containers[].env[].valueFrom.fieldRef", {"fieldPath", "apiVersion"}},
      {at + ".containers[].resources", {"requests", "limits"}},
      {at + ".containers[].volumeMounts[]", {"name", "mountPath", "readOnly", "subPath"}},
      {at + ".volumes[]", {"name", "emptyDir", "persistentVolumeClaim", "secret", "configMap"}},
      {at + ".volumes[].emptyDir", {"medium", "sizeLimit"}},
  };
}

Schema JobSchema() {
  Schema schema = {
      {"", {"apiVersion", "kind", "metadata", "spec"}},
      {"metadata", {"name", "namespace", "labels", "annotations"}},
      {"spec", {"completionMode", "completions", "parallelism", "backoffLimit", "backoffLimitPerIndex",
                "maxFailedIndexes", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "podFailurePolicy",
                "template", "suspend"}},
      {"spec.podFailurePolicy", {"rules"}},
      {"spec.podFailurePolicy.rules[]", {"action", "onExitCodes", "onPodConditions"}},
      {"spec.podFailurePolicy.rules[].onExitCodes", {"containerName", "operator", "values"}},
      {"spec.podFailurePolicy.rules[].onPodConditions[]", {"type", "status"}},
      {"spec.template", {"metadata", "spec"}},
      {"spec.template.metadata", {"labels", "annotations"}},
  };
  schema.merge(PodSpecSchema("spec.template.spec"));
  return schema;
}

Schema ProwSchema() {
  Schema schema = {
      {"", {"periodics"}},
      {"periodics[]", {"name", "cluster", "cron", "interval", "decorate", "decoration_config", "extra_refs",
                       "annotations", "labels", "spec", "max_concurrency"}},
      {"periodics[].decoration_config", {"timeout", "grace_period"}},
      {"periodics[].extra_refs[]", {"org", "repo", "base_ref", "path_alias"}},
  };
  schema.merge(PodSpecSchema("periodics[].spec"));
  return schema;
}

// Every object key at a listed path must be allowed; collects the offenders.
void CheckKeys(const JsonValue& value, const std::string& path, const Schema& schema, std::vector<std::string>* bad) {
  if (value.kind == JsonValue::Kind::kArray) {
    for (const JsonValue& item : value.array) CheckKeys(item, path + "[]", schema, bad);
    return;
  }
  if (value.kind != JsonValue::Kind::kObject) return;
  auto allowed = schema.find(path);
  for (const auto& [key, child] : value.object) {
    if (allowed != schema.end() && !allowed->second.contains(key)) bad->push_back((path.empty() ? "" : path + ".") + key);
    if (allowed != schema.end()) CheckKeys(child, path.empty() ? key : path + "." + key, schema, bad);
  }
}

const JsonValue& At(const JsonValue& value, const std::string& dotted) {
  static const JsonValue kMissing;
  const JsonValue* at = &value;
  size_t start = 0;
  while (start < dotted.size()) {
    const size_t dot = dotted.find('.', start);
    at = at->Find(dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (at == nullptr) return kMissing;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *at;
}

bool IsDns1123Label(const std::string& name) {
  return std::regex_match(name, std::regex("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"));
}

bool IsQuantity(const std::string& text) {
  return std::regex_match(text, std::regex("[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?"));
}

// What the API server checks of a pod template's containers, and that the
// script contract holds: every container has a name, an image, valid
// resources and mounts of declared volumes.
// Prow names a periodic's one container itself; a Job's must be named.
void CheckPodSpec(const JsonValue& spec, const std::string& where, bool names_required) {
  std::set<std::string> volumes, names;
  for (const JsonValue& volume : At(spec, "volumes").array) volumes.insert(At(volume, "name").text);
  ASSERT_FALSE(At(spec, "containers").array.empty()) << where;
  for (const JsonValue& container : At(spec, "containers").array) {
    const std::string name = At(container, "name").text;
    if (names_required || !name.empty()) {
      EXPECT_TRUE(IsDns1123Label(name)) << where << ": container name " << name;
      EXPECT_TRUE(names.insert(name).second) << where << ": container " << name << " twice";
    }
    EXPECT_FALSE(At(container, "image").text.empty()) << where << ": " << name << " has no image";
    for (const char* kind : {"requests", "limits"}) {
      for (const auto& [resource, quantity] : At(container, std::string("resources.") + kind).object) {
        EXPECT_TRUE(IsQuantity(quantity.text)) << where << ": " << kind << "." << resource << " = " << quantity.text;
      }
    }
    for (const JsonValue& mount : At(container, "volumeMounts").array) {
      EXPECT_TRUE(volumes.contains(At(mount, "name").text)) << where << ": mount of undeclared volume";
      EXPECT_EQ(At(mount, "mountPath").text.rfind('/', 0), 0u) << where << ": mountPath must be absolute";
    }
    for (const JsonValue& env : At(container, "env").array) {
      EXPECT_TRUE(std::regex_match(At(env, "name").text, std::regex("[A-Za-z_][A-Za-z0-9_]*"))) << At(env, "name").text;
      EXPECT_NE(At(env, "value").kind == JsonValue::Kind::kString, At(env, "valueFrom").kind == JsonValue::Kind::kObject)
          << where << ": env " << At(env, "name").text << " needs exactly one of value and valueFrom";
    }
  }
}

TEST(DeployTest, IndexedJobFollowsTheJobApi) {
  const JsonValue job = Load("deploy/nightly-job.json");
  std::vector<std::string> unknown;
  CheckKeys(job, "", JobSchema(), &unknown);
  EXPECT_TRUE(unknown.empty()) << "fields the Job API does not have: " << testing::PrintToString(unknown);
  EXPECT_EQ(At(job, "apiVersion").text, "batch/v1");
  EXPECT_EQ(At(job, "kind").text, "Job");
  EXPECT_TRUE(IsDns1123Label(At(job, "metadata.name").text));
  // Indexed completions: each pod's JOB_COMPLETION_INDEX is its shard.
  EXPECT_EQ(At(job, "spec.completionMode").text, "Indexed");
  const int completions = std::atoi(At(job, "spec.completions").text.c_str());
  ASSERT_GT(completions, 0);
  EXPECT_LE(std::atoi(At(job, "spec.parallelism").text.c_str()), completions);
  // backoffLimitPerIndex needs Indexed; a podFailurePolicy needs restartPolicy Never.
  EXPECT_GE(std::atoi(At(job, "spec.backoffLimitPerIndex").text.c_str()), 0);
  EXPECT_EQ(At(job, "spec.template.spec.restartPolicy").text, "Never");
  std::set<std::string> containers;
  for (const JsonValue& c : At(job, "spec.template.spec.containers").array) containers.insert(At(c, "name").text);
  bool ignores_disruption = false, fails_bad_input = false;
  for (const JsonValue& rule : At(job, "spec.podFailurePolicy.rules").array) {
    const std::string action = At(rule, "action").text;
    EXPECT_TRUE(action == "FailJob" || action == "FailIndex" || action == "Ignore" || action == "Count") << action;
    const bool exit_codes = At(rule, "onExitCodes").kind == JsonValue::Kind::kObject;
    EXPECT_NE(exit_codes, At(rule, "onPodConditions").kind == JsonValue::Kind::kArray)
        << "a rule has exactly one of onExitCodes and onPodConditions";
    if (exit_codes) {
      const JsonValue& codes = At(rule, "onExitCodes");
      const std::string op = At(codes, "operator").text;
      EXPECT_TRUE(op == "In" || op == "NotIn") << op;
      EXPECT_TRUE(containers.contains(At(codes, "containerName").text)) << At(codes, "containerName").text;
      ASSERT_FALSE(At(codes, "values").array.empty());
      int previous = -1;
      for (const JsonValue& v : At(codes, "values").array) {
        const int code = std::atoi(v.text.c_str());
        EXPECT_TRUE(op != "In" || code != 0) << "In may not list 0";
        EXPECT_GT(code, previous) << "values must be sorted and unique";
        previous = code;
      }
      fails_bad_input |= action == "FailIndex" && At(codes, "values").array.front().text == "2";
    } else {
      for (const JsonValue& condition : At(rule, "onPodConditions").array) {
        ignores_disruption |= action == "Ignore" && At(condition, "type").text == "DisruptionTarget";
      }
    }
  }
  EXPECT_TRUE(ignores_disruption) << "evictions must not count against the retries";
  EXPECT_TRUE(fails_bad_input) << "bad input (exit 2) is deterministic: no retry";
  CheckPodSpec(At(job, "spec.template.spec"), "job", true);
  // run-shard.sh's contract: SHARDS is the number of completions.
  const JsonValue& container = At(job, "spec.template.spec.containers").array.front();
  std::map<std::string, std::string> env;
  for (const JsonValue& e : At(container, "env").array) env[At(e, "name").text] = At(e, "value").text;
  EXPECT_EQ(env["SHARDS"], std::to_string(completions));
  for (const char* name : {"SEEDS", "RESULTS_REMOTE", "RUN_ID"}) EXPECT_TRUE(env.contains(name)) << name;
}

TEST(DeployTest, ProwPeriodicFollowsProwsFields) {
  const JsonValue config = Load("deploy/prow-periodic.json");
  std::vector<std::string> unknown;
  CheckKeys(config, "", ProwSchema(), &unknown);
  EXPECT_TRUE(unknown.empty()) << "fields a Prow periodic does not have: " << testing::PrintToString(unknown);
  ASSERT_FALSE(At(config, "periodics").array.empty());
  for (const JsonValue& job : At(config, "periodics").array) {
    EXPECT_TRUE(std::regex_match(At(job, "name").text, std::regex("[a-z0-9][-a-z0-9.]*")));
    const bool cron = !At(job, "cron").text.empty(), interval = !At(job, "interval").text.empty();
    EXPECT_NE(cron, interval) << "exactly one of cron and interval";
    if (cron) {
      EXPECT_TRUE(std::regex_match(At(job, "cron").text, std::regex("(\\S+ ){4}\\S+"))) << At(job, "cron").text;
    }
    EXPECT_EQ(At(job, "decorate").text, "true") << "decoration provides $ARTIFACTS";
    CheckPodSpec(At(job, "spec"), At(job, "name").text, false);
    const std::string args = At(job, "spec.containers").array.front().Find("args")->array.front().text;
    EXPECT_NE(args.find("$ARTIFACTS"), std::string::npos) << "the sweep's JUnit goes to $ARTIFACTS";
  }
}

TEST(DeployTest, ShardScriptParses) {
  const std::string command = "bash -n " + std::string(ETCD_DST_SOURCE_DIR) + "/deploy/run-shard.sh";
  EXPECT_EQ(std::system(command.c_str()), 0);
}

// The validator catches what it is for: a misspelt field.
TEST(DeployTest, ValidatorRejectsUnknownFields) {
  absl::StatusOr<JsonValue> job = model::ParseJson(
      R"({"apiVersion":"batch/v1","kind":"Job","spec":{"completionmode":"Indexed","template":{"spec":{"containers":[{"name":"x","imag":"y"}]}}}})");
  ASSERT_TRUE(job.ok());
  std::vector<std::string> unknown;
  CheckKeys(*job, "", JobSchema(), &unknown);
  EXPECT_EQ(unknown, (std::vector<std::string>{"spec.completionmode", "spec.template.spec.containers[].imag"}));
}

}  // namespace
}  // namespace cli
