// Regulatory rules: parsing data/rules.json, exact evaluation, the AWS
// toolkit's rule for comparison, and PRETRAIN_FLOPS validation.
#include "flopsmeter/rules.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "core/json_doc.h"
#include "core/strict_fields.h"

namespace flopsmeter {
namespace {

constexpr Flop kFlopMax = ~static_cast<Flop>(0);

// ---------------------------------------------------------------------------
// Exact arithmetic beyond 128 bits
// ---------------------------------------------------------------------------
//
// Some decisions multiply two 128-bit figures (a remainder by a denominator)
// or a 128-bit figure by a small factor (compute x 13/10 for the error
// margin). Products are kept as 256-bit values, and a quotient a*b/c as a
// mixed number q + r/c, which compares exactly with another mixed number.

struct Wide {  // 256-bit unsigned, hi:lo
  Flop hi = 0;
  Flop lo = 0;
};

Wide multiply_wide(Flop a, Flop b) {
  const Flop mask = (static_cast<Flop>(1) << 64) - 1;
  const Flop a_lo = a & mask, a_hi = a >> 64, b_lo = b & mask, b_hi = b >> 64;
  const Flop lo_lo = a_lo * b_lo, lo_hi = a_lo * b_hi, hi_lo = a_hi * b_lo, hi_hi = a_hi * b_hi;
  const Flop middle = (lo_lo >> 64) + (lo_hi & mask) + (hi_lo & mask);
  Wide product;
  product.lo = (lo_lo & mask) | (middle << 64);
  product.hi = hi_hi + (lo_hi >> 64) + (hi_lo >> 64) + (middle >> 64);
  return product;
}

int compare_wide(const Wide& a, const Wide& b) {
  if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
  if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
  return 0;
}

// whole + remainder / divisor, with remainder < divisor. `overflow`: the whole
// part does not fit in 128 bits (the value is larger than any threshold).
struct Mixed {
  Flop whole = 0;
  Flop remainder = 0;
  Flop divisor = 1;
  bool overflow = false;
};

// a * b / c exactly. REQUIRES: c > 0.
Mixed multiply_divide(Flop a, Flop b, Flop c) {
  const Wide product = multiply_wide(a, b);
  Mixed out;
  out.divisor = c;
  // Binary long division of the 256-bit product by c, most significant bit
  // first. `carry` holds the 129th bit of the running remainder.
  Flop quotient = 0, remainder = 0;
  for (int bit = 255; bit >= 0; --bit) {
    const Flop word = bit >= 128 ? product.hi : product.lo;
    const Flop next = (word >> (bit % 128)) & 1;
    const bool carry = (remainder >> 127) != 0;
    remainder = (remainder << 1) | next;
    const bool quotient_carry = (quotient >> 127) != 0;
    quotient <<= 1;
    if (carry || remainder >= c) {
      remainder -= c;  // modulo 2^128, exact since the true result is < c
      quotient |= 1;
    }
    if (quotient_carry) out.overflow = true;
  }
  out.whole = quotient;
  out.remainder = remainder;
  return out;
}

Mixed from_fraction(const Fraction& f) { return Mixed{f.num / f.den, f.num % f.den, f.den, false}; }

int compare_mixed(const Mixed& a, const Mixed& b) {
  if (a.overflow != b.overflow) return a.overflow ? 1 : -1;
  if (a.whole != b.whole) return a.whole < b.whole ? -1 : 1;
  // remainder_a / divisor_a <=> remainder_b / divisor_b
  return compare_wide(multiply_wide(a.remainder, b.divisor), multiply_wide(b.remainder, a.divisor));
}

Flop gcd(Flop a, Flop b) {
  while (b != 0) {
    Flop t = a % b;
    a = b;
    b = t;
  }
  return a;
}

Fraction reduced(Fraction f) {
  const Flop g = gcd(f.num, f.den);
  if (g > 1) {
    f.num /= g;
    f.den /= g;
  }
  return f;
}

Flop saturating_add(Flop a, Flop b) {
  Flop sum = 0;
  return checked_add(a, b, &sum) ? sum : kFlopMax;
}

// ---------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------

std::string scientific(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}
std::string scientific(Flop v) { return scientific(to_double(v)); }
std::string scientific(const Fraction& f) { return scientific(f.to_double()); }

// "1/3", "3/10", "1".
std::string fraction_text(const Fraction& f) {
  if (f.den == 1) return to_decimal(f.num);
  return to_decimal(f.num) + "/" + to_decimal(f.den);
}

// "30%" for 3/10.
std::string percent_text(const Fraction& f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", f.to_double() * 100.0);
  return buf;
}

// ---------------------------------------------------------------------------
// Enum names
// ---------------------------------------------------------------------------

template <typename Enum>
struct EnumName {
  Enum value;
  const char* name;
};

constexpr EnumName<RegimeStatus> kStatusNames[] = {
    {RegimeStatus::kInForce, "in_force"},      {RegimeStatus::kEnactedNotInForce, "enacted_not_in_force"},
    {RegimeStatus::kRevoked, "revoked"},       {RegimeStatus::kVetoed, "vetoed"},
    {RegimeStatus::kSuperseded, "superseded"}, {RegimeStatus::kNotConfirmed, "not_confirmed"},
};
constexpr EnumName<ComputeBasis> kBasisNames[] = {
    {ComputeBasis::kModification, "modification"},
    {ComputeBasis::kCumulative, "cumulative"},
};
constexpr EnumName<Comparison> kComparisonNames[] = {
    {Comparison::kGreaterThan, "gt"},
    {Comparison::kGreaterOrEqual, "ge"},
};
constexpr EnumName<Threshold::Kind> kThresholdKindNames[] = {
    {Threshold::Kind::kAbsolute, "absolute"},
    {Threshold::Kind::kFractionOfBase, "fraction_of_base"},
};

template <typename Enum, size_t N>
const char* name_of(const EnumName<Enum> (&table)[N], Enum value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// JSON reading with file, line, column and field in messages
// ---------------------------------------------------------------------------

using Json = nlohmann::json;

// Typed field readers over a JsonDoc with the checks rules.json needs beyond
// JsonDoc's own: non-empty strings, enumerations listing their values, exact
// decimals in strings, fractions, dates and unknown keys. Fields are
// addressed by RFC 6901 JSON pointers ("/regimes/3/id"); messages name the
// file, line, column and field ("rules.json:12:7: field 'regimes[3].id': ...").
class FieldReader : public StrictFields {
 public:
  using StrictFields::StrictFields;

  template <typename Enum, size_t N>
  Result<Enum> RequiredEnum(const Json& object, const std::string& pointer, std::string_view key,
                            const EnumName<Enum> (&table)[N]) const {
    std::vector<std::string> allowed;
    for (const auto& entry : table) allowed.emplace_back(entry.name);
    const Json* node = Member(object, key);
    if (node == nullptr) return Error(Child(pointer, key), "missing; allowed: " + join(allowed, ", "));
    if (!node->is_string()) {
      return Error(Child(pointer, key),
                   "expected a string, got " + TypeName(*node) + "; allowed: " + join(allowed, ", "));
    }
    const std::string value = node->get<std::string>();
    for (const auto& entry : table) {
      if (value == entry.name) return entry.value;
    }
    return Error(Child(pointer, key),
                 "unknown value '" + printable(value) + "'; allowed: " + join(allowed, ", "));
  }

  // A whole decimal written as a JSON string ("1e25"), exactly.
  Result<Flop> Decimal(const Json& node, const std::string& pointer) const {
    if (!node.is_string()) {
      return Error(pointer, "expected a decimal string such as \"1e25\", got " + TypeName(node));
    }
    const std::string text = node.get<std::string>();
    Result<Flop> value = parse_exact_integer(text, "");
    if (value.ok()) return value;
    // parse_exact_integer says "WHAT='TEXT': why"; keep the why.
    std::string why = value.status().message();
    const std::string prefix = "='" + text + "': ";
    if (why.rfind(prefix, 0) == 0) why = why.substr(prefix.size());
    const std::string message =
        "expected a whole decimal such as \"1e25\", got \"" + printable(text) + "\" (" + printable(why) + ")";
    if (value.status().code() == StatusCode::kOverflow) {
      return Status::Overflow(doc_.where(pointer) + ": " + message);
    }
    return Error(pointer, message);
  }

  Result<Flop> RequiredPositiveDecimal(const Json& object, const std::string& pointer,
                                       std::string_view key) const {
    const Json* node = Member(object, key);
    if (node == nullptr) return Error(Child(pointer, key), "missing (a decimal string such as \"1e25\")");
    FM_ASSIGN_OR_RETURN(Flop value, Decimal(*node, Child(pointer, key)));
    if (value == 0) return Error(Child(pointer, key), "must be greater than zero");
    return value;
  }

  // {"num": "1e23", "den": "3"}, reduced. num may be zero only if allow_zero.
  Result<Fraction> FractionAt(const Json& node, const std::string& pointer, bool allow_zero) const {
    if (!node.is_object()) {
      return Error(pointer,
                   "expected a fraction such as {\"num\": \"1e23\", \"den\": \"3\"}, got " + TypeName(node));
    }
    FM_RETURN_IF_ERROR(CheckKeys(node, pointer, {"num", "den"}));
    Fraction f;
    const Json* num = Member(node, "num");
    if (num == nullptr) return Error(Child(pointer, "num"), "missing (a decimal string such as \"1e23\")");
    FM_ASSIGN_OR_RETURN(f.num, Decimal(*num, Child(pointer, "num")));
    if (f.num == 0 && !allow_zero) return Error(Child(pointer, "num"), "must be greater than zero");
    FM_ASSIGN_OR_RETURN(f.den, RequiredPositiveDecimal(node, pointer, "den"));
    return reduced(f);
  }

  Result<Fraction> RequiredFraction(const Json& object, const std::string& pointer, std::string_view key,
                                    bool allow_zero) const {
    const Json* node = Member(object, key);
    if (node == nullptr) {
      return Error(Child(pointer, key), "missing (a fraction such as {\"num\": \"1e23\", \"den\": \"3\"})");
    }
    return FractionAt(*node, Child(pointer, key), allow_zero);
  }

  Result<std::optional<std::string>> OptionalDate(const Json& object, const std::string& pointer,
                                                  std::string_view key) const {
    FM_ASSIGN_OR_RETURN(std::optional<std::string> date, OptionalString(object, pointer, key));
    if (date && !IsDate(*date)) {
      return Error(Child(pointer, key), "expected a date YYYY-MM-DD or null, got '" + printable(*date) + "'");
    }
    return date;
  }

 private:
  static bool IsDate(const std::string& s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
    for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    const int month = (s[5] - '0') * 10 + (s[6] - '0');
    const int day = (s[8] - '0') * 10 + (s[9] - '0');
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
  }

};

const std::vector<std::string> kRootKeys = {"schema", "data_version", "regimes", "error_margin"};
const std::vector<std::string> kRegimeKeys = {
    "id",         "name",        "jurisdiction",   "legal_source",    "url",
    "status",     "status_note", "effective_from", "effective_until", "compute_basis",
    "comparison", "threshold",   "explanation", "outcomes"};
constexpr char kRulesSchema[] = "flopsmeter.rules/1";

// Every "{...}" in the template must be "{compare}".
Status CheckTemplate(const FieldReader& reader, const std::string& pointer, const std::string& text) {
  for (size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
    size_t close = text.find('}', open);
    if (close == std::string::npos) return reader.Error(pointer, "unclosed '{' in template");
    std::string placeholder = text.substr(open, close - open + 1);
    if (placeholder != "{compare}") {
      return reader.Error(pointer, "unknown placeholder " + placeholder + "; allowed: {compare}");
    }
  }
  return Status::Ok();
}

Result<Threshold> ParseThreshold(const FieldReader& reader, const Json& node, const std::string& pointer) {
  FM_RETURN_IF_ERROR(reader.RequireObject(node, pointer));
  Threshold t;
  FM_ASSIGN_OR_RETURN(t.kind, reader.RequiredEnum(node, pointer, "kind", kThresholdKindNames));
  if (t.kind == Threshold::Kind::kAbsolute) {
    FM_RETURN_IF_ERROR(reader.CheckKeys(node, pointer, {"kind", "flop"}));
    FM_ASSIGN_OR_RETURN(Flop flop, reader.RequiredPositiveDecimal(node, pointer, "flop"));
    t.absolute_flop = Fraction{flop, 1};
    return t;
  }
  FM_RETURN_IF_ERROR(
      reader.CheckKeys(node, pointer, {"kind", "fraction", "unknown_base", "unknown_base_systemic_risk"}));
  FM_ASSIGN_OR_RETURN(t.fraction, reader.RequiredFraction(node, pointer, "fraction", false));
  if (t.fraction.num > t.fraction.den) {
    return reader.Error(
        FieldReader::Child(pointer, "fraction"),
        "must be at most 1 (a share of the base model's compute), got " + fraction_text(t.fraction));
  }
  FM_ASSIGN_OR_RETURN(t.unknown_base, reader.RequiredFraction(node, pointer, "unknown_base", false));
  if (FieldReader::Member(node, "unknown_base_systemic_risk") != nullptr) {
    FM_ASSIGN_OR_RETURN(Fraction f,
                        reader.RequiredFraction(node, pointer, "unknown_base_systemic_risk", false));
    t.unknown_base_systemic_risk = f;
  }
  return t;
}

Result<Regime> ParseRegime(const FieldReader& reader, const Json& node, const std::string& pointer,
                           const std::string& origin) {
  FM_RETURN_IF_ERROR(reader.RequireObject(node, pointer));
  FM_RETURN_IF_ERROR(reader.CheckKeys(node, pointer, kRegimeKeys));
  Regime r;
  r.origin = origin;
  FM_ASSIGN_OR_RETURN(r.id, reader.RequiredId(node, pointer));
  FM_ASSIGN_OR_RETURN(r.name, reader.RequiredString(node, pointer, "name"));
  FM_ASSIGN_OR_RETURN(r.jurisdiction, reader.RequiredString(node, pointer, "jurisdiction"));
  FM_ASSIGN_OR_RETURN(r.legal_source, reader.RequiredString(node, pointer, "legal_source"));
  FM_ASSIGN_OR_RETURN(r.url, reader.RequiredString(node, pointer, "url"));
  FM_ASSIGN_OR_RETURN(r.status, reader.RequiredEnum(node, pointer, "status", kStatusNames));
  FM_ASSIGN_OR_RETURN(std::optional<std::string> note, reader.OptionalString(node, pointer, "status_note"));
  r.status_note = note.value_or("");
  FM_ASSIGN_OR_RETURN(r.effective_from, reader.OptionalDate(node, pointer, "effective_from"));
  FM_ASSIGN_OR_RETURN(r.effective_until, reader.OptionalDate(node, pointer, "effective_until"));
  if (r.effective_from && r.effective_until && *r.effective_until < *r.effective_from) {
    return reader.Error(FieldReader::Child(pointer, "effective_until"),
                        *r.effective_until + " is before effective_from " + *r.effective_from);
  }
  FM_ASSIGN_OR_RETURN(r.compute_basis, reader.RequiredEnum(node, pointer, "compute_basis", kBasisNames));
  FM_ASSIGN_OR_RETURN(r.comparison, reader.RequiredEnum(node, pointer, "comparison", kComparisonNames));
  const Json* threshold = FieldReader::Member(node, "threshold");
  if (threshold == nullptr) {
    return reader.Error(FieldReader::Child(pointer, "threshold"),
                        "missing (e.g. {\"kind\": \"absolute\", \"flop\": \"1e25\"})");
  }
  FM_ASSIGN_OR_RETURN(r.threshold,
                      ParseThreshold(reader, *threshold, FieldReader::Child(pointer, "threshold")));
  FM_ASSIGN_OR_RETURN(r.explanation, reader.RequiredString(node, pointer, "explanation"));
  FM_RETURN_IF_ERROR(CheckTemplate(reader, FieldReader::Child(pointer, "explanation"), r.explanation));
  if (const Json* outcomes = FieldReader::Member(node, "outcomes"); outcomes != nullptr) {
    const std::string at = FieldReader::Child(pointer, "outcomes");
    FM_RETURN_IF_ERROR(reader.RequireObject(*outcomes, at));
    FM_RETURN_IF_ERROR(reader.CheckKeys(*outcomes, at, {"exceeds", "below"}));
    FM_ASSIGN_OR_RETURN(r.outcome_exceeds, reader.RequiredString(*outcomes, at, "exceeds"));
    FM_ASSIGN_OR_RETURN(r.outcome_below, reader.RequiredString(*outcomes, at, "below"));
  }
  return r;
}

// ---------------------------------------------------------------------------
// Evaluation helpers
// ---------------------------------------------------------------------------

bool exceeds_mixed(const Mixed& compute, const Fraction& threshold, Comparison comparison) {
  const int c = compare_mixed(compute, from_fraction(threshold));
  return comparison == Comparison::kGreaterThan ? c > 0 : c >= 0;
}

bool exceeds_flop(Flop compute, const Fraction& threshold, Comparison comparison) {
  const int c = compare(compute, threshold);
  return comparison == Comparison::kGreaterThan ? c > 0 : c >= 0;
}

const char* compare_words(Comparison comparison) {
  return comparison == Comparison::kGreaterThan ? "greater than" : "greater than or equal to";
}

std::string fill_template(const std::string& text, Comparison comparison) {
  std::string out = text;
  const std::string placeholder = "{compare}";
  for (size_t at = out.find(placeholder); at != std::string::npos; at = out.find(placeholder, at)) {
    out.replace(at, placeholder.size(), compare_words(comparison));
    at += std::string(compare_words(comparison)).size();
  }
  return out;
}

std::string citation(const Regime& regime) {
  return "Source: " + regime.legal_source + " (" + regime.url + ").";
}

// The threshold that applies for `base`, with the basis name and a phrase
// saying how it was obtained.
struct ChosenThreshold {
  Fraction value;
  std::string basis;
  std::string how;
  std::vector<std::string> warnings;
};

ChosenThreshold choose_threshold(const Threshold& t, const BaseCompute& base) {
  ChosenThreshold out;
  if (t.kind == Threshold::Kind::kAbsolute) {
    out.value = t.absolute_flop;
    out.basis = "absolute";
    out.how = "fixed threshold";
    return out;
  }
  if (base.flop) {
    // fraction x base = base * num / den, reduced so the product fits.
    const Flop g = gcd(*base.flop, t.fraction.den);
    const Flop base_part = *base.flop / g, den = t.fraction.den / g;
    Flop num = 0;
    if (checked_mul(base_part, t.fraction.num, &num)) {
      out.value = reduced(Fraction{num, den});
    } else {
      // Only for a base above ~1e38 FLOP; keep the integer part.
      const Mixed m = multiply_divide(*base.flop, t.fraction.num, t.fraction.den);
      out.value = Fraction{m.whole, 1};
      out.warnings.push_back("threshold rounded down to a whole FLOP: " + fraction_text(t.fraction) +
                             " of the base compute does not fit in 128 bits exactly");
    }
    out.basis = "known_one_third";
    out.how = fraction_text(t.fraction) + " of the base model's " + scientific(*base.flop) + " FLOP (" +
              (base.source.empty() ? std::string("source not given") : base.source) + ")";
    return out;
  }
  if (base.systemic_risk) {
    if (t.unknown_base_systemic_risk) {
      out.value = *t.unknown_base_systemic_risk;
      out.basis = "unknown_systemic_risk";
      out.how = "base compute unknown; default for a base model with systemic risk";
      return out;
    }
    out.warnings.push_back(
        "the base model has systemic risk but this regime gives no threshold for that case; "
        "the lower default for an unknown base is used");
  }
  out.value = t.unknown_base;
  out.basis = "unknown_gpai";
  out.how = "base compute unknown; default for a general-purpose AI base model";
  return out;
}

// The compute a regime compares for a given modification figure: the
// modifier's earlier modifications and this one (summed, the cautious
// reading), plus the base for a cumulative regime.
Flop compute_for(const Regime& regime, const RuleInput& input, Flop modification) {
  Flop total = saturating_add(input.prior_modifications_flop, modification);
  if (regime.compute_basis == ComputeBasis::kCumulative && input.base.flop) {
    total = saturating_add(total, *input.base.flop);
  }
  return total;
}

// The regime's status_note can be a paragraph; it stays in Regime for the
// report, and the warning says only what the status means.
std::string status_warning(const Regime& regime) {
  switch (regime.status) {
    case RegimeStatus::kRevoked:
    case RegimeStatus::kVetoed:
    case RegimeStatus::kSuperseded:
      return std::string(regime_status_name(regime.status)) +
             ": historical; shown for reference only, it does not apply";
    case RegimeStatus::kNotConfirmed:
      return "not confirmed: the figure or status of this regime is not confirmed by a primary source; "
             "treat the result as indicative";
    case RegimeStatus::kEnactedNotInForce:
      return "enacted but not yet in force" +
             (regime.effective_from ? " (effective " + *regime.effective_from + ")" : std::string());
    case RegimeStatus::kInForce:
      break;
  }
  return "";
}

// Sets the compared compute and the verdict. A known modification is
// compared as it is; an undetermined one leaves the verdict open unless what
// is known without it (the base and earlier modifications) already exceeds,
// or an upper bound of it does not.
void decide(const Regime& regime, const RuleInput& input, RuleResult& r) {
  const bool cumulative = regime.compute_basis == ComputeBasis::kCumulative;
  const bool base_missing = cumulative && !input.base.flop;
  const bool part_missing = base_missing || !input.prior_modifications_undetermined.empty();
  if (cumulative && input.base.flop) r.base_alone_exceeds = exceeds_flop(*input.base.flop, r.threshold, regime.comparison);
  if (!input.modification_undetermined) {
    r.compute_flop = compute_for(regime, input, input.modification_flop);
    r.verdict = exceeds_flop(r.compute_flop, r.threshold, regime.comparison) ? Verdict::kExceeds
                : part_missing                                               ? Verdict::kUndetermined
                                                                             : Verdict::kBelow;
    if (r.verdict != Verdict::kUndetermined) r.decided_by = "compliance figure";
  } else {
    r.compute_flop = compute_for(regime, input, 0);  // the known part
    r.verdict = Verdict::kUndetermined;
    if ((cumulative || input.prior_modifications_flop > 0) &&
        exceeds_flop(r.compute_flop, r.threshold, regime.comparison)) {
      r.verdict = Verdict::kExceeds;
      r.decided_by = !cumulative ? "earlier modifications"
                     : input.prior_modifications_flop > 0 ? "base model and earlier modifications"
                                                          : "base model alone";
    } else if (input.modification_upper_bound && !part_missing) {
      const Flop bound = compute_for(regime, input, *input.modification_upper_bound);
      if (!exceeds_flop(bound, r.threshold, regime.comparison)) {
        r.compute_flop = bound;
        r.verdict = Verdict::kBelow;
        r.decided_by = input.upper_bound_name;
      }
    }
  }
  r.exceeds = r.verdict == Verdict::kExceeds;
  r.determinate = r.verdict != Verdict::kUndetermined;
  r.open_for_base = !r.determinate && base_missing;
  if (!cumulative && input.prior_modifications_flop > 0 && !input.modification_undetermined) {
    r.single_run_flop = input.modification_flop;
    r.single_run_exceeds = exceeds_flop(input.modification_flop, r.threshold, regime.comparison);
  }
}

RuleResult evaluate_regime(const RuleSet& rules, const Regime& regime, const RuleInput& input) {
  RuleResult r;
  r.regime_id = regime.id;
  r.name = regime.name;
  r.jurisdiction = regime.jurisdiction;
  r.status = regime.status;
  r.in_force = regime.status == RegimeStatus::kInForce;
  r.compute_basis = regime.compute_basis;
  r.comparison = regime.comparison;

  ChosenThreshold chosen = choose_threshold(regime.threshold, input.base);
  r.threshold = chosen.value;
  r.threshold_basis = chosen.basis;
  r.warnings = std::move(chosen.warnings);

  decide(regime, input, r);
  if (r.determinate) r.outcome = r.exceeds ? regime.outcome_exceeds : regime.outcome_below;
  if (r.compute_flop == kFlopMax) r.warnings.push_back("compute figure saturated at 2^128 - 1 FLOP");
  const bool base_missing = regime.compute_basis == ComputeBasis::kCumulative && !input.base.flop;
  r.fraction_of_threshold = to_double(r.compute_flop) / r.threshold.to_double();

  // The smallest integer compute with the opposite verdict.
  Flop first_exceeding = 0;
  bool reachable = true;
  if (regime.comparison == Comparison::kGreaterThan) {
    reachable = checked_add(floor(r.threshold), 1, &first_exceeding);
  } else {
    first_exceeding = ceil(r.threshold);
  }
  if (!reachable) first_exceeding = kFlopMax;
  const bool figures_known = !input.modification_undetermined;
  r.headroom_flop = r.exceeds || !figures_known || r.compute_flop >= first_exceeding ? 0 : first_exceeding - r.compute_flop;
  if (figures_known && input.tokens > 0 && input.modification_flop > 0) {
    const Mixed tokens = multiply_divide(r.headroom_flop, input.tokens, input.modification_flop);
    if (!tokens.overflow) r.headroom_tokens = tokens.whole;
  }
  if (r.exceeds && first_exceeding > 0) {
    r.excess_flop = r.compute_flop - (first_exceeding - 1);
    // Cutting this run helps only when it carries the whole excess.
    if (figures_known && input.tokens > 0 && input.modification_flop > 0 && r.excess_flop <= input.modification_flop) {
      const Mixed cut = multiply_divide(r.excess_flop, input.tokens, input.modification_flop);
      if (!cut.overflow) r.tokens_to_cut = cut.whole + (cut.remainder > 0 ? 1 : 0);
    }
  }

  // Explanation: the rule, this run's figures, the verdict, the source.
  std::string verdict = r.exceeds ? "exceeds" : "does not exceed";
  if (!r.determinate) {
    verdict = figures_known ? "the known part does not exceed; the total is unknown"
                            : "undetermined: " + input.undetermined_reason;
  } else if (!figures_known) {
    verdict += " (decided by the " + r.decided_by + ")";
  }
  std::string text = fill_template(regime.explanation, regime.comparison) +
                     " This run: " + scientific(r.compute_flop) + " FLOP (" +
                     compute_basis_name(regime.compute_basis);
  if (regime.compute_basis == ComputeBasis::kCumulative) {
    text += input.base.flop ? ": base + earlier modifications + this run"
                            : ": earlier modifications + this run; base compute unknown, a lower bound";
  } else if (input.prior_modifications_flop > 0) {
    text += ": the modifier's earlier modifications + this run, summed (the cautious reading; this run alone " +
            scientific(input.modification_flop) + " FLOP " + (r.single_run_exceeds ? "exceeds" : "does not exceed") +
            ")";
  }
  char percent[48];
  std::snprintf(percent, sizeof percent, "%.4g%%", r.fraction_of_threshold * 100.0);
  text += ") against " + scientific(r.threshold) + " FLOP (" + chosen.how + ", " +
          comparison_name(regime.comparison) + "): " + verdict + " (" + percent + " of the threshold";
  if (!r.exceeds && figures_known) {
    text += "; headroom " + scientific(r.headroom_flop) + " FLOP";
    if (r.headroom_tokens) {
      text += ", about " + scientific(*r.headroom_tokens) +
              " more training tokens at this run's average FLOP per token";
    }
    if (!r.determinate) text += ", an upper bound";
  }
  text += "). " + citation(regime);
  r.explanation = std::move(text);

  // Warnings, most decisive first.
  const std::string status_text = status_warning(regime);
  if (!status_text.empty()) r.warnings.insert(r.warnings.begin(), status_text);
  if (!input.prior_modifications_undetermined.empty()) {
    r.warnings.push_back("the compute of an earlier modification is undetermined (" +
                         input.prior_modifications_undetermined + "): the compared figure is a lower bound");
  }
  if (base_missing) {
    r.warnings.push_back(
        "base model compute unknown: the cumulative figure counts only earlier modifications and "
        "this run, a lower bound; give the base compute (option \"pretrain-flops\") to decide");
  }

  if (!figures_known) return r;  // the checks below weigh a figure nobody has

  // (a) Error margin: the verdict at compute x (1 - m) and at compute x (1 + m).
  const Fraction& m = rules.error_margin;
  if (m.num > 0 && m.num < m.den) {
    const bool low =
        exceeds_mixed(multiply_divide(r.compute_flop, m.den - m.num, m.den), r.threshold, regime.comparison);
    const Flop high_factor = saturating_add(m.den, m.num);
    const bool high =
        exceeds_mixed(multiply_divide(r.compute_flop, high_factor, m.den), r.threshold, regime.comparison);
    if (low != high) {
      r.within_error_margin = true;
      const std::string pct = percent_text(m);
      r.warnings.push_back("within the " + pct + " error margin: the estimate " + scientific(r.compute_flop) +
                           " FLOP off by " + pct + " either way (" +
                           scientific(to_double(r.compute_flop) * (1.0 - m.to_double())) + " to " +
                           scientific(to_double(r.compute_flop) * (1.0 + m.to_double())) +
                           ") straddles the threshold " + scientific(r.threshold) +
                           " FLOP; document the method and its uncertainty (EU Guidelines Annex A.2)");
    }
  }

  // (b) Another formula that would give the other verdict.
  for (const auto& [formula, figure] : input.other_formulas) {
    if (formula == input.formula_name) continue;
    const bool other = exceeds_flop(compute_for(regime, input, figure), r.threshold, regime.comparison);
    if (other != r.exceeds) {
      const std::string used =
          input.formula_name.empty() ? "the chosen formula" : "'" + input.formula_name + "'";
      r.warnings.push_back(
          "formula '" + formula + "' gives " + scientific(figure) + " FLOP and " +
          (other ? "would exceed" : "would not exceed") + " the threshold; this result uses " + used + " (" +
          scientific(input.modification_flop) + " FLOP), which " + (r.exceeds ? "does" : "does not"));
    }
  }
  return r;
}

// Python's f"{x: .2e}".
std::string python_space_2e(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "% .2e", v);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------

const char* regime_status_name(RegimeStatus status) { return name_of(kStatusNames, status); }

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kBelow: return "below";
    case Verdict::kExceeds: return "exceeds";
    case Verdict::kUndetermined: return "undetermined";
  }
  return "undetermined";
}

bool concerns_modifier(const RuleResult& result) {
  return result.in_force && (result.compute_basis == ComputeBasis::kModification || !result.base_alone_exceeds);
}
const char* compute_basis_name(ComputeBasis basis) { return name_of(kBasisNames, basis); }
const char* comparison_name(Comparison comparison) { return name_of(kComparisonNames, comparison); }

bool is_historical(RegimeStatus status) {
  return status == RegimeStatus::kRevoked || status == RegimeStatus::kVetoed ||
         status == RegimeStatus::kSuperseded;
}

Result<RuleSet> parse_rules(std::string_view json_text, std::string origin) {
  try {
    FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(json_text, origin));
    const FieldReader reader(doc);
    const Json& root = doc.root;
    FM_RETURN_IF_ERROR(reader.RequireObject(root, ""));
    FM_RETURN_IF_ERROR(reader.CheckKeys(root, "", kRootKeys));
    RuleSet rules;
    FM_ASSIGN_OR_RETURN(std::string schema, reader.RequiredString(root, "", "schema"));
    if (schema != kRulesSchema) {
      return reader.Error(
          "/schema", "unsupported schema '" + printable(schema) + "'; expected \"" + kRulesSchema + "\"");
    }
    FM_ASSIGN_OR_RETURN(rules.data_version, reader.RequiredString(root, "", "data_version"));
    if (FieldReader::Member(root, "error_margin") != nullptr) {
      FM_ASSIGN_OR_RETURN(rules.error_margin, reader.RequiredFraction(root, "", "error_margin", true));
      if (rules.error_margin.num >= rules.error_margin.den) {
        return reader.Error("/error_margin", "must be below 1, got " + fraction_text(rules.error_margin));
      }
      rules.error_margin_from_file = true;
    }
    const Json* regimes = FieldReader::Member(root, "regimes");
    if (regimes == nullptr) return reader.Error("/regimes", "missing (an array of regimes is required)");
    if (!regimes->is_array() || regimes->empty()) {
      return reader.Error("/regimes", "expected a non-empty array of regimes");
    }
    std::map<std::string, size_t> first_index;
    for (size_t i = 0; i < regimes->size(); ++i) {
      const std::string pointer = FieldReader::Index("/regimes", i);
      FM_ASSIGN_OR_RETURN(Regime regime, ParseRegime(reader, (*regimes)[i], pointer, origin));
      auto [it, inserted] = first_index.emplace(regime.id, i);
      if (!inserted) {
        return reader.Error(
            FieldReader::Child(pointer, "id"),
            "duplicate id '" + regime.id + "' (first at regimes[" + std::to_string(it->second) + "])");
      }
      rules.regimes.push_back(std::move(regime));
    }
    return rules;
  } catch (const std::exception& e) {
    return Status::Internal(origin + ": unexpected error while reading rules: " + e.what());
  }
}

