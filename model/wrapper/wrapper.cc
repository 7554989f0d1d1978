#include "model/wrapper/wrapper.h"

#include "absl/strings/strip.h"
#include "fmt/format.h"
#include "model/br/config.h"
#include "model/br/http.h"
#include "model/etcd/client.h"
#include "sim/scheduler.h"
#include "sim/trace.h"

namespace model::wrapper {
namespace {

void Log(std::string_view message) { sim::TraceEvent("WrapperLog").Detail("msg", message); }

}  // namespace

void Wrapper::Exit(int code) {
  if (!exit_.fulfilled()) exit_.Set(code);
}

void Wrapper::OnSigterm() {
  (void)process_.volume->WriteFile(options_.exit_code_file, "terminated");
  Exit(0);
}

int Wrapper::Run(sim::Group* container) {
  process_.scheduler->Spawn(container, "main", [this, container] {
    // 1. Initialization, driven from here.
    for (int polls = 0;; ++polls) {
      absl::StatusOr<model::http::Response> status =
          model::http::Fetch(process_, "GET", BrUrl("/initialization/status"), sim::SimDuration::Minutes(1));
      const std::string body = status.ok() && status->code == 200 ? status->body : "Unknown";
      if (body == "Successful") break;
      if (body == "New") {
        absl::StatusOr<std::string> exit_code = process_.volume->ReadFile(options_.exit_code_file);
        std::string previous = exit_code.ok() ? std::string(absl::StripAsciiWhitespace(*exit_code)) : "";
        const char* mode = previous == "terminated" || previous == "interrupt" ? "sanity" : "full";
        Log(fmt::format("Requesting initialization in mode {}", mode));
        (void)model::http::Fetch(process_, "GET", BrUrl(std::string("/initialization/start?mode=") + mode),
                                 sim::SimDuration::Minutes(1));
      }
      sim::this_actor::SleepFor(sim::SimDuration::Seconds(1));
    }
    Log("Etcd data initialization completed successfully");
    // 2. The configuration.
    absl::StatusOr<model::http::Response> config = absl::UnavailableError("no attempt");
    for (int attempt = 0; attempt < 5; ++attempt) {
      config = model::http::Fetch(process_, "GET", BrUrl("/config"), sim::SimDuration::Minutes(1));
      if (config.ok() && config->code == 200) break;
      if (config.ok()) config = absl::InternalError(fmt::format("status code {}: {}", config->code, config->body));
      sim::this_actor::SleepFor(sim::SimDuration::Seconds(1));
    }
    absl::StatusOr<model::etcd::EtcdConfig> parsed =
        config.ok() ? model::br::ParseEtcdConfig(config->body) : absl::StatusOr<model::etcd::EtcdConfig>(config.status());
    if (!parsed.ok()) {
      Log(fmt::format("error during start or run of etcd: {}", std::string(parsed.status().message())));
      Exit(1);
      return;
    }
    // 3. Readiness and the control API.
    process_.scheduler->Spawn(container, "readiness", [this] {
      model::etcd::Client local(process_.network, process_.node, {"http://" + options_.etcd + "-local:2379"},
                                process_.rng, sim::SimDuration::Seconds(5), process_.resolver);
      while (true) {
        ready_ = local.Get("foo").ok();
        sim::this_actor::SleepFor(sim::SimDuration::Seconds(2));
      }
    });
    auto server = std::make_shared<model::http::Server>(process_, kWrapperPort, container);
    server->Handle("/readyz", [this](const model::http::Request&) {
      return model::http::Response{.code = ready_ ? 200 : 503};
    });
    server->Handle("/stop", [this](const model::http::Request&) {
      Log("Received stop request");
      Exit(0);
      return model::http::Response{.code = 200};
    });
    process_.scheduler->Spawn(container, "http-server", [server] { (void)server->Serve(); });
    // 4. etcd.
    model::etcd::EtcdServer* etcd = options_.create_etcd(*parsed);
    etcd->Start(process_.scheduler->CreateGroup("etcd", container));
    if (etcd->state() == model::etcd::EtcdServer::State::kStarting ||
        etcd->state() == model::etcd::EtcdServer::State::kRunning) {
      (void)process_.volume->RemoveAll(options_.exit_code_file);
    }
    const int code = etcd->Exited().Wait().value_or(255);
    if (etcd->failed_at_start()) Log(fmt::format("error during start or run of etcd: {}", etcd->failure()));
    Exit(etcd->failed_at_start() ? 1 : code);
  });
  return exit_.GetFuture().Wait().value_or(1);
}

}  // namespace model::wrapper
