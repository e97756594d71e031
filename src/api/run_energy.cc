#include "api/run_energy.h"

#include <set>
#include <string>
#include <vector>

#include "core/strict_fields.h"  // join

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

constexpr double kJoulesPerKwh = 3.6e6;
constexpr double kJoulesPerMwh = 3.6e9;

bool measured(const Json& gpu) {
  const std::string method = gpu.value("energy_method", std::string());
  return method == "counter" || method == "power_integral";
}

// The catalog entry of a sampled GPU: the id the sampler matched, else its
// NVML name.
const GpuSpec* catalog_entry(const Json& gpu, const GpuCatalog& catalog) {
  for (const char* key : {"catalog_id", "name"}) {
    const std::string query = gpu.value(key, std::string());
    if (query.empty()) continue;
    Result<const GpuSpec*> spec = find_gpu(catalog, query);
    if (spec.ok()) return *spec;
  }
  return nullptr;
}

std::string gpu_label(const Json& gpu) {
  return "rank " + std::to_string(gpu.value("rank", uint64_t{0})) + " segment " +
         std::to_string(gpu.value("segment", uint64_t{0})) + " GPU " + std::to_string(gpu.value("index", uint64_t{0})) +
         " (" + gpu.value("name", std::string("unnamed")) + ")";
}

// Measured energy where NVML gave it, board power x time elsewhere; null
// joules, with the reason, when some unmeasured GPU has no board power.
Json estimate_json(const Json& gpus, const GpuCatalog& catalog, double measured_joules) {
  double joules = measured_joules;
  Json parts = Json::array();
  std::vector<std::string> unknown;
  for (const Json& g : gpus) {
    if (measured(g)) continue;
    const GpuSpec* spec = catalog_entry(g, catalog);
    Result<EnergyEstimate> e = spec ? board_energy_estimate(*spec, g.value("attributed_seconds", 0.0))
                                    : Result<EnergyEstimate>(Status::NotFound("not in the GPU catalog"));
    if (!e.ok()) {
      unknown.push_back(gpu_label(g) + ": " + e.status().message());
      continue;
    }
    joules += e->joules;
    parts.push_back({{"gpu", gpu_label(g)}, {"joules", e->joules}, {"formula", e->formula}, {"source", e->source}});
  }
  const bool complete = unknown.empty();
  return {{"joules", complete ? Json(joules) : Json()},
          {"mwh", complete ? Json(joules / kJoulesPerMwh) : Json()},
          {"method",
           "an upper estimate: NVML's measurement where it measured, and for each GPU it could not measure, the "
           "board's maximum power (the catalog's board_power) for all of the GPU's attributed time, E = P x t; GPU "
           "boards only, no host, network or cooling"},
          {"estimated", parts},
          {"reason", complete ? Json() : Json("no estimate for " + join(unknown, "; "))}};
}

}  // namespace

Json run_energy_json(const Json& gpus, const GpuCatalog& catalog) {
  if (gpus.empty()) {
    return {{"joules", nullptr}, {"kwh", nullptr}, {"mwh", nullptr}, {"methods", Json::array()},
            {"measured_joules", nullptr}, {"unmeasured_gpus", 0}, {"estimate", nullptr}};
  }
  double measured_joules = 0;
  uint64_t unmeasured = 0;
  std::set<std::string> methods;
  for (const Json& g : gpus) {
    methods.insert(g.value("energy_method", std::string()));
    if (measured(g)) {
      measured_joules += g.value("energy_j", 0.0);
    } else {
      ++unmeasured;
    }
  }
  const bool all_measured = unmeasured == 0;
  return {{"joules", all_measured ? Json(measured_joules) : Json()},
          {"kwh", all_measured ? Json(measured_joules / kJoulesPerKwh) : Json()},
          {"mwh", all_measured ? Json(measured_joules / kJoulesPerMwh) : Json()},
          {"methods", methods},
          {"measured_joules", measured_joules},
          {"unmeasured_gpus", unmeasured},
          {"estimate", all_measured ? Json() : estimate_json(gpus, catalog, measured_joules)}};
}

}  // namespace flopsmeter
