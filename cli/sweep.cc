#include "cli/sweep.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <new>
#include <tuple>

#include "cli/build_info.h"
#include "cli/exit_codes.h"
#include "cli/journal.h"
#include "cli/run_command.h"
#include "cli/user_io.h"
#include "fmt/format.h"
#include "sim/run_result.pb.h"
#include "workloads/runner.h"
#include "sim/trace.h"
#include "viz/dashboard.h"
#include "viz/failure_page.h"
#include "viz/sweep_report.h"
#include "workloads/workload.h"

namespace cli {
namespace {

using Clock = std::chrono::steady_clock;

// A child runs a batch of seeds, one after another, and hands their results
// to the parent through memory shared with it: one slot per concurrent child,
// a SlotHeader, then one record per finished seed, [RecordHeader][RunResult].
// Short seeds go in batches, so that a fork, the child's first page faults and
// its exit are paid once per batch; a seed of more than kBatchTargetMs runs
// alone. Runs in one process leave nothing behind for the next (the
// determinism tests run sweeps against fresh processes).
constexpr size_t kSlotBytes = size_t{4} << 20;
// A child stops its batch early once less than this is left in its slot.
constexpr size_t kSlotReserveBytes = size_t{1} << 20;
constexpr double kBatchTargetMs = 25;
constexpr size_t kBatchMax = 64;
constexpr uint32_t kResultInFile = ~uint32_t{0};
// How a child tells the parent it ran out of memory (never a `run` code).
constexpr int kChildOutOfMemory = 125;

struct SlotHeader {
  std::atomic<uint32_t> current;           // batch index of the seed running (or last started)
  std::atomic<uint32_t> finished;          // records written
  std::atomic<int64_t> current_started_ns;  // CLOCK_MONOTONIC at the current seed's start
  uint64_t used;                           // bytes of records after the header
};
static_assert(std::atomic<int64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free);

struct RecordHeader {
  uint32_t size;  // of the RunResult bytes that follow; kResultInFile: in <stem>.result.pb
  int32_t exit_code;
  double wall_ms;
  double cpu_ms;
};

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

struct Job {
  std::string workload;
  std::string profile;  // empty: the workload has none
  uint64_t seed;
  uint32_t group;  // index of (workload, profile) in launch order
  std::string stem;  // DIR/runs/<workload>[.<profile>]-<seed>
  uint64_t index;  // in launch order: group-major, then seed
};

struct Slot {
  pid_t pid = -1;
  std::vector<Job> batch;
  Clock::time_point started;
  bool timed_out = false;
  uint32_t killed_at = 0;  // batch index of the seed running when it was killed
  char* shared = nullptr;
  SlotHeader* header() { return reinterpret_cast<SlotHeader*>(shared); }
};

int64_t MonotonicNanos() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
}

double CpuMs(const rusage& usage) {
  return usage.ru_utime.tv_sec * 1e3 + usage.ru_utime.tv_usec / 1e3 + usage.ru_stime.tv_sec * 1e3 +
         usage.ru_stime.tv_usec / 1e3;
}

// The child: runs each seed of its batch as `etcd-dst run --workload W --seed
// S [--profile P]` would, with the seed's output in its log (removed when it
// passes), and never returns.
// A child's address-space limit, and a clear end when it is reached.
void LimitMemory(const SweepOptions& options) {
  if (options.seed_memory_mib > 0 && !kAddressSanitizer) {
    const rlim_t bytes = static_cast<rlim_t>(options.seed_memory_mib) << 20;
    const rlimit limit{bytes, bytes};
    setrlimit(RLIMIT_AS, &limit);
  }
  std::set_new_handler([] {
    static constexpr char kMessage[] = "etcd-dst: out of memory\n";
    [[maybe_unused]] const ssize_t n = write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    // A failure page's run keeps what it traced (a flush that needs memory
    // itself ends here again, and exits).
    static bool flushing = false;
    if (!flushing) {
      flushing = true;
      if (sim::Trace* trace = sim::Trace::Current()) trace->Flush();
    }
    _exit(kChildOutOfMemory);
  });
}

// A child keeps its own result slot mapped, not the others: with many jobs
// they would count against its address-space limit.
void UnmapOtherSlots(char* base, size_t slots, char* own) {
  if (own > base) munmap(base, static_cast<size_t>(own - base));
  char* end = base + slots * kSlotBytes;
  if (own + kSlotBytes < end) munmap(own + kSlotBytes, static_cast<size_t>(end - own - kSlotBytes));
}

[[noreturn]] void RunChild(const SweepOptions& options, const std::vector<Job>& batch, char* shared) {
  // The parent decides when a sweep stops: a Ctrl-C reaches the whole
  // process group, and a seed must not be recorded as killed by it. A child
  // dies with its parent.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  LimitMemory(options);
  auto* header = reinterpret_cast<SlotHeader*>(shared);
  char* records = shared + sizeof(SlotHeader);
  for (size_t k = 0; k < batch.size(); ++k) {
    const Job& job = batch[k];
    const std::string log_path = job.stem + ".log";
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) _exit(kExitInternal);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    close(log);
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    const int64_t started = MonotonicNanos();
    header->current_started_ns.store(started);
    header->current.store(static_cast<uint32_t>(k));
    workloads::RunOptions run;
    run.workload = job.workload;
    run.seed = job.seed;
    run.profile = job.profile;
    absl::StatusOr<etcd_dst::result::RunResult> result = workloads::RunWorkload(run);
    RecordHeader record{};
    std::string bytes;
    if (!result.ok()) {
      std::fprintf(stderr, "etcd-dst: %s\n", Printable(std::string(result.status().message())).c_str());
      record.exit_code = kExitBadInput;
    } else {
      PrintOutcome(*result);
      record.exit_code = ExitCodeOf(*result);
      bytes = result->SerializeAsString();
    }
    std::fflush(stdout);
    std::fflush(stderr);
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    record.wall_ms = (MonotonicNanos() - started) / 1e6;
    record.cpu_ms = CpuMs(after) - CpuMs(before);
    const size_t room = kSlotBytes - sizeof(SlotHeader) - header->used;
    if (sizeof record + bytes.size() > room) {
      std::ofstream(job.stem + ".result.pb", std::ios::binary) << bytes;
      record.size = kResultInFile;
      bytes.clear();
    } else {
      record.size = static_cast<uint32_t>(bytes.size());
    }
    std::memcpy(records + header->used, &record, sizeof record);
    std::memcpy(records + header->used + sizeof record, bytes.data(), bytes.size());
    header->used += sizeof record + bytes.size();
    if (record.exit_code == kExitPass) unlink(log_path.c_str());
    header->finished.store(static_cast<uint32_t>(k + 1));
    if (kSlotBytes - sizeof(SlotHeader) - header->used < kSlotReserveBytes) break;
  }
  _exit(kExitPass);
}

