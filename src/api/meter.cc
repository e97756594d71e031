// The runtime meter: lock-free counters on the training thread, durable
// journal lines at intervals, the record at the end.
#include "flopsmeter/meter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "adapters/files.h"
#include "adapters/gpu_sampler.h"
#include "adapters/sha256.h"
#include "api/assessment.h"
#include "api/journal.h"
#include "api/length_histogram.h"
#include "api/meter_ledger.h"
#include "api/meter_options.h"
#include "api/report_format.h"
#include "api/run_accounting.h"
#include "api/run_report.h"
#include "core/strict_fields.h"
#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

constexpr const char* kRunIdFile = "run.json";
// Budget warnings, as fractions of the budget.
constexpr double kBudgetWarnings[] = {0.5, 0.8, 0.9};
// Progress lines are spaced so the journal grows by at most this much per
// second on average: with varlen attention a line can carry thousands of
// distinct sequence lengths (71 KiB for 8192), and at the default 10 s
// interval the journal would reach read_journal's size limit in under two
// days. At 1 KiB/s it takes twelve. Short lines are not slowed.
constexpr double kJournalBytesPerSecond = 1024;
// At the end rank 0 waits this long (at most end-wait) for a rank whose
// journal is not in its directory: a short job's ranks may still be
// beginning, but a journal on another node's own disk never comes.
constexpr double kAbsentJournalWaitSeconds = 5;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double monotonic_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Status make_directories(const std::string& path) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty() || is_directory(partial)) continue;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IoError(partial + ": cannot create directory: " + std::strerror(errno));
    }
  }
  if (!is_directory(path)) return Status::InvalidArgument(path + ": exists and is not a directory");
  return Status();
}

std::string random_run_id() {
  std::random_device rd;
  char text[33];
  std::snprintf(text, sizeof text, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return text;
}

// A directory that already holds a run holds that run only.
Status check_same_run(const std::string& where, const std::string& held, const std::string& wanted) {
  if (wanted.empty() || held == wanted) return Status();
  return Status::InvalidArgument(where + " belongs to run '" + printable(held) + "', not to run-id '" + wanted +
                                 "': choose another run directory, or the run's own id");
}

// The run's id, shared by the ranks through RUN/run.json: `wanted` (the
// run-id option) or a random one. The first rank to begin creates the file
// (link() fails if another rank won the race), the others read it.
Result<std::string> shared_run_id(const std::string& run_dir, const std::string& wanted) {
  const std::string path = join_path(run_dir, kRunIdFile);
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (is_regular_file(path)) {
      FM_ASSIGN_OR_RETURN(std::string text, read_file(path, 1 << 16));
      nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      if (!j.is_object() || !j.contains("run_id") || !j["run_id"].is_string()) {
        return Status::ParseError(path + ": field 'run_id': expected a string");
      }
      FM_RETURN_IF_ERROR(check_same_run(path, j["run_id"].get<std::string>(), wanted));
      return j["run_id"].get<std::string>();
    }
    const nlohmann::json j = {{"schema", "flopsmeter.run_id/1"}, {"run_id", wanted.empty() ? random_run_id() : wanted},
                              {"created_at", iso_time(unix_now())}};
    const std::string temp = path + ".tmp." + std::to_string(::getpid());
    FM_RETURN_IF_ERROR(write_file_atomic(temp, j.dump(2) + "\n"));
    const int linked = ::link(temp.c_str(), path.c_str());
    const int link_errno = errno;
    ::unlink(temp.c_str());
    if (linked == 0 || link_errno == EEXIST) continue;  // read back whichever won
    return Status::IoError(path + ": cannot create: " + std::strerror(link_errno));
  }
  return Status::IoError(path + ": could not be created or read");
}

// `given` with the ledger's basis for a run on ledger-model: read from the
// ledger when the run begins, and on a resume the basis the run began with
// (its begin line's options), so that a resumed run counts as it began even
// when the ledger has grown since.
Result<MeterOptions> with_ledger_basis(const MeterOptions& given, std::vector<std::string>& notes) {
  MeterOptions options = given;
  if (options.ledger_model.empty()) return options;
  const std::string journal_path = join_path(options.run_dir, journal_file_name(options.rank));
  if (options.resume && is_regular_file(journal_path)) {
    FM_ASSIGN_OR_RETURN(JournalContents existing, read_journal(journal_path));
    for (auto line = existing.lines.rbegin(); line != existing.lines.rend(); ++line) {
      if (line->value("kind", nlohmann::json()) != "begin" || !line->contains("options")) continue;
      FM_ASSIGN_OR_RETURN(MeterOptions began, meter_options_from_json((*line)["options"].dump(), journal_path));
      options.pretrain = began.pretrain;
      options.prior_modifications = began.prior_modifications;
      options.prior_modifications_undetermined = began.prior_modifications_undetermined;
      options.base_systemic_risk = began.base_systemic_risk;
      notes.push_back("the ledger basis this run began with (its journal's begin line), not the ledger's now");
      return options;
    }
  }
  FM_RETURN_IF_ERROR(apply_ledger_basis(options, notes));
  return options;
}

