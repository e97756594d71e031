#include "trainer/llama_model.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "adapters/files.h"
#include "trainer/executed_flops.h"
#include "trainer/tensor_files.h"

namespace flopsmeter {
namespace {

using torch::indexing::Slice;

Result<int64_t> positive_field(const nlohmann::json& j, const std::string& key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() <= 0) {
    return Status::InvalidArgument(path + ": field '" + key + "' must be a positive whole number");
  }
  return it->get<int64_t>();
}

std::string layer_prefix(int64_t layer) { return "model.layers." + std::to_string(layer) + "."; }

// transformers' rotate_half: (x1, x2) -> (-x2, x1) over the last dimension's halves.
torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.index({"...", Slice(half, torch::indexing::None)}), x.index({"...", Slice(0, half)})}, -1);
}

// Added to the scores: 0 where row i may attend to column j <= i, the
// dtype's lowest elsewhere (as transformers masks).
torch::Tensor causal_mask(int64_t n, torch::Device device) {
  const auto options = torch::TensorOptions().device(device);
  return torch::zeros({n, n}, options)
      .masked_fill(torch::ones({n, n}, options.dtype(torch::kBool)).tril().logical_not(),
                   std::numeric_limits<float>::lowest());
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A decoder layer under gradient checkpointing: the forward keeps only the
// layer's input; backward runs the forward again (counted as recompute) and
// differentiates it. The layer's trainable tensors are inputs of the
// function, so autograd calls backward exactly when something in the layer
// needs a gradient, as PyTorch's non-reentrant checkpoint does: a frozen
// layer under frozen inputs is neither recomputed nor differentiated.
struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  static torch::Tensor forward(AutogradContext* ctx, LlamaModel* model, int64_t layer, const torch::Tensor& h,
                               const torch::Tensor& cos, const torch::Tensor& sin, const torch::Tensor& mask,
                               const torch::Tensor& spans, const torch::TensorList params) {
    ctx->saved_data["model"] = reinterpret_cast<int64_t>(model);
    ctx->saved_data["layer"] = layer;
    ctx->saved_data["rng"] = at::globalContext().defaultGenerator(h.device()).get_state();
    ctx->save_for_backward({h, cos, sin, mask, spans});
    (void)params;
    torch::NoGradGuard no_grad;
    return model->layer_forward(layer, h, cos, sin, mask, spans, true);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* model = reinterpret_cast<LlamaModel*>(ctx->saved_data["model"].toInt());
    const int64_t layer = ctx->saved_data["layer"].toInt();
    const variable_list saved = ctx->get_saved_variables();
    const bool input_grad = ctx->needs_input_grad(0);  // h: the first tensor input
    torch::Tensor h = saved[0].detach().requires_grad_(input_grad);
    std::vector<torch::Tensor> params = model->layer_trainable(layer);
    torch::Tensor out;
    {
      // The same dropout draws as the forward (PyTorch's preserve_rng_state).
      at::Generator generator = at::globalContext().defaultGenerator(h.device());
      const torch::Tensor rng_now = generator.get_state();
      generator.set_state(ctx->saved_data["rng"].toTensor());
      torch::AutoGradMode grad_mode(true);
      RecomputeScope recompute;
      out = model->layer_forward(layer, h, saved[1], saved[2], saved[3], saved[4], true);
      generator.set_state(rng_now);
    }
    std::vector<torch::Tensor> wrt = params;
    if (input_grad) wrt.insert(wrt.begin(), h);
    variable_list got = torch::autograd::grad({out}, wrt, {grads[0]}, /*retain_graph=*/false,
                                              /*create_graph=*/false, /*allow_unused=*/true);
    variable_list result = {torch::Tensor(), torch::Tensor(), input_grad ? got[0] : torch::Tensor(),
                            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    result.insert(result.end(), got.begin() + (input_grad ? 1 : 0), got.end());
    return result;
  }
};

}  // namespace

