// Compute-based regulatory rules and how a fine-tuning run stands against them.
//
// A RuleSet is the parsed form of data/rules.json (see docs/data-formats.md):
// one Regime per legal threshold (the EU AI Act's "downstream modifier becomes
// a provider" rule, its systemic-risk presumption, California SB 53, ...),
// each with its legal source, status and an exact threshold. evaluate_rules()
// compares one run's compute with every regime exactly: 128-bit integers
// against fractions, so "exactly at the threshold" and "one FLOP above" are
// decided without rounding.
//
//   flopsmeter::Result<flopsmeter::RuleSet> rules =
//       flopsmeter::parse_rules(text, "rules.json");
//   if (!rules.ok()) return rules.status();
//   flopsmeter::RuleInput in;
//   in.modification_flop = *flopsmeter::parse_exact_integer("2.9e22", "run");  // FLOP
//   in.base = *flopsmeter::parse_pretrain_flops("9e22", "PRETRAIN_FLOPS");
//   for (const flopsmeter::RuleResult& r : flopsmeter::evaluate_rules(*rules, in)) {
//     // r.exceeds == false for eu_modification: 2.9e22 <= 9e22 / 3 = 3e22
//   }
//
// Units: every *_flop figure is a count of floating-point operations (FLOP),
// never a rate (FLOP/s). Thresholds are FLOP as exact fractions (1e23/3).
//
// This file also reproduces the AWS Fine-Tuning FLOPs Meter's threshold rule
// (evaluate_aws_compat) so that users migrating from it can compare. That
// rule is not the law: see shared reference aws-flops-meter.md, defect 3.
//
// Errors: parsing returns a Status naming the origin and field, e.g.
//   "rules.json: regimes[3].threshold.flop: expected a decimal string such as \"1e25\"".
// Evaluation cannot fail; what it cannot decide it says in `warnings` and
// `determinate`. No function here throws.
//
// Thread safety: every function is pure (no I/O, no global state) and may be
// called concurrently; RuleSet and the result structs are plain values.
#ifndef FLOPSMETER_RULES_H_
#define FLOPSMETER_RULES_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flopsmeter/exact.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// ---------------------------------------------------------------------------
// Rules data (data/rules.json)
// ---------------------------------------------------------------------------

// Legal status of a regime, as the file's "status" strings.
enum class RegimeStatus {
  kInForce,            // "in_force": the rule applies now
  kEnactedNotInForce,  // "enacted_not_in_force": passed, not yet applicable
  kRevoked,            // "revoked": historical only
  kVetoed,             // "vetoed": historical only
  kSuperseded,         // "superseded": historical only
  kNotConfirmed,       // "not_confirmed": figure or status lacks a primary source
};
// "in_force", "enacted_not_in_force", ...
const char* regime_status_name(RegimeStatus status);
// True for revoked, vetoed and superseded: shown for reference, never applied.
bool is_historical(RegimeStatus status);

// Which compute a regime compares with its threshold.
enum class ComputeBasis {
  kModification,  // "modification": the fine-tuning compute alone
  kCumulative,    // "cumulative": base model + earlier modifications + this run
};
const char* compute_basis_name(ComputeBasis basis);  // "modification" | "cumulative"

// How the legal text compares compute with the threshold.
enum class Comparison {
  kGreaterThan,     // "gt": exactly at the threshold does not exceed it
  kGreaterOrEqual,  // "ge": exactly at the threshold meets it
};
const char* comparison_name(Comparison comparison);  // "gt" | "ge"

// A regime's threshold, in FLOP.
struct Threshold {
  enum class Kind {
    kAbsolute,        // "absolute": `absolute_flop`
    kFractionOfBase,  // "fraction_of_base": `fraction` x the base model's compute
  };
  Kind kind = Kind::kAbsolute;
  Fraction absolute_flop;  // kAbsolute only. FLOP, > 0.
  // kFractionOfBase only:
  Fraction fraction;      // share of the base model's training compute, in (0, 1]
  Fraction unknown_base;  // FLOP used when the base compute is unknown (1e23/3)
  // FLOP used when the base compute is unknown and the base model has systemic
  // risk (1e25/3). Absent: unknown_base is used, with a warning.
  std::optional<Fraction> unknown_base_systemic_risk;
};

