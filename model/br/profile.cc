#include "model/br/profile.h"

namespace model::br {

const char* ProfileName(Profile profile) { return profile == Profile::kFixed ? "br-fixed" : "br-v0.35"; }

std::optional<Profile> ParseProfile(std::string_view name) {
  if (name == "br-v0.35") return Profile::kV035;
  if (name == "br-fixed") return Profile::kFixed;
  return std::nullopt;
}

}  // namespace model::br
