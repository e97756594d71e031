// Parameter counts equal transformers' model.num_parameters() for real
// configs; every golden cites its source in tests/data/goldens/.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/test_support.h"

namespace flopsmeter {
namespace {

using testing::catalog_model;
using testing::model_from_json;

TEST(ParamCounts, EveryGoldenMatchesToTheLastDigit) {
  nlohmann::json goldens = testing::read_json(testing::source_path("tests/data/goldens/param_counts.json"));
  ASSERT_GE(goldens["counts"].size(), 10u);
  std::set<std::string> families;
  for (const auto& g : goldens["counts"]) {
    std::string id = g["model"];
    ASSERT_FALSE(g["source"].get<std::string>().empty()) << id << " has no source";
    Model m = catalog_model(id);
    families.insert(m.arch.model_type);
    EXPECT_EQ(std::to_string(count_parameters(m).total), g["params_total"].get<std::string>()) << id;
  }
  // The goldens span the families the issue names.
  for (const char* family : {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
                             "gemma2", "gemma3_text", "gemma3", "phi3", "gpt2"}) {
    EXPECT_TRUE(families.count(family)) << "no golden for " << family;
  }
}

TEST(ParamCounts, CatalogEntriesAgreeWithTheirPublishedCount) {
  for (const CatalogModel& c : testing::builtin_catalog().models()) {
    if (!c.published_params) continue;
    EXPECT_EQ(count_parameters(catalog_model(c.id)).total, *c.published_params) << c.id;
  }
}

TEST(ParamCounts, TiedEmbeddingsCountOnce) {
  Model m = catalog_model("meta-llama/Llama-3.2-3B-Instruct");
  ParamBreakdown b = count_parameters(m);
  EXPECT_TRUE(m.arch.tied_embeddings);
  EXPECT_EQ(b.by_component.count(Component::kLmHead), 0u);
  EXPECT_EQ(b.embedding, 128256u * 3072u);
}

TEST(ParamCounts, MixtralActiveParametersUseTwoOfEightExperts) {
  Model m = catalog_model("mistralai/Mixtral-8x7B-v0.1");
  ParamBreakdown b = count_parameters(m);
  // Each expert: 3 x 4096 x 14336; 6 of 8 idle in each of 32 layers.
  uint64_t idle = 32ull * 6 * 3 * 4096 * 14336;
  EXPECT_EQ(b.active_per_token, b.total - idle);
  EXPECT_EQ(b.active_per_token, 12879925248u);  // Mistral AI: "12.9B active parameters"
}

TEST(ParamCounts, Qwen2MoeSharedExpertAndGateAreAlwaysActive) {
  Model m = catalog_model("Qwen/Qwen1.5-MoE-A2.7B-Chat");
  ParamBreakdown b = count_parameters(m);
  EXPECT_GT(b.by_component.at(Component::kSharedExperts), 0u);
  EXPECT_EQ(b.by_component.at(Component::kRouter), 24u * 60u * 2048u);
  // 56 of 60 routed experts idle per layer, each 3 x 2048 x 1408.
  EXPECT_EQ(b.active_per_token, b.total - 24ull * 56 * 3 * 2048 * 1408);
}

TEST(ParamCounts, ExplicitHeadDimOverridesHiddenOverHeads) {
  Model m = catalog_model("Qwen/Qwen3-0.6B");  // hidden 1024, 16 heads, head_dim 128
  EXPECT_EQ(m.arch.head_dim, 128u);
  for (const Module& mod : m.modules) {
    if (mod.path == "model.layers.0.self_attn.q_proj") {
      EXPECT_EQ(mod.out_features, 16u * 128u);
    }
  }
}

TEST(ParamCounts, UnknownModelTypeNamesTheSupportedOnesAndTheCheckpointRoute) {
  auto m = model_from_json({{"model_type", "falcon"}, {"hidden_size", 64}});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(m.status().message(), ::testing::HasSubstr("model_type 'falcon' is not supported"));
  EXPECT_THAT(m.status().message(), ::testing::HasSubstr("llama"));
  EXPECT_THAT(m.status().message(), ::testing::HasSubstr("checkpoint directory"));
}

TEST(ParamCounts, BadFieldsNameTheFileLineAndField) {
  auto doc = parse_json_document("{\n  \"model_type\": \"llama\",\n  \"hidden_size\": -5\n}", "cfg.json");
  ASSERT_TRUE(doc.ok());
  auto m = build_model_from_config(*doc);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "cfg.json:3:3: field 'hidden_size' is -5; expected a non-negative integer");
}

TEST(ParamCounts, InconsistentHeadsAreRejected) {
  auto m = model_from_json({{"model_type", "llama"}, {"hidden_size", 96}, {"num_hidden_layers", 1},
                            {"num_attention_heads", 6}, {"num_key_value_heads", 4}, {"intermediate_size", 128}});
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), ::testing::HasSubstr("not a multiple of num_key_value_heads"));
}

}  // namespace
}  // namespace flopsmeter

