#include "core/lineage.h"

#include <algorithm>

#include "core/json_doc.h"

namespace flopsmeter {
namespace {

Flop saturating_add(Flop a, Flop b) {
  Flop sum = 0;
  return checked_add(a, b, &sum) ? sum : ~Flop{0};
}

void add(ComputeSum& into, const ComputeSum& part) {
  into.known = saturating_add(into.known, part.known);
  into.complete = into.complete && part.complete;
  for (const std::string& p : part.unknown_parts) into.unknown_parts.push_back(p);
}

}  // namespace

Result<Lineage> Lineage::Build(std::vector<LineageModel> models) {
  Lineage l;
  for (LineageModel& m : models) {
    const std::string name = m.name;
    if (!l.models_.emplace(name, std::move(m)).second) {
      return Status::InvalidArgument("model '" + printable_text(name) + "' is registered twice");
    }
  }
  for (const auto& [name, m] : l.models_) {
    for (const std::string& p : m.parents) {
      if (!l.models_.count(p)) {
        return Status::InvalidArgument("model '" + printable_text(name) + "' names the parent '" + printable_text(p) +
                                       "', which is not in the ledger");
      }
    }
  }
  // A cycle: depth-first with the path on a stack of colours.
  std::map<std::string, int> colour;  // 0 unseen, 1 on the path, 2 done
  std::vector<std::pair<std::string, size_t>> stack;
  for (const auto& [start, unused] : l.models_) {
    if (colour[start] != 0) continue;
    stack.push_back({start, 0});
    colour[start] = 1;
    while (!stack.empty()) {
      auto& [name, next] = stack.back();
      const std::vector<std::string>& parents = l.models_.at(name).parents;
      if (next == parents.size()) {
        colour[name] = 2;
        stack.pop_back();
        continue;
      }
      const std::string& parent = parents[next++];
      if (colour[parent] == 1) {
        return Status::InvalidArgument("model '" + printable_text(parent) + "' is its own ancestor (a lineage cycle "
                                       "through '" + printable_text(name) + "')");
      }
      if (colour[parent] == 0) {
        colour[parent] = 1;
        stack.push_back({parent, 0});
      }
    }
  }
  return l;
}

const LineageModel* Lineage::find(const std::string& name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

std::set<std::string> Lineage::ancestry(const std::string& name) const {
  std::set<std::string> seen;
  std::vector<std::string> todo = {name};
  while (!todo.empty()) {
    const std::string n = todo.back();
    todo.pop_back();
    if (!seen.insert(n).second) continue;
    if (const LineageModel* m = find(n)) todo.insert(todo.end(), m->parents.begin(), m->parents.end());
  }
  return seen;
}

ComputeSum Lineage::own(const std::string& name) const {
  ComputeSum s;
  const LineageModel* m = find(name);
  if (m == nullptr) return s;
  if (m->parents.empty()) {
    if (m->pretraining) {
      s.known = *m->pretraining;
    } else {
      s.complete = false;
      s.unknown_parts.push_back(name + ": pretraining compute unknown");
    }
    return s;
  }
  for (size_t i = 0; i < m->runs.size(); ++i) {
    if (m->runs[i]) {
      s.known = saturating_add(s.known, *m->runs[i]);
    } else {
      s.complete = false;
      s.unknown_parts.push_back(name + ": a run whose compute is undetermined");
    }
  }
  return s;
}

ComputeSum Lineage::cumulative(const std::string& name) const {
  ComputeSum s;
  for (const std::string& n : ancestry(name)) add(s, own(n));
  return s;
}

Lineage::Modification Lineage::modification(const std::string& name, const std::string& organisation) const {
  Modification out;
  std::vector<std::string> todo = {name};
  while (!todo.empty()) {
    const std::string n = todo.back();
    todo.pop_back();
    const LineageModel* m = find(n);
    if (m == nullptr || out.own_models.count(n) || out.originals.count(n)) continue;
    if (m->organisation != organisation) {
      out.originals.insert(n);
      continue;
    }
    out.own_models.insert(n);
    todo.insert(todo.end(), m->parents.begin(), m->parents.end());
  }
  for (const std::string& n : out.own_models) {
    const LineageModel& m = *find(n);
    if (m.parents.empty()) continue;  // the organisation's own base is not a modification
    add(out.own_compute, own(n));
    for (const std::optional<Flop>& run : m.runs) {
      if (run) out.largest_run = std::max(out.largest_run.value_or(0), *run);
    }
  }
  std::set<std::string> original_ancestry;
  for (const std::string& o : out.originals) {
    for (const std::string& n : ancestry(o)) original_ancestry.insert(n);
  }
  for (const std::string& n : original_ancestry) {
    add(out.original_compute, own(n));
    out.original_systemic_risk = out.original_systemic_risk || find(n)->systemic_risk;
  }
  return out;
}

}  // namespace flopsmeter
