#include "trainer/training_data.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <span>

#include "core/option_ref.h"

namespace flopsmeter {

namespace {

// Appends `take` ids of `s` from `from` to `row`, with their label flags.
void append(TrainingRow& row, const TrainingSample& s, size_t from, size_t take) {
  for (size_t j = from; j < from + take; ++j) {
    row.ids.push_back(s.ids[j]);
    row.label.push_back(j >= s.prompt_tokens);
  }
}

void add_padded(const std::vector<TrainingSample>& samples, uint64_t max_length, std::vector<TrainingRow>& rows) {
  for (const TrainingSample& s : samples) {
    const size_t kept = static_cast<size_t>(std::min<uint64_t>(s.ids.size(), max_length));
    if (kept == 0) continue;
    TrainingRow row;
    append(row, s, 0, kept);
    row.spans = {static_cast<int64_t>(kept)};
    rows.push_back(std::move(row));
  }
}

void add_bins(std::span<const TrainingSample> chunk, uint64_t max_length, std::vector<TrainingRow>& rows) {
  std::vector<uint64_t> lengths;
  for (const TrainingSample& s : chunk) lengths.push_back(std::min<uint64_t>(s.ids.size(), max_length));
  for (const std::vector<size_t>& bin : best_fit_decreasing(lengths, max_length)) {
    TrainingRow row;
    for (size_t i : bin) {
      append(row, chunk[i], 0, static_cast<size_t>(lengths[i]));
      row.spans.push_back(static_cast<int64_t>(lengths[i]));
    }
    rows.push_back(std::move(row));
  }
}

void add_blocks(std::span<const TrainingSample> chunk, uint64_t block, std::vector<TrainingRow>& rows) {
  TrainingRow row;
  auto close = [&] {
    if (row.ids.empty()) return;
    row.spans = {static_cast<int64_t>(row.ids.size())};
    rows.push_back(std::move(row));
    row = TrainingRow();
  };
  for (const TrainingSample& s : chunk) {
    for (size_t from = 0; from < s.ids.size();) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(s.ids.size() - from, block - row.ids.size()));
      append(row, s, from, take);
      from += take;
      if (row.ids.size() == block) close();
    }
  }
  close();
}

}  // namespace

std::vector<TrainingRow> training_rows(const std::vector<TrainingSample>& samples, const LayoutOptions& layout) {
  std::vector<TrainingRow> rows;
  const uint64_t max_length = layout.max_length.value_or(UINT64_MAX);
  if (layout.layout != SequenceLayout::kPackedBfd && layout.layout != SequenceLayout::kPackedWrapped) {
    add_padded(samples, max_length, rows);
    return rows;
  }
  for (size_t first = 0; first < samples.size(); first += layout.packing_chunk) {
    const size_t last = static_cast<size_t>(std::min<uint64_t>(samples.size(), first + layout.packing_chunk));
    const std::span<const TrainingSample> chunk(samples.data() + first, last - first);
    if (layout.layout == SequenceLayout::kPackedBfd) {
      add_bins(chunk, max_length, rows);
    } else {
      add_blocks(chunk, max_length, rows);
    }
  }
  return rows;
}

Result<TrainingData> read_training_data(TokenCountRequest request) {
  TrainingData data;
  std::vector<std::pair<uint64_t, TrainingSample>> kept;
  request.keep_ids = true;
  request.on_sample = [&](const SampleCount& s) {
    if (s.ids == nullptr) return;  // skipped: malformed
    TrainingSample sample;
    sample.ids = *s.ids;
    sample.prompt_tokens = std::min<uint64_t>(s.prompt_tokens, sample.ids.size());
    kept.emplace_back(s.index, std::move(sample));
  };
  FM_ASSIGN_OR_RETURN(data.report, count_tokens(request));
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<TrainingSample> samples;
  samples.reserve(kept.size());
  for (auto& entry : kept) samples.push_back(std::move(entry.second));
  kept.clear();
  const LayoutOptions layout = layout_options(request);
  FM_RETURN_IF_ERROR(validate_layout(layout));
  data.rows = training_rows(samples, layout);
  if (data.rows.empty()) return Status::InvalidArgument("the dataset holds no sample to train on");
  return data;
}

