// Specification of the GPU catalog: strict parsing, exact lookup (never by
// substring), and the hardware-based estimate C = N x L x H x U.
#include "flopsmeter/gpus.h"

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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Variants the AWS toolkit's substring table confused, plus a fake "H20"
// whose name is a prefix of "H200" and a substring of "GH200".
nlohmann::json FixtureJson() {
  return nlohmann::json::parse(R"json({
  "schema": "flopsmeter.gpus/1",
  "data_version": "test-1",
  "gpus": [
    {"id": "h100-sxm", "name": "NVIDIA H100 SXM5", "match": ["NVIDIA H100 80GB HBM3"],
     "architecture": "hopper", "sm_count": 132, "boost_clock_mhz": 1980,
     "dense_tflops": {"fp32": "67", "tf32": "494.7", "bf16": "989.4", "fp16": "989.4", "fp8": "1978.9"},
     "dense_flop_per_clk_per_sm": {"bf16": 4096, "fp8": 8192},
     "source": "NVIDIA H100 datasheet", "url": "https://example.com/h100", "status": "confirmed",
     "board_power": {"watts": 700, "source": "NVIDIA H100 product page", "url": "https://example.com/h100",
                     "status": "confirmed"}},
    {"id": "h100-pcie", "name": "NVIDIA H100 PCIe", "match": ["NVIDIA H100 PCIe"],
     "architecture": "hopper", "dense_tflops": {"bf16": "756.5", "fp8": "1513"},
     "source": "NVIDIA H100 datasheet", "url": "https://example.com/h100", "status": "confirmed"},
    {"id": "h100-nvl", "name": "NVIDIA H100 NVL", "match": ["NVIDIA H100 NVL"],
     "architecture": "hopper", "dense_tflops": {"bf16": "835"},
     "source": "NVIDIA H100 NVL product brief", "url": "https://example.com/h100nvl", "status": "not_confirmed"},
    {"id": "h200", "name": "NVIDIA H200 SXM", "match": ["NVIDIA H200"],
     "architecture": "hopper", "dense_tflops": {"bf16": "989.4"},
     "source": "NVIDIA H200 datasheet", "url": "https://example.com/h200", "status": "confirmed"},
    {"id": "gh200", "name": "NVIDIA GH200", "match": ["NVIDIA GH200 480GB"],
     "architecture": "hopper", "dense_tflops": {"bf16": "989.4"},
     "source": "NVIDIA GH200 datasheet", "url": "https://example.com/gh200", "status": "confirmed"},
    {"id": "h20", "name": "NVIDIA H20 (test fixture)", "match": ["NVIDIA H20"],
     "architecture": "hopper", "dense_tflops": {"bf16": "148"},
     "source": "test fixture", "url": "https://example.com/h20", "status": "not_confirmed"},
    {"id": "a10", "name": "NVIDIA A10", "match": ["NVIDIA A10"],
     "architecture": "ampere", "dense_tflops": {"fp32": "31.2", "tf32": "62.5", "bf16": "125"},
     "source": "NVIDIA A10 datasheet", "url": "https://example.com/a10", "status": "confirmed"},
    {"id": "a10g", "name": "NVIDIA A10G", "match": ["NVIDIA A10G"],
     "architecture": "ampere", "dense_tflops": {"bf16": "70"},
     "source": "AWS G5 documentation", "url": "https://example.com/a10g", "status": "not_confirmed"},
    {"id": "l40", "name": "NVIDIA L40", "match": ["NVIDIA L40"],
     "architecture": "ada", "dense_tflops": {"bf16": "181"},
     "source": "NVIDIA L40 datasheet", "url": "https://example.com/l40", "status": "confirmed"},
    {"id": "l40s", "name": "NVIDIA L40S", "match": ["NVIDIA L40S"],
     "architecture": "ada", "dense_tflops": {"bf16": "362", "fp8": "733"},
     "source": "NVIDIA L40S datasheet", "url": "https://example.com/l40s", "status": "confirmed"},
    {"id": "a100-40gb", "name": "NVIDIA A100 40GB SXM", "match": ["NVIDIA A100-SXM4-40GB"],
     "architecture": "ampere", "sm_count": 108, "boost_clock_mhz": 1410,
     "dense_tflops": {"fp32": "19.5", "tf32": "156", "bf16": "312", "fp16": "312"},
     "dense_flop_per_clk_per_sm": {"bf16": 2048, "fp16": 2048},
     "source": "NVIDIA A100 datasheet", "url": "https://example.com/a100", "status": "confirmed"},
    {"id": "v100-sxm2", "name": "NVIDIA V100 SXM2", "match": ["Tesla V100-SXM2-16GB", "Tesla V100-SXM2-32GB"],
     "architecture": "volta", "dense_tflops": {"fp32": "15.7", "fp16": "125"},
     "source": "NVIDIA V100 datasheet", "url": "https://example.com/v100", "status": "confirmed"}
  ]
})json");
}

