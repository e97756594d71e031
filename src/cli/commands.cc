#include "cli/commands.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "adapters/environment.h"
#include "api/meter_ledger.h"
#include "api/option_map.h"
#include "api/recipe.h"
#include "api/report_format.h"
#include "api/verdict.h"
#include "core/architectures.h"  // transformers5_parameter_name
#include "core/json_doc.h"  // printable_text
#include "flopsmeter/catalog.h"
#include "flopsmeter/estimate.h"
#include "flopsmeter/load.h"
#include "flopsmeter/meter.h"
#include "flopsmeter/tokens.h"

namespace flopsmeter::cli {
namespace {

Result<Catalog> load_catalog(const ParsedArgs& a) { return Catalog::Load(a.get("data-dir")); }

// The model reference: --model or the single positional argument.
Result<std::string> model_ref(const ParsedArgs& a) {
  if (a.has("model") && !a.positional.empty()) return Status::InvalidArgument("give the model once (--model or MODEL)");
  if (a.has("model")) return a.get("model");
  if (!a.positional.empty()) return a.positional.front();
  return Status::InvalidArgument("no model given; pass --model MODEL (a catalog id, config.json or checkpoint directory)");
}

// The dataset options `tokens` and `estimate --dataset` share (read by the
// API, as every shell reads them), with the CLI's progress line.
Result<TokenCountRequest> token_count_request(const ParsedArgs& a, SequenceLayout default_layout) {
  FM_ASSIGN_OR_RETURN(TokenCountRequest r, token_count_options(a, default_layout));
  if (!a.has("no-progress") && isatty(STDERR_FILENO)) {
    r.on_progress = [](const TokenCountProgress& p) {
      std::string line = "\r" + with_commas(p.file_bytes_read) + " bytes";
      if (p.file_bytes_total > 0) {
        const double share = static_cast<double>(p.file_bytes_read) / static_cast<double>(p.file_bytes_total);
        line += " (" + percent(share) + ")";
        if (share > 0.001 && share < 1) {
          line += ", ETA " + std::to_string(static_cast<long>(p.seconds / share - p.seconds)) + " s";
        }
      }
      const double mbps = p.seconds > 0 ? static_cast<double>(p.file_bytes_read) / 1e6 / p.seconds : 0;
      line += ", " + with_commas(p.samples) + " samples, " + with_commas(p.tokens) + " tokens, " +
              std::to_string(static_cast<long>(mbps)) + " MB/s   ";
      std::fputs(line.c_str(), stderr);
    };
  }
  return r;
}

Result<int> run_tokens(const ParsedArgs& a, std::string& out) {
  // The dataset's own lengths by default: exact, whatever the trainer's batch and order.
  FM_ASSIGN_OR_RETURN(TokenCountRequest request, token_count_request(a, SequenceLayout::kUnpadded));
  if (request.tokenizer.empty()) return Status::InvalidArgument("tokens needs --tokenizer PATH");
  request.files = a.positional;
  const bool ids = a.has("ids");
  const bool per_sample = a.has("per-sample");
  if (ids && per_sample) return Status::InvalidArgument("give --ids or --per-sample, not both");
  if ((ids || per_sample) && a.has("json")) {
    return Status::InvalidArgument(std::string(ids ? "--ids" : "--per-sample") +
                                   " prints one line per sample; --json prints the totals: give one of them");
  }
  // Per-sample output streams to stdout as it comes, so memory stays bounded.
  std::string line;
  if (ids || per_sample) {
    request.keep_ids = ids;
    request.on_sample = [&](const SampleCount& s) {
      line.clear();
      if (s.error != nullptr) {
        line = "skipped";
      } else if (ids) {
        for (size_t i = 0; i < s.ids->size(); ++i) {
          if (i > 0) line += ' ';
          line += std::to_string((*s.ids)[i]);
        }
      } else {
        line = std::to_string(s.tokens);
      }
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    };
  }
  const bool progress = static_cast<bool>(request.on_progress);
  Result<TokenCountReport> report = count_tokens(request);
  if (progress) std::fputs("\r\033[K", stderr);
  if (!report.ok()) return report.status();
  if (ids || per_sample) {
    std::fflush(stdout);
    if (report->skipped > 0) {
      std::fprintf(stderr, "flopsmeter: %s records skipped (first: %s)\n", with_commas(report->skipped).c_str(),
                   printable_text(cli_spelling(report->skipped_examples.front().reason)).c_str());
    }
    return kExitOk;
  }
  out = a.has("json") ? tokens_to_json(*report) : tokens_to_text(*report);
  return kExitOk;
}

// --epochs as transformers' num_train_epochs takes it: a positive decimal
// number, 3 or 2.5 (Python's float(), without its inf, nan and spaces).
Result<double> epochs_option(const ParsedArgs& a) {
  const std::string text = a.get("epochs");
  const bool decimal = !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.') &&
                       text.find_first_not_of("0123456789.eE+-") == std::string::npos;
  char* end = nullptr;
  const double epochs = decimal ? std::strtod(text.c_str(), &end) : 0;
  if (!decimal || *end != '\0' || !std::isfinite(epochs) || !(epochs > 0)) {
    return Status::InvalidArgument("--epochs '" + printable_text(text) +
                                   "': expected a positive number of epochs, such as 3 or 2.5");
  }
  return epochs;
}

Result<EstimateRequest> estimate_request(const ParsedArgs& a) {
  EstimateRequest r;
  FM_ASSIGN_OR_RETURN(r.model, model_ref(a));
  r.revision = a.get("revision");
  r.command = a.command_line;
  FM_ASSIGN_OR_RETURN(r.methods, method_specs(a));
  if (a.has("tokens")) {
    FM_ASSIGN_OR_RETURN(r.tokens_per_epoch, option_exact(a, "tokens"));
  }
  if (a.has("samples")) {
    FM_ASSIGN_OR_RETURN(r.samples, option_uint(a, "samples"));
  }
  if (a.has("dataset")) {
    // What a default TRL run executes: padded batches in random order.
    FM_ASSIGN_OR_RETURN(TokenCountRequest dataset, token_count_request(a, SequenceLayout::kPadded));
    dataset.files = split_list(a.get("dataset"));
    r.dataset = std::move(dataset);
  }
  if (a.has("seq-len")) {
    FM_ASSIGN_OR_RETURN(r.seq_len, option_uint(a, "seq-len"));
  }
  if (a.has("epochs")) {
    FM_ASSIGN_OR_RETURN(r.epochs, epochs_option(a));
  }
  if (a.has("max-steps")) {
    FM_ASSIGN_OR_RETURN(uint64_t steps, option_uint(a, "max-steps"));
    if (steps == 0) return Status::InvalidArgument("--max-steps must be at least 1");
    r.max_steps = steps;
  }
  if (a.has("attention")) {
    FM_ASSIGN_OR_RETURN(r.kernel, parse_attention_kernel(a.get("attention")));
  }
  r.gradient_checkpointing = a.has("gradient-checkpointing");
  if (a.has("checkpoint-mode")) {
    FM_ASSIGN_OR_RETURN(r.checkpoint_mode, option_checkpoint_mode(a));
  }
  if (a.has("micro-batch-size")) {
    FM_ASSIGN_OR_RETURN(r.micro_batch_size, option_uint(a, "micro-batch-size"));
    if (r.micro_batch_size == 0) return Status::InvalidArgument("--micro-batch-size must be at least 1");
  }
  if (a.has("grad-accum")) {
    FM_ASSIGN_OR_RETURN(r.gradient_accumulation, option_uint(a, "grad-accum"));
  }
  if (a.has("data-parallel")) {
    FM_ASSIGN_OR_RETURN(r.data_parallel, option_uint(a, "data-parallel"));
  }
  // --pretrain-flops wins; FLOPSMETER_PRETRAIN_FLOPS (or the AWS toolkit's PRETRAIN_FLOPS) otherwise.
  if (a.has("pretrain-flops")) {
    FM_ASSIGN_OR_RETURN(r.pretrain, parse_pretrain_flops(a.get("pretrain-flops"), "--pretrain-flops"));
  } else if (std::optional<EnvValue> env = env_setting(EnvSetting::kPretrainFlops)) {
    FM_ASSIGN_OR_RETURN(r.pretrain, parse_pretrain_flops(env->value, env->variable));
  }
  r.base_systemic_risk = a.has("base-systemic-risk");
  if (a.has("prior-modifications")) {
    FM_ASSIGN_OR_RETURN(r.prior_modifications, option_exact(a, "prior-modifications"));
  }
  if (a.has("compliance-formula")) {
    FM_ASSIGN_OR_RETURN(r.compliance_formula, parse_compliance_formula(a.get("compliance-formula")));
  }
  r.aws_compat = a.has("aws-compat");
  r.gpu = a.get("gpu");
  if (a.has("peak-flops")) {
    FM_ASSIGN_OR_RETURN(r.peak_flop_per_s, option_double(a, "peak-flops"));
  }
  if (a.has("gpus")) {
    FM_ASSIGN_OR_RETURN(r.gpu_count, option_uint(a, "gpus"));
  }
  if (a.has("hours")) {
    FM_ASSIGN_OR_RETURN(r.hours, option_double(a, "hours"));
  }
  if (a.has("utilization")) {
    FM_ASSIGN_OR_RETURN(r.utilization, option_double(a, "utilization"));
  }
  if (a.has("dtype")) {
    FM_ASSIGN_OR_RETURN(r.dtype, parse_dtype(a.get("dtype")));
  }
  if (a.has("ledger-model")) {
    // The lineage's figures, from the ledger: the one source.
    if (a.has("pretrain-flops") || a.has("prior-modifications")) {
      return Status::InvalidArgument("--ledger-model takes the base compute and the earlier modifications from the "
                                     "ledger: give it, or --pretrain-flops and --prior-modifications, not both");
    }
    FM_ASSIGN_OR_RETURN(Ledger::Basis basis, ledger_basis(ledger_options(a), a.get("ledger-model")));
    r.pretrain = basis.original;
    r.base_systemic_risk = r.base_systemic_risk || basis.original.systemic_risk;
    r.prior_modifications = basis.own_modifications;
    r.prior_modifications_undetermined = basis.own_modifications_undetermined;
  }
  if (!a.has("gpu") && !a.has("peak-flops") && (a.has("gpus") || a.has("hours"))) {
    return Status::InvalidArgument("--gpus/--hours need --gpu NAME or --peak-flops F for the hardware estimate");
  }
  return r;
}

// --fail-if-exceeds[=REGIMES]: the exit status for `outcomes`, with every
// trip said on stderr (which regime, method, figure and threshold).
Result<int> gate_exit_status(const ParsedArgs& a, const RuleSet& rules, const std::vector<RegimeOutcomes>& outcomes) {
  if (!a.has("fail-if-exceeds")) return kExitOk;
  FM_ASSIGN_OR_RETURN(GateSpec gate, parse_gate(a.get("fail-if-exceeds"), rules));
  int status = kExitOk;
  for (const GateTrip& trip : gate_trips(gate, outcomes)) {
    const bool exceeded = trip.verdict == Verdict::kExceeds;
    std::fprintf(stderr, "flopsmeter: --fail-if-exceeds: %s\n", cli_spelling(gate_trip_text(trip)).c_str());
    status = exceeded ? kExitExceeded : (status == kExitOk ? kExitUndetermined : status);
  }
  return status;
}

Result<int> run_estimate_command(const ParsedArgs& given, std::string& out) {
  // A recipe's settings as if typed, after the flags that were.
  ParsedArgs a = given;
  const CommandDef& estimate = *find_command("estimate");
  FM_ASSIGN_OR_RETURN(std::optional<Recipe> recipe,
                      apply_recipe(a, RecipeReader::kEstimate, [&](const std::string& option) {
                        return std::find(estimate.flags.begin(), estimate.flags.end(), option) != estimate.flags.end();
                      }));
  FM_ASSIGN_OR_RETURN(Catalog catalog, load_catalog(a));
  FM_ASSIGN_OR_RETURN(EstimateRequest request, estimate_request(a));
  if (recipe) request.recipe = recipe->use;
  Result<EstimateReport> estimated = run_estimate(request, catalog);
  // The library says what is missing; the flag that gives it is the CLI's to name.
  if (!estimated.ok() && request.dataset && request.dataset->tokenizer.empty() &&
      estimated.status().message().find("needs a tokenizer") != std::string::npos) {
    return Status::InvalidArgument(estimated.status().message() + " with --tokenizer PATH");
  }
  FM_ASSIGN_OR_RETURN(EstimateReport report, std::move(estimated));
  out = a.has("json") ? estimate_to_json(report) : estimate_to_text(report);
  if (a.has("html")) {
    FM_RETURN_IF_ERROR(write_estimate_html(a.get("html"), estimate_to_json(report)));
    std::fprintf(stderr, "flopsmeter: the comparison is at %s\n", printable_text(a.get("html")).c_str());
  }
  if (a.has("record")) {
    // The pre-training decision on file, about the model it plans to train.
    FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, Ledger::OpenCreatingOnAppend(ledger_options(a)));
    const std::string about = a.has("ledger-model") ? a.get("ledger-model") : request.model;
    FM_ASSIGN_OR_RETURN(LedgerAppend appended, ledger->add_estimate(estimate_to_json(report), about));
    std::fprintf(stderr, "flopsmeter: the estimate is entry %llu of the ledger\n",
                 static_cast<unsigned long long>(appended.index));
    for (const std::string& note : appended.notes) {
      std::fprintf(stderr, "flopsmeter: %s\n", printable_text(cli_spelling(note)).c_str());
    }
  }
  return gate_exit_status(a, catalog.rules(), estimate_outcomes(report));
}

// The fused parameter transformers 5 loads a per-expert module's weight into; "" if none.
std::string transformers5_name(const Module& mod) {
  return mod.params.empty() ? std::string() : transformers5_parameter_name(mod.params.front().name);
}

Result<int> run_inspect(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(Catalog catalog, load_catalog(a));
  FM_ASSIGN_OR_RETURN(std::string ref, model_ref(a));
  FM_ASSIGN_OR_RETURN(LoadedModel loaded, load_model(ref, catalog, {a.get("revision")}));
  ParamBreakdown b = count_parameters(loaded.model);
  const Model& m = loaded.model;
  if (a.has("json")) {
    nlohmann::json j = {{"schema", "flopsmeter.inspect/1"}, {"model", model_json(loaded, b)}};
    if (a.has("modules")) {
      nlohmann::json mods = nlohmann::json::array();
      for (const Module& mod : m.modules) {
        uint64_t n = 0;
        for (const Parameter& p : mod.params) n += p.numel;
        mods.push_back({{"path", mod.path}, {"component", component_name(mod.component)}, {"layer", mod.layer},
                        {"in", mod.in_features}, {"out", mod.out_features}, {"params", n}, {"tied_to", mod.tied_to},
                        {"transformers5_name", transformers5_name(mod)}});
      }
      j["modules"] = mods;
    }
    out = json_text(j);
    return kExitOk;
  }
  // Names come from user files and catalogs: printed with control characters escaped.
  const auto shown = [](const std::string& text) { return printable_text(text); };
  std::ostringstream o;
  o << "Model       " << shown(m.id) << " (" << shown(m.arch.model_type) << ", from " << loaded.source_kind << ")\n";
  o << "Parameters  " << with_commas(b.total) << "  (= transformers model.num_parameters())\n";
  if (b.active_per_token != b.total) o << "Active      " << with_commas(b.active_per_token) << " per token\n";
  if (loaded.catalog_entry && loaded.catalog_entry->published_params) {
    uint64_t pub = *loaded.catalog_entry->published_params;
    o << "Published   " << with_commas(pub) << (pub == b.total ? "  (matches)" : "  (DIFFERS)") << "  "
      << shown(loaded.catalog_entry->published_params_source) << "\n";
  }
  o << "\nBreakdown\n";
  for (const auto& [component, n] : b.by_component) {
    char line[128];
    std::snprintf(line, sizeof line, "  %-20s %18s  %6s\n", component_name(component), with_commas(n).c_str(),
                  percent(static_cast<double>(n) / static_cast<double>(b.total)).c_str());
    o << line;
  }
  if (m.known_architecture) {
    o << "\nArchitecture  vocab " << m.arch.vocab_size << ", hidden " << m.arch.hidden_size << ", layers "
      << m.arch.num_layers << ", heads " << m.arch.num_heads << " (kv " << m.arch.num_kv_heads << ", head_dim "
      << m.arch.head_dim << "), intermediate " << m.arch.intermediate_size;
    if (m.arch.num_experts > 0) o << ", experts " << m.arch.num_experts << " (top " << m.arch.experts_per_token << ")";
    o << (m.arch.tied_embeddings ? ", tied embeddings" : ", untied embeddings") << "\n";
  }
  if (!m.quantization.empty()) o << "Quantization  " << shown(m.quantization) << "\n";
  for (const std::string& n : m.notes) o << "Note: " << shown(n) << "\n";
  if (a.has("modules")) {
    o << "\nModules (path, in -> out, parameters)\n";
    for (const Module& mod : m.modules) {
      uint64_t n = 0;
      for (const Parameter& p : mod.params) n += p.numel;
      std::string fused = transformers5_name(mod);
      o << "  " << shown(mod.path) << "  " << mod.in_features << " -> " << mod.out_features << "  " << with_commas(n)
        << (mod.tied_to.empty() ? "" : "  (tied to " + shown(mod.tied_to) + ")")
        << (fused.empty() ? "" : "  (transformers 5: " + shown(fused) + ")") << "\n";
    }
  }
  out = o.str();
  return kExitOk;
}

Result<int> run_rules(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(Catalog catalog, load_catalog(a));
  const RuleSet& rules = catalog.rules();
  if (a.has("json")) {
    nlohmann::json regimes = nlohmann::json::array();
    for (const Regime& r : rules.regimes) {
      nlohmann::json threshold;
      if (r.threshold.kind == Threshold::Kind::kAbsolute) {
        threshold = {{"kind", "absolute"}, {"flop", exact_figure(r.threshold.absolute_flop)}};
      } else {
        threshold = {{"kind", "fraction_of_base"},
                     {"fraction", exact_figure(r.threshold.fraction)},
                     {"unknown_base", exact_figure(r.threshold.unknown_base)}};
        if (r.threshold.unknown_base_systemic_risk) {
          threshold["unknown_base_systemic_risk"] = exact_figure(*r.threshold.unknown_base_systemic_risk);
        }
      }
      regimes.push_back({{"id", r.id}, {"name", r.name}, {"jurisdiction", r.jurisdiction},
                         {"legal_source", r.legal_source}, {"url", r.url}, {"status", regime_status_name(r.status)},
                         {"status_note", r.status_note}, {"effective_from", r.effective_from.value_or("")},
                         {"effective_until", r.effective_until.value_or("")},
                         {"compute_basis", compute_basis_name(r.compute_basis)},
                         {"comparison", comparison_name(r.comparison)}, {"threshold", threshold},
                         {"explanation", r.explanation}, {"origin", r.origin}});
    }
    out = json_text({{"schema", "flopsmeter.rules-list/1"},
                     {"data_version", rules.data_version},
                     {"error_margin", exact_figure(rules.error_margin)},
                     {"regimes", regimes}});
    return kExitOk;
  }
  // Rules may come from a user's --data-dir: printed with control characters escaped.
  const auto shown = [](const std::string& text) { return printable_text(text); };
  std::ostringstream o;
  o << "Regimes (rules data " << shown(rules.data_version) << "; estimates within "
    << percent(rules.error_margin.to_double()) << " are flagged as uncertain)\n";
  for (const Regime& r : rules.regimes) {
    o << "\n" << shown(r.id) << "  [" << regime_status_name(r.status) << "]  " << shown(r.jurisdiction) << "\n  "
      << shown(r.name) << "\n  ";
    if (r.threshold.kind == Threshold::Kind::kAbsolute) {
      o << compute_basis_name(r.compute_basis) << " compute " << comparison_name(r.comparison) << " "
        << sci(r.threshold.absolute_flop.to_double(), 3) << " FLOP";
    } else {
      o << "modification compute " << comparison_name(r.comparison) << " " << r.threshold.fraction.to_string()
        << " of the base's compute; unknown base: " << sci(r.threshold.unknown_base.to_double(), 3);
      if (r.threshold.unknown_base_systemic_risk) {
        o << ", systemic-risk base: " << sci(r.threshold.unknown_base_systemic_risk->to_double(), 3);
      }
    }
    o << "\n  Source: " << shown(r.legal_source) << (r.url.empty() ? "" : " <" + shown(r.url) + ">") << "\n";
    if (!r.status_note.empty()) o << "  Status: " << shown(r.status_note) << "\n";
  }
  out = o.str();
  return kExitOk;
}

// `text` padded with spaces to `width` columns (bytes), on the left or the
// right; longer text is kept whole, so a long name moves the columns
// instead of being cut (a cut could drop the line's end).
std::string padded(std::string text, size_t width, bool align_right = false) {
  if (text.size() < width) text.insert(align_right ? 0 : text.size(), width - text.size(), ' ');
  return text;
}

Result<int> run_models(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(Catalog catalog, load_catalog(a));
  nlohmann::json list = nlohmann::json::array();
  // Catalog entries may come from a user's --data-dir: names printed escaped.
  auto row = [](const std::string& id, const std::string& type, const std::string& params, const std::string& pre) {
    return padded(printable_text(id), 42) + " " + padded(printable_text(type), 12) + " " + padded(params, 16, true) +
           "  " + printable_text(pre) + "\n";
  };
  std::string text = row("id", "type", "parameters", "pretraining compute");
  for (const CatalogModel& c : catalog.models()) {
    FM_ASSIGN_OR_RETURN(LoadedModel loaded, load_model(c.id, catalog));
    ParamBreakdown b = count_parameters(loaded.model);
    std::string pre = c.pretraining.flop ? sci(*c.pretraining.flop) + " (" + c.pretraining.status + ")" : "not published";
    text += row(c.id, loaded.model.arch.model_type, with_commas(b.total), pre);
    nlohmann::json j = {{"id", c.id}, {"model_type", loaded.model.arch.model_type}, {"params_total", b.total},
                        {"params_active", b.active_per_token}, {"pretraining_status", c.pretraining.status},
                        {"config_source", c.config_source}};
    j["pretraining_flop"] = c.pretraining.flop ? nlohmann::json(to_double(*c.pretraining.flop)) : nlohmann::json();
    if (c.pretraining.flop) j["pretraining_source"] = c.pretraining.source;
    list.push_back(j);
  }
  out = a.has("json") ? json_text({{"schema", "flopsmeter.models/1"}, {"models", list}}) : text;
  return kExitOk;
}

Result<int> run_gpus(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(Catalog catalog, load_catalog(a));
  nlohmann::json list = nlohmann::json::array();
  // Catalog entries may come from a user's --data-dir: names printed escaped.
  auto row = [](const std::string& id, const std::string& name, const std::vector<std::string>& peaks,
                const std::string& status) {
    std::string line = padded(printable_text(id), 14) + " " + padded(printable_text(name), 26);
    for (const std::string& peak : peaks) line += " " + padded(peak, 8, true);
    return line + "  " + status + "\n";
  };
  std::string text = "Dense peak TFLOP/s (not 2:4 sparse). Matched by exact NVML name.\n" +
                     row("id", "name", {"fp32", "tf32", "bf16", "fp16", "fp8"}, "status");
  for (const GpuSpec& g : catalog.gpus().gpus) {
    auto cell = [&](DType t) {
      std::optional<double> p = g.peak(t);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", p ? *p / 1e12 : 0.0);
      return p ? std::string(buf) : std::string("-");
    };
    text += row(g.id, g.name,
                {cell(DType::kFp32), cell(DType::kTf32), cell(DType::kBf16), cell(DType::kFp16), cell(DType::kFp8)},
                gpu_data_status_name(g.status));
    nlohmann::json peaks = nlohmann::json::object();
    for (DType t : g.supported_dtypes()) peaks[dtype_name(t)] = *g.peak(t);
    list.push_back({{"id", g.id}, {"name", g.name}, {"match", g.match}, {"architecture", g.architecture},
                    {"dense_peak_flop_per_s", peaks}, {"source", g.source}, {"url", g.url},
                    {"status", gpu_data_status_name(g.status)}});
  }
  out = a.has("json") ? json_text({{"schema", "flopsmeter.gpus-list/1"}, {"gpus", list}}) : text;
  return kExitOk;
}

}  // namespace

