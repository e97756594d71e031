// Reading a run directory back: every rank's journal, every segment, added
// up into flops_meter.json ("flopsmeter.run/3"). The meter's end() and
// `flopsmeter report` both build the record here.
#ifndef FLOPSMETER_API_RUN_REPORT_H_
#define FLOPSMETER_API_RUN_REPORT_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/gpu_sampler.h"
#include "api/journal.h"
#include "flopsmeter/meter.h"

namespace flopsmeter {

inline constexpr const char* kRunSchema = "flopsmeter.run/3";
inline constexpr const char* kRecordFileName = "flops_meter.json";

// What a segment had counted at one of its journal lines, or several
// segments together.
struct JournalCounts {
  Flop tokens = 0;
  Flop positions = 0;
  // nullopt when the token source does not count forward passes (watch).
  std::optional<uint64_t> micro_batches = 0;
  std::map<uint64_t, uint64_t> sequences;
  // What the integration counted as it ran (Meter::set_executed); nullopt
  // when some segment summed here did not say.
  std::optional<ExecutedFlop> executed = ExecutedFlop{};

  void add(const JournalCounts& o) {
    tokens += o.tokens;
    positions += o.positions;
    if (executed && o.executed) {
      executed->forward += o.executed->forward;
      executed->backward += o.executed->backward;
      executed->recompute += o.executed->recompute;
    } else {
      executed = std::nullopt;
    }
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
Result<JournalCounts> journal_spent(const JournalContents& contents, const std::string& path, uint32_t rank);

// One GPU's sampler totals as a journal line carries them.
nlohmann::json gpu_totals_json(const GpuTotals& g);

// What the ending meter holds that its journal does not: lines it could not
// write (a full disk), stamped as the journal would have had them.
struct ReportExtras {
  uint32_t rank = 0;
  std::vector<nlohmann::json> unwritten_lines;
};

// The record of `run_dir`. `end`, when given, is the ending rank 0's view:
// its status and the world totals of the integration's collective. A run
// is reported on the model, method and base compute its journal pinned at
// begin: when they resolve differently now (other files, other data), the
// report is refused with what changed.
Result<RunRecord> build_run_record(const std::string& run_dir, const ReportOptions& options, const EndOptions* end,
                                   const ReportExtras& extras = {});

// The journals' last lines as the records of a run pinned them: each
// flops_meter.json found (in `run_dir`, and at `record_path` when given), by
// rank.
struct RecordPins {
  struct Record {
    std::string path;
    std::string written_at;
    std::map<uint32_t, std::string> last_sha256;  // rank -> the pinned last line's hash
  };
  std::vector<Record> records;
};
RecordPins read_record_pins(const std::string& run_dir, const std::string& record_path);

// What can be told, without a key, of a rank's journal having been changed:
// a last line that is complete but fails its check (an edit, not a crash),
// and a record that pinned a last line the journal no longer holds (lines
// removed or rewritten since the record was written). In words; empty when
// none.
std::vector<std::string> journal_integrity_problems(uint32_t rank, const JournalContents& contents,
                                                    const RecordPins& pins);

// A resumed run must count as it began: the same model, method and base
// compute. Errors name what differs between the last begin line of `lines`
// (the journal at `path`) and `pins` (accounting_pins() now).
Status check_resume_pins(const std::vector<nlohmann::json>& lines, const std::string& path, const nlohmann::json& pins);

// The warning for GPU sampling that was requested and could not start.
std::string sampling_not_started(const std::string& why);

// ISO 8601 UTC with milliseconds, e.g. "2026-11-23T10:15:30.250Z".
std::string iso_time(double unix_seconds);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RUN_REPORT_H_
