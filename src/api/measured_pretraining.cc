// A base's pretraining compute from the flopsmeter run that measured it.
#include <nlohmann/json.hpp>

#include "adapters/files.h"
#include "adapters/sha256.h"
#include "api/report_format.h"
#include "api/run_record_check.h"
#include "api/run_report.h"
#include "core/json_doc.h"
#include "flopsmeter/exact.h"
#include "flopsmeter/ledger.h"

namespace flopsmeter {

Result<PretrainingFigure> measured_pretraining(const std::string& run, const std::string& data_dir) {
  using Json = nlohmann::json;
  FM_ASSIGN_OR_RETURN(RunRecordFile file, read_run_record_file(run));
  const std::string where = is_directory(run) ? join_path(run, kRecordFileName) : run;
  const Json record = Json::parse(file.text, nullptr, false);
  const Json schema = record.is_object() ? record.value("schema", Json()) : Json();
  if (!schema.is_string() || schema.get<std::string>().rfind("flopsmeter.run/", 0) != 0 ||
      !record.value("run_id", Json()).is_string()) {
    return Status::InvalidArgument(printable_text(where) + ": not a flopsmeter run record (schema flopsmeter.run/N "
                                   "with a run_id)");
  }
  FM_RETURN_IF_ERROR(check_run_record(file.run_dir, record, data_dir));
  const Json compliance = record.value("compliance", Json());
  const Json kept = compliance.is_object() ? compliance.value("in_final_weights_exact", Json()) : Json();
  const Json spent = compliance.is_object() ? compliance.value("exact", Json()) : Json();
  if (!kept.is_string() || !spent.is_string()) {
    return Status::InvalidArgument(printable_text(where) + ": the run's compute is undetermined (see its "
                                   "verdict.undetermined_reason), so it cannot stand as a base's pretraining compute");
  }
  FM_ASSIGN_OR_RETURN(Flop flop, parse_exact_integer(kept.get<std::string>(), "compliance.in_final_weights_exact"));
  FM_ASSIGN_OR_RETURN(Flop all, parse_exact_integer(spent.get<std::string>(), "compliance.exact"));
  const auto text = [](const Json& v) { return v.is_string() ? printable_text(v.get<std::string>()) : "?"; };
  PretrainingFigure figure;
  figure.flop = flop;
  figure.status = "measured";
  figure.source = "flopsmeter run " + record["run_id"].get<std::string>() + " (record SHA-256 " +
                  sha256_hex(file.text) + ", status " + text(record.value("status", Json())) +
                  "), checked against its journals: " + with_commas(flop) + " FLOP in the final weights by the " +
                  text(compliance.value("formula", Json())) + " formula, " + with_commas(all) +
                  " FLOP spent in all";
  return figure;
}

}  // namespace flopsmeter