Result<GpuCatalog> ParseJson(const nlohmann::json& doc) {
  return parse_gpu_catalog(doc.dump(2), "gpus.json");
}

GpuCatalog FixtureCatalog() {
  Result<GpuCatalog> catalog = ParseJson(FixtureJson());
  EXPECT_TRUE(catalog.ok()) << catalog.status().message();
  return catalog.ok() ? *catalog : GpuCatalog{};
}

// The id find_gpu returns for `query`, or the error message.
std::string Lookup(const GpuCatalog& catalog, const std::string& query) {
  Result<const GpuSpec*> gpu = find_gpu(catalog, query);
  return gpu.ok() ? (*gpu)->id : "error: " + gpu.status().message();
}

// ---------------------------------------------------------------------------
// Data types
// ---------------------------------------------------------------------------

TEST(GpuDType, NamesRoundTrip) {
  for (DType d : all_dtypes()) {
    Result<DType> parsed = parse_dtype(dtype_name(d));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_STREQ(dtype_name(DType::kBf16), "bf16");
  EXPECT_EQ(*parse_dtype("BF16"), DType::kBf16);
  EXPECT_EQ(all_dtypes().size(), 5u);
}

TEST(GpuDType, UnknownNamesListTheAccepted) {
  Result<DType> d = parse_dtype("int8");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.status().message(), "unknown dtype 'int8'; expected one of: fp32, tf32, bf16, fp16, fp8");
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

TEST(GpuCatalogParse, ReadsEveryField) {
  GpuCatalog catalog = FixtureCatalog();
  EXPECT_EQ(catalog.data_version, "test-1");
  ASSERT_EQ(catalog.gpus.size(), 12u);
  const GpuSpec& h100 = catalog.gpus[0];
  EXPECT_EQ(h100.id, "h100-sxm");
  EXPECT_EQ(h100.name, "NVIDIA H100 SXM5");
  EXPECT_THAT(h100.match, ElementsAre("NVIDIA H100 80GB HBM3"));
  EXPECT_EQ(h100.architecture, "hopper");
  EXPECT_EQ(h100.sm_count, 132u);
  EXPECT_EQ(h100.boost_clock_mhz, 1980u);
  // TFLOP/s strings become FLOP/s, rounded once from the decimal text.
  EXPECT_EQ(h100.peak(DType::kBf16), 989.4e12);
  EXPECT_EQ(h100.peak(DType::kTf32), 494.7e12);
  EXPECT_EQ(h100.peak(DType::kFp8), 1978.9e12);
  EXPECT_EQ(h100.dense_flop_per_clk_per_sm.at(DType::kBf16), 4096u);
  EXPECT_EQ(h100.source, "NVIDIA H100 datasheet");
  EXPECT_EQ(h100.url, "https://example.com/h100");
  EXPECT_EQ(h100.status, GpuDataStatus::kConfirmed);
  EXPECT_EQ(h100.origin, "gpus.json");
  EXPECT_EQ(h100.supported_dtypes(),
            (std::vector<DType>{DType::kFp32, DType::kTf32, DType::kBf16, DType::kFp16, DType::kFp8}));

  const GpuSpec& nvl = catalog.gpus[2];
  EXPECT_FALSE(nvl.sm_count.has_value());
  EXPECT_FALSE(nvl.peak(DType::kFp32).has_value());
  EXPECT_EQ(nvl.status, GpuDataStatus::kNotConfirmed);
  EXPECT_STREQ(gpu_data_status_name(nvl.status), "not_confirmed");
}

TEST(GpuCatalogParse, PeaksMustBeDecimalStringsOfTflops) {
  struct Case {
    nlohmann::json value;
    const char* expected;
  };
  const Case cases[] = {
      {989.4,
       "field 'gpus[1].dense_tflops.bf16': expected a decimal string of TFLOP/s such as \"989.4\", got a "
       "number"},
      {"abc",
       "field 'gpus[1].dense_tflops.bf16': expected a positive decimal of TFLOP/s such as \"989.4\", got "
       "\"abc\""},
      {"0", "got \"0\""},
      {"-5", "got \"-5\""},
      {"1e400", "got \"1e400\""},
      {"756.", "got \"756.\""},
      {"756 TFLOPS", "got \"756 TFLOPS\""},
  };
  for (const Case& c : cases) {
    nlohmann::json doc = FixtureJson();
    doc["gpus"][1]["dense_tflops"]["bf16"] = c.value;
    Result<GpuCatalog> catalog = ParseJson(doc);
    ASSERT_FALSE(catalog.ok()) << c.value.dump();
    EXPECT_EQ(catalog.status().code(), StatusCode::kParseError);
    EXPECT_THAT(catalog.status().message(), AllOf(StartsWith("gpus.json:"), HasSubstr(c.expected)));
  }
  nlohmann::json doc = FixtureJson();
  doc["gpus"][1]["dense_tflops"]["bf16"] = "1.5e3";
  Result<GpuCatalog> exponent = ParseJson(doc);
  ASSERT_TRUE(exponent.ok()) << exponent.status().message();
  EXPECT_EQ(exponent->gpus[1].peak(DType::kBf16), 1.5e15);
}

TEST(GpuCatalogParse, DtypeKeysAreChecked) {
  nlohmann::json doc = FixtureJson();
  doc["gpus"][0]["dense_tflops"]["int8"] = "1979";
  Result<GpuCatalog> catalog = ParseJson(doc);
  ASSERT_FALSE(catalog.ok());
  EXPECT_THAT(
      catalog.status().message(),
      HasSubstr("field 'gpus[0].dense_tflops.int8': unknown dtype; allowed: fp32, tf32, bf16, fp16, fp8"));

  doc = FixtureJson();
  doc["gpus"][0]["dense_tflops"] = nlohmann::json::object();
  EXPECT_THAT(ParseJson(doc).status().message(), HasSubstr("must give the dense peak of at least one dtype"));
}

TEST(GpuCatalogParse, StatusIsConfirmedOrNotConfirmed) {
  nlohmann::json doc = FixtureJson();
  doc["gpus"][3]["status"] = "in_force";
  Result<GpuCatalog> catalog = ParseJson(doc);
  ASSERT_FALSE(catalog.ok());
  EXPECT_THAT(
      catalog.status().message(),
      HasSubstr("field 'gpus[3].status': unknown value 'in_force'; allowed: confirmed, not_confirmed"));
}

TEST(GpuCatalogParse, RequiredFieldsAndTypes) {
  for (const char* field :
       {"id", "name", "match", "architecture", "dense_tflops", "source", "url", "status"}) {
    nlohmann::json doc = FixtureJson();
    doc["gpus"][4].erase(field);
    Result<GpuCatalog> catalog = ParseJson(doc);
    ASSERT_FALSE(catalog.ok()) << field;
    EXPECT_THAT(catalog.status().message(),
                AllOf(HasSubstr("field 'gpus[4]." + std::string(field) + "'"), HasSubstr("missing")))
        << field;
  }
  nlohmann::json doc = FixtureJson();
  doc["gpus"][0]["sm_count"] = "132";
  EXPECT_THAT(ParseJson(doc).status().message(), HasSubstr("field 'gpus[0].sm_count'"));
  doc = FixtureJson();
  doc["gpus"][0]["sm_count"] = 0;
  EXPECT_THAT(ParseJson(doc).status().message(), HasSubstr("must be a positive integer"));
  doc = FixtureJson();
  doc["gpus"][0]["match"] = "NVIDIA H100 80GB HBM3";
  EXPECT_THAT(ParseJson(doc).status().message(), HasSubstr("expected an array of strings, got a string"));
  doc = FixtureJson();
  doc["gpus"][0]["match"] = {"NVIDIA H100 80GB HBM3", "  "};
  EXPECT_THAT(ParseJson(doc).status().message(),
              HasSubstr("field 'gpus[0].match[1]': expected a non-empty NVML device name"));
  doc = FixtureJson();
  doc["gpus"][0]["peak"] = "989";
  EXPECT_THAT(ParseJson(doc).status().message(),
              HasSubstr("field 'gpus[0].peak': unknown field; allowed: id,"));
  doc = FixtureJson();
  doc["gpus"][0]["_note"] = "comments are fine";
  EXPECT_TRUE(ParseJson(doc).ok());
}

TEST(GpuCatalogParse, EveryLookupKeyNamesOneGpu) {
  nlohmann::json doc = FixtureJson();
  doc["gpus"][5]["id"] = "h200";
  Result<GpuCatalog> catalog = ParseJson(doc);
  ASSERT_FALSE(catalog.ok());
  EXPECT_THAT(catalog.status().message(),
              HasSubstr("field 'gpus[5].id': duplicate id 'h200' (first at gpus[3])"));

  // The AWS defect in data form: one NVML name claimed by two variants.
  doc = FixtureJson();
  doc["gpus"][1]["match"].push_back("nvidia h100 80gb hbm3");
  catalog = ParseJson(doc);
  ASSERT_FALSE(catalog.ok());
  EXPECT_THAT(catalog.status().message(),
              HasSubstr("'nvidia h100 80gb hbm3' already names gpus[0] (h100-sxm); ids, names and NVML names "
                        "must each name one GPU"));
}

TEST(GpuCatalogParse, SchemaAndSyntax) {
  nlohmann::json doc = FixtureJson();
  doc["schema"] = "flopsmeter.rules/1";
  EXPECT_THAT(ParseJson(doc).status().message(),
              HasSubstr("unsupported schema 'flopsmeter.rules/1'; expected \"flopsmeter.gpus/1\""));
  Result<GpuCatalog> broken =
      parse_gpu_catalog("{\"schema\": \"flopsmeter.gpus/1\",\n \"gpus\": [}", "my.json");
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.status().message(), StartsWith("my.json:2:"));
}