namespace flopsmeter {
namespace {

// Hostile configs are refused before any memory is spent on them.
TEST(ParamCounts, ImplausiblyLargeConfigsAreRefusedWithTheField) {
  nlohmann::json base = {{"model_type", "mixtral"},  {"hidden_size", 64},        {"num_hidden_layers", 2},
                         {"num_attention_heads", 4}, {"intermediate_size", 128}, {"num_local_experts", 4}};
  nlohmann::json wide = base;
  wide["hidden_size"] = uint64_t{1} << 40;
  auto m = testing::model_from_json(wide, "wide.json");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), ::testing::HasSubstr("field 'hidden_size' is 1099511627776; larger than any real model"));
  nlohmann::json deep = base;
  deep["num_hidden_layers"] = 1000000;
  EXPECT_THAT(testing::model_from_json(deep).status().message(), ::testing::HasSubstr("num_hidden_layers 1000000 exceeds"));
  nlohmann::json experts = base;
  experts["num_hidden_layers"] = 4000;
  experts["num_local_experts"] = 100000;
  EXPECT_THAT(testing::model_from_json(experts).status().message(), ::testing::HasSubstr("layers x experts"));
}

}  // namespace
}  // namespace flopsmeter

namespace flopsmeter {
namespace {

// OLMo 2 has no sourced catalog config here; its layout is checked by hand:
// no input norm, norms on the attention and MLP outputs, q/k norms over the
// whole projection (not per head).
TEST(ParamCounts, Olmo2NormsAndPerProjectionQkNorms) {
  const uint64_t v = 1000, h = 64, i = 160, layers = 3, heads = 8, kv = 2, hd = 8;
  auto m = testing::model_from_json({{"model_type", "olmo2"}, {"vocab_size", v}, {"hidden_size", h},
                                     {"intermediate_size", i}, {"num_hidden_layers", layers},
                                     {"num_attention_heads", heads}, {"num_key_value_heads", kv}});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  uint64_t per_layer = h * heads * hd + 2 * h * kv * hd + heads * hd * h  // q, k, v, o
                       + heads * hd + kv * hd                              // q_norm, k_norm
                       + 3 * h * i                                         // gate, up, down
                       + 2 * h;                                            // post-attention, post-feedforward
  EXPECT_EQ(count_parameters(*m).total, v * h + layers * per_layer + h + v * h);
  for (const Module& mod : m->modules) {
    EXPECT_EQ(mod.path.find("input_layernorm"), std::string::npos) << mod.path;
  }
}

}  // namespace
}  // namespace flopsmeter

namespace flopsmeter {
namespace {

// A typo or a short id among the expanded catalog still finds its model first.
TEST(ParamCounts, CatalogSuggestionsFindTheNewIds) {
  auto first_suggestion = [](const std::string& typed) {
    auto found = testing::builtin_catalog().find_model(typed);
    EXPECT_FALSE(found.ok()) << typed;
    const std::string& msg = found.status().message();
    size_t at = msg.find("closest catalog ids: ");
    if (at == std::string::npos) return std::string();
    at += std::string("closest catalog ids: ").size();
    return msg.substr(at, msg.find(' ', at) - at);
  };
  EXPECT_EQ(first_suggestion("Qwen/Qwen3-30B-A3"), "Qwen/Qwen3-30B-A3B");
  EXPECT_EQ(first_suggestion("Qwen/Qwen3-30B-AB3"), "Qwen/Qwen3-30B-A3B");
  EXPECT_EQ(first_suggestion("Qwen/Qwen3-235B"), "Qwen/Qwen3-235B-A22B");
  EXPECT_EQ(first_suggestion("meta-llama/Llama-3.3-70B"), "meta-llama/Llama-3.3-70B-Instruct");
  EXPECT_EQ(first_suggestion("microsoft/phi4"), "microsoft/phi-4");
}

}  // namespace
}  // namespace flopsmeter

namespace flopsmeter {
namespace {

std::string with_thousands(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// An entry with no exact published count says so, and how its count was
// checked instead; the count it states is the one the builder computes.
TEST(ParamCounts, EntriesWithoutAPublishedCountSaySoAndStateTheCount) {
  size_t without = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_path("data/models"))) {
    nlohmann::json j = testing::read_json(entry.path().string());
    if (j.contains("published_params")) continue;
    ++without;
    std::string id = j["id"];
    std::string notes = j.value("notes", "");
    EXPECT_NE(notes.find("params_status: checked_otherwise"), std::string::npos) << id;
    EXPECT_NE(notes.find(with_thousands(count_parameters(catalog_model(id)).total)), std::string::npos) << id;
  }
  EXPECT_GT(without, 0u);
}

}  // namespace
}  // namespace flopsmeter
