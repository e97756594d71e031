// GPU catalog: parsing data/gpus.json, exact lookup, and C = N x L x H x U.
#include "flopsmeter/gpus.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "core/json_doc.h"
#include "core/strict_fields.h"
#include "core/suggest.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

constexpr char kGpuSchema[] = "flopsmeter.gpus/1";

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypeNames[] = {
    {DType::kFp32, "fp32"}, {DType::kTf32, "tf32"}, {DType::kBf16, "bf16"},
    {DType::kFp16, "fp16"}, {DType::kFp8, "fp8"},
};

std::string dtype_list(const std::vector<DType>& dtypes) {
  std::vector<std::string> names;
  for (DType d : dtypes) names.emplace_back(dtype_name(d));
  return join(names, ", ");
}

// The form lookups compare: surrounding whitespace removed, ASCII lower case.
std::string lookup_key(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  std::string key(text.substr(begin, end - begin));
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

// Every key a GPU answers to, in lookup_key form.
std::vector<std::string> lookup_keys(const GpuSpec& gpu) {
  std::vector<std::string> keys = {lookup_key(gpu.id), lookup_key(gpu.name)};
  for (const std::string& m : gpu.match) keys.push_back(lookup_key(m));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// A result, to three significant digits: "1.42e+20".
std::string scientific(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// An input as given, up to six significant digits: "36000", "9.894e+14", "0.5".
std::string figure(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// "494.7" (TFLOP/s) -> 4.947e14 FLOP/s, rounded once from the decimal text.
// Accepts digits with an optional fraction and exponent; nothing else.
std::optional<double> tflops_to_flop_per_s(const std::string& text) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (digits() == 0) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (digits() == 0) return std::nullopt;
  }
  const std::string mantissa = text.substr(0, i);
  long exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
    const size_t start = i;
    if (digits() == 0 || i - start > 4) return std::nullopt;
    exponent = std::strtol(text.c_str() + start, nullptr, 10);
    if (negative) exponent = -exponent;
  }
  if (i != text.size()) return std::nullopt;
  const std::string scaled = mantissa + "e" + std::to_string(exponent + 12);
  const double value = std::strtod(scaled.c_str(), nullptr);
  if (!std::isfinite(value) || value <= 0) return std::nullopt;
  return value;
}

// Typed field readers over a JsonDoc for gpus.json. Fields are addressed by
// JSON pointers ("/gpus/3/id"); messages carry file, line, column and field.
class FieldReader : public StrictFields {
 public:
  using StrictFields::StrictFields;

  Result<std::optional<uint32_t>> OptionalPositiveInt(const Json& object, const std::string& pointer,
                                                      std::string_view key) const {
    if (Member(object, key) == nullptr) return std::optional<uint32_t>();
    FM_ASSIGN_OR_RETURN(uint64_t value, doc_.get_uint(object, pointer, key));
    if (value == 0 || value > UINT32_MAX) {
      return Error(Child(pointer, key),
                   "must be a positive integer below 2^32, got " + std::to_string(value));
    }
    return std::optional<uint32_t>(static_cast<uint32_t>(value));
  }

  // A dtype name used as a key.
  Result<DType> DTypeKey(const std::string& key, const std::string& pointer) const {
    Result<DType> dtype = parse_dtype(key);
    if (!dtype.ok() || dtype_name(*dtype) != key) {
      return Error(Child(pointer, key), "unknown dtype; allowed: " + dtype_list(all_dtypes()));
    }
    return dtype;
  }

};

const std::vector<std::string> kRootKeys = {"schema", "data_version", "gpus"};
const std::vector<std::string> kGpuKeys = {"id",           "name",
                                           "match",        "architecture",
                                           "sm_count",     "boost_clock_mhz",
                                           "dense_tflops", "dense_flop_per_clk_per_sm",
                                           "source",       "url",
                                           "status",       "board_power"};
const std::vector<std::string> kBoardPowerKeys = {"watts", "source", "url", "status"};

Result<GpuDataStatus> ParseStatus(const FieldReader& reader, const Json& node, const std::string& pointer) {
  FM_ASSIGN_OR_RETURN(std::string status, reader.RequiredString(node, pointer, "status"));
  if (status == "confirmed") return GpuDataStatus::kConfirmed;
  if (status == "not_confirmed") return GpuDataStatus::kNotConfirmed;
  return reader.Error(FieldReader::Child(pointer, "status"),
                      "unknown value '" + printable(status) + "'; allowed: confirmed, not_confirmed");
}

Result<BoardPower> ParseBoardPower(const FieldReader& reader, const Json& node, const std::string& pointer) {
  FM_RETURN_IF_ERROR(reader.RequireObject(node, pointer));
  FM_RETURN_IF_ERROR(reader.CheckKeys(node, pointer, kBoardPowerKeys));
  BoardPower power;
  FM_ASSIGN_OR_RETURN(std::optional<uint32_t> watts, reader.OptionalPositiveInt(node, pointer, "watts"));
  if (!watts) return reader.Error(FieldReader::Child(pointer, "watts"), "missing (the board's maximum power in W)");
  power.watts = *watts;
  FM_ASSIGN_OR_RETURN(power.source, reader.RequiredString(node, pointer, "source"));
  FM_ASSIGN_OR_RETURN(power.url, reader.RequiredString(node, pointer, "url"));
  FM_ASSIGN_OR_RETURN(power.status, ParseStatus(reader, node, pointer));
  return power;
}

Result<GpuSpec> ParseGpu(const FieldReader& reader, const Json& node, const std::string& pointer,
                         const std::string& origin) {
  FM_RETURN_IF_ERROR(reader.RequireObject(node, pointer));
  FM_RETURN_IF_ERROR(reader.CheckKeys(node, pointer, kGpuKeys));
  GpuSpec gpu;
  gpu.origin = origin;
  FM_ASSIGN_OR_RETURN(gpu.id, reader.RequiredId(node, pointer));
  FM_ASSIGN_OR_RETURN(gpu.name, reader.RequiredString(node, pointer, "name"));

  const std::string match_pointer = FieldReader::Child(pointer, "match");
  const Json* match = FieldReader::Member(node, "match");
  if (match == nullptr) {
    return reader.Error(match_pointer, "missing (an array of exact NVML device names, may be empty)");
  }
  if (!match->is_array()) {
    return reader.Error(match_pointer, "expected an array of strings, got " + FieldReader::TypeName(*match));
  }
  for (size_t i = 0; i < match->size(); ++i) {
    const Json& entry = (*match)[i];
    if (!entry.is_string() || lookup_key(entry.get<std::string>()).empty()) {
      return reader.Error(JsonDoc::child(match_pointer, i), "expected a non-empty NVML device name");
    }
    gpu.match.push_back(entry.get<std::string>());
  }

  FM_ASSIGN_OR_RETURN(gpu.architecture, reader.RequiredString(node, pointer, "architecture"));
  FM_ASSIGN_OR_RETURN(gpu.sm_count, reader.OptionalPositiveInt(node, pointer, "sm_count"));
  FM_ASSIGN_OR_RETURN(gpu.boost_clock_mhz, reader.OptionalPositiveInt(node, pointer, "boost_clock_mhz"));

  const std::string tflops_pointer = FieldReader::Child(pointer, "dense_tflops");
  const Json* tflops = FieldReader::Member(node, "dense_tflops");
  if (tflops == nullptr) {
    return reader.Error(tflops_pointer, "missing (e.g. {\"bf16\": \"989.4\"}, dense TFLOP/s)");
  }
  FM_RETURN_IF_ERROR(reader.RequireObject(*tflops, tflops_pointer));
  for (const auto& item : tflops->items()) {
    if (!item.key().empty() && item.key()[0] == '_') continue;
    FM_ASSIGN_OR_RETURN(DType dtype, reader.DTypeKey(item.key(), tflops_pointer));
    const std::string value_pointer = FieldReader::Child(tflops_pointer, item.key());
    if (!item.value().is_string()) {
      return reader.Error(value_pointer, "expected a decimal string of TFLOP/s such as \"989.4\", got " +
                                             FieldReader::TypeName(item.value()));
    }
    std::optional<double> peak = tflops_to_flop_per_s(item.value().get<std::string>());
    if (!peak) {
      return reader.Error(value_pointer, "expected a positive decimal of TFLOP/s such as \"989.4\", got \"" +
                                             item.value().get<std::string>() + "\"");
    }
    gpu.dense_peak_flop_per_s[dtype] = *peak;
  }
  if (gpu.dense_peak_flop_per_s.empty()) {
    return reader.Error(tflops_pointer, "must give the dense peak of at least one dtype");
  }

  if (const Json* per_clock = FieldReader::Member(node, "dense_flop_per_clk_per_sm")) {
    const std::string per_clock_pointer = FieldReader::Child(pointer, "dense_flop_per_clk_per_sm");
    FM_RETURN_IF_ERROR(reader.RequireObject(*per_clock, per_clock_pointer));
    for (const auto& item : per_clock->items()) {
      if (!item.key().empty() && item.key()[0] == '_') continue;
      FM_ASSIGN_OR_RETURN(DType dtype, reader.DTypeKey(item.key(), per_clock_pointer));
      FM_ASSIGN_OR_RETURN(std::optional<uint32_t> value,
                          reader.OptionalPositiveInt(*per_clock, per_clock_pointer, item.key()));
      if (value) gpu.dense_flop_per_clk_per_sm[dtype] = *value;
    }
  }

  FM_ASSIGN_OR_RETURN(gpu.source, reader.RequiredString(node, pointer, "source"));
  FM_ASSIGN_OR_RETURN(gpu.url, reader.RequiredString(node, pointer, "url"));
  FM_ASSIGN_OR_RETURN(gpu.status, ParseStatus(reader, node, pointer));
  if (const Json* power = FieldReader::Member(node, "board_power")) {
    FM_ASSIGN_OR_RETURN(gpu.board_power, ParseBoardPower(reader, *power, FieldReader::Child(pointer, "board_power")));
  }
  return gpu;
}

Status validate_peak_inputs(double peak_flop_per_s, uint64_t gpus, double hours, double utilization) {
  if (gpus == 0) return Status::InvalidArgument("GPU count must be at least 1");
  if (!std::isfinite(hours) || hours <= 0) {
    return Status::InvalidArgument("training hours must be a finite number above 0, got " + figure(hours));
  }
  if (!std::isfinite(utilization) || utilization <= 0 || utilization > 1) {
    return Status::InvalidArgument("utilization must be in (0, 1] (0.5 = 50%), got " + figure(utilization));
  }
  if (!std::isfinite(peak_flop_per_s) || peak_flop_per_s <= 0) {
    return Status::InvalidArgument("peak must be a finite FLOP/s figure above 0, got " +
                                   figure(peak_flop_per_s));
  }
  return Status::Ok();
}

}  // namespace

