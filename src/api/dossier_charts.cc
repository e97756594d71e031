// The dossier's charts as inline SVG: no script, no font or image to fetch;
// each has a <title> and a <desc> that says its figures in words, so a
// screen reader (and the Markdown reader, who gets the tables instead)
// misses nothing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "api/dossier_parts.h"
#include "api/dossier_render.h"
#include "api/report_format.h"
#include "api/run_report.h"  // iso_time

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

constexpr double kWidth = 720;
constexpr double kLeft = 170;   // room for labels
constexpr double kRight = 20;
const char* const kSeriesColours[] = {"#1f4e99", "#8a3b00", "#2e6b30", "#6b2e6b"};

double as_double(size_t n) { return static_cast<double>(n); }

// A run id cut to fit the label column (the tables give it whole).
std::string short_label(const std::string& id) { return id.size() <= 14 ? id : id.substr(0, 12) + "..."; }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string text_at(double x, double y, const std::string& text, const std::string& anchor = "start",
                    const std::string& cls = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" +
         (cls.empty() ? "" : " class=\"" + cls + "\"") + ">" + html_escaped(text) + "</text>";
}

// An <svg> with its accessible name and description.
std::string svg_open(const std::string& id, double height, const std::string& title, const std::string& desc) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 " + num(kWidth) + " " +
         num(height) + "\" width=\"" + num(kWidth) + "\" height=\"" + num(height) + "\" role=\"img\" aria-labelledby=\"" +
         id + "-title " + id + "-desc\"><title id=\"" + id + "-title\">" + html_escaped(title) +
         "</title><desc id=\"" + id + "-desc\">" + html_escaped(desc) + "</desc>";
}

// A log10 axis over [lo, hi] mapped to pixels [p0, p1].
struct LogAxis {
  double lo, hi, p0, p1;
  double at(double v) const {
    const double t = (std::log10(std::max(v, lo)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return p0 + t * (p1 - p0);
  }
};

LogAxis log_axis(std::vector<double> values, double p0, double p1) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !(v > 0); }), values.end());
  if (values.empty()) values = {1};
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return {std::pow(10.0, std::floor(std::log10(*lo)) - 1), std::pow(10.0, std::ceil(std::log10(*hi)) + 1), p0, p1};
}

// Grid lines and labels at every power of ten (every other one when many).
std::string log_ticks(const LogAxis& a, bool vertical, double from, double to) {
  std::string out;
  const int first = static_cast<int>(std::lround(std::log10(a.lo)));
  const int last = static_cast<int>(std::lround(std::log10(a.hi)));
  const int step = last - first > 12 ? 2 : 1;
  for (int e = first; e <= last; e += step) {
    const double p = a.at(std::pow(10.0, e));
    const std::string label = "1e" + std::to_string(e);
    if (vertical) {
      out += "<line class=\"grid\" x1=\"" + num(from) + "\" x2=\"" + num(to) + "\" y1=\"" + num(p) + "\" y2=\"" +
             num(p) + "\"/>" + text_at(from - 6, p + 4, label, "end", "tick");
    } else {
      out += "<line class=\"grid\" y1=\"" + num(from) + "\" y2=\"" + num(to) + "\" x1=\"" + num(p) + "\" x2=\"" +
             num(p) + "\"/>" + text_at(p, to + 14, label, "middle", "tick");
    }
  }
  return out;
}

// A series of points; `series` names it for machines (data-series).
std::string polyline(const std::vector<std::pair<double, double>>& points, const char* colour, const char* series) {
  std::string out = "<polyline data-series=\"" + std::string(series) + "\" fill=\"none\" stroke=\"" +
                    std::string(colour) + "\" stroke-width=\"2\" points=\"";
  for (const auto& [x, y] : points) out += num(x) + "," + num(y) + " ";
  out += "\"/>";
  for (const auto& [x, y] : points)
    out += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"3.5\" fill=\"" + colour + "\"/>";
  return out;
}

}  // namespace

