// The trainer's rows and micro-batches: padded, TRL's best-fit-decreasing
// bins and wrapped blocks (TRL's own docstring examples), the same rows the
// count lays out, and the targets each position predicts.
#include "trainer/training_data.h"

#include <gtest/gtest.h>

#include <random>

namespace flopsmeter {
namespace {

std::vector<TrainingSample> samples_of(const std::vector<std::vector<uint32_t>>& ids) {
  std::vector<TrainingSample> out;
  for (const auto& s : ids) out.push_back({s, 0});
  return out;
}

LayoutOptions layout(SequenceLayout kind, uint64_t max_length, uint64_t chunk = 1000) {
  LayoutOptions o;
  o.layout = kind;
  o.max_length = max_length;
  o.packing_chunk = chunk;
  o.batch_size = 1;
  o.order = SampleOrder::kFile;
  return o;
}

std::vector<std::vector<uint32_t>> ids_of(const std::vector<TrainingRow>& rows) {
  std::vector<std::vector<uint32_t>> out;
  for (const TrainingRow& r : rows) out.push_back(r.ids);
  return out;
}

std::vector<std::vector<int64_t>> spans_of(const std::vector<TrainingRow>& rows) {
  std::vector<std::vector<int64_t>> out;
  for (const TrainingRow& r : rows) out.push_back(r.spans);
  return out;
}

const std::vector<std::vector<uint32_t>> kTrlExample = {{1, 2, 3}, {4, 5}, {6, 7, 8}, {9}};

TEST(TrainingRows, BestFitDecreasingAsTrlsDocstringPacks) {
  // trl.pack_dataset(..., seq_length=4, strategy="bfd"): [[1,2,3,9],[6,7,8],[4,5]], seq_lengths [[3,1],[3],[2]].
  const auto rows = training_rows(samples_of(kTrlExample), layout(SequenceLayout::kPackedBfd, 4));
  EXPECT_EQ(ids_of(rows), (std::vector<std::vector<uint32_t>>{{1, 2, 3, 9}, {6, 7, 8}, {4, 5}}));
  EXPECT_EQ(spans_of(rows), (std::vector<std::vector<int64_t>>{{3, 1}, {3}, {2}}));
}

TEST(TrainingRows, WrappedAsTrlsDocstringPacks) {
  // trl.pack_dataset(..., seq_length=4, strategy="wrapped"): [[1,2,3,4],[5,6,7,8],[9]].
  const auto rows = training_rows(samples_of(kTrlExample), layout(SequenceLayout::kPackedWrapped, 4));
  EXPECT_EQ(ids_of(rows), (std::vector<std::vector<uint32_t>>{{1, 2, 3, 4}, {5, 6, 7, 8}, {9}}));
  EXPECT_EQ(spans_of(rows), (std::vector<std::vector<int64_t>>{{4}, {4}, {1}}));
  // Each datasets.map batch is packed alone.
  const auto chunked = training_rows(samples_of(kTrlExample), layout(SequenceLayout::kPackedWrapped, 4, 2));
  EXPECT_EQ(ids_of(chunked), (std::vector<std::vector<uint32_t>>{{1, 2, 3, 4}, {5}, {6, 7, 8, 9}}));
}

TEST(TrainingRows, PaddedRowsAreSamplesTruncatedAndEmptyOnesDropped) {
  const auto rows = training_rows(samples_of({{1, 2, 3, 4, 5}, {}, {6}}), layout(SequenceLayout::kPadded, 3));
  EXPECT_EQ(ids_of(rows), (std::vector<std::vector<uint32_t>>{{1, 2, 3}, {6}}));
  EXPECT_EQ(spans_of(rows), (std::vector<std::vector<int64_t>>{{3}, {1}}));
}

TEST(TrainingRows, LabelsKeepEachSamplesPromptOutWhereverItLands) {
  std::vector<TrainingSample> samples = {{{1, 2, 3}, 2}, {{4, 5, 6}, 1}};
  const auto rows = training_rows(samples, layout(SequenceLayout::kPackedWrapped, 4));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].label, (std::vector<bool>{false, false, true, false}));
  EXPECT_EQ(rows[1].label, (std::vector<bool>{true, true}));
}

// For any lengths, the trainer runs the rows the count laid out: the same
// bins, the same attention spans, the same blocks.
TEST(TrainingRows, AgreeWithTheCountsLayout) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::vector<uint32_t>> ids(1 + rng() % 40);
    for (auto& s : ids) s.assign(rng() % 30, 7);
    const uint64_t max_length = 1 + rng() % 24, chunk = 1 + rng() % 12;
    for (SequenceLayout kind : {SequenceLayout::kPackedBfd, SequenceLayout::kPackedWrapped}) {
      const LayoutOptions o = layout(kind, max_length, chunk);
      LayoutAccumulator count(o);
      for (const auto& s : ids) count.add(s.size());
      count.finish();
      const auto rows = training_rows(samples_of(ids), o);
      std::map<uint64_t, uint64_t> spans;
      for (const TrainingRow& r : rows) {
        uint64_t width = 0;
        for (int64_t n : r.spans) {
          ++spans[static_cast<uint64_t>(n)];
          width += static_cast<uint64_t>(n);
        }
        EXPECT_EQ(width, r.ids.size());
        EXPECT_LE(width, max_length);
      }
      EXPECT_EQ(rows.size(), count.rows()) << "trial " << trial;
      EXPECT_EQ(spans, count.sequences()) << "trial " << trial;
    }
  }
}

