#include "api/run_report.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "adapters/files.h"
#include "api/assessment.h"
#include "api/journal.h"
#include "api/meter_options.h"
#include "api/report_format.h"
#include "api/run_accounting.h"
#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

struct Checkpoint {
  uint64_t seq = 0;
  uint64_t step = 0;
};

struct Segment {
  uint64_t id = 0;
  nlohmann::json begin;
  // Per line, keyed by seq: the cumulative scalars and the sequence lengths
  // added since the line before. Cumulative histograms per line would grow
  // with lines x distinct lengths; counts_at() sums the deltas instead.
  std::map<uint64_t, JournalCounts> lines;
  JournalCounts final;              // cumulative at the last line
  nlohmann::json last_gpus;  // the sampler's cumulative totals at the last line
  nlohmann::json sampler_notes = nlohmann::json::array();  // the sampler's, as of the last line that had them
  double t_begin = 0, t_last = 0;
  uint64_t last_step = 0;
  std::optional<Checkpoint> last_checkpoint;
  bool ended = false;
  std::string status;  // the end line's status, else "crashed" or "running"
  // The begin line's MeterOptions::token_source, refined by the end line's.
  std::string token_source;
  bool micro_batches_known = true;  // the integration counts them (add() per micro-batch)
  nlohmann::json events = nlohmann::json::array();  // {"kind", "message"}
  std::vector<std::string> notes;                    // the caller's observations, from the end line

  // Cumulative counts at the last line with a seq <= `seq`.
  JournalCounts counts_at(uint64_t seq) const {
    JournalCounts c;
    auto end = lines.upper_bound(seq);
    if (end == lines.begin()) return c;
    const JournalCounts& at = std::prev(end)->second;
    c.tokens = at.tokens;
    c.positions = at.positions;
    c.micro_batches = at.micro_batches;
    for (auto it = lines.begin(); it != end; ++it)
      for (const auto& [len, n] : it->second.sequences) c.sequences[len] += n;
    return c;
  }
};

struct RankJournal {
  uint32_t rank = 0;
  std::string path;
  std::string last_sha256;
  bool torn_tail = false;
  std::string tail_problem;
  std::map<uint64_t, Segment> segments;
};


Result<Flop> decimal_field(const nlohmann::json& line, const char* key, const std::string& where) {
  if (!line.contains(key)) return Flop{0};
  const auto& v = line[key];
  if (v.is_number_unsigned()) return Flop{v.get<uint64_t>()};
  if (v.is_string()) return parse_exact_integer(v.get<std::string>(), where + ": " + key);
  return Status::ParseError(where + ": field '" + key + "': expected a whole number");
}

bool process_alive(const nlohmann::json& begin) {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) return false;
  if (begin.value("host", std::string()) != host || !begin.contains("pid")) return false;
  const auto pid = begin["pid"].get<int64_t>();
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

