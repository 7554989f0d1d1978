#include "model/br/initialization.h"

#include "sim/trace.h"

namespace model::br {

const char* InitStatusName(InitStatus status) {
  switch (status) {
    case InitStatus::kNew:
      return "New";
    case InitStatus::kProgress:
      return "Progress";
    case InitStatus::kSuccessful:
      return "Successful";
    case InitStatus::kFailed:
      return "Failed";
  }
  return "New";
}

const char* ValidationModeName(ValidationMode mode) { return mode == ValidationMode::kSanity ? "sanity" : "full"; }

void Initialization::Register(http::Server& server) {
  server.Handle("/initialization/start", [this](const http::Request& request) { return ServeStart(request); });
  server.Handle("/initialization/status", [this](const http::Request& request) { return ServeStatus(request); });
}

void Initialization::SetStatus(InitStatus status) {
  sim::TraceEvent("BrLog")
      .Detail("actor", "server")
      .Detail("msg", std::string("Updating status from ") + InitStatusName(status_) + " to " + InitStatusName(status));
  status_ = status;
}

http::Response Initialization::ServeStart(const http::Request& request) {
  sim::TraceEvent("BrLog").Detail("actor", "server").Detail("msg", "Received start initialization request.");
  if (status_ != InitStatus::kNew) return {.code = 200};
  SetStatus(InitStatus::kProgress);
  const ValidationMode mode = request.Param("mode") == "sanity" ? ValidationMode::kSanity : ValidationMode::kFull;
  if (on_start_) on_start_();
  scheduler_->Spawn(group_, "initializer", [this, mode] {
    sim::TraceEvent("BrLog")
        .Detail("actor", "initializer")
        .Detail("msg", std::string("Validation mode: ") + ValidationModeName(mode));
    const absl::Status result = initializer_(mode);
    if (!result.ok()) {
      sim::TraceEvent("BrLog")
          .Detail("actor", "server")
          .Detail("msg", "Failed initialization: " + std::string(result.message()));
      status_ = InitStatus::kFailed;
      return;
    }
    sim::TraceEvent("BrLog")
        .Detail("actor", "server")
        .Detail("msg", "Successfully initialized data directory for etcd.");
    status_ = InitStatus::kSuccessful;
  });
  return {.code = 200};
}

http::Response Initialization::ServeStatus(const http::Request&) {
  const InitStatus seen = status_;
  sim::TraceEvent("BrLog")
      .Detail("actor", "server")
      .Detail("msg", std::string("Responding to status request with: ") + InitStatusName(seen));
  if (seen == InitStatus::kSuccessful || seen == InitStatus::kFailed) SetStatus(InitStatus::kNew);
  return {.code = 200, .body = InitStatusName(seen)};
}

}  // namespace model::br