TEST(GpuCatalogMerge, OverridesWinTheirIdsAndNvmlNames) {
  GpuCatalog base = FixtureCatalog();
  nlohmann::json user = nlohmann::json::parse(R"json({
    "schema": "flopsmeter.gpus/1", "data_version": "site-3",
    "gpus": [
      {"id": "l40s", "name": "NVIDIA L40S", "match": ["NVIDIA L40S"], "architecture": "ada",
       "dense_tflops": {"bf16": "350"}, "source": "our measurement", "url": "https://intranet/l40s",
       "status": "not_confirmed"},
      {"id": "h100-pcie-capped", "name": "H100 PCIe, power-capped", "match": ["NVIDIA H100 PCIe"],
       "architecture": "hopper", "dense_tflops": {"bf16": "600"}, "source": "our measurement",
       "url": "https://intranet/h100", "status": "not_confirmed"}
    ]})json");
  Result<GpuCatalog> overrides = parse_gpu_catalog(user.dump(), "site/gpus.json");
  ASSERT_TRUE(overrides.ok()) << overrides.status().message();
  GpuCatalog merged = merge_gpu_catalogs(base, *overrides);
  EXPECT_EQ(merged.data_version, "test-1+site-3");
  ASSERT_EQ(merged.gpus.size(), 13u);
  EXPECT_EQ(merged.gpus[9].id, "l40s");  // replaced in place
  EXPECT_EQ(merged.gpus[9].peak(DType::kBf16), 350e12);
  EXPECT_EQ(merged.gpus[9].origin, "site/gpus.json");
  EXPECT_EQ(Lookup(merged, "NVIDIA H100 PCIe"), "h100-pcie-capped");
  EXPECT_EQ(Lookup(merged, "h100-pcie"), "h100-pcie");  // still reachable by id
  EXPECT_TRUE(merged.gpus[1].match.empty());
}