// One rank's journal, read from `contents` (whose file is `path`), by segment.
Result<RankJournal> parse_rank(const JournalContents& contents, const std::string& path, uint32_t rank) {
  RankJournal r;
  r.rank = rank;
  r.path = path;
  r.last_sha256 = contents.last_sha256;
  r.torn_tail = contents.torn_tail;
  r.tail_problem = contents.tail_problem;
  Segment* current = nullptr;
  for (const nlohmann::json& line : contents.lines) {
    const uint64_t seq = line["seq"].get<uint64_t>();
    const std::string where = path + ":" + std::to_string(seq + 1);
    const std::string kind = line.value("kind", std::string());
    if (!line.contains("segment") || !line["segment"].is_number_unsigned()) {
      return Status::ParseError(where + ": field 'segment': expected a whole number");
    }
    const uint64_t segment = line["segment"].get<uint64_t>();
    const double t = line.value("t", 0.0);
    if (kind == "begin") {
      if (r.segments.count(segment)) return Status::ParseError(where + ": segment " + std::to_string(segment) + " begins twice");
      Segment& s = r.segments[segment];
      s.id = segment;
      s.begin = line;
      s.t_begin = s.t_last = t;
      s.token_source = line.value("token_source", kIntegrationTokenSource);
      s.micro_batches_known = s.token_source == kIntegrationTokenSource;
      if (!s.micro_batches_known) s.final.micro_batches = std::nullopt;
      s.lines[seq] = s.final;
      const nlohmann::json& sampler = line.contains("sampler") ? line["sampler"] : nlohmann::json();
      if (sampler.is_object() && sampler.contains("notes")) s.sampler_notes = sampler["notes"];
      s.status = process_alive(line) ? "running" : "crashed";
      current = &s;
      continue;
    }
    if (current == nullptr || current->id != segment) {
      return Status::ParseError(where + ": a '" + kind + "' line of segment " + std::to_string(segment) +
                                " outside that segment");
    }
    if (kind != "progress" && kind != "checkpoint" && kind != "end") {
      return Status::ParseError(where + ": field 'kind': unknown kind '" + kind + "'");
    }
    JournalCounts c;  // scalars cumulative, sequences this line's delta
    FM_ASSIGN_OR_RETURN(c.tokens, decimal_field(line, "tokens", where));
    FM_ASSIGN_OR_RETURN(c.positions, decimal_field(line, "positions", where));
    // A source that does not count micro-batches journals 0 for them: unknown.
    if (current->micro_batches_known) {
      c.micro_batches = line.value("micro_batches", uint64_t{0});
    } else {
      c.micro_batches = std::nullopt;
    }
    if (line.contains("sequences")) {
      for (const auto& pair : line["sequences"]) {
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_unsigned() || !pair[1].is_number_unsigned()) {
          return Status::ParseError(where + ": field 'sequences': expected [length, count] pairs");
        }
        c.sequences[pair[0].get<uint64_t>()] += pair[1].get<uint64_t>();
      }
    }
    current->final.tokens = c.tokens;
    current->final.positions = c.positions;
    current->final.micro_batches = c.micro_batches;
    for (const auto& [len, n] : c.sequences) current->final.sequences[len] += n;
    current->lines[seq] = std::move(c);
    current->last_step = line.value("step", current->last_step);
    current->t_last = t;
    if (kind == "checkpoint") current->last_checkpoint = Checkpoint{seq, current->last_step};
    if (line.contains("gpus")) current->last_gpus = line["gpus"];
    if (line.contains("sampler_notes")) current->sampler_notes = line["sampler_notes"];
    if (line.contains("events")) {
      for (const auto& e : line["events"]) {
        if (!e.is_object() || !e.contains("kind") || !e["kind"].is_string() || !e.contains("message") ||
            !e["message"].is_string()) {
          return Status::ParseError(where + ": field 'events': expected {\"kind\", \"message\"} objects");
        }
        current->events.push_back(e);
      }
    }
    if (kind == "end") {
      for (const auto& n : line.value("notes", nlohmann::json::array())) {
        if (!n.is_string()) return Status::ParseError(where + ": field 'notes': expected strings");
        current->notes.push_back(n.get<std::string>());
      }
      current->ended = true;
      current->status = line.value("status", std::string("completed"));
      current->token_source = line.value("token_source", current->token_source);
      current = nullptr;  // nothing may follow an end line but a new segment
    }
  }
  if (r.segments.empty()) return Status::ParseError(path + ": no begin line");
  return r;
}

Result<RankJournal> load_rank(const std::string& path, uint32_t rank) {
  FM_ASSIGN_OR_RETURN(JournalContents contents, read_journal(path));
  return parse_rank(contents, path, rank);
}

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
Result<std::map<uint64_t, InFinalWeights>> final_weights_chain(const RankJournal& r) {
  std::map<uint64_t, InFinalWeights> chain;
  const Segment& final = r.segments.rbegin()->second;
  InFinalWeights in{final.lines.rbegin()->first, ""};
  if (final.status != "completed" && final.status != "running" && final.last_checkpoint) {
    in = {final.last_checkpoint->seq, final.status + " after its last checkpoint (step " +
                                          std::to_string(final.last_checkpoint->step) +
                                          "): the final weights are that checkpoint's"};
  }
  for (uint64_t segment = final.id;;) {
    chain[segment] = in;
    const nlohmann::json from = r.segments.at(segment).begin.value("resumed_from", nlohmann::json());
    if (!from.is_object()) break;
    const uint64_t from_segment = from.value("segment", uint64_t{0}), from_seq = from.value("seq", uint64_t{0});
    if (from_segment >= segment) {
      return Status::ParseError(r.path + ": segment " + std::to_string(segment) + " resumes from a later segment");
    }
    auto earlier = r.segments.find(from_segment);
    if (earlier == r.segments.end()) {
      return Status::ParseError(r.path + ": resumed_from names segment " + std::to_string(from_segment) +
                                ", which is not there");
    }
    if (from_seq < earlier->second.lines.begin()->first) {
      return Status::ParseError(r.path + ": resumed_from names a line before its segment");
    }
    in = {from_seq, "segment " + std::to_string(segment) + " resumed from its " +
                        (from.value("exact", false) ? "checkpoint" : "journal line (no checkpoint line there)") +
                        " at step " + std::to_string(from.value("step", uint64_t{0}))};
    segment = from_segment;
  }
  return chain;
}

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

