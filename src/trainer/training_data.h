// The samples a fine-tune trains on, tokenized by the same pipeline that
// counts them for the estimate (flopsmeter/tokens.h), so the trainer and the
// estimate see the same ids; and the order the trainer visits them in.
#ifndef FLOPSMETER_TRAINER_TRAINING_DATA_H_
#define FLOPSMETER_TRAINER_TRAINING_DATA_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/sequence_layout.h"
#include "flopsmeter/status.h"
#include "flopsmeter/tokens.h"

namespace flopsmeter {

struct TrainingSample {
  std::vector<uint32_t> ids;   // as tokenized, before truncation
  uint64_t prompt_tokens = 0;  // leading ids kept out of the loss (TRL's completion_mask)
};

// A row the trainer runs: ids laid end to end, which of them are labels,
// and the attention spans (samples of a packed bin, or the whole row)
// whose lengths sum to the row's.
struct TrainingRow {
  std::vector<uint32_t> ids;
  std::vector<bool> label;  // false: a prompt token, out of the loss
  std::vector<int64_t> spans;
};

struct TrainingData {
  std::vector<TrainingRow> rows;  // in file order (padded), bin or block order (packed)
  TokenCountReport report;        // what the count said (skipped records, notes)
};

// Tokenizes `request.files` and lays the samples out as request.layout says,
// the same way the count does (core/sequence_layout.h): padded or unpadded,
// one sample per row truncated to max_length; packed-bfd, TRL's best-fit-decreasing
// bins per packing_chunk samples; packed-wrapped, each chunk's stream cut
// into max_length blocks. Memory: every sample's ids, twice over.
Result<TrainingData> read_training_data(TokenCountRequest request);

// The rows of `samples` (in file order, empty ones included, since they
// count towards a packing chunk) in `layout`.
std::vector<TrainingRow> training_rows(const std::vector<TrainingSample>& samples, const LayoutOptions& layout);

// One micro-batch as tensors: rows right-padded to the longest (and to
// `min_width`, for pad_to_max_length), or, `padding_free` (TRL's bfd
// packing), every picked row's samples laid end to end in one row, unpadded.
// `targets` hold the id each position predicts, -100 where it predicts
// nothing: prompts, padding, and each span's last position (a sample's
// last token does not predict the next sample's first, as TRL masks it).
struct MicroBatch {
  torch::Tensor ids, targets;
  std::vector<std::vector<int64_t>> spans;  // per tensor row
  std::map<uint64_t, uint64_t> sequences;   // attention units by length, as the meter takes them
  uint64_t tokens = 0, positions = 0, label_tokens = 0;
};
MicroBatch micro_batch(const std::vector<TrainingRow>& rows, const std::vector<uint64_t>& picked, bool padding_free,
                       int64_t min_width);

// How many optimizer steps a run takes, as transformers' Trainer counts them:
// ceil(micro-batches per epoch / (grad_accum x ranks)) per epoch, max_steps
// winning over epochs (a fractional epoch count rounds the steps up).
struct TrainingSchedule {
  uint64_t micro_batches_per_epoch = 0;
  uint64_t steps_per_epoch = 0;
  uint64_t total_steps = 0;
};
Result<TrainingSchedule> training_schedule(uint64_t rows, uint64_t micro_batch_size, uint64_t grad_accum,
                                           uint64_t ranks, double epochs, uint64_t max_steps);

// The micro-batches (indices into the epoch's) that `rank` of `ranks` trains
// in the epoch's step `step`: the step takes the next grad_accum x ranks
// micro-batches, dealt out in turn as accelerate's sharded batch sampler
// deals them (micro-batch i to rank i mod ranks). The epoch's last step may
// leave a rank fewer, or none; it still joins the step's collectives.
std::vector<uint64_t> rank_micro_batches(uint64_t micro_batches_per_epoch, uint64_t step, uint64_t grad_accum,
                                         uint32_t rank, uint32_t ranks);

// The micro-batches of epoch `epoch`: row indices in a shuffled order
// drawn from `seed` and the epoch (a random sampler, as the Trainer's), cut
// into micro_batch_size, the last one shorter.
std::vector<std::vector<uint64_t>> epoch_micro_batches(uint64_t rows, uint64_t micro_batch_size, uint64_t seed,
                                                       uint64_t epoch);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TRAINER_TRAINING_DATA_H_
