// The dossier's tables as plain text, shared by the Markdown and HTML forms
// (each escapes every cell for itself), so the two cannot drift apart.
#include "api/dossier_parts.h"
#include "api/run_report.h"  // iso_time
#include "api/report_format.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

std::string entry_text(const std::optional<uint64_t>& entry) { return entry ? std::to_string(*entry) : ""; }

// A formula the record could not apply (the detailed count without the
// architecture) is not available; the run's compute is not undetermined for that.
std::string formula_text(const Json& decimal) {
  return decimal.is_string() ? flop_figure_text(decimal) : std::string("not available");
}

}  // namespace

DossierTable not_in_force_table(const Dossier& d) {
  DossierTable t{{"Regime", "Status", "Verdict", "Compute", "Threshold"}, {}};
  for (const DossierVerdict& v : d.not_in_force) {
    t.rows.push_back({v.regime_id, v.status, v.verdict,
                      flop_figure_text(Json(v.compute_exact)) + " (" + v.compute_basis + ")",
                      sci(v.threshold_flop, 3) + " FLOP"});
  }
  return t;
}

DossierTable documentation_table(const Dossier& d) {
  DossierTable t{{"Field", "Value", "Reference", "Source"}, {}};
  for (const DossierFigure& f : d.documentation)
    t.rows.push_back({f.label, f.text + (f.reason.empty() ? "" : ": " + f.reason), f.reference, f.source});
  return t;
}

DossierTable lineage_table(const Dossier& d) {
  DossierTable t{{"Model", "Kind", "Organisation", "Made from", "Own compute", "Cumulative", "Runs"}, {}};
  for (const DossierNode& n : d.lineage) {
    std::string parents;
    for (const std::string& p : n.parents) parents += (parents.empty() ? "" : ", ") + p;
    t.rows.push_back({n.name + (n.entry ? " (entry " + std::to_string(*n.entry) + ")" : ""),
                      n.kind + (n.how.empty() ? "" : ": " + n.how) + (n.own_model ? " (own)" : ""), n.organisation,
                      parents,
                      sum_figure_text(n.own_compute) +
                          (n.pretraining_source.empty() ? "" : " (" + n.pretraining_source + ")"),
                      n.cumulative_compute.is_null() ? "" : sum_figure_text(n.cumulative_compute),
                      std::to_string(n.runs.size())});
  }
  return t;
}

DossierTable runs_table(const Dossier& d) {
  DossierTable t{{"Run", "Entry", "Model", "Status", "Time", "Compliance (formula)", "In final weights", "eu_6nd",
                  "peft_aware", "detailed", "Hardware bound"},
                 {}};
  for (const DossierRun& r : d.runs) {
    const Json& hw = json_at(r.formulas, {"hardware_bound"});
    t.rows.push_back({r.run_id, entry_text(r.entry), r.model, r.status, r.time,
                      flop_figure_text(r.compliance) + " (" + r.formula + ")", flop_figure_text(r.in_final_weights),
                      formula_text(json_at(r.formulas, {"eu_6nd"})), formula_text(json_at(r.formulas, {"peft_aware"})),
                      formula_text(json_at(r.formulas, {"detailed"})),
                      hw.is_number() ? sci(hw.get<double>(), 3) + " FLOP" : "not sampled"});
  }
  return t;
}

DossierTable segments_table(const Dossier& d) {
  DossierTable t{{"Run", "Rank", "Segment", "Status", "Started", "Last line", "Tokens spent", "Not in final weights"},
                 {}};
  for (const DossierRun& r : d.runs) {
    for (const DossierSegment& s : r.segments) {
      t.rows.push_back({r.run_id, std::to_string(s.rank), std::to_string(s.segment), s.status, s.started_at,
                        s.last_line_at, s.tokens_spent,
                        s.tokens_not_in_weights + (s.reason.empty() ? "" : " (" + s.reason + ")")});
    }
  }
  return t;
}

DossierTable gpus_table(const Dossier& d) {
  DossierTable t{{"Run", "Rank", "Segment", "GPU", "Time attributed", "Mean utilisation", "Mean power", "Max power",
                  "Energy"},
                 {}};
  auto or_na = [](const std::optional<double>& v, const std::string& unit) {
    return v ? sci(*v, 3) + " " + unit : std::string("not available");
  };
  for (const DossierRun& r : d.runs) {
    for (const DossierGpu& g : r.gpus) {
      t.rows.push_back({r.run_id, std::to_string(g.rank), std::to_string(g.segment),
                        std::to_string(g.index) + (g.name.empty() ? "" : ": " + g.name),
                        sci(g.attributed_seconds, 3) + " s",
                        g.mean_utilization ? percent(*g.mean_utilization) : std::string("not available"),
                        or_na(g.mean_power_w, "W"), or_na(g.max_power_w, "W"),
                        or_na(g.energy_j, "J") + (g.energy_method.empty() ? "" : " (" + g.energy_method + ")")});
    }
  }
  return t;
}

DossierTable gpu_timeline_table(const Dossier& d) {
  DossierTable t{{"Run", "Rank", "Segment", "GPU", "Stretch until", "Time attributed", "Utilisation", "Power"}, {}};
  for (const DossierRun& r : d.runs) {
    for (const DossierGpuInterval& g : r.gpu_timeline) {
      t.rows.push_back({r.run_id, std::to_string(g.rank), std::to_string(g.segment),
                        std::to_string(g.index) + (g.name.empty() ? "" : ": " + g.name), iso_time(g.t_end),
                        sci(g.seconds, 3) + " s",
                        g.utilization ? percent(*g.utilization) : std::string("not available (no time attributed)"),
                        g.power_w ? sci(*g.power_w, 3) + " W" : std::string("not available")});
    }
  }
  return t;
}

DossierTable evidence_table(const Dossier& d) {
  DossierTable t{{"Item", "Value", "Source"}, {}};
  for (const DossierEvidence& e : d.evidence) t.rows.push_back({e.label, e.value, e.source});
  return t;
}

}  // namespace flopsmeter