std::string dossier_chart_cumulative(const Dossier& d) {
  if (d.timeline.empty()) return "";
  const double top = 20, bottom = 300, height = 380;
  std::vector<double> values;
  for (const DossierPoint& p : d.timeline) {
    values.push_back(p.modification_flop);
    if (p.cumulative_flop) values.push_back(*p.cumulative_flop);
  }
  for (const DossierVerdict& v : d.verdicts) values.push_back(v.threshold_flop);
  const LogAxis y = log_axis(values, bottom, top);
  const size_t n = d.timeline.size();
  auto x_at = [&](size_t i) {
    return n == 1 ? (kLeft + kWidth - kRight) / 2 : kLeft + 20 + as_double(i) * (kWidth - kLeft - kRight - 40) / as_double(n - 1);
  };
  std::string desc = "Compute after each run, on a logarithmic scale:";
  std::vector<std::pair<double, double>> modification, cumulative;
  for (size_t i = 0; i < n; ++i) {
    const DossierPoint& p = d.timeline[i];
    modification.push_back({x_at(i), y.at(p.modification_flop)});
    if (p.cumulative_flop) cumulative.push_back({x_at(i), y.at(*p.cumulative_flop)});
    desc += " after " + p.label + " modification " + sci(p.modification_flop, 3) + " FLOP, cumulative " +
            (p.cumulative_flop ? sci(*p.cumulative_flop, 3) + " FLOP" : std::string("unknown (base compute unknown)")) +
            (p.complete ? ";" : " (at least: a run so far is undetermined);");
  }
  desc += " thresholds:";
  std::string body = log_ticks(y, true, kLeft, kWidth - kRight);
  for (const DossierVerdict& v : d.verdicts) {
    const double py = y.at(v.threshold_flop);
    body += "<line class=\"threshold\" data-series=\"threshold\" data-regime=\"" + html_escaped(v.regime_id) +
            "\" x1=\"" + num(kLeft) + "\" x2=\"" + num(kWidth - kRight) + "\" y1=\"" + num(py) +
            "\" y2=\"" + num(py) + "\"/>" +
            text_at(kWidth - kRight - 4, py - 4, v.regime_id + " (" + v.compute_basis + ")", "end", "label");
    desc += " " + v.regime_id + " " + sci(v.threshold_flop, 3) + " FLOP against the " + v.compute_basis + ";";
  }
  body += polyline(modification, kSeriesColours[0], "modification");
  if (!cumulative.empty()) body += polyline(cumulative, kSeriesColours[1], "cumulative");
  for (size_t i = 0; i < n; ++i) body += text_at(x_at(i), bottom + 32, short_label(d.timeline[i].label), "middle", "tick");
  body += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(bottom + 44) + "\" width=\"12\" height=\"4\" fill=\"" +
          kSeriesColours[0] + "\"/>" + text_at(kLeft + 18, bottom + 50, "own modifications (summed)") +
          "<rect x=\"" + num(kLeft + 240) + "\" y=\"" + num(bottom + 44) + "\" width=\"12\" height=\"4\" fill=\"" +
          kSeriesColours[1] + "\"/>" + text_at(kLeft + 258, bottom + 50, "cumulative (base and every modification)");
  return svg_open("chart-cumulative", height, "Cumulative compute against each threshold", desc) + body + "</svg>";
}

