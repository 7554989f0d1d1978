#include "sim/disk.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"
#include "sim/simulation.h"
#include "sim/trace.h"

namespace sim {

namespace {

// Ranges as a map begin -> end of disjoint [begin, end) intervals.
void EraseRange(std::map<uint64_t, uint64_t>& ranges, uint64_t begin, uint64_t end) {
  auto it = ranges.lower_bound(begin);
  if (it != ranges.begin() && std::prev(it)->second > begin) --it;
  while (it != ranges.end() && it->first < end) {
    const auto [first, last] = *it;
    it = ranges.erase(it);
    if (first < begin) ranges.emplace(first, begin);
    if (last > end) ranges.emplace(end, last);
  }
}

void AddRange(std::map<uint64_t, uint64_t>& ranges, uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  EraseRange(ranges, begin, end);
  ranges.emplace(begin, end);
}

}  // namespace

Disk::Disk(Simulation* simulation, std::string name, DiskOptions options)
    : simulation_(simulation),
      name_(std::move(name)),
      options_(options),
      configured_capacity_bytes_(options.capacity_bytes),
      rng_(&simulation->Stream("disk." + name_)) {
  set_persist_unit_bytes(options.persist_unit_bytes);
  inodes_[kRoot].is_directory = true;
}

void Disk::set_persist_unit_bytes(uint32_t bytes) {
  SIM_CHECK(bytes >= 512 && (bytes & (bytes - 1)) == 0, "persist unit {} is not a power of two >= 512",
            bytes);
  options_.persist_unit_bytes = bytes;
}

// ------------------------------------------------------------------ paths

absl::StatusOr<std::vector<std::string>> Disk::Split(std::string_view path) const {
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(absl::string_view(path.data(), path.size()), '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return absl::InvalidArgumentError(fmt::format("'..' in path {}", path));
    parts.emplace_back(part);
  }
  return parts;
}

absl::StatusOr<Disk::InodeId> Disk::Lookup(std::string_view path) const {
  absl::StatusOr<std::vector<std::string>> parts = Split(path);
  if (!parts.ok()) return parts.status();
  InodeId at = kRoot;
  for (const std::string& part : *parts) {
    const Inode& inode = inodes_.at(at);
    if (!inode.is_directory) return absl::FailedPreconditionError(fmt::format("not a directory: {}", path));
    auto it = inode.entries.find(part);
    if (it == inode.entries.end()) return absl::NotFoundError(fmt::format("no such file or directory: {}", path));
    at = it->second;
  }
  return at;
}

absl::StatusOr<std::pair<Disk::InodeId, std::string>> Disk::LookupParent(std::string_view path) const {
  absl::StatusOr<std::vector<std::string>> parts = Split(path);
  if (!parts.ok()) return parts.status();
  if (parts->empty()) return absl::InvalidArgumentError("the root has no parent");
  const std::string leaf = parts->back();
  parts->pop_back();
  absl::StatusOr<InodeId> parent = Lookup(absl::StrJoin(*parts, "/"));
  if (!parent.ok()) return parent.status();
  if (!inodes_.at(*parent).is_directory) {
    return absl::FailedPreconditionError(fmt::format("not a directory: {}", path));
  }
  return std::make_pair(*parent, leaf);
}

absl::StatusOr<Disk::OpenFile*> Disk::Descriptor(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return absl::InvalidArgumentError(fmt::format("bad file descriptor {}", fd));
  return &it->second;
}

void Disk::Delay(bool sync) {
  Scheduler* scheduler = Scheduler::Running();
  if (scheduler == nullptr || scheduler->current() == nullptr) return;
  const SimDuration delay = sync ? rng_->DurationIn(options_.sync_latency_min, options_.sync_latency_max)
                                 : rng_->DurationIn(options_.write_latency_min, options_.write_latency_max);
  this_actor::SleepFor(delay);
}

// ------------------------------------------------------------------ namespace ops

absl::Status Disk::Mkdir(std::string_view path) {
  auto parent = LookupParent(path);
  if (!parent.ok()) return parent.status();
  auto& [parent_id, leaf] = *parent;
  if (inodes_.at(parent_id).entries.contains(leaf)) {
    return absl::AlreadyExistsError(fmt::format("file exists: {}", path));
  }
  const InodeId id = next_inode_++;
  inodes_[id].is_directory = true;
  inodes_.at(parent_id).entries[leaf] = id;
  journal_.push_back({MetaOp::Kind::kLink, parent_id, leaf, id, 0, "", simulation_->Now()});
  return absl::OkStatus();
}

absl::Status Disk::MkdirAll(std::string_view path) {
  absl::StatusOr<std::vector<std::string>> parts = Split(path);
  if (!parts.ok()) return parts.status();
  std::string prefix;
  for (const std::string& part : *parts) {
    prefix = prefix.empty() ? part : prefix + "/" + part;
    absl::StatusOr<InodeId> existing = Lookup(prefix);
    if (existing.ok()) {
      if (!inodes_.at(*existing).is_directory) {
        return absl::FailedPreconditionError(fmt::format("not a directory: {}", prefix));
      }
      continue;
    }
    if (absl::Status status = Mkdir(prefix); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Disk::Open(std::string_view path, OpenOptions options) {
  absl::StatusOr<InodeId> found = Lookup(path);
  InodeId id;
  if (found.ok()) {
    if (options.create && options.exclusive) return absl::AlreadyExistsError(fmt::format("file exists: {}", path));
    if (inodes_.at(*found).is_directory) return absl::FailedPreconditionError(fmt::format("is a directory: {}", path));
    id = *found;
  } else {
    if (found.status().code() != absl::StatusCode::kNotFound || !options.create) return found.status();
    auto parent = LookupParent(path);
    if (!parent.ok()) return parent.status();
    id = next_inode_++;
    inodes_[id];
    inodes_.at(parent->first).entries[parent->second] = id;
    journal_.push_back({MetaOp::Kind::kLink, parent->first, parent->second, id, 0, "", simulation_->Now()});
  }
  const int fd = next_fd_++;
  fds_[fd] = OpenFile{id, 0};
  if (options.truncate && !inodes_.at(id).current.empty()) {
    if (absl::Status status = Ftruncate(fd, 0); !status.ok()) return status;
  }
  return fd;
}

absl::Status Disk::Close(int fd) {
  if (fds_.erase(fd) == 0) return absl::InvalidArgumentError(fmt::format("bad file descriptor {}", fd));
  return absl::OkStatus();
}

absl::Status Disk::Rename(std::string_view from, std::string_view to) {
  Delay(false);
  auto source = LookupParent(from);
  if (!source.ok()) return source.status();
  auto target = LookupParent(to);
  if (!target.ok()) return target.status();
  Inode& source_dir = inodes_.at(source->first);
  auto it = source_dir.entries.find(source->second);
  if (it == source_dir.entries.end()) return absl::NotFoundError(fmt::format("no such file or directory: {}", from));
  const InodeId id = it->second;
  Inode& target_dir = inodes_.at(target->first);
  auto existing = target_dir.entries.find(target->second);
  if (existing != target_dir.entries.end()) {
    if (existing->second == id) return absl::OkStatus();
    const Inode& victim = inodes_.at(existing->second);
    if (victim.is_directory && (!inodes_.at(id).is_directory || !victim.entries.empty())) {
      return absl::FailedPreconditionError(fmt::format("cannot replace directory {}", to));
    }
    if (!victim.is_directory && inodes_.at(id).is_directory) {
      return absl::FailedPreconditionError(fmt::format("not a directory: {}", to));
    }
  }
  source_dir.entries.erase(it);
  inodes_.at(target->first).entries[target->second] = id;
  journal_.push_back({MetaOp::Kind::kRename, source->first, source->second, id, target->first,
                      target->second, simulation_->Now()});
  return absl::OkStatus();
}

absl::Status Disk::Unlink(std::string_view path) {
  auto parent = LookupParent(path);
  if (!parent.ok()) return parent.status();
  Inode& dir = inodes_.at(parent->first);
  auto it = dir.entries.find(parent->second);
  if (it == dir.entries.end()) return absl::NotFoundError(fmt::format("no such file or directory: {}", path));
  if (inodes_.at(it->second).is_directory) return absl::FailedPreconditionError(fmt::format("is a directory: {}", path));
  journal_.push_back({MetaOp::Kind::kUnlink, parent->first, parent->second, it->second, 0, "", simulation_->Now()});
  dir.entries.erase(it);
  return absl::OkStatus();
}

absl::Status Disk::Rmdir(std::string_view path) {
  auto parent = LookupParent(path);
  if (!parent.ok()) return parent.status();
  Inode& dir = inodes_.at(parent->first);
  auto it = dir.entries.find(parent->second);
  if (it == dir.entries.end()) return absl::NotFoundError(fmt::format("no such file or directory: {}", path));
  const Inode& victim = inodes_.at(it->second);
  if (!victim.is_directory) return absl::FailedPreconditionError(fmt::format("not a directory: {}", path));
  if (!victim.entries.empty()) return absl::FailedPreconditionError(fmt::format("directory not empty: {}", path));
  journal_.push_back({MetaOp::Kind::kUnlink, parent->first, parent->second, it->second, 0, "", simulation_->Now()});
  dir.entries.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Disk::ReadDir(std::string_view path) {
  absl::StatusOr<InodeId> id = Lookup(path);
  if (!id.ok()) return id.status();
  const Inode& dir = inodes_.at(*id);
  if (!dir.is_directory) return absl::FailedPreconditionError(fmt::format("not a directory: {}", path));
  std::vector<std::string> names;
  for (const auto& [name, child] : dir.entries) names.push_back(name);
  return names;
}

absl::StatusOr<FileStat> Disk::Stat(std::string_view path) {
  absl::StatusOr<InodeId> id = Lookup(path);
  if (!id.ok()) return id.status();
  const Inode& inode = inodes_.at(*id);
  return FileStat{inode.is_directory, inode.current.size()};
}

absl::StatusOr<FileStat> Disk::Fstat(int fd) {
  auto file = Descriptor(fd);
  if (!file.ok()) return file.status();
  const Inode& inode = inodes_.at((*file)->inode);
  return FileStat{inode.is_directory, inode.current.size()};
}

bool Disk::Exists(std::string_view path) { return Lookup(path).ok(); }

// ------------------------------------------------------------------ data ops

uint64_t Disk::used_bytes() const {
  uint64_t used = 0;
  for (const auto& [id, inode] : inodes_) used += inode.current.size();
  return used;
}

void Disk::FillUp() {
  options_.capacity_bytes = used_bytes();
  TraceEvent("DiskFull").Detail("disk", name_).Detail("capacity", options_.capacity_bytes);
}

void Disk::Wipe() {
  inodes_.clear();
  inodes_[kRoot].is_directory = true;
  durable_names_.clear();
  journal_.clear();
  fds_.clear();
  TraceEvent("VolumeWiped").Detail("disk", name_);
}

void Disk::EndFaults() {
  fsync_error_per_million_ = 0;
  read_error_per_million_ = 0;
  failing_fsyncs_ = 0;
  RestoreCapacity();
}

void Disk::ApplyData(FileContent& content, const DataOp& op) {
  if (op.kind == DataOp::Kind::kTruncate) {
    content.Resize(op.offset);
    return;
  }
  content.Write(op.offset, op.data);
}

absl::StatusOr<size_t> Disk::Pwrite(int fd, uint64_t offset, std::string_view data) {
  Delay(false);
  auto file = Descriptor(fd);
  if (!file.ok()) return file.status();
  Inode& inode = inodes_.at((*file)->inode);
  const uint64_t end = offset + data.size();
  const uint64_t growth = end > inode.current.size() ? end - inode.current.size() : 0;
  if (growth > 0 && used_bytes() + growth > options_.capacity_bytes) {
    TraceEvent("WriteFailed").Detail("disk", name_).Detail("error", "no space left on device");
    return absl::ResourceExhaustedError("no space left on device");
  }
  DataOp op{DataOp::Kind::kWrite, offset, std::string(data), simulation_->Now(), false};
  ApplyData(inode.current, op);
  inode.pending.push_back(std::move(op));
  return data.size();
}

absl::StatusOr<size_t> Disk::Write(int fd, std::string_view data) {
  auto file = Descriptor(fd);
  if (!file.ok()) return file.status();
  const uint64_t position = (*file)->position;
  absl::StatusOr<size_t> written = Pwrite(fd, position, data);
  if (written.ok()) fds_.at(fd).position = position + *written;
  return written;
}

absl::StatusOr<std::string> Disk::Pread(int fd, uint64_t offset, uint64_t length) {
  auto file = Descriptor(fd);
  if (!file.ok()) return file.status();
  if (read_error_per_million_ > 0 && rng_->Chance(read_error_per_million_, 1000000)) {
    TraceEvent("ReadFailed").Detail("disk", name_).Detail("error", kErrIo);
    return absl::DataLossError(kErrIo);
  }
  return inodes_.at((*file)->inode).current.Read(offset, length);
}

absl::StatusOr<std::string> Disk::Read(int fd, uint64_t length) {
  auto file = Descriptor(fd);
  if (!file.ok()) return file.status();
  const uint64_t position = (*file)->position;
  absl::StatusOr<std::string> data = Pread(fd, position, length);
  if (data.ok()) fds_.at(fd).position = position + data->size();
  return data;
}

absl::Status Disk::Seek(int fd, uint64_t offset) {
  auto file = Descriptor(fd);
  if (!file.ok()) return file.status();
  (*file)->position = offset;
  return absl::OkStatus();
}

absl::Status Disk::Ftruncate(int fd, uint64_t size) {
  Delay(false);
  auto file = Descriptor(fd);
  if (!file.ok()) return file.status();
  Inode& inode = inodes_.at((*file)->inode);
  const uint64_t growth = size > inode.current.size() ? size - inode.current.size() : 0;
  if (growth > 0 && used_bytes() + growth > options_.capacity_bytes) {
    return absl::ResourceExhaustedError("no space left on device");
  }
  DataOp op{DataOp::Kind::kTruncate, size, "", simulation_->Now(), false};
  ApplyData(inode.current, op);
  inode.pending.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status Disk::WriteFile(std::string_view path, std::string_view data) {
  absl::StatusOr<int> fd = Open(path, {.create = true, .truncate = true});
  if (!fd.ok()) return fd.status();
  absl::Status written = Pwrite(*fd, 0, data).status();
  const absl::Status closed = Close(*fd);
  return written.ok() ? closed : written;
}

absl::Status Disk::RemoveAll(std::string_view path) {
  absl::StatusOr<FileStat> stat = Stat(path);
  if (!stat.ok()) return absl::OkStatus();
  if (!stat->is_directory) return Unlink(path);
  absl::StatusOr<std::vector<std::string>> names = ReadDir(path);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (absl::Status s = RemoveAll(std::string(path) + "/" + name); !s.ok()) return s;
  }
  return Rmdir(path);
}

absl::StatusOr<std::string> Disk::ReadFile(std::string_view path) {
  absl::StatusOr<int> fd = Open(path);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<std::string> data = Pread(*fd, 0, inodes_.at(fds_.at(*fd).inode).current.size());
  (void)Close(*fd);
  return data;
}

absl::Status Disk::CopyFile(int from_fd, std::string_view to) {
  auto file = Descriptor(from_fd);
  if (!file.ok()) return file.status();
  const FileContent content = inodes_.at((*file)->inode).current;
  absl::StatusOr<int> out = Open(to, {.create = true, .truncate = true});
  if (!out.ok()) return out.status();
  const std::string& head = content.head();
  absl::Status status = Pwrite(*out, 0, std::string_view(head).substr(0, std::min<uint64_t>(head.size(), content.size()))).status();
  if (status.ok()) status = Ftruncate(*out, content.size());
  (void)Close(*out);
  return status;
}

absl::Status Disk::Sync(int fd, const char* call) {
  Delay(true);
  auto file = Descriptor(fd);
  if (!file.ok()) return file.status();
  Inode& inode = inodes_.at((*file)->inode);
  bool fail = false;
  if (failing_fsyncs_ > 0) {
    --failing_fsyncs_;
    fail = true;
  } else if (fsync_error_per_million_ > 0) {
    fail = rng_->Chance(fsync_error_per_million_, 1000000);
  }
  if (fail) {
    // Linux marks the dirty pages clean after a failed writeback: the data
    // stays readable from the cache but never reaches the platter.
    for (DataOp& op : inode.pending) op.doomed = true;
    TraceEvent("FsyncFailed").Detail("disk", name_).Detail("call", call).Detail("error", kErrIo);
    return absl::DataLossError(kErrIo);
  }
  for (const DataOp& op : inode.pending) {
    const bool truncate = op.kind == DataOp::Kind::kTruncate;
    const uint64_t end = truncate ? UINT64_MAX : op.offset + op.data.size();
    if (op.doomed) {
      if (!truncate) AddRange(inode.failed_sync_holes, op.offset, end);
      continue;
    }
    ApplyData(inode.durable, op);
    EraseRange(inode.failed_sync_holes, op.offset, end);
  }
  inode.pending.clear();
  return absl::OkStatus();
}

absl::Status Disk::Fsync(int fd) { return Sync(fd, "fsync"); }
absl::Status Disk::Fdatasync(int fd) { return Sync(fd, "fdatasync"); }

void Disk::ApplyMeta(Namespace& names, const MetaOp& op) {
  switch (op.kind) {
    case MetaOp::Kind::kLink:
      names[op.parent][op.name] = op.inode;
      break;
    case MetaOp::Kind::kUnlink:
      names[op.parent].erase(op.name);
      break;
    case MetaOp::Kind::kRename: {
      auto& from = names[op.parent];
      auto it = from.find(op.name);
      if (it != from.end() && it->second == op.inode) from.erase(it);
      names[op.new_parent][op.new_name] = op.inode;
      break;
    }
  }
}

absl::Status Disk::FsyncDir(std::string_view path) {
  Delay(true);
  absl::StatusOr<InodeId> id = Lookup(path);
  if (!id.ok()) return id.status();
  if (!inodes_.at(*id).is_directory) return absl::FailedPreconditionError(fmt::format("not a directory: {}", path));
  // Committing this directory's last operation commits everything before it.
  size_t last = journal_.size();
  for (size_t i = 0; i < journal_.size(); ++i) {
    if (journal_[i].parent == *id || journal_[i].new_parent == *id) last = i;
  }
  if (last == journal_.size()) return absl::OkStatus();
  for (size_t i = 0; i <= last; ++i) ApplyMeta(durable_names_, journal_[i]);
  journal_.erase(journal_.begin(), journal_.begin() + static_cast<std::ptrdiff_t>(last + 1));
  return absl::OkStatus();
}

// ------------------------------------------------------------------ crashes

void Disk::CrashProcess() {
  fds_.clear();
  TraceEvent("DiskProcessCrash").Detail("disk", name_);
}

std::map<Disk::InodeId, std::string> Disk::Paths(const Namespace& names) const {
  std::map<InodeId, std::string> paths;
  std::vector<std::pair<InodeId, std::string>> pending = {{kRoot, ""}};
  while (!pending.empty()) {
    auto [dir, prefix] = pending.back();
    pending.pop_back();
    auto it = names.find(dir);
    if (it == names.end()) continue;
    for (const auto& [name, child] : it->second) {
      const std::string path = prefix.empty() ? name : prefix + "/" + name;
      if (paths.emplace(child, path).second) pending.push_back({child, path});
    }
  }
  return paths;
}

PowerLossReport Disk::PowerLoss(const PowerLossChoice* forced) {
  ++power_losses_;
  PowerLossReport report;
  Rng& rng = simulation_->Stream("disk." + name_ + ".power-loss");
  const SimTime now = simulation_->Now();

  Namespace current_names;
  for (const auto& [id, inode] : inodes_) {
    if (inode.is_directory) current_names[id] = inode.entries;
  }
  const std::map<InodeId, std::string> paths_before = Paths(current_names);

  // Metadata: the journal is in time order; what the kernel already
  // committed (older than the commit interval) is a prefix that survives.
  report.metadata_ops_pending = static_cast<uint32_t>(journal_.size());
  uint32_t committed = 0;
  while (committed < journal_.size() && journal_[committed].time + options_.journal_commit_age <= now) ++committed;
  uint32_t kept;
  if (forced != nullptr && forced->metadata_ops_kept.has_value()) {
    kept = std::min<uint32_t>(*forced->metadata_ops_kept, report.metadata_ops_pending);
  } else if (forced != nullptr && forced->keep_all_unlisted) {
    kept = report.metadata_ops_pending;
  } else if (forced != nullptr && forced->keep_nothing_unlisted) {
    kept = committed;
  } else {
    kept = committed + static_cast<uint32_t>(rng.UniformBelow(report.metadata_ops_pending - committed + 1));
  }
  report.metadata_ops_kept = kept;
  for (uint32_t i = 0; i < kept; ++i) ApplyMeta(durable_names_, journal_[i]);
  journal_.clear();
  const std::map<InodeId, std::string> paths_after = Paths(durable_names_);

  // Data: each unsynced write splits at persist-unit boundaries of the file.
  const uint64_t unit = options_.persist_unit_bytes;
  for (auto& [id, inode] : inodes_) {
    if (inode.is_directory) continue;
    const bool was_visible = paths_before.contains(id);
    const bool survives = paths_after.contains(id);
    if (inode.pending.empty() && inode.failed_sync_holes.empty() && (was_visible == survives)) continue;
    PowerLossReport::FileOutcome outcome;
    outcome.path = was_visible ? paths_before.at(id) : survives ? paths_after.at(id) : "(unlinked)";
    outcome.size_before = inode.current.size();
    struct Part {
      size_t op;
      uint64_t begin, end;
    };
    std::vector<Part> parts;
    for (size_t i = 0; i < inode.pending.size(); ++i) {
      const DataOp& op = inode.pending[i];
      if (op.kind == DataOp::Kind::kTruncate) {
        parts.push_back({i, 0, 0});
        continue;
      }
      uint64_t begin = op.offset;
      const uint64_t end = op.offset + op.data.size();
      while (begin < end) {
        const uint64_t boundary = std::min(end, (begin / unit + 1) * unit);
        parts.push_back({i, begin, boundary});
        begin = boundary;
      }
    }
    outcome.parts_pending = static_cast<uint32_t>(parts.size());
    const PowerLossChoice::FileChoice* choice = nullptr;
    if (forced != nullptr) {
      auto it = forced->files.find(outcome.path);
      if (it != forced->files.end()) choice = &it->second;
    }
    std::vector<bool> keep(parts.size(), false);
    bool all_old = true;
    for (size_t p = 0; p < parts.size(); ++p) {
      const DataOp& op = inode.pending[parts[p].op];
      const bool old = op.time + options_.writeback_age <= now;
      all_old &= old;
      if (op.doomed) {
        keep[p] = false;
        if (op.kind == DataOp::Kind::kWrite) AddRange(inode.failed_sync_holes, parts[p].begin, parts[p].end);
      } else if (choice != nullptr) {
        keep[p] = std::find(choice->parts_kept.begin(), choice->parts_kept.end(), p) != choice->parts_kept.end();
      } else if (old || (forced != nullptr && forced->keep_all_unlisted)) {
        keep[p] = true;
      } else if (forced != nullptr && forced->keep_nothing_unlisted) {
        keep[p] = false;
      } else {
        keep[p] = rng.Chance(1, 2);
      }
      if (keep[p]) outcome.parts_kept.push_back(static_cast<uint32_t>(p));
    }
    if (choice != nullptr) {
      outcome.size_kept = choice->size_kept;
    } else if (parts.empty() || (all_old && !inode.pending.empty()) ||
               (forced != nullptr && forced->keep_all_unlisted)) {
      outcome.size_kept = !inode.pending.empty();
    } else if (forced != nullptr && forced->keep_nothing_unlisted) {
      outcome.size_kept = false;
    } else {
      outcome.size_kept = rng.Chance(1, 2);
    }
    FileContent content = inode.durable;
    for (size_t p = 0; p < parts.size(); ++p) {
      if (!keep[p]) continue;
      const DataOp& op = inode.pending[parts[p].op];
      if (op.kind == DataOp::Kind::kTruncate) {
        content.Resize(op.offset);
        continue;
      }
      content.Write(parts[p].begin, std::string_view(op.data).substr(parts[p].begin - op.offset,
                                                                     parts[p].end - parts[p].begin));
      EraseRange(inode.failed_sync_holes, parts[p].begin, parts[p].end);
    }
    if (outcome.size_kept) content.Resize(inode.current.size());
    inode.durable = std::move(content);
    outcome.file_survived = survives;
    outcome.size_after = survives ? inode.durable.size() : 0;
    for (const auto& [begin, end] : inode.failed_sync_holes) {
      if (survives && begin < inode.durable.size()) {
        outcome.bytes_lost_after_failed_sync += std::min(end, inode.durable.size()) - begin;
      }
    }
    inode.failed_sync_holes.clear();  // exposed now: the cache is gone
    bytes_lost_after_failed_sync_ += outcome.bytes_lost_after_failed_sync;
    report.files.push_back(std::move(outcome));
  }

  // After the reboot the cache is the platter.
  for (auto& [id, inode] : inodes_) {
    inode.pending.clear();
    inode.current = inode.durable;
    if (inode.is_directory) {
      auto it = durable_names_.find(id);
      inode.entries = it == durable_names_.end() ? std::map<std::string, InodeId>{} : it->second;
    }
  }
  fds_.clear();
  CollectGarbage();

  TraceEvent("PowerLoss")
      .Detail("disk", name_)
      .Detail("count", power_losses_)
      .Detail("unit", unit)
      .Detail("metadata_ops_kept", absl::StrCat(report.metadata_ops_kept, "/", report.metadata_ops_pending))
      .Detail("files", report.files.size());
  for (const auto& file : report.files) {
    TraceEvent("PowerLossFile")
        .Detail("disk", name_)
        .Detail("path", file.path)
        .Detail("parts_kept", absl::StrCat("[", absl::StrJoin(file.parts_kept, ","), "]"))
        .Detail("parts", file.parts_pending)
        .Detail("size_kept", file.size_kept)
        .Detail("size_before", file.size_before)
        .Detail("size_after", file.size_after)
        .Detail("survived", file.file_survived)
        .Detail("bytes_lost_after_failed_sync", file.bytes_lost_after_failed_sync);
  }
  return report;
}

void Disk::CollectGarbage() {
  const std::map<InodeId, std::string> reachable = Paths(durable_names_);
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    if (it->first != kRoot && !reachable.contains(it->first)) {
      durable_names_.erase(it->first);
      it = inodes_.erase(it);
    } else {
      ++it;
    }
  }
}

// ------------------------------------------------------------------ export

absl::Status Disk::Export(const std::string& directory, bool durable) const {
  Namespace names;
  if (durable) {
    names = durable_names_;
  } else {
    for (const auto& [id, inode] : inodes_) {
      if (inode.is_directory) names[id] = inode.entries;
    }
  }
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return absl::PermissionDeniedError(absl::StrCat("cannot create ", directory, ": ", error.message()));
  for (const auto& [id, path] : Paths(names)) {
    auto it = inodes_.find(id);
    if (it == inodes_.end()) continue;
    const std::filesystem::path target = std::filesystem::path(directory) / path;
    if (it->second.is_directory) {
      std::filesystem::create_directories(target, error);
      if (error) return absl::PermissionDeniedError(absl::StrCat("cannot create ", target.string()));
      continue;
    }
    std::filesystem::create_directories(target.parent_path(), error);
    const FileContent& content = durable ? it->second.durable : it->second.current;
    {
      std::ofstream out(target, std::ios::binary | std::ios::trunc);
      const std::string& head = content.head();
      out.write(head.data(), static_cast<std::streamsize>(std::min<uint64_t>(head.size(), content.size())));
      if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", target.string()));
    }
    // The zero tail becomes a sparse region, as fallocate leaves it.
    std::filesystem::resize_file(target, content.size(), error);
    if (error) return absl::PermissionDeniedError(absl::StrCat("cannot size ", target.string()));
  }
  return absl::OkStatus();
}

absl::Status Disk::ExportCurrent(const std::string& directory) const { return Export(directory, false); }
absl::Status Disk::ExportDurable(const std::string& directory) const { return Export(directory, true); }

}  // namespace sim
