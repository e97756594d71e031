// `flopsmeter export (RUN_DIR | MODEL | --ledger-head) --to URL`: one call
// into the export API, its report printed as it is (--json) or as text.
#include "api/export_options.h"
#include "cli/commands.h"
#include "flopsmeter/export.h"

namespace flopsmeter::cli {

Result<int> run_export(const ParsedArgs& a, std::string& out) {
  if (a.has("ledger-head") == !a.positional.empty()) {
    return Status::InvalidArgument("say what to export: a run directory, a model of the ledger, or --ledger-head "
                                   "(one of them)");
  }
  const ExportSource source = a.has("ledger-head") ? ExportSource{ExportSource::Kind::kLedgerHead, "", ""}
                                                   : export_source_named(a.positional.front());
  FM_ASSIGN_OR_RETURN(ExportOptions options, export_options_from_map(a, "to"));
  if (options.to.empty()) return Status::InvalidArgument("say where to: --to s3://bucket/prefix or --to dynamodb://table");
  FM_ASSIGN_OR_RETURN(ExportReport report, export_records(source, options));
  if (a.has("json")) {
    out = report.json;
    return kExitOk;
  }
  FM_ASSIGN_OR_RETURN(out, export_report_text(report.json));
  return kExitOk;
}

}  // namespace flopsmeter::cli
