// A space-time diagram of a trace, as ShiViz draws them: one lane per actor
// group (a member's etcd, its backup-restore, the wrapper, the kubelet,
// druid, the clients, the world), time flowing down, a message as an arrow
// from its send to its receipt, faults as shaded spans (partitions across
// every lane, a host's power off across its lanes), violations in red.
//
// Long traces stay readable: by default a window of events around the first
// violation (or the start of the run), runs of the same event in a lane
// (heartbeats, polls) collapsed into one box marked "xN", and a cap on the
// boxes drawn, after which the picture says "truncated".
//
// Positions are computed here (rows in event order, columns by lane) and
// written as pos="x,y!", so Graphviz only draws: `neato -n2 -Tsvg` renders
// ten thousand events in well under a second, where dot's own ranking is
// slow and moves things between versions. Tests compare the DOT text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/trace.h"

namespace viz {

struct SpaceTimeOptions {
  // Events before and after the first violation in the window (without a
  // violation: the first `before + after` events).
  size_t before = 400;
  size_t after = 100;
  // An explicit window in simulated time instead.
  std::optional<int64_t> from_ns, to_ns;
  size_t max_boxes = 1500;
};

struct SpaceTime {
  std::string dot;
  size_t first_event = 0, last_event = 0;  // the window, as indexes into the trace
  size_t boxes = 0;
  bool truncated = false;
  std::optional<size_t> first_violation;  // index of the first PropertyViolated event
};

// The lane of a trace event's group: its first two path components
// ("etcd-main-0/etcd/process" -> "etcd-main-0/etcd").
std::string LaneOf(const std::string& group);

SpaceTime BuildSpaceTime(const std::vector<sim::TraceRecord>& events, const SpaceTimeOptions& options);

}  // namespace viz