Result<LlamaConfig> read_llama_config(const std::string& path) {
  FM_ASSIGN_OR_RETURN(std::string text, read_file(path, 1 << 20));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::ParseError(path + ": not a JSON object");
  const std::string type = j.value("model_type", std::string());
  if (type != "llama" && type != "qwen2") {
    return Status::Unsupported(path + ": model_type '" + type +
                               "': the native trainer implements Llama and Qwen2 (Llama with q, k and v biases)");
  }
  const auto is_set = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && !it->is_null() && *it != false;
  };
  for (const char* key : {"rope_scaling", "use_sliding_window"}) {
    if (is_set(key)) {
      return Status::Unsupported(path + ": field '" + key + "' is set; the native trainer does not implement it");
    }
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    auto it = j.find(key);
    if (it != j.end() && !it->is_null() && !it->is_boolean()) {
      return Status::InvalidArgument(path + ": field '" + key + "' must be true or false");
    }
  }
  if (j.contains("hidden_act") && j["hidden_act"] != "silu") {
    return Status::Unsupported(path + ": hidden_act must be silu (SwiGLU)");
  }
  LlamaConfig c;
  c.text = text;
  FM_ASSIGN_OR_RETURN(c.vocab_size, positive_field(j, "vocab_size", path));
  FM_ASSIGN_OR_RETURN(c.hidden_size, positive_field(j, "hidden_size", path));
  FM_ASSIGN_OR_RETURN(c.intermediate_size, positive_field(j, "intermediate_size", path));
  FM_ASSIGN_OR_RETURN(c.num_layers, positive_field(j, "num_hidden_layers", path));
  FM_ASSIGN_OR_RETURN(c.num_heads, positive_field(j, "num_attention_heads", path));
  c.num_kv_heads = c.num_heads;
  if (j.contains("num_key_value_heads")) {
    FM_ASSIGN_OR_RETURN(c.num_kv_heads, positive_field(j, "num_key_value_heads", path));
  }
  c.head_dim = c.hidden_size / c.num_heads;
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    FM_ASSIGN_OR_RETURN(c.head_dim, positive_field(j, "head_dim", path));
  }
  if (c.num_heads % c.num_kv_heads != 0 || c.head_dim % 2 != 0) {
    return Status::InvalidArgument(path + ": num_attention_heads must be a multiple of num_key_value_heads, and "
                                   "head_dim even");
  }
  const auto number = [&](const char* key, double fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : fallback;
  };
  c.rms_norm_eps = number("rms_norm_eps", 1e-6);
  c.rope_theta = number("rope_theta", 10000);
  c.initializer_range = number("initializer_range", 0.02);
  c.tie_word_embeddings = j.value("tie_word_embeddings", false);
  // transformers: LlamaConfig's attention_bias puts a bias on q, k, v and o,
  // its mlp_bias on the MLP's three; Qwen2 always has q, k and v biases.
  c.qkv_bias = type == "qwen2" || is_set("attention_bias");
  c.o_bias = type == "llama" && is_set("attention_bias");
  c.mlp_bias = type == "llama" && is_set("mlp_bias");
  return c;
}

Result<std::unique_ptr<LlamaModel>> LlamaModel::Create(const LlamaConfig& config,
                                                       const std::vector<std::string>& safetensors,
                                                       uint64_t seed) {
  std::unique_ptr<LlamaModel> m(new LlamaModel(config));
  const int64_t d = config.hidden_size, q = config.num_heads * config.head_dim,
                kv = config.num_kv_heads * config.head_dim, f = config.intermediate_size;
  std::map<std::string, std::vector<int64_t>> shapes = {{"model.embed_tokens.weight", {config.vocab_size, d}},
                                                        {"model.norm.weight", {d}}};
  if (!config.tie_word_embeddings) shapes["lm_head.weight"] = {config.vocab_size, d};
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const std::string p = layer_prefix(l);
    shapes[p + "input_layernorm.weight"] = {d};
    shapes[p + "post_attention_layernorm.weight"] = {d};
    shapes[p + "self_attn.q_proj.weight"] = {q, d};
    shapes[p + "self_attn.k_proj.weight"] = {kv, d};
    shapes[p + "self_attn.v_proj.weight"] = {kv, d};
    shapes[p + "self_attn.o_proj.weight"] = {d, q};
    shapes[p + "mlp.gate_proj.weight"] = {f, d};
    shapes[p + "mlp.up_proj.weight"] = {f, d};
    shapes[p + "mlp.down_proj.weight"] = {d, f};
    const auto bias = [&](bool has, const char* module, int64_t out) {
      if (has) shapes[p + module + ".bias"] = {out};
    };
    bias(config.qkv_bias, "self_attn.q_proj", q);
    bias(config.qkv_bias, "self_attn.k_proj", kv);
    bias(config.qkv_bias, "self_attn.v_proj", kv);
    bias(config.o_bias, "self_attn.o_proj", d);
    bias(config.mlp_bias, "mlp.gate_proj", f);
    bias(config.mlp_bias, "mlp.up_proj", f);
    bias(config.mlp_bias, "mlp.down_proj", d);
  }
  if (safetensors.empty()) {
    torch::manual_seed(seed);
    // transformers' _init_weights: normal weights, zero biases, norms 1.
    for (const auto& [name, shape] : shapes) {
      m->weights_[name] = name.ends_with(".bias") ? torch::zeros(shape)
                          : shape.size() == 1     ? torch::ones(shape)
                                                  : torch::randn(shape) * config.initializer_range;
    }
  } else {
    for (const std::string& path : safetensors) {
      FM_ASSIGN_OR_RETURN(auto tensors, read_tensors(path));
      for (auto& [name, t] : tensors) {
        auto it = shapes.find(name);
        if (it == shapes.end()) {
          return Status::InvalidArgument(path + ": tensor '" + name + "' is not a parameter of this Llama config");
        }
        if (t.sizes().vec() != it->second) {
          return Status::InvalidArgument(path + ": tensor '" + name + "' has shape " +
                                         c10::str(t.sizes()) + ", the config gives " + c10::str(it->second));
        }
        m->weights_[name] = t;
      }
    }
    for (const auto& [name, shape] : shapes) {
      if (!m->weights_.count(name)) return Status::InvalidArgument("the weights lack tensor '" + name + "'");
    }
  }
  for (auto& [name, t] : m->weights_) t.set_requires_grad(false);
  return m;
}