struct Regime {
  std::string id;            // stable key, e.g. "eu_modification"; unique in a RuleSet
  std::string name;          // human-readable title
  std::string jurisdiction;  // "EU", "US-CA", ...
  std::string legal_source;  // citation, never empty
  std::string url;           // where the source can be read
  RegimeStatus status = RegimeStatus::kInForce;
  std::string status_note;                     // "" when the file has none
  std::optional<std::string> effective_from;   // "YYYY-MM-DD"
  std::optional<std::string> effective_until;  // "YYYY-MM-DD"
  ComputeBasis compute_basis = ComputeBasis::kModification;
  Comparison comparison = Comparison::kGreaterThan;
  Threshold threshold;
  // Sentence with the placeholder {compare}, filled with "greater than" or
  // "greater than or equal to" per `comparison`.
  std::string explanation;
  // What each verdict means for the person who ran the job, from the file's
  // optional "outcomes" ("you become the provider of a new general-purpose
  // AI model"); empty when the file has none.
  std::string outcome_exceeds;
  std::string outcome_below;
  std::string origin;  // the file this entry was read from (parse_rules' origin)
};

struct RuleSet {
  std::string data_version;     // e.g. "2026-11-23"
  std::vector<Regime> regimes;  // file order; ids unique
  // Overall accuracy the EU Guidelines (Annex A.2) accept for an estimate.
  // From the file's optional "error_margin" fraction; 3/10 when absent.
  Fraction error_margin{3, 10};
  bool error_margin_from_file = false;  // false: the 3/10 default above
};

// Parses and validates a rules file. `origin` names it in messages (a path or
// "rules.json"). Strict: required fields present with the right JSON types,
// enum strings from the allowed lists (the error lists them), thresholds and
// fractions as decimal strings ("1e25", {"num": "1e23", "den": "3"}) that are
// positive and whole, fractions of base in (0, 1], dates as YYYY-MM-DD, ids
// unique, explanation placeholders limited to {compare}, schema
// "flopsmeter.rules/1", unknown keys rejected (keys starting with '_' are
// comments and ignored).
// Errors: kParseError naming origin and field path; kOverflow for a number
// beyond 128 bits.
Result<RuleSet> parse_rules(std::string_view json_text, std::string origin);

// A user's override file on top of the shipped rules: a regime of `overrides`
// replaces the base regime with the same id in place; new ids are appended in
// the override's order. data_version becomes "BASE+OVERRIDE"; the override's
// error_margin wins when its file states one.
RuleSet merge_rules(const RuleSet& base, const RuleSet& overrides);

// The regime with `id`, or nullptr. The pointer lives as long as `rules`.
const Regime* find_regime(const RuleSet& rules, std::string_view id);

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

// The base model's own training compute, when known.
struct BaseCompute {
  std::optional<Flop> flop;    // FLOP; nullopt: not published and not given
  std::string source;          // where `flop` came from ("PRETRAIN_FLOPS", a catalog entry)
  bool systemic_risk = false;  // the base model is a GPAI model with systemic risk
};

struct RuleInput {
  Flop modification_flop = 0;  // this run's compute, FLOP (from `formula_name`)
  // The modification's compute could not be established (a run that trained
  // steps but counted no tokens): `modification_flop` is then meaningless,
  // and a verdict is reached only where it does not depend on it (a base
  // that alone exceeds a cumulative threshold) or through
  // `modification_upper_bound`.
  bool modification_undetermined = false;
  std::string undetermined_reason;  // why, in words; shown with every verdict it leaves open
  // A figure known to be at least the modification's compute (the hardware
  // bound of a run whose GPUs were all sampled). With an undetermined
  // modification, a regime that this figure does not exceed is decided
  // "below" by it.
  std::optional<Flop> modification_upper_bound;
  std::string upper_bound_name;  // e.g. "hardware bound"
  BaseCompute base;
  // Earlier modifications by the same modifier since the original model
  // (the ledger sums them; --prior-modifications gives them), FLOP. Whether
  // several modifications by one modifier add up is not settled by the
  // Guidelines: they are summed into every regime (the cautious reading),
  // and a modification-based regime shows this run alone beside it
  // (RuleResult::single_run_flop).
  Flop prior_modifications_flop = 0;
  // Non-empty: why the compute of some earlier modification is unknown
  // (a ledger run that counted no tokens). prior_modifications_flop is then
  // the known part, a lower bound, and a verdict it does not reach on its
  // own stays undetermined.
  std::string prior_modifications_undetermined;
  Flop tokens = 0;  // training tokens of this run; 0: unknown (no token headroom)
  // Other formulas' figures for the same run (name -> FLOP). A formula whose
  // figure would give a different verdict is named in a warning.
  std::vector<std::pair<std::string, Flop>> other_formulas;
  std::string formula_name;  // which formula modification_flop comes from
};