RuleSet merge_rules(const RuleSet& base, const RuleSet& overrides) {
  RuleSet merged = base;
  merged.data_version = base.data_version + "+" + overrides.data_version;
  if (overrides.error_margin_from_file) {
    merged.error_margin = overrides.error_margin;
    merged.error_margin_from_file = true;
  }
  for (const Regime& regime : overrides.regimes) {
    replace_or_append_by_id(merged.regimes, regime);
  }
  return merged;
}

const Regime* find_regime(const RuleSet& rules, std::string_view id) {
  for (const Regime& regime : rules.regimes) {
    if (regime.id == id) return &regime;
  }
  return nullptr;
}

std::vector<RuleResult> evaluate_rules(const RuleSet& rules, const RuleInput& input) {
  std::vector<RuleResult> results;
  results.reserve(rules.regimes.size());
  for (const Regime& regime : rules.regimes) results.push_back(evaluate_regime(rules, regime, input));
  return results;
}

Result<ModificationThreshold> eu_modification_threshold(const RuleSet& rules, const BaseCompute& base) {
  const Regime* regime = find_regime(rules, "eu_modification");
  if (regime == nullptr) {
    return Status::NotFound("rules (" + rules.data_version + ") have no regime with id 'eu_modification'");
  }
  if (regime->threshold.kind != Threshold::Kind::kFractionOfBase) {
    return Status::Unsupported("regime 'eu_modification' (" + regime->origin +
                               ") has an absolute threshold; expected kind fraction_of_base");
  }
  ChosenThreshold chosen = choose_threshold(regime->threshold, base);
  ModificationThreshold out;
  out.threshold_flop = chosen.value;
  out.basis = chosen.basis;
  out.explanation = "Modification compute " + std::string(compare_words(regime->comparison)) + " " +
                    scientific(chosen.value) + " FLOP (" + chosen.how + ") makes the modifier the provider " +
                    "of a new model. " + citation(*regime);
  for (const std::string& w : chosen.warnings) out.explanation += " Note: " + w + ".";
  return out;
}

