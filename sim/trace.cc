#include "sim/trace.h"

#include "sim/check.h"
#include "sim/hash.h"
#include "sim/scheduler.h"

namespace sim {
namespace {

Trace* g_current_trace = nullptr;

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '=' || c == '"' || c == '\\' || c == '\n' || c == '\t') return true;
  }
  return false;
}

void AppendValue(std::string* out, std::string_view value) {
  if (!NeedsQuotes(value)) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\t': out->append("\\t"); break;
      default: out->push_back(c);
    }
  }
  out->push_back('"');
}

// Hashes every field with its length, so that ("ab","c") and ("a","bc") differ.
uint64_t HashRecord(const TraceRecord& record) {
  uint64_t h = HashCombine(kFnvOffset, static_cast<uint64_t>(record.time.nanos()));
  auto add = [&h](std::string_view text) {
    h = HashCombine(h, text.size());
    h = HashCombine(h, Fnv1a64(text));
  };
  add(record.group);
  add(record.actor);
  add(record.name);
  for (const TraceDetail& detail : record.details) {
    add(detail.key);
    add(detail.value);
  }
  return h;
}

}  // namespace

std::string FormatTraceLine(const TraceRecord& record) {
  const int64_t ns = record.time.nanos();
  std::string line = fmt::format("{}.{:06d}s {} {} {}", ns / 1000000000, (ns % 1000000000) / 1000,
                                 record.group, record.actor, record.name);
  for (const TraceDetail& detail : record.details) {
    line.push_back(' ');
    line.append(detail.key);
    line.push_back('=');
    AppendValue(&line, detail.value);
  }
  return line;
}

Trace::Trace(const Scheduler* clock) : clock_(clock), digest_(kFnvOffset) {}
Trace::~Trace() {
  Flush();
  if (g_current_trace == this) g_current_trace = nullptr;
}

Trace* Trace::Current() { return g_current_trace; }
void Trace::SetCurrent(Trace* trace) { g_current_trace = trace; }

void Trace::AddSink(std::unique_ptr<TraceSink> sink) { sinks_.push_back(std::move(sink)); }

TraceRecord Trace::Record(std::string name, std::vector<TraceDetail> details) const {
  TraceRecord record;
  record.time = clock_->Now();
  Scheduler::Place place = clock_->CurrentPlace();
  record.group = std::move(place.group);
  record.actor = std::move(place.actor);
  record.name = std::move(name);
  record.details = std::move(details);
  return record;
}

void Trace::Emit(std::string name, std::vector<TraceDetail> details) {
  TraceRecord record = Record(std::move(name), std::move(details));
  digest_ = HashCombine(digest_, HashRecord(record));
  ++count_;
  for (const auto& sink : sinks_) sink->Write(record);
  if (tail_.size() == kTailLength) tail_.pop_front();
  tail_.push_back(std::move(record));
}

void Trace::Observe(std::string name, std::vector<TraceDetail> details) {
  if (sinks_.empty()) return;
  const TraceRecord record = Record(std::move(name), std::move(details));
  for (const auto& sink : sinks_) sink->Write(record);
}

bool Trace::Observing() {
  const Trace* trace = Current();
  return trace != nullptr && !trace->sinks_.empty();
}

void Trace::Flush() {
  for (const auto& sink : sinks_) sink->Flush();
}

std::vector<std::string> Trace::TailLines() const {
  std::vector<std::string> lines;
  lines.reserve(tail_.size());
  for (const TraceRecord& record : tail_) lines.push_back(FormatTraceLine(record));
  return lines;
}

TraceEvent::~TraceEvent() {
  Trace* trace = Trace::Current();
  if (trace == nullptr) return;
  if (observation_) {
    trace->Observe(std::move(name_), std::move(details_));
  } else {
    trace->Emit(std::move(name_), std::move(details_));
  }
}

TextTraceSink::~TextTraceSink() {
  Flush();
  if (owned_) std::fclose(file_);
}

void TextTraceSink::Write(const TraceRecord& record) {
  const std::string line = FormatTraceLine(record);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fputc('\n', file_);
}

void TextTraceSink::Flush() {
  if (std::fflush(file_) != 0 || std::ferror(file_)) failed_ = true;
}

absl::Status TextTraceSink::status() const {
  if (!failed_) return absl::OkStatus();
  return absl::DataLossError("cannot write " + name_);
}

absl::Status Trace::SinkStatus() const {
  for (const auto& sink : sinks_) {
    if (absl::Status status = sink->status(); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace sim
