#include "sim/buggify.h"

namespace sim {
namespace {
Buggify* g_current_buggify = nullptr;

// Unbiased "x/2^64 < n/d" for a uniformly distributed 64-bit x.
bool Below(uint64_t x, uint64_t numerator, uint64_t denominator) {
  const unsigned __int128 scaled = static_cast<unsigned __int128>(x) * denominator;
  return static_cast<uint64_t>(scaled >> 64) < numerator;
}
}  // namespace

Buggify::Buggify(uint64_t root_seed, BuggifyOptions options)
    : root_seed_(root_seed), options_(options) {
  SIM_CHECK(options.activation_denominator > 0 && options.fire_denominator > 0,
            "buggify ratios need positive denominators");
}

bool Buggify::Fires(std::string_view site_name) {
  if (!options_.enabled) return false;
  auto it = sites_.find(site_name);
  if (it == sites_.end()) {
    const std::string name(site_name);
    Site site;
    const uint64_t decision = SplitMix64(root_seed_ ^ StableHash("buggify-site:" + name));
    site.active = Below(decision, options_.activation_numerator, options_.activation_denominator);
    site.rng = Rng::Stream(root_seed_, "buggify:" + name);
    it = sites_.emplace(name, site).first;
  }
  Site& site = it->second;
  ++site.calls;
  if (!site.active) return false;
  const bool fired = site.rng.Chance(options_.fire_numerator, options_.fire_denominator);
  if (fired) ++site.fired;
  return fired;
}

Buggify* Buggify::Current() { return g_current_buggify; }
void Buggify::SetCurrent(Buggify* buggify) { g_current_buggify = buggify; }

bool BuggifyFires(std::string_view site) {
  Buggify* buggify = Buggify::Current();
  return buggify != nullptr && buggify->Fires(site);
}

}  // namespace sim
