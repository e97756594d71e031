// Helpers of the runtime meter's tests: a run metered by counts alone, its
// journal's path, and its record as a report rebuilds it.
#ifndef FLOPSMETER_TESTS_UNIT_METER_SUPPORT_H_
#define FLOPSMETER_TESTS_UNIT_METER_SUPPORT_H_

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "flopsmeter/meter.h"

namespace flopsmeter::testing {

// A run of a model known only by its counts (1000 parameters, 10 trainable):
// no catalog or config is loaded.
inline MeterOptions counts_only(const std::string& run, double journal_interval_s = 10) {
  MeterOptions o;
  o.run_dir = run;
  o.model_name = "tiny";
  o.n_total = 1000;
  o.n_trainable = 10;
  o.journal_interval_s = journal_interval_s;
  return o;
}

inline std::string journal_path(const std::string& run, int rank = 0) {
  return run + "/journal-rank" + std::to_string(rank) + ".jsonl";
}

// The run's record, rebuilt from its journals.
inline nlohmann::json record_of(const std::string& run) {
  auto r = report_run(run, {});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? nlohmann::json::parse(r->json) : nlohmann::json();
}

}  // namespace flopsmeter::testing

#endif  // FLOPSMETER_TESTS_UNIT_METER_SUPPORT_H_
