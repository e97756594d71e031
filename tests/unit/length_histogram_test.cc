// The meter's sequence-length histogram: exact counts whichever tier a
// length lands in (direct index, hashed slot, overflow map), from any
// number of threads.
#include "api/length_histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace flopsmeter {
namespace {

TEST(LengthHistogram, CountsEveryLengthExactlyInEachTier) {
  // 16 direct lengths, 8 hashed slots (4 usable before the load limit).
  ConcurrentLengthHistogram h(16, 8);
  h.add(3, 2);
  h.add(3, 5);     // direct
  h.add(15, 1);    // the last direct length
  h.add(16, 4);    // the first hashed one
  for (uint64_t len = 100; len < 110; ++len) h.add(len, len);  // fills the slots, then overflows
  h.add(105, 1);   // hashed or overflow: still one entry
  std::map<uint64_t, uint64_t> expected = {{3, 7}, {15, 1}, {16, 4}};
  for (uint64_t len = 100; len < 110; ++len) expected[len] = len;
  expected[105] += 1;
  EXPECT_EQ(h.snapshot(), expected);
}

TEST(LengthHistogram, IgnoresLengthZeroAndCountZero) {
  ConcurrentLengthHistogram h;
  h.add(0, 9);
  h.add(512, 0);
  EXPECT_TRUE(h.snapshot().empty());
}

TEST(LengthHistogram, ThreadsAddingTheSameLengthsLoseNothing) {
  ConcurrentLengthHistogram h(64, 16);
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h] {
      // Direct, hashed and (past 8 long lengths) overflow, all contended.
      for (int i = 0; i < kRounds; ++i) h.add(1 + static_cast<uint64_t>(i % 80), 1);
    });
  }
  for (std::thread& t : threads) t.join();
  const auto snapshot = h.snapshot();
  ASSERT_EQ(snapshot.size(), 80u);
  for (const auto& [len, count] : snapshot) EXPECT_EQ(count, uint64_t{kThreads} * kRounds / 80) << "length " << len;
}

}  // namespace
}  // namespace flopsmeter
