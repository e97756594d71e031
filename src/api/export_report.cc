// An export's report (flopsmeter.export/1) as text for people.
#include <nlohmann/json.hpp>

#include "api/report_format.h"  // with_commas
#include "core/json_doc.h"     // printable_text
#include "flopsmeter/export.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

std::string shown(const Json& v) { return v.is_string() ? printable_text(v.get<std::string>()) : v.is_null() ? "" : v.dump(); }

std::string unit_text(const Json& u) {
  std::string out = "  " + shown(u["kind"]) + " " + shown(u["id"]) + "\n";
  for (const Json& o : u.value("objects", Json::array())) {
    out += "    " + shown(o["url"]) + "  " + with_commas(o.value("bytes", uint64_t{0})) + " bytes" +
           (o.value("parts", 0) > 0 ? " in " + std::to_string(o["parts"].get<uint64_t>()) + " parts" : "") + ", " +
           (o["version_id"].is_string() ? "version " + shown(o["version_id"]) : "ETag " + shown(o["etag"])) + " (" +
           shown(o["check"]) + ")\n";
  }
  if (u.contains("item")) {
    const Json& i = u["item"];
    out += "    " + shown(i["url"]) + "  item run_id " + shown(i["run_id"]) + ", record_version " +
           shown(i["record_version"]) + (i.value("already_there", false) ? " (already there: the same record)" : "") +
           "\n";
  }
  if (u["ledger_entry"].is_number()) {
    out += "    the ledger's entry " + shown(u["ledger_entry"]) + " records the export of entry " + shown(u["about"]) + "\n";
  } else {
    out += "    not recorded in a ledger: " + shown(u["not_recorded"]) + "\n";
  }
  return out;
}

}  // namespace

Result<std::string> export_report_text(const std::string& report_json) {
  const Json r = Json::parse(report_json, nullptr, false);
  if (!r.is_object() || r.value("schema", "") != "flopsmeter.export/1") {
    return Status::InvalidArgument("not an export report (schema flopsmeter.export/1)");
  }
  std::string out = "Exported to " + shown(r["to"]) + " (" + shown(r["endpoint"]) + ", region " + shown(r["region"]) +
                    ", credentials from " + shown(r["credentials"]) + "), each confirmed by the store:\n";
  for (const Json& u : r["exported"]) out += unit_text(u);
  for (const Json& note : r.value("notes", Json::array())) out += "note: " + shown(note) + "\n";
  return out;
}

}  // namespace flopsmeter