Status LlamaModel::apply_plan(const TrainingPlan& plan, const LoraSettings& lora, uint64_t seed) {
  if (!plan.saved_modules.empty()) {
    return Status::Unsupported("modules_to_save (" + plan.saved_modules.front() +
                               "): the native trainer does not wrap whole modules yet");
  }
  for (auto& [name, t] : weights_) t.set_requires_grad(plan.trainable_base.count(name) > 0);
  torch::manual_seed(seed);
  lora_dropout_ = lora.dropout;
  for (const flopsmeter::Adapter& a : plan.adapters) {
    if (a.on_embedding || a.magnitude_params > 0) {
      return Status::Unsupported("adapter on " + a.module_path +
                                 ": the native trainer implements LoRA on linear layers (no DoRA, no embedding LoRA)");
    }
    Adapter ad;
    // PEFT's init: A as nn.Linear's default (kaiming_uniform, a = sqrt(5)), B zero.
    const double bound = 1.0 / std::sqrt(static_cast<double>(a.in_features));
    ad.a = (torch::rand({static_cast<int64_t>(a.r), static_cast<int64_t>(a.in_features)}) * 2 - 1) * bound;
    ad.b = torch::zeros({static_cast<int64_t>(a.out_features), static_cast<int64_t>(a.r)});
    ad.a.set_requires_grad(true);
    ad.b.set_requires_grad(true);
    ad.scaling = lora.alpha / static_cast<double>(a.r);
    adapters_[a.module_path] = ad;
  }
  return Status::Ok();
}

torch::Tensor LlamaModel::linear(const std::string& module, const torch::Tensor& x, bool training) {
  const torch::Tensor& w = weights_.at(module + ".weight");
  torch::Tensor flat = x.reshape({-1, x.size(-1)});
  torch::Tensor y = counted_product(flat, w.t());
  if (auto bias = weights_.find(module + ".bias"); bias != weights_.end()) y = y + bias->second;
  auto it = adapters_.find(module);
  if (it != adapters_.end()) {
    torch::Tensor in = lora_dropout_ > 0 ? torch::dropout(flat, lora_dropout_, training) : flat;
    y = y + counted_product(counted_product(in, it->second.a.t()), it->second.b.t()) * it->second.scaling;
  }
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = w.size(0);
  return y.reshape(shape);
}

torch::Tensor LlamaModel::rms_norm(const std::string& weight, const torch::Tensor& x) const {
  torch::Tensor variance = x.pow(2).mean(-1, true);
  return weights_.at(weight) * (x * torch::rsqrt(variance + config_.rms_norm_eps));
}