// ---------------------------------------------------------------------------
// Lookup: exact, never by substring
// ---------------------------------------------------------------------------

TEST(GpuLookup, NvmlNamesSelectTheirOwnVariant) {
  GpuCatalog catalog = FixtureCatalog();
  EXPECT_EQ(Lookup(catalog, "NVIDIA H100 80GB HBM3"), "h100-sxm");
  EXPECT_EQ(Lookup(catalog, "NVIDIA H100 PCIe"), "h100-pcie");
  EXPECT_EQ(Lookup(catalog, "NVIDIA H100 NVL"), "h100-nvl");
  EXPECT_EQ(Lookup(catalog, "NVIDIA H200"), "h200");
  EXPECT_EQ(Lookup(catalog, "NVIDIA GH200 480GB"), "gh200");
  EXPECT_EQ(Lookup(catalog, "NVIDIA H20"), "h20");
  EXPECT_EQ(Lookup(catalog, "NVIDIA A10"), "a10");
  EXPECT_EQ(Lookup(catalog, "NVIDIA A10G"), "a10g");
  EXPECT_EQ(Lookup(catalog, "NVIDIA L40"), "l40");
  EXPECT_EQ(Lookup(catalog, "NVIDIA L40S"), "l40s");
  EXPECT_EQ(Lookup(catalog, "Tesla V100-SXM2-32GB"), "v100-sxm2");
}

