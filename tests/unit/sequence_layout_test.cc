// Sequence layouts: how per-sample token counts become executed sequences.
#include "core/sequence_layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

namespace flopsmeter {
namespace {

constexpr Flop kUnit = Flop{1} << kExpectedFractionBits;

LayoutOptions options(SequenceLayout layout, std::optional<uint64_t> max_length = std::nullopt) {
  LayoutOptions o;
  o.layout = layout;
  o.max_length = max_length;
  return o;
}

LayoutAccumulator run(LayoutOptions options, std::initializer_list<uint64_t> samples) {
  LayoutAccumulator acc(options);
  for (uint64_t n : samples) acc.add(n);
  acc.finish();
  return acc;
}

TEST(SequenceLayout, UnpaddedIsOneSequencePerSample) {
  auto acc = run(options(SequenceLayout::kUnpadded), {3, 5, 3});
  EXPECT_EQ(acc.tokens(), 11u);
  EXPECT_EQ(acc.rows(), 3u);
  EXPECT_EQ(acc.positions(), 11u);
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{3, 2}, {5, 1}}));
  EXPECT_EQ(acc.sum_squared_lengths(), 9u + 25u + 9u);
}

TEST(SequenceLayout, TruncationCutsLongSamplesAndCountsThem) {
  auto acc = run(options(SequenceLayout::kUnpadded, 4), {3, 10, 4});
  EXPECT_EQ(acc.tokens_before_truncation(), 17u);
  EXPECT_EQ(acc.tokens(), 11u);
  EXPECT_EQ(acc.truncated_samples(), 1u);
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{3, 1}, {4, 2}}));
}

TEST(SequenceLayout, PaddedBatchesInFileOrderPadToTheirLongestSample) {
  LayoutOptions o = options(SequenceLayout::kPadded);
  o.order = SampleOrder::kFile;
  o.batch_size = 2;
  auto acc = run(o, {3, 5, 2, 2, 7});
  // Batches {3,5} -> 2x5, {2,2} -> 2x2, {7} -> 1x7.
  EXPECT_EQ(acc.tokens(), 19u);
  EXPECT_EQ(acc.positions(), 10u + 4u + 7u);
  EXPECT_EQ(acc.rows(), 5u);
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{2, 2}, {5, 2}, {7, 1}}));
}

TEST(SequenceLayout, PadToMaxLengthPadsEveryRowToIt) {
  LayoutOptions o = options(SequenceLayout::kPadded, 8);
  o.batch_size = 2;
  o.pad_to_max_length = true;
  auto acc = run(o, {3, 5, 9});  // in random order too: every row is 8 long
  EXPECT_FALSE(order_matters(o));
  EXPECT_EQ(acc.tokens(), 16u);  // 9 truncated to 8
  EXPECT_EQ(acc.positions(), 24u);
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{8, 3}}));
}

LayoutOptions wrapped(uint64_t block, uint64_t batch_size, SampleOrder order) {
  LayoutOptions o = options(SequenceLayout::kPackedWrapped, block);
  o.batch_size = batch_size;
  o.order = order;
  return o;
}

TEST(SequenceLayout, WrappedPackingCutsTheStreamIntoBlocksAndLosesNothing) {
  auto acc = run(wrapped(4, 1, SampleOrder::kFile), {3, 10, 2});
  EXPECT_EQ(acc.tokens(), 15u);
  EXPECT_EQ(acc.truncated_samples(), 0u);
  EXPECT_EQ(acc.rows(), 4u);  // 4 + 4 + 4 + 3
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{3, 1}, {4, 3}}));
  EXPECT_EQ(acc.positions(), 15u);
}

TEST(SequenceLayout, WrappedPackingEndsABlockAtEachChunksEnd) {
  LayoutOptions o = wrapped(4, 1, SampleOrder::kFile);
  o.packing_chunk = 2;
  // Chunks {3, 2} -> 4 + 1 and {5} -> 4 + 1: TRL packs each datasets.map batch alone.
  auto acc = run(o, {3, 2, 5});
  EXPECT_EQ(acc.rows(), 4u);
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{1, 2}, {4, 2}}));
}

