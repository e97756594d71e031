// A model as flopsmeter accounts for it: the exact list of modules and
// parameters that Hugging Face transformers (4.x naming) builds for a config,
// or that a safetensors checkpoint holds.
//
// Parameter counts equal transformers' `model.num_parameters()`: every unique
// parameter once (tied embeddings once), buffers excluded, 4-bit packed
// weights counted as the logical parameters they stand for (as transformers
// and PEFT count bitsandbytes weights; for GPTQ/AWQ, whose packed weights
// transformers registers as buffers, the logical count is deliberate: it is
// the model's size, not its storage).
//
//   auto model = flopsmeter::load_model("meta-llama/Llama-3.2-3B-Instruct", catalog);
//   flopsmeter::ParamBreakdown b = flopsmeter::count_parameters(*model);
//   // b.total == 3212749824
//
// Thread safety: Model is an immutable value once built.
#ifndef FLOPSMETER_MODEL_H_
#define FLOPSMETER_MODEL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flopsmeter {

// Where a parameter belongs in the breakdown report.
enum class Component {
  kEmbedding,          // token embeddings
  kPositionEmbedding,  // learned absolute positions (gpt2)
  kAttention,          // q/k/v/o projections, fused qkv, q/k norms
  kMlp,                // dense feed-forward
  kExperts,            // routed experts (MoE)
  kSharedExperts,      // always-active experts and their gate (qwen2_moe)
  kRouter,             // expert router
  kNorm,               // layer norms outside attention
  kLmHead,             // output projection when untied
  kVision,             // vision tower of a multimodal model (gemma3's SigLIP encoder)
  kProjector,          // multimodal projector from the vision tower into the text model
  kOther,              // anything a checkpoint holds that fits none of the above
};
const char* component_name(Component c);  // "embedding", "attention", ...

// What a module computes. The detailed FLOP count walks these.
enum class Slot {
  kTokenEmbedding,
  kPositionEmbedding,
  kAttnNorm,       // norm before attention
  kQ, kK, kV,      // separate projections
  kQKV,            // fused q/k/v projection (phi3, gpt2, gpt_neox)
  kO,              // attention output projection
  kQNorm, kKNorm,  // per-head or per-projection q/k norms (qwen3, olmo2, gemma3)
  // Multi-head latent attention (deepseek_v3): q_a -> norm -> q_b (or kQ when
  // q_lora_rank is null); kv_a (latent plus shared rope key) -> norm -> kv_b.
  kQA, kQANorm, kQB, kKVA, kKVANorm, kKVB,
  kAttnSinks,      // per-head attention sink logits (gpt_oss self_attn.sinks)
  kPostAttnNorm,   // norm applied to the attention output (gemma2/3, olmo2)
  kMlpNorm,        // norm before the feed-forward
  kGate, kUp,      // gated MLP halves (kUp alone for a plain MLP)
  kGateUp,         // fused gate+up (phi3)
  kDown,
  kPostMlpNorm,    // norm applied to the MLP output (gemma2/3, olmo2)
  kRouter,
  kExpertGate, kExpertUp, kExpertDown,
  // All routed experts of a layer as fused 3-D parameters [E, ...] (gpt_oss
  // mlp.experts.gate_up_proj / down_proj); in/out features are per expert.
  kFusedExpertGateUp, kFusedExpertDown,
  kSharedGate, kSharedUp, kSharedDown,
  kSharedExpertGate,  // sigmoid gate of the shared expert (qwen2_moe)
  kFinalNorm,
  kLmHead,
  kOther,
};

enum class ModuleKind {
  kLinear,     // torch.nn.Linear, weight [out, in]
  kConv1D,     // transformers' Conv1D (gpt2), weight [in, out]; a linear for PEFT
  kEmbedding,  // weight [num_embeddings, dim]
  kNorm,       // LayerNorm / RMSNorm
  kOther,
};

struct Parameter {
  std::string name;             // full name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<uint64_t> shape;  // logical shape (unpacked for 4-bit checkpoints)
  uint64_t numel = 0;           // product of shape
};

struct Module {
  std::string path;  // e.g. "model.layers.0.self_attn.q_proj"
  ModuleKind kind = ModuleKind::kOther;
  Slot slot = Slot::kOther;
  Component component = Component::kOther;
  int layer = -1;   // decoder layer index; -1 outside the layer stack
  int expert = -1;  // routed expert index; -1 otherwise
  // Linear/Conv1D: in and out features. Embedding: num_embeddings, dim.
  uint64_t in_features = 0;
  uint64_t out_features = 0;
  // Own parameters ("weight", then "bias" if any). Empty for a tied lm_head,
  // which computes with the embedding's weight (see tied_to).
  std::vector<Parameter> params;
  std::string tied_to;  // name of the shared parameter, or empty
};

// The shape facts the formulas need, read from the config.
struct Architecture {
  std::string model_type;  // "llama", "qwen2_moe", ... or the checkpoint's own type
  uint64_t vocab_size = 0;
  uint64_t hidden_size = 0;
  uint64_t num_layers = 0;
  uint64_t num_heads = 0;
  uint64_t num_kv_heads = 0;
  uint64_t head_dim = 0;           // query/key width per head (MLA: nope + rope dims)
  uint64_t v_head_dim = 0;         // value width per head when it differs (MLA); 0: head_dim
  uint64_t intermediate_size = 0;
  uint64_t num_experts = 0;        // routed experts per MoE layer; 0 for dense
  uint64_t experts_per_token = 0;  // top-k
  uint64_t max_position_embeddings = 0;
  bool tied_embeddings = false;
  // Attention and MLP both read the layer input (gpt_neox use_parallel_residual).
  bool parallel_residual = false;
  // Per layer: attention window in tokens, 0 for full attention.
  std::vector<uint64_t> sliding_window;
};

struct Model {
  std::string id;          // catalog id or path it was loaded from
  Architecture arch;
  std::vector<Module> modules;  // in transformers' registration order
  // True when built from a supported model_type; false when only a
  // checkpoint's tensor headers describe it (the detailed formula then
  // cannot walk the architecture).
  bool known_architecture = true;
  // "" for full precision; "bnb-4bit", "gptq-4bit", "awq-4bit", ...
  std::string quantization;
  // Facts worth stating in a report (buffers skipped, tied weights found, ...).
  std::vector<std::string> notes;
};

struct ParamBreakdown {
  uint64_t total = 0;             // == transformers model.num_parameters()
  uint64_t active_per_token = 0;  // MoE: shared + top-k routed experts; dense: total
  uint64_t embedding = 0;         // token + position embeddings (for "non-embedding" figures)
  std::map<Component, uint64_t> by_component;
};

ParamBreakdown count_parameters(const Model& model);

}  // namespace flopsmeter

#endif  // FLOPSMETER_MODEL_H_
