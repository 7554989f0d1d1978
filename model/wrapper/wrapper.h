// The etcd container's process: etcd-wrapper v0.4.2 (internal/bootstrap,
// internal/app, internal/signal), which starts etcd only after BR has
// initialised the data dir:
//   1. poll BR's /initialization/status every second (1 min HTTP timeout,
//      an error counts as Unknown); on New ask /initialization/start?mode=
//      (`sanity` iff the volume's exit_code file holds terminated or
//      interrupt, else `full`); until Successful;
//   2. GET /config up to 5 times, 1 s apart; parse it (an error is exit 1);
//   3. readiness: every 2 s a Get("foo") on the local member (5 s), cached
//      and served as /readyz on :9095; /stop ends the process (exit 0);
//   4. start etcd (a start error is exit 1), delete exit_code, run until
//      etcd ends, /stop or a signal: exit 0 (etcd's own fatal error kills
//      the process, whose exit code is etcd's).
// SIGTERM writes exit_code = "terminated", so the next start validates in
// sanity mode; a kill or a crash leaves none, so the next is `full`.
#pragma once

#include <functional>
#include <string>

#include "model/etcd/server.h"
#include "sim/future.h"
#include "sim/process_context.h"

namespace model::wrapper {

inline constexpr uint16_t kWrapperPort = 9095;

class Wrapper {
 public:
  struct Options {
    std::string etcd = "etcd-main";  // BR at <etcd>-local:8080
    std::string exit_code_file = "var/etcd/data/exit_code";
    // Creates the etcd process for a configuration (the caller owns it and
    // may watch it); the wrapper starts it in its own group.
    std::function<model::etcd::EtcdServer*(const model::etcd::EtcdConfig&)> create_etcd;
  };
  Wrapper(const sim::ProcessContext& process, Options options) : process_(process), options_(std::move(options)) {}

  // The container's main: returns the exit code.
  int Run(sim::Group* container);
  // The signal handler (SIGTERM): records why the process ends.
  void OnSigterm();
  bool ready() const { return ready_; }

 private:
  std::string BrUrl(const std::string& path) const {
    return "http://" + options_.etcd + "-local:8080" + path;
  }
  void Exit(int code);

  sim::ProcessContext process_;
  Options options_;
  bool ready_ = false;
  sim::Promise<int> exit_;
};

}  // namespace model::wrapper