// The command line of this process, from /proc.
std::vector<std::string> own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> out;
  std::string arg;
  while (std::getline(in, arg, '\0')) out.push_back(arg);
  return out;
}

nlohmann::json file_digest_json(const std::string& path) {
  auto d = sha256_file(path);
  if (!d.ok()) return {{"path", path}, {"error", d.status().message()}};
  return {{"path", path}, {"sha256", d->sha256}, {"bytes", d->bytes}};
}

nlohmann::json sequences_delta_json(const std::map<uint64_t, uint64_t>& now, const std::map<uint64_t, uint64_t>& before) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [len, count] : now) {
    auto it = before.find(len);
    const uint64_t prior = it == before.end() ? 0 : it->second;
    if (count > prior) out.push_back({len, count - prior});
  }
  return out;
}

class MeterImpl final : public Meter {
 public:
  MeterImpl(MeterOptions options, Catalog catalog, RunAccounting accounting, ModificationThreshold threshold,
            std::optional<Flop> budget)
      : options_(std::move(options)),
        catalog_(std::move(catalog)),
        accounting_(std::move(accounting)),
        threshold_(std::move(threshold)),
        budget_(budget),
        threshold_double_(threshold_.threshold_flop.to_double()),
        budget_double_(budget_ ? to_double(*budget_) : 0),
        world_scale_(options_.token_source == kIntegrationTokenSource ? options_.world_size : 1),
        counter_(accounting_, options_) {}

  ~MeterImpl() override {
    stop_background();
    if (ended_ || !begun_) return;
    // Freed without end(): keep what was counted; the run stays open.
    if (sampler_) sampler_->stop();
    (void)append_counts("progress", {});
  }

  Status start(JournalWriter journal, JournalContents existing) {
    const std::string journal_path = join_path(options_.run_dir, journal_file_name(options_.rank));
    nlohmann::json resumed_from;
    if (!existing.lines.empty()) {
      FM_RETURN_IF_ERROR(find_resume_point(existing, journal_path, resumed_from));  // checks every line's fields
      run_id_ = existing.lines.front()["run_id"].get<std::string>();
      FM_RETURN_IF_ERROR(check_same_run(journal_path, run_id_, options_.run_id));
      // What a resume sees wrong is said in the journal, so that it outlives
      // the lines it is about (a later report cannot see a dropped line).
      const RecordPins pins = read_record_pins(options_.run_dir, options_.output);
      for (std::string& problem : journal_integrity_problems(options_.rank, existing, pins)) {
        record_event("integrity", std::move(problem));
      }
    } else {
      FM_ASSIGN_OR_RETURN(run_id_, shared_run_id(options_.run_dir, options_.run_id));
    }
    FM_ASSIGN_OR_RETURN(step_bound_, declared_step_bound());
    journal_ = std::move(journal);
    FM_RETURN_IF_ERROR(journal_.ContinueAfter(existing));

    nlohmann::json sampler = {{"enabled", false}};
    if (options_.nvml && options_.local_rank == 0) {
      GpuSamplerOptions so;
      so.library = options_.nvml_library;
      so.hz = options_.sample_hz;
      so.visible_devices = options_.visible_devices;
      so.job_pids = options_.job_pids;
      so.catalog = &catalog_.gpus();
      so.dtype = options_.dtype;
      so.peak_flop_per_s = options_.peak_flop_per_s;
      auto started = GpuSampler::Start(so);
      if (started.ok()) {
        sampler_ = std::move(*started);
        GpuSnapshot first = sampler_->snapshot();
        sampler = {{"enabled", true}, {"driver_version", first.driver_version}, {"hz", options_.sample_hz},
                   {"library", options_.nvml_library}, {"notes", first.notes}};
      } else if (started.status().code() == StatusCode::kNotFound) {
        // No NVML here (no GPU or no driver): time is still recorded.
        sampler["error"] = started.status().message();
        begin_warnings_.push_back(sampling_not_started(started.status().message()));
      } else {
        return started.status();  // e.g. a GPU without a known peak: never guess
      }
    } else if (options_.nvml) {
      sampler["note"] = "sampled by local rank 0 of this node";
    }

    nlohmann::json provenance = {{"host", options_.node}, {"pid", ::getpid()}};
    provenance["command"] = options_.command.empty() ? own_command_line() : options_.command;
    if (!options_.recipe.empty()) provenance["recipe"] = file_digest_json(options_.recipe);
    if (options_.rank == 0) {
      nlohmann::json datasets = nlohmann::json::array();
      for (const std::string& f : options_.dataset_files) datasets.push_back(file_digest_json(f));
      provenance["datasets"] = datasets;
      if (!accounting_.config_file.empty()) provenance["model_config"] = file_digest_json(accounting_.config_file);
    }
    nlohmann::json begin = {{"kind", "begin"},
                            {"segment", segment_},
                            {"run_id", run_id_},
                            {"t", unix_now()},
                            {"time", iso_time(unix_now())},
                            {"host", options_.node},
                            {"pid", ::getpid()},
                            {"rank", options_.rank},
                            {"world_size", options_.world_size},
                            {"local_rank", options_.local_rank},
                            {"tool_version", FLOPSMETER_VERSION_STRING},
                            {"rules_version", catalog_.rules().data_version},
                            {"options", meter_options_json(options_)},
                            {"accounting", accounting_pins(accounting_, options_)},
                            {"sampler", sampler},
                            {"token_source", options_.token_source},
                            {"provenance", provenance},
                            {"resumed_from", resumed_from}};
    FM_RETURN_IF_ERROR(journal_.append(std::move(begin)));
    begun_ = true;
    last_journal_ = monotonic_now();
    background_ = std::thread([this] { background_loop(); });
    return Status();
  }

