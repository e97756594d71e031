// Sequence layouts: how per-sample token counts become executed sequences.
#include "core/sequence_layout.h"

#include <gtest/gtest.h>

namespace flopsmeter {
namespace {

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

TEST(SequenceLayout, PaddedBatchesPadToTheirLongestSample) {
  LayoutOptions o = options(SequenceLayout::kPadded);
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
  auto acc = run(o, {3, 5, 9});
  EXPECT_EQ(acc.tokens(), 16u);  // 9 truncated to 8
  EXPECT_EQ(acc.positions(), 24u);
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{8, 3}}));
}

TEST(SequenceLayout, WrappedPackingCutsTheStreamIntoBlocksAndLosesNothing) {
  auto acc = run(options(SequenceLayout::kPackedWrapped, 4), {3, 10, 2});
  EXPECT_EQ(acc.tokens(), 15u);
  EXPECT_EQ(acc.truncated_samples(), 0u);
  EXPECT_EQ(acc.rows(), 4u);  // 4 + 4 + 4 + 3
  EXPECT_EQ(acc.sequences(), (std::map<uint64_t, uint64_t>{{3, 1}, {4, 3}}));
  EXPECT_EQ(acc.positions(), 15u);
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

}  // namespace
}  // namespace flopsmeter
