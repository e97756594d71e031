// The NVML GPU sampler: which GPUs count (CUDA_VISIBLE_DEVICES, the job's
// processes), each GPU's peak (catalog, derived or the user's), and a thread
// that integrates rate, utilisation and energy between samples.
// docs/nvml.md explains the method; gpu_sampler.h the contract.
#include "adapters/gpu_sampler.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include "adapters/nvml_library.h"

namespace flopsmeter {
namespace {

using Clock = std::chrono::steady_clock;

// A GPU answering other errors than "lost" is given this many samples to
// recover before it counts as lost (a single failed query is not a loss).
constexpr int kFailedSamplesBeforeLost = 3;

std::string format_number(double value, int digits = 4) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
  return buffer;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// ---------------------------------------------------------------------------
// Which GPUs: NVML's list filtered by CUDA_VISIBLE_DEVICES.

struct ListedGpu {
  unsigned index = 0;
  NvmlDevice device = nullptr;
  std::string uuid;
  std::string name;
  std::string error;  // why NVML cannot open it; empty when it can
};

struct Selection {
  std::vector<const ListedGpu*> gpus;  // by index
  std::vector<std::string> notes;
};

std::string describe_listing(const std::vector<ListedGpu>& listed) {
  if (listed.empty()) return "NVML lists no GPU";
  std::string text = "NVML lists:";
  for (const ListedGpu& gpu : listed) {
    text += " " + std::to_string(gpu.index) + " '" + gpu.name + "' " + gpu.uuid + (&gpu == &listed.back() ? "" : ",");
  }
  return text;
}

// The GPU an entry names (an index, or a "GPU-" UUID or unique prefix of
// one), or nullptr when it names none.
const ListedGpu* match_entry(const std::string& entry, const std::vector<ListedGpu>& listed) {
  bool is_index = !entry.empty() && entry.size() <= 9 &&
                  std::all_of(entry.begin(), entry.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (is_index) {
    unsigned long index = std::stoul(entry);
    return index < listed.size() ? &listed[index] : nullptr;
  }
  if (lower(entry).rfind("gpu-", 0) != 0) return nullptr;
  const ListedGpu* found = nullptr;
  for (const ListedGpu& gpu : listed) {
    if (gpu.error.empty() && lower(gpu.uuid).rfind(lower(entry), 0) == 0) {
      if (found != nullptr) return nullptr;  // an ambiguous prefix names no GPU
      found = &gpu;
    }
  }
  return found;
}

// CUDA's rules: unset, every GPU; empty, none; else the listed entries up to
// the first that names no GPU. That first entry being wrong is an error
// rather than "no GPU" (except the "-1" idiom), since metering nothing by
// mistake would understate the job.
Result<Selection> select_gpus(const std::optional<std::string>& visible, const std::vector<ListedGpu>& listed) {
  Selection selection;
  if (!visible) {
    for (const ListedGpu& gpu : listed) {
      if (gpu.error.empty()) {
        selection.gpus.push_back(&gpu);
      } else {
        selection.notes.push_back("GPU " + std::to_string(gpu.index) + " is not metered: NVML cannot open it (" +
                                  gpu.error + ")");
      }
    }
    if (listed.empty()) selection.notes.push_back("NVML lists no GPU: nothing to meter");
    return selection;
  }
  if (trim(*visible).empty()) {
    selection.notes.push_back("CUDA_VISIBLE_DEVICES is empty: the job sees no GPU");
    return selection;
  }
  std::vector<std::string> entries;
  for (size_t start = 0;;) {
    size_t comma = visible->find(',', start);
    entries.push_back(trim(std::string_view(*visible).substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  bool used_index = false;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    if (lower(entry).rfind("mig-", 0) == 0) {
      return Status::Unsupported("CUDA_VISIBLE_DEVICES entry '" + entry +
                                 "' names a MIG instance; MIG instances are not supported yet");
    }
    const ListedGpu* gpu = match_entry(entry, listed);
    if (gpu == nullptr) {
      if (i == 0 && entry != "-1") {
        return Status::NotFound("CUDA_VISIBLE_DEVICES entry '" + entry + "' names no GPU (" +
                                describe_listing(listed) + ")");
      }
      selection.notes.push_back("CUDA_VISIBLE_DEVICES entry '" + entry +
                                "' names no GPU: like CUDA, it and the entries after it are ignored");
      break;
    }
    if (!gpu->error.empty()) {
      return Status::IoError("GPU " + std::to_string(gpu->index) + ", selected by CUDA_VISIBLE_DEVICES entry '" +
                             entry + "', cannot be opened: " + gpu->error);
    }
    used_index |= std::isdigit(static_cast<unsigned char>(entry[0])) != 0;
    if (std::find(selection.gpus.begin(), selection.gpus.end(), gpu) != selection.gpus.end()) {
      selection.notes.push_back("CUDA_VISIBLE_DEVICES names GPU " + std::to_string(gpu->index) +
                                " twice; it is metered once");
      continue;
    }
    selection.gpus.push_back(gpu);
  }
  if (selection.gpus.empty()) selection.notes.push_back("CUDA_VISIBLE_DEVICES selects no GPU");
  std::sort(selection.gpus.begin(), selection.gpus.end(),
            [](const ListedGpu* a, const ListedGpu* b) { return a->index < b->index; });
  bool mixed_models = std::any_of(listed.begin(), listed.end(),
                                  [&](const ListedGpu& gpu) { return gpu.name != listed.front().name; });
  if (used_index && mixed_models) {
    selection.notes.push_back(
        "CUDA_VISIBLE_DEVICES uses indices on a machine with different GPU models: they are read in NVML's "
        "(PCI bus) order, which CUDA follows only with CUDA_DEVICE_ORDER=PCI_BUS_ID; UUIDs avoid the doubt");
  }
  return selection;
}

// ---------------------------------------------------------------------------
// Each GPU's peak: the user's, the catalog's, or derived from its layout.

struct DeviceFacts {
  unsigned index = 0;
  std::string name;
  std::optional<NvmlComputeCapability> compute_capability;
  std::optional<unsigned> sm_count;
  std::string sm_count_source;  // "NVML" or how it was worked out
  std::optional<unsigned> max_sm_clock_mhz;
};

struct PeakPlan {
  double peak_flop_per_s = 0;  // the rate's floor
  // sm_count x FLOP/clk/SM x 1e6: the rate per MHz of SM clock; 0 when the
  // rate does not follow the clock.
  double flop_per_s_per_mhz = 0;
  std::string catalog_id;
  std::string source;
  std::vector<std::string> notes;
};

// The family names data/gpus.json uses, by CUDA compute capability.
std::optional<std::string> architecture_family(const NvmlComputeCapability& cc) {
  int version = cc.major * 10 + cc.minor;
  switch (version) {
    case 70: return "volta";
    case 75: return "turing";
    case 80: return "ampere-ga100";
    case 86:
    case 87: return "ampere-ga10x";
    case 89: return "ada";
    case 90: return "hopper";
    default: return std::nullopt;
  }
}

// CUDA cores (FP32 lanes) per SM, to turn nvmlDeviceGetNumGpuCores into SMs.
std::optional<unsigned> cuda_cores_per_sm(const std::string& family) {
  if (family == "volta" || family == "turing" || family == "ampere-ga100") return 64;
  if (family == "ampere-ga10x" || family == "ada" || family == "hopper") return 128;
  return std::nullopt;
}

// An entry's dense FLOP/clk/SM for `dtype`. FP16 and BF16 share the tensor
// path, so where the entry gives the figure for one of them and the two have
// the same dense peak, that figure serves both.
std::optional<uint32_t> flop_per_clk_per_sm(const GpuSpec& spec, DType dtype) {
  if (auto it = spec.dense_flop_per_clk_per_sm.find(dtype); it != spec.dense_flop_per_clk_per_sm.end()) {
    return it->second;
  }
  if (dtype != DType::kFp16 && dtype != DType::kBf16) return std::nullopt;
  DType partner = dtype == DType::kFp16 ? DType::kBf16 : DType::kFp16;
  auto it = spec.dense_flop_per_clk_per_sm.find(partner);
  if (it == spec.dense_flop_per_clk_per_sm.end() || spec.peak(dtype) != spec.peak(partner)) return std::nullopt;
  return it->second;
}

std::string dtype_names(const std::vector<DType>& dtypes) {
  std::string text;
  for (DType d : dtypes) text += (text.empty() ? "" : ", ") + std::string(dtype_name(d));
  return text.empty() ? "none" : text;
}

std::string gpu_label(const DeviceFacts& facts) {
  return "GPU " + std::to_string(facts.index) + " '" + facts.name + "'";
}

Result<PeakPlan> catalog_peak(const GpuSpec& spec, const DeviceFacts& facts, DType dtype) {
  std::optional<double> peak = spec.peak(dtype);
  if (!peak) {
    return Status::InvalidArgument(gpu_label(facts) + " (" + spec.id + ") has no dense " + dtype_name(dtype) +
                                   " peak in the GPU catalog; its dtypes are " +
                                   dtype_names(spec.supported_dtypes()) +
                                   ": choose one of them, or give option \"peak-flops\" (FLOPS_METER_PEAK_FLOPS)");
  }
  PeakPlan plan;
  plan.peak_flop_per_s = *peak;
  plan.catalog_id = spec.id;
  plan.source = spec.name + " (" + spec.id + ") dense " + dtype_name(dtype) + ": " + spec.source + " " + spec.url;
  std::optional<uint32_t> fpc = flop_per_clk_per_sm(spec, dtype);
  if (spec.sm_count && fpc) plan.flop_per_s_per_mhz = double(*spec.sm_count) * double(*fpc) * 1e6;
  if (spec.status == GpuDataStatus::kNotConfirmed) {
    plan.notes.push_back("the catalog's figures for " + spec.id + " are not confirmed against a primary source");
  }
  return plan;
}

// sm_count x FLOP/clk/SM x maximum SM clock, the FLOP/clk/SM taken from the
// catalog entries of the same architecture (the larger where they differ).
Result<PeakPlan> derive_peak(const GpuCatalog& catalog, const DeviceFacts& facts, DType dtype) {
  auto cannot = [&](const std::string& why) {
    return Status::InvalidArgument(gpu_label(facts) + " is not in the GPU catalog and its peak cannot be derived (" +
                                   why +
                                   "); give option \"peak-flops\" (FLOPS_METER_PEAK_FLOPS) or add it to gpus.json in a "
                                   "data directory (docs/data-formats.md)");
  };
  if (!facts.compute_capability) return cannot("NVML does not report its compute capability");
  std::string cc = std::to_string(facts.compute_capability->major) + "." +
                   std::to_string(facts.compute_capability->minor);
  std::optional<std::string> family = architecture_family(*facts.compute_capability);
  if (!family) return cannot("compute capability " + cc + " is not an architecture flopsmeter knows");
  if (!facts.sm_count) return cannot("NVML reports neither its SM count nor its CUDA core count");
  if (!facts.max_sm_clock_mhz) return cannot("NVML does not report its maximum SM clock");

  std::map<uint32_t, std::vector<std::string>> ids_by_figure;
  for (const GpuSpec& spec : catalog.gpus) {
    if (spec.architecture != *family) continue;
    if (std::optional<uint32_t> fpc = flop_per_clk_per_sm(spec, dtype)) ids_by_figure[*fpc].push_back(spec.id);
  }
  if (ids_by_figure.empty()) {
    return cannot("no catalog entry of architecture '" + *family + "' gives a dense " + dtype_name(dtype) +
                  " FLOP/clk/SM");
  }
  auto& [fpc, ids] = *ids_by_figure.rbegin();
  Result<double> peak = derived_peak(*facts.sm_count, fpc, double(*facts.max_sm_clock_mhz));
  if (!peak.ok()) return cannot(peak.status().message());

  auto id_list = [](const std::vector<std::string>& list) {
    std::string text;
    for (const std::string& id : list) text += (text.empty() ? "" : ", ") + id;
    return text;
  };
  PeakPlan plan;
  plan.peak_flop_per_s = *peak;
  plan.flop_per_s_per_mhz = double(*facts.sm_count) * double(fpc) * 1e6;
  plan.source = "derived: " + std::to_string(*facts.sm_count) + " SMs (" + facts.sm_count_source + ") x " +
                std::to_string(fpc) + " dense " + dtype_name(dtype) + " FLOP/clk/SM (" + *family +
                ", compute capability " + cc + ", as catalog entries " + id_list(ids) + ") x " +
                std::to_string(*facts.max_sm_clock_mhz) + " MHz maximum SM clock (NVML) = " +
                format_number(*peak) + " FLOP/s";
  if (ids_by_figure.size() > 1) {
    std::string others;
    for (const auto& [figure, figure_ids] : ids_by_figure) {
      if (figure != fpc) others += (others.empty() ? "" : "; ") + std::to_string(figure) + " in " + id_list(figure_ids);
    }
    plan.source += "; the " + *family + " entries disagree (" + others + "), so the larger is taken as an upper bound";
  }
  plan.notes.push_back("peak derived from the chip's layout, not confirmed against a datasheet: " + plan.source);
  return plan;
}

Result<PeakPlan> resolve_peak(const GpuSamplerOptions& options, const DeviceFacts& facts) {
  if (options.peak_flop_per_s) {
    PeakPlan plan;
    plan.peak_flop_per_s = *options.peak_flop_per_s;
    plan.source = "user-supplied peak (option \"peak-flops\")";
    return plan;
  }
  Result<const GpuSpec*> spec = find_gpu(*options.catalog, facts.name);
  if (spec.ok()) return catalog_peak(**spec, facts, options.dtype);
  return derive_peak(*options.catalog, facts, options.dtype);
}

DeviceFacts read_facts(const NvmlLibrary& nvml, const ListedGpu& gpu) {
  DeviceFacts facts;
  facts.index = gpu.index;
  facts.name = gpu.name;
  if (auto cc = nvml.compute_capability(gpu.device); cc.ok()) facts.compute_capability = cc.value;
  if (auto clock = nvml.max_sm_clock_mhz(gpu.device); clock.ok() && clock.value > 0) {
    facts.max_sm_clock_mhz = clock.value;
  }
  if (auto sms = nvml.multiprocessor_count(gpu.device); sms.ok() && sms.value > 0) {
    facts.sm_count = sms.value;
    facts.sm_count_source = "NVML";
    return facts;
  }
  // NVML documents the SM count for MIG handles only; a full GPU's follows
  // from its CUDA cores and the architecture's cores per SM.
  std::optional<std::string> family;
  if (facts.compute_capability) family = architecture_family(*facts.compute_capability);
  std::optional<unsigned> per_sm = family ? cuda_cores_per_sm(*family) : std::nullopt;
  auto cores = nvml.cuda_core_count(gpu.device);
  if (per_sm && cores.ok() && cores.value >= *per_sm && cores.value % *per_sm == 0) {
    facts.sm_count = cores.value / *per_sm;
    facts.sm_count_source = "NVML: " + std::to_string(cores.value) + " CUDA cores / " + std::to_string(*per_sm) +
                            " per " + *family + " SM";
  }
  return facts;
}

// ---------------------------------------------------------------------------
// Whose processes: the job's PIDs and their descendants.

// Classifies the PIDs NVML reports by walking each one's parents in /proc up
// to a job PID. Verdicts are cached by (PID, start time), so a descendant
// stays the job's after its parent exits and a reused PID is looked at anew.
class JobProcesses {
 public:
  enum class Verdict { kJob, kForeign, kInvisible };

  explicit JobProcesses(const std::vector<int64_t>& roots) : roots_(roots.begin(), roots.end()) {}

  Verdict classify(int64_t pid) {
    if (roots_.count(pid) != 0) return Verdict::kJob;
    std::optional<ProcStat> stat = read_stat(pid);
    if (!stat) return Verdict::kInvisible;  // exited, or in another PID namespace
    auto key = std::make_pair(pid, stat->start_time);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    Verdict verdict = Verdict::kForeign;
    int64_t parent = stat->ppid;
    for (int depth = 0; parent > 0 && depth < 256; ++depth) {
      if (roots_.count(parent) != 0) {
        verdict = Verdict::kJob;
        break;
      }
      std::optional<ProcStat> parent_stat = read_stat(parent);
      if (!parent_stat) break;
      parent = parent_stat->ppid;
    }
    cache_.emplace(key, verdict);
    return verdict;
  }

 private:
  struct ProcStat {
    int64_t ppid = 0;
    unsigned long long start_time = 0;  // clock ticks after boot
  };

  // /proc/PID/stat: "pid (comm) state ppid ... starttime ...". comm may hold
  // spaces and parentheses, so the fields are read after the last ')'.
  static std::optional<ProcStat> read_stat(int64_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE* file = std::fopen(path.c_str(), "r");
    if (file == nullptr) return std::nullopt;
    char buffer[1024];
    size_t length = std::fread(buffer, 1, sizeof buffer - 1, file);
    std::fclose(file);
    buffer[length] = '\0';
    const char* close = std::strrchr(buffer, ')');
    if (close == nullptr) return std::nullopt;
    // After ')': state(3) ppid(4) pgrp session tty_nr tpgid flags minflt cminflt
    // majflt cmajflt utime stime cutime cstime priority nice num_threads
    // itrealvalue starttime(22).
    char state = 0;
    long long ppid = 0;
    unsigned long long start_time = 0;
    int matched = std::sscanf(close + 1,
                              " %c %lld %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
                              &state, &ppid, &start_time);
    if (matched != 3) return std::nullopt;
    return ProcStat{ppid, start_time};
  }

  std::set<int64_t> roots_;
  std::map<std::pair<int64_t, unsigned long long>, Verdict> cache_;
};

// ---------------------------------------------------------------------------
// Sampling and integration.

// What one sample read from one GPU.
struct Reading {
  Clock::time_point time;
  int failure = kNvmlSuccess;  // the first error other than "not supported"
  std::string failed_query;
  std::optional<double> sm_clock_mhz;
  std::optional<double> utilization;  // 0..1
  std::optional<double> power_w;
  std::optional<unsigned long long> energy_mj;
  std::optional<std::vector<uint32_t>> pids;  // absent: not asked, or not supported
};

// A reading reduced to what integration uses.
struct SamplePoint {
  Clock::time_point time;
  double rate = 0;         // FLOP/s at this sample's SM clock
  double utilization = 0;  // 0..1
  std::optional<double> sm_clock_mhz;
  std::optional<double> power_w;
  std::optional<unsigned long long> energy_mj;
  bool job_present = true;
};

// One GPU as the sampling thread sees it. Only that thread touches it (and
// stop(), after joining it); the totals are published under the lock.
struct GpuProbe {
  NvmlDevice device = nullptr;
  PeakPlan plan;
  GpuTotals totals;  // the working copy
  std::optional<SamplePoint> previous;
  int failed_samples = 0;
  std::set<std::string> noted;  // which one-time notes were given
  double utilization_seconds = 0;
  double clock_mhz_seconds = 0;
  double clock_seconds = 0;
  double busy_unattributed_seconds = 0;  // utilisation seen while no job process was

  void note_once(const std::string& key, const std::string& text) {
    if (noted.insert(key).second) totals.notes.push_back(text);
  }
};

class NvmlGpuSampler final : public GpuSampler {
 public:
  NvmlGpuSampler(std::unique_ptr<NvmlLibrary> nvml, std::vector<GpuProbe> probes, const GpuSamplerOptions& options,
                 std::string driver_version, std::vector<std::string> notes)
      : nvml_(std::move(nvml)),
        probes_(std::move(probes)),
        attribute_(!options.job_pids.empty()),
        job_(options.job_pids),
        period_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / options.hz))),
        driver_version_(std::move(driver_version)),
        notes_(std::move(notes)) {
    for (const GpuProbe& probe : probes_) published_.push_back(probe.totals);
  }

  ~NvmlGpuSampler() override { stop(); }

  // The first sample, then the thread.
  Status begin() {
    start_time_ = Clock::now();
    sample();
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::exception& e) {
      return Status::IoError(std::string("cannot start the GPU sampling thread: ") + e.what());
    }
    return Status::Ok();
  }