  void add(uint64_t tokens, uint64_t positions, uint64_t micro_batches) noexcept override {
    tokens_.fetch_add(tokens, std::memory_order_relaxed);
    positions_.fetch_add(positions, std::memory_order_relaxed);
    covered_positions_.fetch_add(positions, std::memory_order_relaxed);
    micro_batches_.fetch_add(micro_batches, std::memory_order_relaxed);
  }
  void add_positions(uint64_t positions, uint64_t micro_batches) noexcept override {
    positions_.fetch_add(positions, std::memory_order_relaxed);
    micro_batches_.fetch_add(micro_batches, std::memory_order_relaxed);
  }
  void sync_tokens(uint64_t tokens) noexcept override {
    tokens_.fetch_add(tokens, std::memory_order_relaxed);
    covered_positions_.store(positions_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  void add_sequences(uint64_t length, uint64_t count) noexcept override { sequences_.add(length, count); }
  void set_executed(const ExecutedFlop& executed) noexcept override {
    std::lock_guard lock(executed_mutex_);
    executed_ = executed;
  }

  Result<BudgetState> step(uint64_t global_step) override {
    // Steps since the segment began, by the trainer's own count: a caller may
    // report several steps at once (watch polls).
    if (!first_step_) {
      first_step_ = global_step > 0 ? global_step - 1 : 0;
      previous_step_ = *first_step_;
      previous_figure_ = segment_start_compute_;
    }
    last_step_.store(global_step, std::memory_order_relaxed);
    BudgetState s;
    s.global_step = global_step;
    s.budget_flop = budget_;
    s.threshold_flop = threshold_.threshold_flop;
    FM_ASSIGN_OR_RETURN(s.compute_flop, running_figure());
    const double compute = to_double(s.compute_flop);
    s.threshold_fraction = compute / threshold_double_;
    // The costliest step so far, per step: what the guard expects the next
    // one may cost. The average would let a run of growing steps cross.
    if (global_step > previous_step_) {
      const Flop spent = s.compute_flop - std::min(s.compute_flop, previous_figure_);
      largest_step_ = std::max(largest_step_, spent / (global_step - previous_step_));
      previous_step_ = global_step;
      previous_figure_ = s.compute_flop;
    }
    if (budget_) {
      const double budget = budget_double_;
      s.budget_fraction = compute / budget;
      for (size_t i = warned_; i < std::size(kBudgetWarnings); ++i) {
        if (s.budget_fraction < kBudgetWarnings[i]) break;
        warned_ = i + 1;
        const std::string w = "budget " + percent(kBudgetWarnings[i]) + " reached at step " +
                              std::to_string(global_step) + ": " + sci(s.compute_flop, 3) + " of " +
                              sci(*budget_, 3) + " FLOP";
        s.new_warnings.push_back(w);
        record_event("budget_warning", w);
      }
      // Stop before the step that would cross: the lookahead's steps, each
      // as costly as the costliest the declared shapes allow, or as the
      // costliest so far.
      if (step_bound_ && largest_step_ > *step_bound_ && !bound_broken_recorded_) {
        bound_broken_recorded_ = true;
        record_event("budget_bound_exceeded",
                     "budget: a step cost " + sci(largest_step_, 3) + " FLOP, more than the " + sci(*step_bound_, 3) +
                         " FLOP the declared max-length, micro-batch-size and grad-accum allow: the guard now looks "
                         "ahead by the costliest step so far, a prediction");
      }
      const Flop step_ahead = std::max(step_bound_.value_or(0), largest_step_);
      Flop ahead = 0, after = 0;
      const bool fits = checked_mul(step_ahead, options_.budget_lookahead_steps, &ahead) &&
                        checked_add(s.compute_flop, ahead, &after);
      if ((!fits || after > *budget_) && !stop_announced_) {
        stop_announced_ = true;
        s.stop = true;
        record_event("budget_stop", "budget: stop requested after step " + std::to_string(global_step) + " (" +
                                        sci(s.compute_flop, 3) + " FLOP spent; " +
                                        std::to_string(options_.budget_lookahead_steps) + " more step(s) of " +
                                        sci(step_ahead, 3) + " FLOP, " + guard_basis() + ", would take it past " +
                                        sci(*budget_, 3) + ")");
      } else {
        s.stop = stop_announced_;
      }
      if (s.compute_flop > *budget_ && !overshoot_recorded_) {
        overshoot_recorded_ = true;
        record_event("budget_exceeded", "budget exceeded at step " + std::to_string(global_step) + ": " +
                                            sci(s.compute_flop, 3) + " FLOP against " + sci(*budget_, 3) +
                                            " (a step costlier than every step before it)");
      }
    }
    // Progress lines at the interval come from the background thread; a
    // warning or a stop is journaled before the caller acts on it, and a
    // journal that cannot be written is retried, never the caller's failure.
    if (!s.new_warnings.empty() || s.stop) (void)append_counts("progress", {});
    return s;
  }

  const std::string& run_id() const override { return run_id_; }
  const std::vector<std::string>& begin_warnings() const override { return begin_warnings_; }

  // How the guard bounds the next step, in words.
  std::string guard_basis() const {
    if (step_bound_ && *step_bound_ >= largest_step_) return "the costliest step the declared shapes allow";
    return "the costliest step so far";
  }

  Status checkpoint(uint64_t global_step, std::string_view path) override {
    last_step_.store(global_step, std::memory_order_relaxed);
    Status written = append_counts("checkpoint", {{"checkpoint", std::string(path)}});
    if (!written.ok()) {
      record_event("checkpoint_not_journaled", "the checkpoint at step " + std::to_string(global_step) + " (" +
                                                   std::string(path) + ") could not be journaled: " +
                                                   written.message() + "; a resume from it is counted from the "
                                                   "line before, as an under-count event");
    }
    return written;
  }

  Flop resumed_tokens() const override { return prior_.tokens; }
  bool begun() const { return begun_; }

  Status flush() override { return append_counts("progress", {}); }

  Result<RunRecord> end(const EndOptions& end) override {
    if (ended_) return Status::InvalidArgument("the meter has already ended");
    if (end.global_step) last_step_.store(*end.global_step, std::memory_order_relaxed);
    stop_background();
    if (sampler_) sampler_->stop();  // its snapshot keeps the final totals
    nlohmann::json end_line = {{"status", end.status}};
    if (!end.token_source.empty()) end_line["token_source"] = end.token_source;
    if (!end.notes.empty()) end_line["notes"] = end.notes;  // journaled, so a later report keeps them
    ReportExtras extras;
    if (Status written = append_counts("end", end_line); !written.ok()) {
      // The record is still made, from what this process holds: the lines
      // that could not be written, as the journal would have had them.
      record_event("journal_write_failed", "the end line could not be journaled (" + written.message() +
                                               "): the record was made from the meter's memory; a later report "
                                               "from the journal will see this segment as crashed");
      extras.rank = options_.rank;
      std::lock_guard lock(journal_mutex_);
      extras.unwritten_lines.push_back(journal_.stamped(counts_line("end", std::move(end_line), sequences_.snapshot())));
    }
    ended_ = true;
    if (options_.rank != 0) {
      RunRecord r;
      r.status = end.status;
      r.tokens = tokens_.load();
      r.complete = false;
      r.json = nlohmann::json({{"schema", "flopsmeter.rank_end/1"},
                               {"run_id", run_id_},
                               {"rank", options_.rank},
                               {"status", end.status},
                               {"tokens", to_decimal(r.tokens)},
                               {"note", "rank 0 writes flops_meter.json"}})
                   .dump(2) +
               "\n";
      return r;
    }
    wait_for_other_ranks();
    ReportOptions report;
    report.write = true;
    report.output = options_.output;
    report.data_dir = options_.data_dir;
    FM_ASSIGN_OR_RETURN(RunRecord record, build_run_record(options_.run_dir, report, &end, extras));
    if (!options_.ledger.empty()) record_in_ledger(record);
    if (!options_.exporting.to.empty()) export_at_end(record);
    return record;
  }

 private:
  // The record into the ledger. A failure is a warning in the record (the
  // ledger then holds no copy of it to disagree with), never the caller's.
  void record_in_ledger(RunRecord& record) {
    const std::string catalog_id =
        accounting_.loaded && accounting_.loaded->catalog_entry ? accounting_.loaded->catalog_entry->id : "";
    const LedgerRecording recorded = flopsmeter::record_in_ledger(options_, record.json, run_id_, catalog_id);
    record.ledger_entry = recorded.entry;
    record.ledger_message = recorded.message;
    if (recorded.failed) add_warning(record, recorded.message);
  }

  // The run to the store, once its record is written and in the ledger
  // (whose head goes with it, and which records the export). A failure is
  // a warning in the record, never the caller's; a ledger that held the
  // record before the warning gets the record as it now is.
  void export_at_end(RunRecord& record) {
    ExportOptions o = options_.exporting;
    o.ledger = meter_ledger_options(options_);
    o.use_ledger = !options_.ledger.empty();
    const Result<ExportReport> report = export_records({ExportSource::Kind::kRunDirectory, options_.run_dir,
                                                        options_.output}, o);
    if (report.ok()) {
      record.export_message = export_summary(report->json);
      return;
    }
    record.export_message = "the run could not be exported to " + o.to + ": " + report.status().message();
    add_warning(record, record.export_message);
    if (record.ledger_entry && !options_.ledger.empty()) record_in_ledger(record);
  }

  // One line for the caller: where it went, and the ledger's entries.
  static std::string export_summary(const std::string& report_json) {
    const nlohmann::json r = nlohmann::json::parse(report_json, nullptr, false);
    std::string out = "exported to " + r.value("to", std::string()) + ", confirmed by the store";
    for (const nlohmann::json& u : r.value("exported", nlohmann::json::array())) {
      if (u.value("ledger_entry", nlohmann::json()).is_number()) {
        out += "; the ledger's entry " + u["ledger_entry"].dump() + " records it";
      } else {
        out += "; not recorded in a ledger (" + u.value("not_recorded", std::string()) + ")";
      }
    }
    return out;
  }

  // `message` into the record's warnings, and the record rewritten.
  void add_warning(RunRecord& record, const std::string& message) {
    nlohmann::json amended = nlohmann::json::parse(record.json, nullptr, false);
    if (!amended.is_object()) return;
    amended["warnings"].push_back(message);
    record.json = amended.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    const std::string path = options_.output.empty() ? join_path(options_.run_dir, kRecordFileName) : options_.output;
    (void)write_file_atomic(path, record.json);
  }

  // Where a resumed segment continues from, and what earlier segments spent:
  // the running figures (budget guard, step state) start from all of it, as
  // the record's spent figure does.
  Status find_resume_point(const JournalContents& existing, const std::string& journal_path,
                           nlohmann::json& resumed_from) {
    FM_ASSIGN_OR_RETURN(prior_, journal_spent(existing, journal_path, options_.rank));
    const nlohmann::json* best = nullptr;
    bool exact = false;
    for (const nlohmann::json& line : existing.lines) {
      const uint64_t seg = line.value("segment", uint64_t{0});
      segment_ = std::max(segment_, seg + 1);
      if (line.value("kind", std::string()) == "begin") continue;
      const uint64_t step = line.value("step", uint64_t{0});
      const bool is_checkpoint = line.value("kind", std::string()) == "checkpoint";
      if (options_.resume_step) {
        // The checkpoint at that step; else the last line at or before it.
        if (step == *options_.resume_step && is_checkpoint) {
          best = &line;
          exact = true;
        } else if (step <= *options_.resume_step && !exact) {
          best = &line;
        }
      } else if (is_checkpoint) {
        best = &line;
        exact = true;
      }
    }
    if (best != nullptr && !exact && options_.resume_step) {
      report_resume_gap(existing, *best, *options_.resume_step);
    }
    if (best != nullptr) {
      last_step_.store(best->value("step", uint64_t{0}), std::memory_order_relaxed);
      resumed_from = {{"segment", (*best)["segment"]}, {"seq", (*best)["seq"]}, {"step", best->value("step", uint64_t{0})},
                      {"checkpoint", best->value("checkpoint", std::string())}, {"exact", exact}};
    } else {
      record_event("resume_without_checkpoint",
                   "resumed without a checkpoint line in the journal: the earlier segments' compute counts as "
                   "spent, none of it as in the final weights");
    }
    FM_ASSIGN_OR_RETURN(segment_start_compute_, scaled_to_world(prior_.tokens, prior_.sequences));
    return Status();
  }

  // The costliest step the declared shapes allow, for the world: grad_accum
  // micro-batches, each of micro_batch_size rows of max_length positions.
  // Any micro-batch of at most that many positions costs no more, since a
  // sequence's cost per position grows with its length.
  Result<std::optional<Flop>> declared_step_bound() {
    if (!options_.max_length || !options_.micro_batch_size || !options_.grad_accum) return std::optional<Flop>();
    const uint64_t length = *options_.max_length, rows = *options_.micro_batch_size;
    Flop tokens = 0, step = 0;
    if (!checked_mul(length, rows, &tokens)) return Status::Overflow("max-length x micro-batch-size exceeds 128 bits");
    FM_ASSIGN_OR_RETURN(const Flop micro_batch, counter_.figure(tokens, {{length, rows}}, 1));
    if (!checked_mul(micro_batch, *options_.grad_accum, &step) || !checked_mul(step, world_scale_, &step)) {
      return Status::Overflow("the declared step bound exceeds 128 bits");
    }
    return std::optional<Flop>(step);
  }

  // The job resumed from weights at `step` that no checkpoint line records
  // (killed between saving and journaling): the record counts the earlier
  // segment only to `from`, its last line at or before that step, so the
  // final weights hold up to the next line's tokens more than it says.
  void report_resume_gap(const JournalContents& existing, const nlohmann::json& from, uint64_t step) {
    const uint64_t from_step = from.value("step", uint64_t{0});
    if (from_step == step) return;
    const uint64_t segment = from.value("segment", uint64_t{0});
    const std::string from_tokens = from.contains("tokens") ? from["tokens"].dump() : "0";
    std::string next = "no later line of that segment";
    for (const nlohmann::json& line : existing.lines) {
      if (line.value("segment", uint64_t{0}) == segment && line.value("step", uint64_t{0}) > from_step &&
          line.value("kind", std::string()) != "begin") {
        next = "its next line, at step " + std::to_string(line.value("step", uint64_t{0})) + ", had " +
               (line.contains("tokens") ? line["tokens"].dump() : std::string("0")) + " tokens";
        break;
      }
    }
    record_event("undercount", "resumed at step " + std::to_string(step) + " with no checkpoint line there (killed "
                               "between saving the checkpoint and journaling it?): the final weights are counted "
                               "from segment " + std::to_string(segment) + "'s line at step " +
                               std::to_string(from_step) + " (" + from_tokens + " tokens); " + next +
                               "; tokens.in_final_weights is short by the steps in between (the spent figure is "
                               "unaffected)");
  }

  // The compliance formula's figure for `tokens` and `sequences` (all
  // segments'), with the micro-batches so far, for the world: an
  // integration counts its own rank's batches, scaled by the rank count
  // (ranks run batches of the same shape; a distributed integration agrees
  // on stopping as soon as any rank's figure says so, which makes the
  // largest rank's figure times the ranks the guard's, never below the sum);
  // watch reads the job's own count, the world's already.
  Result<Flop> scaled_to_world(Flop tokens, const std::map<uint64_t, uint64_t>& sequences) {
    const uint64_t micro_batches = prior_.micro_batches.value_or(0) + micro_batches_.load(std::memory_order_relaxed);
    FM_ASSIGN_OR_RETURN(const Flop own, counter_.figure(tokens, sequences, micro_batches));
    Flop world = 0;
    if (!checked_mul(own, world_scale_, &world)) return Status::Overflow("the compute figure exceeds 128 bits");
    return world;
  }

  // Tokens so far, all of this rank's segments, pending positions counted
  // as tokens.
  Flop counted_tokens() const {
    const uint64_t positions = positions_.load(std::memory_order_relaxed);
    const uint64_t covered = covered_positions_.load(std::memory_order_relaxed);
    return prior_.tokens + tokens_.load(std::memory_order_relaxed) + (positions - std::min(positions, covered));
  }

  // The compliance figure of everything counted so far, exact (an upper
  // bound while token counts are pending): the budget guard's figure.
  Result<Flop> running_figure() {
    std::map<uint64_t, uint64_t> sequences = sequences_.snapshot();
    for (const auto& [length, count] : prior_.sequences) sequences[length] += count;
    return scaled_to_world(counted_tokens(), sequences);
  }

  // `kind` lets the record tell budget events (budget_*) from the others.
  void record_event(const char* kind, std::string message) {
    std::lock_guard lock(journal_mutex_);
    events_.push_back({{"kind", kind}, {"message", std::move(message)}});
  }

  // Seconds from one progress line to the next: the interval, stretched for
  // long lines (kJournalBytesPerSecond).
  double journal_spacing() const {
    return std::max(options_.journal_interval_s, static_cast<double>(last_counts_line_bytes_) / kJournalBytesPerSecond);
  }

  // Progress lines, off the training thread: a line's fsync takes
  // milliseconds (tens on a busy disk). A line that cannot be written is
  // retried at the next interval; the counts stay in memory meanwhile.
  void background_loop() {
    std::unique_lock wake(wake_mutex_);
    while (!stopping_) {
      double journal_due;
      {
        std::lock_guard lock(journal_mutex_);
        journal_due = last_journal_ + journal_spacing();
      }
      const double wait = std::max(0.01, journal_due - monotonic_now());
      if (wake_.wait_for(wake, std::chrono::duration<double>(wait), [this] { return stopping_; })) break;
      wake.unlock();
      if (monotonic_now() >= journal_due) (void)append_counts("progress", {});
      wake.lock();
    }
  }

  void stop_background() {
    {
      std::lock_guard wake(wake_mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (background_.joinable()) background_.join();
  }

  // A counts line of `kind` as of now (`sequences`: the histogram now), with
  // `extra` fields and the events not yet journaled. REQUIRES: journal_mutex_
  // held.
  nlohmann::json counts_line(const char* kind, nlohmann::json extra, const std::map<uint64_t, uint64_t>& sequences) {
    nlohmann::json line = {{"kind", kind},
                           {"segment", segment_},
                           {"t", unix_now()},
                           {"step", last_step_.load(std::memory_order_relaxed)},
                           {"tokens", tokens_.load(std::memory_order_relaxed)},
                           {"positions", positions_.load(std::memory_order_relaxed)},
                           {"micro_batches", micro_batches_.load(std::memory_order_relaxed)},
                           {"sequences", sequences_delta_json(sequences, journaled_sequences_)}};
    if (sampler_) {
      const GpuSnapshot snapshot = sampler_->snapshot();
      nlohmann::json gpus = nlohmann::json::array();
      for (const GpuTotals& g : snapshot.gpus) gpus.push_back(gpu_totals_json(g));
      line["gpus"] = gpus;
      line["sampler_notes"] = snapshot.notes;  // cumulative, e.g. a sampling thread that stopped early
    }
    nlohmann::json events = events_;
    if (unwritten_lines_ > 0) {
      events.push_back({{"kind", "journal_gap"},
                        {"message", std::to_string(unwritten_lines_) + " journal line(s) could not be written from " +
                                        iso_time(first_unwritten_t_) + " (" + last_write_error_ +
                                        "): the counts were kept in memory, and this line carries them"}});
    }
    if (!events.empty()) line["events"] = std::move(events);
    {
      std::lock_guard executed_lock(executed_mutex_);
      if (executed_) {
        line["executed_forward"] = to_decimal(executed_->forward);
        line["executed_backward"] = to_decimal(executed_->backward);
        line["executed_recompute"] = to_decimal(executed_->recompute);
      }
    }
    for (auto& [key, value] : extra.items()) line[key] = std::move(value);
    return line;
  }

  // Appends a counts line. On failure (a full disk, say) nothing is lost
  // but durability: the counts and events stay in memory for the next line,
  // which says how many could not be written.
  Status append_counts(const char* kind, nlohmann::json extra) {
    std::lock_guard lock(journal_mutex_);
    std::map<uint64_t, uint64_t> sequences = sequences_.snapshot();
    Status written = journal_.append(counts_line(kind, std::move(extra), sequences));
    last_journal_ = monotonic_now();
    if (!written.ok()) {
      if (unwritten_lines_++ == 0) first_unwritten_t_ = unix_now();
      last_write_error_ = written.message();
      return written;
    }
    events_.clear();
    unwritten_lines_ = 0;
    last_counts_line_bytes_ = journal_.last_line_bytes();
    journaled_sequences_ = std::move(sequences);
    return Status();
  }

  // Rank 0 gives the others up to end_wait_s to write their end lines, so the
  // record covers them; it never blocks longer and never deadlocks. A rank
  // whose journal is not in this directory gets kAbsentJournalWaitSeconds to
  // appear: after that it is taken to be on another node's own directory
  // (merged later) or never to have begun.
  void wait_for_other_ranks() {
    if (options_.world_size <= 1) return;
    const double start = monotonic_now();
    const double deadline = start + options_.end_wait_s;
    const double absent_deadline = start + std::min(options_.end_wait_s, kAbsentJournalWaitSeconds);
    while (true) {
      const double now = monotonic_now();
      bool all = true;
      for (uint32_t r = 1; r < options_.world_size && all; ++r) {
        const std::string path = join_path(options_.run_dir, journal_file_name(r));
        if (!is_regular_file(path)) {
          all = now >= absent_deadline;
          continue;
        }
        auto contents = read_journal(path);
        all = contents.ok() && !contents->lines.empty() &&
              contents->lines.back().value("kind", std::string()) == "end";
      }
      if (all || now >= deadline) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  MeterOptions options_;
  Catalog catalog_;
  RunAccounting accounting_;
  ModificationThreshold threshold_;
  std::optional<Flop> budget_;
  const double threshold_double_;
  const double budget_double_;
  // What one rank's compliance figure is multiplied by for the world's: the
  // rank count for an integration's own-rank counts, 1 for watch's job-wide ones.
  const uint64_t world_scale_;
  ComplianceCounter counter_;  // the caller's thread only (step())
  JournalWriter journal_;
  std::string run_id_;
  uint64_t segment_ = 1;  // this process's segment: one more than the journal's last
  std::unique_ptr<GpuSampler> sampler_;
  std::vector<std::string> begin_warnings_;

  // Hot counters, together on one cache line of their own: between
  // micro-batches the training thread's caches go cold, and one line is one
  // miss per add() (four separate lines cost 2-3 times as much here,
  // bench/meter_bench). The background thread reads them about once a second.
  alignas(64) std::atomic<uint64_t> tokens_{0};
  std::atomic<uint64_t> positions_{0};
  std::atomic<uint64_t> covered_positions_{0};
  std::mutex executed_mutex_;
  std::optional<ExecutedFlop> executed_;  // set_executed(): cumulative this segment
  std::atomic<uint64_t> micro_batches_{0};
  alignas(64) ConcurrentLengthHistogram sequences_;

  std::atomic<uint64_t> last_step_{0};

  // The journal and what goes into its next line: the caller's thread and the
  // background thread both append.
  std::mutex journal_mutex_;
  std::map<uint64_t, uint64_t> journaled_sequences_;
  nlohmann::json events_ = nlohmann::json::array();  // {"kind", "message"} objects for the next journal line
  double last_journal_ = 0;
  uint64_t last_counts_line_bytes_ = 0;  // the begin line's size says nothing of the next ones
  // Lines that could not be written since the last one that was.
  uint64_t unwritten_lines_ = 0;
  double first_unwritten_t_ = 0;
  std::string last_write_error_;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread background_;

  // The caller's thread only (step()).
  std::optional<uint64_t> first_step_;  // the global step before this segment's first
  uint64_t previous_step_ = 0;          // the step of the last step() call
  Flop previous_figure_ = 0;            // the running figure then
  Flop largest_step_ = 0;               // the costliest step of this segment, FLOP per step
  std::optional<Flop> step_bound_;      // the costliest step the declared shapes allow
  bool overshoot_recorded_ = false;
  bool bound_broken_recorded_ = false;
  JournalCounts prior_;  // what earlier segments of this rank spent; set before the background thread starts
  Flop segment_start_compute_ = 0;
  size_t warned_ = 0;
  bool stop_announced_ = false;
  bool begun_ = false;  // the begin line is in the journal
  bool ended_ = false;
};

}  // namespace

Result<std::unique_ptr<Meter>> Meter::Begin(const MeterOptions& given) {
  if (given.run_dir.empty()) return Status::InvalidArgument("no run directory (option \"run\" DIR)");
  if (given.rank >= given.world_size) {
    return Status::InvalidArgument("rank " + std::to_string(given.rank) + " is not below the world size " +
                                   std::to_string(given.world_size));
  }
  // Everything that can be refused is checked before anything is written.
  std::vector<std::string> ledger_notes;
  FM_ASSIGN_OR_RETURN(const MeterOptions options, with_ledger_basis(given, ledger_notes));
  FM_ASSIGN_OR_RETURN(Catalog catalog, Catalog::Load(options.data_dir));
  FM_ASSIGN_OR_RETURN(RunAccounting accounting, resolve_accounting(options, catalog));
  accounting.notes.insert(accounting.notes.end(), ledger_notes.begin(), ledger_notes.end());
  FM_ASSIGN_OR_RETURN(ModificationThreshold threshold, eu_modification_threshold(catalog.rules(), accounting.base));
  FM_ASSIGN_OR_RETURN(std::optional<Flop> budget, budget_limit(options, threshold));
  FM_RETURN_IF_ERROR(make_directories(options.run_dir));
  // The record's directory must exist at the end, hours from now: make sure now.
  if (const size_t slash = options.output.rfind('/'); slash != std::string::npos && slash > 0) {
    FM_RETURN_IF_ERROR(make_directories(options.output.substr(0, slash)));
  }
  // The lock comes first: whatever this meter reads of its journal stays
  // true while it runs, and a second meter of this rank is refused here,
  // before its training starts.
  const std::string journal_path = join_path(options.run_dir, journal_file_name(options.rank));
  FM_ASSIGN_OR_RETURN(JournalWriter journal, JournalWriter::OpenLocked(journal_path));
  auto refuse = [&](Status why) {
    if (journal.created()) ::unlink(journal_path.c_str());  // leave no empty journal behind
    return why;
  };
  Result<JournalContents> existing = read_journal(journal_path);
  if (!existing.ok()) return refuse(existing.status());
  if (!existing->lines.empty() && !options.resume) {
    return refuse(Status::InvalidArgument(journal_path + " already holds a run: pass option \"resume\" (\"resume\": true) to "
                                          "continue it, or choose a new run directory"));
  }
  if (!existing->lines.empty()) {
    if (Status same = check_resume_pins(existing->lines, journal_path, accounting_pins(accounting, options));
        !same.ok()) {
      return refuse(same);
    }
  }
  // Keep the model's config beside the journals, so the run can be reported
  // after the model files are gone.
  if (options.rank == 0 && !accounting.config_file.empty()) {
    const std::string snapshot = join_path(options.run_dir, kModelConfigSnapshot);
    if (!is_regular_file(snapshot) && is_regular_file(accounting.config_file)) {
      Result<std::string> text = read_file(accounting.config_file, uint64_t{64} << 20);
      if (!text.ok()) return refuse(text.status());
      if (Status written = write_file_atomic(snapshot, *text); !written.ok()) return refuse(written);
    }
  }
  auto meter = std::make_unique<MeterImpl>(options, std::move(catalog), std::move(accounting), std::move(threshold),
                                           budget);
  const bool created = journal.created();
  if (Status started = meter->start(std::move(journal), std::move(*existing)); !started.ok()) {
    if (created && !meter->begun()) ::unlink(journal_path.c_str());
    return started;
  }
  return std::unique_ptr<Meter>(std::move(meter));
}

}  // namespace flopsmeter
