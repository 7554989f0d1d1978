// The page of one run, for the person who replays it: the replay command
// first (as FoundationDB's Joshua shows it), the first violation in words,
// the space-time picture (inline SVG: its boxes link to the table), and the
// events of the window as a table with an anchor per event (#e<index>).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sim/trace.h"
#include "sim/trace_file.h"
#include "viz/space_time.h"

namespace viz {

struct PictureFiles {
  std::string dot_path;  // written
  std::string svg_path;  // written if Graphviz ran
  std::string graphviz_error;  // why not, otherwise
};

// Writes `picture.dot` beside `svg_path` and renders it with `neato -n2`.
PictureFiles RenderSpaceTime(const SpaceTime& picture, const std::string& dot_path, const std::string& svg_path);

// The HTML page; `svg` is the rendered picture's text (empty: not rendered).
std::string FailurePage(const sim::TraceFileContents& trace, const std::vector<sim::TraceRecord>& events,
                        const SpaceTime& picture, const std::string& svg, const std::string& graphviz_error);

// Reads a trace, draws it and writes DIR/index.html, DIR/space-time.dot and
// DIR/space-time.svg. Errors: the trace's (NotFound, DataLoss) or the
// output's.
absl::Status WriteFailurePage(const std::string& trace_path, const std::string& dir, const SpaceTimeOptions& options);

}  // namespace viz
