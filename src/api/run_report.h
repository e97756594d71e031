// Reading a run directory back: every rank's journal, every segment, added
// up into flops_meter.json ("flopsmeter.run/2"). The meter's end() and
// `flopsmeter report` both build the record here.
#ifndef FLOPSMETER_API_RUN_REPORT_H_
#define FLOPSMETER_API_RUN_REPORT_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/gpu_sampler.h"
#include "api/journal.h"
#include "flopsmeter/meter.h"

namespace flopsmeter {

inline constexpr const char* kRunSchema = "flopsmeter.run/2";
inline constexpr const char* kRecordFileName = "flops_meter.json";

// What a segment had counted at one of its journal lines, or several
// segments together.
struct JournalCounts {
  Flop tokens = 0;
  Flop positions = 0;
  // nullopt when the token source does not count forward passes (watch).
  std::optional<uint64_t> micro_batches = 0;
  std::map<uint64_t, uint64_t> sequences;

  void add(const JournalCounts& o) {
    tokens += o.tokens;
    positions += o.positions;
    micro_batches = micro_batches && o.micro_batches ? std::optional(*micro_batches + *o.micro_batches) : std::nullopt;
    for (const auto& [len, n] : o.sequences) sequences[len] += n;
  }

  // Takes away `o`, a part of these counts; saturating, since all-reduced
  // totals that stand in for the journals need not contain every part.
  void subtract(const JournalCounts& o) {
    tokens -= std::min(tokens, o.tokens);
    positions -= std::min(positions, o.positions);
    micro_batches = micro_batches && o.micro_batches
                        ? std::optional(*micro_batches - std::min(*micro_batches, *o.micro_batches))
                        : std::nullopt;
    for (const auto& [len, n] : o.sequences) {
      auto it = sequences.find(len);
      if (it == sequences.end()) continue;
      it->second -= std::min(it->second, n);
      if (it->second == 0) sequences.erase(it);
    }
  }
};

// What every segment of one rank's journal spent, each to its last line:
// where a resumed meter's running figures start, counted as the record
// counts them. `path` names the journal in errors.
Result<JournalCounts> journal_spent(const JournalContents& contents, const std::string& path);

// One GPU's sampler totals as a journal line carries them.
nlohmann::json gpu_totals_json(const GpuTotals& g);

// The record of `run_dir`. `end`, when given, is the ending rank 0's view:
// its status and the world totals of the integration's collective.
Result<RunRecord> build_run_record(const std::string& run_dir, const ReportOptions& options, const EndOptions* end);

// ISO 8601 UTC with milliseconds, e.g. "2026-11-23T10:15:30.250Z".
std::string iso_time(double unix_seconds);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RUN_REPORT_H_
