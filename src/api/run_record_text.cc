// run_record_to_text(): a record's human-readable summary, the answer first.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "api/report_format.h"
#include "api/run_report.h"
#include "core/json_doc.h"
#include "flopsmeter/exact.h"
#include "flopsmeter/meter.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// Reads a record's fields for display, each with a fallback, so that a
// record damaged or edited by hand prints what it has instead of failing.
class Fields {
 public:
  explicit Fields(const Json& root) : root_(root) {}

  const Json& at(std::initializer_list<const char*> path) const {
    static const Json kNull;
    const Json* node = &root_;
    for (const char* key : path) {
      if (!node->is_object() || !node->contains(key)) return kNull;
      node = &(*node)[key];
    }
    return *node;
  }
  // Text a user or a file chose, escaped: it must not forge report lines.
  std::string text(std::initializer_list<const char*> path) const {
    const Json& v = at(path);
    return v.is_string() ? printable_text(v.get<std::string>()) : std::string("?");
  }
  // A figure, or `missing` for null: "undetermined" for the run's own
  // figures, "unavailable" for what was not measured.
  std::string flop(std::initializer_list<const char*> path, const char* missing = "undetermined") const {
    const Json& v = at(path);
    return v.is_number() ? sci(v.get<double>(), 3) + " FLOP" : std::string(missing);
  }
  std::string count(std::initializer_list<const char*> path) const {
    const Json& v = at(path);
    if (v.is_number_unsigned()) return with_commas(v.get<uint64_t>());
    if (!v.is_string()) return "?";
    // Exact counts are decimal strings: grouped like the others when they are whole numbers.
    Result<Flop> exact = parse_exact_integer(v.get<std::string>(), "count");
    return exact.ok() ? with_commas(*exact) : printable_text(v.get<std::string>());
  }

 private:
  const Json& root_;
};

// "+1.25%", "-0.003%", "0%": a formula's error against what ran.
std::string signed_pct(double pct) {
  char buf[48];
  std::snprintf(buf, sizeof buf, pct == 0 ? "0%%" : "%+.3g%%", pct);
  return buf;
}

std::string field_line(const std::string& label, const std::string& value) {
  return label + std::string(label.size() < 24 ? 24 - label.size() : 1, ' ') + value + "\n";
}

// A run of several ranks: how many, and whose journals the record lacks
// (their tokens are then the integration's world totals, or missing).
std::string ranks_line(const Json& ranks) {
  if (!ranks.is_object()) return "";
  const Json& world = ranks.value("world_size", Json());
  if (!world.is_number_unsigned() || world.get<uint64_t>() <= 1) return "";
  std::string text = std::to_string(world.get<uint64_t>()) + " data-parallel";
  const Json& missing = ranks.value("missing", Json());
  if (missing.is_array() && !missing.empty()) {
    text += ", no journal from rank(s)";
    for (size_t i = 0; i < missing.size(); ++i) text += (i ? ", " : " ") + printable_text(missing[i].dump());
  } else {
    text += ", every rank's journal read";
  }
  return field_line("ranks", text);
}

// Why compute is spent but not in the weights (a crash after a checkpoint,
// a resume from an earlier one): the part an auditor asks about first.
std::string lost_segments(const Json& segments) {
  std::string out;
  if (!segments.is_array()) return out;
  for (const Json& segment : segments) {
    const Fields s(segment);
    const Json& tokens = s.at({"not_in_final_weights", "tokens"});
    if (!tokens.is_string() || tokens == "0") continue;
    const Json& reason = s.at({"not_in_final_weights", "reason"});
    out += field_line("  not in the weights", printable_text(tokens.get<std::string>()) + " tokens of segment " +
                                                  s.at({"segment"}).dump() + " (rank " + s.at({"rank"}).dump() + "): " +
                                                  (reason.is_string() ? printable_text(reason.get<std::string>())
                                                                      : std::string("no reason recorded")));
  }
  return out;
}

std::string lines_of(const Json& list, const std::string& prefix) {
  std::string out;
  if (!list.is_array()) return out;
  for (const Json& item : list)
    if (item.is_string()) out += prefix + printable_text(item.get<std::string>()) + "\n";
  return out;
}

}  // namespace

