// Specification of the regulatory rules: parsing rules.json, the exact
// threshold decisions, warnings, PRETRAIN_FLOPS validation and the AWS
// toolkit's rule reproduced for comparison.
#include "flopsmeter/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/test_support.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace flopsmeter {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// An exact FLOP figure from its decimal text: F("1e23").
Flop F(const char* text) {
  Result<Flop> v = parse_exact_integer(text, "test literal");
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? *v : 0;
}

// A small rules file in the shape of data/rules.json, one regime per path the
// evaluator takes.
nlohmann::json FixtureJson() {
  return nlohmann::json::parse(R"json({
  "schema": "flopsmeter.rules/1",
  "data_version": "test-1",
  "error_margin": {"num": "3", "den": "10"},
  "_comment": "keys starting with an underscore are ignored",
  "regimes": [
    {
      "id": "eu_modification",
      "name": "EU modification",
      "jurisdiction": "EU",
      "legal_source": "Guidelines C(2025) 5045, paras 60-61",
      "url": "https://example.eu/guidelines",
      "status": "in_force",
      "status_note": "applies from 2025-08-02",
      "effective_from": "2025-08-02",
      "effective_until": null,
      "compute_basis": "modification",
      "comparison": "gt",
      "threshold": {
        "kind": "fraction_of_base",
        "fraction": {"num": "1", "den": "3"},
        "unknown_base": {"num": "1e23", "den": "3"},
        "unknown_base_systemic_risk": {"num": "1e25", "den": "3"}
      },
      "explanation": "Modification compute {compare} one third of the base model's compute makes the modifier a provider."
    },
    {
      "id": "eu_systemic_risk",
      "name": "EU systemic risk",
      "jurisdiction": "EU",
      "legal_source": "AI Act Art. 51(2)",
      "url": "https://example.eu/ai-act",
      "status": "in_force",
      "compute_basis": "cumulative",
      "comparison": "gt",
      "threshold": {"kind": "absolute", "flop": "1e25"},
      "explanation": "Cumulative compute {compare} 1e25 FLOP presumes systemic risk."
    },
    {
      "id": "kr_basic_act",
      "name": "Korea AI Basic Act",
      "jurisdiction": "KR",
      "legal_source": "Enforcement decree (draft)",
      "url": "https://example.kr/decree",
      "status": "not_confirmed",
      "status_note": "draft decree figure",
      "compute_basis": "cumulative",
      "comparison": "ge",
      "threshold": {"kind": "absolute", "flop": "1e26"},
      "explanation": "Cumulative compute {compare} 1e26 FLOP."
    },
    {
      "id": "us_eo_14110",
      "name": "US EO 14110",
      "jurisdiction": "US",
      "legal_source": "EO 14110 s. 4.2(b)",
      "url": "https://example.gov/eo14110",
      "status": "revoked",
      "status_note": "revoked 2025-01-20",
      "effective_from": "2023-10-30",
      "effective_until": "2025-01-20",
      "compute_basis": "cumulative",
      "comparison": "gt",
      "threshold": {"kind": "absolute", "flop": "1e26"},
      "explanation": "Training compute {compare} 1e26 operations."
    },
    {
      "id": "us_ca_sb1047",
      "name": "California SB 1047 fine-tune",
      "jurisdiction": "US-CA",
      "legal_source": "SB 1047 s. 22602(e)(1)(A)(ii)",
      "url": "https://example.gov/sb1047",
      "status": "vetoed",
      "compute_basis": "modification",
      "comparison": "ge",
      "threshold": {"kind": "absolute", "flop": "3e25"},
      "explanation": "Fine-tuning compute {compare} 3e25."
    },
    {
      "id": "us_ny_raise",
      "name": "New York RAISE Act",
      "jurisdiction": "US-NY",
      "legal_source": "GBL s. 1420",
      "url": "https://example.gov/raise",
      "status": "enacted_not_in_force",
      "compute_basis": "cumulative",
      "comparison": "gt",
      "threshold": {"kind": "absolute", "flop": "1e26"},
      "explanation": "Training compute {compare} 1e26."
    }
  ]
})json");
}

Result<RuleSet> ParseJson(const nlohmann::json& doc) { return parse_rules(doc.dump(2), "rules.json"); }

RuleSet FixtureRules() {
  Result<RuleSet> rules = ParseJson(FixtureJson());
  EXPECT_TRUE(rules.ok()) << rules.status().message();
  return rules.ok() ? *rules : RuleSet{};
}

// The result for one regime.
RuleResult ResultFor(const RuleSet& rules, const RuleInput& input, const std::string& id) {
  for (const RuleResult& r : evaluate_rules(rules, input)) {
    if (r.regime_id == id) return r;
  }
  ADD_FAILURE() << "no result for " << id;
  return {};
}

RuleInput WithUnknownBase(Flop modification) {
  RuleInput in;
  in.modification_flop = modification;
  return in;
}

RuleInput WithKnownBase(Flop modification, Flop base) {
  RuleInput in;
  in.modification_flop = modification;
  in.base.flop = base;
  in.base.source = "PRETRAIN_FLOPS";
  return in;
}

