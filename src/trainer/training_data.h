// The samples a fine-tune trains on, tokenized by the same pipeline that
// counts them for the estimate (flopsmeter/tokens.h), so the trainer and the
// estimate see the same ids; and the order the trainer visits them in.
#ifndef FLOPSMETER_TRAINER_TRAINING_DATA_H_
#define FLOPSMETER_TRAINER_TRAINING_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "flopsmeter/status.h"
#include "flopsmeter/tokens.h"

namespace flopsmeter {

struct TrainingSample {
  std::vector<uint32_t> ids;   // truncated to max_length, as TRL truncates
  uint64_t prompt_tokens = 0;  // leading ids kept out of the loss (TRL's completion_mask)
};

struct TrainingData {
  std::vector<TrainingSample> samples;  // in file order
  TokenCountReport report;              // what the count said (skipped records, notes)
};

// Tokenizes `request.files` (ids kept; the layout options are the caller's).
// Memory: every sample's ids, 4 bytes per token.
Result<TrainingData> read_training_data(TokenCountRequest request);

// How many optimizer steps a run takes, as transformers' Trainer counts them:
// ceil(micro-batches per epoch / grad_accum) per epoch, max_steps winning
// over epochs (a fractional epoch count rounds the steps up).
struct TrainingSchedule {
  uint64_t micro_batches_per_epoch = 0;
  uint64_t steps_per_epoch = 0;
  uint64_t total_steps = 0;
};
Result<TrainingSchedule> training_schedule(uint64_t samples, uint64_t micro_batch_size, uint64_t grad_accum,
                                           double epochs, uint64_t max_steps);

// The micro-batches of epoch `epoch`: sample indices in a shuffled order
// drawn from `seed` and the epoch (a random sampler, as the Trainer's), cut
// into micro_batch_size, the last one shorter.
std::vector<std::vector<uint64_t>> epoch_micro_batches(uint64_t samples, uint64_t micro_batch_size, uint64_t seed,
                                                       uint64_t epoch);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TRAINER_TRAINING_DATA_H_
