// `flopsmeter watch [options] -- COMMAND...`: meters a training command from
// outside. docs/watch.md explains the behaviour; the choices in brief:
//
// - COMMAND is forked before the meter begins, held until then, so the GPU
//   sampler attributes GPUs to its pid from the first sample; if the meter
//   cannot begin, COMMAND never runs.
// - COMMAND runs in a process group of its own; the signals that end a job
//   (and SIGUSR1/2, SIGTSTP) are forwarded to that group, once.
// - Tokens come only from what the job writes (--tokens-from); positions
//   are unknown from outside and taken equal to tokens.
// - The exit status is COMMAND's, also after a budget stop: the record's
//   status says "stopped_by_budget".
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <set>
#include <string>

#include "adapters/child_process.h"
#include "api/meter_options.h"
#include "api/report_format.h"
#include "api/token_source.h"
#include "cli/commands.h"
#include "core/json_doc.h"  // printable_text
#include "flopsmeter/meter.h"

namespace flopsmeter::cli {
namespace {

// Forwarded signals that end a job: the record then says "interrupted".
constexpr int kEndingSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
// Forwarded signals that are the job's own business (e.g. "save a checkpoint").
constexpr int kPassedSignals[] = {SIGUSR1, SIGUSR2};

constexpr std::chrono::milliseconds kPollInterval{250};
constexpr double kProgressSeconds = 1.0;

// "flopsmeter: watch: TEXT" on stderr. TEXT quotes the command's arguments
// and file names: control characters are escaped, so none can move the
// cursor or forge a line.
void say(const std::string& text) {
  std::fprintf(stderr, "flopsmeter: watch: %s\n", printable_text(cli_spelling(text)).c_str());
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string clock_text(double seconds) {
  const long s = static_cast<long>(seconds);
  char text[32];
  std::snprintf(text, sizeof text, "%02ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return text;
}

class Watch {
 public:
  // The meter journals GPU figures and counts at its interval on its own
  // thread, so a killed watch leaves them on disk without a step() here.
  // `tokens_before` is the job's own count that earlier segments of a resumed
  // run already metered.
  Watch(ChildProcess& child, Meter& meter, SignalInbox& inbox, std::optional<TokenSource> tokens,
        uint64_t tokens_before)
      : child_(child),
        meter_(meter),
        inbox_(inbox),
        tokens_(std::move(tokens)),
        progress_on_terminal_(::isatty(STDERR_FILENO) == 1),
        tokens_seen_(tokens_before) {}

  // Meters until COMMAND ends; returns how it ended.
  Result<ChildExit> run() {
    std::optional<ChildExit> exit;
    while (true) {
      for (int signal : inbox_.wait(kPollInterval)) on_signal(signal);
      FM_ASSIGN_OR_RETURN(exit, child_.poll());
      if (exit) break;
      explain_if_stopped_by_terminal();
      poll_tokens(false);
      warn_if_error(child_.advance_stop());
      show_progress();
    }
    poll_tokens(true);  // what the job wrote last
    clear_progress();
    return *exit;
  }

  // The record's status for how COMMAND ended.
  std::string end_status(const ChildExit& exit) const {
    if (child_.stopping()) return "stopped_by_budget";
    if (interrupted_) return "interrupted";
    return exit.status == 0 ? "completed" : "failed";
  }

  std::optional<uint64_t> last_step() const { return step_; }

 private:
  void on_signal(int signal) {
    if (signal == SIGCHLD) return;  // only wakes the loop
    if (signal == SIGTSTP) {
      // Ctrl-Z reaches only our group: stop the job with us, continue it with us.
      warn_if_error(child_.signal_group(SIGTSTP));
      clear_progress();
      std::raise(SIGSTOP);
      warn_if_error(child_.signal_group(SIGCONT));
      return;
    }
    for (int ending : kEndingSignals) interrupted_ = interrupted_ || signal == ending;
    warn_if_error(child_.signal_group(signal));
  }

  void explain_if_stopped_by_terminal() {
    const int stop = child_.stopped_by();
    if ((stop != SIGTTIN && stop != SIGTTOU) || told_about_terminal_) return;
    told_about_terminal_ = true;
    message(child_.argv().front() + " is stopped: it used the terminal, which stays with watch (the command runs in "
            "a process group of its own so that signals reach it once); give it its input with < FILE. Ctrl-C ends it.");
  }

  void poll_tokens(bool job_ended) {
    if (!tokens_) return;
    std::optional<TokenProgress> progress = tokens_->poll(job_ended);
    for (const std::string& text : tokens_->take_notes()) note(text);
    if (!progress) return;
    token_file_ = progress->file;
    if (progress->tokens < tokens_seen_) {
      note(printable_text(progress->file) + ": the job's token count went back from " + std::to_string(tokens_seen_) + " to " +
           std::to_string(progress->tokens) + " (restarted from an earlier checkpoint?): what it does again is "
           "counted again, as spent compute");
      tokens_seen_ = progress->tokens;
    }
    if (progress->tokens > tokens_seen_) {
      const uint64_t delta = progress->tokens - tokens_seen_;
      if (!positions_noted_) {
        positions_noted_ = true;
        note("positions are unknown from outside the job: the executed positions (padding included) are taken "
             "equal to the tokens " + printable_text(progress->file) + " reports");
      }
      // Positions = tokens; micro-batches unknown.
      meter_.add(delta, delta, 0);
      tokens_seen_ = progress->tokens;
    }
    step_ = progress->step;
    if (job_ended) return;  // nothing left to stop
    Result<BudgetState> state = meter_.step(progress->step);
    if (!state.ok()) {
      warn_if_error(state.status());
      return;
    }
    budget_ = *state;
    for (const std::string& warning : state->new_warnings) message(warning);
    if (state->stop && !child_.stopping()) {
      const StopGrace grace;
      message("budget reached: stopping " + child_.argv().front() + " (SIGINT now, SIGTERM in " +
              std::to_string(static_cast<long>(grace.before_sigterm.count())) + " s, SIGKILL " +
              std::to_string(static_cast<long>(grace.before_sigkill.count())) + " s after that)");
      warn_if_error(child_.begin_stop(grace));
    }
  }

  void show_progress() {
    if (!progress_on_terminal_ || seconds_since(last_progress_) < kProgressSeconds) return;
    last_progress_ = std::chrono::steady_clock::now();
    std::string line = "\rflopsmeter watch " + clock_text(seconds_since(started_));
    if (step_) line += "  step " + with_commas(*step_);
    if (tokens_) line += "  tokens " + with_commas(tokens_seen_);
    if (budget_) {
      if (budget_->budget_flop) line += "  budget " + percent(budget_->budget_fraction);
      line += "  EU threshold " + percent(budget_->threshold_fraction);
    }
    std::fputs((line + "\033[K").c_str(), stderr);
    progress_shown_ = true;
  }

  void clear_progress() {
    if (!progress_shown_) return;
    std::fputs("\r\033[K", stderr);
    progress_shown_ = false;
  }

  void message(const std::string& text) {
    clear_progress();
    say(text);
  }

 public:
  // Said on stderr now and kept for the record's notes.
  void note(const std::string& text) {
    message("note: " + text);
    notes_.push_back(text);
  }

  const std::vector<std::string>& notes() const { return notes_; }
  // The record's tokens.source: the kind of file the last figures came from
  // (TokenSource reads *.json as a trainer_state.json); "" before any.
  std::string token_source() const {
    if (token_file_.empty()) return "";
    return token_file_.ends_with(".json") ? "trainer_state.json" : "token file";
  }

 private:

  // A failure of the meter or of a signal never ends the job: said once.
  void warn_if_error(const Status& status) {
    if (status.ok() || !warned_.insert(status.message()).second) return;
    message(status.message() + " (the command goes on)");
  }

  ChildProcess& child_;
  Meter& meter_;
  SignalInbox& inbox_;
  std::optional<TokenSource> tokens_;
  const bool progress_on_terminal_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_progress_ = started_;
  uint64_t tokens_seen_;
  bool positions_noted_ = false;
  std::string token_file_;  // the file the last token figures were read from
  std::optional<uint64_t> step_;
  std::optional<BudgetState> budget_;
  std::vector<std::string> notes_;
  bool interrupted_ = false;
  bool told_about_terminal_ = false;
  bool progress_shown_ = false;
  std::set<std::string> warned_;
};

// --node-rank / --nnodes: which shard of a multi-node job this watch writes.
// The token count a job writes is the whole job's, so only node 0 reads it
// (and with it enforces the budget); the other nodes record their GPUs.
Status set_node(const ParsedArgs& a, MeterOptions& options) {
  uint64_t node_rank = 0, nnodes = 1;
  if (a.has("node-rank")) {
    FM_ASSIGN_OR_RETURN(node_rank, option_uint(a, "node-rank"));
  }
  if (a.has("nnodes")) {
    FM_ASSIGN_OR_RETURN(nnodes, option_uint(a, "nnodes"));
  }
  if (nnodes == 0 || nnodes > UINT32_MAX) return Status::InvalidArgument("--nnodes must be from 1 to 4294967295");
  if (node_rank >= nnodes) {
    return Status::InvalidArgument("--node-rank " + std::to_string(node_rank) + " is not below --nnodes " +
                                   std::to_string(nnodes));
  }
  if (node_rank > 0 && (a.has("tokens-from") || options.budget_flop || options.budget_fraction)) {
    return Status::InvalidArgument("--tokens-from and the budget are node 0's: the token count a job writes is the "
                                   "whole job's, so node 0's watch reads it and stops the job; node " +
                                   std::to_string(node_rank) + " records its GPUs");
  }
  options.rank = static_cast<uint32_t>(node_rank);
  options.world_size = static_cast<uint32_t>(nnodes);
  options.local_rank = 0;  // each node samples its own GPUs
  return Status();
}

}  // namespace

Result<int> run_watch(const ParsedArgs& a, std::string& out) {
  FM_ASSIGN_OR_RETURN(MeterOptions options, meter_options_from_map(a));
  FM_RETURN_IF_ERROR(meter_options_from_environment(options));
  // watch meters a whole job from outside, one record: a RANK in its own
  // environment belongs to some enclosing launcher, not to it. A multi-node
  // job runs one watch per node, node N writing rank N's shard.
  FM_RETURN_IF_ERROR(set_node(a, options));
  if ((options.budget_flop || options.budget_fraction) && !a.has("tokens-from")) {
    return Status::InvalidArgument("a budget needs --tokens-from: from outside, the tokens the job reports are the "
                                   "only measure of the compute the budget limits");
  }
  const std::vector<std::string>& command = a.positional;

  // Handlers before the child exists, so no signal meant for it is lost; one
  // that comes while the meter begins is forwarded once the command runs.
  std::vector<int> handled = {SIGCHLD, SIGTSTP};
  handled.insert(handled.end(), std::begin(kEndingSignals), std::end(kEndingSignals));
  handled.insert(handled.end(), std::begin(kPassedSignals), std::end(kPassedSignals));
  FM_ASSIGN_OR_RETURN(std::unique_ptr<SignalInbox> inbox, SignalInbox::Install(handled));

  Result<std::unique_ptr<ChildProcess>> prepared = ChildProcess::Prepare(command);
  if (!prepared.ok()) {
    say(prepared.status().message());
    return exit_status_for_spawn_error(prepared.status());
  }
  ChildProcess& child = **prepared;
  options.command = command;
  options.job_pids = {static_cast<int64_t>(child.pid())};
  options.token_source = a.has("tokens-from") ? "watch" : "none";
  // On failure the child, never run, is reaped by its destructor.
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Meter> meter, Meter::Begin(options));
  for (const std::string& warning : meter->begin_warnings()) say("warning: " + warning);

  // A resumed run: what the job's files say before it starts again was
  // metered by the earlier segments.
  std::optional<TokenSource> tokens;
  uint64_t tokens_before = 0;
  std::string gap_note;
  if (a.has("tokens-from")) {
    tokens.emplace(a.get("tokens-from"));
    if (options.resume) {
      if (std::optional<TokenProgress> before = tokens->poll(false)) tokens_before = before->tokens;
    }
    // The job trained past what the earlier segments metered (their watch
    // died before its last poll): the gap is counted now, not discarded.
    const Flop metered = meter->resumed_tokens();
    if (tokens_before > metered) {
      gap_note = "the job reported " + std::to_string(tokens_before) + " tokens before it started again, but the "
                 "earlier segments metered " + to_decimal(metered) + ": the " + to_decimal(tokens_before - metered) +
                 " tokens in between (trained after the earlier watch's last reading) are counted by this segment";
      tokens_before = static_cast<uint64_t>(metered);
    }
  }

  if (Status started = child.run(); !started.ok()) {
    say(started.message());
    EndOptions failed;
    failed.status = "failed";
    if (Result<RunRecord> record = meter->end(failed); !record.ok()) {
      say(record.status().message());
    }
    FM_ASSIGN_OR_RETURN(ChildExit exit, child.wait());
    return exit.status;
  }

  Watch watch(child, *meter, *inbox, std::move(tokens), tokens_before);
  if (!gap_note.empty()) watch.note(gap_note);
  if (options.world_size > 1 && options.run_id.empty()) {
    watch.note("no --run-id: the nodes' shards are one run only if their --run directories are one shared "
               "directory; with node-local directories give every node the same --run-id (e.g. the job's id)");
  }
  if (tokens_before > 0 && gap_note.empty()) {
    watch.note(printable_text(a.get("tokens-from")) + " reported " + std::to_string(tokens_before) +
               " tokens before the command started: counted by the earlier segments, not again");
  }
  FM_ASSIGN_OR_RETURN(ChildExit exit, watch.run());

  EndOptions end;
  end.status = watch.end_status(exit);
  end.global_step = watch.last_step();
  end.notes = watch.notes();
  end.token_source = watch.token_source();
  Result<RunRecord> record = meter->end(end);
  if (!record.ok()) {
    return record.status().WithContext(command.front() + " exited with " + std::to_string(exit.status) +
                                       ", but its record could not be written");
  }
  if (!record->ledger_message.empty()) say(record->ledger_message);
  if (!record->export_message.empty()) say(record->export_message);
  if (options.rank != 0) {
    out = a.has("json") ? record->json
                        : "node " + std::to_string(options.rank) + " of run " + meter->run_id() + " (" + end.status +
                              "): its GPUs are in " + printable_text(a.get("run")) + "; node 0 writes the record: gather the nodes' "
                              "run directories with flopsmeter merge --run TARGET DIR...\n";
    return exit.status;
  }
  if (a.has("json")) {
    out = record->json;
  } else {
    FM_ASSIGN_OR_RETURN(out, run_record_to_text(record->json));
  }
  if (exit.status != 0) return exit.status;
  return record_exit_status(a, *record);
}

}  // namespace flopsmeter::cli
