// The meter and the ledger: a run on a model of the ledger starts from what
// its lineage has cost, and its record goes into the ledger when it ends.
#ifndef FLOPSMETER_API_METER_LEDGER_H_
#define FLOPSMETER_API_METER_LEDGER_H_

#include <optional>
#include <string>
#include <vector>

#include "api/option_map.h"
#include "flopsmeter/catalog.h"
#include "flopsmeter/ledger.h"
#include "flopsmeter/meter.h"

namespace flopsmeter {

// A catalog model as a base of the ledger: its pretraining compute with the
// catalog's source, its organisation the Hub id's owner.
ModelSpec catalog_base(const CatalogModel& model);

// The ledger's options (ledger, ledger-key, organisation, data-dir) as every
// shell gives them.
LedgerOptions ledger_options(const OptionMap& o);

// The ledger options of a metered run (its ledger, key, data dir, organisation).
LedgerOptions meter_ledger_options(const MeterOptions& options);

// The organisation that makes `model`: the options' (or
// FLOPSMETER_ORGANISATION). Errors: none given, since the EU rule adds up
// one organisation's modifications.
Result<std::string> maker_organisation(const LedgerOptions& options, const std::string& model);

// `ledger keygen`'s second half, for every shell: the key made at `key`
// (generate_ledger_key) registered in `ledger`, the append's notes saying
// where its secret half is.
Result<LedgerAppend> register_made_key(Ledger& ledger, const LedgerKeyInfo& key);

// The run spec for a record of a run that made `produces` from `parent`
// ("" when `produces` is in the ledger already): a catalog parent the ledger
// lacks goes into new_bases, registered as a base with the run, and a new
// `produces` as made by the options' organisation (required) `how`. Writes
// nothing.
Result<RunSpec> derived_run_spec(Ledger& ledger, const LedgerOptions& options, const std::string& produces,
                                 const std::string& parent, const std::string& how);

// What the ledger at `options` says a run trained from `model` starts from,
// for options.organisation (Ledger::basis_for); its explanation in the
// base's source. Errors: no such ledger or model.
Result<Ledger::Basis> ledger_basis(const LedgerOptions& options, const std::string& model);

// `name` in the ledger, registering it as a base from the catalog when it
// is a catalog model the ledger does not have yet. Errors: neither.
Status ensure_catalog_base(Ledger& ledger, const std::string& name, const std::string& data_dir);

// With options.ledger_model: the base compute (the original model's,
// summed over its lineage), the modifier's earlier modifications and the
// systemic-risk designation, from the ledger, into `options`; each source
// said in `notes`. Errors: the model is not in the ledger; pretrain-flops or
// prior-modifications given as well (the ledger is the one source).
Status apply_ledger_basis(MeterOptions& options, std::vector<std::string>& notes);

// What recording a run in the ledger came to.
struct LedgerRecording {
  std::optional<uint64_t> entry;  // the run's entry (or the existing one)
  std::string message;            // what was done, or why it failed
  bool failed = false;
};
// Appends the record (rank 0, when options.ledger or FLOPSMETER_LEDGER names
// a ledger) as the run that made options.ledger_produces (default: the
// parent's name and the run id) from options.ledger_model (default: the
// catalog model options.model resolves to, else options.model_name, which
// must be in the ledger or the catalog). Never fails the caller: what went
// wrong is in the result.
LedgerRecording record_in_ledger(const MeterOptions& options, const std::string& record_json, const std::string& run_id,
                                 const std::string& catalog_model);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_METER_LEDGER_H_
