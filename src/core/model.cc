#include "flopsmeter/model.h"

#include <map>
#include <set>

namespace flopsmeter {

const char* component_name(Component c) {
  switch (c) {
    case Component::kEmbedding: return "embedding";
    case Component::kPositionEmbedding: return "position_embedding";
    case Component::kAttention: return "attention";
    case Component::kMlp: return "mlp";
    case Component::kExperts: return "experts";
    case Component::kSharedExperts: return "shared_experts";
    case Component::kRouter: return "router";
    case Component::kNorm: return "norm";
    case Component::kLmHead: return "lm_head";
    case Component::kVision: return "vision";
    case Component::kProjector: return "projector";
    case Component::kOther: return "other";
  }
  return "other";
}

ParamBreakdown count_parameters(const Model& model) {
  ParamBreakdown b;
  // Routed-expert parameters per layer and expert, for the active count.
  std::map<int, std::map<int, uint64_t>> expert_params;
  uint64_t fused_experts = 0;  // fused [E, ...] expert parameters (gpt_oss), all layers
  for (const Module& m : model.modules) {
    for (const Parameter& p : m.params) {
      b.total += p.numel;
      b.by_component[m.component] += p.numel;
      if (m.component == Component::kEmbedding || m.component == Component::kPositionEmbedding) b.embedding += p.numel;
      if (m.expert >= 0) expert_params[m.layer][m.expert] += p.numel;
      if (m.slot == Slot::kFusedExpertGateUp || m.slot == Slot::kFusedExpertDown) fused_experts += p.numel;
    }
  }
  b.active_per_token = b.total;
  uint64_t k = model.arch.experts_per_token;
  uint64_t num_experts = model.arch.num_experts;
  if (fused_experts > 0 && k > 0 && k < num_experts) {
    b.active_per_token -= fused_experts - fused_experts / num_experts * k;
  }
  for (const auto& [layer, experts] : expert_params) {
    uint64_t routed = 0;
    for (const auto& [e, n] : experts) routed += n;
    uint64_t per_expert = experts.empty() ? 0 : routed / experts.size();
    uint64_t active = k > 0 && k < experts.size() ? per_expert * k : routed;
    b.active_per_token -= routed - active;
  }
  return b;
}

}  // namespace flopsmeter
