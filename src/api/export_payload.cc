// What an export sends, gathered and checked before anything is sent: a run
// directory's record, journals, dossier files and the ledger's head; a
// model's runs as the ledger holds them, with its dossier; the head alone.
#include <fcntl.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "adapters/files.h"
#include "adapters/sha256.h"
#include "api/dossier.h"
#include "api/dossier_render.h"
#include "api/export_internal.h"
#include "api/journal.h"
#include "api/run_report.h"  // kRecordFileName
#include "core/export_target.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

using Json = nlohmann::json;
using Kind = ExportUnit::Kind;

// The dossier files a run directory may hold (`flopsmeter dossier RUN -o RUN/dossier.html`).
constexpr std::pair<const char*, const char*> kDossierFiles[] = {
    {"dossier.html", "text/html; charset=utf-8"},
    {"dossier.md", "text/markdown; charset=utf-8"},
    {"dossier.json", "application/json"}};
constexpr const char* kJson = "application/json";

ExportObject text_object(std::string name, std::string what, std::string text, const char* type = kJson) {
  return ExportObject{std::move(name), std::move(what), type, std::move(text), ""};
}

// The ledger at `o`, or null (with a note) when there is none and none is required.
Result<std::unique_ptr<Ledger>> open_ledger(const LedgerOptions& o, bool required, std::vector<std::string>& notes) {
  Result<std::unique_ptr<Ledger>> ledger = Ledger::Open(o, false);
  if (ledger.ok() || required || ledger.status().code() != StatusCode::kNotFound) return ledger;
  notes.push_back(ledger.status().message() + ": no ledger head goes with the export, and no ledger records it");
  return std::unique_ptr<Ledger>();
}

// Entry `index` as the ledger holds it: its inclusion proof carries the
// entry's text, and is the public way to it.
Result<Json> ledger_entry(Ledger& ledger, uint64_t index) {
  FM_ASSIGN_OR_RETURN(std::string proof_text, ledger.prove_json(index));
  const Json proof = Json::parse(proof_text, nullptr, false);
  const Json entry = proof.is_object() && proof.value("entry", Json()).is_string()
                         ? Json::parse(proof["entry"].get<std::string>(), nullptr, false)
                         : Json();
  if (!entry.is_object() || !entry.value("body", Json()).is_object()) {
    return Status::ParseError("ledger entry " + std::to_string(index) + ": not an entry with a body");
  }
  return entry;
}

std::string body_text(const Json& entry, const char* key) {
  const Json v = entry["body"].value(key, Json());
  return v.is_string() ? v.get<std::string>() : "";
}

// The journal lines a record covers: a later record of the run covers more.
uint64_t journal_lines(const Json& record) {
  const Json provenance = record.value("provenance", Json());
  const Json journals = provenance.is_object() ? provenance.value("journals", Json()) : Json();
  uint64_t lines = 0;
  if (!journals.is_object()) return 0;
  for (const auto& [rank, pinned] : journals.items()) {
    if (pinned.is_object() && pinned.value("lines", Json()).is_number_unsigned()) lines += pinned["lines"].get<uint64_t>();
  }
  return lines;
}

// A run's unit with its record last; `record` parsed from `text`.
Result<ExportUnit> run_unit(const Json& record, std::string text, const std::string& where) {
  const Json id = record.is_object() ? record.value("run_id", Json()) : Json();
  ExportUnit u;
  u.id = id.is_string() ? id.get<std::string>() : "";
  if (!plain_key_part(u.id, false)) {
    return Status::InvalidArgument(where + ": the record's run_id '" + printable_text(u.id) +
                                   "' is not a plain name (1 to 200 letters, digits, '.', '_', '-', ':') that can "
                                   "be part of an object key");
  }
  u.key_part = u.id + "/";
  u.version = journal_lines(record);
  u.objects.push_back(text_object(kRecordFileName, "record", std::move(text)));
  return u;
}

// The ledger's entry for the run of `u`, when it holds this very record.
Status find_run_entry(Ledger* ledger, ExportUnit& u) {
  if (ledger == nullptr) {
    u.not_recorded = "there is no ledger";
    return Status();
  }
  FM_ASSIGN_OR_RETURN(std::string runs_text, ledger->runs_json(""));
  const Json runs = Json::parse(runs_text, nullptr, false);
  for (const Json& run : runs.value("runs", Json::array())) {
    if (run.value("run_id", "") != u.id) continue;
    const uint64_t entry = run.value("entry", uint64_t{0});
    FM_ASSIGN_OR_RETURN(Json stored, ledger_entry(*ledger, entry));
    if (body_text(stored, "record_sha256") == sha256_hex(u.objects.back().text)) {
      u.about = entry;
    } else {
      u.not_recorded = "the ledger's entry " + std::to_string(entry) + " holds another record of the run (add this "
                       "one to the ledger first: ledger add)";
    }
    return Status();
  }
  u.not_recorded = "the run is not in the ledger (add it first: ledger add)";
  return Status();
}

Result<ExportObject> head_object(Ledger& ledger, std::string name) {
  FM_ASSIGN_OR_RETURN(std::string head, ledger.head_json());
  return text_object(std::move(name), "ledger head", std::move(head));
}