const char* dtype_name(DType dtype) {
  for (const auto& entry : kDTypeNames) {
    if (entry.dtype == dtype) return entry.name;
  }
  return "unknown";
}

Result<DType> parse_dtype(std::string_view name) {
  const std::string key = lookup_key(name);
  for (const auto& entry : kDTypeNames) {
    if (key == entry.name) return entry.dtype;
  }
  return Status::InvalidArgument("unknown dtype '" + printable(name) +
                                 "'; expected one of: " + dtype_list(all_dtypes()));
}

const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> kAll = {DType::kFp32, DType::kTf32, DType::kBf16, DType::kFp16,
                                          DType::kFp8};
  return kAll;
}

const char* gpu_data_status_name(GpuDataStatus status) {
  return status == GpuDataStatus::kConfirmed ? "confirmed" : "not_confirmed";
}

std::optional<double> GpuSpec::peak(DType dtype) const {
  auto it = dense_peak_flop_per_s.find(dtype);
  if (it == dense_peak_flop_per_s.end()) return std::nullopt;
  return it->second;
}

std::vector<DType> GpuSpec::supported_dtypes() const {
  std::vector<DType> out;
  for (const auto& [dtype, peak_value] : dense_peak_flop_per_s) out.push_back(dtype);
  return out;
}

