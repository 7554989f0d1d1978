// BR's initialization API (etcd-backup-restore v0.35.0, pkg/server/httpAPI.go) over the
// simulated network: the status machine the etcd-wrapper drives.
#include "model/br/initialization.h"

#include <gtest/gtest.h>

#include "sim/resolver.h"
#include "sim/run_actor_test_util.h"
#include "sim/simulation.h"

namespace model::br {
namespace {

using sim::SimDuration;

class InitializationTest : public testing::Test {
 protected:
  InitializationTest()
      : simulation_({.seed = 5, .workload = "br-test"}), network_(&simulation_), resolver_(&network_) {
    br_ = Context("etcd-main-0", "br");
    wrapper_ = Context("etcd-main-0-wrapper", "wrapper");
    sim::Group* group = simulation_.scheduler().CreateGroup("backup-restore");
    initialization_ = std::make_unique<Initialization>(
        &simulation_.scheduler(), group,
        [this](ValidationMode mode) {
          modes_.push_back(ValidationModeName(mode));
          sim::this_actor::SleepFor(SimDuration::Seconds(3));  // validation and restore take a while
          return fail_ ? absl::InternalError("error while restoring corrupt data: boom") : absl::OkStatus();
        },
        [this] { ++starts_; });
    server_ = std::make_unique<http::Server>(br_, 8080, group);
    initialization_->Register(*server_);
    simulation_.scheduler().Spawn(group, "http-server", [this] { (void)server_->Serve(); });
  }
  ~InitializationTest() override { simulation_.Shutdown(); }

  sim::ProcessContext Context(const std::string& name, const std::string& stream) {
    return {.scheduler = &simulation_.scheduler(),
            .network = &network_,
            .node = network_.AddNode(name),
            .resolver = &resolver_,
            .rng = &simulation_.Stream(stream)};
  }
  // What the wrapper sees: "<code> <body>", or the error.
  std::string Get(const std::string& target) {
    absl::StatusOr<http::Response> response =
        http::Fetch(wrapper_, "GET", "http://etcd-main-0:8080" + target, SimDuration::Minutes(1));
    if (!response.ok()) return response.status().ToString();
    return std::to_string(response->code) + " " + response->body;
  }

  sim::Simulation simulation_;
  sim::Network network_;
  sim::NetworkResolver resolver_;
  sim::ProcessContext br_, wrapper_;
  std::unique_ptr<Initialization> initialization_;
  std::unique_ptr<http::Server> server_;
  std::vector<std::string> modes_;
  int starts_ = 0;
  bool fail_ = false;
};

// New -> Progress -> Successful, consumed by one read -> New; a start outside New does nothing;
// any mode but sanity is full.
TEST_F(InitializationTest, StatusMachine) {
  std::vector<std::string> seen;
  ASSERT_TRUE(sim::RunActorToEnd(simulation_, [&] {
    seen.push_back(Get("/initialization/status"));
    seen.push_back(Get("/initialization/start?mode=sanity"));
    seen.push_back(Get("/initialization/status"));
    seen.push_back(Get("/initialization/start?mode=full"));  // in Progress: ignored
    sim::this_actor::SleepFor(SimDuration::Seconds(4));
    seen.push_back(Get("/initialization/status"));
    seen.push_back(Get("/initialization/status"));
    fail_ = true;
    seen.push_back(Get("/initialization/start?mode=bogus"));
    sim::this_actor::SleepFor(SimDuration::Seconds(4));
    seen.push_back(Get("/initialization/status"));
    seen.push_back(Get("/initialization/status"));
    seen.push_back(Get("/nope"));
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"200 New", "200 ", "200 Progress", "200 ", "200 Successful", "200 New",
                                            "200 ", "200 Failed", "200 New", "404 404 page not found\n"}));
  EXPECT_EQ(modes_, (std::vector<std::string>{"sanity", "full"}));
  EXPECT_EQ(starts_, 2);
}

// A wrapper that cannot reach BR gets the network's error, not a status.
TEST_F(InitializationTest, UnreachableIsAnError) {
  std::string seen;
  ASSERT_TRUE(sim::RunActorToEnd(simulation_, [&] {
    network_.Isolate(br_.node);
    seen = Get("/initialization/status");
  }));
  EXPECT_NE(seen.find("DEADLINE_EXCEEDED"), std::string::npos) << seen;
}

// Request lines parse as BR's mux sees them.
TEST(HttpTest, ParseRequestLine) {
  absl::StatusOr<http::Request> request = http::ParseRequestLine("GET /initialization/start?mode=sanity&x");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->method, "GET");
  EXPECT_EQ(request->path, "/initialization/start");
  EXPECT_EQ(request->Param("mode"), "sanity");
  EXPECT_EQ(request->Param("x"), "");
  EXPECT_EQ(request->Param("absent"), "");
  EXPECT_FALSE(http::ParseRequestLine("GET").ok());
  EXPECT_FALSE(http::ParseRequestLine("GET nope").ok());
}

}  // namespace
}  // namespace model::br
