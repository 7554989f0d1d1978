#include "viz/failure_page.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "viz/text.h"

extern char** environ;

namespace viz {
namespace {

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::DataLossError(fmt::format("cannot write {}", path));
  return absl::OkStatus();
}

const std::string* Find(const sim::TraceRecord& event, std::string_view key) {
  for (const sim::TraceDetail& detail : event.details) {
    if (detail.key == key) return &detail.value;
  }
  return nullptr;
}

// The SVG Graphviz wrote, without its XML prolog, to sit inside the page.
std::string InlineSvg(const std::string& svg) {
  const size_t start = svg.find("<svg");
  return start == std::string::npos ? "" : svg.substr(start);
}

constexpr char kStyle[] = R"(
body { font-family: -apple-system, Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
.replay { display: flex; gap: .5em; align-items: center; background: #f3f3f3; padding: .6em; border-radius: 4px; }
.replay code { flex: 1; font-size: .95em; overflow-x: auto; white-space: nowrap; }
.verdict-fail { color: #b00000; font-weight: bold; } .verdict-pass { color: #207020; font-weight: bold; }
.violation { border-left: 4px solid #c00000; background: #fdf0f0; padding: .5em .8em; }
.picture { overflow: auto; border: 1px solid #ddd; max-height: 80vh; }
table { border-collapse: collapse; font-size: .8em; } td, th { padding: 2px 6px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
tr:target { background: #fff3b0; } tr.violated { background: #fbe0e0; } tr.fault { background: #fdf1dc; }
td.details { font-family: monospace; word-break: break-all; }
.note { color: #666; font-size: .9em; }
)";

constexpr char kCopyScript[] = R"(
function copyReplay(button) {
  const text = document.getElementById('replay').textContent;
  navigator.clipboard.writeText(text).then(() => { button.textContent = 'Copied'; });
}
)";

}  // namespace

PictureFiles RenderSpaceTime(const SpaceTime& picture, const std::string& dot_path, const std::string& svg_path) {
  PictureFiles files;
  files.dot_path = dot_path;
  if (absl::Status status = WriteText(dot_path, picture.dot); !status.ok()) {
    files.graphviz_error = std::string(status.message());
    return files;
  }
  std::vector<std::string> args = {"neato", "-n2", "-Tsvg", "-o", svg_path, dot_path};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int error = posix_spawnp(&pid, "neato", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    files.graphviz_error = fmt::format("cannot run Graphviz's neato: {} (install graphviz)", std::strerror(error));
    return files;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    files.graphviz_error = "neato failed on " + dot_path;
    return files;
  }
  files.svg_path = svg_path;
  return files;
}

std::string FailurePage(const sim::TraceFileContents& trace, const std::vector<sim::TraceRecord>& events,
                        const SpaceTime& picture, const std::string& svg, const std::string& graphviz_error) {
  const std::string replay = trace.header.replay().empty()
                                 ? fmt::format("etcd-dst run --workload {} --seed {}", trace.header.workload(),
                                               trace.header.seed())
                                 : trace.header.replay();
  const bool finished = trace.has_footer;
  const bool pass = finished && trace.footer.pass();
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  html += fmt::format("<title>{} seed {}</title>\n<style>{}</style>\n<script>{}</script>\n</head><body>\n",
                      Html(trace.header.workload()), trace.header.seed(), kStyle, kCopyScript);
  html += fmt::format("<h1>{} &middot; seed {} &middot; <span class=\"{}\">{}</span></h1>\n", Html(trace.header.workload()),
                      trace.header.seed(), pass ? "verdict-pass" : "verdict-fail",
                      !finished ? "did not finish" : pass ? "pass" : "fail");
  html += fmt::format("<div class=\"replay\"><code id=\"replay\">{}</code><button onclick=\"copyReplay(this)\">Copy</button></div>\n",
                      Html(replay));
  if (finished) {
    std::string violated;
    for (const std::string& name : trace.footer.violations()) violated += (violated.empty() ? "" : ", ") + name;
    html += fmt::format("<p class=\"note\">fingerprint {:016x} &middot; {} scheduler events &middot; simulated {} "
                        "&middot; violated: {}</p>\n",
                        trace.footer.fingerprint(), trace.footer.events(),
                        Html(sim::SimTime::FromNanos(trace.footer.sim_time_ns()).ToString()),
                        violated.empty() ? "none" : Html(violated));
  } else {
    html += fmt::format("<p class=\"note\">The trace has no footer: the run stopped before it finished (a crash, a "
                        "kill){}.</p>\n", trace.torn_tail ? "; its last record was cut short and is left out" : "");
  }
  html += "<h2>What went wrong first</h2>\n";
  if (picture.first_violation.has_value()) {
    const sim::TraceRecord& event = events[*picture.first_violation];
    const std::string* property = Find(event, "property");
    const std::string* details = Find(event, "details");
    html += fmt::format(
        "<div class=\"violation\">At <b>{}</b> of simulated time, <b>{}</b> was violated, seen by {} in {}:<br>"
        "<code>{}</code><br><a href=\"#e{}\">the event in the table</a></div>\n",
        Html(event.time.ToString()), Html(property != nullptr ? *property : "?"),
        Html(event.actor.empty() ? "-" : event.actor), Html(event.group), Html(details != nullptr ? *details : ""),
        *picture.first_violation);
  } else {
    html += "<p>No property was violated in this trace.</p>\n";
  }
  html += "<h2>Space-time diagram</h2>\n";
  html += fmt::format(
      "<p class=\"note\">Events {} to {} of {} ({} boxes{}); a lane per actor group, time downward, "
      "blue arrows are messages, shaded spans partitions and machines down, red the violation. "
      "A box marked xN is N events of the same kind in a row. Click a box for its row in the table.</p>\n",
      picture.first_event, picture.last_event, events.size(), picture.boxes,
      picture.truncated ? ", earlier ones truncated" : "");
  if (!svg.empty()) {
    html += "<div class=\"picture\">" + InlineSvg(svg) + "</div>\n";
  } else {
    html += fmt::format("<p class=\"note\">No picture: {}. The DOT file is beside this page.</p>\n", Html(graphviz_error));
  }
  html += "<p class=\"note\"><a href=\"space-time.dot\">space-time.dot</a> &middot; the whole trace: "
          "<code>etcd-dst trace trace.pb</code></p>\n";
  html += "<h2>Events</h2>\n<table>\n<tr><th>#</th><th>time</th><th>group</th><th>actor</th><th>event</th><th>details</th></tr>\n";
  for (size_t i = picture.first_event; i <= picture.last_event && i < events.size(); ++i) {
    const sim::TraceRecord& event = events[i];
    std::string details;
    for (const sim::TraceDetail& detail : event.details) {
      details += fmt::format("{}{}={}", details.empty() ? "" : " ", detail.key, detail.value);
    }
    const char* row_class = event.name == "PropertyViolated" ? " class=\"violated\""
                            : (event.name == "FaultInjected" || event.name == "PowerLoss") ? " class=\"fault\""
                                                                                           : "";
    html += fmt::format("<tr id=\"e{}\"{}><td><a href=\"#e{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                        "<td class=\"details\">{}</td></tr>\n",
                        i, row_class, i, i, Html(event.time.ToString()), Html(event.group), Html(event.actor),
                        Html(event.name), Html(details));
  }
  html += "</table>\n</body></html>\n";
  return html;
}

absl::Status WriteFailurePage(const std::string& trace_path, const std::string& dir, const SpaceTimeOptions& options) {
  absl::StatusOr<sim::TraceFileContents> trace = sim::ReadTraceFile(trace_path, /*keep_torn_tail=*/true);
  if (!trace.ok()) return trace.status();
  std::vector<sim::TraceRecord> events;
  events.reserve(trace->events.size());
  for (const auto& event : trace->events) events.push_back(sim::FromProto(event));
  const SpaceTime picture = BuildSpaceTime(events, options);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::filesystem::path base(dir);
  const PictureFiles files =
      RenderSpaceTime(picture, (base / "space-time.dot").string(), (base / "space-time.svg").string());
  std::string svg;
  if (!files.svg_path.empty()) {
    std::ifstream in(files.svg_path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    svg = buffer.str();
  }
  return WriteText((base / "index.html").string(), FailurePage(*trace, events, picture, svg, files.graphviz_error));
}

}  // namespace viz