Result<GpuCatalog> parse_gpu_catalog(std::string_view json_text, std::string origin) {
  try {
    FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(json_text, origin));
    const FieldReader reader(doc);
    const Json& root = doc.root;
    FM_RETURN_IF_ERROR(reader.RequireObject(root, ""));
    FM_RETURN_IF_ERROR(reader.CheckKeys(root, "", kRootKeys));
    GpuCatalog catalog;
    FM_ASSIGN_OR_RETURN(std::string schema, reader.RequiredString(root, "", "schema"));
    if (schema != kGpuSchema) {
      return reader.Error("/schema",
                          "unsupported schema '" + printable(schema) + "'; expected \"" + kGpuSchema + "\"");
    }
    FM_ASSIGN_OR_RETURN(catalog.data_version, reader.RequiredString(root, "", "data_version"));
    const Json* gpus = FieldReader::Member(root, "gpus");
    if (gpus == nullptr) return reader.Error("/gpus", "missing (an array of GPUs is required)");
    if (!gpus->is_array() || gpus->empty())
      return reader.Error("/gpus", "expected a non-empty array of GPUs");
    // lookup key -> (index of the GPU that owns it)
    std::map<std::string, size_t> owner;
    for (size_t i = 0; i < gpus->size(); ++i) {
      const std::string pointer = JsonDoc::child("/gpus", i);
      FM_ASSIGN_OR_RETURN(GpuSpec gpu, ParseGpu(reader, (*gpus)[i], pointer, origin));
      for (size_t j = 0; j < catalog.gpus.size(); ++j) {
        if (catalog.gpus[j].id == gpu.id) {
          return reader.Error(FieldReader::Child(pointer, "id"),
                              "duplicate id '" + gpu.id + "' (first at gpus[" + std::to_string(j) + "])");
        }
      }
      for (const std::string& key : lookup_keys(gpu)) {
        auto [it, inserted] = owner.emplace(key, i);
        if (!inserted) {
          return reader.Error(pointer, "'" + printable(key) + "' already names gpus[" +
                                           std::to_string(it->second) + "] (" + catalog.gpus[it->second].id +
                                           "); ids, names and NVML names must each name one GPU");
        }
      }
      catalog.gpus.push_back(std::move(gpu));
    }
    return catalog;
  } catch (const std::exception& e) {
    return Status::Internal(origin + ": unexpected error while reading the GPU catalog: " + e.what());
  }
}

