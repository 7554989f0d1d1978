// Buggify, as in FoundationDB: code paths that make rare things common. Each
// call site (file:line) is enabled or not once per seed, with probability
// activation_numerator/activation_denominator, decided by a stable hash of
// the seed and the site, so a site's fate does not depend on which sites ran
// first. An enabled site then fires per call with probability
// fire_numerator/fire_denominator, drawn from its own named stream.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "sim/rng.h"

namespace sim {

struct BuggifyOptions {
  bool enabled = true;
  uint64_t activation_numerator = 1;
  uint64_t activation_denominator = 4;
  uint64_t fire_numerator = 1;
  uint64_t fire_denominator = 4;
};

class Buggify {
 public:
  struct Site {
    bool active = false;
    uint64_t calls = 0;
    uint64_t fired = 0;
    Rng rng{0};
  };

  Buggify(uint64_t root_seed, BuggifyOptions options);

  bool Fires(std::string_view site);
  bool enabled() const { return options_.enabled; }
  // Sites seen this run, by name; used for coverage reports.
  const std::map<std::string, Site, std::less<>>& sites() const { return sites_; }

  // Installed by Simulation for SIM_BUGGIFY; nullptr means "never fires".
  static Buggify* Current();
  static void SetCurrent(Buggify* buggify);

 private:
  uint64_t root_seed_;
  BuggifyOptions options_;
  std::map<std::string, Site, std::less<>> sites_;
};

bool BuggifyFires(std::string_view site);

}  // namespace sim

#define SIM_BUGGIFY_STRINGIZE2(x) #x
#define SIM_BUGGIFY_STRINGIZE(x) SIM_BUGGIFY_STRINGIZE2(x)
// True when this call site is buggified in this seed and fires this time.
// __FILE__ is relative to the repository (-fmacro-prefix-map), so sites are
// named the same on every machine.
#define SIM_BUGGIFY (::sim::BuggifyFires(__FILE__ ":" SIM_BUGGIFY_STRINGIZE(__LINE__)))