::testing::AssertionResult HasWarningContaining(const RuleResult& r, const std::string& text) {
  for (const std::string& w : r.warnings) {
    if (w.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  }
  std::string all;
  for (const std::string& w : r.warnings) all += "\n  " + w;
  return ::testing::AssertionFailure() << "no warning contains '" << text << "'; warnings:" << all;
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

TEST(RulesParse, ReadsEveryFieldOfARegime) {
  RuleSet rules = FixtureRules();
  EXPECT_EQ(rules.data_version, "test-1");
  ASSERT_EQ(rules.regimes.size(), 6u);
  const Regime& eu = rules.regimes[0];
  EXPECT_EQ(eu.id, "eu_modification");
  EXPECT_EQ(eu.jurisdiction, "EU");
  EXPECT_EQ(eu.legal_source, "Guidelines C(2025) 5045, paras 60-61");
  EXPECT_EQ(eu.url, "https://example.eu/guidelines");
  EXPECT_EQ(eu.status, RegimeStatus::kInForce);
  EXPECT_EQ(eu.status_note, "applies from 2025-08-02");
  EXPECT_EQ(eu.effective_from, "2025-08-02");
  EXPECT_FALSE(eu.effective_until.has_value());
  EXPECT_EQ(eu.compute_basis, ComputeBasis::kModification);
  EXPECT_EQ(eu.comparison, Comparison::kGreaterThan);
  EXPECT_EQ(eu.threshold.kind, Threshold::Kind::kFractionOfBase);
  EXPECT_TRUE(eu.threshold.fraction.num == 1 && eu.threshold.fraction.den == 3);
  EXPECT_TRUE(eu.threshold.unknown_base.num == F("1e23") && eu.threshold.unknown_base.den == 3);
  ASSERT_TRUE(eu.threshold.unknown_base_systemic_risk.has_value());
  EXPECT_TRUE(eu.threshold.unknown_base_systemic_risk->num == F("1e25"));
  EXPECT_EQ(eu.origin, "rules.json");

  const Regime& kr = rules.regimes[2];
  EXPECT_EQ(kr.status, RegimeStatus::kNotConfirmed);
  EXPECT_EQ(kr.compute_basis, ComputeBasis::kCumulative);
  EXPECT_EQ(kr.comparison, Comparison::kGreaterOrEqual);
  EXPECT_EQ(kr.threshold.kind, Threshold::Kind::kAbsolute);
  EXPECT_TRUE(kr.threshold.absolute_flop.num == F("1e26") && kr.threshold.absolute_flop.den == 1);
}

TEST(RulesParse, ErrorMarginComesFromTheFileOrDefaultsToThreeTenths) {
  RuleSet rules = FixtureRules();
  EXPECT_TRUE(rules.error_margin_from_file);
  EXPECT_TRUE(rules.error_margin.num == 3 && rules.error_margin.den == 10);

  nlohmann::json doc = FixtureJson();
  doc.erase("error_margin");
  Result<RuleSet> defaulted = ParseJson(doc);
  ASSERT_TRUE(defaulted.ok()) << defaulted.status().message();
  EXPECT_FALSE(defaulted->error_margin_from_file);
  EXPECT_TRUE(defaulted->error_margin.num == 3 && defaulted->error_margin.den == 10);

  doc["error_margin"] = {{"num", "1"}, {"den", "1"}};
  Result<RuleSet> whole = ParseJson(doc);
  ASSERT_FALSE(whole.ok());
  EXPECT_THAT(whole.status().message(), HasSubstr("field 'error_margin': must be below 1, got 1"));
}

TEST(RulesParse, StatusNamesRoundTrip) {
  EXPECT_STREQ(regime_status_name(RegimeStatus::kEnactedNotInForce), "enacted_not_in_force");
  EXPECT_STREQ(regime_status_name(RegimeStatus::kNotConfirmed), "not_confirmed");
  EXPECT_STREQ(compute_basis_name(ComputeBasis::kCumulative), "cumulative");
  EXPECT_STREQ(comparison_name(Comparison::kGreaterOrEqual), "ge");
  EXPECT_TRUE(is_historical(RegimeStatus::kRevoked));
  EXPECT_TRUE(is_historical(RegimeStatus::kVetoed));
  EXPECT_TRUE(is_historical(RegimeStatus::kSuperseded));
  EXPECT_FALSE(is_historical(RegimeStatus::kNotConfirmed));
  EXPECT_FALSE(is_historical(RegimeStatus::kEnactedNotInForce));
}

// Exact messages: file, line, column, field, and what was expected.
TEST(RulesParse, UnknownStatusListsTheAllowedValues) {
  const char* text = R"({
  "schema": "flopsmeter.rules/1",
  "data_version": "x",
  "regimes": [
    {"id": "a", "name": "A", "jurisdiction": "EU", "legal_source": "s", "url": "u",
     "status": "active", "compute_basis": "modification", "comparison": "gt",
     "threshold": {"kind": "absolute", "flop": "1e25"}, "explanation": "e"}
  ]
})";
  Result<RuleSet> rules = parse_rules(text, "rules.json");
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.status().code(), StatusCode::kParseError);
  EXPECT_EQ(rules.status().message(),
            "rules.json:6:6: field 'regimes[0].status': unknown value 'active'; allowed: in_force, "
            "enacted_not_in_force, revoked, vetoed, superseded, not_confirmed");
}

TEST(RulesParse, ThresholdAsAJsonNumberIsRejected) {
  const char* text = R"({
  "schema": "flopsmeter.rules/1",
  "data_version": "x",
  "regimes": [
    {"id": "a", "name": "A", "jurisdiction": "EU", "legal_source": "s", "url": "u",
     "status": "in_force", "compute_basis": "modification", "comparison": "gt",
     "threshold": {"kind": "absolute", "flop": 1e25}, "explanation": "e"}
  ]
})";
  Result<RuleSet> rules = parse_rules(text, "rules.json");
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.status().message(),
            "rules.json:7:40: field 'regimes[0].threshold.flop': expected a decimal string such as "
            "\"1e25\", got a number");
}

TEST(RulesParse, DuplicateIdsAreRejected) {
  nlohmann::json doc = FixtureJson();
  doc["regimes"][3]["id"] = "eu_modification";
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(),
              HasSubstr("field 'regimes[3].id': duplicate id 'eu_modification' (first at regimes[0])"));
}

TEST(RulesParse, MissingRequiredFieldsAreNamed) {
  for (const char* field : {"id", "name", "jurisdiction", "legal_source", "url", "status", "compute_basis",
                            "comparison", "threshold", "explanation"}) {
    nlohmann::json doc = FixtureJson();
    doc["regimes"][1].erase(field);
    Result<RuleSet> rules = ParseJson(doc);
    ASSERT_FALSE(rules.ok()) << field;
    EXPECT_EQ(rules.status().code(), StatusCode::kParseError);
    EXPECT_THAT(rules.status().message(),
                AllOf(HasSubstr("rules.json"), HasSubstr("field 'regimes[1]." + std::string(field) + "'"),
                      HasSubstr("missing")))
        << field;
  }
  for (const char* field : {"schema", "data_version", "regimes"}) {
    nlohmann::json doc = FixtureJson();
    doc.erase(field);
    Result<RuleSet> rules = ParseJson(doc);
    ASSERT_FALSE(rules.ok()) << field;
    EXPECT_THAT(rules.status().message(), HasSubstr("field '" + std::string(field) + "'")) << field;
  }
}

TEST(RulesParse, EmptyLegalSourceIsRejected) {
  nlohmann::json doc = FixtureJson();
  doc["regimes"][0]["legal_source"] = "";
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("field 'regimes[0].legal_source': must not be empty"));
}

TEST(RulesParse, BadEnumsAndKindsListTheAllowedValues) {
  struct Case {
    const char* field;
    const char* value;
    const char* allowed;
  };
  for (const Case& c : {Case{"compute_basis", "total", "allowed: modification, cumulative"},
                        Case{"comparison", "gte", "allowed: gt, ge"}}) {
    nlohmann::json doc = FixtureJson();
    doc["regimes"][1][c.field] = c.value;
    Result<RuleSet> rules = ParseJson(doc);
    ASSERT_FALSE(rules.ok());
    EXPECT_THAT(rules.status().message(),
                AllOf(HasSubstr("unknown value '" + std::string(c.value) + "'"), HasSubstr(c.allowed)));
  }
  nlohmann::json doc = FixtureJson();
  doc["regimes"][1]["threshold"]["kind"] = "relative";
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(),
              HasSubstr("field 'regimes[1].threshold.kind': unknown value 'relative'; allowed: absolute, "
                        "fraction_of_base"));
}

TEST(RulesParse, BadNumbersAreRejected) {
  struct Case {
    nlohmann::json flop;
    const char* expected;
  };
  const Case cases[] = {
      {"1.5", "expected a whole decimal such as \"1e25\", got \"1.5\" (not a whole number of FLOP)"},
      {"-1", "got \"-1\" (not a number"},
      {"1e25 FLOP", "got \"1e25 FLOP\" (unexpected character ' ')"},
      {"0", "must be greater than zero"},
      {"", "got \"\" (empty"},
      {nlohmann::json::array(), "expected a decimal string such as \"1e25\", got an array"},
  };
  for (const Case& c : cases) {
    nlohmann::json doc = FixtureJson();
    doc["regimes"][1]["threshold"]["flop"] = c.flop;
    Result<RuleSet> rules = ParseJson(doc);
    ASSERT_FALSE(rules.ok()) << c.flop.dump();
    EXPECT_EQ(rules.status().code(), StatusCode::kParseError);
    EXPECT_THAT(rules.status().message(),
                AllOf(HasSubstr("field 'regimes[1].threshold.flop'"), HasSubstr(c.expected)));
  }

  nlohmann::json doc = FixtureJson();
  doc["regimes"][1]["threshold"]["flop"] = "1e400";
  Result<RuleSet> huge = ParseJson(doc);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), StatusCode::kOverflow);
  EXPECT_THAT(huge.status().message(), HasSubstr("field 'regimes[1].threshold.flop'"));
}

