#include "api/meter_ledger.h"

#include <cstdlib>

#include "api/report_format.h"
#include "core/json_doc.h"
#include "flopsmeter/catalog.h"
#include "flopsmeter/ledger.h"

namespace flopsmeter {
namespace {

// `known` (a model not in the ledger) when the catalog lacks it too.
Status nor_in_the_catalog(const Status& known) {
  return Status::NotFound(known.message() + "; nor is it a catalog model");
}

}  // namespace

LedgerOptions meter_ledger_options(const MeterOptions& options) {
  OptionMap o;
  o.values = {{"ledger", options.ledger}, {"ledger-key", options.ledger_key}, {"data-dir", options.data_dir},
              {"organisation", options.organisation}};
  return ledger_options(o);
}

LedgerOptions ledger_options(const OptionMap& o) {
  LedgerOptions l;
  l.location = o.get("ledger");
  l.key_path = o.get("ledger-key");
  l.data_dir = o.get("data-dir");
  l.organisation = o.get("organisation");
  return l;
}

Result<std::string> maker_organisation(const LedgerOptions& options, const std::string& model) {
  FM_ASSIGN_OR_RETURN(LedgerOptions resolved, resolve_ledger_options(options));
  if (resolved.organisation.empty()) {
    return Status::InvalidArgument("say who made '" + printable_text(model) +
                                   "' (organisation, or FLOPSMETER_ORGANISATION): the EU rule adds up one "
                                   "organisation's modifications");
  }
  return resolved.organisation;
}

Result<LedgerAppend> register_made_key(Ledger& ledger, const LedgerKeyInfo& key) {
  FM_ASSIGN_OR_RETURN(LedgerAppend appended, ledger.register_key());
  appended.notes.push_back("key " + key.key_id + " (public key " + key.public_key + ") at " + key.path);
  return appended;
}

Result<RunSpec> derived_run_spec(Ledger& ledger, const LedgerOptions& options, const std::string& produces,
                                 const std::string& parent, const std::string& how) {
  if (produces.empty()) return Status::InvalidArgument("name the model the run made (ledger-produces)");
  RunSpec run;
  run.model = produces;
  if (parent.empty()) return run;  // then it must be in the ledger already
  // A catalog parent the ledger lacks is registered with the run, in its
  // transaction: not here, where a run refused later would leave it behind.
  if (Result<std::string> known = ledger.model_json(parent); !known.ok()) {
    if (known.status().code() != StatusCode::kNotFound) return known.status();
    FM_ASSIGN_OR_RETURN(Catalog catalog, Catalog::Load(options.data_dir));
    Result<const CatalogModel*> entry = catalog.find_model(parent);
    if (!entry.ok()) return nor_in_the_catalog(known.status());
    run.new_bases.push_back(catalog_base(**entry));
  }
  run.derived.emplace();
  run.derived->name = produces;
  FM_ASSIGN_OR_RETURN(run.derived->organisation, maker_organisation(options, produces));
  run.derived->parents = {parent};
  run.derived->how = how.empty() ? "fine-tune" : how;
  return run;
}

// A catalog model as a base of the ledger: its pretraining compute with the
// catalog's source, its organisation the Hub id's owner.
ModelSpec catalog_base(const CatalogModel& c) {
  ModelSpec m;
  m.name = c.id;
  const size_t slash = c.id.find('/');
  m.organisation = slash == std::string::npos ? c.id : c.id.substr(0, slash);
  m.pretraining.flop = c.pretraining.flop;
  m.pretraining.status = c.pretraining.flop ? c.pretraining.status : "unknown";
  m.pretraining.source = c.pretraining.source + (c.pretraining.method.empty() ? "" : " (" + c.pretraining.method + ")");
  m.systemic_risk = c.systemic_risk_designated;
  m.how = "base model (catalog)";
  return m;
}

Result<Ledger::Basis> ledger_basis(const LedgerOptions& options, const std::string& model) {
  FM_ASSIGN_OR_RETURN(LedgerOptions resolved, resolve_ledger_options(options));
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, Ledger::Open(resolved, false));
  FM_ASSIGN_OR_RETURN(Ledger::Basis basis, ledger->basis_for(model, resolved.organisation));
  basis.original.source = "ledger: " + basis.explanation;
  return basis;
}

