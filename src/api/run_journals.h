// A run directory's journals read back: every rank's lines, checked field
// by field, grouped into segments (one per process lifetime), with what each
// segment had counted at each line and where each resumed from.
#ifndef FLOPSMETER_API_RUN_JOURNALS_H_
#define FLOPSMETER_API_RUN_JOURNALS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/journal.h"
#include "api/run_report.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct SegmentCheckpoint {
  uint64_t seq = 0;
  uint64_t step = 0;
};

struct Segment {
  uint64_t id = 0;
  nlohmann::json begin;  // its begin line, fields checked (journal_fields.h)
  // Per line, keyed by seq: the cumulative scalars and the sequence lengths
  // added since the line before. Cumulative histograms per line would grow
  // with lines x distinct lengths; counts_at() sums the deltas instead.
  std::map<uint64_t, JournalCounts> lines;
  JournalCounts final;       // cumulative at the last line
  nlohmann::json last_gpus;  // the sampler's cumulative totals at the last line
  nlohmann::json sampler_notes = nlohmann::json::array();  // the sampler's, as of the last line that had them
  double t_begin = 0, t_last = 0;
  uint64_t last_step = 0;
  std::optional<SegmentCheckpoint> last_checkpoint;
  bool ended = false;
  std::string status;  // the end line's status, else "crashed" or "running"
  // The begin line's MeterOptions::token_source, refined by the end line's.
  std::string token_source;
  bool micro_batches_known = true;  // the integration counts them (add() per micro-batch)
  nlohmann::json events = nlohmann::json::array();  // {"kind", "message"}
  std::vector<std::string> notes;                    // the caller's observations, from the end line

  // Cumulative counts at the last line with a seq <= `seq`.
  JournalCounts counts_at(uint64_t seq) const;
};

struct RankJournal {
  uint32_t rank = 0;
  std::string path;
  JournalContents contents;  // as read (hashes and tail), the lines moved into segments
  std::map<uint64_t, Segment> segments;
};

// One rank's journal, from `contents` (whose file is `path`), by segment.
// Errors: kParseError naming the file, line and field of a line that is
// not what the meter writes (a wrong type, a count that goes down within a
// segment, a line outside its segment).
Result<RankJournal> parse_rank(JournalContents contents, const std::string& path, uint32_t rank);

// Every rank's journal in `run_dir`, with `extras`' unwritten lines read
// after their rank's; all of one run. Errors: kNotFound for a directory
// without journals, else as read_journal() and parse_rank().
Result<std::map<uint32_t, RankJournal>> read_run_journals(const std::string& run_dir, const ReportExtras& extras);

// How much of a segment the final weights hold: its counts up to line
// `through_seq`; `reason` says why what follows is not in them (empty when
// the segment counts to its end).
struct InFinalWeights {
  uint64_t through_seq = 0;
  std::string reason;
};

// Walks back from a rank's final segment through the points each segment
// resumed from. The final segment counts to its end when it completed (the
// trainer saves the final weights) or is still running; otherwise the saved
// weights are its last checkpoint's. A segment the walk does not reach is
// not in the final weights at all.
Result<std::map<uint64_t, InFinalWeights>> final_weights_chain(const RankJournal& r);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RUN_JOURNALS_H_
