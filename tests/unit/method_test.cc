// Trainable parameters per method equal what PEFT's print_trainable_parameters
// reports ("trainable params" / "all params"), Spectrum and freezing included.
#include <gtest/gtest.h>

#include <gmock/gmock.h>

#include "adapters/spectrum_yaml.h"
#include "core/architectures.h"
#include "flopsmeter/method.h"
#include "unit/test_support.h"

namespace flopsmeter {
namespace {

using testing::catalog_model;

MethodSpec lora(uint64_t r, std::vector<std::string> targets, MethodKind kind = MethodKind::kLora) {
  MethodSpec s;
  s.kind = kind;
  s.lora.r = r;
  s.lora.target_modules = std::move(targets);
  return s;
}

TrainingPlan plan_or_die(const Model& m, const MethodSpec& s) {
  auto p = plan_training(m, s);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : TrainingPlan{};
}

TEST(Method, PeftGoldensMatchTrainableAndAllParams) {
  nlohmann::json goldens = testing::read_json(testing::source_path("tests/data/goldens/peft_counts.json"));
  ASSERT_GE(goldens["peft"].size(), 6u);
  for (const auto& g : goldens["peft"]) {
    const auto& m = g["method"];
    MethodSpec s;
    auto kind = parse_method(m["kind"].get<std::string>());
    ASSERT_TRUE(kind.ok());
    s.kind = *kind;
    if (m.value("use_dora", false)) s.kind = MethodKind::kDora;
    s.lora.r = m["r"];
    s.lora.target_modules = m["target_modules"].get<std::vector<std::string>>();
    if (m.contains("bias") && m["bias"].is_string()) s.lora.bias = m["bias"];
    if (m.contains("modules_to_save")) s.lora.modules_to_save = m["modules_to_save"].get<std::vector<std::string>>();
    if (m.contains("layers_to_transform")) s.lora.layers_to_transform = m["layers_to_transform"].get<std::vector<uint64_t>>();
    TrainingPlan p = plan_or_die(catalog_model(g["model"]), s);
    EXPECT_EQ(std::to_string(p.params_trainable), g["trainable"].get<std::string>()) << g["model"] << " " << m.dump();
    EXPECT_EQ(std::to_string(p.params_all), g["all"].get<std::string>()) << g["model"] << " " << m.dump();
  }
}

TEST(Method, AnUnknownNameIsQuotedWithoutItsControlBytes) {
  auto m = parse_method("lora\x1b[2J");  // a terminal escape must not reach the user's screen
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "unknown method 'lora\\x1b[2J'; expected one of full, freeze, lora, dora, qlora, spectrum");
}

TEST(Method, FullTrainsEverything) {
  Model m = catalog_model("openai-community/gpt2");
  TrainingPlan p = plan_or_die(m, MethodSpec{});
  EXPECT_EQ(p.params_trainable, 124439808u);
  EXPECT_EQ(p.params_all, 124439808u);
}

TEST(Method, DoraAddsOneMagnitudePerOutputFeature) {
  Model m = catalog_model("meta-llama/Llama-3.2-3B-Instruct");
  TrainingPlan l = plan_or_die(m, lora(8, {"q_proj", "v_proj"}));
  TrainingPlan d = plan_or_die(m, lora(8, {"q_proj", "v_proj"}, MethodKind::kDora));
  // 28 layers x (q: 3072 + v: 1024) magnitudes.
  EXPECT_EQ(d.params_trainable - l.params_trainable, 28u * (3072u + 1024u));
  EXPECT_EQ(d.params_all - l.params_all, 28u * (3072u + 1024u));
}

TEST(Method, QloraCountsLikeLoraOnLogicalParameters) {
  Model m = catalog_model("meta-llama/Llama-3.2-3B-Instruct");
  TrainingPlan q = plan_or_die(m, lora(8, {"q_proj", "v_proj"}, MethodKind::kQlora));
  EXPECT_EQ(q.params_trainable, 2293760u);
  EXPECT_EQ(q.params_all, 3215043584u);
}

TEST(Method, AllLinearSkipsTheHeadButIncludesRouters) {
  Model dense = catalog_model("meta-llama/Llama-3.2-1B");
  TrainingPlan p = plan_or_die(dense, lora(8, {"all-linear"}));
  EXPECT_EQ(p.adapters.size(), 16u * 7u);
  for (const Adapter& a : p.adapters) EXPECT_NE(a.module_path, "lm_head");
  Model moe = catalog_model("mistralai/Mixtral-8x7B-v0.1");
  TrainingPlan pm = plan_or_die(moe, lora(8, {"all-linear"}));
  // 4 attention + router + 8 experts x 3 per layer.
  EXPECT_EQ(pm.adapters.size(), 32u * (4u + 1u + 24u));
}

TEST(Method, BiasAllTrainsEveryBiasLoraOnlyTheAdaptedOnes) {
  Model m = catalog_model("Qwen/Qwen2.5-0.5B");  // q/k/v have biases
  MethodSpec s = lora(8, {"q_proj"});
  TrainingPlan none = plan_or_die(m, s);
  s.lora.bias = "lora_only";
  TrainingPlan only = plan_or_die(m, s);
  EXPECT_EQ(only.params_trainable - none.params_trainable, 24u * 896u);  // q biases
  s.lora.bias = "all";
  TrainingPlan all = plan_or_die(m, s);
  EXPECT_EQ(all.params_trainable - none.params_trainable, 24u * (896u + 128u + 128u));
  EXPECT_EQ(all.params_all, none.params_all);
}

TEST(Method, ModulesToSaveAddATrainableCopyToBothTotals) {
  Model m = catalog_model("meta-llama/Llama-2-7b-hf");  // untied lm_head 32000 x 4096
  MethodSpec s = lora(8, {"q_proj", "v_proj"});
  TrainingPlan base = plan_or_die(m, s);
  s.lora.modules_to_save = {"lm_head"};
  TrainingPlan saved = plan_or_die(m, s);
  EXPECT_EQ(saved.params_trainable - base.params_trainable, 32000u * 4096u);
  EXPECT_EQ(saved.params_all - base.params_all, 32000u * 4096u);
}

TEST(Method, LayersToTransformLimitsTheAdapters) {
  Model m = catalog_model("meta-llama/Llama-3.2-1B");
  MethodSpec s = lora(4, {"q_proj"});
  s.lora.layers_to_transform = {0, 1};
  TrainingPlan p = plan_or_die(m, s);
  EXPECT_EQ(p.adapters.size(), 2u);
}

TEST(Method, LayersToTransformIgnoresExactNamesAndRegexAsPeftDoes) {
  Model m = catalog_model("meta-llama/Llama-3.2-1B");
  MethodSpec s = lora(4, {"model.layers.5.self_attn.q_proj", "v_proj"});
  s.lora.layers_to_transform = {0};
  TrainingPlan p = plan_or_die(m, s);
  ASSERT_EQ(p.adapters.size(), 2u);  // the exact name, and layer 0's v_proj
  EXPECT_EQ(p.adapters[0].module_path, "model.layers.0.self_attn.v_proj");
  EXPECT_EQ(p.adapters[1].module_path, "model.layers.5.self_attn.q_proj");
}

TEST(Method, UnknownTargetIsPeftsNotFoundError) {
  auto p = plan_training(catalog_model("openai-community/gpt2"), lora(8, {"q_proj"}));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), ::testing::HasSubstr("match no module"));
  EXPECT_THAT(p.status().message(), ::testing::HasSubstr("module listing (inspect, option \"modules\")"));
}