torch::Tensor LlamaModel::attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                    const torch::Tensor& mask, const torch::Tensor& spans) const {
  const int64_t heads = q.size(1), hd = q.size(3);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  auto attend = [&](const torch::Tensor& qs, const torch::Tensor& ks, const torch::Tensor& vs, const torch::Tensor& m) {
    const int64_t rows = qs.size(0), n = qs.size(2);
    torch::Tensor scores =
        counted_product(qs.reshape({rows * heads, n, hd}), ks.reshape({rows * heads, n, hd}).transpose(1, 2));
    torch::Tensor probs = torch::softmax(scores.view({rows, heads, n, n}) * scale + m, -1);
    return counted_product(probs.reshape({rows * heads, n, n}), vs.reshape({rows * heads, n, hd})).view({rows, heads, n, hd});
  };
  if (spans.numel() == 0) return attend(q, k, v, mask);
  std::vector<torch::Tensor> outputs;
  int64_t start = 0;
  for (int64_t i = 0; i < spans.size(0); ++i) {
    const int64_t n = spans[i].item<int64_t>();
    outputs.push_back(
        attend(q.narrow(2, start, n), k.narrow(2, start, n), v.narrow(2, start, n), causal_mask(n, q.device())));
    start += n;
  }
  return torch::cat(outputs, 2);
}

torch::Tensor LlamaModel::layer_forward(int64_t layer, const torch::Tensor& h, const torch::Tensor& cos,
                                        const torch::Tensor& sin, const torch::Tensor& mask, const torch::Tensor& spans,
                                        bool training) {
  const std::string p = layer_prefix(layer);
  const int64_t b = h.size(0), t = h.size(1), hd = config_.head_dim;
  const int64_t heads = config_.num_heads, kv_heads = config_.num_kv_heads, group = heads / kv_heads;
  torch::Tensor x = rms_norm(p + "input_layernorm.weight", h);
  auto heads_of = [&](const torch::Tensor& y, int64_t n) { return y.view({b, t, n, hd}).transpose(1, 2); };
  torch::Tensor q = heads_of(linear(p + "self_attn.q_proj", x, training), heads);
  torch::Tensor k = heads_of(linear(p + "self_attn.k_proj", x, training), kv_heads);
  torch::Tensor v = heads_of(linear(p + "self_attn.v_proj", x, training), kv_heads);
  q = q * cos + rotate_half(q) * sin;
  k = k * cos + rotate_half(k) * sin;
  // transformers' repeat_kv: each key/value head serves `group` query heads.
  k = k.repeat_interleave(group, 1);
  v = v.repeat_interleave(group, 1);
  torch::Tensor attn = attention(q, k, v, mask, spans).transpose(1, 2).reshape({b, t, heads * hd});
  torch::Tensor h1 = h + linear(p + "self_attn.o_proj", attn, training);
  x = rms_norm(p + "post_attention_layernorm.weight", h1);
  torch::Tensor mlp = torch::silu(linear(p + "mlp.gate_proj", x, training)) * linear(p + "mlp.up_proj", x, training);
  return h1 + linear(p + "mlp.down_proj", mlp, training);
}

std::vector<torch::Tensor> LlamaModel::layer_trainable(int64_t layer) const {
  const std::string p = layer_prefix(layer);
  std::vector<torch::Tensor> out;
  for (const auto& [name, t] : weights_) {
    if (t.requires_grad() && name.starts_with(p)) out.push_back(t);
  }
  for (const auto& [module, a] : adapters_) {
    if (module.starts_with(p)) {
      out.push_back(a.a);
      out.push_back(a.b);
    }
  }
  return out;
}

void LlamaModel::to_device(torch::Device device) {
  const auto move = [&](torch::Tensor& t) {
    const bool trains = t.requires_grad();
    t = t.detach().to(device);  // a leaf again, on the device
    t.set_requires_grad(trains);
  };
  for (auto& [name, t] : weights_) move(t);
  for (auto& [module, a] : adapters_) {
    move(a.a);
    move(a.b);
  }
  device_ = device;
}

