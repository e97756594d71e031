// Utilisation and power over time, from the cumulative GPU totals each
// journal line carries. Two lines' difference is the stretch between them,
// exactly; taking every k-th line keeps a long run's chart and tables to a
// fixed size without averaging anything away twice.
#include <algorithm>
#include <map>
#include <tuple>

#include "adapters/files.h"  // list_directory, join_path
#include "api/dossier_parts.h"
#include "api/journal.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// Stretches per GPU and segment: the chart's resolution.
constexpr size_t kMaxStretches = 60;

// One GPU's cumulative totals at one journal line.
struct GpuTotalsAt {
  double t = 0;
  double attributed_seconds = 0;
  double utilization_seconds = 0;  // mean_utilization x attributed_seconds
  std::optional<double> energy_j;  // none when NVML measured no energy
  std::string name;
};

using SeriesKey = std::tuple<uint64_t, uint64_t, uint64_t>;  // rank, segment, NVML index

std::optional<double> non_negative(const Json& object, const char* key) {
  const Json& v = json_at(object, {key});
  return v.is_number() && v.get<double>() >= 0 ? std::optional(v.get<double>()) : std::nullopt;
}

// Each line's GPU totals, by rank, segment and GPU. Lines without GPUs (no
// sampler) or with fields the meter never writes are passed over.
void collect(const JournalContents& journal, uint64_t rank, std::map<SeriesKey, std::vector<GpuTotalsAt>>& series) {
  for (const Json& line : journal.lines) {
    const std::optional<double> t = non_negative(line, "t");
    const Json& segment = json_at(line, {"segment"});
    if (!t || !segment.is_number_unsigned()) continue;
    for (const Json& g : json_at(line, {"gpus"})) {
      const Json& index = json_at(g, {"index"});
      const std::optional<double> seconds = non_negative(g, "attributed_seconds");
      if (!index.is_number_unsigned() || !seconds) continue;
      GpuTotalsAt at;
      at.t = *t;
      at.attributed_seconds = *seconds;
      at.utilization_seconds = non_negative(g, "mean_utilization").value_or(0) * *seconds;
      const std::string method = json_text_at(g, {"energy_method"});
      if (method == "counter" || method == "power_integral") at.energy_j = non_negative(g, "energy_j");
      at.name = json_text_at(g, {"name"});
      series[{rank, segment.get<uint64_t>(), index.get<uint64_t>()}].push_back(std::move(at));
    }
  }
}

DossierGpuInterval stretch(const SeriesKey& key, const GpuTotalsAt& from, const GpuTotalsAt& to) {
  DossierGpuInterval out;
  std::tie(out.rank, out.segment, out.index) = key;
  out.name = to.name;
  out.t_end = to.t;
  out.seconds = std::max(0.0, to.attributed_seconds - from.attributed_seconds);
  if (out.seconds <= 0) return out;  // nothing of the job ran on it: no figures, not zeros
  out.utilization = std::clamp((to.utilization_seconds - from.utilization_seconds) / out.seconds, 0.0, 1.0);
  // A counter that restarted (a driver reload) makes the difference meaningless.
  if (from.energy_j && to.energy_j && *to.energy_j >= *from.energy_j)
    out.power_w = (*to.energy_j - *from.energy_j) / out.seconds;
  return out;
}

}  // namespace

void add_gpu_timeline(DossierRun& run, const std::string& run_dir) {
  if (run.gpus.empty()) return;  // nothing was sampled
  Result<std::vector<std::string>> names = list_directory(run_dir);
  if (!names.ok()) {
    run.gpu_timeline_note = "GPU utilisation and power over time not drawn: " + names.status().message();
    return;
  }
  std::map<SeriesKey, std::vector<GpuTotalsAt>> series;
  for (const std::string& name : *names) {
    const int64_t rank = journal_rank(name);
    if (rank < 0) continue;
    Result<JournalContents> journal = read_journal(join_path(run_dir, name));
    if (!journal.ok()) {
      run.gpu_timeline_note = "GPU utilisation and power over time not drawn: " + journal.status().message();
      return;
    }
    collect(*journal, static_cast<uint64_t>(rank), series);
  }
  for (const auto& [key, points] : series) {
    if (points.size() < 2) continue;
    const size_t stride = (points.size() - 2) / kMaxStretches + 1;
    size_t from = 0;
    for (size_t to = stride; from + 1 < points.size(); to = std::min(to + stride, points.size() - 1)) {
      run.gpu_timeline.push_back(stretch(key, points[from], points[to]));
      from = to;
    }
  }
  if (run.gpu_timeline.empty()) {
    run.gpu_timeline_note = "GPU utilisation and power over time not drawn: the journals hold fewer than two "
                            "sampled lines per GPU";
  }
}

}  // namespace flopsmeter