TEST(Method, NormTargetIsRejectedAsPeftDoes) {
  auto p = plan_training(catalog_model("meta-llama/Llama-3.2-1B"), lora(8, {"input_layernorm"}));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), ::testing::HasSubstr("PEFT cannot adapt it"));
}

TEST(Method, RegexTargetMustMatchTheWholeName) {
  MethodSpec s = lora(8, {R"(.*layers\.0\.self_attn\.(q|v)_proj)"});
  s.lora.target_regex = true;
  TrainingPlan p = plan_or_die(catalog_model("meta-llama/Llama-3.2-1B"), s);
  EXPECT_EQ(p.adapters.size(), 2u);
}

TEST(Method, FreezeFirstLayersAndEmbeddings) {
  Model m = catalog_model("openai-community/gpt2");
  MethodSpec s;
  s.kind = MethodKind::kFreeze;
  s.freeze.frozen_layers = 6;
  TrainingPlan p = plan_or_die(m, s);
  uint64_t per_layer = 7087872;  // gpt2 block: 4 x 768^2 x 3 (+biases, norms)
  EXPECT_EQ(p.params_trainable, 124439808u - 6 * per_layer);
  s.freeze.freeze_embeddings = true;
  TrainingPlan pe = plan_or_die(m, s);
  EXPECT_EQ(p.params_trainable - pe.params_trainable, 50257u * 768u + 1024u * 768u);
  s.freeze.frozen_layers = 13;
  EXPECT_FALSE(plan_training(m, s).ok());
}

TEST(Method, SpectrumYamlPatternsUsePythonReMatch) {
  const char* yaml =
      "unfrozen_parameters:\n"
      "- ^lm_head.weight$\n"
      "- ^model.embed_tokens.weight$\n"
      "# mlp.down_proj layers\n"
      "- model.layers.1.mlp.down_proj\n";
  auto patterns = parse_spectrum_yaml(yaml, "spectrum.yaml");
  ASSERT_TRUE(patterns.ok()) << patterns.status().ToString();
  Model m = catalog_model("meta-llama/Llama-3.2-1B");  // tied: no lm_head parameter
  MethodSpec s;
  s.kind = MethodKind::kSpectrum;
  s.spectrum.unfrozen_patterns = *patterns;
  TrainingPlan p = plan_or_die(m, s);
  // embed_tokens + layer 1's down_proj (not layer 10-15's: re.match anchors at the start).
  EXPECT_EQ(p.params_trainable, 128256u * 2048u + 8192u * 2048u);
}

