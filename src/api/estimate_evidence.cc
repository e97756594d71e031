#include "api/estimate_evidence.h"

#include <ctime>
#include <set>

#include "adapters/files.h"
#include "adapters/sha256.h"
#include "api/run_report.h"  // iso_time

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// The file `role` is at `path`, hashed; once per path.
Status add_file(EstimateReport& report, std::set<std::string>& seen, const std::string& role, const std::string& path) {
  if (path.empty() || path == "-" || !seen.insert(path).second) return Status::Ok();
  FM_ASSIGN_OR_RETURN(FileDigest digest, sha256_file(path));
  report.files.push_back({role, path, digest.sha256, digest.bytes});
  return Status::Ok();
}

// A tokenizer given as a directory or as its tokenizer.json: both files.
Status add_tokenizer(EstimateReport& report, std::set<std::string>& seen, const std::string& tokenizer) {
  if (tokenizer.empty()) return Status::Ok();
  const bool dir = is_directory(tokenizer);
  const std::string json = dir ? join_path(tokenizer, "tokenizer.json") : tokenizer;
  FM_RETURN_IF_ERROR(add_file(report, seen, "tokenizer", json));
  const size_t slash = json.rfind('/');
  const std::string config = join_path(slash == std::string::npos ? "." : json.substr(0, slash), "tokenizer_config.json");
  return is_regular_file(config) ? add_file(report, seen, "tokenizer config", config) : Status::Ok();
}

}  // namespace

Status add_estimate_evidence(EstimateReport& report, const std::string& tokenizer) {
  report.made_at = iso_time(static_cast<double>(std::time(nullptr)));
  std::set<std::string> seen;
  const LoadedModel& m = report.model;
  if (m.source_kind == "config" && !is_directory(m.source) && m.hub_repo.empty()) {
    FM_RETURN_IF_ERROR(add_file(report, seen, "model config", m.source));
  } else if (!m.model_dir.empty() && is_regular_file(join_path(m.model_dir, "config.json"))) {
    FM_RETURN_IF_ERROR(add_file(report, seen, "model config", join_path(m.model_dir, "config.json")));
  }
  for (const MethodSpec& spec : report.request.methods) {
    FM_RETURN_IF_ERROR(add_file(report, seen, "adapter config", spec.lora.adapter_config));
  }
  if (report.request.recipe) FM_RETURN_IF_ERROR(add_file(report, seen, "recipe", report.request.recipe->file));
  FM_RETURN_IF_ERROR(add_tokenizer(report, seen, tokenizer));
  if (report.dataset) {
    for (const std::string& file : report.dataset->files) FM_RETURN_IF_ERROR(add_file(report, seen, "dataset", file));
  }
  return Status::Ok();
}

Json method_settings_json(const MethodSpec& spec) {
  switch (spec.kind) {
    case MethodKind::kFull: return Json::object();
    case MethodKind::kFreeze:
      return {{"frozen_layers", spec.freeze.frozen_layers}, {"freeze_embeddings", spec.freeze.freeze_embeddings}};
    case MethodKind::kSpectrum:
      return {{"fraction", spec.spectrum.fraction ? Json(*spec.spectrum.fraction) : Json()},
              {"unfrozen_patterns", spec.spectrum.unfrozen_patterns}};
    case MethodKind::kLora:
    case MethodKind::kDora:
    case MethodKind::kQlora: break;
  }
  const LoraOptions& l = spec.lora;
  return {{"r", l.r},
          {"target_modules", l.target_modules},
          {"target_regex", l.target_regex},
          {"bias", l.bias},
          {"lora_dropout", l.dropout},
          {"modules_to_save", l.modules_to_save},
          {"layers_to_transform", l.layers_to_transform},
          {"adapter_config", l.adapter_config.empty() ? Json() : Json(l.adapter_config)}};
}

Json estimate_provenance_json(const EstimateReport& report) {
  Json files = Json::array();
  for (const EstimateFile& f : report.files) {
    files.push_back({{"role", f.role}, {"path", f.path}, {"sha256", f.sha256}, {"bytes", f.bytes}});
  }
  Json provenance = {{"made_at", report.made_at}, {"command", report.request.command}, {"files", files}};
  if (const std::optional<RecipeUse>& recipe = report.request.recipe) {
    Json settings = Json::array();
    for (const RecipeUse::Setting& s : recipe->settings) {
      settings.push_back({{"key", s.key},
                          {"line", s.line == 0 ? Json() : Json(s.line)},
                          {"option", s.option},
                          {"value", s.value}});
    }
    provenance["recipe"] = {{"file", recipe->file}, {"dialect", recipe->dialect}, {"settings", settings},
                            {"notes", recipe->notes}};
  }
  return provenance;
}

}  // namespace flopsmeter