TEST(RulesParse, BadFractionsAreRejected) {
  struct Case {
    const char* key;
    nlohmann::json value;
    const char* expected;
  };
  const Case cases[] = {
      {"fraction",
       {{"num", "1"}, {"den", "0"}},
       "field 'regimes[0].threshold.fraction.den': must be greater than zero"},
      {"fraction", {{"num", "4"}, {"den", "3"}}, "field 'regimes[0].threshold.fraction': must be at most 1"},
      {"fraction", {{"num", "1"}}, "field 'regimes[0].threshold.fraction.den': missing"},
      {"fraction", "1/3", "expected a fraction such as {\"num\": \"1e23\", \"den\": \"3\"}, got a string"},
      {"unknown_base",
       {{"num", "0"}, {"den", "3"}},
       "field 'regimes[0].threshold.unknown_base.num': must be greater than zero"},
      {"unknown_base",
       {{"num", "1e23"}, {"den", "3"}, {"note", "x"}},
       "field 'regimes[0].threshold.unknown_base.note': unknown field; allowed: num, den"},
  };
  for (const Case& c : cases) {
    nlohmann::json doc = FixtureJson();
    doc["regimes"][0]["threshold"][c.key] = c.value;
    Result<RuleSet> rules = ParseJson(doc);
    ASSERT_FALSE(rules.ok()) << c.value.dump();
    EXPECT_THAT(rules.status().message(), HasSubstr(c.expected));
  }
  nlohmann::json doc = FixtureJson();
  doc["regimes"][0]["threshold"].erase("unknown_base");
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("field 'regimes[0].threshold.unknown_base': missing"));
}

TEST(RulesParse, SystemicRiskFigureIsOptional) {
  nlohmann::json doc = FixtureJson();
  doc["regimes"][0]["threshold"].erase("unknown_base_systemic_risk");
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_TRUE(rules.ok()) << rules.status().message();
  EXPECT_FALSE(rules->regimes[0].threshold.unknown_base_systemic_risk.has_value());
}

TEST(RulesParse, UnknownFieldsAreRejectedButUnderscoreCommentsAreNot) {
  nlohmann::json doc = FixtureJson();
  doc["regimes"][2]["comparision"] = "gt";
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(),
              AllOf(HasSubstr("field 'regimes[2].comparision': unknown field; allowed: id, name,"),
                    HasSubstr("explanation")));

  doc = FixtureJson();
  doc["regimes"][2]["_why"] = "a comment";
  doc["regimes"][2]["threshold"]["_note"] = "another";
  EXPECT_TRUE(ParseJson(doc).ok());
}

TEST(RulesParse, DatesAreValidated) {
  nlohmann::json doc = FixtureJson();
  doc["regimes"][0]["effective_from"] = "2 Aug 2025";
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(
      rules.status().message(),
      HasSubstr("field 'regimes[0].effective_from': expected a date YYYY-MM-DD or null, got '2 Aug 2025'"));

  doc = FixtureJson();
  doc["regimes"][3]["effective_until"] = "2020-01-01";
  rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("2020-01-01 is before effective_from 2023-10-30"));
}

TEST(RulesParse, ExplanationPlaceholdersAreLimitedToCompare) {
  nlohmann::json doc = FixtureJson();
  doc["regimes"][1]["explanation"] = "Compute {comparison} 1e25.";
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(
      rules.status().message(),
      HasSubstr("field 'regimes[1].explanation': unknown placeholder {comparison}; allowed: {compare}"));
}

TEST(RulesParse, SchemaAndShapeAreChecked) {
  nlohmann::json doc = FixtureJson();
  doc["schema"] = "flopsmeter.rules/2";
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(),
              HasSubstr("unsupported schema 'flopsmeter.rules/2'; expected \"flopsmeter.rules/1\""));

  doc = FixtureJson();
  doc["regimes"] = nlohmann::json::array();
  EXPECT_THAT(ParseJson(doc).status().message(), HasSubstr("expected a non-empty array of regimes"));

  doc = FixtureJson();
  doc["regimes"][0]["id"] = "EU Modification";
  EXPECT_THAT(ParseJson(doc).status().message(), HasSubstr("'EU Modification' is not a valid id"));

  EXPECT_THAT(parse_rules("[]", "rules.json").status().message(), HasSubstr("expected an object"));
}

TEST(RulesParse, SyntaxErrorsGiveLineAndColumn) {
  Result<RuleSet> rules =
      parse_rules("{\n  \"schema\": \"flopsmeter.rules/1\",\n  \"regimes\": [,]\n}", "user.json");
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.status().code(), StatusCode::kParseError);
  EXPECT_THAT(rules.status().message(), HasSubstr("user.json:3:"));
}

TEST(RulesParse, DuplicateJsonKeysAreRejected) {
  Result<RuleSet> rules =
      parse_rules(R"({"schema": "flopsmeter.rules/1", "schema": "flopsmeter.rules/1"})", "rules.json");
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("rules.json:1:"));
}

TEST(RulesParse, ControlCharactersInValuesAreEscapedInMessages) {
  nlohmann::json doc = FixtureJson();
  doc["regimes"][0]["status"] = "in_force\x1b[31m";
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), AllOf(HasSubstr("in_force\\x1b[31m"), Not(HasSubstr("\x1b"))));
}

TEST(RulesMerge, OverrideReplacesSameIdInPlaceAndAppendsNewOnes) {
  RuleSet base = FixtureRules();
  nlohmann::json user = FixtureJson();
  user["data_version"] = "user-7";
  user["error_margin"] = {{"num", "1"}, {"den", "5"}};
  nlohmann::json systemic = user["regimes"][1];
  systemic["threshold"]["flop"] = "2e25";
  nlohmann::json extra = user["regimes"][1];
  extra["id"] = "company_internal";
  user["regimes"] = nlohmann::json::array({systemic, extra});
  Result<RuleSet> overrides = parse_rules(user.dump(), "/etc/flopsmeter/rules.json");
  ASSERT_TRUE(overrides.ok()) << overrides.status().message();

  RuleSet merged = merge_rules(base, *overrides);
  EXPECT_EQ(merged.data_version, "test-1+user-7");
  ASSERT_EQ(merged.regimes.size(), 7u);
  EXPECT_EQ(merged.regimes[1].id, "eu_systemic_risk");
  EXPECT_TRUE(merged.regimes[1].threshold.absolute_flop.num == F("2e25"));
  EXPECT_EQ(merged.regimes[1].origin, "/etc/flopsmeter/rules.json");
  EXPECT_EQ(merged.regimes[0].origin, "rules.json");
  EXPECT_EQ(merged.regimes[6].id, "company_internal");
  EXPECT_TRUE(merged.error_margin.num == 1 && merged.error_margin.den == 5);

  ASSERT_NE(find_regime(merged, "company_internal"), nullptr);
  EXPECT_EQ(find_regime(merged, "nonexistent"), nullptr);
}

