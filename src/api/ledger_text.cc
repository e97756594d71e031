#include "api/ledger_text.h"

#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "api/report_format.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// Names and notes come from whoever appended them: printed escaped.
std::string shown(const Json& j) { return j.is_string() ? printable_text(j.get<std::string>()) : std::string(); }

// A FLOP figure of the views (a decimal string) in three digits.
std::string flop_text(const Json& decimal) {
  if (!decimal.is_string()) return "undetermined";
  return sci(std::strtod(decimal.get_ref<const std::string&>().c_str(), nullptr), 3) + " FLOP";
}

// A sum that may miss parts: the figure, or what is known and what is not.
std::string sum_text(const Json& sum) {
  if (sum.value("complete", false)) return flop_text(sum["flop"]);
  std::string parts;
  for (const Json& p : sum.value("unknown_parts", Json::array())) parts += (parts.empty() ? "" : "; ") + shown(p);
  return "UNDETERMINED (at least " + flop_text(sum.value("known_part", Json())) + "; unknown: " + parts + ")";
}

std::string padded(std::string text, size_t width) {
  text.append(text.size() < width ? width - text.size() : 1, ' ');
  return text;
}

// A view's warnings, after it.
std::string warnings_text(const Json& doc) {
  std::string out;
  for (const Json& w : doc.value("warnings", Json::array())) out += "warning: " + shown(w) + "\n";
  return out;
}

std::string models_text(const Json& doc) {
  const Json& models = doc["models"];
  if (models.empty()) return "The ledger has no models yet (ledger register, ledger add).\n" + warnings_text(doc);
  std::string out = std::to_string(models.size()) + " model(s)\n\n" +
                    padded("entry", 7) + padded("model", 40) + padded("kind", 9) + padded("organisation", 16) +
                    padded("own compute", 34) + "cumulative\n";
  for (const Json& m : models) {
    out += padded(std::to_string(m.value("entry", 0)), 7) + padded(shown(m["name"]), 40) +
           padded(shown(m["kind"]), 9) + padded(shown(m["organisation"]), 16) +
           padded(sum_text(m["own_compute"]) +
                      (m["kind"] == "base" ? "" : " (" + std::to_string(m["runs"].size()) + " run(s))"),
                  34) +
           sum_text(m["cumulative_compute"]) + "\n";
  }
  return out + warnings_text(doc);
}

std::string run_line(const Json& r) {
  std::string line = "  entry " + std::to_string(r.value("entry", 0)) + "  " + shown(r["run_id"]) + "  " +
                     flop_text(r["compliance_flop"]) + " (" + shown(r["formula"]) + ")  " + shown(r["status"]);
  if (r.value("imported", false)) line += "  imported (AWS toolkit record)";
  if (r["supersedes"].is_number()) line += "  supersedes entry " + std::to_string(r["supersedes"].get<uint64_t>());
  return line + "  " + shown(r["time"]) + "\n";
}

std::string base_figure_text(const Json& pretraining) {
  if (!pretraining.is_object()) return "";
  std::string out = "pretraining " + (pretraining["flop"].is_string() ? flop_text(pretraining["flop"]) : "unknown");
  out += " (" + shown(pretraining["status"]);
  if (!shown(pretraining["source"]).empty()) out += ": " + shown(pretraining["source"]);
  return out + ")";
}