// A regime's verdict for one run.
enum class Verdict {
  kBelow,         // the compared compute does not exceed the threshold
  kExceeds,       // it exceeds
  kUndetermined,  // it depends on a figure nobody has (see RuleResult::determinate)
};
const char* verdict_name(Verdict verdict);  // "below" | "exceeds" | "undetermined"

struct RuleResult {
  std::string regime_id;
  std::string name;
  std::string jurisdiction;
  // What the verdict means for the person who ran the job, in the rules'
  // own words (Regime::outcome_exceeds / outcome_below); "" when the rules
  // give none or the verdict is undetermined.
  std::string outcome;
  RegimeStatus status = RegimeStatus::kInForce;
  bool in_force = false;  // status == kInForce; historical regimes never are
  Fraction threshold;     // FLOP, exact
  // "absolute"; "known_one_third" (threshold = fraction x the known base
  // compute, whatever the fraction); "unknown_gpai" (base unknown);
  // "unknown_systemic_risk" (base unknown, base has systemic risk).
  std::string threshold_basis;
  // FLOP compared: the modification, or base + prior + modification for a
  // cumulative regime (prior + modification when the base is unknown, a lower
  // bound). Saturates at the 128-bit maximum, with a warning.
  Flop compute_flop = 0;
  ComputeBasis compute_basis = ComputeBasis::kModification;
  Comparison comparison = Comparison::kGreaterThan;
  bool exceeds = false;  // exact comparison of compute_flop with threshold
  // False when the verdict depends on a figure nobody has: a cumulative regime
  // whose base compute is unknown, and whose known part does not exceed; or
  // an undetermined modification that no upper bound decides.
  bool determinate = true;
  Verdict verdict = Verdict::kBelow;  // exceeds / determinate as one value
  // Undetermined for want of the base model's compute alone (a cumulative
  // regime with an unknown base): no figure of the run would decide it.
  bool open_for_base = false;
  // What reached the verdict: "compliance figure", the upper bound's name,
  // "base model alone", or "" when undetermined.
  std::string decided_by;
  // Cumulative regimes with a known base: the base model's own compute
  // exceeds the threshold, whatever was done to it since. Such a result is
  // the base provider's matter, context for a downstream modifier.
  bool base_alone_exceeds = false;
  double fraction_of_threshold = 0;  // compute_flop / threshold (display only)
  // FLOP still available before the verdict flips: the smallest integer
  // compute that exceeds (gt: floor(threshold) + 1; ge: ceil(threshold)) minus
  // compute_flop; 0 when it already exceeds. An upper bound when !determinate.
  Flop headroom_flop = 0;
  // headroom_flop / (modification_flop / tokens), floored: how many more
  // training tokens fit, assuming every further token costs the same FLOP as
  // this run's average. nullopt when tokens or modification_flop is 0.
  std::optional<Flop> headroom_tokens;
  // When it exceeds: FLOP above the largest compute that would not, and the
  // training tokens to cut from this run to get there at its average FLOP
  // per token (rounded up). tokens_to_cut is nullopt when cutting this run
  // cannot help (the base and earlier modifications alone exceed) or the
  // run's tokens are unknown.
  Flop excess_flop = 0;
  std::optional<Flop> tokens_to_cut;
  // The compared compute, 30% (the rules' error margin) lower or higher,
  // would give the other verdict: the Guidelines' uncertainty flag (Annex
  // A.2); a warning says so too.
  bool within_error_margin = false;
  // With earlier modifications, a modification-based regime compares their
  // sum with this run (the cautious reading); this is the reading of this
  // run alone, beside it. nullopt without earlier modifications.
  std::optional<Flop> single_run_flop;
  bool single_run_exceeds = false;
  std::string explanation;  // filled template, the figures and the citation
  // Caveats worth a reader's attention: the verdict is within the error margin,
  // another formula disagrees, the regime is historical or not confirmed, the
  // cumulative figure is a lower bound, ...
  std::vector<std::string> warnings;
};

