// Exact integer arithmetic for FLOP counts.
//
// A fine-tuning run's compute is an integer (multiply-adds counted as 2 FLOP)
// that routinely exceeds 2^64 (1.8e19). flopsmeter keeps such figures as
// unsigned 128-bit integers (max ~3.4e38) and reports both a JSON number and
// an exact decimal string. Every operation here detects overflow instead of
// wrapping. Thresholds that are not integers (1e23/3) are kept as fractions
// and compared by cross-multiplication, so "exactly at the threshold" is
// decided exactly.
#ifndef FLOPSMETER_EXACT_H_
#define FLOPSMETER_EXACT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "flopsmeter/status.h"

namespace flopsmeter {

// __extension__ keeps -Wpedantic quiet: GCC and Clang both provide the type.
__extension__ typedef unsigned __int128 Flop;  // an exact count of floating-point operations

// Decimal digits of `v`, e.g. "3233808384".
std::string to_decimal(Flop v);
// The correctly rounded double (to nearest, ties to even), for display and
// ratios; never for decisions.
double to_double(Flop v);
// "3.2e+09"-style figure with `significant` significant digits.
std::string to_scientific(Flop v, int significant = 3);

// Overflow-checked arithmetic: false when the true result does not fit.
bool checked_add(Flop a, Flop b, Flop* out);
bool checked_mul(Flop a, Flop b, Flop* out);
// Greatest common divisor; gcd(0, 0) = 0.
Flop gcd(Flop a, Flop b);

// Parses a non-negative decimal such as "8.4e22", "1e23", "3212749824" or
// "6.5E+23" exactly. The value must be a whole number (a FLOP count);
// "1.5" is an error, as are signs, NaN, inf, hex and trailing garbage.
// `what` names the input in the error message (e.g. "PRETRAIN_FLOPS").
Result<Flop> parse_exact_integer(std::string_view text, std::string_view what);

// A non-negative fraction num/den with den > 0 (e.g. 1e23/3).
struct Fraction {
  Flop num = 0;
  Flop den = 1;
  double to_double() const;
  // Decimal rendering: exact when den divides num, else "N/D (~x.xxe+yy)".
  std::string to_string() const;
  // The same value in lowest terms.
  Fraction reduced() const;
};

// a x b, cross-reduced first so that only a product that truly needs more
// than 128 bits overflows; false then.
bool checked_mul(const Fraction& a, const Fraction& b, Fraction* out);

// Three-way comparison of an integer with a fraction: -1, 0, +1.
// Exact (uses 256-bit intermediate products).
int compare(Flop value, const Fraction& f);
// Ceil(f): the smallest integer >= f.
Flop ceil(const Fraction& f);
// Floor(f).
Flop floor(const Fraction& f);

}  // namespace flopsmeter

#endif  // FLOPSMETER_EXACT_H_
