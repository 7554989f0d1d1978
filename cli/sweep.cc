#include "cli/sweep.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
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

std::string ReplayLine(const Job& job) {
  return fmt::format("etcd-dst run --workload {} --seed {}{}", job.workload, job.seed,
                     job.profile.empty() ? "" : " --profile " + job.profile);
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
    _exit(kChildOutOfMemory);
  });
}

[[noreturn]] void RunChild(const SweepOptions& options, const std::vector<Job>& batch, char* shared) {
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

// What the parent keeps of the finished runs: counters, never the runs.
struct GroupCounts {
  std::array<uint64_t, 3> runs{};  // pass, fail, internal
  double wall_ms = 0;  // of the seeds timed so far, for batch sizes
  uint64_t timed = 0;
  std::map<std::string, uint64_t> sometimes_hits;
  std::map<std::string, uint64_t> violated_runs;
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
  for (const std::string& workload : options.workloads) {
    std::vector<std::string> profiles = workloads::FindWorkload(workload)->make()->Profiles();
    if (!profiles.empty() && !options.profiles.empty()) {
      std::erase_if(profiles, [&](const std::string& p) {
        return std::find(options.profiles.begin(), options.profiles.end(), p) == options.profiles.end();
      });
    }
    if (profiles.empty()) profiles.push_back("");
    for (const std::string& profile : profiles) groups.push_back({workload, profile, ""});
  }
  std::vector<std::string> group_names;  // "bootstrap-0-to-3 profile=br-fixed"
  for (Group& group : groups) {
    group.name = group.profile.empty() ? group.workload : group.workload + "." + group.profile;
    group_names.push_back(group.profile.empty() ? group.workload : group.workload + " profile=" + group.profile);
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
  JournalWriter journal;
  if (absl::Status status = journal.Open(journal_path, 0); !status.ok()) return BadInput(status);
  // JSON lines, one per run as it finishes (a line is written whole).
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
  std::vector<GroupCounts> counts(groups.size());
  std::vector<JournalEntry> entries;
  entries.reserve(total);
  uint64_t journal_bytes = 0;
  absl::Status journal_status;
  std::deque<uint64_t> requeued;  // jobs of a batch whose child died before them
  uint64_t next = 0;
  size_t running = 0;

  // One finished seed: counted, printed if it did not pass, journaled.
  Progress progress(total);
  uint64_t done = 0, not_passed = 0;
  auto finish = [&](const Job& job, etcd_dst::result::SweepRun& run) {
    const std::string log_path = job.stem + ".log";
    const bool passed = run.exit_code() == kExitPass && run.failure().empty();
    GroupCounts& group = counts[job.group];
    group.wall_ms += run.wall_ms();
    ++group.timed;
    if (passed) {
      ++group.runs[0];
    } else {
      run.set_log(log_path);
      const bool violation = run.exit_code() == kExitViolation && run.failure().empty();
      ++group.runs[violation ? 1 : 2];
      const std::string replay = run.result().replay().empty() ? ReplayLine(job) : run.result().replay();
      if (!run.failure().empty()) {
        std::ofstream(log_path, std::ios::app) << "etcd-dst sweep: " << run.failure() << "\n";
      }
      progress.Clear();
      std::printf("%s: %s  (%slog %s)\n", violation ? "FAIL" : "INTERNAL", replay.c_str(),
                  run.failure().empty() ? "" : (run.failure() + "; ").c_str(), log_path.c_str());
      std::fflush(stdout);
    }
    for (const auto& property : run.result().properties()) {
      if (property.kind() == "sometimes") group.sometimes_hits[property.name()] += property.hits();
    }
    for (const std::string& name : run.result().violated()) ++group.violated_runs[name];
    const std::string bytes = run.SerializeAsString();
    if (journal_status.ok()) journal_status = journal.Append(bytes);
    const std::string line = viz::RunJsonLine(run) + "\n";
    if (journal_status.ok() && (std::fwrite(line.data(), 1, line.size(), jsonl) != line.size() || std::fflush(jsonl) != 0)) {
      journal_status = absl::DataLossError(fmt::format("cannot write --out {}: {}", jsonl_path, std::strerror(errno)));
    }
    ++done;
    if (!passed) ++not_passed;
    progress.Update(done, not_passed);
    entries.push_back({job.index, journal_bytes});
    journal_bytes += 8 + bytes.size();
  };

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

  auto more = [&] { return !requeued.empty() || next < total; };
  auto front = [&] { return requeued.empty() ? next : requeued.front(); };
  auto pop = [&] {
    const uint64_t index = front();
    if (requeued.empty()) {
      ++next;
    } else {
      requeued.pop_front();
    }
    return make_job(index);
  };
  while (more() || running > 0) {
    for (Slot& slot : slots) {
      if (slot.pid >= 0 || !more()) continue;
      // A batch of the next seeds of one workload and profile, sized so
      // that it takes about kBatchTargetMs (one seed until one has finished).
      const uint32_t group = static_cast<uint32_t>(front() / per_group);
      const GroupCounts& measured = counts[group];
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
      if (pid == 0) RunChild(options, slot.batch, slot.shared);
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
      const int64_t deadline = slot.header()->current_started_ns.load() + limit_ns;
      if (deadline <= now) {
        slot.killed_at = slot.header()->current.load();
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
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  munmap(shared, kSlotBytes * slots.size());
  journal.Close();
  progress.Clear();
  if (std::fclose(jsonl) != 0 && journal_status.ok()) {
    journal_status = absl::DataLossError(fmt::format("cannot write --out {}: {}", jsonl_path, std::strerror(errno)));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!journal_status.ok()) return BadInput(journal_status);
  if (absl::Status status = WriteSummary(options, journal_path, std::move(entries), summary_path, seconds);
      !status.ok()) {
    return BadInput(status);
  }
  const viz::SweepInfo info{.build = BuildCommit(), .first_seed = options.first_seed, .seeds = options.seeds,
                            .shard_index = options.shard_index, .shard_count = options.shard_count,
                            .wall_seconds = seconds};
  absl::StatusOr<viz::SweepSummary> summary = SummarizeJournal(journal_path);
  if (!summary.ok()) return BadInput(summary.status());
  if (absl::Status status = WriteJUnit(*summary, info, options.out_dir); !status.ok()) return BadInput(status);
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
    return BadInput(status);
  }
  if (absl::Status status = WriteOutputFile("--out", (out_dir / "index.html").string(), viz::DashboardHtml());
      !status.ok()) {
    return BadInput(status);
  }

  uint64_t failed = 0, internal = 0;
  for (size_t g = 0; g < counts.size(); ++g) {
    const GroupCounts& group = counts[g];
    std::string never;
    for (const auto& [name, hits] : group.sometimes_hits) {
      if (hits == 0) never += (never.empty() ? "" : ",") + name;
    }
    std::string violated;
    for (const auto& [name, runs] : group.violated_runs) {
      violated += fmt::format("{}{}:{}", violated.empty() ? "" : ",", name, runs);
    }
    const uint64_t runs = group.runs[0] + group.runs[1] + group.runs[2];
    std::printf("workload=%s runs=%llu pass=%llu fail=%llu internal=%llu violated=%s sometimes_never_seen=%s\n",
                group_names[g].c_str(), static_cast<unsigned long long>(runs),
                static_cast<unsigned long long>(group.runs[0]), static_cast<unsigned long long>(group.runs[1]),
                static_cast<unsigned long long>(group.runs[2]), violated.c_str(), never.c_str());
    failed += group.runs[1];
    internal += group.runs[2];
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

}  // namespace cli
