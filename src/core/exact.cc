#include "flopsmeter/exact.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

#include "core/strict_fields.h"

namespace flopsmeter {
namespace {

constexpr Flop kMax = ~static_cast<Flop>(0);

// 256-bit product of two 128-bit values as (hi, lo).
struct U256 {
  Flop hi;
  Flop lo;
};

U256 mul_wide(Flop a, Flop b) {
  const Flop mask = (static_cast<Flop>(1) << 64) - 1;
  Flop a0 = a & mask, a1 = a >> 64, b0 = b & mask, b1 = b >> 64;
  Flop p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  Flop mid = (p00 >> 64) + (p01 & mask) + (p10 & mask);
  U256 r;
  r.lo = (p00 & mask) | (mid << 64);
  r.hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
  return r;
}

int compare_wide(U256 a, U256 b) {
  if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
  if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
  return 0;
}

}  // namespace

std::string to_decimal(Flop v) {
  if (v == 0) return "0";
  std::string digits;
  while (v != 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(digits.begin(), digits.end());
  return digits;
}

double to_double(Flop v) {
  if (v <= UINT64_MAX) return static_cast<double>(static_cast<uint64_t>(v));
  // The top 64 bits, with every bit below them folded into the lowest one
  // (sticky): that bit lies under the double's rounding position, so the
  // one rounding of the 64-bit conversion is the correct one for v; the
  // scaling by a power of two is exact. (Adding the two halves as doubles
  // would round twice.)
  const int shift = 64 - std::countl_zero(static_cast<uint64_t>(v >> 64));
  const Flop below = v & ((Flop{1} << shift) - 1);
  const uint64_t top = static_cast<uint64_t>(v >> shift) | (below != 0 ? 1 : 0);
  return std::ldexp(static_cast<double>(top), shift);
}

std::string to_scientific(Flop v, int significant) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", std::max(0, significant - 1), to_double(v));
  return buf;
}

bool checked_add(Flop a, Flop b, Flop* out) {
  if (a > kMax - b) return false;
  *out = a + b;
  return true;
}

bool checked_mul(Flop a, Flop b, Flop* out) {
  U256 p = mul_wide(a, b);
  if (p.hi != 0) return false;
  *out = p.lo;
  return true;
}

Result<Flop> parse_exact_integer(std::string_view text, std::string_view what) {
  auto fail = [&](const std::string& why) -> Status {
    return Status::InvalidArgument(std::string(what) + "='" + printable(text) + "': " + why);
  };
  if (text.empty()) return fail("empty; expected a positive number such as 8.4e22");
  // Mantissa digits with an optional point, then an optional exponent.
  std::string digits;
  int point_shift = 0;  // digits after the decimal point
  size_t i = 0;
  bool seen_point = false, seen_digit = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      seen_digit = true;
      if (seen_point) ++point_shift;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return fail("not a number; expected e.g. 8.4e22 (finite, positive, decimal)");
  long exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
    if (i >= text.size()) return fail("exponent has no digits");
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > 1000) return fail("exponent out of range");
    }
    if (negative) exponent = -exponent;
  }
  if (i != text.size()) return fail("unexpected character '" + std::string(1, text[i]) + "'");
  long shift = exponent - point_shift;
  // Drop trailing zeros from the mantissa while shift is negative.
  while (shift < 0 && !digits.empty() && digits.back() == '0') {
    digits.pop_back();
    ++shift;
  }
  if (shift < 0) {
    bool all_zero = std::all_of(digits.begin(), digits.end(), [](char c) { return c == '0'; });
    if (!all_zero) return fail("not a whole number of FLOP");
    digits = "0";
    shift = 0;
  }
  Flop value = 0;
  for (char c : digits) {
    if (!checked_mul(value, 10, &value) || !checked_add(value, static_cast<Flop>(c - '0'), &value)) {
      return Status::Overflow(std::string(what) + "='" + std::string(text) + "': too large (limit ~3.4e38)");
    }
  }
  for (long k = 0; k < shift && value != 0; ++k) {
    if (!checked_mul(value, 10, &value)) {
      return Status::Overflow(std::string(what) + "='" + std::string(text) + "': too large (limit ~3.4e38)");
    }
  }
  return value;
}

Flop gcd(Flop a, Flop b) {
  while (b != 0) {
    a %= b;
    std::swap(a, b);
  }
  return a;
}

Fraction Fraction::reduced() const {
  const Flop g = gcd(num, den);
  return g == 0 ? *this : Fraction{num / g, den / g};
}

bool checked_mul(const Fraction& a, const Fraction& b, Fraction* out) {
  const Fraction x = a.reduced(), y = b.reduced();
  const Flop g_xy = gcd(x.num, y.den), g_yx = gcd(y.num, x.den);
  auto div = [](Flop v, Flop g) { return g == 0 ? v : v / g; };
  Fraction product;
  if (!checked_mul(div(x.num, g_xy), div(y.num, g_yx), &product.num) ||
      !checked_mul(div(x.den, g_yx), div(y.den, g_xy), &product.den)) {
    return false;
  }
  *out = product;
  return true;
}

double Fraction::to_double() const { return flopsmeter::to_double(num) / flopsmeter::to_double(den); }

std::string Fraction::to_string() const {
  if (den != 0 && num % den == 0) return to_decimal(num / den);
  char approx[40];
  std::snprintf(approx, sizeof approx, "%.6e", to_double());
  return to_decimal(num) + "/" + to_decimal(den) + " (~" + approx + ")";
}

int compare(Flop value, const Fraction& f) {
  // value <=> num/den  <=>  value*den <=> num
  return compare_wide(mul_wide(value, f.den), U256{0, f.num});
}

Flop floor(const Fraction& f) { return f.num / f.den; }

Flop ceil(const Fraction& f) { return f.num / f.den + (f.num % f.den != 0 ? 1 : 0); }

}  // namespace flopsmeter
