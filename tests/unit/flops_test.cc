// The detailed formula against executed matmul FLOPs measured with PyTorch's
// profiler (shared/reference/formula-accuracy.md: a small Llama-style decoder,
// dense attention, batch 1, no padding). Every case there must match exactly.
#include <gtest/gtest.h>

#include "core/architectures.h"
#include "flopsmeter/flops.h"

namespace flopsmeter {
namespace {

Model reference_model() {
  nlohmann::json cfg = {{"model_type", "llama"},         {"vocab_size", 4096},        {"hidden_size", 256},
                        {"num_hidden_layers", 4},        {"num_attention_heads", 8},  {"num_key_value_heads", 4},
                        {"head_dim", 32},                {"intermediate_size", 688},  {"tie_word_embeddings", false}};
  auto doc = parse_json_document(cfg.dump(), "formula-accuracy.md");
  EXPECT_TRUE(doc.ok());
  auto m = build_model_from_config(*doc);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

Model testing_model(const nlohmann::json& cfg) {
  auto doc = parse_json_document(cfg.dump(), "test.json");
  EXPECT_TRUE(doc.ok());
  auto m = build_model_from_config(*doc);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

Workload one_sequence(uint64_t seq) {
  Workload w;
  w.sequences[seq] = 1;
  w.tokens = seq;
  return w;
}

TrainingPlan plan(const Model& m, MethodSpec spec) {
  auto p = plan_training(m, spec);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return *p;
}

MethodSpec lora_qv() {
  MethodSpec s;
  s.kind = MethodKind::kLora;
  s.lora.r = 8;
  s.lora.target_modules = {"q_proj", "v_proj"};
  return s;
}

// "top2": only layers 2-3 trainable (their norms included; lm_head, final norm
// and embeddings frozen). Expressed as a Spectrum pattern list.
MethodSpec top2() {
  MethodSpec s;
  s.kind = MethodKind::kSpectrum;
  s.spectrum.unfrozen_patterns = {R"(model\.layers\.[23]\.)"};
  return s;
}

struct Case {
  const char* name;
  uint64_t seq;
  uint64_t forward;
  uint64_t backward;
};

void expect_case(const MethodSpec& spec, uint64_t trainable, const Case& c) {
  Model m = reference_model();
  TrainingPlan p = plan(m, spec);
  EXPECT_EQ(p.params_trainable, trainable);
  auto e = estimate_flops(m, p, one_sequence(c.seq));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(to_decimal(e->detailed.forward), std::to_string(c.forward)) << c.name << " seq " << c.seq;
  EXPECT_EQ(to_decimal(e->detailed.backward), std::to_string(c.backward)) << c.name << " seq " << c.seq;
  EXPECT_EQ(e->detailed.recompute, 0u);
}

TEST(FlopsDetailed, ReferenceModelHasTheMeasuredParameterCount) {
  EXPECT_EQ(count_parameters(reference_model()).total, 4999424u);
}

TEST(FlopsDetailed, FullFineTuningMatchesTheProfilerAtEveryLength) {
  MethodSpec full;
  for (Case c : {Case{"full", 128, 1077936128, 2155872256}, Case{"full", 512, 5117050880, 10234101760},
                 Case{"full", 2048, 33353105408, 66706210816}}) {
    expect_case(full, 4999424, c);
  }
}

TEST(FlopsDetailed, LoraOnQAndVMatchesTheProfilerAtEveryLength) {
  for (Case c : {Case{"lora", 128, 1085276160, 1116733440}, Case{"lora", 512, 5146411008, 5976883200},
                 Case{"lora", 2048, 33470545920, 48066723840}}) {
    expect_case(lora_qv(), 28672, c);
  }
}

TEST(FlopsDetailed, TopTwoLayersMatchTheProfilerAtEveryLength) {
  for (Case c : {Case{"top2", 128, 1077936128, 1077936128}, Case{"top2", 512, 5117050880, 5117050880},
                 Case{"top2", 2048, 33353105408, 33353105408}}) {
    expect_case(top2(), 1451008, c);
  }
}

TEST(FlopsDetailed, SimpleFormulasUseParametersAfterTheWrap) {
  Model m = reference_model();
  TrainingPlan p = plan(m, lora_qv());
  auto e = estimate_flops(m, p, one_sequence(128));
  ASSERT_TRUE(e.ok());
  // N_total includes the adapters: 4,999,424 + 28,672.
  EXPECT_EQ(e->eu_6nd, static_cast<Flop>(6) * 5028096 * 128);
  EXPECT_EQ(e->peft_aware, (static_cast<Flop>(4) * 5028096 + 2 * 28672) * 128);
}

TEST(FlopsDetailed, FlashKernelCountsTheCausalTriangleAndItsRecomputation) {
  Model m = reference_model();
  Workload w = one_sequence(128);
  w.kernel = AttentionKernel::kFlash;
  auto e = estimate_flops(m, plan(m, MethodSpec{}), w);
  ASSERT_TRUE(e.ok());
  // Per layer and matmul: 2 x heads 8 x head_dim 32 x (128 x 129 / 2) pairs.
  Flop per_matmul = static_cast<Flop>(2) * 8 * 32 * (128 * 129 / 2);
  EXPECT_EQ(e->detailed.forward_attention, 4 * 2 * per_matmul);
  EXPECT_EQ(e->detailed.backward_attention, 4 * 4 * per_matmul);
  EXPECT_EQ(e->detailed.recompute, 4 * per_matmul);
}

TEST(FlopsDetailed, GradientCheckpointingRecomputesEveryLayerForwardSeparately) {
  Model m = reference_model();
  Workload w = one_sequence(128);
  w.gradient_checkpointing = true;
  auto e = estimate_flops(m, plan(m, MethodSpec{}), w);
  ASSERT_TRUE(e.ok());
  // Forward minus the lm_head's 2 x 256 x 4096 x 128 is the layers' forward.
  Flop lm_head = static_cast<Flop>(2) * 256 * 4096 * 128;
  EXPECT_EQ(e->detailed.recompute, e->detailed.forward - lm_head);
  EXPECT_EQ(to_decimal(e->detailed.total()), "3233808384");  // the compliance figure leaves it out
}

// Frozen embeddings and two frozen bottom layers of four. Reentrant
// checkpointing (inputs made to require grad) recomputes all four and runs
// the bottom layers' input gradients; non-reentrant recomputes only the two
// that train and runs the backward of training without checkpointing.
TEST(FlopsDetailed, NonReentrantCheckpointingSkipsFrozenBottomLayers) {
  Model m = reference_model();
  MethodSpec spec;
  spec.kind = MethodKind::kFreeze;
  spec.freeze.frozen_layers = 2;
  spec.freeze.freeze_embeddings = true;
  const TrainingPlan p = plan(m, spec);
  Workload w = one_sequence(128);
  auto plain = estimate_flops(m, p, w);
  w.gradient_checkpointing = true;
  auto reentrant = estimate_flops(m, p, w);
  w.checkpoint_mode = CheckpointMode::kNonReentrant;
  auto non_reentrant = estimate_flops(m, p, w);
  ASSERT_TRUE(plain.ok() && reentrant.ok() && non_reentrant.ok());
  EXPECT_EQ(non_reentrant->detailed.backward, plain->detailed.backward);
  EXPECT_GT(reentrant->detailed.backward, plain->detailed.backward);
  EXPECT_EQ(non_reentrant->detailed.recompute * 2, reentrant->detailed.recompute);
  EXPECT_EQ(non_reentrant->detailed.forward, reentrant->detailed.forward);
  EXPECT_NE(non_reentrant->detailed.assumptions[2].find("non-reentrant"), std::string::npos);
  EXPECT_EQ(parse_checkpoint_mode("non-reentrant").value(), CheckpointMode::kNonReentrant);
  EXPECT_FALSE(parse_checkpoint_mode("nonreentrant").ok());
}

TEST(FlopsDetailed, FlashBackwardComputesAllAttentionGradientsOnceAnyIsNeeded) {
  Model m = reference_model();
  Workload w = one_sequence(128);
  w.kernel = AttentionKernel::kFlash;
  auto e = estimate_flops(m, plan(m, lora_qv()), w);
  ASSERT_TRUE(e.ok());
  // Dense autograd skips layer 0's dK under LoRA on q,v; the fused kernel does not.
  Flop per_matmul = static_cast<Flop>(2) * 8 * 32 * (128 * 129 / 2);
  EXPECT_EQ(e->detailed.backward_attention, 4 * 4 * per_matmul);
}

TEST(FlopsDetailed, DoraFormsTheDeltaWeightOncePerPass) {
  Model m = reference_model();
  MethodSpec dora = lora_qv();
  dora.kind = MethodKind::kDora;
  Workload w = one_sequence(128);
  w.micro_batches = 3;
  auto l = estimate_flops(m, plan(m, lora_qv()), w);
  auto d = estimate_flops(m, plan(m, dora), w);
  ASSERT_TRUE(l.ok() && d.ok());
  // Per layer: q 2*8*256*(256+256), v 2*8*256*(256+128); 4 layers; 3 passes.
  Flop delta = static_cast<Flop>(3) * 4 * (2 * 8 * 256 * 512 + 2 * 8 * 256 * 384);
  EXPECT_EQ(d->detailed.forward - l->detailed.forward, delta);
  EXPECT_EQ(d->detailed.backward, l->detailed.backward);
  dora.lora.dropout = 0.1;  // the base matmul is redone on the dropped-out input
  auto dd = estimate_flops(m, plan(m, dora), w);
  ASSERT_TRUE(dd.ok());
  EXPECT_EQ(dd->detailed.forward - d->detailed.forward, static_cast<Flop>(4) * 2 * (65536 + 32768) * 128);
}

TEST(FlopsDetailed, SequentialResidualNeoxFeedsTheMlpFromTheAttentionOutput) {
  nlohmann::json cfg = {{"model_type", "gpt_neox"}, {"vocab_size", 64}, {"hidden_size", 16},
                        {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"intermediate_size", 32}};
  auto parallel = testing_model(cfg);
  cfg["use_parallel_residual"] = false;
  auto sequential = testing_model(cfg);
  EXPECT_TRUE(parallel.arch.parallel_residual);
  EXPECT_FALSE(sequential.arch.parallel_residual);
  // Only the attention trains in layer 0: with a parallel residual the MLP
  // input does not depend on it, so layer 0's MLP needs no input gradient.
  MethodSpec attn0;
  attn0.kind = MethodKind::kSpectrum;
  attn0.spectrum.unfrozen_patterns = {R"(gpt_neox\.layers\.0\.attention\.dense)"};
  auto p = estimate_flops(parallel, plan(parallel, attn0), one_sequence(8));
  auto s = estimate_flops(sequential, plan(sequential, attn0), one_sequence(8));
  ASSERT_TRUE(p.ok() && s.ok());
  EXPECT_EQ(s->detailed.backward - p->detailed.backward, static_cast<Flop>(2) * 2 * 16 * 32 * 8);
}

TEST(FlopsDetailed, OptimizerIsReportedOnlyWhenStepsAreKnown) {
  Model m = reference_model();
  Workload w = one_sequence(128);
  auto without = estimate_flops(m, plan(m, MethodSpec{}), w);
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without->detailed.optimizer, 0u);
  w.optimizer_steps = 10;
  auto with = estimate_flops(m, plan(m, MethodSpec{}), w);
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(with->detailed.optimizer, static_cast<Flop>(kAdamWFlopPerParam) * 4999424 * 10);
}

TEST(FlopsDetailed, EmptyWorkloadIsAnError) {
  Model m = reference_model();
  auto e = estimate_flops(m, plan(m, MethodSpec{}), Workload{});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace flopsmeter
