// The estimate's workload: epochs stepped through as transformers' Trainer
// does, padded batches in random order (expected and worst case), and what D
// covers when records are skipped.
#include "api/estimate_workload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/sequence_layout.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

Model tiny_llama() {
  auto m = testing::model_from_json({{"model_type", "llama"},
                                     {"vocab_size", 4096},
                                     {"hidden_size", 256},
                                     {"num_hidden_layers", 4},
                                     {"num_attention_heads", 8},
                                     {"num_key_value_heads", 4},
                                     {"head_dim", 32},
                                     {"intermediate_size", 688},
                                     {"tie_word_embeddings", false}});
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

TrainingPlan full_plan(const Model& m) {
  auto p = plan_training(m, MethodSpec{});
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return *p;
}

EstimateRequest tokens_request(Flop tokens, uint64_t seq_len, uint64_t micro_batch, double epochs) {
  EstimateRequest r;
  r.tokens_per_epoch = tokens;
  r.seq_len = seq_len;
  r.micro_batch_size = micro_batch;
  r.epochs = epochs;
  return r;
}

// A counted dataset of these sample lengths, as count_tokens reports it.
TokenCountReport dataset_of(const std::vector<uint64_t>& lengths, uint64_t batch_size,
                            SampleOrder order = SampleOrder::kRandom) {
  LayoutOptions o;
  o.layout = SequenceLayout::kPadded;
  o.batch_size = batch_size;
  o.order = order;
  LayoutAccumulator acc(o);
  for (uint64_t n : lengths) acc.add(n);
  acc.finish();
  TokenCountReport d;
  d.samples = lengths.size();
  d.tokens = acc.tokens();
  d.sample_lengths = acc.sample_lengths();
  d.layout = SequenceLayout::kPadded;
  d.batch_size = batch_size;
  d.order = order;
  d.rows = acc.rows();
  d.sequences = acc.sequences();
  if (order_matters(o)) {
    auto shuffled = acc.shuffled_padding();
    EXPECT_TRUE(shuffled.ok());
    d.shuffled = *shuffled;
    d.batched_rows = acc.batched_rows();
  }
  return d;
}

TEST(EstimateWorkload, FractionalEpochsRunCeilOfEpochsTimesStepsPerEpoch) {
  // 10 sequences of 100 in batches of 2: 5 steps per epoch; ceil(2.5 x 5) =
  // 13 steps, two epochs and the first 3 batches (6 of 10 sequences) of a third.
  auto w = build_workload(tokens_request(1000, 100, 2, 2.5), tiny_llama(), nullptr);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->schedule.steps_per_epoch, 5u);
  EXPECT_EQ(w->schedule.max_steps, 13u);
  EXPECT_EQ(w->schedule.whole_epochs, 2u);
  EXPECT_EQ(w->schedule.partial_batches, 3u);
  EXPECT_EQ(w->tokens.num, 2600u);
  EXPECT_EQ(w->tokens.den, 1u);
  // Every sequence is 100 long: the order does not matter.
  EXPECT_FALSE(w->worst_case.has_value());
  EXPECT_EQ(w->expected.sequences, (std::map<uint64_t, uint64_t>{{100, 26}}));
  EXPECT_EQ(w->expected.optimizer_steps, 13u);
  EXPECT_EQ(w->expected.micro_batches, 13u);
}

TEST(EstimateWorkload, TheEpochProductIsAPythonFloat) {
  // 2.2 * 25 == 55.00000000000001 in Python, so the Trainer runs 56 steps.
  auto w = build_workload(tokens_request(2500, 100, 1, 2.2), tiny_llama(), nullptr);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->schedule.max_steps, 56u);
  EXPECT_EQ(w->schedule.whole_epochs, 2u);
  EXPECT_EQ(w->schedule.partial_steps, 6u);
}

TEST(EstimateWorkload, EpochErrorsTalkAboutEpochs) {
  for (double epochs : {0.0, -1.0, std::nan(""), HUGE_VAL}) {
    auto w = build_workload(tokens_request(1000, 100, 2, epochs), tiny_llama(), nullptr);
    ASSERT_FALSE(w.ok());
    EXPECT_THAT(w.status().message(), HasSubstr("epochs"));
    EXPECT_THAT(w.status().message(), Not(HasSubstr("FLOP")));
  }
}

