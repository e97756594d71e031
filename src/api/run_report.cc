#include "api/run_report.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "adapters/files.h"
#include "api/assessment.h"
#include "api/journal.h"
#include "api/meter_options.h"
#include "api/report_format.h"
#include "api/run_accounting.h"
#include "api/run_energy.h"
#include "api/run_journals.h"
#include "api/verdict.h"
#include "core/json_doc.h"
#include "core/strict_fields.h"
#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

// A flops_meter.json this large is not one of ours.
constexpr uint64_t kMaxRecordBytes = uint64_t{64} << 20;

nlohmann::json counts_json(const JournalCounts& c) {
  return {{"tokens", to_decimal(c.tokens)},
          {"positions", to_decimal(c.positions)},
          {"padding", to_decimal(c.positions >= c.tokens ? c.positions - c.tokens : 0)},
          {"micro_batches", c.micro_batches ? nlohmann::json(*c.micro_batches) : nlohmann::json()}};
}

Workload workload_of(const JournalCounts& c, const MeterOptions& o, uint64_t optimizer_steps) {
  Workload w;
  w.tokens = c.tokens;
  w.sequences = c.sequences;
  w.kernel = o.kernel;
  w.gradient_checkpointing = o.gradient_checkpointing;
  w.checkpoint_mode = o.checkpoint_mode;
  w.micro_batches = c.micro_batches.value_or(0);  // 0: unknown to the formulas too
  w.optimizer_steps = optimizer_steps;
  return w;
}

