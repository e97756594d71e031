// What the ledger's files share: reading every current model and run into a
// Lineage, verification and proofs over a store, and the views.
#ifndef FLOPSMETER_API_LEDGER_INTERNAL_H_
#define FLOPSMETER_API_LEDGER_INTERNAL_H_

#include <map>
#include <string>
#include <vector>

#include "adapters/ledger_store.h"
#include "api/ledger_entries.h"
#include "core/lineage.h"
#include "flopsmeter/catalog.h"
#include "flopsmeter/ledger.h"

namespace flopsmeter {

// Everything the lineage arithmetic needs, read from the store: the current
// model entries, the current run entries with their figures, and the graph.
struct LedgerState {
  std::map<std::string, ParsedEntry> model_entries;  // by name
  std::map<std::string, ModelSpec> models;           // by name
  std::map<std::string, ParsedEntry> run_entries;    // by run id
  std::map<std::string, RunFigure> runs;             // by run id
  Lineage lineage;
  // Runs whose model is superseded and not registered again: not counted
  // until it is, and said wherever figures are shown.
  std::vector<std::string> orphans;
};
Result<LedgerState> read_ledger_state(LedgerStore& store);

// Ledger::basis_for over a state.
Result<Ledger::Basis> basis_in(const LedgerState& state, const std::string& model, const std::string& organisation);

// The views (Ledger::*_json).
Result<std::string> models_view(const LedgerState& state);
Result<std::string> model_view(LedgerStore& store, const LedgerState& state, const std::string& name);
Result<std::string> lineage_view(const LedgerState& state, const std::string& name, const Catalog& catalog);
Result<std::string> runs_view(const LedgerState& state, const std::string& model);

// Verification and proofs (Ledger::verify_json, prove_json).
Result<std::string> verify_view(LedgerStore& store, const std::string& ledger_id, const std::string& old_head,
                                const std::vector<std::string>& trusted_keys);
Result<std::string> prove_view(LedgerStore& store, const std::string& ledger_id, uint64_t index);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_LEDGER_INTERNAL_H_