TEST(RulesMerge, OverrideWithoutMarginKeepsTheBaseMargin) {
  RuleSet base = FixtureRules();
  base.error_margin = Fraction{1, 4};
  nlohmann::json user = FixtureJson();
  user.erase("error_margin");
  Result<RuleSet> overrides = ParseJson(user);
  ASSERT_TRUE(overrides.ok());
  RuleSet merged = merge_rules(base, *overrides);
  EXPECT_TRUE(merged.error_margin.num == 1 && merged.error_margin.den == 4);
  EXPECT_EQ(merged.regimes.size(), 6u);
}

// ---------------------------------------------------------------------------
// Exact threshold decisions
// ---------------------------------------------------------------------------

TEST(RulesEvaluate, OneResultPerRegimeInFileOrder) {
  std::vector<RuleResult> results = evaluate_rules(FixtureRules(), WithUnknownBase(F("1e20")));
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[0].regime_id, "eu_modification");
  EXPECT_EQ(results[5].regime_id, "us_ny_raise");
  EXPECT_EQ(results[0].name, "EU modification");
}

TEST(RulesEvaluate, ExactlyAtAGreaterThanThresholdDoesNotExceed) {
  RuleSet rules = FixtureRules();
  // Cumulative 1e25 = base 9e24 + this run 1e24: at, not above, Art. 51(2)'s 1e25.
  RuleResult at = ResultFor(rules, WithKnownBase(F("1e24"), F("9e24")), "eu_systemic_risk");
  EXPECT_TRUE(at.compute_flop == F("1e25"));
  EXPECT_FALSE(at.exceeds);
  EXPECT_TRUE(at.determinate);
  EXPECT_TRUE(at.headroom_flop == 1);
  EXPECT_DOUBLE_EQ(at.fraction_of_threshold, 1.0);

  RuleResult above = ResultFor(rules, WithKnownBase(F("1e24") + 1, F("9e24")), "eu_systemic_risk");
  EXPECT_TRUE(above.exceeds);
  EXPECT_TRUE(above.headroom_flop == 0);
}

TEST(RulesEvaluate, ExactlyAtAGreaterOrEqualThresholdMeetsIt) {
  RuleSet rules = FixtureRules();
  RuleResult at = ResultFor(rules, WithKnownBase(F("1e24"), F("99e24")), "kr_basic_act");
  EXPECT_TRUE(at.compute_flop == F("1e26"));
  EXPECT_TRUE(at.exceeds);
  EXPECT_TRUE(at.headroom_flop == 0);

  RuleResult below = ResultFor(rules, WithKnownBase(F("1e24") - 1, F("99e24")), "kr_basic_act");
  EXPECT_FALSE(below.exceeds);
  EXPECT_TRUE(below.headroom_flop == 1);
}

TEST(RulesEvaluate, KnownBaseBelow1e23UsesOneThirdOfIt) {
  // Base 9e22 (below 1e23): the threshold is 9e22 / 3 = 3e22, not AWS's 3.3e22.
  RuleSet rules = FixtureRules();
  RuleResult at = ResultFor(rules, WithKnownBase(F("3e22"), F("9e22")), "eu_modification");
  EXPECT_EQ(at.threshold_basis, "known_one_third");
  EXPECT_TRUE(at.threshold.num == F("3e22") && at.threshold.den == 1);
  EXPECT_FALSE(at.exceeds);
  EXPECT_TRUE(at.headroom_flop == 1);

  RuleResult above = ResultFor(rules, WithKnownBase(F("3e22") + 1, F("9e22")), "eu_modification");
  EXPECT_TRUE(above.exceeds);
}

TEST(RulesEvaluate, KnownBaseThresholdIsAnExactFraction) {
  // 1e24 / 3 = 333...333.33: the largest run that stays under it is floor(1e24 / 3).
  RuleSet rules = FixtureRules();
  const Flop floor_third = F("333333333333333333333333");
  RuleResult under = ResultFor(rules, WithKnownBase(floor_third, F("1e24")), "eu_modification");
  EXPECT_TRUE(under.threshold.num == F("1e24") && under.threshold.den == 3);
  EXPECT_FALSE(under.exceeds);
  EXPECT_TRUE(under.headroom_flop == 1);  // floor(1e24/3) + 1 is the first exceeding integer

  RuleResult over = ResultFor(rules, WithKnownBase(floor_third + 1, F("1e24")), "eu_modification");
  EXPECT_TRUE(over.exceeds);
}

TEST(RulesEvaluate, UnknownBaseUsesOneThirdOf1e23) {
  RuleSet rules = FixtureRules();
  RuleResult under = ResultFor(rules, WithUnknownBase(F("33333333333333333333333")), "eu_modification");
  EXPECT_EQ(under.threshold_basis, "unknown_gpai");
  EXPECT_TRUE(under.threshold.num == F("1e23") && under.threshold.den == 3);
  EXPECT_FALSE(under.exceeds);

  RuleResult over = ResultFor(rules, WithUnknownBase(F("33333333333333333333334")), "eu_modification");
  EXPECT_TRUE(over.exceeds);
  // 3.3e22, AWS's rounded default, is under the real threshold by 3.3e20.
  EXPECT_FALSE(ResultFor(rules, WithUnknownBase(F("3.31e22")), "eu_modification").exceeds);
}

TEST(RulesEvaluate, UnknownSystemicRiskBaseUsesOneThirdOf1e25) {
  RuleSet rules = FixtureRules();
  RuleInput in = WithUnknownBase(F("3e24"));
  in.base.systemic_risk = true;
  RuleResult r = ResultFor(rules, in, "eu_modification");
  EXPECT_EQ(r.threshold_basis, "unknown_systemic_risk");
  EXPECT_TRUE(r.threshold.num == F("1e25") && r.threshold.den == 3);
  EXPECT_FALSE(r.exceeds);
}

TEST(RulesEvaluate, KnownSystemicRiskBaseUsesOneThirdOfTheKnownValue) {
  RuleSet rules = FixtureRules();
  RuleInput in = WithKnownBase(F("1.3e25"), F("3.8e25"));
  in.base.systemic_risk = true;
  RuleResult r = ResultFor(rules, in, "eu_modification");
  EXPECT_EQ(r.threshold_basis, "known_one_third");
  EXPECT_TRUE(r.threshold.num == F("3.8e25") && r.threshold.den == 3);
  EXPECT_TRUE(r.exceeds);  // 1.3e25 > 1.2667e25
}

TEST(RulesEvaluate, SystemicRiskWithoutASystemicFigureFallsBackWithAWarning) {
  nlohmann::json doc = FixtureJson();
  doc["regimes"][0]["threshold"].erase("unknown_base_systemic_risk");
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_TRUE(rules.ok());
  RuleInput in = WithUnknownBase(F("1e22"));
  in.base.systemic_risk = true;
  RuleResult r = ResultFor(*rules, in, "eu_modification");
  EXPECT_EQ(r.threshold_basis, "unknown_gpai");
  EXPECT_TRUE(HasWarningContaining(r, "gives no threshold for that case"));
}

TEST(RulesEvaluate, CumulativeWithUnknownBaseIsALowerBound) {
  RuleSet rules = FixtureRules();
  RuleResult r = ResultFor(rules, WithUnknownBase(F("5e24")), "eu_systemic_risk");
  EXPECT_TRUE(r.compute_flop == F("5e24"));
  EXPECT_FALSE(r.exceeds);
  EXPECT_FALSE(r.determinate);
  EXPECT_TRUE(HasWarningContaining(r, "lower bound"));
  EXPECT_THAT(r.explanation, HasSubstr("the total is unknown"));

  // The known part alone already exceeds: the verdict needs no base figure.
  RuleResult known = ResultFor(rules, WithUnknownBase(F("2e25")), "eu_systemic_risk");
  EXPECT_TRUE(known.exceeds);
  EXPECT_TRUE(known.determinate);

  // A modification regime never depends on the base's figure.
  EXPECT_TRUE(ResultFor(rules, WithUnknownBase(F("5e24")), "eu_modification").determinate);
}

