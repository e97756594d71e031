// `flopsmeter dossier MODEL|RUN_DIR`: the dossier from the API, in the form
// asked for, to stdout or atomically into a file.
#include "adapters/files.h"  // path_exists, write_file_atomic
#include "api/dossier.h"
#include "api/dossier_render.h"
#include "api/meter_ledger.h"  // ledger_options
#include "cli/commands.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter::cli {
namespace {

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

// --format, else the output file's extension, else html.
Result<std::string> dossier_format(const ParsedArgs& a) {
  if (a.has("format")) {
    const std::string f = a.get("format");
    if (f == "html" || f == "md" || f == "json") return f;
    if (f == "markdown") return std::string("md");
    return Status::InvalidArgument("--format '" + printable_text(f) + "': a dossier is html, md or json");
  }
  const std::string out = a.get("output");
  if (ends_with(out, ".md")) return std::string("md");
  if (ends_with(out, ".json")) return std::string("json");
  return std::string("html");
}

// An existing path is a run or an estimate (unless --from-ledger); anything
// else a model of the ledger.
Result<Dossier> dossier_of(const ParsedArgs& a) {
  const std::string& subject = a.positional.front();
  if (!a.has("from-ledger") && path_exists(subject)) {
    Result<Dossier> d = dossier_for_file(subject);
    if (d.ok()) return d;
    // Every error exits 2: only the message grows.
    return Status::InvalidArgument(d.status().message() + " (for the ledger's model '" + printable_text(subject) +
                                   "', give --from-ledger)");
  }
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, Ledger::Open(ledger_options(a), false));
  Result<Dossier> d = dossier_for_model(*ledger, subject);
  if (!d.ok() && d.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("'" + printable_text(subject) + "' is no run directory or record here, and " +
                            d.status().message());
  }
  return d;
}

}  // namespace

Result<int> run_dossier(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(std::string format, dossier_format(a));
  FM_ASSIGN_OR_RETURN(Dossier d, dossier_of(a));
  const std::string text = format == "json" ? dossier_json(d) : format == "md" ? dossier_markdown(d) : dossier_html(d);
  if (!a.has("output")) {
    out = text;
    return kExitOk;
  }
  const std::string path = a.get("output");
  if (path.empty()) return Status::InvalidArgument("--output needs a file name");
  FM_RETURN_IF_ERROR(write_file_atomic(path, text));
  out = path + "\n";
  return kExitOk;
}

Status write_estimate_html(const std::string& path, const std::string& estimate_json) {
  if (path.empty()) return Status::InvalidArgument("--html needs a file name");
  FM_ASSIGN_OR_RETURN(Dossier d, dossier_for_estimate(estimate_json, "the estimate"));
  return write_file_atomic(path, dossier_html(d));
}

}  // namespace flopsmeter::cli
