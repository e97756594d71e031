// The dossier's verdicts and runs, read from the records' and views' JSON.
#include <algorithm>

#include "api/dossier_parts.h"
#include "api/report_format.h"
#include "flopsmeter/exact.h"

namespace flopsmeter {

using Json = nlohmann::json;

const Json& json_at(const Json& j, std::initializer_list<const char*> path) {
  static const Json kNull;
  const Json* at = &j;
  for (const char* key : path) {
    if (!at->is_object()) return kNull;
    auto it = at->find(key);
    if (it == at->end()) return kNull;
    at = &*it;
  }
  return *at;
}

std::string json_text_at(const Json& j, std::initializer_list<const char*> path) {
  const Json& v = json_at(j, path);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::string flop_figure_text(const Json& decimal) {
  if (!decimal.is_string()) return "undetermined";
  Result<Flop> f = parse_exact_integer(decimal.get<std::string>(), "figure");
  return f.ok() ? sci(*f, 3) + " FLOP" : "undetermined";
}

std::optional<double> flop_double(const Json& decimal) {
  if (!decimal.is_string()) return std::nullopt;
  Result<Flop> f = parse_exact_integer(decimal.get<std::string>(), "figure");
  if (!f.ok()) return std::nullopt;
  return to_double(*f);
}

std::string sum_figure_text(const Json& sum) {
  if (json_at(sum, {"complete"}) == true) return flop_figure_text(json_at(sum, {"flop"}));
  const Json& known = json_at(sum, {"known_part"});
  return "undetermined" + (known.is_string() ? " (at least " + flop_figure_text(known) + ")" : std::string());
}

std::string verdict_summary(const DossierVerdict& v, const SummaryForm& form) {
  const auto& t = form.text;
  const std::string word = t(v.verdict == "exceeds" ? "EXCEEDS" : v.verdict == "below" ? "BELOW" : "UNDETERMINED");
  std::string out = form.word ? form.word(word) : word;
  out += t(": ") + form.figure("compute", v.compute_exact, flop_figure_text(Json(v.compute_exact))) +
         t(" (" + v.compute_basis + (v.verdict == "undetermined" ? ", a lower bound" : "") + ") against the threshold ") +
         form.figure("threshold", v.threshold_exact, sci(v.threshold_flop, 3) + " FLOP") +
         t(" (basis: " + v.threshold_basis + "); " + v.margin_kind + " ") +
         form.figure("margin", v.margin_exact, flop_figure_text(Json(v.margin_exact)));
  if (v.within_error_margin) out += t("; WITHIN the Guidelines' 30% error margin of the threshold");
  return out;
}

std::string verdict_summary(const DossierVerdict& v) {
  return verdict_summary(v, {[](const std::string& text) { return text; },
                             [](const char*, const std::string&, const std::string& text) { return text; }});
}

DossierFigure known_figure(std::string id, std::string label, std::string reference, Json value, std::string unit,
                           std::string text, std::string source) {
  return {std::move(id), std::move(label), std::move(reference), std::move(value),
          std::move(unit), std::move(text), std::move(source), ""};
}

DossierFigure missing_figure(std::string id, std::string label, std::string reference, std::string unit,
                             std::string text, std::string reason) {
  return {std::move(id), std::move(label), std::move(reference), Json(), std::move(unit),
          std::move(text), "", std::move(reason)};
}

namespace {

// The headline of regime `id`: the line "<jurisdiction> <id>: ...".
std::string headline_of(const Json& headlines, const std::string& id) {
  for (const Json& h : headlines) {
    if (!h.is_string()) continue;
    const std::string& line = h.get_ref<const std::string&>();
    const size_t space = line.find(' ');
    if (space != std::string::npos && line.compare(space + 1, id.size() + 1, id + ":") == 0) return line;
  }
  return "";
}

DossierVerdict verdict_of(const Json& r, const Json& headlines, const std::string& source) {
  DossierVerdict v;
  v.regime_id = json_text_at(r, {"id"});
  v.name = json_text_at(r, {"name"});
  v.status = json_text_at(r, {"status"});
  v.in_force = json_at(r, {"in_force"}).is_boolean() && r["in_force"].get<bool>();
  v.verdict = json_text_at(r, {"verdict"});
  if (v.verdict != "below" && v.verdict != "exceeds" && v.verdict != "undetermined") {
    // Records before /3 give exceeds and determinate only.
    const bool exceeds = json_at(r, {"exceeds"}).is_boolean() && r["exceeds"].get<bool>();
    const bool determinate = !json_at(r, {"determinate"}).is_boolean() || r["determinate"].get<bool>();
    v.verdict = exceeds ? "exceeds" : determinate ? "below" : "undetermined";
  }
  v.headline = headline_of(headlines, v.regime_id);
  v.compute_basis = json_text_at(r, {"compute_basis"});
  v.compute_exact = json_text_at(r, {"compute_exact"});
  v.compute_flop = json_at(r, {"compute_flop"}).is_number() ? r["compute_flop"].get<double>() : 0;
  v.threshold_exact = json_text_at(r, {"threshold_exact"});
  v.threshold_flop = json_at(r, {"threshold_flop"}).is_number() ? r["threshold_flop"].get<double>() : 0;
  v.threshold_basis = json_text_at(r, {"threshold_basis"});
  v.margin_kind = v.verdict == "exceeds" ? "excess" : "headroom";
  v.margin_exact = json_text_at(r, {v.verdict == "exceeds" ? "excess_exact" : "headroom_exact"});
  v.within_error_margin = json_at(r, {"within_error_margin"}).is_boolean() && r["within_error_margin"].get<bool>();
  v.explanation = json_text_at(r, {"explanation"});
  for (const Json& w : json_at(r, {"warnings"}))
    if (w.is_string()) v.warnings.push_back(w.get<std::string>());
  v.source = source + ", regime " + v.regime_id;
  return v;
}

DossierSegment segment_of(const Json& s) {
  DossierSegment out;
  out.rank = json_at(s, {"rank"}).is_number_unsigned() ? s["rank"].get<uint64_t>() : 0;
  out.segment = json_at(s, {"segment"}).is_number_unsigned() ? s["segment"].get<uint64_t>() : 0;
  out.status = json_text_at(s, {"status"});
  out.started_at = json_text_at(s, {"started_at"});
  out.last_line_at = json_text_at(s, {"last_line_at"});
  out.tokens_spent = json_text_at(s, {"spent", "tokens"});
  out.tokens_not_in_weights = json_text_at(s, {"not_in_final_weights", "tokens"});
  out.reason = json_text_at(s, {"not_in_final_weights", "reason"});
  return out;
}

// A GPU's measured quantity (seconds, share, W, J): a number, not negative.
std::optional<double> number_at(const Json& j, const char* key) {
  const Json& v = json_at(j, {key});
  return v.is_number() && v.get<double>() >= 0 ? std::optional(v.get<double>()) : std::nullopt;
}

DossierGpu gpu_of(const Json& g) {
  DossierGpu out;
  out.rank = json_at(g, {"rank"}).is_number_unsigned() ? g["rank"].get<uint64_t>() : 0;
  out.segment = json_at(g, {"segment"}).is_number_unsigned() ? g["segment"].get<uint64_t>() : 0;
  out.index = json_at(g, {"index"}).is_number_unsigned() ? g["index"].get<uint64_t>() : 0;
  out.name = json_text_at(g, {"name"});
  out.attributed_seconds = number_at(g, "attributed_seconds").value_or(0);
  out.mean_utilization = number_at(g, "mean_utilization");
  out.max_power_w = number_at(g, "max_power_w");
  out.energy_method = json_text_at(g, {"energy_method"});
  // A GPU whose energy NVML could not give has no energy, not 0 J.
  if (out.energy_method == "counter" || out.energy_method == "power_integral") out.energy_j = number_at(g, "energy_j");
  if (out.energy_j && out.attributed_seconds > 0) out.mean_power_w = *out.energy_j / out.attributed_seconds;
  return out;
}

}  // namespace

void add_verdicts(Dossier& d, const Json& regimes, const Json& headlines, const std::string& source) {
  std::vector<DossierVerdict> in_force;
  for (size_t i = 0; i < regimes.size(); ++i) {
    if (json_text_at(regimes[i], {"id"}).empty()) {  // a damaged or hand-made record: said, not guessed at
      d.warnings.push_back(source + ": regimes[" + std::to_string(i) + "] is not a regime result (no id); left out");
      continue;
    }
    DossierVerdict v = verdict_of(regimes[i], headlines, source);
    (v.in_force ? in_force : d.not_in_force).push_back(std::move(v));
  }
  // The modifier's own question leads: has the modification made us a provider?
  std::stable_partition(in_force.begin(), in_force.end(),
                        [](const DossierVerdict& v) { return v.regime_id == "eu_modification"; });
  d.verdicts.insert(d.verdicts.end(), in_force.begin(), in_force.end());
  for (const Json& h : headlines)
    if (h.is_string()) d.headlines.push_back(h.get<std::string>());
}

Json decimal_at(const Json& record, std::initializer_list<const char*> path) {
  const Json& v = json_at(record, path);
  if (!v.is_string()) return Json();
  const std::string& text = v.get_ref<const std::string&>();
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  return digits ? v : Json();
}

DossierRun run_of_record(const Json& record, const std::string& source) {
  DossierRun run;
  run.run_id = json_text_at(record, {"run_id"});
  run.status = json_text_at(record, {"status"});
  run.time = json_text_at(record, {"ended_at"});
  run.formula = json_text_at(record, {"compliance", "formula"});
  run.compliance = decimal_at(record, {"compliance", "exact"});
  run.in_final_weights = decimal_at(record, {"compliance", "in_final_weights_exact"});
  for (const char* f : {"eu_6nd", "peft_aware", "detailed"}) run.formulas[f] = decimal_at(record, {"flops_exact", f});
  const Json& bound = json_at(record, {"hardware", "bound_flop"});
  run.formulas["hardware_bound"] = bound.is_number() ? bound : Json();
  for (const Json& s : json_at(record, {"segments"})) run.segments.push_back(segment_of(s));
  for (const Json& g : json_at(record, {"hardware", "gpus"})) run.gpus.push_back(gpu_of(g));
  run.record = record;
  run.source = source;
  return run;
}

DossierNode base_node(const std::string& name, const Json& base_model_compute) {
  DossierNode base;
  base.name = name;
  base.kind = "base";
  const Json flop = decimal_at(base_model_compute, {"exact"});
  base.own_compute = {{"flop", flop}, {"complete", flop.is_string()}};
  base.systemic_risk = json_at(base_model_compute, {"systemic_risk"}) == true;
  base.pretraining_source = json_text_at(base_model_compute, {"status"});
  const std::string source = json_text_at(base_model_compute, {"source"});
  if (!source.empty()) base.pretraining_source += ": " + source;
  return base;
}

std::string base_dependency(const DossierNode& base) {
  const Json& flop = json_at(base.own_compute, {"flop"});
  return base.name + " (base; pretraining compute " +
         (flop.is_string() ? flop_figure_text(flop) : std::string("unknown")) +
         (base.pretraining_source.empty() ? "" : "; " + base.pretraining_source) + ")";
}

void add_run_evidence(Dossier& d, const DossierRun& run) {
  const Json& r = run.record;
  const std::string at = run.source;
  auto add = [&](std::string label, std::string value, std::string field) {
    if (!value.empty()) d.evidence.push_back({std::move(label), std::move(value), at + ": " + std::move(field)});
  };
  add("run " + run.run_id + ": status", run.status, "status");
  for (const auto& [rank, j] : json_at(r, {"provenance", "journals"}).items()) {
    add("run " + run.run_id + ": journal of rank " + rank + ", last line SHA-256",
        json_text_at(j, {"last_sha256"}) + " (" + json_text_at(j, {"file"}) + ")",
        "provenance.journals." + rank + ".last_sha256");
  }
  std::string command;
  for (const Json& a : json_at(r, {"provenance", "command"}))
    if (a.is_string()) command += (command.empty() ? "" : " ") + a.get<std::string>();
  add("run " + run.run_id + ": command line", command, "provenance.command");
  add("run " + run.run_id + ": tool version", json_text_at(r, {"tool", "version"}), "tool.version");
  add("run " + run.run_id + ": rules version", json_text_at(r, {"provenance", "rules_version"}),
      "provenance.rules_version");
  std::string sources;
  for (const Json& s : json_at(r, {"provenance", "data_sources"}))
    if (s.is_string() && s.get<std::string>().rfind("builtin:models/", 0) != 0)
      sources += (sources.empty() ? "" : ", ") + s.get<std::string>();
  add("run " + run.run_id + ": data files (besides the model catalog)", sources, "provenance.data_sources");
  auto digest = [&](const std::string& what, const Json& file, const std::string& field) {
    if (file.is_object() && file.contains("sha256"))
      add("run " + run.run_id + ": " + what + " SHA-256",
          json_text_at(file, {"sha256"}) + " (" + json_text_at(file, {"path"}) + ")", field);
  };
  digest("recipe/config", json_at(r, {"provenance", "recipe"}), "provenance.recipe.sha256");
  digest("model config", json_at(r, {"provenance", "model_config"}), "provenance.model_config.sha256");
  const Json& datasets = json_at(r, {"provenance", "datasets"});
  for (size_t i = 0; datasets.is_array() && i < datasets.size(); ++i)
    digest("dataset", datasets[i], "provenance.datasets[" + std::to_string(i) + "].sha256");
  for (const Json& p : json_at(r, {"integrity", "problems"}))
    if (p.is_string()) d.warnings.push_back("run " + run.run_id + ": " + p.get<std::string>());
}

}  // namespace flopsmeter
