// A run's GPU energy for its record: what NVML measured, and where it
// measured nothing for some GPU, an upper estimate from the GPU's board
// power over its attributed time. A sum over GPUs some of which went
// unmeasured is never given as the run's energy.
#ifndef FLOPSMETER_API_RUN_ENERGY_H_
#define FLOPSMETER_API_RUN_ENERGY_H_

#include <nlohmann/json.hpp>

#include "flopsmeter/gpus.h"

namespace flopsmeter {

// The record's "energy" object from its hardware.gpus[] (one entry per GPU
// per segment, as the sampler totalled it), schema flops_meter.schema.json.
nlohmann::json run_energy_json(const nlohmann::json& gpus, const GpuCatalog& catalog);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RUN_ENERGY_H_