TEST(GpuLookup, DifferentVariantsKeepDifferentPeaks) {
  GpuCatalog catalog = FixtureCatalog();
  auto bf16 = [&](const char* q) { return (*find_gpu(catalog, q))->peak(DType::kBf16).value_or(0); };
  EXPECT_EQ(bf16("NVIDIA H100 PCIe"), 756.5e12);  // not the SXM's 989.4
  EXPECT_EQ(bf16("NVIDIA L40S"), 362e12);         // not the L40's 181
  EXPECT_EQ(bf16("NVIDIA A10G"), 70e12);          // not the A10's 125
  EXPECT_EQ(bf16("NVIDIA H200"), 989.4e12);       // not the H20's 148
}

TEST(GpuLookup, IdsAndDisplayNamesIgnoringCaseAndSpace) {
  GpuCatalog catalog = FixtureCatalog();
  EXPECT_EQ(Lookup(catalog, "h100-pcie"), "h100-pcie");
  EXPECT_EQ(Lookup(catalog, "H100-PCIE"), "h100-pcie");
  EXPECT_EQ(Lookup(catalog, "  nvidia h100 pcie\n"), "h100-pcie");
  EXPECT_EQ(Lookup(catalog, "NVIDIA H100 SXM5"), "h100-sxm");
}

TEST(GpuLookup, NoSubstringOrPrefixMatches) {
  GpuCatalog catalog = FixtureCatalog();
  for (const char* query : {"H100", "NVIDIA H100", "h10", "NVIDIA H200 141GB", "A10G-24GB", "L4", "NVIDIA"}) {
    Result<const GpuSpec*> gpu = find_gpu(catalog, query);
    ASSERT_FALSE(gpu.ok()) << query << " matched " << (*gpu)->id;
    EXPECT_EQ(gpu.status().code(), StatusCode::kNotFound);
  }
}

TEST(GpuLookup, UnknownGpuSuggestsClosestIdsAndPeakFlops) {
  nlohmann::json doc = FixtureJson();
  doc["gpus"].erase(5);  // no H20 in this catalog
  Result<GpuCatalog> catalog = ParseJson(doc);
  ASSERT_TRUE(catalog.ok());
  Result<const GpuSpec*> gpu = find_gpu(*catalog, "H20");
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(
      gpu.status().message(),
      "unknown GPU 'H20': no catalog id or NVML device name is exactly that (names are never matched by "
      "substring); closest ids: h200, gh200, a10; pass option \"gpu\" with a catalog id, or option \"peak-flops\" with the "
      "GPU's dense peak in FLOP/s");
}