Result<BaseCompute> parse_pretrain_flops(std::string_view text, std::string source) {
  const bool has_control = std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7F;
  });
  if (has_control) {
    return Status::InvalidArgument(source + "='" + printable(text) +
                                   "': not a number; expected e.g. 8.4e22 (finite, positive, decimal)");
  }
  Result<Flop> value = parse_exact_integer(text, source);
  if (!value.ok()) return value.status();
  if (*value == 0) {
    return Status::InvalidArgument(
        source + "='" + std::string(text) +
        "': must be greater than zero (the base model's training compute in FLOP)");
  }
  BaseCompute base;
  base.flop = *value;
  base.source = std::move(source);
  return base;
}

AwsCompatResult evaluate_aws_compat(double modification_flop, std::optional<double> pretrain_flop) {
  // Constants and branches as in flops_meter.py's determine_compliance_threshold().
  constexpr double kGpaiThreshold = 1e23;
  constexpr double kDefaultThreshold = 3.3e22;
  AwsCompatResult out;
  // Python: `not pretrain_flops or pretrain_flops <= 0 or pretrain_flops < 1e23`.
  // A NaN fails all three tests and takes the second branch.
  const bool use_default = !pretrain_flop || *pretrain_flop <= 0 || *pretrain_flop < kGpaiThreshold;
  out.uses_default = use_default;
  if (use_default) {
    out.threshold_type = "default_3.3e22";
    out.threshold_value = kDefaultThreshold;
    out.effective_threshold_flop = kDefaultThreshold;
  } else {
    out.threshold_type = "30pct_of_actual_pretraining";
    out.threshold_value = *pretrain_flop;
    out.effective_threshold_flop = 0.30 * *pretrain_flop;
  }
  // on_train_end: `if comparison_threshold and comparison_threshold > 0` (NaN fails).
  if (out.threshold_value > 0) {
    out.pct_of_pretrain = modification_flop / out.threshold_value;
    out.exceeds_30pct = use_default ? modification_flop > out.threshold_value : *out.pct_of_pretrain > 0.30;
  }
  out.threshold_value_text = python_space_2e(out.threshold_value);
  // `f"{self.pretrain_flops: .2e}" if self.pretrain_flops else None`: 0 and None give null.
  if (pretrain_flop && *pretrain_flop != 0.0) out.flops_original_text = python_space_2e(*pretrain_flop);
  return out;
}

}  // namespace flopsmeter
