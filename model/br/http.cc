#include "model/br/http.h"

#include <memory>

#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "sim/resolver.h"

namespace model::http {
namespace {

// The reply: three digits of status code, then the body.
std::string EncodeResponse(const Response& response) { return fmt::format("{:03d}", response.code) + response.body; }

absl::StatusOr<Response> DecodeResponse(const std::string& payload) {
  int code = 0;
  if (payload.size() < 3 || !absl::SimpleAtoi(payload.substr(0, 3), &code)) {
    return absl::DataLossError("malformed HTTP response");
  }
  return Response{.code = code, .body = payload.substr(3)};
}

}  // namespace

absl::StatusOr<Request> ParseRequestLine(std::string_view line) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0) return absl::InvalidArgumentError("malformed request line");
  Request request;
  request.method = std::string(line.substr(0, space));
  std::string_view target = line.substr(space + 1);
  if (target.empty() || target[0] != '/') return absl::InvalidArgumentError("malformed request target");
  const size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question == std::string_view::npos) return request;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    request.query[std::string(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return request;
}

absl::StatusOr<Response> Fetch(const sim::ProcessContext& process, std::string_view method, std::string_view url,
                               sim::SimDuration timeout) {
  // scheme://host:port, then the target.
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  const std::string target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  absl::StatusOr<sim::Address> server = sim::ResolveUrl(*process.resolver, url.substr(0, slash), process.node);
  if (!server.ok()) return server.status();
  const uint16_t port = sim::EphemeralPort(*process.rng);
  absl::StatusOr<std::string> reply = process.network->Call({process.node, port}, *server,
                                                            fmt::format("{} {}", method, target), "", timeout);
  if (!reply.ok()) return reply.status();
  return DecodeResponse(*reply);
}

absl::Status Server::Serve() {
  absl::StatusOr<std::unique_ptr<sim::Listener>> listener = process_.network->Listen({process_.node, port_});
  if (!listener.ok()) return listener.status();
  while (true) {
    absl::StatusOr<sim::Envelope> envelope = (*listener)->Receive();
    if (!envelope.ok()) return envelope.status();
    if (envelope->kind != sim::Envelope::Kind::kCall) continue;
    process_.scheduler->Spawn(group_, "http", [this, envelope = *std::move(envelope)]() mutable {
      absl::StatusOr<Request> request = ParseRequestLine(envelope.method);
      Response response{.code = 400, .body = "bad request"};
      if (request.ok()) {
        auto handler = handlers_.find(request->path);
        response = handler == handlers_.end() ? Response{.code = 404, .body = "404 page not found\n"}
                                              : handler->second(*request);
      }
      envelope.Reply(EncodeResponse(response));
    });
  }
}

}  // namespace model::http