MicroBatch micro_batch(const std::vector<TrainingRow>& rows, const std::vector<uint64_t>& picked, bool padding_free,
                       int64_t min_width) {
  MicroBatch mb;
  std::vector<std::vector<const TrainingRow*>> tensor_rows;
  for (uint64_t r : picked) {
    if (padding_free && !tensor_rows.empty()) {
      tensor_rows.front().push_back(&rows[r]);
    } else {
      tensor_rows.push_back({&rows[r]});
    }
  }
  std::vector<int64_t> widths;
  for (const auto& parts : tensor_rows) {
    int64_t width = 0;
    for (const TrainingRow* row : parts) width += static_cast<int64_t>(row->ids.size());
    widths.push_back(width);
  }
  const int64_t b = static_cast<int64_t>(tensor_rows.size());
  // A padding-free row is never padded: its positions are its tokens.
  const int64_t t = std::max(padding_free ? 0 : min_width, *std::max_element(widths.begin(), widths.end()));
  mb.ids = torch::zeros({b, t}, torch::kLong);
  mb.targets = torch::full({b, t}, -100, torch::kLong);
  auto ids = mb.ids.accessor<int64_t, 2>();
  auto targets = mb.targets.accessor<int64_t, 2>();
  for (int64_t i = 0; i < b; ++i) {
    std::vector<int64_t>& spans = mb.spans.emplace_back();
    int64_t at = 0;
    for (const TrainingRow* row : tensor_rows[static_cast<size_t>(i)]) {
      int64_t span_start = at;
      for (int64_t n : row->spans) {
        for (int64_t j = 0; j < n; ++j) {
          const size_t in_row = static_cast<size_t>(span_start - at + j);
          ids[i][span_start + j] = row->ids[in_row];
          if (j + 1 < n && row->label[in_row + 1]) {
            targets[i][span_start + j] = row->ids[in_row + 1];
            ++mb.label_tokens;
          }
        }
        spans.push_back(n);
        if (padding_free) ++mb.sequences[static_cast<uint64_t>(n)];
        span_start += n;
      }
      at = span_start;
      mb.tokens += row->ids.size();
    }
  }
  if (padding_free) {
    mb.positions = mb.tokens;
  } else {
    mb.positions = static_cast<uint64_t>(b * t);
    mb.sequences[static_cast<uint64_t>(t)] = static_cast<uint64_t>(b);
  }
  return mb;
}

Result<TrainingSchedule> training_schedule(uint64_t rows, uint64_t micro_batch_size, uint64_t grad_accum,
                                           uint64_t ranks, double epochs, uint64_t max_steps) {
  if (micro_batch_size == 0 || grad_accum == 0) {
    return Status::InvalidArgument(option_ref("micro-batch-size") + " and " + option_ref("grad-accum") +
                                   " must be at least 1");
  }
  if (ranks == 0 || grad_accum > UINT64_MAX / ranks) return Status::InvalidArgument("too many ranks");
  const uint64_t per_step = grad_accum * ranks;
  TrainingSchedule s;
  s.micro_batches_per_epoch = (rows + micro_batch_size - 1) / micro_batch_size;
  s.steps_per_epoch = std::max<uint64_t>(1, (s.micro_batches_per_epoch + per_step - 1) / per_step);
  if (max_steps > 0) {
    s.total_steps = max_steps;
  } else {
    if (!(epochs > 0)) return Status::InvalidArgument(option_ref("epochs") + " must be positive");
    s.total_steps = static_cast<uint64_t>(std::ceil(epochs * static_cast<double>(s.steps_per_epoch)));
  }
  return s;
}

std::vector<uint64_t> rank_micro_batches(uint64_t micro_batches_per_epoch, uint64_t step, uint64_t grad_accum,
                                         uint32_t rank, uint32_t ranks) {
  std::vector<uint64_t> mine;
  const uint64_t first = step * grad_accum * ranks;
  for (uint64_t i = first + rank; i < first + grad_accum * ranks && i < micro_batches_per_epoch; i += ranks) {
    mine.push_back(i);
  }
  return mine;
}

std::vector<std::vector<uint64_t>> epoch_micro_batches(uint64_t rows, uint64_t micro_batch_size, uint64_t seed,
                                                       uint64_t epoch) {
  std::vector<uint64_t> order(rows);
  std::iota(order.begin(), order.end(), uint64_t{0});
  std::mt19937_64 rng(seed * 1000003 + epoch);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::vector<uint64_t>> batches;
  for (uint64_t i = 0; i < rows; i += micro_batch_size) {
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(rows, i + micro_batch_size)));
  }
  return batches;
}

}  // namespace flopsmeter