// Several modifications by one modifier: summed into every regime (the
// cautious reading; the Guidelines do not settle it), and a modification
// regime shows this run alone beside the sum.
TEST(RulesEvaluate, PriorModificationsAreSummedWithThisRunAloneBeside) {
  RuleSet rules = FixtureRules();
  RuleInput in = WithKnownBase(F("1e24"), F("8e24"));
  in.prior_modifications_flop = F("1e24");
  RuleResult cumulative = ResultFor(rules, in, "eu_systemic_risk");
  EXPECT_TRUE(cumulative.compute_flop == F("1e25"));  // 8e24 + 1e24 + 1e24
  EXPECT_FALSE(cumulative.exceeds);
  in.prior_modifications_flop += 1;
  EXPECT_TRUE(ResultFor(rules, in, "eu_systemic_risk").exceeds);

  RuleResult modification = ResultFor(rules, in, "eu_modification");
  EXPECT_TRUE(modification.compute_flop == F("2e24") + 1);  // earlier + this run
  EXPECT_EQ(modification.compute_basis, ComputeBasis::kModification);
  ASSERT_TRUE(modification.single_run_flop.has_value());
  EXPECT_TRUE(*modification.single_run_flop == F("1e24"));
  EXPECT_FALSE(modification.single_run_exceeds);  // 1e24 < 8e24 / 3
  EXPECT_FALSE(modification.exceeds);             // 2e24 + 1 < 8e24 / 3 too

  // The sum crosses the third where neither run alone does.
  in.prior_modifications_flop = F("2e24");
  RuleResult summed = ResultFor(rules, in, "eu_modification");
  EXPECT_TRUE(summed.exceeds);
  EXPECT_FALSE(summed.single_run_exceeds);
  EXPECT_NE(summed.explanation.find("summed (the cautious reading; this run alone"), std::string::npos);

  RuleInput alone = WithKnownBase(F("1e24"), F("8e24"));
  EXPECT_FALSE(ResultFor(rules, alone, "eu_modification").single_run_flop.has_value());

  RuleInput unknown = WithUnknownBase(F("1e24"));
  unknown.prior_modifications_flop = F("2e24");
  EXPECT_TRUE(ResultFor(rules, unknown, "eu_systemic_risk").compute_flop == F("3e24"));
}

// Earlier modifications alone past the threshold decide the verdict even
// when this run's compute is undetermined.
TEST(RulesEvaluate, EarlierModificationsPastTheThresholdDecideAnUndeterminedRun) {
  RuleSet rules = FixtureRules();
  RuleInput in = WithKnownBase(F("0"), F("3e23"));
  in.modification_undetermined = true;
  in.undetermined_reason = "no tokens";
  in.prior_modifications_flop = F("2e23");
  RuleResult r = ResultFor(rules, in, "eu_modification");
  EXPECT_EQ(r.verdict, Verdict::kExceeds);
  EXPECT_EQ(r.decided_by, "earlier modifications");
  in.prior_modifications_flop = F("5e22");
  EXPECT_EQ(ResultFor(rules, in, "eu_modification").verdict, Verdict::kUndetermined);
}

TEST(RulesEvaluate, HistoricalRegimesAreNeverInForce) {
  RuleSet rules = FixtureRules();
  RuleInput big = WithKnownBase(F("5e25"), F("1e26"));
  RuleResult eo = ResultFor(rules, big, "us_eo_14110");
  EXPECT_FALSE(eo.in_force);
  EXPECT_EQ(eo.status, RegimeStatus::kRevoked);
  EXPECT_TRUE(eo.exceeds);  // still computed, for reference
  EXPECT_TRUE(HasWarningContaining(eo, "revoked: historical; shown for reference only, it does not apply"));

  RuleResult sb1047 = ResultFor(rules, big, "us_ca_sb1047");
  EXPECT_FALSE(sb1047.in_force);
  EXPECT_TRUE(HasWarningContaining(sb1047, "vetoed: historical; shown for reference only"));

  EXPECT_TRUE(ResultFor(rules, big, "eu_systemic_risk").in_force);
}

TEST(RulesEvaluate, NotConfirmedAndNotYetInForceAreSaid) {
  RuleSet rules = FixtureRules();
  RuleResult kr = ResultFor(rules, WithUnknownBase(F("1e20")), "kr_basic_act");
  EXPECT_FALSE(kr.in_force);
  EXPECT_TRUE(
      HasWarningContaining(kr, "not confirmed: the figure or status of this regime is not confirmed"));

  RuleResult ny = ResultFor(rules, WithUnknownBase(F("1e20")), "us_ny_raise");
  EXPECT_FALSE(ny.in_force);
  EXPECT_TRUE(HasWarningContaining(ny, "enacted but not yet in force"));
}

TEST(RulesEvaluate, HeadroomIsExactForBothComparisons) {
  RuleSet rules = FixtureRules();
  // gt 1e23/3: first exceeding integer is floor(1e23/3) + 1 = 33333333333333333333334.
  RuleResult gt = ResultFor(rules, WithUnknownBase(F("1e22")), "eu_modification");
  EXPECT_TRUE(gt.headroom_flop == F("23333333333333333333334"));
  // ge 1e26 (cumulative, base 9e25): first meeting integer is 1e26 itself.
  RuleResult ge = ResultFor(rules, WithKnownBase(F("1e24"), F("9e25")), "kr_basic_act");
  EXPECT_TRUE(ge.headroom_flop == F("9e24"));
}

TEST(RulesEvaluate, HeadroomInTokensAssumesThisRunsFlopPerToken) {
  RuleSet rules = FixtureRules();
  RuleInput in = WithUnknownBase(F("1e22"));
  in.tokens = F("1e9");  // 1e13 FLOP per token
  RuleResult r = ResultFor(rules, in, "eu_modification");
  ASSERT_TRUE(r.headroom_tokens.has_value());
  // floor(23333333333333333333334 / 1e13)
  EXPECT_TRUE(*r.headroom_tokens == F("2333333333"));
  EXPECT_THAT(r.explanation, HasSubstr("more training tokens at this run's average FLOP per token"));

  in.tokens = 0;
  EXPECT_FALSE(ResultFor(rules, in, "eu_modification").headroom_tokens.has_value());
  RuleInput none = WithUnknownBase(0);
  none.tokens = 100;
  EXPECT_FALSE(ResultFor(rules, none, "eu_modification").headroom_tokens.has_value());

  RuleInput over = WithUnknownBase(F("4e23"));
  over.tokens = F("1e9");
  RuleResult exceeded = ResultFor(rules, over, "eu_modification");
  EXPECT_TRUE(exceeded.headroom_flop == 0);
  ASSERT_TRUE(exceeded.headroom_tokens.has_value());
  EXPECT_TRUE(*exceeded.headroom_tokens == 0);
}