std::string SignalText(int signal) {
  const char* name = strsignal(signal);
  return fmt::format("killed by signal {} ({})", signal, name != nullptr ? name : "unknown");
}

// What the parent keeps of a workload's finished runs while they run, for
// batch sizes (the summary is built from the journal at the end).
struct GroupTiming {
  double wall_ms = 0;
  uint64_t timed = 0;
};

struct JournalEntry {
  uint64_t index;  // the job's, in launch order
  uint64_t offset;
};

// Writes results.pb from the journal, in launch order (workloads as given,
// then profiles, then seeds),
// streaming one run at a time through a temporary file and a rename.
absl::Status WriteSummary(const SweepOptions& options, const std::string& journal_path, std::vector<JournalEntry> entries,
                          const std::string& summary_path, double wall_seconds) {
  std::sort(entries.begin(), entries.end(),
            [](const JournalEntry& a, const JournalEntry& b) { return a.index < b.index; });
  etcd_dst::result::SweepResult header;
  header.set_first_seed(options.first_seed);
  header.set_seeds(options.seeds);
  header.set_shard_index(options.shard_index);
  header.set_shard_count(options.shard_count);
  header.set_build(BuildCommit());
  header.set_wall_seconds(wall_seconds);
  StagedOutputFile out;
  if (absl::Status status = out.Open("--out", summary_path); !status.ok()) return status;
  if (absl::Status status = out.Write(header.SerializeAsString()); !status.ok()) return status;
  const int journal = open(journal_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (journal < 0) return absl::DataLossError("cannot reopen " + journal_path);
  std::string chunk;
  absl::Status status;
  for (const JournalEntry& entry : entries) {
    absl::StatusOr<std::string> run = ReadJournalRecord(journal, entry.offset);
    if (!run.ok()) {
      status = run.status();
      break;
    }
    // Field 5 (runs), length-delimited: the bytes a repeated message field has.
    chunk.push_back(static_cast<char>((5 << 3) | 2));
    for (uint64_t size = run->size();; size >>= 7) {
      if (size < 0x80) {
        chunk.push_back(static_cast<char>(size));
        break;
      }
      chunk.push_back(static_cast<char>((size & 0x7f) | 0x80));
    }
    chunk += *run;
    if (chunk.size() >= (size_t{1} << 20)) {
      status = out.Write(chunk);
      chunk.clear();
      if (!status.ok()) break;
    }
  }
  close(journal);
  if (status.ok()) status = out.Write(chunk);
  if (status.ok()) status = out.Commit();
  return status;
}

// A progress bar on a terminal (redrawn at most 10 times a second), a plain
// line every 10 s otherwise; FAIL lines clear the bar first.
class Progress {
 public:
  explicit Progress(uint64_t total)
      : total_(total), tty_(isatty(STDOUT_FILENO) == 1), started_(Clock::now()), last_(started_) {}

  void Update(uint64_t done, uint64_t failed) {
    done_ = done;
    failed_ = failed;
    const auto now = Clock::now();
    if (now - last_ < (tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(10000))) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - started_).count();
    const double rate = seconds > 0 ? done / seconds : 0;
    const double eta = rate > 0 ? (total_ - done) / rate : 0;
    const std::string eta_text = fmt::format("{}:{:02}", static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(kWidth * done / std::max<uint64_t>(total_, 1));
      std::printf("\r\033[K[%s%s] %llu/%llu seeds  %llu failed  %.1f/s  ETA %s", std::string(filled, '#').c_str(),
                  std::string(kWidth - filled, '-').c_str(), static_cast<unsigned long long>(done),
                  static_cast<unsigned long long>(total_), static_cast<unsigned long long>(failed), rate,
                  eta_text.c_str());
      shown_ = true;
    } else {
      std::printf("progress: %llu/%llu seeds, %llu failed, %.1f seeds/s, eta %s\n",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
                  static_cast<unsigned long long>(failed), rate, eta_text.c_str());
    }
    std::fflush(stdout);
  }
  // Before a line of its own: the bar goes.
  void Clear() {
    if (shown_) std::printf("\r\033[K");
    shown_ = false;
  }

 private:
  uint64_t total_, done_ = 0, failed_ = 0;
  bool tty_;
  bool shown_ = false;
  Clock::time_point started_, last_;
};

absl::StatusOr<viz::SweepSummary> SummarizeJournal(const std::string& journal_path) {
  viz::SweepSummary summary;
  absl::StatusOr<JournalScan> scan = ReadJournal(journal_path, [&](uint64_t, std::string_view payload) {
    etcd_dst::result::SweepRun run;
    if (run.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) summary.Add(run);
    return absl::OkStatus();
  });
  if (!scan.ok()) return scan.status();
  return summary;
}