// {"num": "1000...", "den": "3"} in lowest terms: the machine form of a
// threshold, so that readers never parse Fraction::to_string()'s "(~...)".
nlohmann::json rational_json(const Fraction& f) {
  const Fraction r = f.reduced();
  return {{"num", to_decimal(r.num)}, {"den", to_decimal(r.den)}};
}

std::string join_ranks(const std::vector<uint32_t>& ranks) {
  std::string list;
  for (uint32_t r : ranks) list += (list.empty() ? "" : ", ") + std::to_string(r);
  return list;
}

// A regime as rule_result_json() writes it, with the record's conventions:
// correctly rounded numbers, the threshold's machine form, every key present.
nlohmann::json regime_json(const RuleResult& rr) {
  nlohmann::json j = rule_result_json(rr);
  j["threshold_rational"] = rational_json(rr.threshold);
  j["compute_flop"] = to_double(rr.compute_flop);
  j["headroom_flop"] = to_double(rr.headroom_flop);
  j["headroom_tokens"] = rr.headroom_tokens ? nlohmann::json(to_double(*rr.headroom_tokens)) : nlohmann::json();
  j["headroom_tokens_exact"] = rr.headroom_tokens ? nlohmann::json(to_decimal(*rr.headroom_tokens)) : nlohmann::json();
  return j;
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
          {"node", s.begin.value("host", std::string())},
          {"local_rank", s.begin.value("local_rank", uint64_t{0})},
          {"state", state},
          {"driver_version", driver.empty() ? nlohmann::json() : nlohmann::json(driver)},
          {"hz", sampled ? sampler.value("hz", nlohmann::json()) : nlohmann::json()},
          {"library", sampled ? sampler.value("library", nlohmann::json()) : nlohmann::json()},
          {"notes", s.sampler_notes}};
}

}  // namespace

std::string iso_time(double unix_seconds) {
  const auto whole = static_cast<time_t>(std::floor(unix_seconds));
  const int millis = static_cast<int>((unix_seconds - static_cast<double>(whole)) * 1000.0);
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, std::clamp(millis, 0, 999));
  return text;
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

Result<JournalCounts> journal_spent(const JournalContents& contents, const std::string& path) {
  FM_ASSIGN_OR_RETURN(RankJournal r, parse_rank(contents, path, 0));
  JournalCounts all;
  for (const auto& [id, segment] : r.segments) all.add(segment.final);
  return all;
}