nlohmann::json nullable(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

// A count as a JSON integer, as the AWS toolkit wrote tokens_processed (a
// double such as 12288.0 breaks readers that want an integer); a double only
// past 2^64, which no token count reaches.
nlohmann::json count_json(Flop v) {
  if (v <= UINT64_MAX) return nlohmann::json(static_cast<uint64_t>(v));
  return nlohmann::json(to_double(v));
}

std::string join_ranks(const std::vector<uint32_t>& ranks) {
  std::string list;
  for (uint32_t r : ranks) list += (list.empty() ? "" : ", ") + std::to_string(r);
  return list;
}

// The sampler of one segment as its begin line states it; null when NVML
// was not requested.
nlohmann::json sampler_json(uint32_t rank, const Segment& s) {
  const nlohmann::json& sampler = s.begin.contains("sampler") ? s.begin["sampler"] : nlohmann::json();
  if (!sampler.is_object()) return nullptr;
  std::string state;
  if (sampler.value("enabled", false)) {
    state = "sampled";
  } else if (sampler.contains("error")) {
    state = "unavailable: " + sampler.value("error", std::string());
  } else if (sampler.contains("note")) {
    state = sampler.value("note", std::string());  // "sampled by local rank 0 of this node"
  } else {
    return nullptr;
  }
  const bool sampled = state == "sampled";
  const std::string driver = sampler.value("driver_version", std::string());
  return {{"rank", rank},
          {"segment", s.id},
          {"node", s.begin["host"]},
          {"local_rank", s.begin.value("local_rank", uint64_t{0})},
          {"state", state},
          {"driver_version", driver.empty() ? nlohmann::json() : nlohmann::json(driver)},
          {"hz", sampled ? sampler.value("hz", nlohmann::json()) : nlohmann::json()},
          {"library", sampled ? sampler.value("library", nlohmann::json()) : nlohmann::json()},
          {"notes", s.sampler_notes}};
}

// The record file at `path`, when there is one to compare with: a regular
// file of ours, read without following a planted FIFO or device.
std::optional<nlohmann::json> existing_record(const std::string& path) {
  struct stat st;
  if (path.empty() || ::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  Result<std::string> text = read_file(path, kMaxRecordBytes);
  if (!text.ok()) return std::nullopt;
  nlohmann::json record = nlohmann::json::parse(*text, nullptr, false);
  if (!record.is_object()) return std::nullopt;
  return record;
}

// Everything the journals add up to, over ranks and segments.
struct RunTotals {
  const RankJournal* lead = nullptr;  // rank 0, or the lowest rank present
  const Segment* lead_final = nullptr;
  std::string status;
  uint64_t optimizer_steps = 0;
  JournalCounts spent, kept;
  bool complete = true;
  std::vector<uint32_t> missing;  // ranks of the world without a journal here
  double first_begin = 0, last_line = 0, duration = 0;
  nlohmann::json segments = nlohmann::json::array();
  nlohmann::json gpus = nlohmann::json::array();
  nlohmann::json samplers = nlohmann::json::array();
  nlohmann::json journals = nlohmann::json::object();
  nlohmann::json budget_events = nlohmann::json::array(), other_events = nlohmann::json::array();
  std::vector<std::string> warnings, notes, integrity;
};

void add_unique(std::vector<std::string>& list, const std::string& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

// One segment into the totals: its events, notes, GPUs, and the part of it
// that no saved weights hold.
void add_segment(RunTotals& t, const RankJournal& r, const Segment& s,
                 const std::map<uint64_t, InFinalWeights>& chain, JournalCounts& not_in_weights) {
  t.first_begin = t.first_begin == 0 ? s.t_begin : std::min(t.first_begin, s.t_begin);
  t.last_line = std::max(t.last_line, s.t_last);
  if (&r == t.lead) t.duration += s.t_last - s.t_begin;
  for (const auto& g : s.last_gpus) {
    nlohmann::json one = g;
    one["rank"] = r.rank;
    one["segment"] = s.id;
    one["node"] = s.begin["host"];
    t.gpus.push_back(one);
  }
  if (nlohmann::json sampler = sampler_json(r.rank, s); !sampler.is_null()) t.samplers.push_back(std::move(sampler));
  for (const std::string& n : s.notes) add_unique(t.notes, n);
  for (const auto& e : s.events) {
    const std::string kind = e["kind"].get<std::string>();
    nlohmann::json event = {{"rank", r.rank}, {"segment", s.id}, {"kind", kind}, {"message", e["message"]}};
    if (kind == "integrity" || kind == "undercount" || kind == "journal_gap" || kind == "journal_write_failed" ||
        kind == "checkpoint_not_journaled") {
      add_unique(t.warnings, "rank " + std::to_string(r.rank) + " segment " + std::to_string(s.id) + ": " +
                                 e["message"].get<std::string>());
    }
    (kind.starts_with("budget_") ? t.budget_events : t.other_events).push_back(std::move(event));
  }
  JournalCounts lost = s.final;
  std::string reason = "no later segment resumed from it (a resume without a checkpoint line)";
  if (auto in = chain.find(s.id); in != chain.end()) {
    lost.subtract(s.counts_at(in->second.through_seq));
    reason = in->second.reason;
  }
  not_in_weights.add(lost);
  t.segments.push_back({{"rank", r.rank},
                        {"segment", s.id},
                        {"status", s.status},
                        {"host", s.begin["host"]},
                        {"pid", s.begin["pid"]},
                        {"world_size", s.begin["world_size"]},
                        {"started_at", iso_time(s.t_begin)},
                        {"last_line_at", iso_time(s.t_last)},
                        {"last_step", s.last_step},
                        {"spent", counts_json(s.final)},
                        {"not_in_final_weights",
                         {{"tokens", to_decimal(lost.tokens)},
                          {"reason", reason.empty() ? nlohmann::json() : nlohmann::json(reason)}}},
                        {"resumed_from", s.begin.contains("resumed_from") ? s.begin["resumed_from"] : nlohmann::json()}});
  if (!s.ended && s.status == "crashed") {
    t.notes.push_back("rank " + std::to_string(r.rank) + " segment " + std::to_string(s.id) +
                      " has no end line: its process died; compute after its last journal line (" + iso_time(s.t_last) +
                      ") is not recorded");
  }
}

Result<RunTotals> add_up(const std::map<uint32_t, RankJournal>& ranks, const std::string& run_dir,
                         const MeterOptions& options, const EndOptions* end) {
  RunTotals t;
  const RecordPins pins = read_record_pins(run_dir, options.output);
  t.lead = &ranks.begin()->second;
  t.lead_final = &t.lead->segments.rbegin()->second;
  std::map<uint64_t, std::vector<uint32_t>> ranks_by_world_size;
  // The ranks' final segments' counts; what earlier segments spent; what no
  // saved weights hold (a segment's counts after the line its successor
  // resumed from, or after the checkpoint an unfinished final segment left).
  JournalCounts final_counts, spent_before_final, not_in_weights;
  bool all_ended = true;
  for (const auto& [rank, r] : ranks) {
    const JournalContents& c = r.contents;
    t.journals[std::to_string(rank)] = {{"file", journal_file_name(rank)},
                                        {"last_sha256", c.last_sha256},
                                        {"lines", c.line_sha256.size()},
                                        {"torn_tail_dropped", c.torn_tail}};
    if (c.torn_tail && c.tail_problem == kUnterminatedLine) {
      t.notes.push_back("rank " + std::to_string(rank) + ": a torn last journal line (a crash while writing it) was dropped");
    }
    for (std::string& p : journal_integrity_problems(rank, c, pins)) add_unique(t.integrity, p);
    FM_ASSIGN_OR_RETURN(auto chain, final_weights_chain(r));
    for (const auto& [id, s] : r.segments) {
      if (id != r.segments.rbegin()->first) spent_before_final.add(s.final);
      add_segment(t, r, s, chain, not_in_weights);
    }
    const Segment& final_segment = r.segments.rbegin()->second;
    all_ended = all_ended && final_segment.ended;
    if (final_segment.status != "completed" && final_segment.status != "running" && !final_segment.last_checkpoint) {
      t.notes.push_back("rank " + std::to_string(rank) + " segment " + std::to_string(final_segment.id) + " ended " +
                        final_segment.status + " without a checkpoint line: which of its compute saved weights hold is "
                        "unknown, and tokens.in_final_weights counts all of it");
    }
    ranks_by_world_size[final_segment.begin["world_size"].get<uint64_t>()].push_back(rank);
    if (&r == t.lead) {
      t.status = final_segment.status;
      t.optimizer_steps = final_segment.last_step;
    }
    final_counts.add(final_segment.final);
  }
  if (end != nullptr) t.status = end->status;
  if (ranks_by_world_size.size() > 1) {
    std::string says;
    for (const auto& [size, members] : ranks_by_world_size) {
      says += (says.empty() ? "" : "; ") + std::string(members.size() == 1 ? "rank " : "ranks ") + join_ranks(members) +
              (members.size() == 1 ? " says " : " say ") + std::to_string(size);
    }
    t.warnings.push_back("the ranks' journals disagree on the world size (" + says + "): the record takes rank " +
                         std::to_string(t.lead->rank) + "'s (" + std::to_string(options.world_size) +
                         ") for gpu_size and the missing ranks, and adds up every journal present");
  }
  // Ranks whose journals are not here: the collective's totals stand in.
  for (uint32_t rank = 0; rank < options.world_size; ++rank)
    if (!ranks.count(rank)) t.missing.push_back(rank);
  t.complete = t.missing.empty() && all_ended;
  if (end != nullptr && end->world_tokens) {
    if (!t.missing.empty()) {
      JournalCounts world;
      world.tokens = *end->world_tokens;
      world.positions = end->world_positions.value_or(*end->world_tokens);
      world.micro_batches = end->world_micro_batches ? end->world_micro_batches : final_counts.micro_batches;
      world.sequences = end->world_sequences.empty() ? final_counts.sequences : end->world_sequences;
      t.notes.push_back("the journals of " + std::to_string(t.missing.size()) +
                        " rank(s) are not in this directory; the ending segment's totals come from the training "
                        "job's all-reduce at train end");
      final_counts = world;
      t.missing.clear();
      t.complete = all_ended;
    } else if (*end->world_tokens != final_counts.tokens) {
      t.warnings.push_back("the all-reduced token total (" + to_decimal(*end->world_tokens) +
                           ") differs from the journals' ending segments (" + to_decimal(final_counts.tokens) + ")");
    }
  }
  t.spent = spent_before_final;
  t.spent.add(final_counts);
  t.kept = t.spent;
  t.kept.subtract(not_in_weights);
  if (!t.missing.empty()) {
    t.warnings.push_back("journals of rank(s) " + join_ranks(t.missing) + " of " + std::to_string(options.world_size) +
                         " are missing: the totals cover only the ranks present; merge the other ranks' run "
                         "directories (merge)");
  }
  return t;
}

// The GPUs' figures over every node and segment.
struct HardwareSummary {
  bool have_gpus = false;
  double bound = 0, util_weighted = 0;
  std::string gpu_name;  // distinct names, sorted, joined
  std::optional<uint32_t> gpu_rank;  // the lowest rank with GPU data
  std::string sampler_state;
  // Every segment of every node's sampling rank was sampled: the bound is
  // an upper bound of the whole run's executed FLOP.
  bool covers_run = false;
};

// What the integration counted as it dispatched each product, beside each
// formula's figure for the same run (negative: the formula is below).
nlohmann::json executed_json(const std::optional<ExecutedFlop>& e, const FlopsEstimate& flops,
                             const HardwareSummary& h) {
  if (!e) return nullptr;
  const Flop trained = e->forward + e->backward;
  auto error_pct = [&](Flop figure) -> nlohmann::json {
    if (trained == 0) return nullptr;
    return 100.0 * (to_double(figure) - to_double(trained)) / to_double(trained);
  };
  return {{"forward", to_decimal(e->forward)},
          {"backward", to_decimal(e->backward)},
          {"recompute", to_decimal(e->recompute)},
          {"trained", to_decimal(trained)},
          {"trained_flop", to_double(trained)},
          {"counted_by", "the trainer, each matrix product as it dispatched it (2 FLOP per multiply-add, from the "
                         "operands' shapes); backward products run only where autograd needs them"},
          {"formula_error_pct",
           {{"eu_6nd", error_pct(flops.eu_6nd)},
            {"peft_aware", error_pct(flops.peft_aware)},
            {"detailed", flops.detailed.available ? error_pct(flops.detailed.total()) : nlohmann::json()}}},
          {"hardware_bound_over_executed",
           h.have_gpus && trained + e->recompute > 0 ? nlohmann::json(h.bound / to_double(trained + e->recompute))
                                                     : nlohmann::json()}};
}

HardwareSummary summarize_hardware(const RunTotals& t, const std::map<uint32_t, RankJournal>& ranks) {
  HardwareSummary h;
  std::set<std::string> names;
  for (const auto& g : t.gpus) {
    h.bound += g.value("bound_flop", 0.0);
    h.util_weighted += g.value("utilization_flop", 0.0);
    names.insert(g.value("name", std::string()));
    h.gpu_rank = std::min(h.gpu_rank.value_or(UINT32_MAX), g["rank"].get<uint32_t>());
  }
  h.have_gpus = !t.gpus.empty();
  for (const std::string& n : names) h.gpu_name += (h.gpu_name.empty() ? "" : ", ") + n;
  // One state for the run, the first that applies: sampled on some node;
  // unavailable (with why); sampled by another rank, whose journal is not
  // here; not requested.
  h.sampler_state = "not requested (nvml / FLOPS_METER_NVML=1)";
  for (const auto& sampler : t.samplers) {
    const std::string state = sampler["state"].get<std::string>();
    if (state == "sampled" || h.sampler_state == "sampled") {
      h.sampler_state = "sampled";
    } else if (state.starts_with("unavailable: ") || !h.sampler_state.starts_with("unavailable: ")) {
      h.sampler_state = state;
    }
  }
  h.covers_run = h.have_gpus && t.complete;
  for (const auto& [rank, r] : ranks) {
    for (const auto& [id, s] : r.segments) {
      if (s.begin.value("local_rank", uint64_t{0}) != 0) continue;
      const nlohmann::json& sampler = s.begin.contains("sampler") ? s.begin["sampler"] : nlohmann::json();
      h.covers_run = h.covers_run && sampler.is_object() && sampler.value("enabled", false);
    }
  }
  return h;
}

// Why the modification's compute cannot be established from the counts,
// if it cannot: a job that exposed no token count, or steps without tokens.
std::optional<UnknownModification> unknown_modification(const RunTotals& t, const HardwareSummary& h) {
  std::optional<UnknownModification> unknown;
  const std::string& source = t.lead_final->token_source;
  const bool trained = t.optimizer_steps > 0 || t.spent.positions > 0 || t.spent.micro_batches.value_or(0) > 0;
  if (source == "none") {
    unknown.emplace();
    unknown->reason = "the job exposed no token count (watch was given no token source), so its compute is unknown";
  } else if (source == "watch" && t.spent.tokens == 0) {
    unknown.emplace();
    unknown->reason = "the job's token source never gave a count, so its compute is unknown";
  } else if (t.spent.tokens == 0 && trained) {
    unknown.emplace();
    unknown->reason = std::to_string(t.optimizer_steps) + " optimizer steps ran but no tokens were counted (token "
                      "source: " + source + "), so the compute is unknown";
  }
  if (unknown && h.covers_run && std::isfinite(h.bound) && h.bound < 1e38) {
    unknown->upper_bound = static_cast<Flop>(std::ceil(h.bound));
    unknown->upper_bound_name = "hardware bound";
  }
  return unknown;
}

nlohmann::json budget_json(const MeterOptions& options, const ModificationThreshold& threshold, const Flop& compliance,
                           bool undetermined, const RunTotals& t, std::vector<std::string>& warnings) {
  if (!options.budget_flop && !options.budget_fraction) return nullptr;
  Result<std::optional<Flop>> limit = budget_limit(options, threshold);
  if (!limit.ok() || !*limit) return nullptr;
  const Flop budget_flop = **limit;
  if (!undetermined && compliance > budget_flop) {
    warnings.push_back("the run spent " + sci(compliance, 3) + " FLOP, over its budget of " + sci(budget_flop, 3) +
                       " FLOP");
  }
  return {{"budget_flop", to_double(budget_flop)},
          {"budget_exact", to_decimal(budget_flop)},
          {"basis", options.budget_flop ? "absolute" : "fraction_of_eu_modification_threshold"},
          {"fraction", nullable(options.budget_fraction)},
          {"fraction_exact", options.budget_fraction ? nlohmann::json(budget_fraction_decimal(*options.budget_fraction))
                                                     : nlohmann::json()},
          {"used_fraction", undetermined || budget_flop == 0 ? nlohmann::json()
                                                             : nlohmann::json(to_double(compliance) / to_double(budget_flop))},
          {"stopped_by_budget", t.status == "stopped_by_budget"},
          {"guard", options.max_length && options.micro_batch_size && options.grad_accum
                        ? "declared: no step costs more than max-length, micro-batch-size and grad-accum allow, so a "
                          "run the guard stops stays within its budget"
                        : "predicted: the guard looked ahead by the costliest step so far; a costlier step can "
                          "overrun (declare max-length, micro-batch-size and grad-accum for a guarantee)"},
          {"events", t.budget_events}};
}

// The run's options (the lead's latest begin line) and the accounting they
// resolve to now, checked against what the journal pinned at begin.
struct RunBasis {
  MeterOptions options;
  Catalog catalog;
  RunAccounting accounting;
};

Result<RunBasis> recorded_basis(const Segment& lead_final, const std::string& lead_path, const std::string& run_dir,
                                const ReportOptions& report, std::vector<std::string>& notes) {
  FM_ASSIGN_OR_RETURN(MeterOptions options,
                      meter_options_from_json(lead_final.begin["options"].dump(), lead_path + ": begin options"));
  if (!report.data_dir.empty()) options.data_dir = report.data_dir;
  options.run_dir = run_dir;
  FM_ASSIGN_OR_RETURN(Catalog catalog, Catalog::Load(options.data_dir));
  FM_ASSIGN_OR_RETURN(RunAccounting accounting, resolve_accounting(options, catalog, ModelSource::kRecorded));
  const nlohmann::json& begin = lead_final.begin;
  if (begin.contains("accounting") && begin["accounting"].contains("probe")) {
    const std::vector<std::string> changed = pin_differences(begin["accounting"], accounting_pins(accounting, options));
    if (!changed.empty()) {
      return Status::InvalidArgument(run_dir + ": the run cannot be reported as it was metered: " + join(changed, "; ") +
                                     ". The journal pinned what its figures rest on at begin; restore the model files "
                                     "and data of that time (or the run directory's model_config.json)");
    }
  } else {
    notes.push_back("the journal predates pinned accounting: the model was resolved from the files found now");
  }
  const std::string rules_then = begin.value("rules_version", std::string());
  if (!rules_then.empty() && rules_then != catalog.rules().data_version) {
    notes.push_back("rules data " + printable_text(rules_then) + " at begin, " + catalog.rules().data_version +
                    " now: the regimes are evaluated under the rules of now");
  }
  return RunBasis{std::move(options), std::move(catalog), std::move(accounting)};
}

}  // namespace

std::string iso_time(double unix_seconds) {
  if (!std::isfinite(unix_seconds) || unix_seconds < 0 || unix_seconds > 253402300799.0) unix_seconds = 0;
  const auto whole = static_cast<time_t>(std::floor(unix_seconds));
  const int millis = static_cast<int>((unix_seconds - static_cast<double>(whole)) * 1000.0);
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, std::clamp(millis, 0, 999));
  return text;
}

std::string sampling_not_started(const std::string& why) {
  return "GPU sampling was requested but could not start (" + why +
         "): the run has no hardware bound and no measured energy";
}

nlohmann::json gpu_totals_json(const GpuTotals& g) {
  return {{"index", g.index},
          {"uuid", g.uuid},
          {"name", g.name},
          {"pci_bus_id", g.pci_bus_id},
          {"catalog_id", g.catalog_id},
          {"peak_flop_per_s", g.peak_flop_per_s},
          {"peak_source", g.peak_source},
          {"max_sm_clock_mhz", g.max_sm_clock_mhz},
          {"samples", g.samples},
          {"attributed_seconds", g.attributed_seconds},
          {"bound_flop", g.bound_flop},
          {"utilization_flop", g.utilization_flop},
          {"mean_utilization", g.mean_utilization},
          {"mean_sm_clock_mhz", g.mean_sm_clock_mhz},
          {"max_power_w", g.max_power_w},
          {"energy_j", g.energy_j},
          {"energy_method", g.energy_method},
          {"pids_seen", g.pids_seen},
          {"lost", g.lost},
          {"notes", g.notes}};
}

Result<JournalCounts> journal_spent(const JournalContents& contents, const std::string& path, uint32_t rank) {
  FM_ASSIGN_OR_RETURN(RankJournal r, parse_rank(contents, path, rank));
  JournalCounts all;
  for (const auto& [id, segment] : r.segments) all.add(segment.final);
  return all;
}

RecordPins read_record_pins(const std::string& run_dir, const std::string& record_path) {
  RecordPins pins;
  std::vector<std::string> paths = {join_path(run_dir, kRecordFileName)};
  if (!record_path.empty() && record_path != paths.front()) paths.push_back(record_path);
  for (const std::string& path : paths) {
    const std::optional<nlohmann::json> record = existing_record(path);
    if (!record) continue;
    RecordPins::Record r;
    r.path = path;
    const nlohmann::json& written = record->value("written_at", nlohmann::json());
    r.written_at = written.is_string() ? written.get<std::string>() : "earlier";
    const nlohmann::json& provenance = record->value("provenance", nlohmann::json());
    const nlohmann::json journals = provenance.is_object() ? provenance.value("journals", nlohmann::json()) : nullptr;
    if (!journals.is_object()) continue;
    for (const auto& [key, entry] : journals.items()) {
      const int64_t rank = key.size() <= 9 && !key.empty() && key.find_first_not_of("0123456789") == std::string::npos
                               ? std::stoll(key)
                               : -1;
      const nlohmann::json hash = entry.is_object() ? entry.value("last_sha256", nlohmann::json()) : nullptr;
      if (rank >= 0 && hash.is_string() && !hash.get<std::string>().empty()) {
        r.last_sha256[static_cast<uint32_t>(rank)] = hash.get<std::string>();
      }
    }
    pins.records.push_back(std::move(r));
  }
  return pins;
}

std::vector<std::string> journal_integrity_problems(uint32_t rank, const JournalContents& contents,
                                                    const RecordPins& pins) {
  std::vector<std::string> problems;
  const std::string name = journal_file_name(rank);
  if (contents.torn_tail && contents.tail_problem != kUnterminatedLine) {
    problems.push_back("the last line of " + name + " was dropped: " + contents.tail_problem +
                       "; a crash leaves an unterminated line, so this one was damaged or edited after it was written");
  }
  for (const RecordPins::Record& record : pins.records) {
    const auto pinned = record.last_sha256.find(rank);
    if (pinned == record.last_sha256.end()) continue;
    const auto& hashes = contents.line_sha256;
    if (std::find(hashes.begin(), hashes.end(), pinned->second) != hashes.end()) continue;
    problems.push_back(printable_text(record.path) + " (written " + printable_text(record.written_at) + ") pinned " +
                       name + "'s last line as " + printable_text(pinned->second.substr(0, 16)) +
                       "..., which the journal no longer holds: lines were removed or rewritten after that record "
                       "was written");
  }
  return problems;
}

Status check_resume_pins(const std::vector<nlohmann::json>& lines, const std::string& path, const nlohmann::json& pins) {
  const nlohmann::json* begin = nullptr;
  for (const nlohmann::json& line : lines)
    if (line.is_object() && line.value("kind", nlohmann::json()) == "begin") begin = &line;
  if (begin == nullptr || !begin->contains("accounting") || !(*begin)["accounting"].is_object()) return Status();
  const std::vector<std::string> changed = pin_differences((*begin)["accounting"], pins);
  if (changed.empty()) return Status();
  return Status::InvalidArgument(path + ": the resumed run would count differently from how it began: " +
                                 join(changed, "; ") +
                                 "; resume with the same model, method and base compute, or start a new run directory");
}

Result<RunRecord> build_run_record(const std::string& run_dir, const ReportOptions& report, const EndOptions* end,
                                   const ReportExtras& extras) {
  FM_ASSIGN_OR_RETURN(auto ranks, read_run_journals(run_dir, extras));
  const RankJournal& lead = ranks.begin()->second;
  std::vector<std::string> basis_notes;
  FM_ASSIGN_OR_RETURN(RunBasis basis,
                      recorded_basis(lead.segments.rbegin()->second, lead.path, run_dir, report, basis_notes));
  const MeterOptions& options = basis.options;
  const RunAccounting& acc = basis.accounting;
  FM_ASSIGN_OR_RETURN(RunTotals t, add_up(ranks, run_dir, options, end));
  std::vector<std::string> warnings = acc.notes;
  for (std::string& w : t.warnings) warnings.push_back(std::move(w));
  for (const std::string& p : t.integrity) warnings.push_back("integrity: " + p);
  std::vector<std::string> notes = std::move(t.notes);
  for (std::string& n : basis_notes) notes.push_back(std::move(n));

  const HardwareSummary h = summarize_hardware(t, ranks);
  if (h.sampler_state.starts_with("unavailable: ")) {
    warnings.push_back(sampling_not_started(h.sampler_state.substr(std::string("unavailable: ").size())));
  }
  const std::optional<UnknownModification> unknown = unknown_modification(t, h);
  const Workload spent_workload = workload_of(t.spent, options, t.optimizer_steps);
  FM_ASSIGN_OR_RETURN(FlopsEstimate flops, run_flops(acc, spent_workload));
  Assessment a = assess(flops, options.compliance_formula, acc.base,
                        {options.prior_modifications, options.prior_modifications_undetermined},
                        basis.catalog.rules(), unknown);
  FM_ASSIGN_OR_RETURN(FlopsEstimate kept_flops, run_flops(acc, workload_of(t.kept, options, t.optimizer_steps)));
  const Flop kept_flop = formula_figure(kept_flops, a.formula);
  for (std::string& w : a.warnings) warnings.push_back(std::move(w));
  FM_ASSIGN_OR_RETURN(ModificationThreshold threshold, eu_modification_threshold(basis.catalog.rules(), acc.base));

  bool exceeds_in_force = false;
  std::optional<bool> exceeds_eu;
  nlohmann::json regimes = nlohmann::json::array();
  for (const RuleResult& rr : a.regimes) {
    regimes.push_back(regime_record_json(rr));
    exceeds_in_force = exceeds_in_force || (rr.in_force && rr.exceeds);
    if (rr.regime_id == "eu_modification" && rr.determinate) exceeds_eu = rr.exceeds;
  }
  const bool undetermined = unknown.has_value();
  std::optional<double> pct;
  if (acc.base.flop && *acc.base.flop > 0 && !undetermined) {
    pct = 100.0 * to_double(a.compliance_flop) / to_double(*acc.base.flop);
  }
  const RegimeOutcomes outcomes{"", compliance_formula_name(a.formula), a.regimes, t.spent.tokens, undetermined,
                                undetermined ? unknown->reason : ""};
  const std::vector<GateTrip> default_trips = gate_trips(GateSpec{}, {outcomes});
  auto figure = [&](const nlohmann::json& value) { return undetermined ? nlohmann::json() : value; };
  nlohmann::json budget = budget_json(options, threshold, a.compliance_flop, undetermined, t, warnings);

  // Provenance: the begin line's hashes and options, the journals' final hashes.
  const nlohmann::json& begin = t.lead_final->begin;
  nlohmann::json provenance = begin.contains("provenance") ? begin["provenance"] : nlohmann::json::object();
  for (const char* file_key : {"recipe", "datasets", "model_config"}) {
    if (!provenance.contains(file_key)) provenance[file_key] = nullptr;
  }
  provenance["options"] = begin["options"];
  provenance["options"].erase("command");  // provenance.command already holds it
  provenance["journals"] = t.journals;
  provenance["rules_version"] = basis.catalog.rules().data_version;
  provenance["data_sources"] = basis.catalog.sources();
  provenance["tool_version_at_begin"] = begin.value("tool_version", std::string());
  provenance["accounting_pinned"] = begin.contains("accounting") ? begin["accounting"] : nlohmann::json();

  nlohmann::json record = {
      {"schema", kRunSchema},
      {"schema_version", 3},
      {"tool", {{"name", "flopsmeter"}, {"version", FLOPSMETER_VERSION_STRING}}},
      // The AWS toolkit's fields: same names, meanings fixed (docs/meter.md).
      {"N_total", acc.n_total},
      {"N_trainable", acc.n_trainable},
      {"tokens_processed", count_json(t.spent.tokens)},
      {"Flops_architecture", figure(to_double(flops.peft_aware))},
      {"Flops_hardware", h.have_gpus ? nlohmann::json(h.bound) : nlohmann::json()},
      {"pct_of_pretrain", nullable(pct)},
      {"exceeds_30pct", exceeds_eu ? nlohmann::json(*exceeds_eu) : nlohmann::json()},
      {"model_name", options.model_name},
      {"num_epochs", options.epochs ? nlohmann::json(*options.epochs) : nlohmann::json()},
      {"training_duration_seconds", t.duration},
      {"gpu_size", options.world_size},
      {"gpu_rank", h.gpu_rank ? nlohmann::json(*h.gpu_rank) : nlohmann::json()},
      {"Flops_original", acc.base.flop ? nlohmann::json(to_double(*acc.base.flop)) : nlohmann::json()},
      {"threshold_type", threshold.basis},
      {"threshold_value", threshold.threshold_flop.to_double()},
      {"training_job_name", options.job_name},
      {"training_id", options.training_id},
      {"recipe_config", options.recipe},
      {"recipe_config_details",
       options.recipe_details.empty() ? nlohmann::json() : nlohmann::json::parse(options.recipe_details, nullptr, false)},
      {"gpu_name", h.have_gpus ? nlohmann::json(h.gpu_name) : nlohmann::json()},
      {"instance_type", options.instance_type},
      {"model_package_group_name", options.model_package_group},
      // flopsmeter's additions.
      {"run_id", begin["run_id"]},
      {"status", t.status},
      {"complete", t.complete},
      {"started_at", iso_time(t.first_begin)},
      {"ended_at", iso_time(t.last_line)},
      {"verdict",
       {{"determined", !undetermined},
        {"undetermined_reason", undetermined ? nlohmann::json(unknown->reason) : nlohmann::json()},
        {"upper_bound", undetermined && unknown->upper_bound ? nlohmann::json(to_decimal(*unknown->upper_bound))
                                                              : nlohmann::json()},
        {"headlines", verdict_headlines({outcomes})},
        {"text", verdict_text({outcomes})},
        {"gate_trips", gate_trips_json(default_trips)}}},
      {"integrity",
       {{"problems", t.integrity},
        {"proves",
         "each journal line is unchanged since a meter (or someone able to recompute the hash chain) wrote it; "
         "lines removed from the end, or a chain rewritten whole, show only against a record that pinned the "
         "journals' last lines (flops_meter.json's provenance.journals) or a signed ledger"}}},
      {"exact",
       {{"tokens_processed", to_decimal(t.spent.tokens)},
        {"Flops_architecture", figure(to_decimal(flops.peft_aware))},
        {"threshold_value", threshold.threshold_flop.to_string()},
        {"threshold_value_rational", rational_json(threshold.threshold_flop)},
        {"compliance_flop", figure(to_decimal(a.compliance_flop))}}},
      {"tokens",
       {{"source", t.lead_final->token_source},
        {"spent", counts_json(t.spent)},
        {"in_final_weights", counts_json(t.kept)},
        {"not_in_final_weights", to_decimal(t.spent.tokens - t.kept.tokens)},
        {"optimizer_steps", t.optimizer_steps},
        {"distinct_sequence_lengths", t.spent.sequences.size()}}},
      {"executed", executed_json(t.spent.executed, flops, h)},
      {"model",
       {{"ref", options.model},
        {"counts_source", acc.counts_source},
        {"method", method_name(options.method.kind)},
        {"attention", options.attention_name.empty() ? attention_kernel_name(options.kernel) : options.attention_name},
        {"attention_kernel", attention_kernel_name(options.kernel)},
        {"gradient_checkpointing", options.gradient_checkpointing},
        {"checkpoint_mode", options.gradient_checkpointing ? nlohmann::json(checkpoint_mode_name(options.checkpoint_mode))
                                                           : nlohmann::json()}}},
      {"compliance",
       {{"formula", compliance_formula_name(a.formula)},
        {"flop", figure(to_double(a.compliance_flop))},
        {"exact", figure(to_decimal(a.compliance_flop))},
        {"in_final_weights_flop", figure(to_double(kept_flop))},
        {"in_final_weights_exact", figure(to_decimal(kept_flop))},
        {"note", "the regimes compare all compute spent, including compute that is not in the final weights (the "
                 "conservative figure); in_final_weights is what the final weights were trained with"}}},
      {"base_model_compute",
       {{"flop", acc.base.flop ? nlohmann::json(to_double(*acc.base.flop)) : nlohmann::json()},
        {"exact", acc.base.flop ? nlohmann::json(to_decimal(*acc.base.flop)) : nlohmann::json()},
        {"status", acc.base_status},
        {"source", acc.base.source},
        {"systemic_risk", acc.base.systemic_risk}}},
      {"eu_modification_threshold",
       {{"threshold_flop", threshold.threshold_flop.to_double()},
        {"threshold_exact", threshold.threshold_flop.to_string()},
        {"threshold_rational", rational_json(threshold.threshold_flop)},
        {"basis", threshold.basis},
        {"explanation", threshold.explanation}}},
      {"regimes", regimes},
      {"budget", budget},
      {"events", t.other_events},
      {"hardware",
       {{"sampler", h.sampler_state},
        {"samplers", t.samplers},
        {"bound_flop", h.have_gpus ? nlohmann::json(h.bound) : nlohmann::json()},
        {"bound_covers_run", h.covers_run},
        {"utilization_weighted_flop", h.have_gpus ? nlohmann::json(h.util_weighted) : nlohmann::json()},
        {"formula", "bound = sum over GPUs of the integral of peak(dtype, SM clock) dt (U = 1, an upper bound on "
                    "executed FLOP); utilization_weighted multiplies by NVML utilization.gpu, the share of time a "
                    "kernel ran, and is not a bound"},
        {"dtype", dtype_name(options.dtype)},
        {"gpus", t.gpus}}},
      {"energy", run_energy_json(t.gpus, basis.catalog.gpus())},
      {"segments", t.segments},
      {"ranks", {{"world_size", options.world_size}, {"journals", ranks.size()}, {"missing", t.missing}}},
      {"provenance", provenance},
      {"warnings", warnings},
      {"notes", notes},
      {"written_at", iso_time(static_cast<double>(std::time(nullptr)))},
  };
  record.update(formulas_json(flops, acc.n_total, acc.n_trainable, spent_workload));
  // formulas_json() rounds through to_double() and leaves out an unavailable
  // detailed count: the record's numbers are correctly rounded, its keys
  // always present; an undetermined run has no figures to show.
  record["flops"]["eu_6nd"] = figure(to_double(flops.eu_6nd));
  record["flops"]["peft_aware"] = figure(to_double(flops.peft_aware));
  record["flops"]["detailed"] = flops.detailed.available ? figure(to_double(flops.detailed.total())) : nullptr;
  if (undetermined || !flops.detailed.available) record["flops_exact"]["detailed"] = nullptr;
  if (undetermined) {
    record["flops_exact"]["eu_6nd"] = nullptr;
    record["flops_exact"]["peft_aware"] = nullptr;
  }

  RunRecord out;
  out.json = record.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  out.status = t.status;
  out.complete = t.complete;
  out.tokens = t.spent.tokens;
  out.compliance_flop = a.compliance_flop;
  out.exceeds_in_force = exceeds_in_force;
  out.undetermined = undetermined;
  out.undetermined_reason = undetermined ? unknown->reason : "";
  out.formula = compliance_formula_name(a.formula);
  out.regimes = a.regimes;
  if (report.write) {
    std::string path = report.output.empty() ? options.output : report.output;
    if (path.empty()) path = join_path(run_dir, kRecordFileName);
    FM_RETURN_IF_ERROR(write_file_atomic(path, out.json));
  }
  return out;
}

Result<RunRecord> report_run(const std::string& run_dir, const ReportOptions& options) {
  return build_run_record(run_dir, options, nullptr);
}

namespace {

// Reports the run `shards` (file name -> (source path, contents)) would make
// in `target`, with the journals `target` already holds, in a directory of
// its own beside `target`, removed afterwards.
Status report_staged(const std::string& target, const std::map<std::string, std::pair<std::string, std::string>>& shards,
                     const ReportOptions& options) {
  const std::string staging = target + ".merging." + std::to_string(::getpid());
  if (::mkdir(staging.c_str(), 0700) != 0) {
    return Status::IoError(staging + ": cannot create a staging directory: " + std::strerror(errno));
  }
  Status status;
  if (is_directory(target)) {
    Result<std::vector<std::string>> names = list_directory(target);
    for (const std::string& name : names.ok() ? *names : std::vector<std::string>()) {
      if (!status.ok() || (journal_rank(name) < 0 && name != kModelConfigSnapshot) || shards.count(name)) continue;
      Result<std::string> text = read_file(join_path(target, name), uint64_t{1} << 30);
      status = text.ok() ? write_file_atomic(join_path(staging, name), *text) : text.status();
    }
    if (!names.ok()) status = names.status();
  }
  for (const auto& [name, shard] : shards) {
    if (status.ok()) status = write_file_atomic(join_path(staging, name), shard.second);
  }
  if (status.ok()) {
    ReportOptions dry = options;
    dry.write = false;
    status = build_run_record(staging, dry, nullptr).status();
  }
  std::error_code ignored;
  std::filesystem::remove_all(staging, ignored);
  return status.ok() ? status : status.WithContext("merge into " + target + " refused, nothing written");
}

}  // namespace

Result<RunRecord> merge_runs(const std::vector<std::string>& sources, const std::string& target,
                             const ReportOptions& options) {
  if (sources.empty()) return Status::InvalidArgument("merge: no source run directories given");
  // Gather and check every shard, each as a report reads it, before copying
  // any: a refused merge leaves the target untouched.
  std::map<std::string, std::pair<std::string, std::string>> shards;  // name -> (path, contents)
  std::string run_id;
  for (const std::string& dir : sources) {
    FM_ASSIGN_OR_RETURN(std::vector<std::string> names, list_directory(dir));
    bool any = false;
    for (const std::string& name : names) {
      const int64_t rank = journal_rank(name);
      if (rank < 0) continue;
      any = true;
      const std::string path = join_path(dir, name);
      FM_ASSIGN_OR_RETURN(JournalContents contents, read_journal(path));
      if (contents.lines.empty()) continue;
      const size_t valid_bytes = contents.valid_bytes;
      FM_ASSIGN_OR_RETURN(RankJournal parsed, parse_rank(std::move(contents), path, static_cast<uint32_t>(rank)));
      const std::string id = parsed.segments.begin()->second.begin["run_id"].get<std::string>();
      if (run_id.empty()) run_id = id;
      if (id != run_id) {
        return Status::InvalidArgument(path + ": belongs to run '" + printable_text(id) + "', not '" +
                                       printable_text(run_id) + "'");
      }
      FM_ASSIGN_OR_RETURN(std::string text, read_file(path, uint64_t{1} << 30));
      text.resize(std::min(text.size(), valid_bytes));
      auto [it, fresh] = shards.emplace(name, std::make_pair(path, text));
      if (!fresh && it->second.second != text) {
        return Status::InvalidArgument(path + " and " + it->second.first + " are different journals of the same rank");
      }
    }
    if (!any) return Status::NotFound(dir + ": no journal-rank<R>.jsonl files");
  }
  for (const auto& [name, shard] : shards) {
    const std::string dest = join_path(target, name);
    if (!is_regular_file(dest)) continue;
    FM_ASSIGN_OR_RETURN(std::string existing, read_file(dest, uint64_t{1} << 30));
    if (existing != shard.second) return Status::InvalidArgument(dest + " already holds a different journal of this rank");
  }
  // The model config's copy travels with the shards: the report reads the
  // model from it, as it was at begin.
  for (const std::string& dir : sources) {
    const std::string snapshot = join_path(dir, kModelConfigSnapshot);
    if (!shards.count(kModelConfigSnapshot) && is_regular_file(snapshot)) {
      FM_ASSIGN_OR_RETURN(std::string text, read_file(snapshot, uint64_t{64} << 20));
      shards[kModelConfigSnapshot] = {snapshot, std::move(text)};
    }
  }
  // The merged run must report before anything reaches the target: it is
  // reported first in a staging directory beside it.
  FM_RETURN_IF_ERROR(report_staged(target, shards, options));
  if (!is_directory(target)) {
    if (::mkdir(target.c_str(), 0755) != 0) return Status::IoError(target + ": cannot create: " + std::strerror(errno));
  }
  for (const auto& [name, shard] : shards) {
    const std::string dest = join_path(target, name);
    if (!is_regular_file(dest)) FM_RETURN_IF_ERROR(write_file_atomic(dest, shard.second));
  }
  ReportOptions write = options;
  write.write = true;
  return build_run_record(target, write, nullptr);
}

}  // namespace flopsmeter