Result<int> record_exit_status(const ParsedArgs& a, const RunRecord& record) {
  FM_ASSIGN_OR_RETURN(Catalog catalog, load_catalog(a));
  const RegimeOutcomes outcome{"", record.formula, record.regimes, record.tokens, record.undetermined,
                               record.undetermined_reason};
  FM_ASSIGN_OR_RETURN(const int gated, gate_exit_status(a, catalog.rules(), {outcome}));
  if (gated != kExitOk) return gated;
  // A run whose compute is unknown (or an earlier modification's) never
  // passes as "below": said loudly.
  bool open = false;
  for (const RuleResult& r : record.regimes) open = open || (concerns_modifier(r) && !r.determinate && !r.open_for_base);
  if (open) {
    if (record.undetermined) {
      std::fprintf(stderr, "flopsmeter: the run's compute is UNDETERMINED: %s\n",
                   cli_spelling(record.undetermined_reason).c_str());
    } else {
      std::fprintf(stderr, "flopsmeter: the lineage's compute is UNDETERMINED: an earlier modification's compute is "
                           "unknown (the record's warnings say which)\n");
    }
    return kExitUndetermined;
  }
  return kExitOk;
}

namespace {

// The record as JSON or text, and the exit status its verdicts give
// (report/merge share this).
Result<int> print_record(const ParsedArgs& a, const RunRecord& record, std::string& out) {
  if (a.has("json")) {
    out += record.json;
  } else {
    FM_ASSIGN_OR_RETURN(std::string text, run_record_to_text(record.json));
    out += text;
  }
  return record_exit_status(a, record);
}

ReportOptions report_options(const ParsedArgs& a) {
  ReportOptions r;
  r.output = a.get("out");
  r.data_dir = a.get("data-dir");
  return r;
}

Result<int> run_report_command(const ParsedArgs& a, std::string& out) {
  if (!a.has("run")) return Status::InvalidArgument("no run directory: give --run DIR");
  ReportOptions r = report_options(a);
  r.write = a.has("write") || a.has("out");
  FM_ASSIGN_OR_RETURN(RunRecord record, report_run(a.get("run"), r));
  return print_record(a, record, out);
}

Result<int> run_merge(const ParsedArgs& a, std::string& out) {
  if (!a.has("run")) return Status::InvalidArgument("no target run directory: give --run TARGET");
  FM_ASSIGN_OR_RETURN(RunRecord record, merge_runs(a.positional, a.get("run"), report_options(a)));
  return print_record(a, record, out);
}

}  // namespace

Result<int> run_command(const CommandDef& command, const ParsedArgs& args, std::string& out) {
  if (command.name == "estimate") return run_estimate_command(args, out);
  if (command.name == "tokens") return run_tokens(args, out);
  if (command.name == "inspect") return run_inspect(args, out);
  if (command.name == "rules") return run_rules(args, out);
  if (command.name == "models") return run_models(args, out);
  if (command.name == "gpus") return run_gpus(args, out);
  if (command.name == "watch") return run_watch(args, out);
  if (command.name == "train") return run_train(args, out);
  if (command.name == "report") return run_report_command(args, out);
  if (command.name == "merge") return run_merge(args, out);
  if (command.name == "dossier") return run_dossier(args, out);
  if (command.name == "completion") return run_completion(args, out);
  if (command.name == "export") return run_export(args, out);
  if (command.name == "verify-proof" || command.name.rfind("ledger ", 0) == 0) {
    return run_ledger_command(command, args, out);
  }
  return Status::Internal("command '" + command.name + "' has no implementation");
}

}  // namespace flopsmeter::cli