std::string dossier_chart_runs(const Dossier& d) {
  if (d.runs.empty()) return "";
  const double bar = 18, gap = 12, top = 10;
  const double height = top + as_double(d.runs.size()) * (bar + gap) + 40;
  double most = 0;
  for (const DossierRun& r : d.runs) most = std::max(most, flop_double(r.compliance).value_or(0));
  const double span = kWidth - kLeft - kRight - 150;
  std::string desc = "Compute of each run, linear scale; the darker part is in the final weights, the lighter part "
                     "was spent and discarded:";
  std::string body;
  for (size_t i = 0; i < d.runs.size(); ++i) {
    const DossierRun& r = d.runs[i];
    const double y = top + as_double(i) * (bar + gap);
    body += text_at(kLeft - 6, y + 13, short_label(r.run_id), "end", "tick");
    const std::optional<double> spent = flop_double(r.compliance);
    if (!spent) {
      body += text_at(kLeft + 4, y + 13, "undetermined", "start", "label");
      desc += " " + r.run_id + " undetermined;";
      continue;
    }
    const double kept = std::min(*spent, flop_double(r.in_final_weights).value_or(*spent));
    const double w_spent = most > 0 ? *spent / most * span : 0, w_kept = most > 0 ? kept / most * span : 0;
    const std::string run = " data-run=\"" + html_escaped(r.run_id) + "\"";
    body += "<rect class=\"discarded\"" + run + " x=\"" + num(kLeft) + "\" y=\"" + num(y) + "\" width=\"" + num(w_spent) +
            "\" height=\"" + num(bar) + "\"/><rect class=\"kept\"" + run + " x=\"" + num(kLeft) + "\" y=\"" + num(y) +
            "\" width=\"" + num(w_kept) + "\" height=\"" + num(bar) + "\"/>" +
            text_at(kLeft + w_spent + 6, y + 13, sci(*spent, 3) + " FLOP", "start", "label");
    desc += " " + r.run_id + " " + sci(*spent, 3) + " FLOP spent, " + sci(kept, 3) + " in the final weights;";
  }
  return svg_open("chart-runs", height, "Compute per run: in the final weights and discarded", desc) + body + "</svg>";
}

std::string dossier_chart_formulas(const Dossier& d) {
  if (d.runs.empty()) return "";
  const char* const names[] = {"eu_6nd", "peft_aware", "detailed", "hardware_bound"};
  const double bar = 10, top = 10, group = 4 * (bar + 2) + 14;
  const double height = top + as_double(d.runs.size()) * group + 30;
  std::vector<double> values;
  auto value_of = [](const Json& v) -> std::optional<double> {
    if (v.is_number()) return v.get<double>();
    return flop_double(v);
  };
  for (const DossierRun& r : d.runs)
    for (const char* f : names)
      if (auto v = value_of(json_at(r.formulas, {f}))) values.push_back(*v);
  if (values.empty()) return "";
  const LogAxis x = log_axis(values, kLeft, kWidth - kRight - 80);
  std::string desc = "Each run's compute by every formula, logarithmic scale:";
  std::string body = log_ticks(x, false, top, height - 30);
  for (size_t i = 0; i < d.runs.size(); ++i) {
    const DossierRun& r = d.runs[i];
    const double y0 = top + as_double(i) * group;
    body += text_at(kLeft - 6, y0 + 2 * (bar + 2), short_label(r.run_id), "end", "tick");
    desc += " " + r.run_id + ":";
    for (size_t k = 0; k < 4; ++k) {
      const double y = y0 + as_double(k) * (bar + 2);
      const std::optional<double> v = value_of(json_at(r.formulas, {names[k]}));
      desc += std::string(" ") + names[k] + " " + (v ? sci(*v, 3) + " FLOP" : std::string("not available")) + ",";
      if (!v) {
        body += text_at(kLeft + 4, y + bar - 1, std::string(names[k]) + ": not available", "start", "small");
        continue;
      }
      body += "<rect data-run=\"" + html_escaped(r.run_id) + "\" data-formula=\"" + names[k] + "\" x=\"" + num(kLeft) +
              "\" y=\"" + num(y) + "\" width=\"" + num(x.at(*v) - kLeft) + "\" height=\"" +
              num(bar) + "\" fill=\"" + kSeriesColours[k] + "\"/>" +
              text_at(x.at(*v) + 4, y + bar - 1, std::string(names[k]) + " " + sci(*v, 3), "start", "small");
    }
  }
  return svg_open("chart-formulas", height, "Formulas side by side", desc) + body + "</svg>";
}

