// The dossier as Markdown (CommonMark with GitHub tables): the HTML page's
// sections in the same order, charts left out (their figures are in the
// tables). Text from users is escaped so that it can neither format nor
// inject HTML; the signed head and the proof are indented code blocks,
// which nothing inside can end.
#include "api/dossier_parts.h"
#include "api/dossier_render.h"
#include "api/report_format.h"  // sci

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// Markdown punctuation backslash-escaped, < > & as entities, line breaks
// as spaces (a table cell is one line).
std::string md(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\n': case '\r': out += ' '; break;
      case '\\': case '`': case '*': case '_': case '[': case ']': case '|': case '#': case '~': case '!':
        out += '\\';
        out += c;
        break;
      default: out += c;
    }
  }
  return out;
}

std::string row(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const std::string& c : cells) out += " " + c + " |";
  return out + "\n";
}

std::string table_head(const std::vector<std::string>& headers) {
  return row(headers) + row(std::vector<std::string>(headers.size(), "---"));
}

// JSON as an indented code block, < > & written as \u escapes: the same
// JSON to a parser (they occur only inside strings), and no markup to a
// Markdown renderer that mishandles code blocks.
std::string code_block(const Json& j) {
  std::string out, text;
  for (char c : j.dump(2, ' ', false, Json::error_handler_t::replace)) {
    if (c == '<') text += "\\u003c";
    else if (c == '>') text += "\\u003e";
    else if (c == '&') text += "\\u0026";
    else text += c;
  }
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    out += "    " + text.substr(start, end - start) + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::string verdict_section(const Dossier& d) {
  std::string out = "## Verdict\n\n";
  if (d.verdicts.empty()) out += "No regime in force was evaluated.\n";
  for (const DossierVerdict& v : d.verdicts) {
    out += "- **" + md(v.regime_id) + "** (" + md(v.name) + "): " + md(verdict_summary(v)) + "  \n  " +
           md(v.headline.empty() ? v.explanation : v.headline) + "\n";
  }
  out += "\n### Regimes not in force (for reference only)\n\n";
  if (d.not_in_force.empty()) return out + "None.\n\n";
  out += table_head({"Regime", "Status", "Verdict", "Compute (FLOP)", "Threshold (FLOP)"});
  for (const DossierVerdict& v : d.not_in_force) {
    out += row({md(v.regime_id), md(v.status), md(v.verdict), md(flop_figure_text(Json(v.compute_exact))),
                md(sci(v.threshold_flop, 3) + " FLOP")});
  }
  return out + "\n";
}

std::string documentation_section(const Dossier& d) {
  std::string out = "## EU AI Act Annex XI and the Model Documentation Form\n\n" +
                    table_head({"Field", "Value", "Reference", "Source"});
  for (const DossierFigure& f : d.documentation) {
    out += row({md(f.label), md(f.text) + (f.reason.empty() ? "" : ": " + md(f.reason)), md(f.reference),
                md(f.source)});
  }
  out += "\n### Methodology\n\n";
  for (const std::string& p : d.methodology) out += md(p) + "\n\n";
  return out;
}

std::string lineage_section(const Dossier& d) {
  std::string out = "## Lineage\n\n" +
                    table_head({"Model", "Kind", "Organisation", "Made from", "Own compute", "Cumulative", "Runs"});
  for (const DossierNode& n : d.lineage) {
    std::string parents;
    for (const std::string& p : n.parents) parents += (parents.empty() ? "" : ", ") + md(p);
    out += row({md(n.name) + (n.entry ? " (entry " + std::to_string(*n.entry) + ")" : ""),
                md(n.kind + (n.how.empty() ? "" : ": " + n.how)) + (n.own_model ? " (own)" : ""),
                md(n.organisation), parents, md(sum_figure_text(n.own_compute)),
                n.cumulative_compute.is_null() ? "" : md(sum_figure_text(n.cumulative_compute)),
                std::to_string(n.runs.size())});
  }
  return out + "\n";
}

std::string runs_section(const Dossier& d) {
  if (d.runs.empty()) return "## Runs\n\nNo run is recorded.\n\n";
  std::string out = "## Runs\n\n" + table_head({"Run", "Entry", "Model", "Status", "Compliance (formula)",
                                                "In final weights", "eu_6nd", "peft_aware", "detailed",
                                                "Hardware bound"});
  for (const DossierRun& r : d.runs) {
    const Json& hw = json_at(r.formulas, {"hardware_bound"});
    out += row({md(r.run_id), r.entry ? std::to_string(*r.entry) : "", md(r.model), md(r.status),
                md(flop_figure_text(r.compliance) + " (" + r.formula + ")"), md(flop_figure_text(r.in_final_weights)),
                md(flop_figure_text(json_at(r.formulas, {"eu_6nd"}))), md(flop_figure_text(json_at(r.formulas, {"peft_aware"}))),
                md(flop_figure_text(json_at(r.formulas, {"detailed"}))),
                hw.is_number() ? md(sci(hw.get<double>(), 3) + " FLOP") : "not sampled"});
  }
  out += "\n### Segments\n\n" + table_head({"Run", "Rank", "Segment", "Status", "Started", "Last line",
                                            "Tokens spent", "Not in final weights"});
  for (const DossierRun& r : d.runs) {
    for (const DossierSegment& s : r.segments) {
      out += row({md(r.run_id), std::to_string(s.rank), std::to_string(s.segment), md(s.status), md(s.started_at),
                  md(s.last_line_at), md(s.tokens_spent),
                  md(s.tokens_not_in_weights) + (s.reason.empty() ? "" : " (" + md(s.reason) + ")")});
    }
  }
  std::vector<std::string> gpu_rows;
  for (const DossierRun& r : d.runs) {
    for (const DossierGpu& g : r.gpus) {
      std::vector<std::string> cells;
      for (const std::string& c : gpu_cells(r, g)) cells.push_back(md(c));
      gpu_rows.push_back(row(cells));
    }
  }
  if (!gpu_rows.empty()) {
    out += "\n### GPUs sampled (NVML)\n\n" + table_head(gpu_headers());
    for (const std::string& r : gpu_rows) out += r;
  }
  return out + "\n";
}

std::string evidence_section(const Dossier& d) {
  std::string out = "## Evidence\n\n" + table_head({"Item", "Value", "Source"});
  for (const DossierEvidence& e : d.evidence) out += row({md(e.label), md(e.value), md(e.source)});
  if (!d.evidence_note.empty()) out += "\n" + md(d.evidence_note) + "\n";
  if (!d.signed_head.is_null()) out += "\n### Signed ledger head\n\n" + code_block(d.signed_head);
  if (!d.inclusion_proof.is_null()) out += "\n### Inclusion proof of the model's entry\n\n" + code_block(d.inclusion_proof);
  if (!d.warnings.empty()) out += "\n## Warnings\n\n";
  for (const std::string& w : d.warnings) out += "- " + md(w) + "\n";
  return out;
}

}  // namespace

std::string dossier_markdown(const Dossier& d) {
  std::string out = "# Compliance dossier: " + md(d.subject) + "\n\n";
  out += "Subject: " + md(d.subject_kind) + " " + md(d.subject) +
         (d.organisation.empty() ? "" : ", organisation " + md(d.organisation)) + ". Made by flopsmeter " +
         md(d.tool_version) + " with rules version " + md(d.rules_version) + " (schema " + kDossierSchema + ").\n\n";
  return out + verdict_section(d) + documentation_section(d) + lineage_section(d) + runs_section(d) +
         evidence_section(d);
}

}  // namespace flopsmeter
