// The arithmetic of a model's lineage: what its training cost in all (the
// base's pretraining plus every modification behind it, a merge adding all
// its parents' lineages with a shared ancestor counted once: GPAI Guidelines
// Annex A.1), and what of it is the modifier's own (the modifications one
// organisation made since the nearest ancestors another organisation made:
// the "original model" of Guidelines paras 60-61).
//
// Pure: the ledger reads the models and runs and hands them here.
#ifndef FLOPSMETER_CORE_LINEAGE_H_
#define FLOPSMETER_CORE_LINEAGE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "flopsmeter/exact.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct LineageModel {
  std::string name;
  std::string organisation;
  std::vector<std::string> parents;  // empty: a base model
  // A base model's pretraining compute; nullopt: unknown.
  std::optional<Flop> pretraining;
  bool systemic_risk = false;  // designated a GPAI model with systemic risk
  // A derived model's own modifications: each run's compliance figure.
  // nullopt marks a run whose compute is undetermined.
  std::vector<std::optional<Flop>> runs;
};

// A sum of compute that may miss parts nobody knows.
struct ComputeSum {
  Flop known = 0;          // saturating
  bool complete = true;    // no unknown part (no unknown pretraining, no undetermined run)
  std::vector<std::string> unknown_parts;  // which models' figures are missing, and why
};

class Lineage {
 public:
  // Checks the graph: every parent present, no cycle, names unique.
  // Errors: kInvalidArgument naming the model at fault.
  static Result<Lineage> Build(std::vector<LineageModel> models);

  const LineageModel* find(const std::string& name) const;
  // `name` and every model behind it, each once.
  std::set<std::string> ancestry(const std::string& name) const;

  // The model's own compute: its pretraining (a base) or its runs (derived).
  ComputeSum own(const std::string& name) const;
  // Cumulative compute: own() over the ancestry.
  ComputeSum cumulative(const std::string& name) const;

  // What `organisation` has done to `name`'s line since another organisation
  // last had it: `own_models` are the ancestors-or-self that `organisation`
  // made, reached without passing a model of another organisation; the
  // `originals` are the other organisations' models where that walk stops.
  struct Modification {
    std::set<std::string> own_models;
    std::set<std::string> originals;  // empty: `organisation` made the whole line (its own base)
    ComputeSum own_compute;           // summed over own_models (the cautious reading)
    std::optional<Flop> largest_run;  // the single-run reading: the costliest own run
    ComputeSum original_compute;      // cumulative over the originals' ancestries, shared once
    bool original_systemic_risk = false;  // an original, or one of its ancestors, is designated
  };
  Modification modification(const std::string& name, const std::string& organisation) const;

 private:
  std::map<std::string, LineageModel> models_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_LINEAGE_H_