TEST(GpuLookup, EmptyQueryIsAnInvalidArgument) {
  EXPECT_EQ(find_gpu(FixtureCatalog(), "  ").status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// C = N x L x H x U
// ---------------------------------------------------------------------------

TEST(GpuEstimate, MultipliesGpusSecondsPeakAndUtilization) {
  Result<HardwareEstimate> e = hardware_estimate(989e12, 8, 100.0, 0.5);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_DOUBLE_EQ(e->flop, 8 * 100.0 * 3600 * 989e12 * 0.5);  // 1.42416e21 FLOP
  EXPECT_EQ(e->gpus, 8u);
  EXPECT_EQ(e->hours, 100.0);
  EXPECT_EQ(e->utilization, 0.5);
  EXPECT_EQ(e->peak_flop_per_s, 989e12);
  EXPECT_EQ(e->formula, "C = N x L x H x U = 8 x 360000 s x 9.89e+14 FLOP/s x 0.5 = 1.42e+21 FLOP");
  EXPECT_EQ(e->source, "user-supplied peak (option \"peak-flops\")");
}

TEST(GpuEstimate, GuidelinesExampleLlama32At370kH100Hours) {
  // EU Guidelines Annex A.3 example H: 370k H100-hours at U = 50%, ~6.5e23 FLOP.
  Result<HardwareEstimate> e = hardware_estimate(989e12, 1, 370000.0, 0.5);
  ASSERT_TRUE(e.ok());
  EXPECT_DOUBLE_EQ(e->flop, 6.58674e23);  // 370000 h x 3600 s x 989e12 FLOP/s x 0.5
  EXPECT_NEAR(e->flop / 6.5e23, 1.0, 0.02);
}

TEST(GpuEstimate, UsesTheCatalogPeakForTheDtype) {
  GpuCatalog catalog = FixtureCatalog();
  const GpuSpec* h100 = *find_gpu(catalog, "NVIDIA H100 80GB HBM3");
  Result<HardwareEstimate> e = hardware_estimate(*h100, DType::kBf16, 8, 10.0, 0.5);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_DOUBLE_EQ(e->flop, 8 * 36000.0 * 989.4e12 * 0.5);
  EXPECT_EQ(e->formula, "C = N x L x H x U = 8 x 36000 s x 9.894e+14 FLOP/s x 0.5 = 1.42e+20 FLOP");
  EXPECT_EQ(e->source,
            "NVIDIA H100 SXM5 (h100-sxm) dense bf16: NVIDIA H100 datasheet https://example.com/h100");

  Result<HardwareEstimate> fp8 = hardware_estimate(*h100, DType::kFp8, 8, 10.0, 0.5);
  ASSERT_TRUE(fp8.ok());
  EXPECT_DOUBLE_EQ(fp8->flop, 8 * 36000.0 * 1978.9e12 * 0.5);

  const GpuSpec* nvl = *find_gpu(catalog, "h100-nvl");
  EXPECT_THAT(hardware_estimate(*nvl, DType::kBf16, 1, 1.0, 1.0)->source,
              HasSubstr("[figure not confirmed by a primary source]"));
}

TEST(GpuEstimate, UnsupportedDtypeListsTheSupportedOnes) {
  GpuCatalog catalog = FixtureCatalog();
  const GpuSpec* v100 = *find_gpu(catalog, "v100-sxm2");
  Result<HardwareEstimate> e = hardware_estimate(*v100, DType::kBf16, 8, 10.0, 0.5);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      e.status().message(),
      "GPU 'v100-sxm2' (NVIDIA V100 SXM2) has no dense bf16 peak in the catalog; supported: fp32, fp16; "
      "choose one of those with option \"dtype\", or pass option \"peak-flops\"");
}

TEST(GpuEstimate, RejectsImpossibleInputs) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    double peak;
    uint64_t gpus;
    double hours;
    double utilization;
    const char* expected;
  };
  const Case cases[] = {
      {989e12, 0, 1, 0.5, "GPU count must be at least 1"},
      {989e12, 1, 0, 0.5, "training hours must be a finite number above 0, got 0"},
      {989e12, 1, -3, 0.5, "training hours must be a finite number above 0, got -3"},
      {989e12, 1, inf, 0.5, "training hours must be a finite number above 0, got inf"},
      {989e12, 1, nan, 0.5, "training hours must be a finite number above 0"},
      {989e12, 1, 1, 0, "utilization must be in (0, 1] (0.5 = 50%), got 0"},
      {989e12, 1, 1, 1.01, "utilization must be in (0, 1] (0.5 = 50%), got 1.01"},
      {989e12, 1, 1, nan, "utilization must be in (0, 1]"},
      {0, 1, 1, 0.5, "peak must be a finite FLOP/s figure above 0, got 0"},
      {inf, 1, 1, 0.5, "peak must be a finite FLOP/s figure above 0, got inf"},
      {1e300, 1000, 1e10, 1, "hardware estimate overflows"},
  };
  for (const Case& c : cases) {
    Result<HardwareEstimate> e = hardware_estimate(c.peak, c.gpus, c.hours, c.utilization);
    ASSERT_FALSE(e.ok()) << c.expected;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(e.status().message(), HasSubstr(c.expected));
  }
  EXPECT_TRUE(hardware_estimate(989e12, 1, 1, 1.0).ok());  // U = 1 is the upper bound, allowed
}

