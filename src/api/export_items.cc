// The DynamoDB item of an exported run or head (docs/export.md, "Items"):
// keyed by run_id and record_version, with the AWS toolkit's attribute
// names, flopsmeter's own, and the record itself.
#include <nlohmann/json.hpp>

#include "adapters/sha256.h"
#include "api/export_internal.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// A DynamoDB item holds at most 400 KB; a record above this stays out of
// it (the item says so) and the attributes still fit.
constexpr size_t kLargestRecordInItem = 300 << 10;

// The attribute names of the AWS toolkit's flops_meter.json.
constexpr const char* kAwsNames[] = {
    "N_total", "N_trainable", "tokens_processed", "Flops_architecture", "Flops_hardware", "pct_of_pretrain",
    "exceeds_30pct", "model_name", "num_epochs", "training_duration_seconds", "gpu_size", "gpu_rank",
    "Flops_original", "threshold_type", "threshold_value", "training_job_name", "training_id", "recipe_config",
    "recipe_config_details", "gpu_name", "instance_type", "model_package_group_name"};
// flopsmeter's own, taken as the record has them.
constexpr const char* kOwnNames[] = {"schema", "status", "complete", "started_at", "ended_at", "written_at"};

Json text_value(const std::string& s) { return {{"S", s}}; }
Json number_value(const std::string& decimal) { return {{"N", decimal}}; }

// Any JSON value as an attribute value: strings S, numbers N (their JSON
// text, exact for integers), booleans BOOL, null NULL, arrays L, objects M.
Json attribute(const Json& v) {
  if (v.is_string()) return text_value(v.get<std::string>());
  if (v.is_number()) return number_value(v.dump());
  if (v.is_boolean()) return {{"BOOL", v.get<bool>()}};
  if (v.is_array()) {
    Json list = Json::array();
    for (const Json& item : v) list.push_back(attribute(item));
    return {{"L", list}};
  }
  if (v.is_object()) {
    Json map = Json::object();
    for (const auto& [key, item] : v.items()) map[key] = attribute(item);
    return {{"M", map}};
  }
  return {{"NULL", true}};
}

// The exact decimal the record keeps for `name` ("exact": {...}), else its number.
Json figure(const Json& record, const char* name) {
  const Json exact = record.value("exact", Json::object());
  if (exact.is_object() && exact.value(name, Json()).is_string()) {
    const std::string decimal = exact[name].get<std::string>();
    if (!decimal.empty() && decimal.find_first_not_of("0123456789") == std::string::npos) return number_value(decimal);
  }
  return attribute(record[name]);
}

void add_run_attributes(const Json& record, const std::string& text, Json& item) {
  for (const char* name : kAwsNames) {
    if (record.contains(name)) item[name] = figure(record, name);
  }
  for (const char* name : kOwnNames) {
    if (record.contains(name)) item[name] = attribute(record[name]);
  }
  const Json compliance = record.value("compliance", Json());
  if (compliance.is_object()) {
    const Json exact = compliance.value("exact", Json());
    item["compliance_flop"] = exact.is_string() ? number_value(exact.get<std::string>()) : attribute(Json());
    item["compliance_formula"] = attribute(compliance.value("formula", Json()));
  }
  const Json verdict = record.value("verdict", Json());
  if (verdict.is_object()) {
    item["verdict_determined"] = attribute(verdict.value("determined", Json()));
    item["verdict_headlines"] = attribute(verdict.value("headlines", Json::array()));
  }
  const Json tool = record.value("tool", Json());
  if (tool.is_object()) item["tool_version"] = attribute(tool.value("version", Json()));
  if (text.size() <= kLargestRecordInItem) {
    item["record"] = text_value(text);
  } else {
    item["record_omitted"] = text_value("the record is " + std::to_string(text.size()) +
                                        " bytes, more than an item holds; record_sha256 identifies it");
  }
}

}  // namespace

Result<Json> export_item(const ExportUnit& unit) {
  const std::string& text = unit.objects.back().text;
  const bool head = unit.kind == ExportUnit::Kind::kHead;
  Json item = {{"run_id", text_value(head ? "ledger-head:" + unit.id : unit.id)},
               {"record_version", number_value(std::to_string(unit.version))},
               {"record_sha256", text_value(sha256_hex(text))}};
  const Json parsed = Json::parse(text, nullptr, false);
  if (!parsed.is_object()) return Status::ParseError("the " + unit.objects.back().what + " is not a JSON object");
  if (head) {
    for (const char* name : {"ledger_id", "size", "root", "time", "key_id"}) item[name] = attribute(parsed.value(name, Json()));
    item["head"] = text_value(text);
  } else {
    add_run_attributes(parsed, text, item);
  }
  return item;
}

}  // namespace flopsmeter