  GpuSnapshot snapshot() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    GpuSnapshot snapshot;
    snapshot.elapsed_s = seconds_between(start_time_, last_sample_time_);
    snapshot.driver_version = driver_version_;
    snapshot.gpus = published_;
    snapshot.notes = notes_;
    return snapshot;
  }

  GpuSnapshot stop() override {
    std::lock_guard<std::mutex> stop_lock(stop_mutex_);
    if (!stopped_) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_requested_ = true;
      }
      wake_.notify_all();
      if (thread_.joinable()) thread_.join();
      sample();  // the final sample
      stopped_ = true;
    }
    return snapshot();
  }

  double thread_cpu_seconds() const override { return thread_cpu_seconds_.load(); }

 private:
  void run() {
    try {
      Clock::time_point next = start_time_ + period_;
      std::unique_lock<std::mutex> lock(mutex_);
      while (!wake_.wait_until(lock, next, [this] { return stop_requested_; })) {
        lock.unlock();
        sample();
        record_thread_cpu();
        lock.lock();
        next += period_;
        if (Clock::time_point now = Clock::now(); next <= now) next = now + period_;  // fell behind: skip ticks
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      notes_.push_back(std::string("the sampling thread stopped early: ") + e.what());
    }
  }

  void record_thread_cpu() {
    timespec cpu{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
      thread_cpu_seconds_.store(double(cpu.tv_sec) + double(cpu.tv_nsec) * 1e-9);
    }
  }

  // One tick: read every GPU still answering, integrate, publish.
  void sample() {
    Clock::time_point tick = Clock::now();
    for (GpuProbe& probe : probes_) {
      if (!probe.totals.lost) integrate(probe, read(probe));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    last_sample_time_ = tick;
    for (size_t i = 0; i < probes_.size(); ++i) published_[i] = publishable(probes_[i]);
  }

  Reading read(GpuProbe& probe) {
    Reading reading;
    reading.time = Clock::now();
    NvmlDevice device = probe.device;
    // Keeps a supported value, remembers an unsupported query, stops at the
    // first real error.
    auto take = [&](const auto& reply, const char* query, auto& field) {
      if (reading.failure != kNvmlSuccess) return;
      if (reply.ok()) {
        field = reply.value;
      } else if (!reply.unsupported()) {
        reading.failure = reply.code;
        reading.failed_query = query;
      } else {
        note_unsupported(probe, query, reply.code);
      }
    };
    std::optional<unsigned> clock, utilization, power;
    // The counter first, nearest the timestamp the other figures are integrated over.
    take(nvml_->energy_mj(device), "nvmlDeviceGetTotalEnergyConsumption", reading.energy_mj);
    take(nvml_->sm_clock_mhz(device), "nvmlDeviceGetClockInfo", clock);
    take(nvml_->gpu_utilization_percent(device), "nvmlDeviceGetUtilizationRates", utilization);
    take(nvml_->power_mw(device), "nvmlDeviceGetPowerUsage", power);
    if (attribute_) take(nvml_->compute_process_pids(device), "nvmlDeviceGetComputeRunningProcesses", reading.pids);
    if (clock) reading.sm_clock_mhz = double(*clock);
    if (utilization) reading.utilization = std::min(double(*utilization), 100.0) / 100.0;
    if (power) reading.power_w = double(*power) / 1000.0;
    return reading;
  }

  void note_unsupported(GpuProbe& probe, const std::string& query, int code) {
    std::string what = query + " is not supported (" + nvml_->describe(code) + "): ";
    if (query == "nvmlDeviceGetClockInfo") {
      what += probe.totals.max_sm_clock_mhz > 0 ? "the rate is taken at the maximum SM clock"
                                                : "the rate is the datasheet peak";
    } else if (query == "nvmlDeviceGetUtilizationRates") {
      what += "utilization_flop and mean_utilization stay 0";
    } else if (query == "nvmlDeviceGetPowerUsage") {
      what += "no power figures";
    } else if (query == "nvmlDeviceGetTotalEnergyConsumption") {
      what += "energy is the integral of power where power is reported";
    } else {
      what += "whose processes run cannot be told, so the GPU counts for the whole run (an upper bound)";
    }
    probe.note_once(query, what);
  }

  bool job_present(GpuProbe& probe, const Reading& reading) {
    if (!attribute_ || !reading.pids) return true;
    bool present = false;
    for (uint32_t pid : *reading.pids) {
      switch (job_.classify(pid)) {
        case JobProcesses::Verdict::kJob: {
          present = true;
          std::vector<int64_t>& seen = probe.totals.pids_seen;  // kept sorted
          auto at = std::lower_bound(seen.begin(), seen.end(), int64_t{pid});
          if (at == seen.end() || *at != pid) seen.insert(at, pid);
          break;
        }
        case JobProcesses::Verdict::kInvisible:
          present = true;  // whose it is cannot be told: counted, the safe side of a bound
          probe.note_once("invisible",
                          "process " + std::to_string(pid) +
                              " on this GPU is not in this machine's /proc (another PID namespace, or it exited): "
                              "intervals with such processes count as the job's, an upper bound");
          break;
        case JobProcesses::Verdict::kForeign: break;
      }
    }
    return present;
  }

  double rate_at(const GpuProbe& probe, const std::optional<double>& sm_clock_mhz) const {
    double clock = sm_clock_mhz.value_or(double(probe.totals.max_sm_clock_mhz));
    return std::max(probe.plan.peak_flop_per_s, probe.plan.flop_per_s_per_mhz * clock);
  }

  void mark_lost(GpuProbe& probe, const Reading& reading) {
    probe.totals.lost = true;
    double last_good = probe.previous ? seconds_between(start_time_, probe.previous->time) : 0;
    probe.totals.notes.push_back("lost at " + format_number(seconds_between(start_time_, reading.time)) + " s: " +
                                 reading.failed_query + " answered " + nvml_->describe(reading.failure) +
                                 "; its totals stop at the last good sample (" + format_number(last_good) + " s)");
  }

  void integrate(GpuProbe& probe, const Reading& reading) {
    if (reading.failure != kNvmlSuccess) {
      if (reading.failure == kNvmlErrorGpuIsLost || ++probe.failed_samples >= kFailedSamplesBeforeLost) {
        mark_lost(probe, reading);
      } else {
        probe.note_once("failed " + reading.failed_query,
                        reading.failed_query + " failed at " +
                            format_number(seconds_between(start_time_, reading.time)) + " s (" +
                            nvml_->describe(reading.failure) + "): the sample was skipped");
      }
      return;
    }
    probe.failed_samples = 0;
    GpuTotals& totals = probe.totals;
    ++totals.samples;
    SamplePoint point;
    point.time = reading.time;
    point.rate = rate_at(probe, reading.sm_clock_mhz);
    point.utilization = reading.utilization.value_or(0);
    point.sm_clock_mhz = reading.sm_clock_mhz;
    point.power_w = reading.power_w;
    point.energy_mj = reading.energy_mj;
    point.job_present = job_present(probe, reading);
    if (totals.energy_method.empty()) {
      totals.energy_method = reading.energy_mj ? "counter" : reading.power_w ? "power_integral" : "unavailable";
    }
    if (probe.previous) integrate_interval(probe, *probe.previous, point);
    probe.previous = point;
  }

  // The interval between two good samples. It counts when a job process was
  // on the GPU at either end (it may have started or ended anywhere inside).
  // The bound charges it at the higher of the two rates; utilisation and
  // power are trapezoids; the energy counter's difference is exact.
  void integrate_interval(GpuProbe& probe, const SamplePoint& from, const SamplePoint& to) {
    double dt = seconds_between(from.time, to.time);
    if (dt <= 0) return;
    GpuTotals& totals = probe.totals;
    if (!from.job_present && !to.job_present) {
      if (from.utilization + to.utilization > 0) probe.busy_unattributed_seconds += dt;
      return;
    }
    totals.attributed_seconds += dt;
    totals.bound_flop += std::max(from.rate, to.rate) * dt;
    totals.utilization_flop += (from.rate * from.utilization + to.rate * to.utilization) / 2 * dt;
    probe.utilization_seconds += (from.utilization + to.utilization) / 2 * dt;
    if (from.sm_clock_mhz && to.sm_clock_mhz) {
      probe.clock_mhz_seconds += (*from.sm_clock_mhz + *to.sm_clock_mhz) / 2 * dt;
      probe.clock_seconds += dt;
    }
    for (const auto& power : {from.power_w, to.power_w}) {
      if (power) totals.max_power_w = std::max(totals.max_power_w, *power);
    }
    if (totals.energy_method == "counter" && from.energy_mj && to.energy_mj) {
      if (*to.energy_mj >= *from.energy_mj) {
        totals.energy_j += double(*to.energy_mj - *from.energy_mj) / 1000.0;
      } else {
        totals.notes.push_back("the energy counter went back from " + std::to_string(*from.energy_mj) + " to " +
                               std::to_string(*to.energy_mj) + " mJ at " +
                               format_number(seconds_between(start_time_, to.time)) +
                               " s (driver reloaded?): that interval's energy is not counted, counting goes on "
                               "from the new value");
      }
    } else if (totals.energy_method == "power_integral" && from.power_w && to.power_w) {
      totals.energy_j += (*from.power_w + *to.power_w) / 2 * dt;
    }
  }

  GpuTotals publishable(const GpuProbe& probe) const {
    GpuTotals totals = probe.totals;
    if (totals.attributed_seconds > 0) totals.mean_utilization = probe.utilization_seconds / totals.attributed_seconds;
    if (probe.clock_seconds > 0) totals.mean_sm_clock_mhz = probe.clock_mhz_seconds / probe.clock_seconds;
    if (attribute_ && totals.pids_seen.empty() && probe.busy_unattributed_seconds > 0) {
      totals.notes.push_back("busy for " + format_number(probe.busy_unattributed_seconds, 3) +
                             " s with no job process seen on it; if the job runs in a container whose GPU processes "
                             "NVML does not report, meter without process attribution");
    }
    return totals;
  }

  const std::unique_ptr<NvmlLibrary> nvml_;
  std::vector<GpuProbe> probes_;  // the sampling thread's, then stop()'s
  const bool attribute_;
  JobProcesses job_;  // likewise
  const Clock::duration period_;
  const std::string driver_version_;
  Clock::time_point start_time_;

  mutable std::mutex mutex_;  // guards what follows, up to stop_mutex_
  std::condition_variable wake_;
  bool stop_requested_ = false;
  Clock::time_point last_sample_time_;
  std::vector<GpuTotals> published_;
  std::vector<std::string> notes_;

  std::mutex stop_mutex_;  // one stop() at a time
  bool stopped_ = false;
  std::thread thread_;
  std::atomic<double> thread_cpu_seconds_{0};
};

Status validate(const GpuSamplerOptions& options) {
  if (options.catalog == nullptr) return Status::InvalidArgument("GPU sampler: no GPU catalog given");
  if (!(options.hz > 0 && options.hz <= 1000)) {
    return Status::InvalidArgument("GPU sampling rate " + format_number(options.hz) + " Hz is not in (0, 1000]");
  }
  if (options.peak_flop_per_s && !(std::isfinite(*options.peak_flop_per_s) && *options.peak_flop_per_s > 0)) {
    return Status::InvalidArgument("peak " + format_number(*options.peak_flop_per_s) +
                                   " FLOP/s is not a positive finite number");
  }
  for (int64_t pid : options.job_pids) {
    if (pid <= 0) return Status::InvalidArgument("job PID " + std::to_string(pid) + " is not a positive PID");
  }
  return Status::Ok();
}

Result<std::vector<ListedGpu>> list_gpus(const NvmlLibrary& nvml) {
  NvmlReply<unsigned> count = nvml.device_count();
  if (!count.ok()) return Status::IoError("NVML cannot count the GPUs: " + nvml.describe(count.code));
  std::vector<ListedGpu> listed(count.value);
  for (unsigned index = 0; index < count.value; ++index) {
    ListedGpu& gpu = listed[index];
    gpu.index = index;
    NvmlReply<NvmlDevice> device = nvml.device_by_index(index);
    NvmlReply<std::string> uuid = device.ok() ? nvml.uuid(device.value) : NvmlReply<std::string>{device.code, {}};
    NvmlReply<std::string> name = uuid.ok() ? nvml.name(device.value) : NvmlReply<std::string>{uuid.code, {}};
    if (!name.ok()) {
      gpu.error = nvml.describe(name.code);
      continue;
    }
    gpu.device = device.value;
    gpu.uuid = uuid.value;
    gpu.name = name.value;
  }
  return listed;
}

}  // namespace