TEST(SequenceLayout, WrappedBlocksArePaddedInTheirBatch) {
  // Blocks 4, 4, 4, 3 in batches of 2 in file order: the short block is padded to 4.
  auto acc = run(wrapped(4, 2, SampleOrder::kFile), {3, 10, 2});
  EXPECT_EQ(acc.tokens(), 15u);
  EXPECT_EQ(acc.positions(), 16u);
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{4, 4}}));
}

TEST(SequenceLayout, WrappedBlocksInRandomOrderAreBatchedFromTheBlocks) {
  LayoutOptions o = wrapped(4, 2, SampleOrder::kRandom);
  EXPECT_TRUE(order_matters(o));
  auto acc = run(o, {3, 10, 2});
  EXPECT_EQ(acc.batched_rows(), (LengthCounts{{3, 1}, {4, 3}}));
  EXPECT_TRUE(acc.sequences().empty());
  auto shuffled = acc.shuffled_padding();
  ASSERT_TRUE(shuffled.ok());
  // Whatever the order, the short block shares its batch with a full one.
  EXPECT_EQ(shuffled->worst_sequences, (LengthCounts{{4, 4}}));
  EXPECT_EQ(shuffled->expected_positions, 16 * kUnit);
}

TEST(SequenceLayout, BestFitDecreasingBinsAsTrlPacksThem) {
  // trl.pack_dataset's docstring: input_ids [[1,2,3],[4,5],[6,7,8],[9]] at
  // seq_length 4 pack to [[1,2,3,9],[6,7,8],[4,5]].
  EXPECT_EQ(best_fit_decreasing({3, 2, 3, 1}, 4), (std::vector<std::vector<size_t>>{{0, 3}, {2}, {1}}));
  // Of two bins with equal room, the earlier one; empty samples go nowhere.
  EXPECT_EQ(best_fit_decreasing({2, 2, 1, 0}, 3), (std::vector<std::vector<size_t>>{{0, 2}, {1}}));
}

TEST(SequenceLayout, BestFitDecreasingFillsTheFullestBinThatFits) {
  LayoutOptions o = options(SequenceLayout::kPackedBfd, 10);
  o.packing_chunk = 100;
  // Sorted 8,6,4,2,2: bins {8,2}, {6,4}, {2} -> 3 bins.
  auto acc = run(o, {2, 8, 4, 6, 2});
  EXPECT_EQ(acc.rows(), 3u);
  EXPECT_EQ(acc.tokens(), 22u);
  // Padding-free: attention stays per sample.
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{2, 2}, {4, 1}, {6, 1}, {8, 1}}));
}

TEST(SequenceLayout, BestFitDecreasingPacksEachChunkSeparately) {
  LayoutOptions o = options(SequenceLayout::kPackedBfd, 10);
  o.packing_chunk = 2;
  // Chunks {5,5} -> 1 bin, {5} -> 1 bin.
  auto acc = run(o, {5, 5, 5});
  EXPECT_EQ(acc.rows(), 2u);
}

TEST(SequenceLayout, BestFitDecreasingTruncatesLongSamples) {
  auto acc = run(options(SequenceLayout::kPackedBfd, 4), {9});
  EXPECT_EQ(acc.tokens(), 4u);
  EXPECT_EQ(acc.truncated_samples(), 1u);
}

TEST(SequenceLayout, EmptySamplesAddNoSequence) {
  auto acc = run(options(SequenceLayout::kUnpadded), {0, 0});
  EXPECT_EQ(acc.rows(), 0u);
  EXPECT_TRUE(acc.sequences().empty());
}