TEST(GpuEstimate, DerivedPeakFromTheChipLayout) {
  // A100: 108 SMs x 2048 dense BF16 FLOP/clk/SM x 1410 MHz = 3.1186944e14 FLOP/s (datasheet 312 TFLOP/s).
  Result<double> a100 = derived_peak(108, 2048, 1410);
  ASSERT_TRUE(a100.ok());
  EXPECT_EQ(*a100, 311869440000000.0);
  EXPECT_NEAR(*a100 / 312e12, 1.0, 0.001);

  GpuCatalog catalog = FixtureCatalog();
  const GpuSpec* gpu = *find_gpu(catalog, "NVIDIA A100-SXM4-40GB");
  Result<double> from_catalog =
      derived_peak(*gpu->sm_count, gpu->dense_flop_per_clk_per_sm.at(DType::kBf16), *gpu->boost_clock_mhz);
  ASSERT_TRUE(from_catalog.ok());
  EXPECT_NEAR(*from_catalog / *gpu->peak(DType::kBf16), 1.0, 0.001);

  EXPECT_EQ(derived_peak(0, 2048, 1410).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(derived_peak(108, 0, 1410).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(derived_peak(108, 2048, 0).status().message(),
            "clock must be a finite MHz figure above 0, got 0");
  EXPECT_FALSE(derived_peak(108, 2048, std::numeric_limits<double>::infinity()).ok());
}

// ---------------------------------------------------------------------------
// The shipped data/gpus.json
// ---------------------------------------------------------------------------

TEST(GpuDataFile, ParsesAndKeepsVariantsApart) {
  std::optional<std::string> text = testing::read_source_file("data/gpus.json");
  ASSERT_TRUE(text.has_value()) << "data/gpus.json is missing";
  Result<GpuCatalog> catalog = parse_gpu_catalog(*text, "data/gpus.json");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();

  for (const GpuSpec& gpu : catalog->gpus) {
    EXPECT_FALSE(gpu.source.empty()) << gpu.id;
    EXPECT_FALSE(gpu.url.empty()) << gpu.id;
    for (const auto& [dtype, peak] : gpu.dense_peak_flop_per_s) {
      // Dense per-GPU peaks lie between a T4's FP32 and a GB200's FP8 (sparse would be 2x).
      EXPECT_GT(peak, 1e12) << gpu.id << " " << dtype_name(dtype);
      EXPECT_LT(peak, 2e16) << gpu.id << " " << dtype_name(dtype);
    }
  }

  Result<const GpuSpec*> pcie = find_gpu(*catalog, "NVIDIA H100 PCIe");
  ASSERT_TRUE(pcie.ok()) << pcie.status().message();
  EXPECT_THAT((*pcie)->id, HasSubstr("pcie"));
  Result<const GpuSpec*> sxm = find_gpu(*catalog, "NVIDIA H100 80GB HBM3");
  ASSERT_TRUE(sxm.ok()) << sxm.status().message();
  EXPECT_NE((*sxm)->id, (*pcie)->id);
  ASSERT_TRUE((*sxm)->peak(DType::kBf16).has_value());
  EXPECT_NEAR(*(*sxm)->peak(DType::kBf16) / 989.4e12, 1.0, 0.01);
  EXPECT_LT((*pcie)->peak(DType::kBf16).value_or(0), *(*sxm)->peak(DType::kBf16));

  // The variants the AWS table merged keep their own figures.
  auto bf16 = [&](const char* nvml_name) -> double {
    Result<const GpuSpec*> gpu = find_gpu(*catalog, nvml_name);
    EXPECT_TRUE(gpu.ok()) << gpu.status().message();
    return gpu.ok() ? (*gpu)->peak(DType::kBf16).value_or(0) : 0;
  };
  EXPECT_NE(bf16("NVIDIA L40S"), bf16("NVIDIA L40"));
  EXPECT_NE(bf16("NVIDIA A10G"), bf16("NVIDIA A10"));
  EXPECT_FALSE(find_gpu(*catalog, "H100").ok());

  // "H20" must never resolve to the H200 or GH200.
  Result<const GpuSpec*> h20 = find_gpu(*catalog, "NVIDIA H20");
  if (h20.ok()) {
    EXPECT_THAT((*h20)->id, Not(HasSubstr("h200")));
  } else {
    EXPECT_THAT(h20.status().message(), HasSubstr("option \"peak-flops\""));
  }
}

TEST(GpuDataFile, DerivedPeaksAgreeWithTheDatasheets) {
  std::optional<std::string> text = testing::read_source_file("data/gpus.json");
  ASSERT_TRUE(text.has_value()) << "data/gpus.json is missing";
  Result<GpuCatalog> catalog = parse_gpu_catalog(*text, "data/gpus.json");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  int checked = 0;
  for (const GpuSpec& gpu : catalog->gpus) {
    if (!gpu.sm_count || !gpu.boost_clock_mhz) continue;
    for (const auto& [dtype, per_clock] : gpu.dense_flop_per_clk_per_sm) {
      std::optional<double> peak = gpu.peak(dtype);
      if (!peak) continue;
      Result<double> derived = derived_peak(*gpu.sm_count, per_clock, *gpu.boost_clock_mhz);
      ASSERT_TRUE(derived.ok());
      // At the maximum boost clock the layout gives the datasheet figure or up
      // to ~16% more (Hopper's tensor peaks assume a lower clock); never less.
      EXPECT_GE(*derived / *peak, 0.99) << gpu.id << " " << dtype_name(dtype);
      EXPECT_LE(*derived / *peak, 1.20) << gpu.id << " " << dtype_name(dtype);
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

// ---------------------------------------------------------------------------
// Board power and the energy estimate
// ---------------------------------------------------------------------------

TEST(GpuCatalogParse, BoardPowerIsOptionalAndStrict) {
  const GpuCatalog catalog = FixtureCatalog();
  ASSERT_TRUE(catalog.gpus[0].board_power.has_value());
  EXPECT_EQ(catalog.gpus[0].board_power->watts, 700);
  EXPECT_EQ(catalog.gpus[0].board_power->source, "NVIDIA H100 product page");
  EXPECT_EQ(catalog.gpus[0].board_power->status, GpuDataStatus::kConfirmed);
  EXPECT_FALSE(catalog.gpus[1].board_power.has_value());

  auto message = [](void (*edit)(nlohmann::json&)) {
    nlohmann::json doc = FixtureJson();
    edit(doc["gpus"][0]["board_power"]);
    Result<GpuCatalog> parsed = ParseJson(doc);
    return parsed.ok() ? std::string("parsed") : parsed.status().message();
  };
  EXPECT_THAT(message([](nlohmann::json& p) { p.erase("watts"); }),
              HasSubstr("field 'gpus[0].board_power.watts': missing"));
  EXPECT_THAT(message([](nlohmann::json& p) { p["watts"] = 0; }), HasSubstr("must be a positive integer"));
  EXPECT_THAT(message([](nlohmann::json& p) { p["watts"] = "700"; }), HasSubstr("field 'gpus[0].board_power.watts'"));
  EXPECT_THAT(message([](nlohmann::json& p) { p.erase("source"); }),
              HasSubstr("field 'gpus[0].board_power.source'"));
  EXPECT_THAT(message([](nlohmann::json& p) { p["status"] = "maybe"; }),
              HasSubstr("field 'gpus[0].board_power.status': unknown value 'maybe'"));
  EXPECT_THAT(message([](nlohmann::json& p) { p["tdp"] = 700; }),
              HasSubstr("field 'gpus[0].board_power.tdp': unknown field"));
  EXPECT_THAT(message([](nlohmann::json& p) { p = 700; }), HasSubstr("field 'gpus[0].board_power'"));
}

TEST(GpuEnergy, BoardPowerTimesGpuSecondsWithItsSource) {
  const GpuCatalog catalog = FixtureCatalog();
  Result<EnergyEstimate> e = board_energy_estimate(catalog.gpus[0], 3600);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_DOUBLE_EQ(e->joules, 700.0 * 3600);
  EXPECT_EQ(e->formula, "E = P x t = 700 W x 3600 s = 2.52e+06 J");
  EXPECT_THAT(e->source, AllOf(HasSubstr("h100-sxm"), HasSubstr("NVIDIA H100 product page"),
                               HasSubstr("https://example.com/h100"), Not(HasSubstr("not confirmed"))));

  EXPECT_DOUBLE_EQ(board_energy_estimate(catalog.gpus[0], 0)->joules, 0.0);
  for (double bad : {-1.0, std::numeric_limits<double>::infinity(), std::nan("")}) {
    EXPECT_EQ(board_energy_estimate(catalog.gpus[0], bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  Result<EnergyEstimate> none = board_energy_estimate(catalog.gpus[1], 10);
  ASSERT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("no board power for 'h100-pcie'"));
}

TEST(GpuDataFile, BoardPowersAreCitedAndPlausible) {
  std::optional<std::string> text = testing::read_source_file("data/gpus.json");
  ASSERT_TRUE(text.has_value()) << "data/gpus.json is missing";
  Result<GpuCatalog> catalog = parse_gpu_catalog(*text, "data/gpus.json");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  int with_power = 0;
  for (const GpuSpec& gpu : catalog->gpus) {
    if (!gpu.board_power) continue;
    ++with_power;
    EXPECT_THAT(gpu.board_power->url, StartsWith("https://")) << gpu.id;
    EXPECT_FALSE(gpu.board_power->source.empty()) << gpu.id;
    // Between an L4 / T4 (70 W) and a Blackwell board (about 1.2 kW).
    EXPECT_GE(gpu.board_power->watts, 60) << gpu.id;
    EXPECT_LE(gpu.board_power->watts, 1200) << gpu.id;
  }
  EXPECT_GT(with_power, 10);
  Result<const GpuSpec*> sxm = find_gpu(*catalog, "NVIDIA H100 80GB HBM3");
  ASSERT_TRUE(sxm.ok());
  ASSERT_TRUE((*sxm)->board_power.has_value());
  EXPECT_EQ((*sxm)->board_power->watts, 700);
}

}  // namespace
}  // namespace flopsmeter
