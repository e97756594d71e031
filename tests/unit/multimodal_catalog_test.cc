// Gemma 3 4B/12B/27B (Gemma3ForConditionalGeneration: gemma3_text decoder,
// SigLIP vision tower, multimodal projector) and Mistral Small 3 (2501):
// counts to the digit against the public figures their entries cite, the
// vision tower's layout by hand, and what the tower means for the methods
// and the detailed FLOP count of text-only training.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "flopsmeter/flops.h"
#include "flopsmeter/method.h"
#include "unit/test_support.h"

namespace flopsmeter {
namespace {

using testing::catalog_model;
using testing::model_from_json;

uint64_t component(const ParamBreakdown& b, Component c) {
  auto it = b.by_component.find(c);
  return it == b.by_component.end() ? 0 : it->second;
}

// SigLIP so400m-patch14-896 as Gemma 3 configures it (no pooling head):
// patch Conv2d 3x14x14 -> 1152 with bias, 64 x 64 learned positions, 27
// layers of four biased 1152 x 1152 projections, fc1/fc2 (4304) with biases
// and two LayerNorms with bias, then the post-layernorm.
constexpr uint64_t kGemma3VisionTower = (3 * 14 * 14 * 1152 + 1152) + 4096 * 1152 +
                                        27 * (4 * (1152 * 1152 + 1152) + 2 * 1152 * 4304 + 4304 + 1152 + 4 * 1152) +
                                        2 * 1152;

struct Gemma3Size {
  const char* size;
  uint64_t hidden;
  uint64_t total;            // transformers' num_parameters()
  uint64_t keras_multimodal; // keras-hub gemma3_{,instruct_}SIZE params (262,144-row embedding)
  uint64_t keras_text;       // keras-hub gemma3_{,instruct_}SIZE_text params
};

// keras-hub figures: keras_hub/src/models/gemma3/gemma3_presets.py at 71453d08.
constexpr Gemma3Size kGemma3Sizes[] = {
    {"4b", 2560, 4300079472ull, 4299915632ull, 3880099328ull},
    {"12b", 3840, 12187325040ull, 12187079280ull, 11765788416ull},
    {"27b", 5376, 27432406640ull, 27432062576ull, 27009002240ull},
};

TEST(MultimodalCatalog, Gemma3CountsTheWholeModelToTheDigit) {
  EXPECT_EQ(kGemma3VisionTower, 416866032u);
  for (const Gemma3Size& s : kGemma3Sizes) {
    for (const char* kind : {"pt", "it"}) {
      std::string id = std::string("google/gemma-3-") + s.size + "-" + kind;
      Model m = catalog_model(id);
      ParamBreakdown b = count_parameters(m);
      EXPECT_EQ(m.arch.model_type, "gemma3") << id;
      EXPECT_EQ(b.total, s.total) << id;
      // keras-hub's embedding has the tokenizer's 262,144 rows, transformers' 64 more.
      EXPECT_EQ(b.total, s.keras_multimodal + 64 * s.hidden) << id;
      EXPECT_EQ(component(b, Component::kVision), kGemma3VisionTower) << id;
      EXPECT_EQ(component(b, Component::kProjector), 1152 * s.hidden + 1152) << id;
      // The text-only part: the decoder with its tied embedding.
      uint64_t text = b.total - component(b, Component::kVision) - component(b, Component::kProjector);
      EXPECT_EQ(text, s.keras_text + 64 * s.hidden) << id;
      EXPECT_EQ(b.embedding, 262208 * s.hidden) << id;
    }
  }
  // MedGemma, the same shapes, is published with transformers' vocabulary: the count itself.
  EXPECT_EQ(count_parameters(catalog_model("google/gemma-3-4b-it")).total, 4300079472u);   // medgemma_4b
  EXPECT_EQ(count_parameters(catalog_model("google/gemma-3-27b-it")).total, 27432406640u); // medgemma_instruct_27b
}

TEST(MultimodalCatalog, Gemma3SparseTextConfigTakesTheConfigClassDefaults) {
  // gemma-3-4b's text_config names hidden, intermediate, layers and the window only.
  Model m = catalog_model("google/gemma-3-4b-it");
  EXPECT_EQ(m.arch.vocab_size, 262208u);
  EXPECT_EQ(m.arch.num_layers, 34u);
  EXPECT_EQ(m.arch.num_heads, 8u);
  EXPECT_EQ(m.arch.num_kv_heads, 4u);
  EXPECT_EQ(m.arch.head_dim, 256u);
  EXPECT_TRUE(m.arch.tied_embeddings);
  size_t sliding = 0;
  for (uint64_t w : m.arch.sliding_window) sliding += w == 1024 ? 1 : 0;
  EXPECT_EQ(sliding, 29u);  // every sixth layer global
  Model big = catalog_model("google/gemma-3-27b-pt");
  EXPECT_EQ(big.arch.head_dim, 128u);
  EXPECT_EQ(big.arch.num_heads, 32u);
  EXPECT_EQ(big.arch.num_kv_heads, 16u);
}

TEST(MultimodalCatalog, Gemma3ModulesFollowTransformersNamesAndOrder) {
  Model m = catalog_model("google/gemma-3-4b-it");
  ASSERT_FALSE(m.modules.empty());
  EXPECT_EQ(m.modules.front().path, "model.vision_tower.vision_model.embeddings.patch_embedding");
  EXPECT_EQ(m.modules.front().params[0].shape, (std::vector<uint64_t>{1152, 3, 14, 14}));
  const Module& head = m.modules.back();
  EXPECT_EQ(head.path, "lm_head");
  EXPECT_EQ(head.tied_to, "model.language_model.embed_tokens.weight");
  std::set<std::string> names;
  for (const Module& mod : m.modules) {
    for (const Parameter& p : mod.params) EXPECT_TRUE(names.insert(p.name).second) << "duplicate " << p.name;
    bool vision = mod.component == Component::kVision || mod.component == Component::kProjector;
    // The tower and projector sit outside the decoder's layer stack.
    if (vision) {
      EXPECT_EQ(mod.layer, -1) << mod.path;
    }
    if (mod.layer >= 0) {
      EXPECT_EQ(mod.path.rfind("model.language_model.layers.", 0), 0u) << mod.path;
    }
  }
  EXPECT_TRUE(names.count("model.multi_modal_projector.mm_input_projection_weight"));
  EXPECT_TRUE(names.count("model.multi_modal_projector.mm_soft_emb_norm.weight"));
  EXPECT_TRUE(names.count("model.vision_tower.vision_model.encoder.layers.26.self_attn.out_proj.bias"));
  EXPECT_TRUE(names.count("model.vision_tower.vision_model.post_layernorm.bias"));
  EXPECT_TRUE(names.count("model.language_model.layers.33.self_attn.q_norm.weight"));
  EXPECT_FALSE(names.count("model.vision_tower.vision_model.head.probe"));  // vision_use_head false
}

// With no sub-configs transformers builds Gemma3TextConfig() and
// SiglipVisionConfig(): width 768, 12 layers, 224 px, 16 px patches, and
// the attention-pooling head (vision_use_head is not set).
TEST(MultimodalCatalog, Gemma3DefaultsAndThePoolingHeadByHand) {
  auto m = model_from_json({{"model_type", "gemma3"}});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ParamBreakdown b = count_parameters(*m);
  const uint64_t h = 768, i = 3072;
  uint64_t layer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h;
  uint64_t head = h + (3 * h * h + 3 * h) + (h * h + h) + 2 * h + (2 * h * i + i + h);
  uint64_t tower = (3 * 16 * 16 * h + h) + 14 * 14 * h + 12 * layer + 2 * h + head;
  EXPECT_EQ(component(b, Component::kVision), tower);
  EXPECT_EQ(component(b, Component::kProjector), h * 2304 + h);
  // Gemma3TextConfig(): 26 layers of width 2304, 8 heads, 4 key/value heads of 256, vocab 262,208, tied.
  const uint64_t d = 2304, f = 9216;
  uint64_t text_layer = d * 2048 + 2 * d * 1024 + 2048 * d + 2 * 256 + 3 * d * f + 4 * d;
  EXPECT_EQ(b.total, tower + h * d + h + 262208 * d + 26 * text_layer + d);

  auto no_head = model_from_json({{"model_type", "gemma3"}, {"vision_config", {{"vision_use_head", false}}}});
  ASSERT_TRUE(no_head.ok());
  EXPECT_EQ(count_parameters(*no_head).total, b.total - head);
}

TEST(MultimodalCatalog, Gemma3RefusesImpossibleVisionShapesNamingTheField) {
  auto bad_heads = model_from_json({{"model_type", "gemma3"}, {"vision_config", {{"num_attention_heads", 7}}}});
  ASSERT_FALSE(bad_heads.ok());
  EXPECT_THAT(bad_heads.status().message(), ::testing::HasSubstr("not divisible by num_attention_heads 7"));
  auto huge = model_from_json({{"model_type", "gemma3"}, {"vision_config", {{"image_size", 1 << 24}, {"patch_size", 1}}}});
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.status().message(), ::testing::HasSubstr("than any real model"));
  auto not_object = model_from_json({{"model_type", "gemma3"}, {"text_config", 5}});
  ASSERT_FALSE(not_object.ok());
  EXPECT_THAT(not_object.status().message(), ::testing::HasSubstr("text_config"));
}

// Text-only training never runs the tower: the detailed count equals that of
// the same decoder alone (a gemma3_text config with the 4B text shapes).
TEST(MultimodalCatalog, Gemma3DetailedFlopsWalkTheDecoderAlone) {
  Model mm = catalog_model("google/gemma-3-4b-it");
  auto text = model_from_json({{"model_type", "gemma3_text"},
                               {"hidden_size", 2560},
                               {"intermediate_size", 10240},
                               {"num_hidden_layers", 34},
                               {"sliding_window", 1024}});
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(count_parameters(*text).total, 3880263168u);
  Workload w;
  w.sequences[2048] = 3;
  w.tokens = 3 * 2048;
  MethodSpec lora;
  lora.kind = MethodKind::kLora;
  lora.lora.r = 16;
  lora.lora.target_modules = {"q_proj", "v_proj"};
  for (const MethodSpec& spec : {MethodSpec{}, lora}) {
    auto p_mm = plan_training(mm, spec);
    auto p_text = plan_training(*text, spec);
    ASSERT_TRUE(p_mm.ok() && p_text.ok());
    auto e_mm = estimate_flops(mm, *p_mm, w);
    auto e_text = estimate_flops(*text, *p_text, w);
    ASSERT_TRUE(e_mm.ok() && e_text.ok());
    EXPECT_EQ(e_mm->detailed.forward, e_text->detailed.forward);
    EXPECT_EQ(e_mm->detailed.backward, e_text->detailed.backward);
    // 6ND takes N as num_parameters() gives it: the whole model.
    EXPECT_EQ(e_mm->eu_6nd, static_cast<Flop>(6) * p_mm->params_all * w.tokens);
  }
}

// PEFT matches target names anywhere in the model and "all-linear" takes
// every nn.Linear but the output head: the vision tower's projections are
// adapted too; its patch Conv2d and the projector's matrix are no Linear.
TEST(MultimodalCatalog, Gemma3LoraTargetsReachTheVisionTowerAsPeftDoes) {
  Model m = catalog_model("google/gemma-3-4b-it");
  const uint64_t r = 8, h = 2560, f = 10240, vh = 1152, vf = 4304;
  MethodSpec s;
  s.kind = MethodKind::kLora;
  s.lora.r = r;
  s.lora.target_modules = {"all-linear"};
  auto p = plan_training(m, s);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  uint64_t text_layer = r * ((h + 2048) + 2 * (h + 1024) + (2048 + h) + 2 * (h + f) + (f + h));
  uint64_t vision_layer = r * (4 * (vh + vh) + 2 * (vh + vf));
  EXPECT_EQ(p->params_trainable, 34 * text_layer + 27 * vision_layer);

  s.lora.target_modules = {"q_proj", "v_proj"};
  auto qv = plan_training(m, s);
  ASSERT_TRUE(qv.ok());
  EXPECT_EQ(qv->params_trainable, 34 * r * ((h + 2048) + (h + 1024)) + 27 * r * 2 * (vh + vh));
}

TEST(MultimodalCatalog, MistralSmall3MatchesTheMagistralPresetFigure) {
  for (const char* id : {"mistralai/Mistral-Small-24B-Base-2501", "mistralai/Mistral-Small-24B-Instruct-2501"}) {
    Model m = catalog_model(id);
    ParamBreakdown b = count_parameters(m);
    // keras-hub magistral_small_2506_en / _2507_en: 23,572,403,200.
    EXPECT_EQ(b.total, 23572403200u) << id;
    EXPECT_FALSE(m.arch.tied_embeddings) << id;
    EXPECT_EQ(m.arch.head_dim, 128u) << id;  // not 5120 / 32
    EXPECT_EQ(b.embedding, 131072u * 5120u) << id;
    EXPECT_EQ(component(b, Component::kLmHead), 131072u * 5120u) << id;
    for (uint64_t w : m.arch.sliding_window) EXPECT_EQ(w, 0u) << id;
  }
}

}  // namespace
}  // namespace flopsmeter
