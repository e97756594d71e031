// The dossier as JSON, schema flopsmeter.dossier/1 (schemas/dossier.schema.json).
#include "api/dossier_render.h"

namespace flopsmeter {
namespace {

// Ordered: the verdict comes first, as in the other forms.
using Json = nlohmann::ordered_json;

Json figure_json(const DossierFigure& f) {
  return {{"id", f.id},         {"label", f.label}, {"reference", f.reference}, {"value", f.value},
          {"unit", f.unit},     {"text", f.text},   {"source", f.source},
          {"reason", f.reason.empty() ? Json() : Json(f.reason)}};
}

Json verdict_json(const DossierVerdict& v) {
  return {{"regime", v.regime_id},
          {"name", v.name},
          {"status", v.status},
          {"in_force", v.in_force},
          {"verdict", v.verdict},
          {"headline", v.headline},
          {"compute_basis", v.compute_basis},
          {"compute_exact", v.compute_exact},
          {"compute_flop", v.compute_flop},
          {"threshold_exact", v.threshold_exact},
          {"threshold_flop", v.threshold_flop},
          {"threshold_basis", v.threshold_basis},
          {"margin", {{"kind", v.margin_kind}, {"exact", v.margin_exact}}},
          {"within_30pct_error_margin", v.within_error_margin},
          {"explanation", v.explanation},
          {"warnings", v.warnings},
          {"source", v.source}};
}

Json run_json(const DossierRun& r) {
  Json segments = Json::array();
  for (const DossierSegment& s : r.segments) {
    segments.push_back({{"rank", s.rank},
                        {"segment", s.segment},
                        {"status", s.status},
                        {"started_at", s.started_at},
                        {"last_line_at", s.last_line_at},
                        {"tokens_spent", s.tokens_spent},
                        {"tokens_not_in_final_weights", s.tokens_not_in_weights},
                        {"reason", s.reason.empty() ? Json() : Json(s.reason)}});
  }
  Json gpus = Json::array();
  auto maybe = [](const std::optional<double>& v) { return v ? Json(*v) : Json(); };
  for (const DossierGpu& g : r.gpus) {
    gpus.push_back({{"rank", g.rank},
                    {"segment", g.segment},
                    {"index", g.index},
                    {"name", g.name},
                    {"attributed_seconds", g.attributed_seconds},
                    {"mean_utilization", maybe(g.mean_utilization)},
                    {"mean_power_w", maybe(g.mean_power_w)},
                    {"max_power_w", maybe(g.max_power_w)},
                    {"energy_j", maybe(g.energy_j)},
                    {"energy_method", g.energy_method}});
  }
  Json timeline = Json::array();
  for (const DossierGpuInterval& g : r.gpu_timeline) {
    timeline.push_back({{"rank", g.rank},
                        {"segment", g.segment},
                        {"index", g.index},
                        {"name", g.name},
                        {"t_end", g.t_end},
                        {"seconds", g.seconds},
                        {"utilization", maybe(g.utilization)},
                        {"power_w", maybe(g.power_w)}});
  }
  return {{"run_id", r.run_id},
          {"entry", r.entry ? Json(*r.entry) : Json()},
          {"model", r.model},
          {"status", r.status},
          {"time", r.time},
          {"formula", r.formula},
          {"compliance_flop", r.compliance},
          {"in_final_weights_flop", r.in_final_weights},
          {"formulas", r.formulas},
          {"segments", segments},
          {"gpus", gpus},
          {"gpu_timeline", timeline},
          {"gpu_timeline_note", r.gpu_timeline_note.empty() ? Json() : Json(r.gpu_timeline_note)},
          {"source", r.source}};
}

Json node_json(const DossierNode& n) {
  return {{"name", n.name},
          {"entry", n.entry ? Json(*n.entry) : Json()},
          {"kind", n.kind},
          {"organisation", n.organisation},
          {"parents", n.parents},
          {"how", n.how},
          {"systemic_risk", n.systemic_risk},
          {"own_model", n.own_model},
          {"own_compute", n.own_compute},
          {"cumulative_compute", n.cumulative_compute},
          {"runs", n.runs},
          {"pretraining_source", n.pretraining_source}};
}

Json evidence_json(const Dossier& d) {
  Json items = Json::array();
  for (const DossierEvidence& e : d.evidence) items.push_back({{"label", e.label}, {"value", e.value}, {"source", e.source}});
  return {{"items", items},
          {"signed_head", d.signed_head},
          {"inclusion_proof", d.inclusion_proof},
          {"note", d.evidence_note.empty() ? Json() : Json(d.evidence_note)}};
}

}  // namespace

std::string dossier_json(const Dossier& d) {
  Json verdicts = Json::array(), not_in_force = Json::array(), documentation = Json::array();
  for (const DossierVerdict& v : d.verdicts) verdicts.push_back(verdict_json(v));
  for (const DossierVerdict& v : d.not_in_force) not_in_force.push_back(verdict_json(v));
  for (const DossierFigure& f : d.documentation) documentation.push_back(figure_json(f));
  Json nodes = Json::array(), runs = Json::array(), timeline = Json::array();
  for (const DossierNode& n : d.lineage) nodes.push_back(node_json(n));
  for (const DossierRun& r : d.runs) runs.push_back(run_json(r));
  for (const DossierPoint& p : d.timeline) {
    timeline.push_back({{"label", p.label},
                        {"time", p.time},
                        {"modification_flop", p.modification_flop},
                        {"cumulative_flop", p.cumulative_flop ? Json(*p.cumulative_flop) : Json()},
                        {"complete", p.complete}});
  }
  const Json doc = {{"schema", kDossierSchema},
                    {"subject", {{"kind", d.subject_kind}, {"name", d.subject}, {"organisation", d.organisation}}},
                    {"tool", {{"name", "flopsmeter"}, {"version", d.tool_version}}},
                    {"rules_version", d.rules_version},
                    {"verdict", {{"headlines", d.headlines}, {"in_force", verdicts}, {"not_in_force", not_in_force}}},
                    {"documentation", documentation},
                    {"model_dependencies", d.dependencies},
                    {"methodology", d.methodology},
                    {"lineage", nodes},
                    {"runs", runs},
                    {"timeline", timeline},
                    {"evidence", evidence_json(d)},
                    {"warnings", d.warnings}};
  // A name can be any bytes: invalid UTF-8 becomes U+FFFD rather than an exception.
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace flopsmeter
