// The documentation fields a run's records establish (Annex XI 1(d), 2(d),
// 2(e); the Code of Practice's Model Documentation Form): parameters,
// training time and energy, summed over the runs behind the subject, or
// "not available" with the runs that lack them.
#include <algorithm>
#include <cstdio>

#include "api/dossier_parts.h"
#include "api/report_format.h"
#include "core/strict_fields.h"  // join

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

constexpr double kSecondsPerDay = 86400;

// Three significant figures, however small (a test run takes milliseconds).
std::string sig3(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// A measured quantity (seconds, ranks, MWh): a number, and not negative.
bool measure(const Json& v) { return v.is_number() && v.get<double>() >= 0; }

// A figure that every run must give: the sum, or which runs lack it.
struct RunSum {
  double total = 0;
  std::vector<std::string> missing;  // "run X: why"
  std::vector<std::string> sources;  // "where: field"
};

DossierFigure parameters_figure(const std::vector<const DossierRun*>& runs) {
  const char* ref = "Annex XI 1(d); Model Documentation Form: number of parameters";
  // The final weights are the latest run's.
  const DossierRun* latest = nullptr;
  for (const DossierRun* r : runs)
    if (json_at(r->record, {"N_total"}).is_number_unsigned() && (!latest || r->time >= latest->time)) latest = r;
  if (!latest) {
    return missing_figure("parameters", "Parameters", ref, "parameters", "not available",
                          runs.empty() ? "no run of this model or its lineage is recorded, and only a run's record "
                                         "counts the parameters"
                                       : "no run record gives N_total (records imported or written before it)");
  }
  const uint64_t n = latest->record["N_total"].get<uint64_t>();
  const std::string counted = json_text_at(latest->record, {"model", "counts_source"});
  return known_figure("parameters", "Parameters", ref, n, "parameters",
                      with_commas(n) + " (" + sci(static_cast<double>(n), 3) + ")" +
                          (counted.empty() ? "" : "; counted: " + counted),
                      latest->source + ": N_total (run " + latest->run_id + ", the latest)");
}

RunSum wall_clock(const std::vector<const DossierRun*>& runs) {
  RunSum s;
  for (const DossierRun* r : runs) {
    const Json& secs = json_at(r->record, {"training_duration_seconds"});
    if (!measure(secs)) {
      s.missing.push_back("run " + r->run_id + ": its record gives no training_duration_seconds");
      continue;
    }
    s.total += secs.get<double>();
    s.sources.push_back(r->source + ": training_duration_seconds");
  }
  return s;
}

// GPU-days NVML attributed to the job; without sampling, ranks x wall clock.
RunSum hardware_seconds(const std::vector<const DossierRun*>& runs, bool& measured) {
  RunSum s;
  measured = true;
  for (const DossierRun* r : runs) {
    const Json& gpus = json_at(r->record, {"hardware", "gpus"});
    if (gpus.is_array() && !gpus.empty()) {
      for (const Json& g : gpus) {
        const Json& attributed = json_at(g, {"attributed_seconds"});
        s.total += measure(attributed) ? attributed.get<double>() : 0;
      }
      s.sources.push_back(r->source + ": hardware.gpus[].attributed_seconds");
      continue;
    }
    measured = false;
    const Json& ranks = json_at(r->record, {"gpu_size"});
    const Json& secs = json_at(r->record, {"training_duration_seconds"});
    if (!measure(ranks) || !measure(secs)) {
      s.missing.push_back("run " + r->run_id + ": no GPU was sampled and its record gives no gpu_size or duration");
      continue;
    }
    s.total += ranks.get<double>() * secs.get<double>();
    s.sources.push_back(r->source + ": gpu_size x training_duration_seconds");
  }
  return s;
}

// A run's energy: measured by NVML, else its record's upper estimate
// (board power x time for the GPUs NVML could not measure).
struct EnergySum : RunSum {
  std::vector<std::string> methods;  // NVML's, for a measured sum
  bool estimated = false;            // some run's figure is the upper estimate
};

EnergySum energy(const std::vector<const DossierRun*>& runs) {
  EnergySum s;
  for (const DossierRun* r : runs) {
    const Json& mwh = json_at(r->record, {"energy", "mwh"});
    const Json& estimate = json_at(r->record, {"energy", "estimate"});
    const Json& methods = json_at(r->record, {"energy", "methods"});
    const bool partial = methods.is_array() && std::find(methods.begin(), methods.end(), "unavailable") != methods.end();
    if (measure(mwh) && partial) {
      // Records written before the estimate existed summed the measured GPUs only.
      s.missing.push_back("run " + r->run_id + ": NVML measured only some of its GPUs, and its record (written "
                          "before energy estimates) gives their sum alone");
    } else if (measure(mwh)) {
      s.total += mwh.get<double>();
      s.sources.push_back(r->source + ": energy.mwh");
      for (const Json& m : json_at(r->record, {"energy", "methods"}))
        if (m.is_string() && std::find(s.methods.begin(), s.methods.end(), m.get<std::string>()) == s.methods.end())
          s.methods.push_back(m.get<std::string>());
    } else if (measure(json_at(estimate, {"mwh"}))) {
      s.total += estimate["mwh"].get<double>();
      s.estimated = true;
      s.sources.push_back(r->source + ": energy.estimate.mwh");
    } else if (estimate.is_object()) {
      s.missing.push_back("run " + r->run_id + ": NVML measured only some of its GPUs, and " +
                          json_text_at(estimate, {"reason"}));
    } else {
      const std::string sampler = json_text_at(r->record, {"hardware", "sampler"});
      s.missing.push_back("run " + r->run_id + ": no GPU energy was measured (" +
                          (sampler.empty() ? std::string("its record has no NVML sampling") : "NVML " + sampler) +
                          "), and without a sampled GPU its model and board power are unknown");
    }
  }
  return s;
}

std::string no_runs_reason() { return "no run of this model or its lineage is recorded"; }

}  // namespace

