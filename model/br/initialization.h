// BR's initialization API (etcd-backup-restore v0.35.0, pkg/server/httpAPI.go:
// serveInitialize, serveInitializationStatus), the status machine the
// etcd-wrapper drives:
//   New --start--> Progress --Initialize ok--> Successful
//                           --Initialize error--> Failed
//   Successful/Failed --one status read--> New
// `/initialization/start?mode=` acts only in New (any other mode than
// `sanity` is `full`) and always answers 200 with an empty body; the status
// answers the bare word. Each result is consumed by the one read that sees
// it, so a wrapper that dies between BR's Successful and its read leaves it
// for the next wrapper. The log lines are BR's, as trace events.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "model/br/http.h"
#include "sim/scheduler.h"

namespace model::br {

enum class InitStatus { kNew, kProgress, kSuccessful, kFailed };
const char* InitStatusName(InitStatus status);

enum class ValidationMode { kFull, kSanity };
const char* ValidationModeName(ValidationMode mode);

class Initialization {
 public:
  // Runs BR's Initialize (pkg/initializer/initializer.go) in the mode; an
  // error fails the initialization. Runs in an actor of its own.
  using Initializer = std::function<absl::Status(ValidationMode mode)>;
  // Told when an Initialize starts (BR's healthz turns 503 then).
  using OnStart = std::function<void()>;

  Initialization(sim::Scheduler* scheduler, sim::Group* group, Initializer initializer, OnStart on_start = nullptr)
      : scheduler_(scheduler), group_(group), initializer_(std::move(initializer)), on_start_(std::move(on_start)) {}

  // Registers /initialization/start and /initialization/status.
  void Register(http::Server& server);

  http::Response ServeStart(const http::Request& request);
  http::Response ServeStatus(const http::Request& request);
  InitStatus status() const { return status_; }

 private:
  void SetStatus(InitStatus status);

  sim::Scheduler* scheduler_;
  sim::Group* group_;
  Initializer initializer_;
  OnStart on_start_;
  InitStatus status_ = InitStatus::kNew;
};

}  // namespace model::br