Result<std::unique_ptr<GpuSampler>> GpuSampler::Start(const GpuSamplerOptions& options) {
  FM_RETURN_IF_ERROR(validate(options));
  FM_ASSIGN_OR_RETURN(std::unique_ptr<NvmlLibrary> nvml, NvmlLibrary::Open(options.library));
  FM_ASSIGN_OR_RETURN(std::vector<ListedGpu> listed, list_gpus(*nvml));
  FM_ASSIGN_OR_RETURN(Selection selection, select_gpus(options.visible_devices, listed));

  std::vector<GpuProbe> probes;
  for (const ListedGpu* gpu : selection.gpus) {
    DeviceFacts facts = read_facts(*nvml, *gpu);
    FM_ASSIGN_OR_RETURN(PeakPlan plan, resolve_peak(options, facts));
    GpuProbe probe;
    probe.device = gpu->device;
    probe.totals.index = gpu->index;
    probe.totals.uuid = gpu->uuid;
    probe.totals.name = gpu->name;
    if (auto pci = nvml->pci_bus_id(gpu->device); pci.ok()) probe.totals.pci_bus_id = pci.value;
    probe.totals.catalog_id = plan.catalog_id;
    probe.totals.peak_flop_per_s = plan.peak_flop_per_s;
    probe.totals.peak_source = plan.source;
    probe.totals.max_sm_clock_mhz = facts.max_sm_clock_mhz.value_or(0);
    probe.totals.notes = plan.notes;
    probe.plan = std::move(plan);
    probes.push_back(std::move(probe));
  }

  NvmlReply<std::string> driver = nvml->driver_version();
  if (!driver.ok()) selection.notes.push_back("driver version not reported: " + nvml->describe(driver.code));
  auto sampler = std::make_unique<NvmlGpuSampler>(std::move(nvml), std::move(probes), options, driver.value,
                                                  std::move(selection.notes));
  FM_RETURN_IF_ERROR(sampler->begin());
  return std::unique_ptr<GpuSampler>(std::move(sampler));
}

}  // namespace flopsmeter