TEST(EstimateWorkload, APartialEpochOfUnequalSequencesIsExpectedWithTheLongestBeside) {
  // 1050 tokens: ten sequences of 100 and one of 50, batches of 1, 1.5
  // epochs: ceil(16.5) = 17 steps, the partial epoch draws 6 of 11.
  auto w = build_workload(tokens_request(1050, 100, 1, 1.5), tiny_llama(), nullptr);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->schedule.partial_batches, 6u);
  EXPECT_EQ(w->tokens.num * 11, w->tokens.den * (1050 * 11 + 1050 * 6));
  ASSERT_TRUE(w->worst_case.has_value());
  EXPECT_EQ(w->worst_case->tokens, 1050u + 600u);  // the six longest are whole
  EXPECT_EQ(w->worst_case->sequences, (std::map<uint64_t, uint64_t>{{50, 1}, {100, 16}}));
  EXPECT_GT(w->fraction_bits, 0u);
}

TEST(EstimateWorkload, DatasetsPadInBatchesOfTheTrainersDefaultSize) {
  std::vector<uint64_t> lengths(20);
  std::iota(lengths.begin(), lengths.end(), 1);
  const TokenCountReport d = dataset_of(lengths, kTrainerDefaultBatchSize);
  EstimateRequest r;
  r.dataset = TokenCountRequest{};
  auto w = build_workload(r, tiny_llama(), &d);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->schedule.batch_size, 8u);
  EXPECT_EQ(w->schedule.batches_per_epoch, 3u);
  EXPECT_TRUE(w->batch_size_known);
  EXPECT_EQ(w->worst_case->micro_batches, 3u);
  EXPECT_THAT(join_lines(w->assumptions), HasSubstr("transformers' default per_device_train_batch_size"));
}

// One epoch of seven samples in batches of 3: the estimate's detailed figure
// is the mean of the detailed figure over all 7! orders, to the FLOP, since
// the formula is linear in the rows; the worst case is the largest of them.
TEST(EstimateWorkload, ExpectedFlopsAreTheMeanOverEveryOrder) {
  const std::vector<uint64_t> lengths = {50, 10, 90, 50, 20, 90, 5};
  const TokenCountReport d = dataset_of(lengths, 3);
  EstimateRequest r;
  r.dataset = TokenCountRequest{};
  r.micro_batch_size = 3;
  const Model model = tiny_llama();
  const TrainingPlan plan = full_plan(model);
  auto w = build_workload(r, model, &d);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto flops = workload_flops(model, plan, *w);
  ASSERT_TRUE(flops.ok()) << flops.status().ToString();

  std::map<LengthCounts, Flop> by_rows;  // orders share few distinct row sets
  Flop sum = 0, most = 0;
  uint64_t orders = 0;
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  do {
    LengthCounts rows;
    for (size_t start = 0; start < order.size(); start += 3) {
      const size_t end = std::min(order.size(), start + 3);
      uint64_t longest = 0;
      for (size_t i = start; i < end; ++i) longest = std::max(longest, lengths[order[i]]);
      rows[longest] += end - start;
    }
    auto [it, fresh] = by_rows.try_emplace(rows, 0);
    if (fresh) {
      Workload one = w->worst_case.value();
      one.sequences = rows;
      auto f = estimate_flops(model, plan, one);
      ASSERT_TRUE(f.ok());
      it->second = f->detailed.total();
    }
    sum += it->second;
    most = std::max(most, it->second);
    ++orders;
  } while (std::next_permutation(order.begin(), order.end()));
  const Flop mean = (sum + orders / 2) / orders;
  const Flop expected = flops->expected.detailed.total();
  EXPECT_LE(expected > mean ? expected - mean : mean - expected, 2u)
      << to_decimal(expected) << " vs the mean " << to_decimal(mean);
  EXPECT_EQ(flops->worst_case->detailed.total(), most);
  EXPECT_EQ(flops->expected.tokens, 315u);
}

TEST(EstimateWorkload, FileOrderPaddingRefusesAPartialEpoch) {
  const TokenCountReport d = dataset_of({5, 9, 1, 4, 7, 3, 8, 2, 6}, 2, SampleOrder::kFile);
  EstimateRequest r;
  r.dataset = TokenCountRequest{};
  r.micro_batch_size = 2;
  r.epochs = 2;
  ASSERT_TRUE(build_workload(r, tiny_llama(), &d).ok());
  r.epochs = 1.5;
  auto w = build_workload(r, tiny_llama(), &d);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("file order"));
}

TEST(EstimateWorkload, SkippedRecordsAreNotCalledExact) {
  TokenCountReport d = dataset_of({5, 9, 1}, 8);
  d.skipped = 50;
  EstimateRequest r;
  r.dataset = TokenCountRequest{};
  auto w = build_workload(r, tiny_llama(), &d);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const std::string notes = join_lines(w->assumptions);
  EXPECT_THAT(notes, Not(HasSubstr("exactly")));
  EXPECT_THAT(notes, HasSubstr("D covers the 3 counted records only: 50 of the 53 records were skipped"));
}

}  // namespace
}  // namespace flopsmeter
