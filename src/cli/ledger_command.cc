// `flopsmeter ledger ...` and `flopsmeter verify-proof`: each a call into
// the Ledger API, its JSON answer printed as it is (--json) or as text.
#include <optional>

#include <nlohmann/json.hpp>

#include "api/ledger_text.h"
#include "api/meter_ledger.h"
#include "api/option_map.h"
#include "cli/commands.h"
#include "core/json_doc.h"  // printable_text
#include "flopsmeter/catalog.h"
#include "flopsmeter/ledger.h"

namespace flopsmeter::cli {

namespace {

// A view's JSON, or its text.
Result<int> print_view(const ParsedArgs& a, const Result<std::string>& json, std::string& out) {
  if (!json.ok()) return json.status();
  if (a.has("json")) {
    out = *json;
  } else {
    FM_ASSIGN_OR_RETURN(out, ledger_json_to_text(*json));
  }
  return kExitOk;
}

Result<int> print_append(const ParsedArgs& a, const Result<LedgerAppend>& appended, const std::string& what,
                         std::string& out) {
  if (!appended.ok()) return appended.status();
  return print_view(a, ledger_append_json(*appended, what), out);
}

// An appending command (`create`) makes the ledger only when its append
// succeeds: a refused one leaves no new file.
Result<std::unique_ptr<Ledger>> open_ledger(const ParsedArgs& a, bool create) {
  return create ? Ledger::OpenCreatingOnAppend(ledger_options(a)) : Ledger::Open(ledger_options(a), false);
}

Result<uint64_t> entry_number(const ParsedArgs& a) {
  const std::string& text = a.positional.front();
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("ENTRY '" + printable_text(text) + "': expected an entry number (0, 1, 2, ...)");
  }
  return std::stoull(text);
}

Result<int> run_init(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, open_ledger(a, true));
  return print_append(a, ledger->register_key(), "the signing key", out);
}

Result<int> run_keygen(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(LedgerOptions o, resolve_ledger_options(ledger_options(a)));
  FM_ASSIGN_OR_RETURN(LedgerKeyInfo key, generate_ledger_key(o.key_path));
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, Ledger::OpenCreatingOnAppend(o));
  return print_append(a, register_made_key(*ledger, key), "the public key " + key.key_id, out);
}

// `ledger register MODEL`: a catalog id with no figures given takes the
// catalog's; otherwise a base says its compute or that it is unknown, and
// a derived model names its parents.
Result<ModelSpec> model_spec(const ParsedArgs& a) {
  const std::string name = a.positional.front();
  const bool figures =
      a.has("pretrain-flops") || a.has("pretrain-unknown") || a.has("pretrain-source") || a.has("pretrain-run");
  if (!a.has("parents") && !figures) {
    FM_ASSIGN_OR_RETURN(Catalog catalog, Catalog::Load(a.get("data-dir")));
    Result<const CatalogModel*> entry = catalog.find_model(name);
    if (!entry.ok()) {
      return Status::InvalidArgument("'" + printable_text(name) + "' is not in the catalog: a base model needs "
                                     "--pretrain-flops F --pretrain-source S, --pretrain-run RUN, or "
                                     "--pretrain-unknown; a derived "
                                     "model needs --parents");
    }
    ModelSpec m = catalog_base(**entry);
    if (a.has("organisation")) m.organisation = a.get("organisation");
    m.systemic_risk = m.systemic_risk || a.has("base-systemic-risk");
    m.note = a.get("note");
    return m;
  }
  ModelSpec m;
  m.name = name;
  m.how = a.get("how");
  m.note = a.get("note");
  m.systemic_risk = a.has("base-systemic-risk");
  FM_ASSIGN_OR_RETURN(m.organisation, maker_organisation(ledger_options(a), name));
  if (a.has("parents")) {
    if (figures) return Status::InvalidArgument("a derived model (--parents) has no pretraining figure of its own");
    m.parents = split_list(a.get("parents"));
    if (m.how.empty()) m.how = m.parents.size() > 1 ? "merge" : "fine-tune";
    return m;
  }
  if (int{a.has("pretrain-unknown")} + int{a.has("pretrain-flops")} + int{a.has("pretrain-run")} != 1) {
    return Status::InvalidArgument("a base model needs one of --pretrain-flops F (with --pretrain-source), "
                                   "--pretrain-run RUN and --pretrain-unknown");
  }
  if (a.has("pretrain-run")) {
    if (a.has("pretrain-source")) {
      return Status::InvalidArgument("--pretrain-run is its own source (the run and its record's SHA-256); drop "
                                     "--pretrain-source");
    }
    FM_ASSIGN_OR_RETURN(m.pretraining, measured_pretraining(a.get("pretrain-run"), a.get("data-dir")));
    return m;
  }
  if (a.has("pretrain-unknown")) {
    m.pretraining.status = "unknown";
    m.pretraining.source = a.get("pretrain-source");
    return m;
  }
  if (!a.has("pretrain-source")) {
    return Status::InvalidArgument("--pretrain-flops needs --pretrain-source: where the figure comes from (a public "
                                   "citation, or how it was measured)");
  }
  FM_ASSIGN_OR_RETURN(BaseCompute base, parse_pretrain_flops(a.get("pretrain-flops"), "--pretrain-flops"));
  m.pretraining.flop = base.flop;
  m.pretraining.source = a.get("pretrain-source");
  m.pretraining.status = "given";
  return m;
}

