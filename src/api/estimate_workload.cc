#include "api/estimate_workload.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "api/report_format.h"
#include "core/sequence_layout.h"

namespace flopsmeter {
namespace {

constexpr uint64_t kDefaultSeqLen = 2048;
// TRL's SFTConfig.max_length default, which truncates longer samples:
// https://github.com/huggingface/trl/blob/main/trl/trainer/sft_config.py
constexpr uint64_t kTrlDefaultMaxLength = 1024;

uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

Status too_large() { return Status::Overflow("the workload's counts are too large to keep exactly"); }

// "2.5", "3": the shortest text that reads back as `v`.
std::string number_text(double v) {
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

// transformers' Trainer.set_initial_training_values: steps per epoch =
// ceil(batches / grad_accum), at least 1 (per rank, so batches / data_parallel
// first), and max_steps = math.ceil(num_train_epochs * steps_per_epoch), a
// product of Python floats, which C++ doubles reproduce exactly:
// https://github.com/huggingface/transformers/blob/main/src/transformers/trainer.py
// The epoch loop stops once max_steps steps are done, so the last epoch
// trains its first max_steps mod steps_per_epoch steps, all of full batches.
Result<EpochSchedule> epoch_schedule(const EstimateRequest& r, std::string unit, uint64_t units, uint64_t batch_size) {
  EpochSchedule s;
  s.epochs = r.epochs;
  s.unit = std::move(unit);
  s.units_per_epoch = units;
  s.batch_size = batch_size;
  const uint64_t accumulation = std::max<uint64_t>(1, r.gradient_accumulation);
  const uint64_t ranks = std::max<uint64_t>(1, r.data_parallel);
  if (accumulation > UINT64_MAX / ranks) return too_large();
  s.per_step = accumulation * ranks;
  s.batches_per_epoch = ceil_div(units, batch_size);
  s.steps_per_epoch = std::max<uint64_t>(1, ceil_div(s.batches_per_epoch, s.per_step));
  if (r.max_steps) {
    // The Trainer runs exactly max_steps, re-shuffling at each epoch's end.
    s.steps_given = true;
    s.max_steps = *r.max_steps;
  } else {
    const double steps = std::ceil(r.epochs * static_cast<double>(s.steps_per_epoch));
    if (!(steps < 0x1p63)) {
      return Status::InvalidArgument("epochs " + number_text(r.epochs) + " x " + std::to_string(s.steps_per_epoch) +
                                     " steps per epoch is more steps than can be counted");
    }
    s.max_steps = static_cast<uint64_t>(steps);
  }
  s.whole_epochs = s.max_steps / s.steps_per_epoch;
  s.partial_steps = s.max_steps % s.steps_per_epoch;
  s.partial_batches = s.partial_steps * s.per_step;  // < batches_per_epoch
  return s;
}

Flop tokens_of(const LengthCounts& lengths) {
  Flop sum = 0;
  for (const auto& [length, count] : lengths) sum += static_cast<Flop>(length) * count;
  return sum;
}

// into += lengths x times; false on overflow.
bool add_times(LengthCounts& into, const LengthCounts& lengths, uint64_t times) {
  for (const auto& [length, count] : lengths) {
    Flop sum = 0;
    if (!checked_mul(count, times, &sum) || !checked_add(sum, into[length], &sum) || sum > UINT64_MAX) return false;
    into[length] = static_cast<uint64_t>(sum);
    if (into[length] == 0) into.erase(length);
  }
  return true;
}

// The run in the two orders that matter: expected over uniformly random
// shuffles (in units of 2^-kExpectedFractionBits), and the order that
// executes the most.
struct RunCases {
  std::map<uint64_t, Flop> expected_sequences;
  Flop expected_tokens = 0;
  LengthCounts worst_sequences;
  Flop worst_tokens = 0;
  bool worst_is_bound = false;
  Fraction tokens;  // expected D, exactly
};

// D = whole epochs x T + T x drawn / units: the rows a partial epoch draws
// hold their share of the epoch's tokens on average. Also in units.
Status set_expected_tokens(const EpochSchedule& s, Flop epoch_tokens, uint64_t drawn, RunCases* c) {
  Flop whole = 0, num = 0, part = 0, units = 0;
  const Flop den = std::max<uint64_t>(1, s.units_per_epoch);
  if (!checked_mul(epoch_tokens, s.whole_epochs, &whole) || !checked_mul(whole, den, &num) ||
      !checked_mul(epoch_tokens, drawn, &part) || !checked_add(num, part, &num) ||
      !checked_mul(num, Flop{1} << kExpectedFractionBits, &units)) {
    return too_large();
  }
  c->tokens = Fraction{num, den}.reduced();
  c->expected_tokens = (units + den / 2) / den;
  return Status::Ok();
}

// Padded batches in random order: whole epochs of full batches and one
// remainder batch each, then the partial epoch's full batches.
Result<RunCases> shuffled_padded_run(const EpochSchedule& s, const TokenCountReport& d) {
  const LengthCounts& rows = d.batched_rows;
  const uint64_t full = s.units_per_epoch / s.batch_size;
  const bool remainder = s.units_per_epoch % s.batch_size != 0;
  const uint64_t drawn = s.partial_batches * s.batch_size;
  Flop full_batches = 0;
  if (!checked_mul(s.whole_epochs, full, &full_batches) || full_batches + s.partial_batches > UINT64_MAX) {
    return too_large();
  }
  RunCases c;
  FM_ASSIGN_OR_RETURN(c.expected_sequences,
                      expected_padded_rows(rows, s.batch_size,
                                           static_cast<uint64_t>(full_batches) + s.partial_batches,
                                           remainder ? s.whole_epochs : 0));
  FM_RETURN_IF_ERROR(set_expected_tokens(s, d.tokens, drawn, &c));
  if (!add_times(c.worst_sequences, worst_padded_rows(rows, s.batch_size, full, true), s.whole_epochs) ||
      !add_times(c.worst_sequences, worst_padded_rows(rows, s.batch_size, s.partial_batches, false), 1) ||
      !checked_mul(d.tokens, s.whole_epochs, &c.worst_tokens) ||
      !checked_add(c.worst_tokens, tokens_of(longest(rows, drawn)), &c.worst_tokens)) {
    return too_large();
  }
  return c;
}

// Epochs of rows drawn in random batches, `sequences` being an epoch's
// attention units. With `row_tokens` (the tokens each row holds) every row
// is one attention unit, and the partial epoch at worst draws the longest
// rows; without, its worst case is bounded by a whole epoch.
Result<RunCases> row_run(const EpochSchedule& s, const LengthCounts& sequences, Flop epoch_tokens,
                         const LengthCounts* row_tokens) {
  const uint64_t drawn = s.partial_batches * s.batch_size;
  RunCases c;
  FM_ASSIGN_OR_RETURN(c.expected_sequences, expected_share(sequences, drawn, s.units_per_epoch));
  for (const auto& [length, count] : sequences) {
    Flop whole = 0;
    if (!checked_mul(count, s.whole_epochs, &whole) || !checked_mul(whole, Flop{1} << kExpectedFractionBits, &whole)) {
      return too_large();
    }
    if (whole > 0 && !checked_add(c.expected_sequences[length], whole, &c.expected_sequences[length])) {
      return too_large();
    }
  }
  FM_RETURN_IF_ERROR(set_expected_tokens(s, epoch_tokens, drawn, &c));
  uint64_t worst_epochs = s.whole_epochs;
  Flop partial_tokens = 0;
  if (drawn > 0 && row_tokens != nullptr) {
    if (!add_times(c.worst_sequences, longest(sequences, drawn), 1)) return too_large();
    partial_tokens = tokens_of(longest(*row_tokens, drawn));
  } else if (drawn > 0) {
    ++worst_epochs;
    c.worst_is_bound = true;
  }
  if (!add_times(c.worst_sequences, sequences, worst_epochs) ||
      !checked_mul(epoch_tokens, worst_epochs, &c.worst_tokens) ||
      !checked_add(c.worst_tokens, partial_tokens, &c.worst_tokens)) {
    return too_large();
  }
  return c;
}

// The expected counts as a Workload (64-bit counts): in units of
// 2^-(kExpectedFractionBits - shift), the shift being the fewest bits
// (rounded off) that fit every count. Overflow when even whole rows do not.
Status set_fixed_point(const RunCases& c, const Workload& shape, EstimateWorkload* w) {
  const Flop micro = static_cast<Flop>(shape.micro_batches) << kExpectedFractionBits;
  const Flop steps = static_cast<Flop>(shape.optimizer_steps) << kExpectedFractionBits;
  Flop largest = std::max(micro, steps);
  for (const auto& [length, count] : c.expected_sequences) largest = std::max(largest, count);
  unsigned shift = 0;
  auto shifted = [&](Flop v) { return shift == 0 ? v : (v + (Flop{1} << (shift - 1))) >> shift; };
  while (shifted(largest) > UINT64_MAX) ++shift;
  if (shift > kExpectedFractionBits) return too_large();
  w->fraction_bits = kExpectedFractionBits - shift;
  w->expected = shape;
  w->expected.sequences.clear();
  for (const auto& [length, count] : c.expected_sequences) {
    if (shifted(count) > 0) w->expected.sequences[length] = static_cast<uint64_t>(shifted(count));
  }
  w->expected.tokens = shifted(c.expected_tokens);
  w->expected.micro_batches = static_cast<uint64_t>(shifted(micro));
  w->expected.optimizer_steps = static_cast<uint64_t>(shifted(steps));
  return Status::Ok();
}

// The workload from the two cases: exact when they agree (the order does
// not matter), else expected in fixed point with the worst case beside it.
Result<EstimateWorkload> finish_workload(const EstimateRequest& r, const EpochSchedule& s, bool batch_size_known,
                                         const RunCases& c, std::vector<std::string> assumptions) {
  EstimateWorkload w;
  w.schedule = s;
  w.tokens = c.tokens;
  w.batch_size_known = batch_size_known;
  w.assumptions = std::move(assumptions);
  Workload worst;
  worst.sequences = c.worst_sequences;
  worst.tokens = c.worst_tokens;
  worst.kernel = r.kernel;
  worst.gradient_checkpointing = r.gradient_checkpointing;
  worst.checkpoint_mode = r.checkpoint_mode;
  if (batch_size_known) {
    Flop micro = 0;
    if (!checked_mul(s.whole_epochs, s.batches_per_epoch, &micro) || micro + s.partial_batches > UINT64_MAX) {
      return too_large();
    }
    worst.micro_batches = static_cast<uint64_t>(micro) + s.partial_batches;
    worst.optimizer_steps = s.max_steps;
  }
  bool same = c.expected_tokens == c.worst_tokens << kExpectedFractionBits &&
              c.expected_sequences.size() == c.worst_sequences.size();
  for (const auto& [length, count] : c.worst_sequences) {
    auto it = c.expected_sequences.find(length);
    same = same && it != c.expected_sequences.end() && it->second == static_cast<Flop>(count) << kExpectedFractionBits;
  }
  if (same) {
    w.expected = std::move(worst);
    return w;
  }
  FM_RETURN_IF_ERROR(set_fixed_point(c, worst, &w));
  w.worst_case = std::move(worst);
  w.worst_case_is_bound = c.worst_is_bound;
  return w;
}

// "2.5 epochs: max_steps = ceil(2.5 x 240) = 600, ..." and the micro-batch line.
void add_schedule_notes(const EpochSchedule& s, bool batch_size_known, const std::string& batch_origin,
                        const EstimateRequest& r, Flop epoch_tokens, const Fraction& tokens,
                        std::vector<std::string>& notes) {
  const std::string epochs = s.steps_given ? "max_steps given" : number_text(s.epochs) + " epochs";
  const std::string steps = s.steps_given ? with_commas(s.max_steps) + " optimizer steps (" +
                                                with_commas(s.steps_per_epoch) + " per epoch), the epochs ignored, as "
                                                "transformers' Trainer runs them"
                                          : "max_steps = ceil(" + number_text(s.epochs) + " x " +
                                                with_commas(s.steps_per_epoch) + ") = " + with_commas(s.max_steps) +
                                                " optimizer steps (" + with_commas(s.steps_per_epoch) +
                                                " per epoch), as transformers' Trainer computes them";
  if (s.partial_steps > 0) {
    const std::string drawn = with_commas(s.partial_batches * s.batch_size);
    const std::string d = tokens.den == 1 ? with_commas(tokens.num) : tokens.to_string();
    notes.push_back(epochs + ": " + steps + ": " + std::to_string(s.whole_epochs) +
                    " whole epoch(s), then the first " + with_commas(s.partial_steps) + " steps (" + drawn + " of " +
                    with_commas(s.units_per_epoch) + " " + s.unit + ") of one more, freshly shuffled epoch; D = " +
                    std::to_string(s.whole_epochs) + " x " + with_commas(epoch_tokens) + " + " +
                    with_commas(epoch_tokens) + " x " + drawn + "/" + with_commas(s.units_per_epoch) + " = " + d +
                    ", expected over shuffles");
  } else if (s.steps_given || static_cast<double>(s.whole_epochs) != s.epochs) {
    notes.push_back(epochs + ": " + steps + ", " + std::to_string(s.whole_epochs) + " whole epoch(s)");
  } else if (s.whole_epochs > 1) {
    notes.push_back(std::to_string(s.whole_epochs) + " epochs: D counts every epoch");
  }
  if (!batch_size_known) {
    if (s.partial_steps > 0 || static_cast<double>(s.whole_epochs) != s.epochs) {
      notes.push_back("micro-batch size unknown: the epoch arithmetic takes one sequence per micro-batch");
    }
    return;
  }
  notes.push_back("micro-batch " + std::to_string(s.batch_size) + " " + s.unit + batch_origin +
                  ", gradient accumulation " + std::to_string(std::max<uint64_t>(1, r.gradient_accumulation)) +
                  ", data-parallel ranks " + std::to_string(std::max<uint64_t>(1, r.data_parallel)) + ": " +
                  with_commas(s.max_steps) + " optimizer steps");
}

// What D covers, then the dataset's conventions.
std::vector<std::string> dataset_notes(const TokenCountReport& d) {
  std::vector<std::string> notes;
  if (d.skipped > 0) {
    notes.push_back("D covers the " + with_commas(d.samples) + " counted records only: " + with_commas(d.skipped) +
                    " of the " + with_commas(d.samples + d.skipped) +
                    " records were skipped and are not in D (their causes are listed with the dataset)");
  } else {
    notes.push_back("D counted exactly from the dataset: " + with_commas(d.tokens) + " trained-on tokens in " +
                    with_commas(d.samples) + " samples per epoch");
  }
  if (!d.max_length && d.longest_sample > kTrlDefaultMaxLength) {
    notes.push_back("no max length given, so no sample is truncated (the longest has " +
                    with_commas(d.longest_sample) + " tokens); TRL's SFTConfig truncates to max_length=" +
                    std::to_string(kTrlDefaultMaxLength) +
                    " by default, so a default TRL run trains and pads fewer tokens than counted here");
  }
  for (const std::string& n : d.notes) notes.push_back("dataset: " + n);
  return notes;
}

Result<EstimateWorkload> dataset_workload(const EstimateRequest& r, const TokenCountReport& d) {
  if (r.seq_len) return Status::InvalidArgument("option \"seq-len\" does not apply to option \"dataset\" (use option \"max-length\")");
  if (d.samples == 0) return Status::InvalidArgument("the dataset holds no records to count");
  const bool padded = d.layout == SequenceLayout::kPadded;
  const bool packed = d.layout == SequenceLayout::kPackedWrapped || d.layout == SequenceLayout::kPackedBfd;
  const uint64_t batch = r.micro_batch_size > 0 ? r.micro_batch_size : kTrainerDefaultBatchSize;
  const std::string batch_origin =
      r.micro_batch_size > 0 ? "" : " (transformers' default per_device_train_batch_size, none being given)";
  FM_ASSIGN_OR_RETURN(EpochSchedule s, epoch_schedule(r, packed ? "packed rows" : "samples",
                                                      packed ? d.rows : d.samples, batch));
  std::vector<std::string> notes = dataset_notes(d);
  RunCases c;
  if (d.shuffled) {
    FM_ASSIGN_OR_RETURN(c, shuffled_padded_run(s, d));
    notes.push_back("the regimes compare the figures expected over shuffles, rounded to the nearest FLOP; the order "
                    "that pads the most is shown beside them");
  } else if ((padded || d.layout == SequenceLayout::kPackedWrapped) && !d.pad_to_max_length && s.partial_steps > 0) {
    return Status::InvalidArgument("a fractional number of epochs with padded batches in file order is not "
                                   "supported: which batches the partial epoch pads depends on the file order beyond "
                                   "what the count keeps; give whole epochs or the random order");
  } else {
    // Rows that are one attention unit each hold a sample, except packed
    // rows (bins, or wrapped blocks padded in their batches).
    const LengthCounts* row_tokens = packed ? nullptr : &d.sample_lengths;
    FM_ASSIGN_OR_RETURN(c, row_run(s, d.sequences, d.tokens, row_tokens));
    if (c.worst_is_bound) {
      notes.push_back("which packed rows the partial epoch trains depends on the shuffle: the worst case shown "
                      "counts it as a whole epoch, an upper bound");
    }
  }
  add_schedule_notes(s, true, batch_origin, r, d.tokens, c.tokens, notes);
  return finish_workload(r, s, true, c, std::move(notes));
}

// --tokens (packed into sequences of the sequence length) or --samples (each
// filling it): no length distribution, so these assumptions are stated.
Result<EstimateWorkload> count_workload(const EstimateRequest& r, const Model& model) {
  std::vector<std::string> notes;
  uint64_t seq = 0;
  if (r.seq_len) {
    if (*r.seq_len == 0) return Status::InvalidArgument("option \"seq-len\" must be positive");
    seq = *r.seq_len;
  } else if (r.samples) {
    return Status::InvalidArgument("option \"samples\" needs option \"seq-len\" (tokens per sample)");
  } else {
    seq = kDefaultSeqLen;
    if (model.arch.max_position_embeddings > 0) seq = std::min<uint64_t>(seq, model.arch.max_position_embeddings);
    notes.push_back("sequence length not given: " + std::to_string(seq) +
                    " assumed for the attention term (option \"seq-len\" sets it)");
  }
  LengthCounts sequences;
  Flop epoch_tokens = 0;
  if (r.samples) {
    if (*r.samples == 0) return Status::InvalidArgument("option \"samples\" must be positive");
    sequences[seq] = *r.samples;
    epoch_tokens = static_cast<Flop>(*r.samples) * seq;
    notes.push_back("no length distribution: every sample is assumed to fill " + std::to_string(seq) +
                    " tokens, with no padding (an upper bound on D; a dataset is counted exactly)");
  } else {
    epoch_tokens = *r.tokens_per_epoch;
    if (epoch_tokens == 0) return Status::InvalidArgument("option \"tokens\" must be positive");
    const Flop full = epoch_tokens / seq, rest = epoch_tokens % seq;
    if (full > UINT64_MAX - 1) return too_large();
    if (full > 0) sequences[seq] = static_cast<uint64_t>(full);
    if (rest > 0) sequences[static_cast<uint64_t>(rest)] += 1;
    notes.push_back("no length distribution: the tokens are assumed packed into sequences of " + std::to_string(seq) +
                    " with no padding (" + with_commas(full + (rest > 0 ? 1 : 0)) + " per epoch)");
  }
  uint64_t rows = 0;
  for (const auto& [length, count] : sequences) rows += count;
  const bool batch_known = r.micro_batch_size > 0;
  if (r.max_steps && !batch_known) {
    return Status::InvalidArgument("max_steps needs the micro-batch size (per_device_train_batch_size): how many tokens "
                                   "a step trains depends on it");
  }
  FM_ASSIGN_OR_RETURN(EpochSchedule s, epoch_schedule(r, "sequences", rows, batch_known ? r.micro_batch_size : 1));
  FM_ASSIGN_OR_RETURN(RunCases c, row_run(s, sequences, epoch_tokens, &sequences));
  add_schedule_notes(s, batch_known, "", r, epoch_tokens, c.tokens, notes);
  return finish_workload(r, s, batch_known, c, std::move(notes));
}

// Back from units of 2^-bits to whole FLOP, rounded to the nearest.
Flop unscale(Flop v, unsigned bits) { return bits == 0 ? v : (v + (Flop{1} << (bits - 1))) >> bits; }

}  // namespace

Result<EstimateWorkload> build_workload(const EstimateRequest& r, const Model& model, const TokenCountReport* dataset) {
  if (!(r.epochs > 0) || !std::isfinite(r.epochs)) {
    return Status::InvalidArgument("the number of epochs must be positive and finite, not " + number_text(r.epochs));
  }
  const int sources = (r.tokens_per_epoch ? 1 : 0) + (r.samples ? 1 : 0) + (dataset ? 1 : 0);
  if (sources > 1) return Status::InvalidArgument("give one of option \"tokens\", option \"samples\" or option \"dataset\", not several");
  if (sources == 0) {
    return Status::InvalidArgument("no workload: give option \"dataset\" FILES, option \"tokens\" N, or option \"samples\" N with option \"seq-len\" L");
  }
  return dataset ? dataset_workload(r, *dataset) : count_workload(r, model);
}

Result<WorkloadFlops> workload_flops(const Model& model, const TrainingPlan& plan, const EstimateWorkload& w) {
  WorkloadFlops f;
  FM_ASSIGN_OR_RETURN(f.expected, estimate_flops(model, plan, w.expected));
  if (w.worst_case) {
    FM_ASSIGN_OR_RETURN(f.worst_case, estimate_flops(model, plan, *w.worst_case));
  }
  if (w.fraction_bits == 0) return f;
  const unsigned bits = w.fraction_bits;
  FlopsEstimate& e = f.expected;
  for (Flop* v : {&e.tokens, &e.eu_6nd, &e.peft_aware}) *v = unscale(*v, bits);
  DetailedFlops& d = e.detailed;
  for (Flop* v : {&d.forward, &d.backward, &d.forward_attention, &d.backward_attention, &d.adapter_forward,
                  &d.recompute, &d.optimizer}) {
    *v = unscale(*v, bits);
  }
  // The assumptions name the micro-batches and steps, which the worst case
  // has as whole numbers.
  if (f.worst_case) d.assumptions = f.worst_case->detailed.assumptions;
  return f;
}

}  // namespace flopsmeter
