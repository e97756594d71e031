// A Llama-architecture decoder with transformers' LlamaForCausalLM
// parameter names and shapes (RMSNorm, RoPE, grouped-query attention,
// SwiGLU, tied or untied embeddings, optional projection biases, so
// Qwen2ForCausalLM too), with PEFT LoRA adapters, trained in
// float32. Eager attention: every row attends over its padded length under
// the causal and padding masks, as transformers' "eager" kernel does; or,
// padding-free (packed samples in one row), each sample over itself alone,
// as the variable-length kernels that TRL's padding-free packing needs do.
// Every matrix product is a counted one (executed_flops.h).
#ifndef FLOPSMETER_TRAINER_LLAMA_MODEL_H_
#define FLOPSMETER_TRAINER_LLAMA_MODEL_H_

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flopsmeter/flops.h"
#include "flopsmeter/method.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct LlamaConfig {
  int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_layers = 0;
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0;
  double rms_norm_eps = 1e-6, rope_theta = 10000, initializer_range = 0.02;
  bool tie_word_embeddings = false;
  bool qkv_bias = false, o_bias = false, mlp_bias = false;  // biases on those projections
  std::string text;  // config.json as read, written back beside the weights
};

// config.json of a Llama or Qwen2 model (Qwen2 is Llama with q, k and v
// biases; Llama's attention_bias and mlp_bias are read too); what this
// trainer does not implement (rope_scaling, a sliding window, another
// model_type) is refused by name.
Result<LlamaConfig> read_llama_config(const std::string& path);

struct LoraSettings {
  double alpha = 32;
  double dropout = 0.05;
};

class LlamaModel {
 public:
  // Weights from `safetensors` files (HF names; F32, F16 or BF16), or, with
  // none, initialised as transformers initialises a new model (normal with
  // std initializer_range, norms 1), from `seed`.
  static Result<std::unique_ptr<LlamaModel>> Create(const LlamaConfig& config,
                                                    const std::vector<std::string>& safetensors, uint64_t seed);

  // Trainable tensors as the plan says (the accounting's own plan, so the
  // trainer and the formula agree on what trains), and LoRA adapters on the
  // plan's modules with PEFT's initialisation.
  Status apply_plan(const TrainingPlan& plan, const LoraSettings& lora, uint64_t seed);

  // Moves every weight and adapter to `device` (a CUDA device when the
  // user's libtorch has one), keeping which of them train. Initialised and
  // loaded on the CPU first, so a seed gives the same starting weights on
  // any device. Call before handing trainable() to an optimizer.
  void to_device(torch::Device device);
  torch::Device device() const { return device_; }

  // Mean cross-entropy numerator (on device()): the summed loss over the positions whose
  // target (the id that position predicts) is not -100. `segments` are each
  // row's attention spans laid end to end from the start (rows are right
  // padded after them): one span per row, or several in a single padding-free
  // row, where positions restart and attention stays within each span. With
  // `checkpointing`, each decoder layer is checkpointed; reentrant as
  // transformers and PEFT arrange it (the layers' input requires grad), or
  // non-reentrant.
  torch::Tensor loss_sum(const torch::Tensor& ids, const torch::Tensor& targets,
                         const std::vector<std::vector<int64_t>>& segments,
                         std::optional<CheckpointMode> checkpointing, bool training);

  std::vector<torch::Tensor> trainable() const;
  // Base weights by HF name, and adapters by PEFT name (without the adapter name).
  const std::map<std::string, torch::Tensor>& weights() const { return weights_; }
  std::map<std::string, torch::Tensor> adapter_weights() const;
  // Adapter weights saved by adapter_weights() (a checkpoint), into this
  // model's adapters of the same names and shapes.
  Status load_adapter(const std::string& path);
  bool has_adapters() const { return !adapters_.empty(); }
  const LlamaConfig& config() const { return config_; }
  uint64_t parameter_count() const;

  // One decoder layer (public for the checkpointing function). Attention is
  // batched under `mask` ([rows, 1, t, t], added to the scores), or, when
  // `spans` (a 1-D tensor of lengths) is not empty, per span of the one row.
  torch::Tensor layer_forward(int64_t layer, const torch::Tensor& h, const torch::Tensor& cos,
                              const torch::Tensor& sin, const torch::Tensor& mask, const torch::Tensor& spans,
                              bool training);
  std::vector<torch::Tensor> layer_trainable(int64_t layer) const;

 private:
  struct Adapter {
    torch::Tensor a, b;  // lora_A [r, in], lora_B [out, r]
    double scaling = 1;
  };
  explicit LlamaModel(LlamaConfig config) : config_(std::move(config)) {}
  torch::Tensor linear(const std::string& module, const torch::Tensor& x, bool training);
  torch::Tensor rms_norm(const std::string& weight, const torch::Tensor& x) const;
  // Scaled dot-product attention of q, k, v ([rows, heads, t, head_dim]).
  torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const torch::Tensor& mask, const torch::Tensor& spans) const;

  LlamaConfig config_;
  std::map<std::string, torch::Tensor> weights_;
  std::map<std::string, Adapter> adapters_;  // by module path
  double lora_dropout_ = 0;
  torch::Device device_ = torch::kCPU;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_TRAINER_LLAMA_MODEL_H_