Result<ExportUnit> run_directory_unit(const ExportSource& source, Ledger* ledger) {
  FM_ASSIGN_OR_RETURN(RunRecordFile file, read_run_record_file(source.record.empty() ? source.name : source.record));
  const std::string dir = source.record.empty() ? file.run_dir : source.name;
  const std::string where = printable_text(source.record.empty() ? source.name : source.record);
  const Json record = Json::parse(file.text, nullptr, false);
  if (!record.is_object()) return Status::ParseError(where + ": the record is not a JSON object");
  FM_ASSIGN_OR_RETURN(ExportUnit u, run_unit(record, file.text, where));
  ExportObject record_object = std::move(u.objects.back());
  u.objects.clear();
  FM_ASSIGN_OR_RETURN(std::vector<std::string> names, list_directory(dir));
  for (const std::string& name : names) {
    if (journal_rank(name) >= 0) u.objects.push_back({name, "journal", "application/x-ndjson", "", join_path(dir, name)});
  }
  for (const auto& [name, type] : kDossierFiles) {
    const std::string path = join_path(dir, name);
    if (path_exists(path)) u.objects.push_back({name, "dossier", type, "", path});
  }
  // Checked before anything is sent: what a run directory holds is sent
  // only when it is a regular file in it (a planted link is refused, as
  // the meter refuses one for a journal).
  for (const ExportObject& o : u.objects) {
    FM_RETURN_IF_ERROR(open_regular_file(o.file, O_RDONLY, FinalSymlink::kRefuse).status());
  }
  if (ledger != nullptr) {
    FM_ASSIGN_OR_RETURN(ExportObject head, head_object(*ledger, "ledger-head.json"));
    u.objects.push_back(std::move(head));
  }
  u.objects.push_back(std::move(record_object));
  FM_RETURN_IF_ERROR(find_run_entry(ledger, u));
  return u;
}

// A model: each current run's record as the ledger holds it, and its
// dossier (JSON and HTML) with the head.
Result<std::vector<ExportUnit>> model_units(Ledger& ledger, const std::string& model) {
  if (!plain_key_part(model, true)) {
    return Status::InvalidArgument("model '" + printable_text(model) + "': its name is not plain enough to be part of "
                                   "an object key (letters, digits, '.', '_', '-', ':' and '/' between segments)");
  }
  FM_ASSIGN_OR_RETURN(std::string view_text, ledger.model_json(model));
  const Json view = Json::parse(view_text, nullptr, false);
  std::vector<ExportUnit> units;
  for (const Json& run : view.value("runs", Json::array())) {
    const uint64_t entry = run.value("entry", uint64_t{0});
    const std::string where = "ledger entry " + std::to_string(entry);
    FM_ASSIGN_OR_RETURN(Json stored, ledger_entry(ledger, entry));
    std::string text = body_text(stored, "record");
    const Json record = Json::parse(text, nullptr, false);
    FM_ASSIGN_OR_RETURN(ExportUnit u, run_unit(record, std::move(text), where));
    u.about = entry;
    units.push_back(std::move(u));
  }
  FM_ASSIGN_OR_RETURN(Dossier dossier, dossier_for_model(ledger, model));
  ExportUnit d;
  d.kind = Kind::kDossier;
  d.id = model;
  d.key_part = "models/" + model + "/";
  FM_ASSIGN_OR_RETURN(ExportObject head, head_object(ledger, "ledger-head.json"));
  d.objects = {std::move(head), text_object("dossier.html", "dossier", dossier_html(dossier), kDossierFiles[0].second),
               text_object("dossier.json", "dossier", dossier_json(dossier))};
  d.about = view["model"].value("entry", uint64_t{0});
  units.push_back(std::move(d));
  return units;
}

Result<ExportUnit> head_unit(Ledger& ledger) {
  FM_ASSIGN_OR_RETURN(ExportObject head, head_object(ledger, ""));
  const Json parsed = Json::parse(head.text, nullptr, false);
  ExportUnit u;
  u.kind = Kind::kHead;
  u.id = parsed.value("ledger_id", "");
  u.version = parsed.value("size", uint64_t{0});
  if (!plain_key_part(u.id, false) || u.version == 0) return Status::ParseError("the ledger's head has no id or size");
  u.key_part = "ledger-heads/" + u.id + "/";
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.json", static_cast<unsigned long long>(u.version));
  head.name = name;  // zero-padded: the heads list in order
  u.objects.push_back(std::move(head));
  u.about = u.version - 1;  // the last entry it covers
  return u;
}

}  // namespace

Result<ExportPayload> gather_export(const ExportSource& source, const ExportOptions& options) {
  ExportPayload p;
  const bool ledger_required = source.kind != ExportSource::Kind::kRunDirectory;
  if (options.use_ledger || ledger_required) {
    FM_ASSIGN_OR_RETURN(p.ledger, open_ledger(options.ledger, ledger_required, p.notes));
  }
  switch (source.kind) {
    case ExportSource::Kind::kRunDirectory: {
      FM_ASSIGN_OR_RETURN(ExportUnit u, run_directory_unit(source, p.ledger.get()));
      p.units.push_back(std::move(u));
      break;
    }
    case ExportSource::Kind::kModel: {
      FM_ASSIGN_OR_RETURN(p.units, model_units(*p.ledger, source.name));
      break;
    }
    case ExportSource::Kind::kLedgerHead: {
      FM_ASSIGN_OR_RETURN(ExportUnit u, head_unit(*p.ledger));
      p.units.push_back(std::move(u));
      break;
    }
  }
  return p;
}

}  // namespace flopsmeter
