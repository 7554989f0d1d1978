#include "viz/space_time.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include "fmt/format.h"
#include "viz/text.h"

namespace viz {
namespace {

constexpr int kLaneWidth = 230;  // points
constexpr int kRowHeight = 40;

const std::string* Find(const sim::TraceRecord& event, std::string_view key) {
  for (const sim::TraceDetail& detail : event.details) {
    if (detail.key == key) return &detail.value;
  }
  return nullptr;
}

std::string Shorten(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max - 3)) + "...";
}

bool IsFault(const std::string& name) {
  static const std::set<std::string> kFaults = {"FaultInjected", "PowerLoss", "HostPowerOff", "HostPowerOn",
                                                "PartitionStarted", "PartitionHealed", "NodeDown", "NodeUp",
                                                "DiskProcessCrash", "ContainerKilled", "PodDeleted"};
  return kFaults.contains(name);
}

bool IsMessage(const std::string& name) {
  return name == "MessageSent" || name == "MessageReceived" || name == "MessageDropped";
}

// Runs of events in a lane merge when their keys are equal.
std::string CollapseKey(const sim::TraceRecord& event) {
  if (event.name == "PropertyViolated" || IsFault(event.name)) return "";  // never merged
  if (IsMessage(event.name)) {
    // Messages with one peer merge whichever way they go: a request and
    // its reply, a stream's frames and their acknowledgements.
    const std::string* method = Find(event, "method");
    const std::string* peer = Find(event, event.name == "MessageSent" ? "to" : "from");
    return "msg|" + (method ? *method : std::string()) + "|" + (peer ? *peer : std::string());
  }
  std::string key = event.name;
  if (const std::string* method = Find(event, "method")) key += "|" + *method;
  return key;
}

// "31.287s": milliseconds are enough to order a picture; the table has the rest.
std::string ShortTime(sim::SimTime time) { return fmt::format("{:.3f}s", time.nanos() / 1e9); }

std::string Label(const sim::TraceRecord& event, size_t count) {
  const std::string times = count > 1 ? fmt::format(" x{}", count) : "";
  if (IsMessage(event.name) && count > 1) {
    const std::string* peer = Find(event, event.name == "MessageSent" ? "to" : "from");
    const std::string* method = Find(event, "method");
    return fmt::format("{} {} messages{}\nwith {}", ShortTime(event.time), count,
                       method ? " " + Shorten(*method, 24) : "", peer ? *peer : "?");
  }
  if (IsMessage(event.name)) {
    // The arrow shows the other end; the label says what and where.
    const std::string* method = Find(event, "method");
    const std::string* bytes = Find(event, "bytes");
    if (event.name == "MessageSent") {
      const std::string* to = Find(event, "to");
      return fmt::format("{} send{}{}\nto {}{}", ShortTime(event.time), method ? " " + Shorten(*method, 24) : "",
                         bytes ? " (" + *bytes + " B)" : "", to ? *to : "?", times);
    }
    const std::string* from = Find(event, "from");
    return fmt::format("{} {}{}\nfrom {}{}", ShortTime(event.time),
                       event.name == "MessageReceived" ? "receive" : "lost", method ? " " + Shorten(*method, 24) : "",
                       from ? *from : "?", times);
  }
  std::string label = fmt::format("{} {}{}", ShortTime(event.time), event.name, times);
  int shown = 0;
  for (const sim::TraceDetail& detail : event.details) {
    if (detail.key == "id" || shown == 2) continue;
    label += fmt::format("\n{}={}", detail.key, Shorten(detail.value, 40));
    ++shown;
  }
  return label;
}

// "4.870721926s", "250ms", "3us", "12ns" -> nanoseconds; -1 if not a duration.
int64_t ParseDuration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) ++digits;
  if (digits == 0) return -1;
  const double value = std::strtod(std::string(text.substr(0, digits)).c_str(), nullptr);
  const std::string_view unit = text.substr(digits);
  if (unit == "s") return static_cast<int64_t>(value * 1e9);
  if (unit == "ms") return static_cast<int64_t>(value * 1e6);
  if (unit == "us") return static_cast<int64_t>(value * 1e3);
  if (unit == "ns") return static_cast<int64_t>(value);
  return -1;
}