Result<int> run_register(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(ModelSpec model, model_spec(a));
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, open_ledger(a, true));
  return print_append(a, ledger->add_model(model), "model '" + printable_text(model.name) + "'", out);
}

Result<int> run_add(const ParsedArgs& a, bool imported, std::string& out) {
  // Checked before the ledger is opened, which creates it: a refused command writes nothing.
  if (!a.has("ledger-produces")) return Status::InvalidArgument("name the model the run made: --ledger-produces NAME");
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, open_ledger(a, true));
  FM_ASSIGN_OR_RETURN(RunSpec run, derived_run_spec(*ledger, ledger_options(a), a.get("ledger-produces"),
                                                   a.get("ledger-model"), a.get("how")));
  run.imported = imported;
  // Every file in one transaction: all of them are appended, or none.
  std::vector<Ledger::RunToAdd> runs;
  for (const std::string& path : a.positional) {
    FM_ASSIGN_OR_RETURN(RunRecordFile record, read_run_record_file(path));
    if (!imported) run.run_dir = record.run_dir;
    runs.push_back({std::move(record.text), run, path});
  }
  FM_ASSIGN_OR_RETURN(std::vector<LedgerAppend> appended, ledger->add_runs(runs));
  out.clear();
  for (size_t i = 0; i < appended.size(); ++i) {
    std::string one;
    FM_RETURN_IF_ERROR(print_view(a, ledger_append_json(appended[i], "the record " + printable_text(runs[i].label)), one)
                           .status());
    out += one;
  }
  return kExitOk;
}

Result<int> run_verify(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, open_ledger(a, false));
  std::string held;
  if (a.has("head")) {
    FM_ASSIGN_OR_RETURN(held, read_ledger_document(a.get("head")));
  }
  FM_ASSIGN_OR_RETURN(std::string json, ledger->verify_json(held, split_list(a.get("trusted-key"))));
  FM_RETURN_IF_ERROR(print_view(a, json, out).status());
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  return doc.is_object() && doc.value("ok", false) ? kExitOk : kExitExceeded;
}

Result<int> run_verify_proof(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(std::string proof, read_ledger_document(a.positional.front()));
  FM_ASSIGN_OR_RETURN(std::string json, inclusion_proof_check_json(proof, a.get("trusted-key")));
  const nlohmann::json doc = nlohmann::json::parse(json);
  // A forged or altered proof exits 1, as a tampered ledger does in `ledger verify`.
  const int status = doc["ok"].get<bool>() ? kExitOk : kExitExceeded;
  if (a.has("json")) {
    out = json;
  } else if (status == kExitOk) {
    // The proof's names (ledger id, key id) are the proof's own: printed escaped.
    out = printable_text(doc["message"].get<std::string>()) + "\n";
  } else {
    out = "FAILED: " + printable_text(doc["problem"].get<std::string>()) + "\n";
  }
  return status;
}

Result<int> print_json(const Result<std::string>& json, std::string& out) {
  if (!json.ok()) return json.status();
  out = *json;
  return kExitOk;
}

}  // namespace

Result<int> run_ledger_command(const CommandDef& command, const ParsedArgs& a, std::string& out) {
  const std::string& name = command.name;
  if (name == "verify-proof") return run_verify_proof(a, out);
  if (name == "ledger init") return run_init(a, out);
  if (name == "ledger keygen") return run_keygen(a, out);
  if (name == "ledger register") return run_register(a, out);
  if (name == "ledger add") return run_add(a, false, out);
  if (name == "ledger import") return run_add(a, true, out);
  if (name == "ledger annotate") {
    if (!a.has("note")) return Status::InvalidArgument("give the annotation's text: --note TEXT");
    FM_ASSIGN_OR_RETURN(uint64_t entry, entry_number(a));
    FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, open_ledger(a, false));
    return print_append(a, ledger->annotate(entry, a.get("note"), a.has("supersedes")),
                        "a note about entry " + std::to_string(entry), out);
  }
  if (name == "ledger verify") return run_verify(a, out);
  // The rest read. An ENTRY is checked first: a malformed argument is named
  // as such even where there is no ledger.
  std::optional<uint64_t> entry;
  if (name == "ledger prove") {
    FM_ASSIGN_OR_RETURN(entry, entry_number(a));
  }
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, open_ledger(a, false));
  const std::string subject = a.positional.empty() ? "" : a.positional.front();
  if (name == "ledger models") return print_view(a, ledger->models_json(), out);
  if (name == "ledger show") return print_view(a, ledger->model_json(subject), out);
  if (name == "ledger lineage") return print_view(a, ledger->lineage_json(subject), out);
  if (name == "ledger runs") return print_view(a, ledger->runs_json(subject), out);
  // A head and a proof are documents to keep and hand over: JSON always.
  if (name == "ledger head") return print_json(ledger->head_json(), out);
  if (name == "ledger prove") return print_json(ledger->prove_json(*entry), out);
  return Status::Internal("command '" + name + "' has no implementation");
}

}  // namespace flopsmeter::cli