std::string model_text(const Json& doc) {
  const Json& m = doc["model"];
  std::string out = shown(m["name"]) + "  (entry " + std::to_string(m.value("entry", 0)) + ")\n";
  out += "  organisation  " + shown(m["organisation"]) + "\n";
  if (m["kind"] == "base") {
    out += "  base model    " + base_figure_text(m["pretraining"]) + "\n";
  } else {
    std::string parents;
    for (const Json& p : m["parents"]) parents += (parents.empty() ? "" : ", ") + shown(p);
    out += "  made from     " + parents + (shown(m["how"]).empty() ? "" : " (" + shown(m["how"]) + ")") + "\n";
    out += "  own compute   " + sum_text(m["own_compute"]) + "\n";
  }
  if (m.value("systemic_risk", false)) out += "  designated a GPAI model with systemic risk\n";
  out += "  cumulative    " + sum_text(m["cumulative_compute"]) + "\n";
  if (!doc["runs"].empty()) out += "\nRuns\n";
  for (const Json& r : doc["runs"]) out += run_line(r);
  if (!doc["estimates"].empty()) out += "\nEstimates on file\n";
  for (const Json& e : doc["estimates"]) out += "  entry " + std::to_string(e.value("entry", 0)) + "\n";
  if (!doc["annotations"].empty()) out += "\nAnnotations\n";
  for (const Json& a : doc["annotations"]) {
    out += "  entry " + std::to_string(a.value("entry", 0)) + " about entry " + std::to_string(a.value("about", 0)) +
           ": " + shown(a["text"]) + "\n";
  }
  if (!doc["exports"].empty()) out += "\nExports\n";
  for (const Json& x : doc["exports"]) {
    out += "  entry " + std::to_string(x.value("entry", 0)) + ": " + shown(x["url"]) + " (" + shown(x["version"]) +
           ")\n";
  }
  return out;
}

std::string runs_text(const Json& doc) {
  if (doc["runs"].empty()) return "No runs in the ledger.\n";
  std::string out;
  std::string model;
  for (const Json& r : doc["runs"]) {
    if (shown(r["model"]) != model) {
      model = shown(r["model"]);
      out += (out.empty() ? "" : "\n") + model + "\n";
    }
    out += run_line(r);
  }
  return out;
}

// The lineage from the model back to its bases, one node a line; a model
// reached twice (a merge's shared ancestor) is drawn once.
std::string lineage_tree(const Json& doc) {
  std::map<std::string, Json> nodes;
  for (const Json& n : doc["nodes"]) nodes[n.value("name", "")] = n;
  std::set<std::string> drawn;
  std::string out;
  std::function<void(const std::string&, const std::string&, const std::string&)> draw =
      [&](const std::string& name, const std::string& lead, const std::string& indent) {
        const Json& n = nodes[name];
        out += lead + printable_text(name) + "  [" + shown(n["organisation"]) + "]  ";
        if (!drawn.insert(name).second) {
          out += "(drawn above)\n";
          return;
        }
        if (n["kind"] == "base") {
          out += base_figure_text(n["pretraining"]);
        } else {
          out += (shown(n["how"]).empty() ? "" : shown(n["how"]) + ": ") + sum_text(n["own_compute"]) + " in " +
                 std::to_string(n["runs"].size()) + " run(s)";
        }
        out += n.value("systemic_risk", false) ? ", systemic risk\n" : "\n";
        const Json& parents = n["parents"];
        for (size_t i = 0; i < parents.size(); ++i) {
          const bool last = i + 1 == parents.size();
          draw(parents[i].get<std::string>(), indent + (last ? "`- " : "|- "), indent + (last ? "   " : "|  "));
        }
      };
  draw(doc.value("model", ""), "", "");
  return out;
}

std::string lineage_text(const Json& doc) {
  const Json& m = doc["modification"];
  std::string out = doc["verdict"].value("text", "");
  out += "\nLineage of " + shown(doc["model"]) + " (compute at each node)\n" + lineage_tree(doc);
  out += "\nCumulative compute  " + sum_text(doc["cumulative_compute"]) + "  (every node once)\n";
  std::string originals;
  for (const Json& o : m["originals"]) originals += (originals.empty() ? "" : ", ") + shown(o);
  out += "Original model      " + (originals.empty() ? std::string("none: the organisation made the whole line")
                                                     : originals + ", " + sum_text(m["original_compute"])) +
         "\n";
  out += "Own modifications   " + sum_text(m["own_compute"]) + " by " + shown(doc["organisation"]) + " over " +
         std::to_string(m["own_models"].size()) + " model(s), summed (the cautious reading)\n";
  if (m["single_run_reading"].is_object()) {
    const Json& s = m["single_run_reading"];
    out += "Single-run reading  " + flop_text(s["flop"]) + ": " + shown(s["verdict"]) + " (" + shown(s["note"]) + ")\n";
  }
  return out + warnings_text(doc);
}