TEST(SequenceLayout, PackingWithoutMaxLengthIsRejected) {
  EXPECT_FALSE(validate_layout(options(SequenceLayout::kPackedWrapped)).ok());
  EXPECT_FALSE(validate_layout(options(SequenceLayout::kPackedBfd)).ok());
  LayoutOptions pad = options(SequenceLayout::kPadded);
  pad.pad_to_max_length = true;
  EXPECT_FALSE(validate_layout(pad).ok());
  EXPECT_TRUE(validate_layout(options(SequenceLayout::kPackedBfd, 2048)).ok());
}

// ------------------------------------------------------------ random order

// The padded rows by length of `lengths` taken in `order`, in batches of
// `batch_size`, counting only the first `batches` batches.
LengthCounts padded_rows(const std::vector<uint64_t>& lengths, const std::vector<size_t>& order, uint64_t batch_size,
                         size_t batches) {
  LengthCounts rows;
  for (size_t start = 0, b = 0; start < order.size() && b < batches; start += batch_size, ++b) {
    const size_t end = std::min(order.size(), start + batch_size);
    uint64_t longest = 0;
    for (size_t i = start; i < end; ++i) longest = std::max(longest, lengths[order[i]]);
    if (longest > 0) rows[longest] += end - start;
  }
  return rows;
}

Flop positions_of(const LengthCounts& rows) {
  Flop p = 0;
  for (const auto& [length, count] : rows) p += static_cast<Flop>(length) * count;
  return p;
}

Flop squares_of(const LengthCounts& rows) {
  Flop p = 0;
  for (const auto& [length, count] : rows) p += static_cast<Flop>(length) * length * count;
  return p;
}

// Every order of seven samples (ties and an empty one included), cut into
// batches of 3: the rows summed over all 7! orders, their maxima, and whether
// `target` is the rows of some order.
struct AllOrders {
  LengthCounts sum;
  uint64_t orders = 0;
  Flop max_positions = 0;
  Flop max_squares = 0;
  bool target_seen = false;
};

AllOrders all_orders(const std::vector<uint64_t>& lengths, uint64_t batch_size, size_t batches,
                     const LengthCounts& target) {
  AllOrders a;
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  do {
    const LengthCounts rows = padded_rows(lengths, order, batch_size, batches);
    for (const auto& [length, count] : rows) a.sum[length] += count;
    a.max_positions = std::max(a.max_positions, positions_of(rows));
    a.max_squares = std::max(a.max_squares, squares_of(rows));
    a.target_seen = a.target_seen || rows == target;
    ++a.orders;
  } while (std::next_permutation(order.begin(), order.end()));
  return a;
}

LengthCounts counts_of(const std::vector<uint64_t>& lengths) {
  LengthCounts c;
  for (uint64_t l : lengths) ++c[l];
  return c;
}

// The fixed-point expectation is within one unit (2^-32 row) of the exact
// mean over every order, length by length: |expected x orders - sum x 2^32|
// <= orders.
void expect_mean(const std::map<uint64_t, Flop>& expected, const AllOrders& a) {
  std::set<uint64_t> lengths;
  for (const auto& [length, count] : expected) lengths.insert(length);
  for (const auto& [length, count] : a.sum) lengths.insert(length);
  for (uint64_t length : lengths) {
    const Flop got = expected.count(length) ? expected.at(length) * a.orders : 0;
    const Flop want = a.sum.count(length) ? static_cast<Flop>(a.sum.at(length)) * kUnit : 0;
    const Flop diff = got > want ? got - want : want - got;
    EXPECT_LE(diff, static_cast<Flop>(a.orders)) << "length " << length;
  }
}

const std::vector<uint64_t> kSeven = {5, 1, 9, 5, 2, 9, 0};

