// Which BR the simulation runs: upstream v0.35.0, or the fix proposed in
// docs/br-864-fix.md. The fixed profile changes decisions only where that
// proposal says; everything else is shared code.
#pragma once

#include <optional>
#include <string_view>

namespace model::br {

enum class Profile {
  kV035,   // br-v0.35: etcd-backup-restore v0.35.0 as written
  kFixed,  // br-fixed
};

const char* ProfileName(Profile profile);
std::optional<Profile> ParseProfile(std::string_view name);

}  // namespace model::br