std::string verify_text(const Json& doc) {
  std::string out;
  const bool ok = doc.value("ok", false);
  if (ok) {
    out = "VERIFIED: " + std::to_string(doc.value("entries", 0)) + " entries, " +
          std::to_string(doc.value("heads", 0)) + " signed heads; every leaf recomputed, the tree rebuilt, every "
          "signature checked\n";
  } else {
    out = "FAILED: the ledger has been changed or damaged" +
          (doc["first_bad_entry"].is_number() ? "; the first bad entry is " +
                                                    std::to_string(doc["first_bad_entry"].get<uint64_t>())
                                              : std::string()) +
          "\n";
    for (const Json& p : doc["problems"]) {
      out += "  " + shown(p["problem"]) + "\n";  // each names its entry
    }
    for (const Json& p : doc["held_head_problems"]) out += "  held head: " + shown(p) + "\n";
  }
  // (When it does not, held_head_problems above says why.)
  if (doc["extends_held_head"].is_object() && doc["extends_held_head"].value("extended", false)) {
    const Json& x = doc["extends_held_head"];
    out += "  extends the head you hold (" + std::to_string(x.value("size", 0)) + " entries, " + shown(x["time"]) +
           "): a consistency proof, RFC 6962\n";
  }
  out += "  ledger " + shown(doc["ledger_id"]) + " at " + shown(doc["location"]) + "\n  root " + shown(doc["root"]) +
         "\n";
  for (const Json& k : doc["keys"]) out += "  key " + shown(k["key_id"]) + "\n";
  return out;
}

std::string append_text(const Json& doc) {
  std::string out;
  if (doc.value("no_change", false)) {
    out = "No change: the ledger already holds this (entry " + std::to_string(doc.value("entry", 0)) + ")\n";
  } else {
    out = "Appended " + shown(doc["what"]) + " as entry " + std::to_string(doc.value("entry", 0)) +
          (doc["superseded"].is_number() ? ", superseding entry " + std::to_string(doc["superseded"].get<uint64_t>())
                                         : std::string()) +
          "; signed head of " + std::to_string(doc.value("tree_size", 0)) + " entries\n";
  }
  for (const Json& n : doc["notes"]) out += "Note: " + shown(n) + "\n";
  return out;
}

}  // namespace

std::string ledger_append_json(const LedgerAppend& a, const std::string& what) {
  return Json({{"schema", "flopsmeter.ledger_append/1"},
               {"what", what},
               {"entry", a.index},
               {"no_change", a.no_change},
               {"superseded", a.superseded ? Json(*a.superseded) : Json()},
               {"tree_size", a.tree_size},
               {"head", Json::parse(a.head_json, nullptr, false)},
               {"notes", a.notes}})
             .dump(2) +
         "\n";
}

std::string ledger_basis_json(const Ledger::Basis& b, const std::string& model, const std::string& organisation) {
  return Json({{"schema", "flopsmeter.ledger_basis/1"},
               {"model", model},
               {"organisation", organisation},
               {"original_flop", b.original.flop ? Json(to_decimal(*b.original.flop)) : Json()},
               {"original_systemic_risk", b.original.systemic_risk},
               {"own_modifications_flop", to_decimal(b.own_modifications)},
               {"own_modifications_undetermined", b.own_modifications_undetermined},
               {"explanation", b.explanation}})
             .dump(2) +
         "\n";
}

Result<std::string> ledger_json_to_text(const std::string& json) {
  const Json doc = Json::parse(json, nullptr, false);
  const std::string schema = doc.is_object() ? doc.value("schema", "") : "";
  // The documents are the views' own: a field of the wrong type is a bug
  // there, answered as an error rather than an abort.
  try {
    if (schema == "flopsmeter.ledger_models/1") return models_text(doc);
    if (schema == "flopsmeter.ledger_model/1") return model_text(doc);
    if (schema == "flopsmeter.ledger_runs/1") return runs_text(doc);
    if (schema == "flopsmeter.ledger_lineage/1") return lineage_text(doc);
    if (schema == "flopsmeter.ledger_verify/1") return verify_text(doc);
    if (schema == "flopsmeter.ledger_append/1") return append_text(doc);
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal("ledger view " + schema + ": " + e.what());
  }
  return Status::InvalidArgument("no text form for the document of schema '" + printable_text(schema) + "'");
}

}  // namespace flopsmeter
