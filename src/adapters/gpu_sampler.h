// GPU sampling through NVML: the hardware upper bound and the energy of the
// GPUs one job uses.
//
// NVML is loaded at run time (dlopen of libnvidia-ml.so.1, or the library a
// test names), so flopsmeter needs no CUDA at build time and runs on machines
// without a GPU. A sampler thread reads, at a fixed rate, for each of the
// job's GPUs: the SM clock, utilisation, power, the energy counter and the
// processes on it, and integrates
//
//   bound_flop        = integral of peak(dtype, SM clock) dt        (U = 1)
//   utilization_flop  = integral of peak(dtype, SM clock) x util dt (labelled)
//   energy_j          = counter(end) - counter(start), or the integral of
//                       power dt where the counter is not supported (stated)
//
// peak(dtype, clock) is the larger of the catalog's dense datasheet peak and
// sm_count x dense_flop_per_clk_per_sm x clock when the catalog has both, so
// it is never below the datasheet figure (see data/gpus.json _derivation).
// A GPU the catalog lacks gets a derived peak when its architecture is known,
// or Start() fails asking for a peak: never a silent default.
//
// Which GPUs count: the visible devices of the job (CUDA_VISIBLE_DEVICES:
// indices, UUIDs or UUID prefixes, "GPU-"/"MIG-" forms) or every GPU when it
// is unset; with `job_pids` non-empty, only GPUs on which one of those
// processes (or a descendant of them) runs count, and only while it does.
//
// Thread safety: snapshot() may be called from any thread while sampling.
#ifndef FLOPSMETER_ADAPTERS_GPU_SAMPLER_H_
#define FLOPSMETER_ADAPTERS_GPU_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flopsmeter/gpus.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct GpuSamplerOptions {
  // dlopen name or path; tests point it at the fake library they build.
  std::string library = "libnvidia-ml.so.1";
  double hz = 10;  // samples per second, in (0, 1000]
  // The job's CUDA_VISIBLE_DEVICES value; nullopt when unset (all GPUs).
  std::optional<std::string> visible_devices;
  // Process attribution: count a GPU only while one of these PIDs (or a
  // descendant, found through /proc) has a compute process on it. Empty: no
  // attribution, every selected GPU counts for the whole time.
  std::vector<int64_t> job_pids;
  const GpuCatalog* catalog = nullptr;  // required
  DType dtype = DType::kBf16;
  // A user's peak per GPU in FLOP/s: used for every GPU instead of the catalog.
  std::optional<double> peak_flop_per_s;
};

// One GPU's figures, cumulative since Start().
struct GpuTotals {
  uint32_t index = 0;            // NVML index
  std::string uuid;              // "GPU-..."
  std::string name;              // nvmlDeviceGetName
  std::string pci_bus_id;
  std::string catalog_id;        // "" when derived or user-supplied
  double peak_flop_per_s = 0;    // datasheet dense peak for the dtype (or derived / user)
  std::string peak_source;       // where the peak comes from, with the citation
  uint32_t max_sm_clock_mhz = 0; // nvmlDeviceGetMaxClockInfo(SM); 0 when unsupported
  uint64_t samples = 0;
  double attributed_seconds = 0; // time this GPU counted (job process on it)
  double bound_flop = 0;         // U = 1
  double utilization_flop = 0;   // utilisation-weighted, not a bound
  double mean_utilization = 0;   // 0..1 over the attributed samples
  double mean_sm_clock_mhz = 0;
  double max_power_w = 0;
  double energy_j = 0;
  std::string energy_method;     // "counter" | "power_integral" | "unavailable"
  std::vector<int64_t> pids_seen;  // job processes seen on it (sorted)
  bool lost = false;             // fell off the bus / stopped answering
  std::vector<std::string> notes;  // unsupported queries, loss time, ...
};

struct GpuSnapshot {
  double elapsed_s = 0;              // since Start()
  std::string driver_version;        // nvmlSystemGetDriverVersion
  std::vector<GpuTotals> gpus;       // the selected GPUs, by index
  std::vector<std::string> notes;
};

class GpuSampler {
 public:
  // Loads NVML, selects the GPUs, resolves each one's peak and starts the
  // thread. Errors: kNotFound when the library cannot be loaded (the message
  // names it and the dlerror), kNotFound for a CUDA_VISIBLE_DEVICES entry no
  // GPU matches, kInvalidArgument for a GPU without a known or derivable peak
  // (the message names the GPU and asks for --peak-flops /
  // FLOPS_METER_PEAK_FLOPS), kIoError for other NVML failures.
  static Result<std::unique_ptr<GpuSampler>> Start(const GpuSamplerOptions& options);
  virtual ~GpuSampler() = default;

  virtual GpuSnapshot snapshot() const = 0;
  // Takes a final sample, stops the thread and returns the totals. Idempotent.
  virtual GpuSnapshot stop() = 0;
  // CPU seconds the sampler thread has used (for the overhead benchmark).
  virtual double thread_cpu_seconds() const = 0;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_GPU_SAMPLER_H_