Status ensure_catalog_base(Ledger& ledger, const std::string& name, const std::string& data_dir) {
  Result<std::string> known = ledger.model_json(name);
  if (known.ok() || known.status().code() != StatusCode::kNotFound) return known.status();
  FM_ASSIGN_OR_RETURN(Catalog catalog, Catalog::Load(data_dir));
  Result<const CatalogModel*> entry = catalog.find_model(name);
  if (!entry.ok()) return nor_in_the_catalog(known.status());
  return ledger.add_model(catalog_base(**entry)).status();
}

Status apply_ledger_basis(MeterOptions& options, std::vector<std::string>& notes) {
  if (options.ledger_model.empty()) return Status();
  if (options.pretrain || options.prior_modifications > 0) {
    return Status::InvalidArgument("ledger-model takes the base compute and the earlier modifications from the "
                                   "ledger: give it, or pretrain-flops and prior-modifications, not both");
  }
  FM_ASSIGN_OR_RETURN(Ledger::Basis basis, ledger_basis(meter_ledger_options(options), options.ledger_model));
  options.pretrain = basis.original;
  options.base_systemic_risk = options.base_systemic_risk || basis.original.systemic_risk;
  options.prior_modifications = basis.own_modifications;
  options.prior_modifications_undetermined = basis.own_modifications_undetermined;
  notes.push_back("from the ledger (model '" + printable_text(options.ledger_model) + "'): " + basis.explanation);
  return Status();
}

LedgerRecording record_in_ledger(const MeterOptions& options, const std::string& record_json, const std::string& run_id,
                                 const std::string& catalog_model) {
  LedgerRecording out;
  auto fail = [&](const Status& s) {
    out.failed = true;
    out.message = "the record could not be appended to the ledger: " + s.message();
    return out;
  };
  // The model the run trains: ledger-model, else the catalog model it was
  // counted from, else its name. An integration that hands over the
  // model's config.json (the Hugging Face callback always does) is counted
  // from the file, not the catalog, and names the model by its Hub id
  // (model-name): that id is what the ledger or the catalog knows.
  std::string parent = !options.ledger_model.empty() ? options.ledger_model : catalog_model;
  if (parent.empty() && options.model_name != options.model) parent = options.model_name;
  if (parent.empty()) {
    return fail(Status::InvalidArgument("name the model it was trained from (ledger-model): the model is neither "
                                        "in the ledger nor in the catalog"));
  }
  const LedgerOptions ledger_options = meter_ledger_options(options);
  Result<std::unique_ptr<Ledger>> ledger = Ledger::OpenCreatingOnAppend(ledger_options);
  if (!ledger.ok()) return fail(ledger.status());
  const std::string produces =
      !options.ledger_produces.empty() ? options.ledger_produces : parent + "+" + run_id.substr(0, 12);
  Result<RunSpec> spec = derived_run_spec(**ledger, ledger_options, produces, parent,
                                          "fine-tune (" + std::string(method_name(options.method.kind)) + ")");
  if (!spec.ok()) {
    // A parent taken by default that neither knows: say how to name it.
    const bool by_default = options.ledger_model.empty() && spec.status().code() == StatusCode::kNotFound;
    return fail(by_default ? spec.status().WithContext("name the model it was trained from (ledger-model)")
                           : spec.status());
  }
  RunSpec run = std::move(*spec);
  run.run_dir = options.run_dir;
  Result<LedgerAppend> appended = (*ledger)->add_run(record_json, run);
  if (!appended.ok()) return fail(appended.status());
  out.entry = appended->index;
  out.message = appended->no_change
                    ? "the ledger already holds this record (entry " + std::to_string(appended->index) + ")"
                    : "recorded in the ledger as entry " + std::to_string(appended->index) + " (model '" +
                          printable_text(run.model) + "'" +
                          (appended->superseded ? ", superseding entry " + std::to_string(*appended->superseded) : "") +
                          "), under a head of " + std::to_string(appended->tree_size) + " entries";
  for (const std::string& n : appended->notes) out.message += "; " + n;
  return out;
}

}  // namespace flopsmeter