Result<RunRecord> build_run_record(const std::string& run_dir, const ReportOptions& report, const EndOptions* end) {
  FM_ASSIGN_OR_RETURN(std::vector<std::string> names, list_directory(run_dir));
  std::map<uint32_t, RankJournal> ranks;
  for (const std::string& name : names) {
    const int64_t rank = journal_rank(name);
    if (rank < 0) continue;
    FM_ASSIGN_OR_RETURN(RankJournal r, load_rank(join_path(run_dir, name), static_cast<uint32_t>(rank)));
    ranks.emplace(static_cast<uint32_t>(rank), std::move(r));
  }
  if (ranks.empty()) {
    return Status::NotFound(run_dir + ": no journal-rank<R>.jsonl files: not a flopsmeter run directory");
  }
  // The run's options are rank 0's (or the lowest rank's) latest begin line.
  const RankJournal& lead = ranks.begin()->second;
  const Segment& lead_final = lead.segments.rbegin()->second;
  const std::string run_id = lead_final.begin.value("run_id", std::string());
  for (const auto& [rank, r] : ranks) {
    for (const auto& [id, s] : r.segments) {
      if (s.begin.value("run_id", std::string()) != run_id) {
        return Status::ParseError(r.path + ": segment " + std::to_string(id) + " belongs to run '" +
                                  s.begin.value("run_id", std::string()) + "', not '" + run_id + "'");
      }
    }
  }
  FM_ASSIGN_OR_RETURN(MeterOptions options,
                      meter_options_from_json(lead_final.begin["options"].dump(), lead.path + ": begin options"));
  if (!report.data_dir.empty()) options.data_dir = report.data_dir;
  options.run_dir = run_dir;
  FM_ASSIGN_OR_RETURN(Catalog catalog, Catalog::Load(options.data_dir));
  FM_ASSIGN_OR_RETURN(RunAccounting acc, resolve_accounting(options, catalog));

  std::vector<std::string> warnings = acc.notes, notes;
  nlohmann::json segments = nlohmann::json::array();
  nlohmann::json gpus = nlohmann::json::array();
  nlohmann::json samplers = nlohmann::json::array();
  nlohmann::json journals = nlohmann::json::object();
  nlohmann::json budget_events = nlohmann::json::array(), other_events = nlohmann::json::array();
  std::map<uint64_t, std::vector<uint32_t>> ranks_by_world_size;
  double first_begin = 0, last_line = 0, duration_rank0 = 0;
  bool all_ended = true;
  std::string status;
  uint64_t optimizer_steps = 0;
  // The ranks' final segments' counts; what earlier segments spent; what no
  // saved weights hold (a segment's counts after the line its successor
  // resumed from, or after the checkpoint an unfinished final segment left).
  JournalCounts final_counts, spent_before_final, not_in_weights;
  for (const auto& [rank, r] : ranks) {
    journals[std::to_string(rank)] = {{"file", journal_file_name(rank)}, {"last_sha256", r.last_sha256},
                                      {"torn_tail_dropped", r.torn_tail}};
    if (r.torn_tail && r.tail_problem == kUnterminatedLine) {
      notes.push_back("rank " + std::to_string(rank) + ": a torn last journal line (a crash while writing it) was dropped");
    } else if (r.torn_tail) {
      // A crash leaves an unterminated line; a complete one that fails was changed.
      warnings.push_back("rank " + std::to_string(rank) + ": the last line of " + journal_file_name(rank) +
                         " was dropped: " + r.tail_problem + "; a crash leaves an unterminated line, so this one was "
                         "damaged or edited after it was written");
    }
    FM_ASSIGN_OR_RETURN(auto chain, final_weights_chain(r));
    for (const auto& [id, s] : r.segments) {
      if (id != r.segments.rbegin()->first) spent_before_final.add(s.final);
      first_begin = first_begin == 0 ? s.t_begin : std::min(first_begin, s.t_begin);
      last_line = std::max(last_line, s.t_last);
      if (rank == lead.rank) duration_rank0 += s.t_last - s.t_begin;
      for (const auto& g : s.last_gpus) {
        nlohmann::json one = g;
        one["rank"] = rank;
        one["segment"] = id;
        one["node"] = s.begin.value("host", std::string());
        gpus.push_back(one);
      }
      if (nlohmann::json sampler = sampler_json(rank, s); !sampler.is_null()) samplers.push_back(std::move(sampler));
      for (const std::string& n : s.notes) {
        if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
      }
      for (const auto& e : s.events) {
        const std::string kind = e["kind"].get<std::string>();
        nlohmann::json event = {{"rank", rank}, {"segment", id}, {"kind", kind}, {"message", e["message"]}};
        (kind.starts_with("budget_") ? budget_events : other_events).push_back(std::move(event));
      }
      // What of this segment no saved weights hold, and why.
      JournalCounts lost = s.final;
      std::string reason = "no later segment resumed from it (a resume without a checkpoint line)";
      if (auto in = chain.find(id); in != chain.end()) {
        lost.subtract(s.counts_at(in->second.through_seq));
        reason = in->second.reason;
      }
      not_in_weights.add(lost);
      nlohmann::json seg = {{"rank", rank},
                            {"segment", id},
                            {"status", s.status},
                            {"host", s.begin.value("host", std::string())},
                            {"pid", s.begin.value("pid", int64_t{0})},
                            {"world_size", s.begin.value("world_size", uint64_t{1})},
                            {"started_at", iso_time(s.t_begin)},
                            {"last_line_at", iso_time(s.t_last)},
                            {"last_step", s.last_step},
                            {"spent", counts_json(s.final)},
                            {"not_in_final_weights",
                             {{"tokens", to_decimal(lost.tokens)},
                              {"reason", reason.empty() ? nlohmann::json() : nlohmann::json(reason)}}},
                            {"resumed_from", s.begin.contains("resumed_from") ? s.begin["resumed_from"] : nlohmann::json()}};
      if (!s.ended && s.status == "crashed") {
        notes.push_back("rank " + std::to_string(rank) + " segment " + std::to_string(id) +
                        " has no end line: its process died; compute after its last journal line (" +
                        iso_time(s.t_last) + ") is not recorded");
      }
      segments.push_back(seg);
    }
    const Segment& final_segment = r.segments.rbegin()->second;
    all_ended = all_ended && final_segment.ended;
    if (final_segment.status != "completed" && final_segment.status != "running" && !final_segment.last_checkpoint) {
      notes.push_back("rank " + std::to_string(rank) + " segment " + std::to_string(final_segment.id) + " ended " +
                      final_segment.status + " without a checkpoint line: which of its compute saved weights hold is "
                      "unknown, and tokens.in_final_weights counts all of it");
    }
    ranks_by_world_size[final_segment.begin.value("world_size", uint64_t{1})].push_back(rank);
    if (rank == lead.rank) {
      status = final_segment.status;
      optimizer_steps = final_segment.last_step;
    }
    final_counts.add(final_segment.final);
  }
  if (end != nullptr) status = end->status;
  if (ranks_by_world_size.size() > 1) {
    std::string says;
    for (const auto& [size, members] : ranks_by_world_size) {
      says += (says.empty() ? "" : "; ") + std::string(members.size() == 1 ? "rank " : "ranks ") + join_ranks(members) +
              (members.size() == 1 ? " says " : " say ") + std::to_string(size);
    }
    warnings.push_back("the ranks' journals disagree on the world size (" + says + "): the record takes rank " +
                       std::to_string(lead.rank) + "'s (" + std::to_string(options.world_size) +
                       ") for gpu_size and the missing ranks, and adds up every journal present");
  }

  // Ranks whose journals are not here: the collective's totals stand in.
  std::vector<uint32_t> missing;
  for (uint32_t rank = 0; rank < options.world_size; ++rank)
    if (!ranks.count(rank)) missing.push_back(rank);
  bool complete = missing.empty() && all_ended;
  // The collective's totals cover the ending segment of every rank.
  if (end != nullptr && end->world_tokens) {
    if (!missing.empty()) {
      JournalCounts world;
      world.tokens = *end->world_tokens;
      world.positions = end->world_positions.value_or(*end->world_tokens);
      world.micro_batches = end->world_micro_batches ? end->world_micro_batches : final_counts.micro_batches;
      world.sequences = end->world_sequences.empty() ? final_counts.sequences : end->world_sequences;
      notes.push_back("the journals of " + std::to_string(missing.size()) +
                      " rank(s) are not in this directory; the ending segment's totals come from the training job's "
                      "all-reduce at train end");
      final_counts = world;
      missing.clear();
      complete = all_ended;
    } else if (*end->world_tokens != final_counts.tokens) {
      warnings.push_back("the all-reduced token total (" + to_decimal(*end->world_tokens) +
                         ") differs from the journals' ending segments (" + to_decimal(final_counts.tokens) + ")");
    }
  }
  JournalCounts spent = spent_before_final;
  spent.add(final_counts);
  JournalCounts kept = spent;
  kept.subtract(not_in_weights);
  if (!missing.empty()) {
    warnings.push_back("journals of rank(s) " + join_ranks(missing) + " of " + std::to_string(options.world_size) +
                       " are missing: the totals cover only the ranks present; merge the other ranks' run directories "
                       "with `flopsmeter merge`");
  }

  FM_ASSIGN_OR_RETURN(FlopsEstimate flops, run_flops(acc, workload_of(spent, options, optimizer_steps)));
  Assessment a = assess(flops, options.compliance_formula, acc.base, options.prior_modifications, catalog.rules());
  FM_ASSIGN_OR_RETURN(FlopsEstimate kept_flops, run_flops(acc, workload_of(kept, options, optimizer_steps)));
  const Flop kept_flop = formula_figure(kept_flops, a.formula);
  for (std::string& w : a.warnings) warnings.push_back(std::move(w));
  FM_ASSIGN_OR_RETURN(ModificationThreshold threshold, eu_modification_threshold(catalog.rules(), acc.base));

  // Hardware: every sampled GPU of every node and segment.
  double bound = 0, util_weighted = 0, energy = 0;
  std::set<std::string> gpu_names, energy_methods;
  std::optional<uint32_t> gpu_rank;  // the lowest rank with GPU data
  for (const auto& g : gpus) {
    bound += g.value("bound_flop", 0.0);
    util_weighted += g.value("utilization_flop", 0.0);
    energy += g.value("energy_j", 0.0);
    gpu_names.insert(g.value("name", std::string()));
    energy_methods.insert(g.value("energy_method", std::string()));
    gpu_rank = std::min(gpu_rank.value_or(UINT32_MAX), g["rank"].get<uint32_t>());
  }
  // One state for the run, the first that applies: sampled on some node;
  // unavailable (with why); sampled by another rank, whose journal is not
  // here; not requested.
  std::string sampler_state = "not requested (--nvml / FLOPS_METER_NVML=1)";
  for (const auto& sampler : samplers) {
    const std::string state = sampler["state"].get<std::string>();
    if (state == "sampled" || sampler_state == "sampled") {
      sampler_state = "sampled";
    } else if (state.starts_with("unavailable: ") || !sampler_state.starts_with("unavailable: ")) {
      sampler_state = state;
    }
  }
  const bool have_gpus = !gpus.empty();
  std::string gpu_name;
  for (const std::string& n : gpu_names) gpu_name += (gpu_name.empty() ? "" : ", ") + n;

  bool exceeds_in_force = false, exceeds_eu = false;
  nlohmann::json regimes = nlohmann::json::array();
  for (const RuleResult& rr : a.regimes) {
    regimes.push_back(regime_json(rr));
    exceeds_in_force = exceeds_in_force || (rr.in_force && rr.exceeds);
    if (rr.regime_id == "eu_modification") exceeds_eu = rr.exceeds;
  }
  std::optional<double> pct;
  if (acc.base.flop && *acc.base.flop > 0) {
    pct = 100.0 * to_double(a.compliance_flop) / to_double(*acc.base.flop);
  }

  nlohmann::json budget;
  if (options.budget_flop || options.budget_fraction) {
    FM_ASSIGN_OR_RETURN(const std::optional<Flop> limit, budget_limit(options, threshold));
    const Flop budget_flop = *limit;
    budget = {{"budget_flop", to_double(budget_flop)},
              {"budget_exact", to_decimal(budget_flop)},
              {"basis", options.budget_flop ? "absolute" : "fraction_of_eu_modification_threshold"},
              {"fraction", nullable(options.budget_fraction)},
              {"fraction_exact", options.budget_fraction ? nlohmann::json(budget_fraction_decimal(*options.budget_fraction))
                                                         : nlohmann::json()},
              {"used_fraction",
               budget_flop > 0 ? to_double(a.compliance_flop) / to_double(budget_flop) : 0.0},
              {"stopped_by_budget", status == "stopped_by_budget"},
              {"events", budget_events}};
  }

  // Provenance: the begin line's hashes and options, the journals' final hashes.
  const nlohmann::json& begin = lead_final.begin;
  nlohmann::json provenance = begin.contains("provenance") ? begin["provenance"] : nlohmann::json::object();
  for (const char* file_key : {"recipe", "datasets", "model_config"}) {
    if (!provenance.contains(file_key)) provenance[file_key] = nullptr;
  }
  provenance["options"] = begin["options"];
  provenance["options"].erase("command");  // provenance.command already holds it
  provenance["journals"] = journals;
  provenance["rules_version"] = catalog.rules().data_version;
  provenance["data_sources"] = catalog.sources();
  provenance["tool_version_at_begin"] = begin.value("tool_version", std::string());

  const double duration = duration_rank0;
  nlohmann::json record = {
      {"schema", kRunSchema},
      {"schema_version", 2},
      {"tool", {{"name", "flopsmeter"}, {"version", FLOPSMETER_VERSION_STRING}}},
      // The AWS toolkit's fields: same names, meanings fixed (docs/meter.md).
      {"N_total", acc.n_total},
      {"N_trainable", acc.n_trainable},
      {"tokens_processed", count_json(spent.tokens)},
      {"Flops_architecture", to_double(flops.peft_aware)},
      {"Flops_hardware", have_gpus ? nlohmann::json(bound) : nlohmann::json()},
      {"pct_of_pretrain", nullable(pct)},
      {"exceeds_30pct", exceeds_eu},
      {"model_name", options.model_name},
      {"num_epochs", options.epochs ? nlohmann::json(*options.epochs) : nlohmann::json()},
      {"training_duration_seconds", duration},
      {"gpu_size", options.world_size},
      {"gpu_rank", gpu_rank ? nlohmann::json(*gpu_rank) : nlohmann::json()},
      {"Flops_original", acc.base.flop ? nlohmann::json(to_double(*acc.base.flop)) : nlohmann::json()},
      {"threshold_type", threshold.basis},
      {"threshold_value", threshold.threshold_flop.to_double()},
      {"training_job_name", options.job_name},
      {"training_id", options.training_id},
      {"recipe_config", options.recipe},
      {"recipe_config_details",
       options.recipe_details.empty() ? nlohmann::json() : nlohmann::json::parse(options.recipe_details)},
      {"gpu_name", have_gpus ? nlohmann::json(gpu_name) : nlohmann::json()},
      {"instance_type", options.instance_type},
      {"model_package_group_name", options.model_package_group},
      // flopsmeter's additions.
      {"run_id", run_id},
      {"status", status},
      {"complete", complete},
      {"started_at", iso_time(first_begin)},
      {"ended_at", iso_time(last_line)},
      {"exact",
       {{"tokens_processed", to_decimal(spent.tokens)},
        {"Flops_architecture", to_decimal(flops.peft_aware)},
        {"threshold_value", threshold.threshold_flop.to_string()},
        {"threshold_value_rational", rational_json(threshold.threshold_flop)},
        {"compliance_flop", to_decimal(a.compliance_flop)}}},
      {"tokens",
       {{"source", lead_final.token_source},
        {"spent", counts_json(spent)},
        {"in_final_weights", counts_json(kept)},
        {"not_in_final_weights", to_decimal(spent.tokens - kept.tokens)},
        {"optimizer_steps", optimizer_steps},
        {"distinct_sequence_lengths", spent.sequences.size()}}},
      {"model",
       {{"ref", options.model},
        {"counts_source", acc.counts_source},
        {"method", method_name(options.method.kind)},
        {"attention", options.attention_name.empty() ? attention_kernel_name(options.kernel) : options.attention_name},
        {"attention_kernel", attention_kernel_name(options.kernel)},
        {"gradient_checkpointing", options.gradient_checkpointing}}},
      {"compliance",
       {{"formula", compliance_formula_name(a.formula)},
        {"flop", to_double(a.compliance_flop)},
        {"exact", to_decimal(a.compliance_flop)},
        {"in_final_weights_flop", to_double(kept_flop)},
        {"in_final_weights_exact", to_decimal(kept_flop)},
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
      {"events", other_events},
      {"hardware",
       {{"sampler", sampler_state},
        {"samplers", samplers},
        {"bound_flop", have_gpus ? nlohmann::json(bound) : nlohmann::json()},
        {"utilization_weighted_flop", have_gpus ? nlohmann::json(util_weighted) : nlohmann::json()},
        {"formula", "bound = sum over GPUs of the integral of peak(dtype, SM clock) dt (U = 1, an upper bound on "
                    "executed FLOP); utilization_weighted multiplies by NVML utilization.gpu, the share of time a "
                    "kernel ran, and is not a bound"},
        {"dtype", dtype_name(options.dtype)},
        {"gpus", gpus}}},
      {"energy",
       {{"joules", have_gpus ? nlohmann::json(energy) : nlohmann::json()},
        {"kwh", have_gpus ? nlohmann::json(energy / 3.6e6) : nlohmann::json()},
        {"mwh", have_gpus ? nlohmann::json(energy / 3.6e9) : nlohmann::json()},
        {"methods", std::vector<std::string>(energy_methods.begin(), energy_methods.end())}}},
      {"segments", segments},
      {"ranks",
       {{"world_size", options.world_size}, {"journals", ranks.size()}, {"missing", missing}}},
      {"provenance", provenance},
      {"warnings", warnings},
      {"notes", notes},
      {"written_at", iso_time(static_cast<double>(std::time(nullptr)))},
  };
  record.update(formulas_json(flops, acc.n_total, acc.n_trainable, workload_of(spent, options, optimizer_steps)));
  // formulas_json() rounds through to_double() and leaves out an unavailable
  // detailed count: the record's numbers are correctly rounded, its keys
  // always present.
  record["flops"]["eu_6nd"] = to_double(flops.eu_6nd);
  record["flops"]["peft_aware"] = to_double(flops.peft_aware);
  if (flops.detailed.available) {
    record["flops"]["detailed"] = to_double(flops.detailed.total());
  } else {
    record["flops_exact"]["detailed"] = nullptr;
  }

  RunRecord out;
  out.json = record.dump(2) + "\n";
  out.status = status;
  out.complete = complete;
  out.tokens = spent.tokens;
  out.compliance_flop = a.compliance_flop;
  out.exceeds_in_force = exceeds_in_force;
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

Result<RunRecord> merge_runs(const std::vector<std::string>& sources, const std::string& target,
                             const ReportOptions& options) {
  if (sources.empty()) return Status::InvalidArgument("merge: no source run directories given");
  // Gather and check every shard before copying any, so a refused merge
  // leaves the target untouched.
  std::map<std::string, std::pair<std::string, std::string>> shards;  // name -> (path, contents)
  std::string run_id;
  for (const std::string& dir : sources) {
    FM_ASSIGN_OR_RETURN(std::vector<std::string> names, list_directory(dir));
    bool any = false;
    for (const std::string& name : names) {
      if (journal_rank(name) < 0) continue;
      any = true;
      const std::string path = join_path(dir, name);
      FM_ASSIGN_OR_RETURN(JournalContents contents, read_journal(path));
      if (contents.lines.empty()) continue;
      const std::string id = contents.lines.front().value("run_id", std::string());
      if (run_id.empty()) run_id = id;
      if (id != run_id) return Status::InvalidArgument(path + ": belongs to run '" + id + "', not '" + run_id + "'");
      FM_ASSIGN_OR_RETURN(std::string text, read_file(path, uint64_t{1} << 30));
      text.resize(contents.valid_bytes);
      auto [it, fresh] = shards.emplace(name, std::make_pair(path, text));
      if (!fresh && it->second.second != text) {
        return Status::InvalidArgument(path + " and " + it->second.first + " are different journals of the same rank");
      }
    }
    if (!any) return Status::NotFound(dir + ": no journal-rank<R>.jsonl files");
  }
  if (!is_directory(target)) {
    if (::mkdir(target.c_str(), 0755) != 0) return Status::IoError(target + ": cannot create: " + std::strerror(errno));
  }
  for (const auto& [name, shard] : shards) {
    const std::string dest = join_path(target, name);
    if (is_regular_file(dest)) {
      FM_ASSIGN_OR_RETURN(std::string existing, read_file(dest, uint64_t{1} << 30));
      if (existing != shard.second) {
        return Status::InvalidArgument(dest + " already holds a different journal of this rank");
      }
      continue;
    }
    FM_RETURN_IF_ERROR(write_file_atomic(dest, shard.second));
  }
  ReportOptions write = options;
  write.write = true;
  return build_run_record(target, write, nullptr);
}

Result<std::string> run_record_to_text(const std::string& record_json) {
  nlohmann::json r = nlohmann::json::parse(record_json, nullptr, false);
  if (!r.is_object() || r.value("schema", std::string()) != kRunSchema) {
    return Status::ParseError("not a flopsmeter run record (schema " + std::string(kRunSchema) + ")");
  }
  std::string out;
  auto line = [&](const std::string& label, const std::string& value) {
    out += label + std::string(label.size() < 24 ? 24 - label.size() : 1, ' ') + value + "\n";
  };
  auto figure = [](const nlohmann::json& v) { return v.is_number() ? sci(v.get<double>(), 3) + " FLOP" : std::string("unavailable"); };
  line("run", r["run_id"].get<std::string>() + " (" + r["status"].get<std::string>() +
                  (r["complete"].get<bool>() ? "" : ", incomplete") + ")");
  line("model", r["model_name"].get<std::string>() + ", " + r["model"]["method"].get<std::string>() + ", N_total " +
                    with_commas(r["N_total"].get<uint64_t>()) + ", N_trainable " +
                    with_commas(r["N_trainable"].get<uint64_t>()));
  line("tokens", r["exact"]["tokens_processed"].get<std::string>() + " spent, " +
                     r["tokens"]["in_final_weights"]["tokens"].get<std::string>() + " in the final weights");
  // Why compute is spent but not in the weights (a crash after a checkpoint,
  // a resume from an earlier one): the part an auditor asks about first.
  for (const auto& segment : r["segments"]) {
    const nlohmann::json& lost = segment["not_in_final_weights"];
    if (lost["tokens"].get<std::string>() == "0") continue;
    line("  not in the weights", lost["tokens"].get<std::string>() + " tokens of segment " +
                                     std::to_string(segment["segment"].get<uint64_t>()) + " (rank " +
                                     std::to_string(segment["rank"].get<uint64_t>()) +
                                     "): " + (lost["reason"].is_string() ? lost["reason"].get<std::string>() : "no reason recorded"));
  }
  line("duration", std::to_string(static_cast<int64_t>(r["training_duration_seconds"].get<double>())) + " s");
  for (const char* f : {"eu_6nd", "peft_aware", "detailed"}) line(std::string("  ") + f, figure(r["flops"][f]));
  line("compliance", r["compliance"]["formula"].get<std::string>() + ": " + figure(r["compliance"]["flop"]));
  line("hardware bound (U=1)", figure(r["hardware"]["bound_flop"]) + " [" + r["hardware"]["sampler"].get<std::string>() + "]");
  if (r["energy"]["kwh"].is_number()) line("energy", sci(r["energy"]["kwh"].get<double>(), 3) + " kWh");
  line("EU threshold", sci(r["threshold_value"].get<double>(), 3) + " FLOP (" + r["threshold_type"].get<std::string>() + ")");
  for (const auto& reg : r["regimes"]) {
    if (!reg.value("in_force", false)) continue;
    line("  " + reg.value("id", std::string()),
         std::string(reg.value("exceeds", false) ? "EXCEEDS" : "below") + " (" +
             percent(reg.value("fraction_of_threshold", 0.0)) + " of the threshold)");
  }
  if (r["budget"].is_object()) {
    line("budget", percent(r["budget"]["used_fraction"].get<double>()) + " used" +
                       (r["budget"]["stopped_by_budget"].get<bool>() ? ", training stopped by the budget" : ""));
  }
  for (const auto& w : r["warnings"]) out += "warning: " + w.get<std::string>() + "\n";
  for (const auto& n : r["notes"]) out += "note: " + n.get<std::string>() + "\n";
  return out;
}

}  // namespace flopsmeter
