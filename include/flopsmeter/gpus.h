// GPU peak throughput catalog and the hardware-based compute estimate.
//
// A GpuCatalog is the parsed form of data/gpus.json (docs/data-formats.md):
// one GpuSpec per GPU variant with its dense (not 2:4 sparse) peak per data
// type and the datasheet it comes from. find_gpu() looks a GPU up by catalog
// id or by the exact NVML device name, never by substring: the AWS toolkit's
// substring table gave "H20" the H200's figure, the L40S the L40's and every
// H100 the SXM's. hardware_estimate() applies the EU Guidelines' (Annex
// A.2.1) hardware approach, C = N x L x H x U.
//
//   auto catalog = flopsmeter::parse_gpu_catalog(text, "gpus.json");
//   auto gpu = flopsmeter::find_gpu(*catalog, "NVIDIA H100 80GB HBM3");  // h100-sxm
//   auto c = flopsmeter::hardware_estimate(**gpu, flopsmeter::DType::kBf16,
//                                          /*gpus=*/8, /*hours=*/10, /*utilization=*/0.5);
//   // c->flop == 8 x 36000 s x 989.4e12 FLOP/s x 0.5 = 1.42e20 FLOP
//
// Units: peaks and rates are FLOP/s (the file writes TFLOP/s strings, stored
// here x 1e12); HardwareEstimate::flop is a count, FLOP. Clocks are MHz.
//
// Errors: parsing returns kParseError naming the file, line, column and
// field; lookups return kNotFound with the closest ids; estimates return
// kInvalidArgument naming the bad parameter. No function here throws.
//
// Thread safety: pure functions over immutable values; safe to call
// concurrently. A `const GpuSpec*` from find_gpu lives as long as its catalog.
#ifndef FLOPSMETER_GPUS_H_
#define FLOPSMETER_GPUS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// Arithmetic format of the training matmuls. The EU Guidelines count all
// operations equally whatever the precision; the dtype only selects the peak.
enum class DType { kFp32, kTf32, kBf16, kFp16, kFp8 };
// "fp32", "tf32", "bf16", "fp16", "fp8".
const char* dtype_name(DType dtype);
// Inverse of dtype_name, case-insensitive.
// Errors: kInvalidArgument listing the accepted names.
Result<DType> parse_dtype(std::string_view name);
// Every DType, in the order above.
const std::vector<DType>& all_dtypes();

// Whether a catalog entry's figures were checked against a primary source.
enum class GpuDataStatus {
  kConfirmed,     // "confirmed"
  kNotConfirmed,  // "not_confirmed": from memory or derived; say so in reports
};
const char* gpu_data_status_name(GpuDataStatus status);

// A board's maximum power (thermal design power, the top of a configurable
// range), for an upper estimate of energy NVML could not measure.
struct BoardPower {
  double watts = 0;
  std::string source;  // datasheet citation, never empty
  std::string url;
  GpuDataStatus status = GpuDataStatus::kConfirmed;
};

struct GpuSpec {
  std::string id;    // e.g. "h100-sxm"; unique in a catalog
  std::string name;  // display name, e.g. "NVIDIA H100 SXM5"
  // Exact NVML device names (nvmlDeviceGetName) of this variant,
  // e.g. "NVIDIA H100 80GB HBM3". Matched case-insensitively after trimming.
  std::vector<std::string> match;
  std::string architecture;                 // "hopper", "ampere", ...
  std::optional<uint32_t> sm_count;         // streaming multiprocessors
  std::optional<uint32_t> boost_clock_mhz;  // MHz
  // Dense peak per dtype, FLOP/s. A missing dtype: the GPU has no such path.
  std::map<DType, double> dense_peak_flop_per_s;
  // Dense FLOP per clock per SM per dtype (e.g. bf16: 2048 on GA100), for
  // derived_peak(); empty when the file gives none.
  std::map<DType, uint32_t> dense_flop_per_clk_per_sm;
  std::string source;  // datasheet citation, never empty
  std::string url;
  GpuDataStatus status = GpuDataStatus::kConfirmed;
  std::optional<BoardPower> board_power;  // absent: no public per-GPU figure
  std::string origin;  // the file this entry was read from

  // The dense peak for `dtype` in FLOP/s, or nullopt when unsupported.
  std::optional<double> peak(DType dtype) const;
  // The dtypes with a peak, in DType order.
  std::vector<DType> supported_dtypes() const;
};

