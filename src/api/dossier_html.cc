// The dossier as one self-contained HTML page: inline CSS (with a print
// stylesheet: each major section on a new page, rows never split), inline
// SVG charts, no script and no external request, so it opens offline and
// prints to PDF from any browser. Headings, <th scope> and the charts'
// <title>/<desc> make it readable with a screen reader; colours keep a
// contrast ratio of at least 7:1 against their backgrounds.
#include "api/dossier_parts.h"
#include "api/dossier_render.h"
#include "api/report_format.h"  // sci
#include "core/xml_text.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;
using Cells = std::vector<std::string>;  // escaped HTML

constexpr const char* kStyle = R"(
:root { color: #1a1a1a; background: #ffffff; font: 15px/1.45 system-ui, sans-serif; }
body { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 2px solid #1f4e99; padding-bottom: .2rem; margin-top: 2rem; }
.meta { color: #3d3d3d; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #8c8c8c; padding: .3rem .45rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
thead th { background: #e8edf5; } tbody th { background: #f5f5f5; font-weight: 600; }
.verdict { border-left: 6px solid; padding: .4rem .8rem; margin: .6rem 0; }
.verdict h3 { margin: .1rem 0 .3rem; font-size: 1.05rem; }
.v-exceeds { border-color: #a40000; background: #fdecec; } .v-exceeds strong { color: #8a0000; }
.v-below { border-color: #0b5d1e; background: #e8f4ea; } .v-below strong { color: #0b5d1e; }
.v-undetermined { border-color: #7a4a00; background: #fff3df; } .v-undetermined strong { color: #6b4100; }
.flag { font-weight: 700; color: #6b4100; }
.missing { color: #6b4100; font-style: italic; }
pre { background: #f5f5f5; border: 1px solid #8c8c8c; padding: .5rem; overflow-x: auto; font-size: .8rem; white-space: pre-wrap; overflow-wrap: anywhere; }
figure { margin: 1rem 0; } figcaption { font-size: .9rem; color: #3d3d3d; }
svg.chart { max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg .grid { stroke: #d0d0d0; stroke-width: 1; } svg .threshold { stroke: #a40000; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .tick { fill: #3d3d3d; } svg .label { fill: #1a1a1a; } svg .small { fill: #1a1a1a; font-size: 10px; }
svg .kept { fill: #1f4e99; } svg .discarded { fill: #8ea8d4; stroke: #1f4e99; stroke-width: 1; }
@media print {
  :root { font-size: 11pt; } body { max-width: none; padding: 0; }
  section.page { break-before: page; } h2, h3 { break-after: avoid; }
  tr, .verdict, figure { break-inside: avoid; } details > summary { list-style: none; }
  a { color: #1a1a1a; }
}
@page { margin: 16mm 14mm; }
)";

std::string h(const std::string& text) { return html_escaped(text); }

// A table; `rows` hold escaped HTML, the first cell of each a row header.
std::string table(const std::vector<std::string>& headers, const std::vector<Cells>& rows) {
  std::string out = "<table><thead><tr>";
  for (const std::string& c : headers) out += "<th scope=\"col\">" + h(c) + "</th>";
  out += "</tr></thead><tbody>";
  for (const Cells& r : rows) {
    out += "<tr>";
    for (size_t i = 0; i < r.size(); ++i) out += (i == 0 ? "<th scope=\"row\">" + r[i] + "</th>" : "<td>" + r[i] + "</td>");
    out += "</tr>";
  }
  return out + "</tbody></table>";
}

// A plain-text table with every cell escaped.
std::string table(const DossierTable& t) {
  std::vector<Cells> rows;
  for (const std::vector<std::string>& r : t.rows) {
    Cells cells;
    for (const std::string& c : r) cells.push_back(h(c));
    rows.push_back(std::move(cells));
  }
  return table(t.headers, rows);
}

// A figure as shown, with its exact value in a <data> element: a reader (or
// the browser test, tests/browser) finds it by structure and checks the text
// against the value.
std::string data_figure(const std::string& field, const std::string& exact, const std::string& text) {
  return "<data data-figure=\"" + h(field) + "\" value=\"" + h(exact) + "\">" + h(text) + "</data>";
}

std::string verdict_block(const DossierVerdict& v) {
  const SummaryForm form{h, data_figure, [](const std::string& word) { return "<strong>" + word + "</strong>"; }};
  std::string out = "<div class=\"verdict v-" + h(v.verdict) + "\" data-regime=\"" + h(v.regime_id) +
                    "\" data-verdict=\"" + h(v.verdict) + "\"><h3>" + h(v.regime_id) + ": " + h(v.name) +
                    "</h3><p>" + verdict_summary(v, form) + "</p>";
  if (!v.headline.empty()) out += "<p>" + h(v.headline) + "</p>";
  if (v.within_error_margin)
    out += "<p class=\"flag\">Within the Guidelines' 30% error margin: the method's uncertainty could change this verdict.</p>";
  out += "<p>" + h(v.explanation) + "</p>";
  for (const std::string& w : v.warnings) out += "<p class=\"missing\">Note: " + h(w) + "</p>";
  return out + "<p class=\"meta\">Source: " + h(v.source) + "</p></div>";
}

std::string verdict_section(const Dossier& d) {
  std::string out = "<section id=\"verdict\"><h2>Verdict</h2>";
  if (d.verdicts.empty()) out += "<p>No regime in force was evaluated.</p>";
  for (const DossierVerdict& v : d.verdicts) out += verdict_block(v);
  out += "<details><summary>Regimes not in force (" + std::to_string(d.not_in_force.size()) +
         "; for reference only)</summary>";
  out += table(not_in_force_table(d));
  return out + "</details></section>";
}

std::string documentation_section(const Dossier& d) {
  std::vector<Cells> rows;
  for (const DossierFigure& f : d.documentation) {
    const std::string exact = f.value.is_string() ? f.value.get<std::string>() : f.value.dump();
    rows.push_back({h(f.label), !f.reason.empty()  ? "<span class=\"missing\">" + h(f.text) + "</span>: " + h(f.reason)
                                : f.value.is_null() ? h(f.text)
                                                    : data_figure(f.id, exact, f.text),
                    h(f.reference), h(f.source)});
  }
  std::string out = "<section id=\"documentation\" class=\"page\"><h2>EU AI Act Annex XI and the Model "
                    "Documentation Form</h2>" +
                    table(documentation_table(d).headers, rows) + "<h3>Methodology</h3>";
  for (const std::string& p : d.methodology) out += "<p>" + h(p) + "</p>";
  return out + "</section>";
}

std::string charts_section(const Dossier& d) {
  std::string out = "<section id=\"charts\" class=\"page\"><h2>Charts</h2>";
  const std::pair<std::string, std::string> charts[] = {
      {dossier_chart_cumulative(d), "Cumulative compute after each run against each threshold in force (log scale)."},
      {dossier_chart_runs(d), "Compute per run: in the final weights (dark) and spent but discarded (light)."},
      {dossier_chart_formulas(d), "Each run by every formula: eu_6nd, peft_aware, detailed, hardware bound (log scale)."},
      {dossier_chart_gpus(d), "Each sampled GPU by run and segment: mean utilisation and mean power."},
      {dossier_chart_gpu_timeline(d),
       "Each sampled GPU over time: utilisation (top) and power (bottom), stretch by stretch from the journals."}};
  bool any = false;
  for (const auto& [svg, caption] : charts) {
    if (svg.empty()) continue;
    any = true;
    out += "<figure>" + svg + "<figcaption>" + h(caption) + "</figcaption></figure>";
  }
  if (!any) out += "<p>No run is recorded, so there is nothing to chart.</p>";
  return out + "</section>";
}

std::string lineage_section(const Dossier& d) {
  return "<section id=\"lineage\" class=\"page\"><h2>Lineage</h2>" + table(lineage_table(d)) + "</section>";
}

std::string runs_section(const Dossier& d) {
  if (d.runs.empty()) return "<section id=\"runs\"><h2>Runs</h2><p>No run is recorded.</p></section>";
  const DossierTable gpus = gpus_table(d);
  const DossierTable timeline = gpu_timeline_table(d);
  std::string notes;
  for (const DossierRun& r : d.runs)
    if (!r.gpu_timeline_note.empty()) notes += "<p>Run " + h(r.run_id) + ": " + h(r.gpu_timeline_note) + "</p>";
  return "<section id=\"runs\"><h2>Runs</h2>" + table(runs_table(d)) + "<h3>Segments (crash and resume)</h3>" +
         table(segments_table(d)) +
         (gpus.rows.empty() ? std::string() : "<h3>GPUs sampled (NVML)</h3>" + table(gpus)) +
         (timeline.rows.empty() ? std::string()
                                : "<details><summary>GPU utilisation and power over time, stretch by stretch (" +
                                      std::to_string(timeline.rows.size()) + " rows)</summary>" + table(timeline) +
                                      "</details>") +
         notes + "</section>";
}

std::string evidence_section(const Dossier& d) {
  std::string out = "<section id=\"evidence\" class=\"page\"><h2>Evidence</h2>" + table(evidence_table(d));
  if (!d.evidence_note.empty()) out += "<p>" + h(d.evidence_note) + "</p>";
  if (!d.signed_head.is_null()) out += "<h3>Signed ledger head</h3><pre>" + h(d.signed_head.dump(2, ' ', false, Json::error_handler_t::replace)) + "</pre>";
  if (!d.inclusion_proof.is_null())
    out += "<h3>Inclusion proof of the model's entry</h3><pre>" + h(d.inclusion_proof.dump(2, ' ', false, Json::error_handler_t::replace)) + "</pre>";
  if (!d.warnings.empty()) out += "<h3>Warnings</h3><ul>";
  for (const std::string& w : d.warnings) out += "<li>" + h(w) + "</li>";
  if (!d.warnings.empty()) out += "</ul>";
  return out + "</section>";
}

}  // namespace

// The page is HTML5, where XML's five references (&apos; included) hold.
std::string html_escaped(const std::string& text) { return xml_escaped(text); }

std::string dossier_html(const Dossier& d) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<title>Compliance dossier: " + h(d.subject) + "</title><style>" + kStyle + "</style></head><body>";
  out += "<header><h1>Compliance dossier: " + h(d.subject) + "</h1><p class=\"meta\">" + h(d.subject_kind) +
         (d.organisation.empty() ? "" : " of " + h(d.organisation)) + "; made by flopsmeter " + h(d.tool_version) +
         " with rules version " + h(d.rules_version) + "; schema " + kDossierSchema + "</p></header><main>";
  out += verdict_section(d) + documentation_section(d) + charts_section(d) + lineage_section(d) + runs_section(d) +
         evidence_section(d);
  return out + "</main></body></html>\n";
}

}  // namespace flopsmeter
