// DeepSeek-V3's multi-head latent attention and gpt-oss's sinks and fused
// experts: counts checked against published figures by formulas written out
// here, names as transformers registers them, and the detailed FLOP walk.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/architectures.h"
#include "flopsmeter/flops.h"
#include "unit/test_support.h"

namespace flopsmeter {
namespace {

using testing::catalog_model;

const Parameter* find_param(const Model& m, const std::string& name) {
  for (const Module& mod : m.modules)
    for (const Parameter& p : mod.params)
      if (p.name == name) return &p;
  return nullptr;
}

Model build(const nlohmann::json& cfg) {
  auto m = testing::model_from_json(cfg);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : Model{};
}

TEST(DeepseekV3, CountIsTheCheckpointsMainModelLessTheRouterBuffers) {
  Model m = catalog_model("deepseek-ai/DeepSeek-V3");
  const uint64_t h = 7168, heads = 128;
  const uint64_t attention = h * 1536 + 1536 + 1536 * heads * (128 + 64)  // q_a, its norm, q_b
                             + h * (512 + 64) + 512 + 512 * heads * (128 + 128)  // kv_a, its norm, kv_b
                             + heads * 128 * h;                                  // o
  const uint64_t dense_mlp = 3 * h * 18432;
  const uint64_t expert = 3 * h * 2048;
  const uint64_t moe = 256 * h + 256 * expert + expert;  // router, routed experts, one shared expert
  const uint64_t total = 2 * 129280 * h + h + 3 * (attention + dense_mlp + 2 * h) + 58 * (attention + moe + 2 * h);
  ParamBreakdown b = count_parameters(m);
  EXPECT_EQ(b.total, total);
  EXPECT_EQ(b.total, 671026404352u);
  // Third-party header scans of the checkpoint give 671,026,419,200 for the
  // main model: the same plus each MoE layer's 256-entry e_score_correction_bias.
  EXPECT_EQ(b.total + 58u * 256u, 671026419200u);
  // 8 of 256 routed experts per token (DeepSeek's README_WEIGHTS.md gives 36.7B activated, counted its own way).
  EXPECT_EQ(b.active_per_token, total - 58u * 248u * expert);
  EXPECT_EQ(b.active_per_token, 37552282624u);
}

TEST(DeepseekV3, ModulesCarryTransformersNamesAndNoMtpLayer) {
  Model m = catalog_model("deepseek-ai/DeepSeek-V3");
  EXPECT_EQ(m.arch.num_layers, 61u);
  EXPECT_EQ(m.arch.head_dim, 192u);
  EXPECT_EQ(m.arch.v_head_dim, 128u);
  for (const char* name :
       {"model.layers.0.self_attn.q_a_proj.weight", "model.layers.0.self_attn.q_a_layernorm.weight",
        "model.layers.0.self_attn.kv_a_proj_with_mqa.weight", "model.layers.0.self_attn.kv_b_proj.weight",
        "model.layers.2.mlp.gate_proj.weight", "model.layers.3.mlp.gate.weight",
        "model.layers.3.mlp.experts.255.down_proj.weight", "model.layers.60.mlp.shared_experts.up_proj.weight"}) {
    EXPECT_NE(find_param(m, name), nullptr) << name;
  }
  EXPECT_EQ(find_param(m, "model.layers.3.mlp.gate.e_score_correction_bias"), nullptr);  // a buffer
  EXPECT_EQ(find_param(m, "model.layers.3.mlp.experts.0.gate_proj.weight")->shape,
            (std::vector<uint64_t>{2048, 7168}));
  EXPECT_EQ(find_param(m, "model.layers.61.input_layernorm.weight"), nullptr);
}

nlohmann::json tiny_mla(const nlohmann::json& q_lora_rank, uint64_t v_head_dim) {
  return {{"model_type", "deepseek_v3"}, {"vocab_size", 100},         {"hidden_size", 64},
          {"num_hidden_layers", 2},      {"num_attention_heads", 4},  {"num_key_value_heads", 4},
          {"intermediate_size", 32},     {"moe_intermediate_size", 16}, {"n_routed_experts", 4},
          {"num_experts_per_tok", 2},    {"n_shared_experts", 1},     {"first_k_dense_replace", 1},
          {"q_lora_rank", q_lora_rank},  {"kv_lora_rank", 8},         {"qk_nope_head_dim", 8},
          {"qk_rope_head_dim", 4},       {"v_head_dim", v_head_dim}};
}

TEST(DeepseekV3, NullQLoraRankMeansOneQueryProjection) {
  Model m = build(tiny_mla(nullptr, 6));
  const Parameter* q = find_param(m, "model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<uint64_t>{4 * 12, 64}));
  EXPECT_EQ(find_param(m, "model.layers.0.self_attn.q_a_proj.weight"), nullptr);
}

TEST(GptOss, CountsMatchThePublishedActiveFigures) {
  // Per expert: gate_up 2880 x 5760 plus bias, down 2880 x 2880 plus bias.
  const uint64_t expert = 2880u * 5760 + 5760 + 2880u * 2880 + 2880;
  const uint64_t embedding = 201088u * 2880;
  struct Case {
    const char* id;
    uint64_t layers, experts, active_excluding_embedding_hundred_millions;
  };
  // keras-hub's preset descriptions: 3.6 and 5.1 billion active parameters (embedding excluded).
  for (const Case& c : {Case{"openai/gpt-oss-20b", 24, 32, 36}, Case{"openai/gpt-oss-120b", 36, 128, 51}}) {
    ParamBreakdown b = count_parameters(catalog_model(c.id));
    EXPECT_EQ(b.active_per_token, b.total - c.layers * (c.experts - 4) * expert) << c.id;
    EXPECT_EQ((b.active_per_token - embedding + 50000000) / 100000000, c.active_excluding_embedding_hundred_millions)
        << c.id;
  }
}

TEST(GptOss, SinksRouterBiasAndFusedExpertsAreNamedAsTransformersNamesThem) {
  Model m = catalog_model("openai/gpt-oss-20b");
  EXPECT_EQ(find_param(m, "model.layers.0.self_attn.sinks")->shape, (std::vector<uint64_t>{64}));
  EXPECT_EQ(find_param(m, "model.layers.0.self_attn.q_proj.bias")->shape, (std::vector<uint64_t>{4096}));
  EXPECT_EQ(find_param(m, "model.layers.0.mlp.router.bias")->shape, (std::vector<uint64_t>{32}));
  EXPECT_EQ(find_param(m, "model.layers.0.mlp.experts.gate_up_proj")->shape,
            (std::vector<uint64_t>{32, 2880, 5760}));
  EXPECT_EQ(find_param(m, "model.layers.23.mlp.experts.down_proj_bias")->shape, (std::vector<uint64_t>{32, 2880}));
  EXPECT_EQ(m.arch.sliding_window[0], 128u);
  EXPECT_EQ(m.arch.sliding_window[1], 0u);
}

TEST(GptOss, LoraAdaptsOnlyTheLinearsAndRefusesTheFusedExperts) {
  Model m = catalog_model("openai/gpt-oss-20b");
  MethodSpec s;
  s.kind = MethodKind::kLora;
  s.lora.r = 8;
  s.lora.target_modules = {"all-linear"};
  auto p = plan_training(m, s);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->adapters.size(), 24u * 4u);  // q, k, v, o: the router and experts are no nn.Linear
  s.lora.target_modules = {"experts"};
  auto refused = plan_training(m, s);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("PEFT cannot adapt it"));
}

// Sum over the matmuls one token passes through: routed experts k of E times.
Flop matmul_weights_per_token(const Model& m) {
  Flop sum = 0;
  for (const Module& mod : m.modules) {
    bool fused = mod.slot == Slot::kFusedExpertGateUp || mod.slot == Slot::kFusedExpertDown;
    bool matmul = mod.kind == ModuleKind::kLinear || mod.kind == ModuleKind::kConv1D || mod.slot == Slot::kRouter || fused;
    if (!matmul || mod.slot == Slot::kTokenEmbedding) continue;
    Flop w = static_cast<Flop>(mod.in_features) * mod.out_features;
    if (mod.expert >= 0) w = w * m.arch.experts_per_token / m.arch.num_experts;
    if (fused) w *= m.arch.experts_per_token;
    sum += w;
  }
  return sum;
}

Workload sequence_of(uint64_t seq) {
  Workload w;
  w.sequences[seq] = 1;
  w.tokens = seq;
  return w;
}

TEST(DetailedFlopsNewFamilies, ForwardVisitsEveryProjectionOnce) {
  nlohmann::json oss = {{"model_type", "gpt_oss"},   {"vocab_size", 100},       {"hidden_size", 64},
                        {"num_hidden_layers", 2},    {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                        {"head_dim", 16},            {"intermediate_size", 24}, {"num_local_experts", 4},
                        {"num_experts_per_tok", 2}};
  for (const nlohmann::json& cfg : {tiny_mla(16, 6), tiny_mla(nullptr, 6), oss}) {
    Model m = build(cfg);
    auto plan = plan_training(m, MethodSpec{});
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    auto e = estimate_flops(m, *plan, sequence_of(8));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->detailed.forward - e->detailed.forward_attention, 2 * 8 * matmul_weights_per_token(m))
        << cfg["model_type"];
  }
}

TEST(DetailedFlopsNewFamilies, MlaScoresUseQueryKeyWidthAndOutputsTheValueWidth) {
  // Scores run over nope + rope = 12 per head, outputs over v_head_dim.
  auto attention = [](uint64_t v) {
    Model m = build(tiny_mla(16, v));
    auto e = estimate_flops(m, *plan_training(m, MethodSpec{}), sequence_of(8));
    EXPECT_TRUE(e.ok());
    return e->detailed.forward_attention;
  };
  EXPECT_EQ(attention(6) * (12 + 12), attention(12) * (12 + 6));
}

}  // namespace
}  // namespace flopsmeter