TEST(RulesEvaluate, ExplanationFillsTheTemplateAndCitesTheSource) {
  RuleSet rules = FixtureRules();
  RuleResult gt = ResultFor(rules, WithUnknownBase(F("1e22")), "eu_modification");
  EXPECT_THAT(
      gt.explanation,
      AllOf(HasSubstr("Modification compute greater than one third of the base model's compute"),
            HasSubstr("1.00e+22 FLOP"), HasSubstr("3.33e+22 FLOP"), HasSubstr("does not exceed"),
            HasSubstr("Source: Guidelines C(2025) 5045, paras 60-61 (https://example.eu/guidelines).")));
  RuleResult ge = ResultFor(rules, WithUnknownBase(F("1e22")), "kr_basic_act");
  EXPECT_THAT(ge.explanation, HasSubstr("Cumulative compute greater than or equal to 1e26 FLOP."));
}

TEST(RulesEvaluate, FractionOfThresholdIsForDisplay) {
  RuleResult r = ResultFor(FixtureRules(), WithUnknownBase(F("1e22")), "eu_modification");
  EXPECT_NEAR(r.fraction_of_threshold, 0.3, 1e-12);
}

TEST(RulesEvaluate, HugeFiguresSaturateInsteadOfWrapping) {
  RuleSet rules = FixtureRules();
  const Flop max = ~static_cast<Flop>(0);
  RuleInput in = WithKnownBase(max, max);
  in.prior_modifications_flop = max;
  in.tokens = max;
  in.other_formulas = {{"hardware", max}};
  RuleResult cumulative = ResultFor(rules, in, "eu_systemic_risk");
  EXPECT_TRUE(cumulative.compute_flop == max);
  EXPECT_TRUE(cumulative.exceeds);
  EXPECT_TRUE(HasWarningContaining(cumulative, "saturated"));

  // max / 3 of a base: exact, with the margin computed beyond 128 bits.
  RuleResult modification = ResultFor(rules, in, "eu_modification");
  EXPECT_TRUE(modification.threshold.num == max / 3 && modification.threshold.den == 1);
  EXPECT_TRUE(modification.exceeds);
  EXPECT_FALSE(HasWarningContaining(modification, "error margin"));

  // 2/7 of a base near 2^128 has no exact 128-bit numerator: the threshold is
  // floored, which decides "gt" exactly, and a warning says so.
  Result<RuleSet> sevenths = ParseJson([] {
    nlohmann::json doc = FixtureJson();
    doc["regimes"][0]["threshold"]["fraction"] = {{"num", "2"}, {"den", "7"}};
    return doc;
  }());
  ASSERT_TRUE(sevenths.ok()) << sevenths.status().message();
  RuleResult rounded = ResultFor(*sevenths, WithKnownBase(max / 7 * 2, max), "eu_modification");
  EXPECT_TRUE(rounded.threshold.den == 1);
  EXPECT_TRUE(rounded.threshold.num == max / 7 * 2 + (max % 7) * 2 / 7);
  EXPECT_TRUE(HasWarningContaining(rounded, "threshold rounded down to a whole FLOP"));

  // A run just under one third of a huge base: headroom in tokens needs 256 bits.
  RuleInput near = WithKnownBase(max / 3 - 4, max);
  near.tokens = max / 4;
  RuleResult r = ResultFor(rules, near, "eu_modification");
  EXPECT_FALSE(r.exceeds);
  EXPECT_TRUE(r.headroom_flop == 5);
  ASSERT_TRUE(r.headroom_tokens.has_value());
  EXPECT_TRUE(*r.headroom_tokens == 3);  // floor(5 x (max/4) / (max/3 - 4))
  EXPECT_TRUE(HasWarningContaining(r, "within the 30% error margin"));
}

// ---------------------------------------------------------------------------
// Warnings: error margin and disagreeing formulas
// ---------------------------------------------------------------------------

TEST(RulesMargin, BelowTheThresholdButWithinThirtyPercentWarns) {
  // 3e22 x 1.3 = 3.9e22 > 1e23/3: an underestimate of 30% would flip it.
  RuleResult r = ResultFor(FixtureRules(), WithUnknownBase(F("3e22")), "eu_modification");
  EXPECT_FALSE(r.exceeds);
  EXPECT_TRUE(HasWarningContaining(r, "within the 30% error margin"));
}

TEST(RulesMargin, AboveTheThresholdButWithinThirtyPercentWarns) {
  // 4e22 x 0.7 = 2.8e22 < 1e23/3.
  RuleResult r = ResultFor(FixtureRules(), WithUnknownBase(F("4e22")), "eu_modification");
  EXPECT_TRUE(r.exceeds);
  EXPECT_TRUE(HasWarningContaining(r, "within the 30% error margin"));
}

TEST(RulesMargin, FarFromTheThresholdDoesNotWarn) {
  RuleSet rules = FixtureRules();
  for (const char* figure : {"1e21", "2.5e22", "5e22", "1e24"}) {
    RuleResult r = ResultFor(rules, WithUnknownBase(F(figure)), "eu_modification");
    EXPECT_FALSE(HasWarningContaining(r, "error margin")) << figure;
  }
}

TEST(RulesMargin, TheMarginEdgeIsDecidedExactly) {
  nlohmann::json doc = FixtureJson();
  doc["regimes"][1]["compute_basis"] = "modification";
  doc["regimes"][1]["threshold"]["flop"] = "1.3e25";  // gt
  doc["regimes"][2]["compute_basis"] = "modification";
  doc["regimes"][2]["threshold"]["flop"] = "7e24";  // ge
  doc["regimes"][1]["status"] = doc["regimes"][2]["status"] = "in_force";
  Result<RuleSet> rules = ParseJson(doc);
  ASSERT_TRUE(rules.ok()) << rules.status().message();

  // 1e25 x 1.3 == 1.3e25 exactly: not greater, so no flip within the margin.
  EXPECT_FALSE(HasWarningContaining(ResultFor(*rules, WithUnknownBase(F("1e25")), "eu_systemic_risk"),
                                    "error margin"));
  // One FLOP more and 1.3 x compute exceeds.
  EXPECT_TRUE(HasWarningContaining(ResultFor(*rules, WithUnknownBase(F("1e25") + 1), "eu_systemic_risk"),
                                   "error margin"));
  // 1e25 x 0.7 == 7e24 meets a ge threshold: both ends meet it, no warning.
  EXPECT_FALSE(
      HasWarningContaining(ResultFor(*rules, WithUnknownBase(F("1e25")), "kr_basic_act"), "error margin"));
  EXPECT_TRUE(HasWarningContaining(ResultFor(*rules, WithUnknownBase(F("1e25") - 1), "kr_basic_act"),
                                   "error margin"));
}

TEST(RulesMargin, TheMarginComesFromTheRules) {
  RuleSet rules = FixtureRules();
  rules.error_margin = Fraction{1, 10};
  RuleResult r = ResultFor(rules, WithUnknownBase(F("3e22")), "eu_modification");  // x 1.1 = 3.3e22
  EXPECT_FALSE(HasWarningContaining(r, "error margin"));
  r = ResultFor(rules, WithUnknownBase(F("3.1e22")), "eu_modification");  // x 1.1 = 3.41e22
  EXPECT_TRUE(HasWarningContaining(r, "within the 10% error margin"));
}

TEST(RulesFormulas, AFormulaWithTheOtherVerdictIsNamed) {
  RuleInput in = WithUnknownBase(F("3e22"));
  in.formula_name = "detailed";
  in.other_formulas = {{"detailed", F("3e22")}, {"6ND", F("2.9e22")}, {"hardware", F("4.2e22")}};
  RuleResult r = ResultFor(FixtureRules(), in, "eu_modification");
  EXPECT_FALSE(r.exceeds);
  EXPECT_TRUE(HasWarningContaining(r,
                                   "formula 'hardware' gives 4.20e+22 FLOP and would exceed the threshold; "
                                   "this result uses 'detailed' (3.00e+22 FLOP), which does not"));
  EXPECT_FALSE(HasWarningContaining(r, "'6ND'"));
}