TEST(MicroBatches, PaddedRowsPredictTheNextLabelWithinTheirRow) {
  std::vector<TrainingSample> samples = {{{1, 2, 3}, 1}, {{4, 5}, 0}};
  const auto rows = training_rows(samples, layout(SequenceLayout::kPadded, 8));
  const MicroBatch mb = micro_batch(rows, {0, 1}, false, 0);
  EXPECT_TRUE(torch::equal(mb.ids, torch::tensor({{1, 2, 3}, {4, 5, 0}}, torch::kLong)));
  // Position 0 of the first row predicts 2 (a completion token); a row's last position predicts nothing.
  EXPECT_TRUE(torch::equal(mb.targets, torch::tensor({{2, 3, -100}, {5, -100, -100}}, torch::kLong)));
  EXPECT_EQ(mb.label_tokens, 3u);
  EXPECT_EQ(mb.tokens, 5u);
  EXPECT_EQ(mb.positions, 6u);
  EXPECT_EQ(mb.sequences, (std::map<uint64_t, uint64_t>{{3, 2}}));
  const MicroBatch wide = micro_batch(rows, {1}, false, 4);
  EXPECT_EQ(wide.positions, 4u);
  EXPECT_EQ(wide.sequences, (std::map<uint64_t, uint64_t>{{4, 1}}));
}

TEST(MicroBatches, PaddingFreeLaysEverySampleEndToEndInOneRow) {
  const auto rows = training_rows(samples_of(kTrlExample), layout(SequenceLayout::kPackedBfd, 4));
  // Bins [1,2,3,9] and [4,5]; a padding-free row is not padded, even to a max length.
  const MicroBatch mb = micro_batch(rows, {0, 2}, true, 16);
  EXPECT_TRUE(torch::equal(mb.ids, torch::tensor({{1, 2, 3, 9, 4, 5}}, torch::kLong)));
  // No sample's last token predicts the next sample's first (TRL: labels at position_ids == 0 are -100).
  EXPECT_TRUE(torch::equal(mb.targets, torch::tensor({{2, 3, -100, -100, 5, -100}}, torch::kLong)));
  EXPECT_EQ(mb.spans, (std::vector<std::vector<int64_t>>{{3, 1, 2}}));
  EXPECT_EQ(mb.positions, 6u);
  EXPECT_EQ(mb.sequences, (std::map<uint64_t, uint64_t>{{1, 1}, {2, 1}, {3, 1}}));
}

// Steps per epoch as transformers counts them with data-parallel ranks, and
// as the estimate counts them (epoch_schedule): ceil(micro-batches / (G x R)).
TEST(TrainingSchedule, RanksShareEachStepsMicroBatches) {
  // 10 rows, micro-batches of 2: 5 per epoch; 2 ranks of 2 accumulated: 4 per step.
  const TrainingSchedule s = *training_schedule(10, 2, 2, 2, 3, 0);
  EXPECT_EQ(s.micro_batches_per_epoch, 5u);
  EXPECT_EQ(s.steps_per_epoch, 2u);
  EXPECT_EQ(s.total_steps, 6u);
  EXPECT_EQ(training_schedule(10, 2, 2, 1, 3, 0)->steps_per_epoch, 3u);
  EXPECT_EQ(training_schedule(10, 2, 1, 8, 1, 0)->steps_per_epoch, 1u);  // at least one
  EXPECT_FALSE(training_schedule(10, 2, UINT64_MAX, 2, 1, 0).ok());
}

// Every micro-batch of an epoch goes to exactly one rank, once, dealt out in
// turn within each step (micro-batch i of a step to rank i mod R), and no
// rank takes more than its grad_accum in a step.
TEST(TrainingSchedule, RanksDealEachMicroBatchOnce) {
  for (uint32_t ranks : {1u, 2u, 3u, 4u}) {
    for (uint64_t accum : {1u, 2u, 3u}) {
      for (uint64_t per_epoch : {1u, 5u, 12u, 13u}) {
        const TrainingSchedule s = *training_schedule(per_epoch, 1, accum, ranks, 1, 0);
        std::vector<int> taken(per_epoch, 0);
        for (uint64_t step = 0; step < s.steps_per_epoch; ++step) {
          for (uint32_t rank = 0; rank < ranks; ++rank) {
            const std::vector<uint64_t> mine = rank_micro_batches(per_epoch, step, accum, rank, ranks);
            EXPECT_LE(mine.size(), accum);
            for (uint64_t i : mine) {
              ASSERT_LT(i, per_epoch);
              EXPECT_EQ(i / (accum * ranks), step);
              EXPECT_EQ(i % ranks, rank);
              ++taken[i];
            }
          }
        }
        EXPECT_EQ(taken, std::vector<int>(per_epoch, 1)) << ranks << " ranks, accumulation " << accum;
      }
    }
  }
  // One rank takes a step's micro-batches in order, as without ranks.
  EXPECT_EQ(rank_micro_batches(7, 1, 3, 0, 1), (std::vector<uint64_t>{3, 4, 5}));
  // The epoch's last step may leave a rank none.
  EXPECT_EQ(rank_micro_batches(5, 1, 2, 1, 2), (std::vector<uint64_t>{}));
  EXPECT_EQ(rank_micro_batches(5, 1, 2, 0, 2), (std::vector<uint64_t>{4}));
}

}  // namespace
}  // namespace flopsmeter