// One result per regime of `rules`, in file order. Never fails.
std::vector<RuleResult> evaluate_rules(const RuleSet& rules, const RuleInput& input);

// Whether a result is about the modifier's own obligations: an in-force
// regime that compares the modification, or a cumulative one that the base
// model does not exceed on its own (so the modifications decide it). The
// others are context: historical or unconfirmed regimes, and thresholds the
// base model already exceeds.
bool concerns_modifier(const RuleResult& result);

// The EU modification threshold alone, for the JSON summary.
struct ModificationThreshold {
  Fraction threshold_flop;  // FLOP, exact
  std::string basis;        // "known_one_third" | "unknown_gpai" | "unknown_systemic_risk"
  std::string explanation;  // how it was derived, with the citation
};
// Uses the regime with id "eu_modification".
// Errors: kNotFound when `rules` has no such regime; kUnsupported when its
// threshold is not of kind fraction_of_base.
Result<ModificationThreshold> eu_modification_threshold(const RuleSet& rules, const BaseCompute& base);

// ---------------------------------------------------------------------------
// PRETRAIN_FLOPS / --pretrain-flops
// ---------------------------------------------------------------------------

// Validates a user-given base compute: a finite, positive, whole decimal
// ("8.4e22", "1e23", "650000000000000000000000"). `source` names the input in
// the error and becomes BaseCompute::source.
// Errors: kInvalidArgument ("nan", "inf", "-1", "0", "abc", "", "1.5"),
// kOverflow ("1e400"); each message starts with "SOURCE='TEXT': ".
Result<BaseCompute> parse_pretrain_flops(std::string_view text, std::string source);

// ---------------------------------------------------------------------------
// AWS Fine-Tuning FLOPs Meter compatibility
// ---------------------------------------------------------------------------

// What the AWS toolkit's flops_meter.py (determine_compliance_threshold and
// FlopsMeterCallback.on_train_end) computes, reproduced in the same double
// arithmetic, defects included:
//   * pretrain unknown, <= 0 or < 1e23: threshold 3.3e22 ("default_3.3e22");
//     pct_of_pretrain = flops / 3.3e22; exceeds_30pct = flops > 3.3e22.
//   * otherwise (NaN and +inf included, as Python's comparisons go):
//     "30pct_of_actual_pretraining"; pct_of_pretrain = flops / pretrain (a
//     ratio of the pretraining compute, not of a threshold);
//     exceeds_30pct = pct_of_pretrain > 0.30; threshold_value is the
//     pretraining compute itself, not 0.30 x it.
//   * a NaN pretrain leaves pct_of_pretrain and exceeds_30pct as None (nullopt).
// The Guidelines' rule is one third, strictly greater, with a known base below
// 1e23 and a systemic-risk path: evaluate_rules() implements that.
struct AwsCompatResult {
  std::string threshold_type;  // "default_3.3e22" | "30pct_of_actual_pretraining"
  bool uses_default = true;    // the toolkit's use_default flag
  // What the toolkit writes as threshold_value: 3.3e22, or the pretraining
  // compute (FLOP).
  double threshold_value = 0;
  // What its verdict effectively compares flops with: 3.3e22 or 0.30 x
  // pretrain (FLOP). Not written by the toolkit; for side-by-side display.
  double effective_threshold_flop = 0;
  std::optional<double> pct_of_pretrain;  // a ratio (0.5 = 50%), as the toolkit stores it
  std::optional<bool> exceeds_30pct;
  // The toolkit's strings, formatted as Python's f"{x: .2e}" (leading space):
  std::string threshold_value_text;                // " 3.30e+22"
  std::optional<std::string> flops_original_text;  // nullopt where it writes null
};
// `pretrain_flop`: nullopt when PRETRAIN_FLOPS is unset. Both in FLOP.
AwsCompatResult evaluate_aws_compat(double modification_flop, std::optional<double> pretrain_flop);

}  // namespace flopsmeter

#endif  // FLOPSMETER_RULES_H_