TEST(RulesFormulas, CumulativeRegimesCompareEachFormulaWithTheBaseAdded) {
  RuleInput in = WithKnownBase(F("1e23"), F("9.85e24"));
  in.formula_name = "detailed";
  in.other_formulas = {{"hardware", F("2e23")}};  // 9.85e24 + 2e23 > 1e25
  RuleResult r = ResultFor(FixtureRules(), in, "eu_systemic_risk");
  EXPECT_FALSE(r.exceeds);
  EXPECT_TRUE(HasWarningContaining(r, "formula 'hardware' gives 2.00e+23 FLOP and would exceed"));
}

// ---------------------------------------------------------------------------
// The EU modification threshold summary
// ---------------------------------------------------------------------------

TEST(RulesModificationThreshold, FollowsTheBasePath) {
  RuleSet rules = FixtureRules();
  BaseCompute unknown;
  Result<ModificationThreshold> t = eu_modification_threshold(rules, unknown);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->basis, "unknown_gpai");
  EXPECT_TRUE(t->threshold_flop.num == F("1e23") && t->threshold_flop.den == 3);
  EXPECT_THAT(t->explanation,
              AllOf(HasSubstr("greater than 3.33e+22 FLOP"), HasSubstr("Source: Guidelines")));

  BaseCompute systemic;
  systemic.systemic_risk = true;
  t = eu_modification_threshold(rules, systemic);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->basis, "unknown_systemic_risk");
  EXPECT_TRUE(t->threshold_flop.num == F("1e25") && t->threshold_flop.den == 3);

  BaseCompute known;
  known.flop = F("6.5e23");
  known.source = "catalog: meta-llama/Llama-3.2-1B";
  t = eu_modification_threshold(rules, known);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->basis, "known_one_third");
  EXPECT_TRUE(t->threshold_flop.num == F("6.5e23") && t->threshold_flop.den == 3);
  EXPECT_THAT(t->explanation,
              HasSubstr("1/3 of the base model's 6.50e+23 FLOP (catalog: meta-llama/Llama-3.2-1B)"));
}

TEST(RulesModificationThreshold, NeedsTheEuModificationRegime) {
  RuleSet rules = FixtureRules();
  rules.regimes.erase(rules.regimes.begin());
  Result<ModificationThreshold> t = eu_modification_threshold(rules, BaseCompute{});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kNotFound);

  rules = FixtureRules();
  rules.regimes[0].threshold.kind = Threshold::Kind::kAbsolute;
  EXPECT_EQ(eu_modification_threshold(rules, BaseCompute{}).status().code(), StatusCode::kUnsupported);
}

// ---------------------------------------------------------------------------
// PRETRAIN_FLOPS / --pretrain-flops
// ---------------------------------------------------------------------------

TEST(RulesPretrainFlops, AcceptsWholePositiveDecimals) {
  Result<BaseCompute> base = parse_pretrain_flops("8.4e22", "PRETRAIN_FLOPS");
  ASSERT_TRUE(base.ok()) << base.status().message();
  EXPECT_TRUE(base->flop == F("84000000000000000000000"));
  EXPECT_EQ(base->source, "PRETRAIN_FLOPS");
  EXPECT_FALSE(base->systemic_risk);
  EXPECT_TRUE(parse_pretrain_flops("650000000000000000000000", "--pretrain-flops")->flop == F("6.5e23"));
  EXPECT_TRUE(parse_pretrain_flops("6.5E+23", "--pretrain-flops")->flop == F("6.5e23"));
}

TEST(RulesPretrainFlops, RejectsGarbageNamingTheSource) {
  const char* garbage[] = {"nan", "NaN", "inf", "-inf",  "-1",      "0",
                           "abc", "",    "1.5", "1e400", "8.4e22x", " 1e23"};
  for (const char* text : garbage) {
    Result<BaseCompute> base = parse_pretrain_flops(text, "PRETRAIN_FLOPS");
    ASSERT_FALSE(base.ok()) << "'" << text << "'";
    EXPECT_THAT(base.status().message(), HasSubstr("PRETRAIN_FLOPS='" + std::string(text) + "': ")) << text;
  }
  EXPECT_EQ(parse_pretrain_flops("nan", "PRETRAIN_FLOPS").status().message(),
            "PRETRAIN_FLOPS='nan': not a number; expected e.g. 8.4e22 (finite, positive, decimal)");
  EXPECT_EQ(parse_pretrain_flops("0", "--pretrain-flops").status().message(),
            "--pretrain-flops='0': must be greater than zero (the base model's training compute in FLOP)");
  EXPECT_EQ(parse_pretrain_flops("1.5", "PRETRAIN_FLOPS").status().message(),
            "PRETRAIN_FLOPS='1.5': not a whole number of FLOP");
  EXPECT_EQ(parse_pretrain_flops("1e400", "PRETRAIN_FLOPS").status().code(), StatusCode::kOverflow);
  EXPECT_EQ(parse_pretrain_flops("-1", "PRETRAIN_FLOPS").status().code(), StatusCode::kInvalidArgument);
}

TEST(RulesPretrainFlops, ControlCharactersAreEscaped) {
  Result<BaseCompute> base = parse_pretrain_flops("1e23\x1b]0;x\x07", "PRETRAIN_FLOPS");
  ASSERT_FALSE(base.ok());
  EXPECT_THAT(base.status().message(), AllOf(HasSubstr("\\x1b"), Not(HasSubstr("\x1b"))));
}

// ---------------------------------------------------------------------------
// AWS Fine-Tuning FLOPs Meter compatibility
// ---------------------------------------------------------------------------

TEST(RulesAwsCompat, UnknownPretrainUsesTheRounded3Point3e22) {
  AwsCompatResult r = evaluate_aws_compat(1.0e22, std::nullopt);
  EXPECT_EQ(r.threshold_type, "default_3.3e22");
  EXPECT_TRUE(r.uses_default);
  EXPECT_EQ(r.threshold_value, 3.3e22);
  EXPECT_EQ(r.effective_threshold_flop, 3.3e22);
  ASSERT_TRUE(r.pct_of_pretrain.has_value());
  EXPECT_DOUBLE_EQ(*r.pct_of_pretrain, 1.0e22 / 3.3e22);  // of the threshold, despite its name
  EXPECT_EQ(r.exceeds_30pct, false);
  EXPECT_EQ(r.threshold_value_text, " 3.30e+22");
  EXPECT_FALSE(r.flops_original_text.has_value());

  // 3.32e22 exceeds AWS's 3.3e22 but not the Guidelines' 1e23/3.
  EXPECT_EQ(evaluate_aws_compat(3.32e22, std::nullopt).exceeds_30pct, true);
  EXPECT_FALSE(ResultFor(FixtureRules(), WithUnknownBase(F("3.32e22")), "eu_modification").exceeds);
  // Exactly 3.3e22 is not above it.
  EXPECT_EQ(evaluate_aws_compat(3.3e22, std::nullopt).exceeds_30pct, false);
}