// The value of " key=" in a FaultInjected action's text ("... duration=4.8s ...").
std::string ActionField(const std::string& action, const std::string& key) {
  const size_t at = action.find(" " + key + "=");
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() + 2;
  return action.substr(start, action.find(' ', start) - start);
}

struct Box {
  size_t first;  // event index
  size_t lane;
  size_t count = 1;
  size_t row = 0;
};

}  // namespace

std::string LaneOf(const std::string& group) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= group.size() && parts.size() < 3) {
    const size_t slash = group.find('/', start);
    parts.push_back(group.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  // A member's etcd container holds the wrapper and, below it, the etcd
  // process: two lanes. Elsewhere the first two components.
  if (parts.size() >= 3 && parts[1] == "etcd") return parts[0] + "/etcd/" + parts[2];
  if (parts.size() >= 2) return parts[0] + "/" + parts[1];
  return parts.empty() ? std::string("-") : parts[0];
}

SpaceTime BuildSpaceTime(const std::vector<sim::TraceRecord>& events, const SpaceTimeOptions& options) {
  SpaceTime out;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].name == "PropertyViolated") {
      out.first_violation = i;
      break;
    }
  }
  // The window.
  size_t lo = 0, hi = events.size();
  if (options.from_ns.has_value() || options.to_ns.has_value()) {
    const int64_t from = options.from_ns.value_or(INT64_MIN), to = options.to_ns.value_or(INT64_MAX);
    while (lo < events.size() && events[lo].time.nanos() < from) ++lo;
    hi = lo;
    while (hi < events.size() && events[hi].time.nanos() <= to) ++hi;
  } else if (out.first_violation.has_value()) {
    const size_t v = *out.first_violation;
    lo = v > options.before ? v - options.before : 0;
    hi = std::min(events.size(), v + options.after + 1);
  } else {
    hi = std::min(events.size(), options.before + options.after);
  }
  out.first_event = lo;
  out.last_event = hi == 0 ? 0 : hi - 1;

  // Lanes in order of first appearance; boxes with runs collapsed per lane.
  std::vector<std::string> lanes;
  std::map<std::string, size_t> lane_index;
  std::vector<Box> boxes;
  std::vector<size_t> box_of(hi - lo, SIZE_MAX);
  std::map<size_t, size_t> last_box_in_lane;  // lane -> box
  for (size_t i = lo; i < hi; ++i) {
    const std::string lane_name = LaneOf(events[i].group);
    auto [it, added] = lane_index.emplace(lane_name, lanes.size());
    if (added) lanes.push_back(lane_name);
    const size_t lane = it->second;
    const std::string key = CollapseKey(events[i]);
    auto last = last_box_in_lane.find(lane);
    if (!key.empty() && last != last_box_in_lane.end() && CollapseKey(events[boxes[last->second].first]) == key) {
      ++boxes[last->second].count;
      box_of[i - lo] = last->second;
      continue;
    }
    box_of[i - lo] = boxes.size();
    last_box_in_lane[lane] = boxes.size();
    boxes.push_back({i, lane});
  }
  // The cap: the earliest boxes go (the window ends at the violation).
  size_t first_box = 0;
  if (boxes.size() > options.max_boxes) {
    first_box = boxes.size() - options.max_boxes;
    out.truncated = true;
  }
  for (size_t b = first_box; b < boxes.size(); ++b) boxes[b].row = b - first_box;
  out.boxes = boxes.size() - first_box;
  auto drawn = [&](size_t box) { return box != SIZE_MAX && box >= first_box; };
  auto x_of = [&](size_t lane) { return static_cast<int>(lane) * kLaneWidth; };
  auto y_of = [&](size_t row) { return -static_cast<int>(row) * kRowHeight; };

  std::string dot = "digraph spacetime {\n";
  dot += "  graph [splines=true, outputorder=nodesfirst, bgcolor=\"white\"];\n";
  dot += "  node [shape=box, fontname=\"Helvetica\", fontsize=8, style=\"rounded,filled\", fillcolor=\"#f7f7f7\", "
         "color=\"#999999\", width=2.9, height=0.48, fixedsize=true];\n";
  dot += "  edge [fontname=\"Helvetica\", fontsize=7, arrowsize=0.5];\n";

  // Fault spans, drawn first (behind the boxes): partitions across every
  // lane, a machine down across the lanes of its pod.
  const size_t rows = out.boxes;
  // The row of the first drawn box created at or after each event of the
  // window (an event merged into an earlier box does not pull rows back).
  std::vector<size_t> row_at(hi - lo + 1, rows);
  for (size_t k = hi; k > lo; --k) {
    const size_t box = box_of[k - 1 - lo];
    const bool starts_box = drawn(box) && boxes[box].first == k - 1;
    row_at[k - 1 - lo] = starts_box ? boxes[box].row : row_at[k - lo];
  }
  auto row_of_event = [&](size_t i) -> size_t { return i < lo ? row_at[0] : row_at[std::min(i, hi) - lo]; };
  struct Span {
    size_t from_row, to_row;
    std::string label;
    std::vector<size_t> lanes;  // empty: all (partitions); others name theirs
  };
  std::vector<Span> spans;
  {
    int partitions = 0;
    size_t partition_start = lo;
    std::map<std::string, size_t> down_since;  // node -> event index
    for (size_t i = 0; i < hi; ++i) {
      const sim::TraceRecord& event = events[i];
      if (event.name == "PartitionStarted") {
        if (partitions++ == 0) partition_start = std::max(i, lo);
      } else if (event.name == "PartitionHealed" && partitions > 0) {
        if (--partitions == 0 && i >= lo) {
          spans.push_back({row_of_event(partition_start), row_of_event(i), "partition", {}});
        }
      } else if (event.name == "NodeDown") {
        if (const std::string* node = Find(event, "node")) down_since[*node] = std::max(i, lo);
      } else if (event.name == "NodeUp") {
        const std::string* node = Find(event, "node");
        if (node == nullptr) continue;
        auto since = down_since.find(*node);
        if (since == down_since.end()) continue;
        if (i >= lo && i > since->second) {
          std::vector<size_t> node_lanes;
          for (size_t l = 0; l < lanes.size(); ++l) {
            if (lanes[l] == *node || lanes[l].rfind(*node + "/", 0) == 0) node_lanes.push_back(l);
          }
          if (!node_lanes.empty()) spans.push_back({row_of_event(since->second), row_of_event(i), *node + " down", node_lanes});
        }
        down_since.erase(since);
      }
    }
    if (partitions > 0) spans.push_back({row_of_event(partition_start), rows, "partition (not healed)", {}});
    // The API server down, a bucket burst, a pod's start delayed: spans on
    // the lanes they touch.
    // The lanes of `prefix`; when none is in the window, the world's lane
    // (where the fault was injected) carries the span.
    auto lanes_with_prefix = [&](const std::string& prefix) {
      std::vector<size_t> found;
      for (size_t l = 0; l < lanes.size(); ++l) {
        if (lanes[l] == prefix || lanes[l].rfind(prefix + "/", 0) == 0) found.push_back(l);
      }
      if (found.empty()) {
        if (auto world = lane_index.find("world"); world != lane_index.end()) found.push_back(world->second);
      }
      return found;
    };
    auto row_of_time = [&](int64_t nanos) {
      const auto it = std::lower_bound(events.begin() + static_cast<std::ptrdiff_t>(lo),
                                       events.begin() + static_cast<std::ptrdiff_t>(hi), nanos,
                                       [](const sim::TraceRecord& e, int64_t t) { return e.time.nanos() < t; });
      return row_of_event(static_cast<size_t>(it - events.begin()));
    };
    std::map<std::string, std::string> pod_of_node;
    size_t api_down_since = SIZE_MAX;  // event index, while the API server is down
    for (size_t i = 0; i < hi; ++i) {
      const sim::TraceRecord& event = events[i];
      if (event.name == "PodCreated" || event.name == "PodMoved") {
        const std::string* pod = Find(event, "pod");
        const std::string* node = Find(event, "node");
        if (pod != nullptr && node != nullptr) pod_of_node[*node] = *pod;
      } else if (event.name == "ApiServerAvailability") {
        const std::string* available = Find(event, "available");
        if (available != nullptr && *available == "false" && api_down_since == SIZE_MAX) api_down_since = i;
        if (available != nullptr && *available == "true" && api_down_since != SIZE_MAX) {
          if (i >= lo) spans.push_back({row_of_event(std::max(api_down_since, lo)), row_of_event(i), "API server down",
                                        lanes_with_prefix("kube-apiserver")});
          api_down_since = SIZE_MAX;
        }
      } else if (event.name == "FaultInjected" && i >= lo) {
        const std::string* action = Find(event, "action");
        if (action == nullptr) continue;
        const int64_t duration = ParseDuration(ActionField(*action, "duration"));
        if (action->find(" object_store_burst ") != std::string::npos && duration > 0) {
          spans.push_back({row_of_event(i), row_of_time(event.time.nanos() + duration), "bucket errors",
                           lanes_with_prefix("bucket")});
        } else if (action->find(" delay_start ") != std::string::npos) {
          const int64_t delay = ParseDuration(ActionField(*action, "delay"));
          auto pod = pod_of_node.find(ActionField(*action, "node"));
          const std::string who = pod != pod_of_node.end() ? pod->second : ActionField(*action, "node");
          if (delay > 0) spans.push_back({row_of_event(i), row_of_time(event.time.nanos() + delay), who + " Pending",
                                          lanes_with_prefix(who)});
        }
      }
    }
    if (api_down_since != SIZE_MAX) {
      spans.push_back({row_of_event(std::max(api_down_since, lo)), rows, "API server down", lanes_with_prefix("kube-apiserver")});
    }
    for (const auto& [node, since] : down_since) {
      std::vector<size_t> node_lanes;
      for (size_t l = 0; l < lanes.size(); ++l) {
        if (lanes[l] == node || lanes[l].rfind(node + "/", 0) == 0) node_lanes.push_back(l);
      }
      if (!node_lanes.empty()) spans.push_back({row_of_event(since), rows, node + " down", node_lanes});
    }
  }
  // A span over all lanes, or one rectangle per lane of the machine.
  size_t rectangles = 0;
  for (const Span& span : spans) {
    if (span.to_row <= span.from_row) continue;
    if (span.lanes.empty() && span.label.find("partition") == std::string::npos) continue;  // none of its lanes drawn
    std::vector<std::pair<size_t, size_t>> columns;  // [left, right] lanes
    if (span.lanes.empty()) {
      columns.push_back({0, lanes.empty() ? 0 : lanes.size() - 1});
    } else {
      for (size_t lane : span.lanes) columns.push_back({lane, lane});
    }
    for (const auto& [left, right] : columns) {
      const double width = (right - left + 1) * kLaneWidth;
      const double height = (span.to_row - span.from_row) * kRowHeight;
      const double cx = (x_of(left) + x_of(right)) / 2.0;
      const double cy = y_of(span.from_row) - height / 2.0 + kRowHeight / 2.0;
      dot += fmt::format(
          "  span{} [label=\"{}\", pos=\"{:.0f},{:.0f}!\", width={:.2f}, height={:.2f}, style=filled, "
          "fillcolor=\"{}\", color=\"none\", fontcolor=\"#a05050\", labelloc=t];\n",
          rectangles++, DotString(span.label), cx, cy, width / 72.0, height / 72.0,
          span.label.find("partition") != std::string::npos ? "#fbe3e3" : "#e6e6f5");
    }
  }

  // Lane headers.
  for (size_t l = 0; l < lanes.size(); ++l) {
    dot += fmt::format("  lane{} [label=\"{}\", pos=\"{},{}!\", fillcolor=\"#dde8f5\", fontsize=10, style=\"filled\"];\n",
                       l, DotString(lanes[l]), x_of(l), kRowHeight * 2);
  }
  if (out.truncated) {
    dot += fmt::format("  truncated [label=\"truncated: {} earlier boxes not drawn\", pos=\"{},{}!\", "
                       "fillcolor=\"#fff3cd\", width=4];\n",
                       first_box, x_of(0), kRowHeight);
  }
  // Boxes.
  for (size_t b = first_box; b < boxes.size(); ++b) {
    const Box& box = boxes[b];
    const sim::TraceRecord& event = events[box.first];
    std::string style;
    if (event.name == "PropertyViolated") {
      style = ", fillcolor=\"#f8d0d0\", color=\"#c00000\", penwidth=2";
    } else if (IsFault(event.name)) {
      style = ", fillcolor=\"#fde9c8\", color=\"#c07000\"";
    } else if (IsMessage(event.name)) {
      style = ", fillcolor=\"#ffffff\", color=\"#c8c8c8\"";
    }
    dot += fmt::format("  e{} [label=\"{}\", pos=\"{},{}!\", URL=\"#e{}\", tooltip=\"{}\"{}];\n", box.first,
                       DotString(Label(event, box.count)), x_of(box.lane), y_of(box.row), box.first,
                       DotString(FormatTraceLine(event)), style);
  }
  // Lane lines: each box to the next in its lane.
  std::map<size_t, size_t> previous;  // lane -> box
  for (size_t b = first_box; b < boxes.size(); ++b) {
    auto it = previous.find(boxes[b].lane);
    if (it != previous.end()) {
      dot += fmt::format("  e{} -> e{} [arrowhead=none, color=\"#dddddd\", style=dotted];\n", boxes[it->second].first,
                         boxes[b].first);
    }
    previous[boxes[b].lane] = b;
  }
  // Messages: send box -> receive box, one arrow per pair of boxes.
  std::map<std::string, size_t> sent;  // message id -> box
  std::map<std::pair<size_t, size_t>, size_t> arrows;
  std::vector<std::pair<size_t, size_t>> drops;  // send box, drop event
  for (size_t i = lo; i < hi; ++i) {
    const sim::TraceRecord& event = events[i];
    if (!IsMessage(event.name)) continue;
    const std::string* id = Find(event, "id");
    if (id == nullptr) continue;
    if (event.name == "MessageSent") {
      sent[*id] = box_of[i - lo];
      continue;
    }
    auto from = sent.find(*id);
    if (from == sent.end() || !drawn(from->second)) continue;
    if (event.name == "MessageReceived" && drawn(box_of[i - lo])) {
      ++arrows[{from->second, box_of[i - lo]}];
    } else if (event.name == "MessageDropped") {
      drops.push_back({from->second, i});
    }
  }
  for (const auto& [pair, count] : arrows) {
    if (pair.first == pair.second) continue;
    dot += fmt::format("  e{} -> e{} [color=\"#3060c0\"{}];\n", boxes[pair.first].first, boxes[pair.second].first,
                       count > 1 ? fmt::format(", label=\"x{}\"", count) : "");
  }
  for (size_t d = 0; d < drops.size(); ++d) {
    const Box& from = boxes[drops[d].first];
    const size_t row = row_of_event(drops[d].second);
    dot += fmt::format("  drop{} [label=\"x lost\", shape=plaintext, style=\"\", fontcolor=\"#c00000\", width=0.5, "
                       "pos=\"{},{}!\"];\n",
                       d, x_of(from.lane) + kLaneWidth / 2, y_of(std::min(row, rows)));
    dot += fmt::format("  e{} -> drop{} [color=\"#c00000\", style=dashed];\n", from.first, d);
  }
  dot += "}\n";
  out.dot = std::move(dot);
  return out;
}

}  // namespace viz
