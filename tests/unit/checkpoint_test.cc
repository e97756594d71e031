// Accounting from a checkpoint directory: tensor headers only, checked
// against config.json, quantized weights as logical parameters.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "flopsmeter/estimate.h"
#include "unit/test_support.h"

namespace flopsmeter {
namespace {

using testing::FakeTensor;
using testing::safetensors_bytes;
using testing::TempDir;
using testing::tensors_of;

nlohmann::json tiny_llama() {
  return {{"model_type", "llama"},         {"vocab_size", 64},         {"hidden_size", 16},
          {"num_hidden_layers", 2},        {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"intermediate_size", 32},       {"tie_word_embeddings", false}};
}

Model config_model(const nlohmann::json& cfg) {
  auto m = testing::model_from_json(cfg);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

Result<LoadedModel> load_dir(const TempDir& dir) { return load_model(dir.path(), testing::builtin_catalog()); }

TEST(Checkpoint, HeadersConfirmTheConfigCount) {
  TempDir dir;
  Model expected = config_model(tiny_llama());
  dir.file("config.json", tiny_llama().dump());
  dir.file("model.safetensors", safetensors_bytes(tensors_of(expected)));
  auto loaded = load_dir(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->source_kind, "checkpoint");
  EXPECT_EQ(count_parameters(loaded->model).total, count_parameters(expected).total);
  EXPECT_TRUE(loaded->model.known_architecture);
  EXPECT_THAT(loaded->model.notes, ::testing::Contains(::testing::HasSubstr("found in the checkpoint")));
}

TEST(Checkpoint, ShardedIndexIsFollowed) {
  TempDir dir;
  Model expected = config_model(tiny_llama());
  std::vector<FakeTensor> all = tensors_of(expected);
  std::vector<FakeTensor> first(all.begin(), all.begin() + 5), second(all.begin() + 5, all.end());
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  for (const FakeTensor& t : first) index["weight_map"][t.name] = "model-00001-of-00002.safetensors";
  for (const FakeTensor& t : second) index["weight_map"][t.name] = "model-00002-of-00002.safetensors";
  dir.file("config.json", tiny_llama().dump());
  dir.file("model-00001-of-00002.safetensors", safetensors_bytes(first));
  dir.file("model-00002-of-00002.safetensors", safetensors_bytes(second));
  dir.file("model.safetensors.index.json", index.dump());
  auto loaded = load_dir(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(count_parameters(loaded->model).total, count_parameters(expected).total);
}

TEST(Checkpoint, ShapeMismatchNamesTheTensor) {
  TempDir dir;
  std::vector<FakeTensor> tensors = tensors_of(config_model(tiny_llama()));
  for (FakeTensor& t : tensors)
    if (t.name == "model.layers.1.mlp.up_proj.weight") t.shape = {33, 16};
  dir.file("config.json", tiny_llama().dump());
  dir.file("model.safetensors", safetensors_bytes(tensors));
  auto loaded = load_dir(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(),
              ::testing::HasSubstr("tensor 'model.layers.1.mlp.up_proj.weight' has shape [33, 16] but config.json "
                                   "implies [32, 16]"));
}

TEST(Checkpoint, MissingTensorIsAnError) {
  TempDir dir;
  std::vector<FakeTensor> tensors = tensors_of(config_model(tiny_llama()));
  tensors.pop_back();  // lm_head.weight
  dir.file("config.json", tiny_llama().dump());
  dir.file("model.safetensors", safetensors_bytes(tensors));
  auto loaded = load_dir(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), ::testing::HasSubstr("'lm_head.weight'"));
}

TEST(Checkpoint, BuffersAndADuplicatedTiedHeadAreNotCounted) {
  TempDir dir;
  nlohmann::json cfg = tiny_llama();
  cfg["tie_word_embeddings"] = true;
  Model expected = config_model(cfg);
  std::vector<FakeTensor> tensors = tensors_of(expected);
  tensors.push_back({"lm_head.weight", "BF16", {64, 16}});  // stored although tied (as Qwen3-0.6B does)
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {2}});
  dir.file("config.json", cfg.dump());
  dir.file("model.safetensors", safetensors_bytes(tensors));
  auto loaded = load_dir(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(count_parameters(loaded->model).total, count_parameters(expected).total);
  EXPECT_THAT(loaded->model.notes, ::testing::Contains(::testing::HasSubstr("counted once")));
  EXPECT_THAT(loaded->model.notes, ::testing::Contains(::testing::HasSubstr("buffer tensor(s) skipped")));
}

TEST(Checkpoint, Gpt2CheckpointWithoutTheTransformerPrefix) {
  nlohmann::json cfg = {{"model_type", "gpt2"}, {"vocab_size", 50}, {"n_embd", 8}, {"n_layer", 2},
                        {"n_head", 2},          {"n_positions", 16}};
  Model expected = config_model(cfg);
  std::vector<FakeTensor> tensors;
  for (FakeTensor t : tensors_of(expected)) {
    t.name = t.name.substr(std::string("transformer.").size());
    tensors.push_back(t);
  }
  tensors.push_back({"h.0.attn.bias", "F32", {1, 1, 16, 16}});  // the causal-mask buffer old checkpoints hold
  TempDir dir;
  dir.file("config.json", cfg.dump());
  dir.file("model.safetensors", safetensors_bytes(tensors));
  auto loaded = load_dir(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(count_parameters(loaded->model).total, count_parameters(expected).total);
}

// Replaces each decoder-layer linear weight [out, in] by what `pack` stores.
std::vector<FakeTensor> quantized(const Model& m, const std::function<void(const Module&, std::vector<FakeTensor>&)>& pack) {
  std::vector<FakeTensor> out;
  for (const Module& mod : m.modules) {
    if (mod.layer >= 0 && mod.kind == ModuleKind::kLinear) {
      pack(mod, out);
      continue;
    }
    for (const Parameter& p : mod.params) out.push_back({p.name, "BF16", p.shape});
  }
  return out;
}

void expect_logical_count(const nlohmann::json& cfg, const std::vector<FakeTensor>& tensors, const std::string& label) {
  TempDir dir;
  dir.file("config.json", cfg.dump());
  dir.file("model.safetensors", safetensors_bytes(tensors));
  auto loaded = load_dir(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(count_parameters(loaded->model).total, count_parameters(config_model(tiny_llama())).total);
  EXPECT_EQ(loaded->model.quantization, label);
}

TEST(Checkpoint, GptqPackedWeightsCountAsLogicalParameters) {
  nlohmann::json cfg = tiny_llama();
  cfg["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 8}};
  auto tensors = quantized(config_model(tiny_llama()), [](const Module& mod, std::vector<FakeTensor>& out) {
    out.push_back({mod.path + ".qweight", "I32", {mod.in_features / 8, mod.out_features}});
    out.push_back({mod.path + ".qzeros", "I32", {mod.in_features / 8, mod.out_features / 8}});
    out.push_back({mod.path + ".scales", "F16", {mod.in_features / 8, mod.out_features}});
    out.push_back({mod.path + ".g_idx", "I32", {mod.in_features}});
  });
  expect_logical_count(cfg, tensors, "gptq-4bit");
}

TEST(Checkpoint, AwqPackedWeightsCountAsLogicalParameters) {
  nlohmann::json cfg = tiny_llama();
  cfg["quantization_config"] = {{"quant_method", "awq"}, {"bits", 4}, {"group_size", 8}};
  auto tensors = quantized(config_model(tiny_llama()), [](const Module& mod, std::vector<FakeTensor>& out) {
    out.push_back({mod.path + ".qweight", "I32", {mod.in_features, mod.out_features / 8}});
    out.push_back({mod.path + ".qzeros", "I32", {mod.in_features / 8, mod.out_features / 8}});
    out.push_back({mod.path + ".scales", "F16", {mod.in_features / 8, mod.out_features}});
  });
  expect_logical_count(cfg, tensors, "awq-4bit");
}

TEST(Checkpoint, BitsandbytesFourBitCountsTwoParametersPerByte) {
  nlohmann::json cfg = tiny_llama();
  cfg["quantization_config"] = {{"quant_method", "bitsandbytes"}, {"load_in_4bit", true}};
  auto tensors = quantized(config_model(tiny_llama()), [](const Module& mod, std::vector<FakeTensor>& out) {
    std::string w = mod.path + ".weight";
    out.push_back({w, "U8", {mod.in_features * mod.out_features / 2, 1}});
    out.push_back({w + ".absmax", "F32", {mod.in_features * mod.out_features / 64}});
    out.push_back({w + ".quant_map", "F32", {16}});
    out.push_back({w + ".quant_state.bitsandbytes__nf4", "U8", {100}});
  });
  expect_logical_count(cfg, tensors, "bnb-4bit");
}

TEST(Checkpoint, PackedWeightsWithoutAQuantizationConfigAreAClearError) {
  auto tensors = quantized(config_model(tiny_llama()), [](const Module& mod, std::vector<FakeTensor>& out) {
    out.push_back({mod.path + ".qweight", "I32", {mod.in_features / 8, mod.out_features}});
  });
  TempDir dir;
  dir.file("config.json", tiny_llama().dump());
  dir.file("model.safetensors", safetensors_bytes(tensors));
  auto loaded = load_dir(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), ::testing::HasSubstr("no gptq/awq quantization_config"));
}

TEST(Checkpoint, UnknownArchitectureIsCountedFromHeadersAlone) {
  TempDir dir;
  dir.file("config.json", R"({"model_type": "my_new_arch", "hidden_size": 8})");
  dir.file("model.safetensors", safetensors_bytes({{"backbone.embed.weight", "BF16", {10, 8}},
                                                   {"backbone.blocks.0.mixer.in_proj.weight", "BF16", {16, 8}},
                                                   {"backbone.blocks.0.norm.weight", "F32", {8}},
                                                   {"lm_head.weight", "BF16", {10, 8}}}));
  auto loaded = load_dir(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_FALSE(loaded->model.known_architecture);
  EXPECT_EQ(count_parameters(loaded->model).total, 80u + 128u + 8u + 80u);

  // The estimate still gives the simple formulas; detailed says why it cannot.
  EstimateRequest req;
  req.model = dir.path();
  req.methods = {MethodSpec{}};
  req.tokens_per_epoch = 1000;
  auto report = run_estimate(req, testing::builtin_catalog());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->methods[0].flops.eu_6nd, static_cast<Flop>(6) * 296 * 1000);
  EXPECT_FALSE(report->methods[0].flops.detailed.available);
  EXPECT_EQ(report->methods[0].compliance_formula, ComplianceFormula::kEu6nd);
}

TEST(Checkpoint, UnknownArchitectureCountsAStoredTiedHeadOnce) {
  TempDir dir;
  dir.file("config.json", R"({"model_type": "my_new_arch", "tie_word_embeddings": true})");
  // Sorted by name, lm_head comes before the embedding.
  dir.file("model.safetensors", safetensors_bytes({{"lm_head.weight", "BF16", {10, 8}},
                                                   {"model.embed_tokens.weight", "BF16", {10, 8}},
                                                   {"model.layers.0.mlp.up_proj.weight", "BF16", {16, 8}}}));
  auto loaded = load_dir(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(count_parameters(loaded->model).total, 80u + 128u);
}

TEST(Checkpoint, ConfigOnlyDirectoryIsCountedFromTheConfig) {
  TempDir dir;
  dir.file("config.json", tiny_llama().dump());
  auto loaded = load_dir(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->source_kind, "config");
  EXPECT_EQ(count_parameters(loaded->model).total, count_parameters(config_model(tiny_llama())).total);
}

TEST(Checkpoint, EmptyDirectoryIsAClearError) {
  TempDir dir;
  auto loaded = load_dir(dir);
  ASSERT_FALSE(loaded.ok());
}

}  // namespace
}  // namespace flopsmeter
