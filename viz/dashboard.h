// The sweep dashboard: DIR/index.html, static, with its data in DIR/data.js
// beside it (a page opened from file:// cannot fetch a JSON file). It shows,
// as Antithesis' triage report and TigerBeetle's devhub do: the header
// (build, seeds, shards, wall time, seeds per minute), a properties table per
// workload and profile (passed, failed, or unfound for a Sometimes no run
// hit, with counts), the failing seeds grouped by workload and property with
// copyable replay lines and links to their failure pages (the fastest
// failure first), and what is new, ongoing or resolved against a previous
// sweep. The page builds its DOM with textContent only: every string from a
// trace or a plan shows as text.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "viz/sweep_report.h"

namespace viz {

// (workload[.profile], seed) -> the failure page's path, relative to DIR.
using FailurePages = std::map<std::pair<std::string, uint64_t>, std::string>;

std::string DashboardDataJs(const SweepSummary& summary, const SweepInfo& info, const FailurePages& pages,
                            const SweepSummary* previous);

// The page itself: the same for every sweep.
std::string DashboardHtml();

}  // namespace viz
