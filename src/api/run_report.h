// Reading a run directory back: every rank's journal, every segment, added
// up into flops_meter.json ("flopsmeter.run/2"). The meter's end() and
// `flopsmeter report` both build the record here.
#ifndef FLOPSMETER_API_RUN_REPORT_H_
#define FLOPSMETER_API_RUN_REPORT_H_

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/gpu_sampler.h"
#include "api/journal.h"
#include "flopsmeter/meter.h"

namespace flopsmeter {

inline constexpr const char* kRunSchema = "flopsmeter.run/2";
inline constexpr const char* kRecordFileName = "flops_meter.json";

// What every segment of one rank's journal spent, each to its last line:
// where a resumed meter's running figures start, counted as the record
// counts them. `path` names the journal in errors.
struct JournalSpent {
  Flop tokens = 0;
  Flop positions = 0;
  uint64_t micro_batches = 0;  // 0 where the token source does not count them (watch)
  std::map<uint64_t, uint64_t> sequences;
};
Result<JournalSpent> journal_spent(const JournalContents& contents, const std::string& path);

// One GPU's sampler totals as a journal line carries them.
nlohmann::json gpu_totals_json(const GpuTotals& g);

// The record of `run_dir`. `end`, when given, is the ending rank 0's view:
// its status and the world totals of the integration's collective.
Result<RunRecord> build_run_record(const std::string& run_dir, const ReportOptions& options, const EndOptions* end);

// ISO 8601 UTC with milliseconds, e.g. "2026-11-23T10:15:30.250Z".
std::string iso_time(double unix_seconds);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RUN_REPORT_H_