Result<std::string> run_record_to_text(const std::string& record_json) {
  const Json r = Json::parse(record_json, nullptr, false);
  if (!r.is_object() || r.value("schema", Json()) != kRunSchema) {
    return Status::ParseError("not a flopsmeter run record (schema " + std::string(kRunSchema) + ")");
  }
  const Fields f(r);
  // The answer first: what the regimes mean for whoever ran the job.
  std::string out;
  const Json& verdict = f.at({"verdict", "text"});
  if (verdict.is_string()) {
    for (char c : verdict.get<std::string>()) {
      // The verdict text is ours, but the file may not be: keep its lines, escape the rest.
      out += (c == '\n' || static_cast<unsigned char>(c) >= 0x20) && c != 0x7F ? std::string(1, c)
                                                                              : printable_text(std::string(1, c));
    }
    out += "\n";
  }
  const Json& complete = f.at({"complete"});
  out += field_line("run", f.text({"run_id"}) + " (" + f.text({"status"}) +
                               (complete.is_boolean() && !complete.get<bool>() ? ", incomplete" : "") + ")");
  out += field_line("model", f.text({"model_name"}) + ", " + f.text({"model", "method"}) + ", N_total " +
                                 f.count({"N_total"}) + ", N_trainable " + f.count({"N_trainable"}));
  out += field_line("tokens", f.count({"exact", "tokens_processed"}) + " spent, " +
                                  f.count({"tokens", "in_final_weights", "tokens"}) + " in the final weights");
  out += ranks_line(f.at({"ranks"}));
  out += lost_segments(f.at({"segments"}));
  const Json& duration = f.at({"training_duration_seconds"});
  out += field_line("duration", (duration.is_number() ? std::to_string(static_cast<int64_t>(duration.get<double>()))
                                                      : std::string("?")) +
                                    " s");
  const bool determined = f.at({"verdict", "determined"}) != false;
  for (const char* formula : {"eu_6nd", "peft_aware", "detailed"}) {
    out += field_line(std::string("  ") + formula, f.flop({"flops", formula}, determined ? "unavailable" : "undetermined"));
  }
  if (const Json& executed = f.at({"executed"}); executed.is_object()) {
    Fields e(executed);
    out += field_line("  executed", e.flop({"trained_flop"}) + " forward + backward (recompute " +
                                        e.count({"recompute"}) + "), counted by the trainer per product");
    std::string errors;
    for (const char* formula : {"eu_6nd", "peft_aware", "detailed"}) {
      const Json& pct = e.at({"formula_error_pct", formula});
      if (pct.is_number()) errors += std::string(errors.empty() ? "" : ", ") + formula + " " + signed_pct(pct.get<double>());
    }
    if (!errors.empty()) out += field_line("  formulas vs executed", errors);
  }
  out += field_line("compliance", f.text({"compliance", "formula"}) + ": " + f.flop({"compliance", "flop"}));
  out += field_line("hardware bound (U=1)",
                    f.flop({"hardware", "bound_flop"}, "unavailable") + " [" + f.text({"hardware", "sampler"}) + "]");
  // The bound beside what the trainer executed: how far above the work the GPUs' peak lies.
  if (const Json& over = f.at({"executed", "hardware_bound_over_executed"}); over.is_number()) {
    out += field_line("  bound / executed", sci(over.get<double>(), 3) + " (an upper bound is at least 1)");
  }
  const Json& kwh = f.at({"energy", "kwh"});
  const Json& estimate = f.at({"energy", "estimate"});
  if (kwh.is_number()) {
    out += field_line("energy", sci(kwh.get<double>(), 3) + " kWh");
  } else if (estimate.is_object()) {
    const Json& joules = Fields(estimate).at({"joules"});
    out += field_line("energy", joules.is_number() ? "at most " + sci(joules.get<double>() / 3.6e6, 3) +
                                                         " kWh (estimated: NVML measured some GPUs only)"
                                                   : "not available (" + Fields(estimate).text({"reason"}) + ")");
  }
  out += field_line("EU threshold", f.flop({"threshold_value"}) + " (" + f.text({"threshold_type"}) + ")");
  const Json& budget = f.at({"budget"});
  if (budget.is_object()) {
    const Fields b(budget);
    const Json& used = b.at({"used_fraction"});
    const Json& stopped = b.at({"stopped_by_budget"});
    out += field_line("budget", (used.is_number() ? percent(used.get<double>()) : std::string("undetermined")) +
                                    " used of " + b.flop({"budget_flop"}) +
                                    (stopped.is_boolean() && stopped.get<bool>() ? ", training stopped by the budget"
                                                                                 : ""));
  }
  out += lines_of(f.at({"integrity", "problems"}), "INTEGRITY: ");
  out += lines_of(f.at({"warnings"}), "warning: ");
  out += lines_of(f.at({"notes"}), "note: ");
  return out;
}

}  // namespace flopsmeter