GpuCatalog merge_gpu_catalogs(const GpuCatalog& base, const GpuCatalog& overrides) {
  GpuCatalog merged = base;
  merged.data_version = base.data_version + "+" + overrides.data_version;
  for (const GpuSpec& gpu : overrides.gpus) {
    const std::vector<std::string> claimed = lookup_keys(gpu);
    for (GpuSpec& other : merged.gpus) {
      if (other.id == gpu.id) continue;
      std::erase_if(other.match, [&](const std::string& m) {
        return std::binary_search(claimed.begin(), claimed.end(), lookup_key(m));
      });
    }
    replace_or_append_by_id(merged.gpus, gpu);
  }
  return merged;
}

Result<const GpuSpec*> find_gpu(const GpuCatalog& catalog, std::string_view query) {
  const std::string key = lookup_key(query);
  if (key.empty())
    return Status::InvalidArgument("empty GPU name; give a catalog id or the NVML device name");
  // Ids first, then NVML names, then display names: after a merge an id or
  // NVML name is the more deliberate claim.
  for (const GpuSpec& gpu : catalog.gpus) {
    if (lookup_key(gpu.id) == key) return &gpu;
  }
  for (const GpuSpec& gpu : catalog.gpus) {
    for (const std::string& m : gpu.match) {
      if (lookup_key(m) == key) return &gpu;
    }
  }
  for (const GpuSpec& gpu : catalog.gpus) {
    if (lookup_key(gpu.name) == key) return &gpu;
  }

  // Not found: suggest the closest ids by edit distance to any of their keys.
  std::vector<std::pair<size_t, size_t>> ranked;  // (distance, catalog index)
  for (size_t i = 0; i < catalog.gpus.size(); ++i) {
    size_t best = SIZE_MAX;
    for (const std::string& k : lookup_keys(catalog.gpus[i])) best = std::min(best, edit_distance(key, k));
    ranked.emplace_back(best, i);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> closest;
  for (size_t i = 0; i < ranked.size() && i < 3; ++i) closest.push_back(catalog.gpus[ranked[i].second].id);
  std::string message = "unknown GPU '" + printable(query) +
                        "': no catalog id or NVML device name is exactly that (names are never matched "
                        "by substring)";
  if (!closest.empty()) message += "; closest ids: " + join(closest, ", ");
  message += "; pass option \"gpu\" with a catalog id, or option \"peak-flops\" with the GPU's dense peak in FLOP/s";
  return Status::NotFound(message);
}

Result<HardwareEstimate> hardware_estimate(const GpuSpec& gpu, DType dtype, uint64_t gpus, double hours,
                                           double utilization) {
  std::optional<double> peak = gpu.peak(dtype);
  if (!peak) {
    return Status::InvalidArgument("GPU '" + gpu.id + "' (" + gpu.name + ") has no dense " +
                                   dtype_name(dtype) +
                                   " peak in the catalog; supported: " + dtype_list(gpu.supported_dtypes()) +
                                   "; choose one of those with option \"dtype\", or pass option \"peak-flops\"");
  }
  std::string source = gpu.name + " (" + gpu.id + ") dense " + dtype_name(dtype) + ": " + gpu.source;
  if (!gpu.url.empty()) source += " " + gpu.url;
  if (gpu.status == GpuDataStatus::kNotConfirmed) source += " [figure not confirmed by a primary source]";
  return hardware_estimate(*peak, gpus, hours, utilization, std::move(source));
}

Result<HardwareEstimate> hardware_estimate(double peak_flop_per_s, uint64_t gpus, double hours,
                                           double utilization, std::string source) {
  FM_RETURN_IF_ERROR(validate_peak_inputs(peak_flop_per_s, gpus, hours, utilization));
  const double seconds = hours * 3600.0;
  HardwareEstimate e;
  e.flop = static_cast<double>(gpus) * seconds * peak_flop_per_s * utilization;
  if (!std::isfinite(e.flop)) {
    return Status::InvalidArgument("hardware estimate overflows: " + std::to_string(gpus) + " GPUs x " +
                                   scientific(seconds) + " s x " + scientific(peak_flop_per_s) + " FLOP/s");
  }
  e.peak_flop_per_s = peak_flop_per_s;
  e.utilization = utilization;
  e.gpus = gpus;
  e.hours = hours;
  e.formula = "C = N x L x H x U = " + std::to_string(gpus) + " x " + figure(seconds) + " s x " +
              figure(peak_flop_per_s) + " FLOP/s x " + figure(utilization) + " = " + scientific(e.flop) +
              " FLOP";
  e.source = std::move(source);
  return e;
}

Result<EnergyEstimate> board_energy_estimate(const GpuSpec& gpu, double gpu_seconds) {
  if (!gpu.board_power) {
    return Status::NotFound("the GPU catalog gives no board power for '" + gpu.id + "' (" + gpu.name +
                            "), so energy NVML did not measure cannot be estimated");
  }
  if (!std::isfinite(gpu_seconds) || gpu_seconds < 0) {
    return Status::InvalidArgument("GPU time must be a finite number of seconds, not negative, got " +
                                   figure(gpu_seconds));
  }
  const BoardPower& power = *gpu.board_power;
  EnergyEstimate e;
  e.joules = power.watts * gpu_seconds;
  e.formula = "E = P x t = " + figure(power.watts) + " W x " + figure(gpu_seconds) + " s = " + scientific(e.joules) + " J";
  e.source = gpu.name + " (" + gpu.id + ") board power: " + power.source;
  if (!power.url.empty()) e.source += " " + power.url;
  if (power.status == GpuDataStatus::kNotConfirmed) e.source += " [figure not confirmed by a primary source]";
  return e;
}

Result<double> derived_peak(uint64_t sm_count, uint64_t flop_per_clk_per_sm, double clock_mhz) {
  if (sm_count == 0) return Status::InvalidArgument("SM count must be at least 1");
  if (flop_per_clk_per_sm == 0) return Status::InvalidArgument("FLOP per clock per SM must be at least 1");
  if (!std::isfinite(clock_mhz) || clock_mhz <= 0) {
    return Status::InvalidArgument("clock must be a finite MHz figure above 0, got " + figure(clock_mhz));
  }
  // Integer product first so the common cases (A100: 108 x 2048 x 1410) are exact.
  uint64_t per_clock = 0;
  if (__builtin_mul_overflow(sm_count, flop_per_clk_per_sm, &per_clock)) {
    return Status::InvalidArgument("SM count x FLOP per clock per SM overflows 64 bits");
  }
  return static_cast<double>(per_clock) * clock_mhz * 1e6;
}

}  // namespace flopsmeter
