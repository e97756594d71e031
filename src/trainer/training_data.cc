#include "trainer/training_data.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/option_ref.h"

namespace flopsmeter {

Result<TrainingData> read_training_data(TokenCountRequest request) {
  TrainingData data;
  std::vector<std::pair<uint64_t, TrainingSample>> kept;
  const uint64_t max_length = request.max_length.value_or(UINT64_MAX);
  request.keep_ids = true;
  request.on_sample = [&](const SampleCount& s) {
    if (s.ids == nullptr) return;  // skipped: malformed
    TrainingSample sample;
    sample.ids.assign(s.ids->begin(), s.ids->begin() + static_cast<std::ptrdiff_t>(std::min<uint64_t>(s.ids->size(), max_length)));
    sample.prompt_tokens = std::min<uint64_t>(s.prompt_tokens, sample.ids.size());
    kept.emplace_back(s.index, std::move(sample));
  };
  FM_ASSIGN_OR_RETURN(data.report, count_tokens(request));
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [index, sample] : kept) {
    if (!sample.ids.empty()) data.samples.push_back(std::move(sample));
  }
  if (data.samples.empty()) return Status::InvalidArgument("the dataset holds no sample to train on");
  return data;
}

Result<TrainingSchedule> training_schedule(uint64_t samples, uint64_t micro_batch_size, uint64_t grad_accum,
                                           double epochs, uint64_t max_steps) {
  if (micro_batch_size == 0 || grad_accum == 0) {
    return Status::InvalidArgument(option_ref("micro-batch-size") + " and " + option_ref("grad-accum") +
                                   " must be at least 1");
  }
  TrainingSchedule s;
  s.micro_batches_per_epoch = (samples + micro_batch_size - 1) / micro_batch_size;
  s.steps_per_epoch = std::max<uint64_t>(1, (s.micro_batches_per_epoch + grad_accum - 1) / grad_accum);
  if (max_steps > 0) {
    s.total_steps = max_steps;
  } else {
    if (!(epochs > 0)) return Status::InvalidArgument(option_ref("epochs") + " must be positive");
    s.total_steps = static_cast<uint64_t>(std::ceil(epochs * static_cast<double>(s.steps_per_epoch)));
  }
  return s;
}

std::vector<std::vector<uint64_t>> epoch_micro_batches(uint64_t samples, uint64_t micro_batch_size, uint64_t seed,
                                                       uint64_t epoch) {
  std::vector<uint64_t> order(samples);
  std::iota(order.begin(), order.end(), uint64_t{0});
  std::mt19937_64 rng(seed * 1000003 + epoch);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::vector<uint64_t>> batches;
  for (uint64_t i = 0; i < samples; i += micro_batch_size) {
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(samples, i + micro_batch_size)));
  }
  return batches;
}

}  // namespace flopsmeter
