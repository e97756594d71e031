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
  for (const std::string& c : cells) out += " " + md(c) + " |";
  return out + "\n";
}

// A table with its cells escaped; "" without rows.
std::string md_table(const DossierTable& t) {
  if (t.rows.empty()) return "";
  std::string out = row(t.headers) + row(std::vector<std::string>(t.headers.size(), "---"));
  for (const std::vector<std::string>& r : t.rows) out += row(r);
  return out;
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
  return out + (d.not_in_force.empty() ? "None.\n" : md_table(not_in_force_table(d))) + "\n";
}

std::string documentation_section(const Dossier& d) {
  std::string out = "## EU AI Act Annex XI and the Model Documentation Form\n\n" + md_table(documentation_table(d)) +
                    "\n### Methodology\n\n";
  for (const std::string& p : d.methodology) out += md(p) + "\n\n";
  return out;
}

std::string lineage_section(const Dossier& d) { return "## Lineage\n\n" + md_table(lineage_table(d)) + "\n"; }

std::string runs_section(const Dossier& d) {
  if (d.runs.empty()) return "## Runs\n\nNo run is recorded.\n\n";
  std::string out = "## Runs\n\n" + md_table(runs_table(d)) + "\n### Segments\n\n" + md_table(segments_table(d));
  const std::string gpus = md_table(gpus_table(d));
  if (!gpus.empty()) out += "\n### GPUs sampled (NVML)\n\n" + gpus;
  const std::string timeline = md_table(gpu_timeline_table(d));
  if (!timeline.empty()) out += "\n### GPU utilisation and power over time\n\n" + timeline;
  for (const DossierRun& r : d.runs)
    if (!r.gpu_timeline_note.empty()) out += "\nRun " + md(r.run_id) + ": " + md(r.gpu_timeline_note) + "\n";
  return out + "\n";
}

std::string evidence_section(const Dossier& d) {
  std::string out = "## Evidence\n\n" + md_table(evidence_table(d));
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
