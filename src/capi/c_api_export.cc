// The C ABI over exports: fm_export, the `export` command's call with its
// options as JSON keys.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "api/export_options.h"
#include "capi/c_api_support.h"
#include "core/json_doc.h"  // printable_text
#include "flopsmeter/c_api.h"
#include "flopsmeter/export.h"

namespace {

using flopsmeter::Result;
using flopsmeter::Status;
using Json = nlohmann::json;

// The JSON options as the command's flags: strings and numbers as text, a
// switch present when true.
Result<flopsmeter::OptionMap> export_option_map(const char* options_json) {
  const Json j = Json::parse(options_json == nullptr ? "" : options_json, nullptr, false);
  if (!j.is_object()) return Status::ParseError("export options: expected a JSON object with \"to\"");
  std::vector<std::string> known = flopsmeter::export_option_names();
  known.insert(known.end(), {"to", "ledger-head", "ledger", "ledger-key", "data-dir"});
  flopsmeter::OptionMap o;
  for (const auto& [key, value] : j.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Status::InvalidArgument("export options: unknown option \"" + flopsmeter::printable_text(key) + "\"");
    }
    const bool is_switch = key == "ledger-head" || key == "path-style";
    if (is_switch != value.is_boolean() || !(value.is_boolean() || value.is_string() || value.is_number())) {
      return Status::InvalidArgument("export options: \"" + key + "\": expected " +
                                     (is_switch ? "true or false" : "a string or a number"));
    }
    if (!is_switch) {
      o.values[key] = value.is_string() ? value.get<std::string>() : value.dump();
    } else if (value.get<bool>()) {
      o.values[key] = "";
    }
  }
  return o;
}

}  // namespace

extern "C" {

fm_status fm_export(const char* source, const char* options_json, char** report_json, char** error) {
  if (report_json != nullptr) *report_json = nullptr;
  return flopsmeter::capi::guarded(error, [&]() -> Status {
    FM_ASSIGN_OR_RETURN(flopsmeter::OptionMap o, export_option_map(options_json));
    const bool named = source != nullptr && *source != '\0';
    if (o.has("ledger-head") == named) {
      return Status::InvalidArgument("fm_export: give a source (a run directory or a model), or \"ledger-head\": "
                                     "true, one of them");
    }
    FM_ASSIGN_OR_RETURN(flopsmeter::ExportOptions options, flopsmeter::export_options_from_map(o, "to"));
    if (options.to.empty()) return Status::InvalidArgument("export options: \"to\" is required");
    const flopsmeter::ExportSource what = named ? flopsmeter::export_source_named(source)
                                                : flopsmeter::ExportSource{flopsmeter::ExportSource::Kind::kLedgerHead, "", ""};
    FM_ASSIGN_OR_RETURN(flopsmeter::ExportReport report, flopsmeter::export_records(what, options));
    if (report_json != nullptr) *report_json = flopsmeter::capi::copy_string(report.json);
    return Status();
  });
}

}  // extern "C"
