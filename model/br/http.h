// HTTP as BR, the etcd-wrapper and kubelet's probes speak it, over the
// simulated network: a request is a network Call whose method is
// "<METHOD> <path>[?<query>]"; the reply carries the status code and the
// body. No handler of BR checks the method, so routing is by path alone. A
// refused connection or a timeout is the call's error, not a status code.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sim/process_context.h"

namespace model::http {

struct Request {
  std::string method;  // GET, POST
  std::string path;
  std::map<std::string, std::string> query;
  std::string Param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? "" : it->second;
  }
};

struct Response {
  int code = 200;
  std::string body;
};

// "GET /a/b?x=1&y=2" -> method, path, query; InvalidArgument if malformed.
absl::StatusOr<Request> ParseRequestLine(std::string_view line);

// A blocking request from the process's node (actor only). `url` is
// http://host:port/path?query; the host goes through the process's resolver.
absl::StatusOr<Response> Fetch(const sim::ProcessContext& process, std::string_view method, std::string_view url,
                               sim::SimDuration timeout);

// Serves requests on the process's node, one actor per request (as Go's
// net/http runs a goroutine per request), in `group`.
class Server {
 public:
  using Handler = std::function<Response(const Request&)>;

  Server(const sim::ProcessContext& process, uint16_t port, sim::Group* group)
      : process_(process), port_(port), group_(group) {}
  void Handle(std::string path, Handler handler) { handlers_[std::move(path)] = std::move(handler); }
  // Listens and serves until the process dies (actor only). Fails if the
  // port is taken.
  absl::Status Serve();

 private:
  sim::ProcessContext process_;
  uint16_t port_;
  sim::Group* group_;
  std::map<std::string, Handler> handlers_;
};

}  // namespace model::http