TEST(ShuffledPadding, AWholeEpochEqualsTheMeanAndMaximumOverEveryOrder) {
  // Two full batches of 3 and the remainder batch of 1.
  const LengthCounts worst = worst_padded_rows(counts_of(kSeven), 3, 2, true);
  const AllOrders a = all_orders(kSeven, 3, 3, worst);
  ASSERT_EQ(a.orders, 5040u);
  auto expected = expected_padded_rows(counts_of(kSeven), 3, 2, 1);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  expect_mean(*expected, a);
  // Two 9s lead the full batches, the 5 the remainder: 3x9 + 3x9 + 1x5.
  EXPECT_EQ(worst, (LengthCounts{{5, 1}, {9, 6}}));
  EXPECT_EQ(positions_of(worst), a.max_positions);
  EXPECT_EQ(squares_of(worst), a.max_squares);
  EXPECT_TRUE(a.target_seen) << "the worst case is not the rows of any order";
}

TEST(ShuffledPadding, APartialEpochIsTheFirstFullBatchesOfAShuffle) {
  const LengthCounts worst = worst_padded_rows(counts_of(kSeven), 3, 1, false);
  const AllOrders a = all_orders(kSeven, 3, 1, worst);
  auto expected = expected_padded_rows(counts_of(kSeven), 3, 1, 0);
  ASSERT_TRUE(expected.ok());
  expect_mean(*expected, a);
  EXPECT_EQ(worst, (LengthCounts{{9, 3}}));
  EXPECT_EQ(positions_of(worst), a.max_positions);
  EXPECT_TRUE(a.target_seen);
}

TEST(ShuffledPadding, ExpectedRowsAddUpExactlyAndScaleWithTheBatches) {
  const LengthCounts samples = counts_of({5, 1, 9, 5, 2, 9, 3});
  auto one = expected_padded_rows(samples, 3, 2, 1);
  auto five = expected_padded_rows(samples, 3, 10, 5);  // five epochs
  ASSERT_TRUE(one.ok() && five.ok());
  Flop rows = 0;
  for (const auto& [length, count] : *one) rows += count;
  EXPECT_EQ(rows, 7 * kUnit);  // every row, to the last unit
  for (const auto& [length, count] : *five) {
    const Flop diff = count > 5 * one->at(length) ? count - 5 * one->at(length) : 5 * one->at(length) - count;
    EXPECT_LE(diff, 5u) << length;
  }
}

TEST(ShuffledPadding, AnEpochOfOneBatchHasNothingToShuffle) {
  auto expected = expected_padded_rows(counts_of({4, 2, 7}), 8, 0, 1);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(*expected, (std::map<uint64_t, Flop>{{7, 3 * kUnit}}));
  EXPECT_EQ(worst_padded_rows(counts_of({4, 2, 7}), 8, 0, true), (LengthCounts{{7, 3}}));
}

TEST(ShuffledPadding, TheAccumulatorKeepsTheLengthsAndBatchesThemLater) {
  LayoutOptions o = options(SequenceLayout::kPadded);
  o.batch_size = 3;
  ASSERT_TRUE(order_matters(o));
  LayoutAccumulator acc(o);
  for (uint64_t n : kSeven) acc.add(n);
  acc.finish();
  EXPECT_EQ(acc.rows(), 7u);
  EXPECT_EQ(acc.tokens(), 31u);
  EXPECT_EQ(acc.sample_lengths(), counts_of(kSeven));
  EXPECT_TRUE(acc.sequences().empty());
  auto s = acc.shuffled_padding();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->worst_positions, 59u);
  EXPECT_EQ(s->worst_sum_squared_lengths, 6u * 81 + 25);
  const AllOrders a = all_orders(kSeven, 3, 3, s->worst_sequences);
  Flop mean_positions = 0;
  for (const auto& [length, count] : a.sum) mean_positions += static_cast<Flop>(length) * count;
  // Within one unit per length, times the length (5 + 1 + 9 + 2 = 17), of the mean.
  const Flop got = s->expected_positions * a.orders, want = mean_positions * kUnit;
  EXPECT_LE(got > want ? got - want : want - got, 17u * a.orders);
}

}  // namespace
}  // namespace flopsmeter