struct GpuCatalog {
  std::string data_version;   // e.g. "2026-11-23"
  std::vector<GpuSpec> gpus;  // file order
};

// Parses and validates a GPU catalog. `origin` names it in messages. Strict:
// schema "flopsmeter.gpus/1"; required id, name, match (array of strings),
// architecture, dense_tflops (object of dtype -> decimal TFLOP/s string, at
// least one, each finite and > 0), source, url, status; optional sm_count,
// boost_clock_mhz (positive integers) and dense_flop_per_clk_per_sm (object
// of dtype -> positive integer); unknown keys rejected (keys starting with
// '_' are comments). Ids unique; every lookup key (id, name, match entry,
// compared case-insensitively) names one GPU only.
// Errors: kParseError "ORIGIN:LINE:COL: field 'gpus[3].dense_tflops.bf16': ...".
Result<GpuCatalog> parse_gpu_catalog(std::string_view json_text, std::string origin);

// A user's catalog on top of the shipped one: an entry of `overrides`
// replaces the base entry with the same id in place; new ids are appended.
// An NVML name an override entry claims is removed from the match lists of
// the other entries, so the user's figure wins. data_version becomes
// "BASE+OVERRIDE".
GpuCatalog merge_gpu_catalogs(const GpuCatalog& base, const GpuCatalog& overrides);

// The GPU whose id, NVML name (`match`) or display name equals `query`,
// ignoring case and surrounding whitespace. Never a substring or prefix match.
// Errors: kInvalidArgument for an empty query; kNotFound listing the three
// closest ids by edit distance and suggesting --peak-flops.
Result<const GpuSpec*> find_gpu(const GpuCatalog& catalog, std::string_view query);

// A hardware-based compute estimate, C = N x L x H x U.
struct HardwareEstimate {
  double flop = 0;             // C, FLOP
  double peak_flop_per_s = 0;  // H, dense peak per GPU, FLOP/s
  double utilization = 0;      // U, in (0, 1]
  uint64_t gpus = 0;           // N
  double hours = 0;            // L in hours (the formula uses L x 3600 s)
  // The formula with its figures, e.g.
  // "C = N x L x H x U = 8 x 36000 s x 9.894e+14 FLOP/s x 0.5 = 1.42e+20 FLOP".
  std::string formula;
  // Where H comes from: "NVIDIA H100 SXM5 (h100-sxm) dense bf16: <source>
  // <url>", or the caller's description of a user peak.
  std::string source;
};

// Estimate with the catalog's dense peak of `gpu` for `dtype`.
// Errors (kInvalidArgument): gpus == 0; hours not finite or <= 0; utilization
// not in (0, 1]; `dtype` without a peak for this GPU (the message lists the
// supported dtypes and suggests --peak-flops); a result beyond double range.
Result<HardwareEstimate> hardware_estimate(const GpuSpec& gpu, DType dtype, uint64_t gpus, double hours,
                                           double utilization);
// Estimate with a user-given peak per GPU in FLOP/s (finite, > 0).
// `source` describes it for the report.
Result<HardwareEstimate> hardware_estimate(double peak_flop_per_s, uint64_t gpus, double hours,
                                           double utilization,
                                           std::string source = "user-supplied peak (option \"peak-flops\")");

// An upper estimate of GPU energy where NVML measured none: every GPU drew
// its board power for all of its time, E = P x t. A data-centre GPU enforces
// a power limit no higher than its board power, so its mean draw over the
// time stays at or below it. Counts the board only, as NVML does.
struct EnergyEstimate {
  double joules = 0;
  // "E = P x t = 700 W x 3600 s = 2.52e+06 J".
  std::string formula;
  // "NVIDIA H100 SXM5 (h100-sxm) board power: <source> <url>".
  std::string source;
};
// Errors: kNotFound when the catalog gives `gpu` no board power;
// kInvalidArgument when `gpu_seconds` is negative or not finite.
Result<EnergyEstimate> board_energy_estimate(const GpuSpec& gpu, double gpu_seconds);

// Peak derived from the chip's layout, FLOP/s:
//   sm_count x flop_per_clk_per_sm x clock_mhz x 1e6.
// e.g. A100: 108 x 2048 x 1410 MHz = 3.1186944e14 (datasheet: 312 TFLOP/s).
// Errors: kInvalidArgument when any input is 0, negative or not finite.
Result<double> derived_peak(uint64_t sm_count, uint64_t flop_per_clk_per_sm, double clock_mhz);

}  // namespace flopsmeter

#endif  // FLOPSMETER_GPUS_H_