// JUnit: DIR/junit_etcd-dst.xml, and $ARTIFACTS/ when set.
absl::Status WriteJUnit(const viz::SweepSummary& summary, const viz::SweepInfo& info, const std::string& out_dir) {
  const std::string xml = viz::JUnitXml(summary, info);
  std::vector<std::string> paths = {(std::filesystem::path(out_dir) / "junit_etcd-dst.xml").string()};
  if (const char* artifacts = std::getenv("ARTIFACTS"); artifacts != nullptr && *artifacts != '\0') {
    std::error_code ec;
    std::filesystem::create_directories(artifacts, ec);
    paths.push_back((std::filesystem::path(artifacts) / "junit_etcd-dst.xml").string());
  }
  for (const std::string& path : paths) {
    if (absl::Status status = WriteOutputFile("junit", path, xml); !status.ok()) return status;
  }
  return absl::OkStatus();
}

// In a failure-page child: a fatal signal (an abort, a fault, the parent's
// SIGTERM for a hang) first flushes the trace, so that the page shows what
// happened up to it.
void FlushTraceAndDie(int signal) {
  if (sim::Trace* trace = sim::Trace::Current()) trace->Flush();
  _exit(128 + signal);
}

void FlushTraceOnFatalSignals() {
  static char alternate_stack[1 << 16];
  stack_t stack{};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof alternate_stack;
  sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_handler = FlushTraceAndDie;
  action.sa_flags = SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTERM}) sigaction(signal, &action, nullptr);
}

// Failure pages for the first failing seeds of each workload and property
// (the fastest failures first), at most `limit` in all: each seed runs again
// in a child, with a trace, and the child draws the page. A seed that hangs
// again is killed at the sweep's limit; its page shows the trace it left.
viz::FailurePages WriteFailurePages(const viz::SweepSummary& summary, const SweepOptions& options,
                                    const std::filesystem::path& out_dir) {
  std::vector<std::tuple<std::string, const viz::GroupSummary*, uint64_t>> chosen;  // name, group, seed
  std::set<std::pair<std::string, uint64_t>> seen;
  for (const viz::GroupSummary& group : summary.groups()) {
    auto take = [&](const std::vector<viz::Example>& examples, size_t count) {
      for (size_t i = 0; i < examples.size() && i < count; ++i) {
        if (seen.insert({group.Name(), examples[i].seed}).second) chosen.push_back({group.Name(), &group, examples[i].seed});
      }
    };
    for (const auto& [name, property] : group.properties) take(property.examples, 2);
    take(group.harness_examples, 2);
  }
  if (chosen.size() > options.failure_pages) chosen.resize(options.failure_pages);
  viz::FailurePages pages;
  for (const auto& [name, group, seed] : chosen) {
    const std::string relative = fmt::format("failures/{}-{}", name, seed);
    const std::filesystem::path dir = out_dir / relative;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
      const int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
      }
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      FlushTraceOnFatalSignals();
      LimitMemory(options);
      workloads::RunOptions run;
      run.workload = group->workload;
      run.seed = seed;
      run.profile = group->profile;
      run.trace_path = (dir / "trace.pb").string();
      (void)workloads::RunWorkload(run);
      const absl::Status page = viz::WriteFailurePage(run.trace_path, dir.string(), {});
      _exit(page.ok() ? 0 : 1);
    }
    if (pid < 0) continue;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options.seed_timeout_seconds * 2));
    int status = 0;
    bool terminated = false;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (!terminated && Clock::now() > deadline) {
        kill(pid, SIGTERM);  // flushes the trace, then exits
        terminated = true;
      } else if (terminated && Clock::now() > deadline + std::chrono::seconds(2)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      usleep(2000);
    }
    // A seed that crashed or hung leaves a trace without a footer: draw it here.
    if (!std::filesystem::exists(dir / "index.html", ec) && std::filesystem::exists(dir / "trace.pb", ec)) {
      (void)viz::WriteFailurePage((dir / "trace.pb").string(), dir.string(), {});
    }
    if (std::filesystem::exists(dir / "index.html", ec)) pages[{name, seed}] = relative + "/index.html";
  }
  return pages;
}

// The sweep's (workload, profile) pairs, in launch order.
std::vector<std::pair<std::string, std::string>> SweepGroups(const SweepOptions& options) {
  std::vector<std::pair<std::string, std::string>> groups;
  for (const std::string& workload : options.workloads) {
    std::vector<std::string> profiles = workloads::FindWorkload(workload)->make()->Profiles();
    if (!profiles.empty() && !options.profiles.empty()) {
      std::erase_if(profiles, [&](const std::string& p) {
        return std::find(options.profiles.begin(), options.profiles.end(), p) == options.profiles.end();
      });
    }
    if (profiles.empty()) profiles.push_back("");
    for (const std::string& profile : profiles) groups.push_back({workload, profile});
  }
  return groups;
}

// The per-workload lines and the last line both a sweep and a merge print.
void PrintSummaryLines(const viz::SweepSummary& summary) {
  for (const viz::GroupSummary& group : summary.groups()) {
    std::string never, violated;
    for (const auto& [name, property] : group.properties) {
      if (property.kind == "sometimes" && property.runs_hit == 0) never += (never.empty() ? "" : ",") + name;
      if (property.runs_violated > 0) {
        violated += fmt::format("{}{}:{}", violated.empty() ? "" : ",", name, property.runs_violated);
      }
    }
    std::printf("workload=%s runs=%llu pass=%llu fail=%llu internal=%llu violated=%s sometimes_never_seen=%s\n",
                (group.profile.empty() ? group.workload : group.workload + " profile=" + group.profile).c_str(),
                static_cast<unsigned long long>(group.runs), static_cast<unsigned long long>(group.passed),
                static_cast<unsigned long long>(group.failed), static_cast<unsigned long long>(group.harness),
                violated.c_str(), never.c_str());
  }
}

volatile sig_atomic_t g_interrupted = 0;
void OnInterrupt(int signal) { g_interrupted = signal; }