std::string dossier_chart_gpus(const Dossier& d) {
  std::vector<std::pair<const DossierRun*, const DossierGpu*>> rows;
  double most_power = 0;
  for (const DossierRun& r : d.runs) {
    for (const DossierGpu& g : r.gpus) {
      rows.push_back({&r, &g});
      most_power = std::max(most_power, g.mean_power_w.value_or(0));
    }
  }
  if (rows.empty()) return "";
  const double bar = 14, gap = 10, top = 24, column = 180, second = kLeft + column + 60;
  const double height = top + as_double(rows.size()) * (bar + gap) + 10;
  std::string desc = "Each sampled GPU, by run, rank and segment: mean utilisation (0 to 100%) and mean power:";
  std::string body = text_at(kLeft, 14, "mean utilisation", "start", "label") +
                     text_at(second, 14, "mean power (energy / attributed time)", "start", "label");
  for (size_t i = 0; i < rows.size(); ++i) {
    const DossierRun& r = *rows[i].first;
    const DossierGpu& g = *rows[i].second;
    const double y = top + as_double(i) * (bar + gap);
    const std::string label = short_label(r.run_id) + " r" + std::to_string(g.rank) + " s" +
                              std::to_string(g.segment) + " gpu" + std::to_string(g.index);
    body += text_at(kLeft - 6, y + 11, label, "end", "tick");
    desc += " " + label + ": utilisation " + (g.mean_utilization ? percent(*g.mean_utilization) : "not available") +
            ", power " + (g.mean_power_w ? sci(*g.mean_power_w, 3) + " W" : std::string("not available")) + ";";
    if (g.mean_utilization) {
      body += "<rect class=\"kept\" x=\"" + num(kLeft) + "\" y=\"" + num(y) + "\" width=\"" +
              num(std::clamp(*g.mean_utilization, 0.0, 1.0) * column) + "\" height=\"" + num(bar) + "\"/>" +
              text_at(kLeft + column + 4, y + 11, percent(*g.mean_utilization), "start", "small");
    }
    if (g.mean_power_w && most_power > 0) {
      body += "<rect x=\"" + num(second) + "\" y=\"" + num(y) + "\" width=\"" +
              num(*g.mean_power_w / most_power * column) + "\" height=\"" + num(bar) + "\" fill=\"" +
              kSeriesColours[1] + "\"/>" + text_at(second + column + 4, y + 11, sci(*g.mean_power_w, 3) + " W", "start", "small");
    }
  }
  return svg_open("chart-gpus", height, "Sampled GPUs: utilisation and power", desc) + body + "</svg>";
}

namespace {

// One GPU of one segment over time.
struct GpuSeries {
  std::string label;
  std::vector<const DossierGpuInterval*> stretches;
};

std::vector<GpuSeries> gpu_series(const Dossier& d) {
  std::vector<GpuSeries> out;
  for (const DossierRun& r : d.runs) {
    for (const DossierGpuInterval& g : r.gpu_timeline) {
      const std::string label = short_label(r.run_id) + " r" + std::to_string(g.rank) + " s" +
                                std::to_string(g.segment) + " gpu" + std::to_string(g.index);
      if (out.empty() || out.back().label != label) out.push_back({label, {}});
      out.back().stretches.push_back(&g);
    }
  }
  return out;
}

// "from A to B" over the values a stretch has, or "not available".
std::string value_range(const GpuSeries& s, std::optional<double> DossierGpuInterval::*field, bool as_percent) {
  std::optional<double> lo, hi;
  for (const DossierGpuInterval* g : s.stretches) {
    const std::optional<double>& v = g->*field;
    if (!v) continue;
    lo = std::min(lo.value_or(*v), *v);
    hi = std::max(hi.value_or(*v), *v);
  }
  if (!lo) return "not available";
  auto show = [&](double v) { return as_percent ? percent(v) : sci(v, 3) + " W"; };
  return "from " + show(*lo) + " to " + show(*hi);
}

}  // namespace

