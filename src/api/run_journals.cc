#include "api/run_journals.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "adapters/files.h"
#include "api/journal_fields.h"
#include "core/json_doc.h"
#include "flopsmeter/meter.h"

namespace flopsmeter {
namespace {

// A count journaled as a number, or as a decimal string past 2^64 (the
// fields' types are checked before).
Result<Flop> count_field(const nlohmann::json& line, const char* key, const std::string& where) {
  const nlohmann::json& v = line[key];
  if (v.is_number_unsigned()) return Flop{v.get<uint64_t>()};
  return parse_exact_integer(v.get<std::string>(), where + ": " + key);
}

bool process_alive(const nlohmann::json& begin) {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) return false;
  if (begin["host"].get<std::string>() != host) return false;
  const auto pid = begin["pid"].get<int64_t>();
  return pid > 0 && pid <= INT32_MAX && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

void begin_segment(Segment& s, uint64_t seq, const nlohmann::json& line) {
  s.begin = line;
  s.t_begin = s.t_last = line["t"].get<double>();
  s.token_source = line.value("token_source", std::string(kIntegrationTokenSource));
  s.micro_batches_known = s.token_source == kIntegrationTokenSource;
  if (!s.micro_batches_known) s.final.micro_batches = std::nullopt;
  s.lines[seq] = s.final;
  const nlohmann::json& sampler = line.contains("sampler") ? line["sampler"] : nlohmann::json();
  if (sampler.is_object() && sampler.contains("notes")) s.sampler_notes = sampler["notes"];
  s.status = process_alive(line) ? "running" : "crashed";
}

// A counts line of `s`: scalars cumulative, sequences this line's delta.
// Cumulative counts never go down within a segment; a line that says they
// did was written by something else than the meter.
Status add_counts_line(Segment& s, uint64_t seq, const nlohmann::json& line, const std::string& where) {
  JournalCounts c;
  FM_ASSIGN_OR_RETURN(c.tokens, count_field(line, "tokens", where));
  FM_ASSIGN_OR_RETURN(c.positions, count_field(line, "positions", where));
  // A source that does not count micro-batches journals 0 for them: unknown.
  if (s.micro_batches_known) {
    c.micro_batches = line.value("micro_batches", uint64_t{0});
  } else {
    c.micro_batches = std::nullopt;
  }
  if (line.contains("executed_forward") != line.contains("executed_backward") ||
      line.contains("executed_forward") != line.contains("executed_recompute")) {
    return Status::ParseError(where + ": executed_forward, executed_backward and executed_recompute come together");
  }
  if (line.contains("executed_forward")) {
    ExecutedFlop e;
    FM_ASSIGN_OR_RETURN(e.forward, count_field(line, "executed_forward", where));
    FM_ASSIGN_OR_RETURN(e.backward, count_field(line, "executed_backward", where));
    FM_ASSIGN_OR_RETURN(e.recompute, count_field(line, "executed_recompute", where));
    c.executed = e;
  } else {
    c.executed = std::nullopt;
  }
  const uint64_t step = line["step"].get<uint64_t>();
  if (c.tokens < s.final.tokens || c.positions < s.final.positions ||
      (c.micro_batches && s.final.micro_batches && *c.micro_batches < *s.final.micro_batches) || step < s.last_step) {
    return Status::ParseError(where + ": the cumulative counts or the step go down within segment " +
                              std::to_string(s.id) + ": the line was not written by the meter as it stands");
  }
  if (line.contains("sequences")) {
    for (const auto& pair : line["sequences"]) c.sequences[pair[0].get<uint64_t>()] += pair[1].get<uint64_t>();
  }
  s.final.tokens = c.tokens;
  s.final.positions = c.positions;
  s.final.micro_batches = c.micro_batches;
  s.final.executed = c.executed;
  for (const auto& [len, n] : c.sequences) s.final.sequences[len] += n;
  s.lines[seq] = std::move(c);
  s.last_step = step;
  s.t_last = line["t"].get<double>();
  if (line["kind"] == "checkpoint") s.last_checkpoint = SegmentCheckpoint{seq, step};
  if (line.contains("gpus")) s.last_gpus = line["gpus"];
  if (line.contains("sampler_notes")) s.sampler_notes = line["sampler_notes"];
  if (line.contains("events")) {
    for (const auto& e : line["events"]) s.events.push_back(e);
  }
  if (line["kind"] == "end") {
    for (const auto& n : line.value("notes", nlohmann::json::array())) s.notes.push_back(n.get<std::string>());
    s.ended = true;
    s.status = line["status"].get<std::string>();
    s.token_source = line.value("token_source", s.token_source);
  }
  return Status();
}

}  // namespace

JournalCounts Segment::counts_at(uint64_t seq) const {
  JournalCounts c;
  auto end = lines.upper_bound(seq);
  if (end == lines.begin()) return c;
  const JournalCounts& at = std::prev(end)->second;
  c.tokens = at.tokens;
  c.positions = at.positions;
  c.micro_batches = at.micro_batches;
  c.executed = at.executed;
  for (auto it = lines.begin(); it != end; ++it)
    for (const auto& [len, n] : it->second.sequences) c.sequences[len] += n;
  return c;
}

Result<RankJournal> parse_rank(JournalContents contents, const std::string& path, uint32_t rank) {
  RankJournal r;
  r.rank = rank;
  r.path = path;
  Segment* current = nullptr;
  for (const nlohmann::json& line : contents.lines) {
    const uint64_t seq = line["seq"].get<uint64_t>();
    const std::string where = path + ":" + std::to_string(seq + 1);
    FM_RETURN_IF_ERROR(check_line_fields(line, where));
    const std::string& kind = line["kind"].get_ref<const std::string&>();
    const uint64_t segment = line["segment"].get<uint64_t>();
    if (kind == "begin") {
      if (r.segments.count(segment)) {
        return Status::ParseError(where + ": segment " + std::to_string(segment) + " begins twice");
      }
      if (!r.segments.empty() && segment < r.segments.rbegin()->first) {
        return Status::ParseError(where + ": segment " + std::to_string(segment) + " begins after a later one");
      }
      if (line["rank"].get<uint64_t>() != rank) {
        return Status::ParseError(where + ": field 'rank' is " + std::to_string(line["rank"].get<uint64_t>()) +
                                  " in the journal of rank " + std::to_string(rank));
      }
      Segment& s = r.segments[segment];
      s.id = segment;
      begin_segment(s, seq, line);
      current = &s;
      continue;
    }
    if (current == nullptr || current->id != segment) {
      return Status::ParseError(where + ": a '" + kind + "' line of segment " + std::to_string(segment) +
                                " outside that segment");
    }
    FM_RETURN_IF_ERROR(add_counts_line(*current, seq, line, where));
    if (current->ended) current = nullptr;  // nothing may follow an end line but a new segment
  }
  if (r.segments.empty()) return Status::ParseError(path + ": no begin line");
  contents.lines.clear();  // the segments hold what the report needs of them
  r.contents = std::move(contents);
  return r;
}

Result<std::map<uint32_t, RankJournal>> read_run_journals(const std::string& run_dir, const ReportExtras& extras) {
  FM_ASSIGN_OR_RETURN(std::vector<std::string> names, list_directory(run_dir));
  std::map<uint32_t, RankJournal> ranks;
  std::string run_id;
  for (const std::string& name : names) {
    const int64_t rank = journal_rank(name);
    if (rank < 0) continue;
    const std::string path = join_path(run_dir, name);
    FM_ASSIGN_OR_RETURN(JournalContents contents, read_journal(path));
    if (static_cast<uint32_t>(rank) == extras.rank) {
      for (const nlohmann::json& line : extras.unwritten_lines) contents.lines.push_back(line);
    }
    FM_ASSIGN_OR_RETURN(RankJournal r, parse_rank(std::move(contents), path, static_cast<uint32_t>(rank)));
    for (const auto& [id, s] : r.segments) {
      const std::string& id_here = s.begin["run_id"].get_ref<const std::string&>();
      if (run_id.empty()) run_id = id_here;
      if (id_here != run_id) {
        return Status::ParseError(path + ": segment " + std::to_string(id) + " belongs to run '" +
                                  printable_text(id_here) + "', not '" + printable_text(run_id) + "'");
      }
    }
    ranks.emplace(static_cast<uint32_t>(rank), std::move(r));
  }
  if (ranks.empty()) {
    return Status::NotFound(run_dir + ": no journal-rank<R>.jsonl files: not a flopsmeter run directory");
  }
  return ranks;
}

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
    const nlohmann::json& begin = r.segments.at(segment).begin;
    if (!begin.contains("resumed_from") || !begin["resumed_from"].is_object()) break;
    const nlohmann::json& from = begin["resumed_from"];
    const uint64_t from_segment = from["segment"].get<uint64_t>(), from_seq = from["seq"].get<uint64_t>();
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

}  // namespace flopsmeter