// What a sweep directory was started with; a resumed sweep must match it.
std::string OptionsRecord(const SweepOptions& options) {
  std::string workloads, profiles;
  for (const std::string& w : options.workloads) workloads += (workloads.empty() ? "" : ",") + w;
  for (const std::string& p : options.profiles) profiles += (profiles.empty() ? "" : ",") + p;
  return fmt::format("build={}\nworkloads={}\nprofiles={}\nfirst_seed={}\nseeds={}\nshard={}/{}\n", BuildCommit(),
                     workloads, profiles, options.first_seed, options.seeds, options.shard_index, options.shard_count);
}

// An output that failed after the sweep started (a full disk): our own I/O
// failure, exit 3 (retried by the nightly's Job), never "bad input".
int OutputFailed(const absl::Status& status) {
  std::fprintf(stderr, "etcd-dst: %s\n", Printable(std::string(status.message())).c_str());
  return kExitInternal;
}

}  // namespace

int RunSweep(const SweepOptions& options) {
  std::error_code ec;
  const std::filesystem::path out_dir(options.out_dir);
  const std::string runs_dir = (out_dir / "runs").string();
  if (absl::Status status = PrepareOutputDirectory("--out", options.out_dir); !status.ok()) {
    return BadInput(status);
  }
  if (absl::Status status = PrepareOutputDirectory("--out", runs_dir); !status.ok()) return BadInput(status);
  const std::string summary_path = (out_dir / "results.pb").string();
  const std::string journal_path = (out_dir / "results.journal").string();
  const std::string jsonl_path = (out_dir / "results.jsonl").string();
  for (const std::string& path : {summary_path, journal_path, jsonl_path}) {
    if (absl::Status status = CheckOutputFile("--out", path); !status.ok()) return BadInput(status);
  }
  // Jobs are made when they start, from their index (group-major, then seed):
  // the parent holds no per-seed state beyond a 16-byte journal entry.
  struct Group {
    std::string workload, profile, name;
  };
  std::vector<Group> groups;
  for (const auto& [workload, profile] : SweepGroups(options)) {
    groups.push_back({workload, profile, profile.empty() ? workload : workload + "." + profile});
  }
  // Seeds of this shard: first_seed + shard_index + j * shard_count.
  const uint64_t per_group = options.seeds / options.shard_count +
                             (options.shard_index < options.seeds % options.shard_count ? 1 : 0);
  if (per_group == 0) {
    return BadInput(fmt::format("--shard {}/{} selects none of the {} seeds", options.shard_index,
                                options.shard_count, options.seeds));
  }
  const uint64_t total = per_group * groups.size();
  auto make_job = [&](uint64_t index) {
    const Group& group = groups[index / per_group];
    const uint64_t seed = options.first_seed + options.shard_index + (index % per_group) * options.shard_count;
    return Job{group.workload, group.profile, seed, static_cast<uint32_t>(index / per_group),
               (out_dir / "runs" / fmt::format("{}-{}", group.name, seed)).string(), index};
  };
  for (const auto& entry : std::filesystem::directory_iterator(runs_dir, ec)) {
    if (!entry.is_regular_file(ec)) {
      return BadInput(fmt::format("--out: {} is in the way (not a regular file)", entry.path().string()));
    }
  }
  // The sweep's options: written by a new sweep, matched by a resumed one.
  const std::string options_path = (out_dir / "sweep.txt").string();
  const std::string record = OptionsRecord(options);
  if (options.resume) {
    absl::StatusOr<std::string> previous = ReadInputFile("--resume", options_path, 1 << 16);
    if (!previous.ok()) {
      return BadInput(fmt::format("--resume: {} has no sweep to resume ({})", options.out_dir,
                                  std::string(previous.status().message())));
    }
    if (*previous != record) {
      std::string old_line = *previous, new_line = record;
      for (size_t i = 0; i < std::min(old_line.size(), new_line.size()); ++i) {
        if (old_line[i] != new_line[i]) {
          const size_t start = old_line.rfind('\n', i) == std::string::npos ? 0 : old_line.rfind('\n', i) + 1;
          old_line = old_line.substr(start, old_line.find('\n', start) - start);
          const size_t new_start = new_line.rfind('\n', i) == std::string::npos ? 0 : new_line.rfind('\n', i) + 1;
          new_line = new_line.substr(new_start, new_line.find('\n', new_start) - new_start);
          break;
        }
      }
      return BadInput(fmt::format("--resume: {} was started with {}, not {}", options.out_dir, old_line, new_line));
    }
  } else if (absl::Status status = WriteOutputFile("--out", options_path, record); !status.ok()) {
    return BadInput(status);
  }
  JournalWriter journal;
  // JSON lines, one per run as it finishes (a line is written whole); a
  // resumed sweep writes the journal's runs again first.
  std::FILE* jsonl = std::fopen(jsonl_path.c_str(), "w");
  if (jsonl == nullptr) return BadInput(fmt::format("cannot write --out {}: {}", jsonl_path, std::strerror(errno)));

  std::vector<Slot> slots(static_cast<size_t>(options.jobs));
  void* shared = mmap(nullptr, kSlotBytes * slots.size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    std::fprintf(stderr, "etcd-dst: cannot map %zu MiB for results: %s\n", slots.size(), std::strerror(errno));
    return kExitInternal;
  }
  for (size_t i = 0; i < slots.size(); ++i) slots[i].shared = static_cast<char*>(shared) + i * kSlotBytes;

  // SIGCHLD stays blocked in the parent and is waited for with a timeout, so
  // that a hung seed is noticed; children unblock it.
  sigset_t child_signal, old_mask;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child_signal, &old_mask);

  const auto started = Clock::now();
  std::vector<GroupTiming> timings(groups.size());
  std::vector<JournalEntry> entries;
  entries.reserve(total);
  uint64_t journal_bytes = 0;
  absl::Status journal_status;
  std::deque<uint64_t> requeued;  // jobs of a batch whose child died before them
  uint64_t next = 0;
  size_t running = 0;

  Progress progress(total);
  uint64_t done = 0, not_passed = 0;
  std::vector<bool> finished_jobs(total, false);
  // A finished run, new or from the journal of a resumed sweep: counted,
  // printed if it did not pass, and written to results.jsonl.
  auto account = [&](uint32_t group_index, uint64_t index, const etcd_dst::result::SweepRun& run, uint64_t offset) {
    const bool passed = run.exit_code() == kExitPass && run.failure().empty();
    GroupTiming& timing = timings[group_index];
    timing.wall_ms += run.wall_ms();
    ++timing.timed;
    if (!passed) {
      const bool violation = run.exit_code() == kExitViolation && run.failure().empty();
      progress.Clear();
      std::printf("%s: %s  (%slog %s)\n", violation ? "FAIL" : "INTERNAL", viz::ReplayOf(run).c_str(),
                  run.failure().empty() ? "" : (run.failure() + "; ").c_str(), run.log().c_str());
      std::fflush(stdout);
    }
    const std::string line = viz::RunJsonLine(run) + "\n";
    if (journal_status.ok() && (std::fwrite(line.data(), 1, line.size(), jsonl) != line.size() || std::fflush(jsonl) != 0)) {
      journal_status = absl::DataLossError(fmt::format("cannot write --out {}: {}", jsonl_path, std::strerror(errno)));
    }
    entries.push_back({index, offset});
    finished_jobs[index] = true;
    ++done;
    if (!passed) ++not_passed;
    progress.Update(done, not_passed);
  };
  // One seed that just finished: its log kept if it did not pass, journaled, accounted.
  auto finish = [&](const Job& job, etcd_dst::result::SweepRun& run) {
    const bool passed = run.exit_code() == kExitPass && run.failure().empty();
    if (!passed) {
      run.set_log(job.stem + ".log");
      if (!run.failure().empty()) {
        std::ofstream(run.log(), std::ios::app) << "etcd-dst sweep: " << run.failure() << "\n";
      }
    }
    const std::string bytes = run.SerializeAsString();
    if (journal_status.ok()) journal_status = journal.Append(bytes);
    account(job.group, job.index, run, journal_bytes);
    journal_bytes += 8 + bytes.size();
  };
  uint64_t resumed = 0;
  if (options.resume) {
    absl::StatusOr<JournalScan> scan = ReadJournal(journal_path, [&](uint64_t offset, std::string_view payload) {
      etcd_dst::result::SweepRun run;
      if (!run.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
        return absl::DataLossError(fmt::format("--resume: a record of {} at {} is not a run", journal_path, offset));
      }
      uint32_t g = 0;
      while (g < groups.size() && !(groups[g].workload == run.workload() && groups[g].profile == run.profile())) ++g;
      const uint64_t base = options.first_seed + options.shard_index;
      if (g == groups.size() || run.seed() < base || (run.seed() - base) % options.shard_count != 0 ||
          (run.seed() - base) / options.shard_count >= per_group) {
        return absl::DataLossError(fmt::format("--resume: {} holds a run this sweep would not make ({} seed {})",
                                               journal_path, run.workload(), run.seed()));
      }
      const uint64_t index = g * per_group + (run.seed() - base) / options.shard_count;
      if (finished_jobs[index]) return absl::OkStatus();  // written twice: the first counts
      account(g, index, run, offset);
      ++resumed;
      return absl::OkStatus();
    });
    if (!scan.ok() && scan.status().code() != absl::StatusCode::kNotFound) return BadInput(scan.status());
    const uint64_t keep = scan.ok() ? scan->good_bytes : 0;
    if (absl::Status status = journal.Open(journal_path, keep); !status.ok()) return BadInput(status);
    journal_bytes = keep;
    std::printf("resumed: %llu of %llu seeds already done%s\n", static_cast<unsigned long long>(resumed),
                static_cast<unsigned long long>(total),
                scan.ok() && scan->torn_tail ? " (a torn last record was dropped)" : "");
    std::fflush(stdout);
  } else if (absl::Status status = journal.Open(journal_path, 0); !status.ok()) {
    return BadInput(status);
  }
  struct sigaction interrupt {};
  interrupt.sa_handler = OnInterrupt;
  sigemptyset(&interrupt.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &interrupt, &old_int);
  sigaction(SIGTERM, &interrupt, &old_term);

  // A batch child ended: its finished seeds, then the one it died in (if it
  // died), then the rest of its batch back to the queue.
  auto reap = [&](Slot& slot, int status, const rusage& usage) {
    SlotHeader* header = slot.header();
    const uint32_t finished = std::min<uint32_t>(header->finished.load(), static_cast<uint32_t>(slot.batch.size()));
    const char* records = slot.shared + sizeof(SlotHeader);
    size_t offset = 0;
    for (uint32_t k = 0; k < finished; ++k) {
      const Job& job = slot.batch[k];
      RecordHeader record;
      std::memcpy(&record, records + offset, sizeof record);
      offset += sizeof record;
      etcd_dst::result::SweepRun run;
      run.set_workload(job.workload);
      run.set_profile(job.profile);
      run.set_seed(job.seed);
      run.set_exit_code(record.exit_code);
      run.set_wall_ms(record.wall_ms);
      run.set_cpu_ms(record.cpu_ms);
      if (record.size == kResultInFile) {
        std::ifstream in(job.stem + ".result.pb", std::ios::binary);
        if (!run.mutable_result()->ParseFromIstream(&in)) run.clear_result();
        std::filesystem::remove(job.stem + ".result.pb", ec);
      } else {
        if (!run.mutable_result()->ParseFromArray(records + offset, static_cast<int>(record.size))) run.clear_result();
        offset += record.size;
      }
      if (slot.batch.size() == 1) run.set_peak_rss_kib(static_cast<uint64_t>(usage.ru_maxrss));
      if (!run.has_result() && run.exit_code() != kExitBadInput) {
        run.set_failure(fmt::format("exited with code {} without a result", run.exit_code()));
      }
      finish(job, run);
    }
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == kExitPass && !slot.timed_out;
    size_t requeue_from = finished;
    const bool blame = !clean && !(slot.timed_out && finished > slot.killed_at);  // it finished as it was killed
    if (finished < slot.batch.size() && blame) {
      // The seed it was running is the one that crashed, hung or ran out.
      const Job& job = slot.batch[finished];
      etcd_dst::result::SweepRun run;
      run.set_workload(job.workload);
      run.set_profile(job.profile);
      run.set_seed(job.seed);
      run.set_exit_code(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      run.set_wall_ms((MonotonicNanos() - header->current_started_ns.load()) / 1e6);
      if (slot.batch.size() == 1) {
        run.set_cpu_ms(CpuMs(usage));
        run.set_peak_rss_kib(static_cast<uint64_t>(usage.ru_maxrss));
      }
      if (slot.timed_out) {
        run.set_exit_code(-1);
        run.set_failure(fmt::format("wall-time limit of {} s exceeded", options.seed_timeout_seconds));
      } else if (WIFSIGNALED(status)) {
        run.set_failure(SignalText(WTERMSIG(status)));
      } else if (run.exit_code() == kChildOutOfMemory) {
        run.set_failure(fmt::format("out of memory (limit {} MiB)", options.seed_memory_mib));
      } else {
        run.set_failure(fmt::format("exited with code {} without a result", run.exit_code()));
      }
      finish(job, run);
      requeue_from = finished + 1;
    }
    for (size_t k = slot.batch.size(); k > requeue_from; --k) requeued.push_front(slot.batch[k - 1].index);
    slot.pid = -1;
    slot.batch.clear();
    --running;
  };

  auto skip_finished = [&] {
    while (next < total && finished_jobs[next]) ++next;
  };
  skip_finished();
  auto more = [&] { return !requeued.empty() || next < total; };
  auto front = [&] { return requeued.empty() ? next : requeued.front(); };
  auto pop = [&] {
    const uint64_t index = front();
    if (requeued.empty()) {
      ++next;
      skip_finished();
    } else {
      requeued.pop_front();
    }
    return make_job(index);
  };
  while ((more() || running > 0) && g_interrupted == 0) {
    for (Slot& slot : slots) {
      if (slot.pid >= 0 || !more()) continue;
      // A batch of the next seeds of one workload and profile, sized so
      // that it takes about kBatchTargetMs (one seed until one has finished).
      const uint32_t group = static_cast<uint32_t>(front() / per_group);
      const GroupTiming& measured = timings[group];
      size_t size = 1;
      if (measured.timed > 0) {
        const double mean_ms = measured.wall_ms / measured.timed;
        size = std::clamp<size_t>(static_cast<size_t>(kBatchTargetMs / std::max(mean_ms, 1e-3)), 1, kBatchMax);
      }
      while (more() && slot.batch.size() < size && front() / per_group == group) slot.batch.push_back(pop());
      slot.timed_out = false;
      SlotHeader* header = slot.header();
      header->current.store(0);
      header->finished.store(0);
      header->current_started_ns.store(MonotonicNanos());
      header->used = 0;
      std::fflush(stdout);
      std::fflush(stderr);
      slot.started = Clock::now();
      const pid_t pid = fork();
      if (pid == 0) {
        UnmapOtherSlots(static_cast<char*>(shared), slots.size(), slot.shared);
        RunChild(options, slot.batch, slot.shared);
      }
      if (pid < 0) {
        std::fprintf(stderr, "etcd-dst: cannot fork: %s\n", std::strerror(errno));
        return kExitInternal;
      }
      slot.pid = pid;
      ++running;
    }
    bool reaped = false;
    for (;;) {
      int status = 0;
      rusage usage{};
      const pid_t pid = wait4(-1, &status, WNOHANG, &usage);
      if (pid <= 0) break;
      for (Slot& slot : slots) {
        if (slot.pid == pid) {
          reap(slot, status, usage);
          reaped = true;
          break;
        }
      }
    }
    if (reaped) continue;
    // Nothing ended: kill a child whose current seed is past its limit, then
    // sleep until a child ends or the next limit comes.
    const int64_t now = MonotonicNanos();
    const int64_t limit_ns = static_cast<int64_t>(options.seed_timeout_seconds * 1e9);
    int64_t wake = now + 1000000000;
    for (Slot& slot : slots) {
      if (slot.pid < 0 || slot.timed_out) continue;
      // `current` first: the child stores the start time, then `current`,
      // so the start read after it is that seed's or a later one's.
      const uint32_t current = slot.header()->current.load();
      const int64_t deadline = slot.header()->current_started_ns.load() + limit_ns;
      if (deadline <= now) {
        slot.killed_at = current;
        kill(slot.pid, SIGKILL);
        slot.timed_out = true;
      } else {
        wake = std::min(wake, deadline);
      }
    }
    const int64_t wait_ns = std::max<int64_t>(wake - now, 0);
    const timespec timeout{static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
    sigtimedwait(&child_signal, nullptr, &timeout);
  }
  const int interrupted = g_interrupted;
  if (interrupted != 0) {
    // Stopped: the seeds still running are dropped, not failed; the journal
    // holds every finished one, and --resume runs the rest.
    for (Slot& slot : slots) {
      if (slot.pid < 0) continue;
      kill(slot.pid, SIGKILL);
      waitpid(slot.pid, nullptr, 0);
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  munmap(shared, kSlotBytes * slots.size());
  journal.Close();
  progress.Clear();
  if (interrupted != 0) {
    std::fclose(jsonl);
    std::printf("interrupted by signal %d: %llu of %llu seeds done, in %s; run the same sweep with --resume to "
                "finish it\n",
                interrupted, static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                journal_path.c_str());
    std::fflush(stdout);
    return 128 + interrupted;
  }
  if (std::fclose(jsonl) != 0 && journal_status.ok()) {
    journal_status = absl::DataLossError(fmt::format("cannot write --out {}: {}", jsonl_path, std::strerror(errno)));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!journal_status.ok()) return OutputFailed(journal_status);
  if (absl::Status status = WriteSummary(options, journal_path, std::move(entries), summary_path, seconds);
      !status.ok()) {
    return OutputFailed(status);
  }
  const viz::SweepInfo info{.build = BuildCommit(), .first_seed = options.first_seed, .seeds = options.seeds,
                            .shard_index = options.shard_index, .shard_count = options.shard_count,
                            .wall_seconds = seconds};
  absl::StatusOr<viz::SweepSummary> summary = SummarizeJournal(journal_path);
  if (!summary.ok()) return OutputFailed(summary.status());
  if (absl::Status status = WriteJUnit(*summary, info, options.out_dir); !status.ok()) return OutputFailed(status);
  // The dashboard: failure pages, then data.js and index.html.
  const viz::FailurePages pages = WriteFailurePages(*summary, options, out_dir);
  std::optional<viz::SweepSummary> previous;
  if (!options.compare_dir.empty()) {
    absl::StatusOr<viz::SweepSummary> loaded =
        SummarizeJournal((std::filesystem::path(options.compare_dir) / "results.journal").string());
    if (!loaded.ok()) return BadInput(loaded.status());
    previous = *std::move(loaded);
  }
  if (absl::Status status = WriteOutputFile(
          "--out", (out_dir / "data.js").string(),
          viz::DashboardDataJs(*summary, info, pages, previous.has_value() ? &*previous : nullptr));
      !status.ok()) {
    return OutputFailed(status);
  }
  if (absl::Status status = WriteOutputFile("--out", (out_dir / "index.html").string(), viz::DashboardHtml());
      !status.ok()) {
    return OutputFailed(status);
  }

  PrintSummaryLines(*summary);
  uint64_t failed = 0, internal = 0;
  for (const viz::GroupSummary& group : summary->groups()) {
    failed += group.failed;
    internal += group.harness;
  }
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  std::printf(
      "sweep=%s runs=%llu failed=%llu internal=%llu seconds=%.1f runs_per_second=%.1f parent_peak_rss_kib=%ld "
      "results=%s\n"
      "outputs: %s %s %s %s\n",
      failed + internal == 0 ? "pass" : "fail", static_cast<unsigned long long>(done),
      static_cast<unsigned long long>(failed), static_cast<unsigned long long>(internal), seconds,
      seconds > 0 ? done / seconds : 0.0, self.ru_maxrss, summary_path.c_str(), jsonl_path.c_str(),
      (out_dir / "junit_etcd-dst.xml").string().c_str(), journal_path.c_str(), (out_dir / "index.html").string().c_str());
  if (internal > 0) return kExitInternal;
  return failed > 0 ? kExitViolation : kExitPass;
}

namespace {

// A shard's sweep.txt as key -> value.
absl::StatusOr<std::map<std::string, std::string>> ReadOptionsRecord(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "sweep.txt").string();
  absl::StatusOr<std::string> text = ReadInputFile("shard", path, 1 << 16);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not a sweep's --out ({})", dir, std::string(text.status().message())));
  }
  std::map<std::string, std::string> record;
  size_t start = 0;
  while (start < text->size()) {
    const size_t end = text->find('\n', start);
    const std::string line = text->substr(start, end == std::string::npos ? std::string::npos : end - start);
    const size_t equals = line.find('=');
    if (equals != std::string::npos) record[line.substr(0, equals)] = line.substr(equals + 1);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  for (const char* key : {"build", "workloads", "profiles", "first_seed", "seeds", "shard"}) {
    if (!record.contains(key)) return absl::InvalidArgumentError(fmt::format("{}/sweep.txt has no {}", dir, key));
  }
  return record;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (!text.empty() && start <= text.size()) {
    const size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

}  // namespace

int RunMerge(const std::string& out, const std::vector<std::string>& shard_dirs) {
  if (shard_dirs.empty()) return BadInput("merge needs at least one shard directory");
  std::vector<std::map<std::string, std::string>> records;
  for (const std::string& dir : shard_dirs) {
    absl::StatusOr<std::map<std::string, std::string>> record = ReadOptionsRecord(dir);
    if (!record.ok()) return BadInput(record.status());
    records.push_back(*std::move(record));
  }
  const auto& first = records.front();
  std::set<std::string> shards_seen;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].at("build") != first.at("build")) {
      return BadInput(fmt::format("shards from different builds: {} ({}) and {} ({})", shard_dirs[0], first.at("build"),
                                  shard_dirs[i], records[i].at("build")));
    }
    for (const char* key : {"workloads", "profiles", "first_seed", "seeds"}) {
      if (records[i].at(key) != first.at(key)) {
        return BadInput(fmt::format("{} and {} are not shards of one sweep: {} {} and {}", shard_dirs[0], shard_dirs[i],
                                    key, first.at(key), records[i].at(key)));
      }
    }
    if (!shards_seen.insert(records[i].at("shard")).second) {
      return BadInput(fmt::format("shard {} is given twice ({}): its seeds overlap", records[i].at("shard"), shard_dirs[i]));
    }
  }
  SweepOptions options;
  options.workloads = SplitList(first.at("workloads"));
  options.profiles = SplitList(first.at("profiles"));
  for (const std::string& workload : options.workloads) {
    if (workloads::FindWorkload(workload) == nullptr) return BadInput("the shards name an unknown workload " + workload);
  }
  options.first_seed = std::strtoull(first.at("first_seed").c_str(), nullptr, 10);
  options.seeds = std::strtoull(first.at("seeds").c_str(), nullptr, 10);
  options.out_dir = out;
  const auto groups = SweepGroups(options);
  const std::filesystem::path out_dir(out);
  if (absl::Status status = PrepareOutputDirectory("--out", out); !status.ok()) return BadInput(status);
  for (const std::string& dir : shard_dirs) {
    std::error_code ec;
    if (std::filesystem::equivalent(dir, out, ec)) return BadInput("--out " + out + " is one of the shards");
  }
  const std::string journal_path = (out_dir / "results.journal").string();
  const std::string jsonl_path = (out_dir / "results.jsonl").string();
  JournalWriter journal;
  if (absl::Status status = journal.Open(journal_path, 0); !status.ok()) return BadInput(status);
  StagedOutputFile jsonl;
  if (absl::Status status = jsonl.Open("--out", jsonl_path); !status.ok()) return BadInput(status);
  std::vector<JournalEntry> entries;
  std::set<std::tuple<std::string, std::string, uint64_t>> seen;
  uint64_t offset = 0;
  double wall_seconds = 0;
  for (const std::string& dir : shard_dirs) {
    etcd_dst::result::SweepResult header;
    std::ifstream in((std::filesystem::path(dir) / "results.pb").string(), std::ios::binary);
    // Only the header's wall time is wanted; a shard that never finished has none.
    if (in && header.ParseFromIstream(&in)) wall_seconds = std::max(wall_seconds, header.wall_seconds());
    absl::Status problem;
    absl::StatusOr<JournalScan> scan =
        ReadJournal((std::filesystem::path(dir) / "results.journal").string(), [&](uint64_t, std::string_view payload) {
          etcd_dst::result::SweepRun run;
          if (!run.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
            return absl::DataLossError(dir + "/results.journal holds a record that is not a run");
          }
          if (!seen.insert({run.workload(), run.profile(), run.seed()}).second) {
            return absl::InvalidArgumentError(
                fmt::format("{} seed {} is in two shards (the second: {})", run.workload(), run.seed(), dir));
          }
          size_t g = 0;
          while (g < groups.size() && groups[g] != std::pair(run.workload(), run.profile())) ++g;
          if (g == groups.size() || run.seed() < options.first_seed || run.seed() - options.first_seed >= options.seeds) {
            return absl::InvalidArgumentError(fmt::format("{} holds {} seed {}, outside its sweep", dir, run.workload(), run.seed()));
          }
          if (absl::Status s = journal.Append(payload); !s.ok()) return s;
          if (absl::Status s = jsonl.Write(viz::RunJsonLine(run) + "\n"); !s.ok()) return s;
          entries.push_back({g * options.seeds + (run.seed() - options.first_seed), offset});
          offset += 8 + payload.size();
          return absl::OkStatus();
        });
    if (!scan.ok()) return BadInput(scan.status());
  }
  journal.Close();
  if (absl::Status status = jsonl.Commit(); !status.ok()) return OutputFailed(status);
  const std::string summary_path = (out_dir / "results.pb").string();
  if (absl::Status status = WriteSummary(options, journal_path, std::move(entries), summary_path, wall_seconds);
      !status.ok()) {
    return OutputFailed(status);
  }
  absl::StatusOr<viz::SweepSummary> summary = SummarizeJournal(journal_path);
  if (!summary.ok()) return OutputFailed(summary.status());
  const viz::SweepInfo info{.build = first.at("build"), .first_seed = options.first_seed, .seeds = options.seeds,
                            .shard_index = 0, .shard_count = 1, .wall_seconds = wall_seconds};
  if (absl::Status status = WriteJUnit(*summary, info, out); !status.ok()) return OutputFailed(status);
  // The shards' failure pages, under the merged failures/.
  viz::FailurePages pages;
  for (const std::string& dir : shard_dirs) {
    std::error_code ec;
    const std::filesystem::path failures = std::filesystem::path(dir) / "failures";
    if (!std::filesystem::is_directory(failures, ec)) continue;
    std::filesystem::create_directories(out_dir / "failures", ec);
    for (const auto& entry : std::filesystem::directory_iterator(failures, ec)) {
      const std::string name = entry.path().filename().string();
      const size_t dash = name.rfind('-');
      if (dash == std::string::npos || !std::filesystem::exists(entry.path() / "index.html", ec)) continue;
      std::filesystem::copy(entry.path(), out_dir / "failures" / name,
                            std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing, ec);
      if (!ec) pages[{name.substr(0, dash), std::strtoull(name.c_str() + dash + 1, nullptr, 10)}] = "failures/" + name + "/index.html";
    }
  }
  if (absl::Status status = WriteOutputFile("--out", (out_dir / "data.js").string(),
                                            viz::DashboardDataJs(*summary, info, pages, nullptr));
      !status.ok()) {
    return OutputFailed(status);
  }
  if (absl::Status status = WriteOutputFile("--out", (out_dir / "index.html").string(), viz::DashboardHtml());
      !status.ok()) {
    return OutputFailed(status);
  }
  SweepOptions merged = options;
  merged.shard_index = 0;
  merged.shard_count = 1;
  std::string record = OptionsRecord(merged);
  record.replace(record.find("build=") + 6, std::string(BuildCommit()).size(), first.at("build"));
  if (absl::Status status = WriteOutputFile("--out", (out_dir / "sweep.txt").string(), record); !status.ok()) {
    return OutputFailed(status);
  }
  PrintSummaryLines(*summary);
  uint64_t failed = 0, harness = 0;
  for (const viz::GroupSummary& group : summary->groups()) {
    failed += group.failed;
    harness += group.harness;
  }
  std::printf("merge=%s shards=%zu runs=%llu failed=%llu internal=%llu results=%s\n",
              failed + harness == 0 ? "pass" : "fail", shard_dirs.size(),
              static_cast<unsigned long long>(summary->runs()), static_cast<unsigned long long>(failed),
              static_cast<unsigned long long>(harness), summary_path.c_str());
  if (harness > 0) return kExitInternal;
  return failed > 0 ? kExitViolation : kExitPass;
}

}  // namespace cli