TEST(RulesAwsCompat, KnownBaseBelow1e23IsIgnored) {
  // regulatory-rules.md: for a base of 9e22 AWS uses 3.3e22 where one third is 3.0e22.
  AwsCompatResult r = evaluate_aws_compat(3.1e22, 9e22);
  EXPECT_EQ(r.threshold_type, "default_3.3e22");
  EXPECT_EQ(r.threshold_value, 3.3e22);
  EXPECT_EQ(r.exceeds_30pct, false);
  EXPECT_EQ(r.flops_original_text, " 9.00e+22");
  // The Guidelines: 3.1e22 > 9e22 / 3.
  EXPECT_TRUE(ResultFor(FixtureRules(), WithKnownBase(F("3.1e22"), F("9e22")), "eu_modification").exceeds);
}

TEST(RulesAwsCompat, KnownBaseFrom1e23UsesThirtyPercent) {
  AwsCompatResult r = evaluate_aws_compat(3.1e23, 1e24);
  EXPECT_EQ(r.threshold_type, "30pct_of_actual_pretraining");
  EXPECT_FALSE(r.uses_default);
  EXPECT_EQ(r.threshold_value, 1e24);  // the pretraining compute, not the threshold
  EXPECT_EQ(r.threshold_value_text, " 1.00e+24");
  EXPECT_DOUBLE_EQ(r.effective_threshold_flop, 3e23);
  ASSERT_TRUE(r.pct_of_pretrain.has_value());
  EXPECT_DOUBLE_EQ(*r.pct_of_pretrain, 0.31);
  EXPECT_EQ(r.exceeds_30pct, true);
  // The Guidelines' one third of 1e24 is 3.33e23: 3.1e23 does not exceed it.
  EXPECT_FALSE(ResultFor(FixtureRules(), WithKnownBase(F("3.1e23"), F("1e24")), "eu_modification").exceeds);

  // Exactly 1e23 is not below 1e23.
  EXPECT_EQ(evaluate_aws_compat(1e21, 1e23).threshold_type, "30pct_of_actual_pretraining");
  // At exactly 30% its float ratio 3e22 / 1e23 is 0.30000000000000004 > 0.30:
  // the toolkit reports "exceeds" (Python gives the same), and we reproduce it.
  EXPECT_EQ(evaluate_aws_compat(3e22, 1e23).exceeds_30pct, true);
  EXPECT_EQ(evaluate_aws_compat(2.9e22, 1e23).exceeds_30pct, false);
}

TEST(RulesAwsCompat, ZeroNegativeAndNanPretrainAsPythonTreatsThem) {
  AwsCompatResult zero = evaluate_aws_compat(1e22, 0.0);
  EXPECT_EQ(zero.threshold_type, "default_3.3e22");
  EXPECT_FALSE(zero.flops_original_text.has_value());  // `if self.pretrain_flops` is falsy

  AwsCompatResult negative = evaluate_aws_compat(1e22, -5e23);
  EXPECT_EQ(negative.threshold_type, "default_3.3e22");
  EXPECT_EQ(negative.flops_original_text, "-5.00e+23");

  // NaN fails every comparison: second branch, then no ratio and no verdict.
  AwsCompatResult nan = evaluate_aws_compat(1e22, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(nan.threshold_type, "30pct_of_actual_pretraining");
  EXPECT_FALSE(nan.pct_of_pretrain.has_value());
  EXPECT_FALSE(nan.exceeds_30pct.has_value());
  EXPECT_EQ(nan.threshold_value_text, " nan");

  AwsCompatResult inf = evaluate_aws_compat(1e22, std::numeric_limits<double>::infinity());
  EXPECT_EQ(inf.threshold_type, "30pct_of_actual_pretraining");
  EXPECT_EQ(inf.pct_of_pretrain, 0.0);
  EXPECT_EQ(inf.exceeds_30pct, false);
}

// ---------------------------------------------------------------------------
// The shipped data/rules.json
// ---------------------------------------------------------------------------

TEST(RulesDataFile, ParsesAndStatesTheGuidelinesFigures) {
  std::optional<std::string> text = testing::read_source_file("data/rules.json");
  ASSERT_TRUE(text.has_value()) << "data/rules.json is missing";
  Result<RuleSet> rules = parse_rules(*text, "data/rules.json");
  ASSERT_TRUE(rules.ok()) << rules.status().message();

  const Regime* eu = find_regime(*rules, "eu_modification");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(eu->comparison, Comparison::kGreaterThan);
  EXPECT_EQ(eu->compute_basis, ComputeBasis::kModification);
  ASSERT_EQ(eu->threshold.kind, Threshold::Kind::kFractionOfBase);
  EXPECT_TRUE(eu->threshold.fraction.num == 1 && eu->threshold.fraction.den == 3);
  EXPECT_TRUE(eu->threshold.unknown_base.num == F("1e23") && eu->threshold.unknown_base.den == 3);
  ASSERT_TRUE(eu->threshold.unknown_base_systemic_risk.has_value());
  EXPECT_TRUE(eu->threshold.unknown_base_systemic_risk->num == F("1e25") &&
              eu->threshold.unknown_base_systemic_risk->den == 3);

  const Regime* systemic = find_regime(*rules, "eu_systemic_risk");
  ASSERT_NE(systemic, nullptr);
  EXPECT_EQ(systemic->compute_basis, ComputeBasis::kCumulative);
  EXPECT_TRUE(systemic->threshold.absolute_flop.num == F("1e25"));

  EXPECT_TRUE(rules->error_margin.num == 3 && rules->error_margin.den == 10);
  for (const Regime& r : rules->regimes) {
    EXPECT_FALSE(r.legal_source.empty()) << r.id;
    EXPECT_FALSE(r.url.empty()) << r.id;
    if (is_historical(r.status) || r.status == RegimeStatus::kNotConfirmed) {
      EXPECT_FALSE(r.status_note.empty()) << r.id << " should say why";
    }
  }
}

TEST(RulesDataFile, HistoricalRegimesNeverApply) {
  std::optional<std::string> text = testing::read_source_file("data/rules.json");
  ASSERT_TRUE(text.has_value()) << "data/rules.json is missing";
  Result<RuleSet> rules = parse_rules(*text, "data/rules.json");
  ASSERT_TRUE(rules.ok()) << rules.status().message();
  RuleInput huge = WithKnownBase(F("1e26"), F("1e27"));
  for (const RuleResult& r : evaluate_rules(*rules, huge)) {
    if (is_historical(r.status)) {
      EXPECT_FALSE(r.in_force) << r.regime_id;
      EXPECT_TRUE(HasWarningContaining(r, "shown for reference only")) << r.regime_id;
    }
  }
}

TEST(RulesDataFile, TheArticlesWalkthroughStaysFarBelowTheUnknownBaseThreshold) {
  std::optional<std::string> text = testing::read_source_file("data/rules.json");
  ASSERT_TRUE(text.has_value()) << "data/rules.json is missing";
  Result<RuleSet> rules = parse_rules(*text, "data/rules.json");
  ASSERT_TRUE(rules.ok()) << rules.status().message();
  // Llama-3.2-3B, pretraining compute not published, a LoRA run of ~6.7e18 FLOP.
  RuleResult r = ResultFor(*rules, WithUnknownBase(F("6.7e18")), "eu_modification");
  EXPECT_EQ(r.threshold_basis, "unknown_gpai");
  EXPECT_FALSE(r.exceeds);
  EXPECT_TRUE(r.in_force);
  EXPECT_FALSE(HasWarningContaining(r, "error margin"));
}

}  // namespace
}  // namespace flopsmeter