std::string dossier_chart_gpu_timeline(const Dossier& d) {
  const std::vector<GpuSeries> series = gpu_series(d);
  if (series.empty()) return "";
  double t_lo = 0, t_hi = 0, most_power = 0;
  bool first = true;
  for (const GpuSeries& s : series) {
    for (const DossierGpuInterval* g : s.stretches) {
      t_lo = first ? g->t_end : std::min(t_lo, g->t_end);
      t_hi = first ? g->t_end : std::max(t_hi, g->t_end);
      most_power = std::max(most_power, g->power_w.value_or(0));
      first = false;
    }
  }
  const double util_top = 30, util_bottom = 170, power_top = 210, power_bottom = 350;
  const double legend_top = 390, line = 16;
  const double height = legend_top + line * as_double(series.size()) + 10;
  const double x0 = kLeft, x1 = kWidth - kRight;
  auto x_at = [&](double t) { return t_hi > t_lo ? x0 + (t - t_lo) / (t_hi - t_lo) * (x1 - x0) : (x0 + x1) / 2; };
  auto util_y = [&](double u) { return util_bottom - u * (util_bottom - util_top); };
  auto power_y = [&](double w) { return power_bottom - (most_power > 0 ? w / most_power : 0) * (power_bottom - power_top); };
  auto gridline = [&](double y, const std::string& label) {
    return "<line class=\"grid\" x1=\"" + num(x0) + "\" x2=\"" + num(x1) + "\" y1=\"" + num(y) + "\" y2=\"" + num(y) +
           "\"/>" + text_at(x0 - 6, y + 4, label, "end", "tick");
  };
  std::string body = text_at(x0, util_top - 10, "utilisation (share of attributed time a kernel ran)", "start", "label") +
                     gridline(util_y(0), "0%") + gridline(util_y(0.5), "50%") + gridline(util_y(1), "100%") +
                     text_at(x0, power_top - 10, "power (energy / attributed time)", "start", "label") +
                     gridline(power_y(0), "0 W");
  if (most_power > 0) body += gridline(power_y(most_power), sci(most_power, 3) + " W");
  body += text_at(x0, power_bottom + 18, iso_time(t_lo), "start", "tick") +
          text_at(x1, power_bottom + 18, iso_time(t_hi), "end", "tick");
  std::string desc = "Each sampled GPU over time, stretch by stretch from the journals:";
  for (size_t i = 0; i < series.size(); ++i) {
    const GpuSeries& s = series[i];
    const char* colour = kSeriesColours[i % std::size(kSeriesColours)];
    std::vector<std::pair<double, double>> util, power;
    for (const DossierGpuInterval* g : s.stretches) {
      if (g->utilization) util.push_back({x_at(g->t_end), util_y(*g->utilization)});
      if (g->power_w) power.push_back({x_at(g->t_end), power_y(*g->power_w)});
    }
    if (!util.empty()) body += polyline(util, colour, "gpu-utilization");
    if (!power.empty()) body += polyline(power, colour, "gpu-power");
    const double y = legend_top + line * as_double(i);
    body += "<rect x=\"" + num(x0) + "\" y=\"" + num(y - 8) + "\" width=\"12\" height=\"4\" fill=\"" + colour + "\"/>" +
            text_at(x0 + 18, y - 3, s.label, "start", "small");
    desc += " " + s.label + ": " + std::to_string(s.stretches.size()) + " stretches, utilisation " +
            value_range(s, &DossierGpuInterval::utilization, true) + ", power " +
            value_range(s, &DossierGpuInterval::power_w, false) + ";";
  }
  return svg_open("chart-gpu-timeline", height, "GPU utilisation and power over time", desc) + body + "</svg>";
}

}  // namespace flopsmeter
