// Issue 11, part 1: verdicts that misled. The gate failed every fine-tune of
// a base whose own compute passes 1e23, and said nothing; a job that would
// exceed showed "0 tokens" of headroom; a run that trained without a token
// count read "below". These tests state what the rules, the headlines and
// the gate now say, on the shipped rules.
#include "api/verdict.h"
#include "flopsmeter/rules.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

const RuleSet& rules() { return testing::builtin_catalog().rules(); }

const RuleResult& result(const std::vector<RuleResult>& results, const std::string& id) {
  for (const RuleResult& r : results)
    if (r.regime_id == id) return r;
  ADD_FAILURE() << "no regime " << id;
  std::abort();
}

RuleInput llama_8b_lora() {
  RuleInput in;
  in.modification_flop = 1'600'000'000'000'000'000ULL;  // 1.6e18
  in.tokens = 40'000'000;
  in.base.flop = *parse_exact_integer("1.224e24", "test");  // Llama 3.1 8B, PRETRAIN_FLOPS
  in.formula_name = "detailed";
  return in;
}

TEST(Issue11Verdict, AThresholdTheBaseExceedsOnItsOwnIsContextNotTheModifiersExceedance) {
  const std::vector<RuleResult> results = evaluate_rules(rules(), llama_8b_lora());
  const RuleResult& gpai = result(results, "eu_gpai_indicative");
  EXPECT_TRUE(gpai.exceeds);
  EXPECT_TRUE(gpai.base_alone_exceeds);
  EXPECT_FALSE(concerns_modifier(gpai));
  EXPECT_FALSE(gpai.tokens_to_cut) << "cutting this run cannot undo the base's compute";
  EXPECT_TRUE(concerns_modifier(result(results, "eu_modification")));
  EXPECT_FALSE(concerns_modifier(result(results, "us_eo_14110"))) << "revoked";

  const RegimeOutcomes run{"", "detailed", results, 40'000'000, false, ""};
  EXPECT_TRUE(gate_trips(GateSpec{}, {run}).empty()) << "the modifier's own obligations are met";
  auto gate = parse_gate("eu_gpai_indicative", rules());
  ASSERT_TRUE(gate.ok());
  const std::vector<GateTrip> trips = gate_trips(*gate, {run});
  ASSERT_EQ(trips.size(), 1u);
  EXPECT_EQ(gate_trip_text(trips[0]),
            "eu_gpai_indicative (formula detailed): 1.22e+24 FLOP exceeds the threshold 1.00e+23 FLOP (absolute)");

  const std::string text = verdict_text({run});
  EXPECT_EQ(text.rfind("EU eu_modification: you remain a downstream modifier", 0), 0u) << text;
  EXPECT_NE(text.find("1.60e+18 FLOP (detailed) is 0.000392% of the 4.08e+23 FLOP threshold"), std::string::npos)
      << text;
  EXPECT_NE(text.find("\ncontext: the base model alone exceeds EU eu_gpai_indicative's 1.00e+23 FLOP threshold"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("not in force (for reference only):\n  us_ny_raise [not_confirmed] 1.00e+26 FLOP, cumulative: below"),
            std::string::npos)
      << text;
}

TEST(Issue11Verdict, AnExceedingJobSaysHowManyTokensToCut) {
  RuleInput in;
  in.modification_flop = *parse_exact_integer("4e22", "test");  // base unknown: threshold 1e23/3
  in.tokens = 1'000'000'000'000;
  in.formula_name = "detailed";
  const std::vector<RuleResult> results = evaluate_rules(rules(), in);
  const RuleResult& eu = result(results, "eu_modification");
  ASSERT_TRUE(eu.exceeds);
  // The largest compute that does not exceed is floor(1e23/3); the excess is
  // 4e22 - 33333333333333333333333, cut at 4e10 FLOP per token, rounded up.
  EXPECT_EQ(to_decimal(eu.excess_flop), "6666666666666666666667");
  ASSERT_TRUE(eu.tokens_to_cut);
  EXPECT_EQ(to_decimal(*eu.tokens_to_cut), "166666666667");
  EXPECT_EQ(eu.headroom_flop, 0);
  const RegimeOutcomes job{"full", "detailed", evaluate_rules(rules(), in), in.tokens, false, ""};
  const std::string text = verdict_text({job});
  EXPECT_EQ(text.rfind("EU eu_modification: you become the provider of a new general-purpose AI model", 0), 0u) << text;
  EXPECT_NE(text.find("by 20.0%; to stay below, cut at least 166,666,666,667 training tokens (16.7% of them)"),
            std::string::npos)
      << text;
  const std::vector<GateTrip> trips = gate_trips(GateSpec{}, {job});
  ASSERT_EQ(trips.size(), 1u);
  EXPECT_EQ(gate_trip_text(trips[0]),
            "eu_modification (method full, formula detailed): 4.00e+22 FLOP exceeds the threshold 3.33e+22 FLOP "
            "(unknown_gpai)");
}

TEST(Issue11Verdict, AnUndeterminedRunIsNeverBelowUnlessABoundOrTheBaseDecides) {
  RuleInput in = llama_8b_lora();
  in.modification_flop = 0;
  in.tokens = 0;
  in.modification_undetermined = true;
  in.undetermined_reason = "120 optimizer steps ran but no tokens were counted";
  std::vector<RuleResult> results = evaluate_rules(rules(), in);
  for (const RuleResult& r : results) {
    if (r.regime_id == "eu_gpai_indicative") {
      EXPECT_EQ(r.verdict, Verdict::kExceeds) << "the base alone decides it";
      EXPECT_EQ(r.decided_by, "base model alone");
    } else {
      EXPECT_EQ(r.verdict, Verdict::kUndetermined) << r.regime_id;
      EXPECT_FALSE(r.exceeds);
      EXPECT_FALSE(r.determinate);
    }
  }
  const RegimeOutcomes run{"", "detailed", results, 0, true, in.undetermined_reason};
  const std::string text = verdict_text({run});
  EXPECT_EQ(text.rfind("UNDETERMINED (eu_modification, eu_systemic_risk, us_ca_sb53): 120 optimizer steps ran", 0), 0u)
      << text;
  const std::vector<GateTrip> trips = gate_trips(GateSpec{}, {run});
  ASSERT_FALSE(trips.empty());
  EXPECT_EQ(trips[0].verdict, Verdict::kUndetermined);

  // An upper bound that stays below decides "below", and says by what.
  in.modification_upper_bound = 5'000'000'000'000'000'000ULL;  // 5e18 FLOP of hardware bound
  in.upper_bound_name = "hardware bound";
  results = evaluate_rules(rules(), in);
  const RuleResult& eu = result(results, "eu_modification");
  EXPECT_EQ(eu.verdict, Verdict::kBelow);
  EXPECT_EQ(eu.decided_by, "hardware bound");
  const std::string bounded = verdict_text({{"", "detailed", results, 0, true, in.undetermined_reason}});
  EXPECT_NE(bounded.find("you remain a downstream modifier (no provider obligations arise from this modification); "
                         "5.00e+18 FLOP (hardware bound)"),
            std::string::npos)
      << bounded;
  EXPECT_NE(bounded.find("(the compliance figure itself is undetermined: 120 optimizer steps ran"), std::string::npos);
}

TEST(Issue11Verdict, TheGateNamesUnknownRegimesWithTheClosest) {
  auto gate = parse_gate("eu_modifcation", rules());
  ASSERT_FALSE(gate.ok());
  EXPECT_NE(gate.status().message().find("unknown regime 'eu_modifcation' to gate on; did you mean eu_modification"),
            std::string::npos)
      << gate.status().message();
  auto all = parse_gate("all", rules());
  ASSERT_TRUE(all.ok());
  for (const std::string& id : all->regime_ids) EXPECT_NE(id, "us_eo_14110") << "'all' is every regime in force";
}

}  // namespace
}  // namespace flopsmeter