torch::Tensor LlamaModel::loss_sum(const torch::Tensor& ids, const torch::Tensor& targets,
                                   const std::vector<std::vector<int64_t>>& segments,
                                   std::optional<CheckpointMode> checkpointing, bool training) {
  const int64_t b = ids.size(0), t = ids.size(1), hd = config_.head_dim;
  torch::Tensor h = torch::embedding(weights_.at("model.embed_tokens.weight"), ids.to(device_));
  // transformers' enable_input_require_grads, which reentrant checkpointing needs.
  if (training && checkpointing == CheckpointMode::kReentrant && !h.requires_grad()) h.requires_grad_(true);
  // RoPE (transformers' default rotary embedding) at each position's index
  // in its span: 0..t-1 in a right-padded row, restarting at every span of
  // a padding-free one, as TRL's position_ids do.
  const bool padding_free = segments.size() == 1 && segments.front().size() > 1;
  torch::Tensor positions = torch::arange(t, torch::kLong);
  torch::Tensor spans = torch::empty({0}, torch::kLong);
  if (padding_free) {
    std::vector<torch::Tensor> parts;
    for (int64_t n : segments.front()) parts.push_back(torch::arange(n, torch::kLong));
    positions = torch::cat(parts);
    spans = torch::tensor(segments.front(), torch::kLong);
  }
  torch::Tensor inv_freq =
      1.0 / torch::pow(config_.rope_theta, torch::arange(0, hd, 2, torch::kFloat64) / static_cast<double>(hd));
  torch::Tensor freqs = torch::outer(positions.to(torch::kFloat64), inv_freq);
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  torch::Tensor cos = emb.cos().to(device_, torch::kFloat32), sin = emb.sin().to(device_, torch::kFloat32);
  // Rows of one span each: the causal and padding mask, added to the scores.
  // (The spans stay on the CPU: attention reads their lengths.)
  torch::Tensor mask = torch::empty({0}, torch::TensorOptions().device(device_));
  if (!padding_free) {
    mask = causal_mask(t, device_).expand({b, 1, t, t}).clone();
    for (int64_t r = 0; r < b; ++r) {
      const int64_t length = segments[static_cast<size_t>(r)].empty() ? 0 : segments[static_cast<size_t>(r)].front();
      if (length < t) {
        mask.index_put_({r, Slice(), Slice(), Slice(length, t)}, std::numeric_limits<float>::lowest());
      }
    }
  }
  for (int64_t l = 0; l < config_.num_layers; ++l) {
    if (checkpointing && training) {
      // An ArrayRef, so that each tensor is an input of its own (a vector would be one opaque argument).
      const std::vector<torch::Tensor> params = layer_trainable(l);
      h = CheckpointedLayer::apply(this, l, h, cos, sin, mask, spans, torch::TensorList(params));
    } else {
      h = layer_forward(l, h, cos, sin, mask, spans, training);
    }
  }
  h = rms_norm("model.norm.weight", h);
  const std::string head = config_.tie_word_embeddings ? "model.embed_tokens" : "lm_head";
  torch::Tensor logits = counted_product(h.reshape({b * t, -1}), weights_.at(head + ".weight").t());
  return torch::nn::functional::cross_entropy(
      logits, targets.reshape({-1}).to(device_),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
}

std::vector<torch::Tensor> LlamaModel::trainable() const {
  std::vector<torch::Tensor> out;
  for (const auto& [name, t] : weights_) {
    if (t.requires_grad()) out.push_back(t);
  }
  for (const auto& [module, a] : adapters_) {
    out.push_back(a.a);
    out.push_back(a.b);
  }
  return out;
}

Status LlamaModel::load_adapter(const std::string& path) {
  FM_ASSIGN_OR_RETURN(auto tensors, read_tensors(path));
  const std::map<std::string, torch::Tensor> expected = adapter_weights();
  for (const auto& [name, t] : expected) {
    auto it = tensors.find(name);
    if (it == tensors.end()) return Status::InvalidArgument(path + ": lacks tensor '" + name + "'");
    if (it->second.sizes() != t.sizes()) {
      return Status::InvalidArgument(path + ": tensor '" + name + "' has shape " + c10::str(it->second.sizes()) +
                                     ", the adapter has " + c10::str(t.sizes()));
    }
    torch::NoGradGuard no_grad;
    t.copy_(it->second);
  }
  if (tensors.size() != expected.size()) {
    return Status::InvalidArgument(path + ": holds tensors this adapter does not have");
  }
  return Status::Ok();
}

std::map<std::string, torch::Tensor> LlamaModel::adapter_weights() const {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [module, a] : adapters_) {
    out["base_model.model." + module + ".lora_A.weight"] = a.a;
    out["base_model.model." + module + ".lora_B.weight"] = a.b;
  }
  return out;
}

uint64_t LlamaModel::parameter_count() const {
  uint64_t n = 0;
  for (const auto& [name, t] : weights_) n += static_cast<uint64_t>(t.numel());
  for (const auto& [module, a] : adapters_) n += static_cast<uint64_t>(a.a.numel() + a.b.numel());
  return n;
}

}  // namespace flopsmeter
