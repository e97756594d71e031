#include "api/report_format.h"

#include <cmath>
#include <cstdio>

namespace flopsmeter {

std::string with_commas(Flop v) {
  std::string digits = to_decimal(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string sci(double v, int significant) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*e", significant - 1, v);
  return buf;
}

std::string sci(Flop v, int significant) { return sci(to_double(v), significant); }

std::string percent(double ratio) {
  char buf[48];
  double p = ratio * 100.0;
  std::snprintf(buf, sizeof buf, p >= 100 ? "%.0f%%" : (p >= 1 ? "%.1f%%" : "%.3g%%"), p);
  return buf;
}

nlohmann::json number(Flop v) { return to_double(v); }

std::string fixed_point_text(Flop units, unsigned fraction_bits, int decimals, bool commas) {
  Flop scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  // round(units x 10^decimals / 2^bits), split into whole and decimal digits
  const Flop scaled = ((units * scale) + (fraction_bits > 0 ? Flop{1} << (fraction_bits - 1) : 0)) >> fraction_bits;
  std::string out = commas ? with_commas(scaled / scale) : to_decimal(scaled / scale);
  if (decimals > 0) {
    std::string digits = to_decimal(scaled % scale);
    out += "." + std::string(static_cast<size_t>(decimals) - digits.size(), '0') + digits;
  }
  return out;
}

double fixed_point_double(Flop units, unsigned fraction_bits) {
  return std::ldexp(to_double(units), -static_cast<int>(fraction_bits));
}

nlohmann::json exact_figure(const Fraction& f) {
  nlohmann::json j = {{"flop", f.to_double()}, {"exact", f.to_string()}};
  if (f.num % f.den != 0) j["fraction"] = {{"num", to_decimal(f.num)}, {"den", to_decimal(f.den)}};
  return j;
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

nlohmann::json model_json(const LoadedModel& loaded, const ParamBreakdown& params) {
  const Model& m = loaded.model;
  nlohmann::json breakdown = nlohmann::json::object();
  for (const auto& [component, n] : params.by_component) breakdown[component_name(component)] = n;
  nlohmann::json j = {
      {"id", m.id},
      {"source_kind", loaded.source_kind},
      {"source", loaded.source},
      {"model_type", m.arch.model_type},
      {"params_total", params.total},
      {"params_active", params.active_per_token},
      {"params_embedding", params.embedding},
      {"params_breakdown", breakdown},
      {"params_method", "equals transformers model.num_parameters(): unique parameters, tied weights once, buffers "
                        "excluded, 4-bit weights as logical parameters"},
      {"known_architecture", m.known_architecture},
      {"notes", m.notes},
  };
  if (m.known_architecture) {
    j["architecture"] = {{"vocab_size", m.arch.vocab_size},
                         {"hidden_size", m.arch.hidden_size},
                         {"num_layers", m.arch.num_layers},
                         {"num_heads", m.arch.num_heads},
                         {"num_kv_heads", m.arch.num_kv_heads},
                         {"head_dim", m.arch.head_dim},
                         {"intermediate_size", m.arch.intermediate_size},
                         {"num_experts", m.arch.num_experts},
                         {"experts_per_token", m.arch.experts_per_token},
                         {"tied_embeddings", m.arch.tied_embeddings}};
  }
  if (!m.quantization.empty()) j["quantization"] = m.quantization;
  j["hub"] = loaded.hub_repo.empty() ? nlohmann::json()
                                     : nlohmann::json({{"repo", loaded.hub_repo},
                                                       {"revision", loaded.hub_revision},
                                                       {"commit", loaded.hub_commit},
                                                       {"snapshot", loaded.model_dir},
                                                       {"fetched", loaded.hub_fetched}});
  if (loaded.catalog_entry) {
    const CatalogModel& c = *loaded.catalog_entry;
    j["catalog"] = {{"config_source", c.config_source}, {"origin", c.origin}};
    if (c.published_params) {
      j["catalog"]["published_params"] = *c.published_params;
      j["catalog"]["published_params_source"] = c.published_params_source;
      j["catalog"]["matches_published"] = *c.published_params == params.total;
    }
  }
  return j;
}

nlohmann::json rule_result_json(const RuleResult& r) {
  nlohmann::json j = {
      {"id", r.regime_id},
      {"name", r.name},
      {"status", regime_status_name(r.status)},
      {"in_force", r.in_force},
      {"threshold_flop", r.threshold.to_double()},
      {"threshold_exact", r.threshold.to_string()},
      {"threshold_basis", r.threshold_basis},
      {"comparison", comparison_name(r.comparison)},
      {"compute_basis", compute_basis_name(r.compute_basis)},
      {"compute_flop", number(r.compute_flop)},
      {"compute_exact", to_decimal(r.compute_flop)},
      {"exceeds", r.exceeds},
      {"determinate", r.determinate},
      {"verdict", verdict_name(r.verdict)},
      {"decided_by", r.decided_by.empty() ? nlohmann::json() : nlohmann::json(r.decided_by)},
      {"concerns_modifier", concerns_modifier(r)},
      {"base_alone_exceeds", r.base_alone_exceeds},
      {"open_for_base", r.open_for_base},
      {"within_error_margin", r.within_error_margin},
      {"single_run_flop", r.single_run_flop ? number(*r.single_run_flop) : nlohmann::json()},
      {"single_run_exceeds", r.single_run_flop ? nlohmann::json(r.single_run_exceeds) : nlohmann::json()},
      {"excess_flop", number(r.excess_flop)},
      {"excess_exact", to_decimal(r.excess_flop)},
      {"tokens_to_cut", r.tokens_to_cut ? nlohmann::json(to_decimal(*r.tokens_to_cut)) : nlohmann::json()},
      {"fraction_of_threshold", r.fraction_of_threshold},
      {"headroom_flop", number(r.headroom_flop)},
      {"headroom_exact", to_decimal(r.headroom_flop)},
      {"explanation", r.explanation},
      {"warnings", r.warnings},
  };
  j["headroom_tokens"] = r.headroom_tokens ? nlohmann::json(to_double(*r.headroom_tokens)) : nlohmann::json();
  if (r.headroom_tokens) j["headroom_tokens_exact"] = to_decimal(*r.headroom_tokens);
  return j;
}

nlohmann::json rational_json(const Fraction& f) {
  const Fraction r = f.reduced();
  return {{"num", to_decimal(r.num)}, {"den", to_decimal(r.den)}};
}

nlohmann::json regime_record_json(const RuleResult& rr) {
  nlohmann::json j = rule_result_json(rr);
  j["threshold_rational"] = rational_json(rr.threshold);
  j["compute_flop"] = to_double(rr.compute_flop);
  j["headroom_flop"] = to_double(rr.headroom_flop);
  j["headroom_tokens"] = rr.headroom_tokens ? nlohmann::json(to_double(*rr.headroom_tokens)) : nlohmann::json();
  j["headroom_tokens_exact"] = rr.headroom_tokens ? nlohmann::json(to_decimal(*rr.headroom_tokens)) : nlohmann::json();
  return j;
}

}  // namespace flopsmeter
