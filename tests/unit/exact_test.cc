// Exact FLOP arithmetic: conversions that round once, fractions that stay
// exact through a product, overflow reported instead of wrapped.
#include "flopsmeter/exact.h"

#include <gtest/gtest.h>

#include <cmath>

namespace flopsmeter {
namespace {

TEST(Exact, ToDoubleRoundsOnceToNearestEven) {
  EXPECT_EQ(to_double(0), 0.0);
  EXPECT_EQ(to_double(Flop{UINT64_MAX}), std::ldexp(1.0, 64));
  // Above 2^64: the bits below the top 53 decide, all of them.
  const Flop tie = (Flop{1} << 64) + (Flop{1} << 11);  // exactly halfway: to even, down
  EXPECT_EQ(to_double(tie), std::ldexp(1.0, 64));
  EXPECT_EQ(to_double(tie + 1), std::ldexp(1.0, 64) + std::ldexp(1.0, 12)) << "one above the tie rounds up";
  EXPECT_EQ(to_double((Flop{1} << 64) + 3 * (Flop{1} << 11)), std::ldexp(1.0, 64) + std::ldexp(1.0, 13));
  EXPECT_EQ(to_double(~Flop{0}), std::ldexp(1.0, 128));
  const Flop near_2_100 = (Flop{1} << 100) + (Flop{1} << 63) + (Flop{1} << 47) + 1;
  EXPECT_EQ(to_double(near_2_100), std::ldexp(1.0, 100) + std::ldexp(1.0, 63) + std::ldexp(1.0, 48));
}

TEST(Exact, FractionsReduceToLowestTerms) {
  const Fraction f = Fraction{Flop{100000000000000000ULL} * 1000000, 3}.reduced();
  EXPECT_EQ(to_decimal(f.num), "100000000000000000000000");
  EXPECT_EQ(to_decimal(f.den), "3");
  const Fraction g = Fraction{18, 12}.reduced();
  EXPECT_EQ(g.num, 3u);
  EXPECT_EQ(g.den, 2u);
  EXPECT_EQ((Fraction{0, 7}.reduced().den), 1u);
}

TEST(Exact, FractionProductsAreExactAndCrossReducedBeforeOverflowing) {
  // 9/10 of 1e23/3 = 3e22 exactly; a double would give 2.9999999999999997e22.
  Fraction product;
  const Fraction threshold{Flop{10000000000000000000ULL} * 10000, 3};
  ASSERT_TRUE(checked_mul(Fraction{9, 10}, threshold, &product));
  EXPECT_EQ(to_decimal(floor(product)), "30000000000000000000000");
  EXPECT_EQ(compare(Flop{3000000000000000000ULL} * 10000, product), 0);
  // Each side alone is near 2^127; cross-reduced, the product fits.
  const Flop big = Flop{1} << 126;
  ASSERT_TRUE(checked_mul(Fraction{big, 3}, Fraction{3, big}, &product));
  EXPECT_EQ(product.num, 1u);
  EXPECT_EQ(product.den, 1u);
  EXPECT_FALSE(checked_mul(Fraction{big, 1}, Fraction{4, 1}, &product)) << "2^128 does not fit";
}

}  // namespace
}  // namespace flopsmeter