// transformers 5 fuses a layer's experts into mlp.experts.gate_up_proj and
// mlp.experts.down_proj (its conversion_mapping.py); a pattern in either
// naming unfreezes the same weights.
TEST(Method, SpectrumAcceptsTransformers4And5ExpertNames) {
  Model m = catalog_model("Qwen/Qwen3-30B-A3B");  // 128 experts of 2048 x 768
  const uint64_t per_matrix = 2048u * 768u;
  MethodSpec s;
  s.kind = MethodKind::kSpectrum;
  s.spectrum.unfrozen_patterns = {R"(model\.layers\.3\.mlp\.experts\.gate_up_proj)"};
  EXPECT_EQ(plan_or_die(m, s).params_trainable, 128u * 2 * per_matrix);
  s.spectrum.unfrozen_patterns = {R"(model\.layers\.3\.mlp\.experts\.[0-9]+\.(gate|up)_proj)"};
  EXPECT_EQ(plan_or_die(m, s).params_trainable, 128u * 2 * per_matrix);
  s.spectrum.unfrozen_patterns = {R"(model\.layers\.3\.mlp\.experts\.down_proj$)"};
  EXPECT_EQ(plan_or_die(m, s).params_trainable, 128u * per_matrix);

  Model mixtral = catalog_model("mistralai/Mixtral-8x7B-v0.1");  // w1/w3 -> gate_up_proj, w2 -> down_proj
  s.spectrum.unfrozen_patterns = {R"(model\.layers\.0\.mlp\.experts\.down_proj)", R"(model\.layers\.0\.mlp\.gate\.)"};
  EXPECT_EQ(plan_or_die(mixtral, s).params_trainable, 8u * 14336u * 4096u + 8u * 4096u);
}

// Plain-prefix patterns are compared, not run as regexes; the plan is the same.
TEST(Method, SpectrumPrefixPatternsMatchAsTheirRegexWould) {
  Model m = catalog_model("Qwen/Qwen3-30B-A3B");
  MethodSpec s;
  s.kind = MethodKind::kSpectrum;
  s.spectrum.unfrozen_patterns = {R"(^model\.layers\.3\.mlp\.experts\.1)", "model.layers.4.self_attn"};
  TrainingPlan literal = plan_or_die(m, s);
  s.spectrum.unfrozen_patterns = {R"(^model\.layers\.3\.mlp\.experts\.(1))", "model.layers.4.self_att(n)"};
  TrainingPlan regex = plan_or_die(m, s);
  EXPECT_EQ(literal.trainable_base, regex.trainable_base);
  // experts 1 and 10-19 and 100-127 of layer 3 (re.match is a prefix match), and layer 4's attention.
  const uint64_t expert = 3u * 2048 * 768, attention = 2048u * 4096 + 2 * 2048u * 512 + 4096u * 2048 + 2 * 128;
  EXPECT_EQ(literal.params_trainable, (1 + 10 + 28) * expert + attention);
}

TEST(Method, Transformers5NamesOnlyTheFusedExpertParameters) {
  EXPECT_EQ(transformers5_parameter_name("model.layers.7.mlp.experts.12.up_proj.weight"),
            "model.layers.7.mlp.experts.gate_up_proj");
  EXPECT_EQ(transformers5_parameter_name("model.layers.0.block_sparse_moe.experts.1.w2.weight"),
            "model.layers.0.mlp.experts.down_proj");
  EXPECT_EQ(transformers5_parameter_name("model.layers.0.block_sparse_moe.gate.weight"), "model.layers.0.mlp.gate.weight");
  EXPECT_EQ(transformers5_parameter_name("model.layers.0.mlp.gate.weight"), "");
  EXPECT_EQ(transformers5_parameter_name("model.layers.0.mlp.shared_expert.up_proj.weight"), "");
  EXPECT_EQ(transformers5_parameter_name("model.layers.0.mlp.down_proj.weight"), "");
}

TEST(Method, SpectrumYamlErrorsNameTheLine) {
  auto bad = parse_spectrum_yaml("unfrozen_parameters:\n- a\nnot a list item\n", "s.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::StartsWith("s.yaml:3:"));
  EXPECT_FALSE(parse_spectrum_yaml("other:\n- a\n", "s.yaml").ok());
}

TEST(Method, SpectrumFractionUnfreezesThatShareOfEachLinearTypePlusHeadAndEmbeddings) {
  Model m = catalog_model("meta-llama/Llama-3.2-1B");  // 16 layers
  MethodSpec s;
  s.kind = MethodKind::kSpectrum;
  s.spectrum.fraction = 0.25;
  TrainingPlan p = plan_or_die(m, s);
  uint64_t layer_linears = 2048ull * 2048 * 2 + 2048ull * 512 * 2 + 3ull * 2048 * 8192;
  EXPECT_EQ(p.params_trainable, 128256ull * 2048 + 4 * layer_linears);
  s.spectrum.fraction = 0.0;
  EXPECT_FALSE(plan_training(m, s).ok());
}

TEST(Method, ParseMethodListsTheChoices) {
  auto k = parse_method("lorra");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(), ::testing::HasSubstr("full, freeze, lora, dora, qlora, spectrum"));
}

}  // namespace
}  // namespace flopsmeter
