// Reading MeterOptions from named options (CLI flags or the C ABI's JSON).
#ifndef FLOPSMETER_API_METER_OPTIONS_H_
#define FLOPSMETER_API_METER_OPTIONS_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/option_map.h"
#include "flopsmeter/meter.h"

namespace flopsmeter {

// The option names a meter accepts (also the JSON keys), sorted.
const std::vector<std::string>& meter_option_names();

// Reads the options present in `o`; the rest keep their defaults. Lists
// ("dataset", "command", "job-pids") come separately since their items may
// hold commas.
Result<MeterOptions> meter_options_from_map(const OptionMap& o);

// The options as JSON that meter_options_from_json() reads back to equal
// options (spectrum patterns travel as "spectrum-patterns", not as a file):
// what a run's begin line records, so a report can redo the accounting.
nlohmann::json meter_options_json(const MeterOptions& m);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_METER_OPTIONS_H_