void add_run_documentation(Dossier& d, const std::vector<const DossierRun*>& runs) {
  d.documentation.push_back(parameters_figure(runs));

  const char* time_ref = "Annex XI 2(d); Model Documentation Form: training time";
  const RunSum wall = wall_clock(runs);
  if (runs.empty() || !wall.missing.empty()) {
    d.documentation.push_back(missing_figure("training_time_wall_clock", "Training time (wall clock)", time_ref, "s",
                                             "not available", runs.empty() ? no_runs_reason() : join(wall.missing, "; ")));
  } else {
    d.documentation.push_back(known_figure("training_time_wall_clock", "Training time (wall clock)", time_ref,
                                           wall.total, "s",
                                           sig3(wall.total) + " s (" + sig3(wall.total / 3600) + " h, " +
                                               sig3(wall.total / kSecondsPerDay) + " days), summed over " +
                                               std::to_string(runs.size()) + " run(s)",
                                           join(wall.sources, "; ")));
  }

  bool measured = false;
  const RunSum hw = hardware_seconds(runs, measured);
  if (runs.empty() || !hw.missing.empty()) {
    d.documentation.push_back(missing_figure("training_time_hardware_days", "Training time (hardware-days)", time_ref,
                                             "days", "not available",
                                             runs.empty() ? no_runs_reason() : join(hw.missing, "; ")));
  } else {
    d.documentation.push_back(known_figure(
        "training_time_hardware_days", "Training time (hardware-days)", time_ref, hw.total / kSecondsPerDay, "days",
        sig3(hw.total / kSecondsPerDay) + " hardware-days" +
            (measured ? " (GPU seconds NVML attributed to the job)"
                      : " (ranks x wall clock, assuming one accelerator per rank: no GPU was sampled)"),
        join(hw.sources, "; ")));
  }

  const char* energy_ref = "Annex XI 2(e); Model Documentation Form: energy used for training (MWh)";
  const EnergySum mwh = energy(runs);
  if (runs.empty() || !mwh.missing.empty()) {
    d.documentation.push_back(missing_figure("energy", "Energy used for training", energy_ref, "MWh", "not available",
                                             runs.empty() ? no_runs_reason() : join(mwh.missing, "; ")));
  } else if (mwh.estimated) {
    d.documentation.push_back(known_figure(
        "energy", "Energy used for training (upper estimate)", energy_ref, mwh.total, "MWh",
        "at most " + sci(mwh.total, 3) +
            " MWh: measured by NVML where it measured; for each GPU it could not measure, the board's maximum power "
            "for all of the GPU's time (E = P x t, the GPU catalog's board_power with its source in the run record)",
        join(mwh.sources, "; ")));
  } else {
    d.documentation.push_back(known_figure("energy", "Energy used for training", energy_ref, mwh.total, "MWh",
                                           sci(mwh.total, 3) + " MWh, measured by NVML (" + join(mwh.methods, ", ") + ")",
                                           join(mwh.sources, "; ")));
  }
}

}  // namespace flopsmeter
