// The commit etcd-dst was built from ("<12 hex>", "-dirty" when the tree had
// uncommitted changes, "unknown" outside git): sweeps record it, so that a
// result, a shard or a dashboard says which code produced it.
#pragma once

namespace cli {
const char* BuildCommit();
}  // namespace cli
