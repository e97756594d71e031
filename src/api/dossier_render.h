// The dossier's three forms, each holding every figure of the others:
// JSON (schema flopsmeter.dossier/1, schemas/dossier.schema.json) for
// machines, Markdown for repositories and tickets, and one self-contained
// HTML page (inline CSS with a print stylesheet, inline SVG charts, no
// script, no external request) that a browser prints to PDF.
//
// Every text that came from a user (model and run names, commands, notes,
// paths) is escaped for the form: a model called <script>...</script> is
// shown as text.
#ifndef FLOPSMETER_API_DOSSIER_RENDER_H_
#define FLOPSMETER_API_DOSSIER_RENDER_H_

#include <string>

#include "api/dossier.h"

namespace flopsmeter {

std::string dossier_json(const Dossier& d);
std::string dossier_markdown(const Dossier& d);
std::string dossier_html(const Dossier& d);

// The inline SVG charts of the HTML form (dossier_charts.cc): cumulative
// compute against each threshold (log scale), the per-run breakdown (in the
// final weights or discarded), the formulas side by side, and the sampled
// GPUs. "" when the dossier has nothing to draw for that chart.
std::string dossier_chart_cumulative(const Dossier& d);
std::string dossier_chart_runs(const Dossier& d);
std::string dossier_chart_formulas(const Dossier& d);
// Where NVML sampled: each GPU by run and segment, its mean utilisation and
// mean power (the record keeps a segment's totals, so the segments are the
// time axis).
std::string dossier_chart_gpus(const Dossier& d);
// Where the journals were at hand: each sampled GPU's utilisation (0 to
// 100%) and power (W) over time, one line per GPU and segment.
std::string dossier_chart_gpu_timeline(const Dossier& d);

// `text` with & < > " ' as character references (safe in element content
// and in quoted attributes).
std::string html_escaped(const std::string& text);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_DOSSIER_RENDER_H_
