#include "core/architectures.h"

#include "flopsmeter/exact.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>

namespace flopsmeter {
namespace {

using nlohmann::json;

// Bounds that keep a hostile config from exhausting memory or overflowing
// 64-bit counts; each is far above any published model.
constexpr uint64_t kMaxShapeValue = uint64_t{1} << 24;  // any one dimension
constexpr uint64_t kMaxLayers = 4096;
constexpr uint64_t kMaxExpertModules = uint64_t{1} << 20;  // layers x experts
constexpr Flop kMaxParameters = static_cast<Flop>(1) << 60;

// Reads typed fields of one config object; errors name file, line and field.
class ConfigReader {
 public:
  ConfigReader(const JsonDoc& doc, const json& object, std::string pointer)
      : doc_(doc), object_(object), pointer_(std::move(pointer)) {}

  bool has(const char* key) const { return JsonDoc::has(object_, key); }

  Result<uint64_t> uint(const char* key, std::optional<uint64_t> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      return fail(key, "is missing (a positive integer is required)");
    }
    const json& v = object_.at(key);
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (d >= 0 && d < 9007199254740992.0 && d == static_cast<double>(static_cast<uint64_t>(d))) {
        return static_cast<uint64_t>(d);
      }
    }
    return fail(key, "is " + v.dump() + "; expected a non-negative integer");
  }

  // A shape field: at most kMaxShapeValue, so products of two fit easily.
  Result<uint64_t> shape(const char* key, std::optional<uint64_t> fallback = std::nullopt) const {
    FM_ASSIGN_OR_RETURN(uint64_t v, uint(key, fallback));
    if (v > kMaxShapeValue) {
      return fail(key, "is " + std::to_string(v) + "; larger than any real model (limit " +
                           std::to_string(kMaxShapeValue) + ")");
    }
    return v;
  }

  // A shape field that may be JSON null (deepseek_v3's q_lora_rank): null
  // reads as 0, an absent field as `fallback` (has() treats null as absent).
  Result<uint64_t> shape_or_null(const char* key, uint64_t fallback) const {
    auto it = object_.find(key);
    if (it != object_.end() && it->is_null()) return uint64_t{0};
    return shape(key, fallback);
  }

  Result<uint64_t> positive(const char* key, std::optional<uint64_t> fallback = std::nullopt) const {
    FM_ASSIGN_OR_RETURN(uint64_t v, shape(key, fallback));
    if (v == 0) return fail(key, "is 0; expected a positive integer");
    return v;
  }

  Result<bool> boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = object_.at(key);
    if (!v.is_boolean()) return fail(key, "is " + v.dump() + "; expected true or false");
    return v.get<bool>();
  }

  Result<std::vector<uint64_t>> uint_list(const char* key) const {
    std::vector<uint64_t> out;
    if (!has(key)) return out;
    const json& v = object_.at(key);
    if (!v.is_array()) return fail(key, "must be a list of integers");
    for (const json& e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0) return fail(key, "has " + e.dump() + "; expected non-negative integers");
      out.push_back(e.get<uint64_t>());
    }
    return out;
  }

  Result<std::vector<std::string>> string_list(const char* key) const {
    std::vector<std::string> out;
    if (!has(key)) return out;
    const json& v = object_.at(key);
    if (!v.is_array()) return fail(key, "must be a list of strings");
    for (const json& e : v) {
      if (!e.is_string()) return fail(key, "has " + e.dump() + "; expected strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }

  // The nested config object `key` (gemma3's text_config, vision_config).
  // An absent or null one reads as {}: every field then takes the default
  // of its config class, as transformers builds it.
  Result<ConfigReader> object(const char* key) const {
    static const json kEmpty = json::object();
    const std::string at = JsonDoc::child(pointer_, key);
    if (!has(key)) return ConfigReader(doc_, kEmpty, at);
    const json& v = object_.at(key);
    if (!v.is_object()) return fail(key, "is " + v.dump() + "; expected a JSON object");
    return ConfigReader(doc_, v, at);
  }

  // Shapes that do not fit together (the config as a whole is at fault).
  Status error(const std::string& what) const {
    return Status::InvalidArgument(doc_.where(pointer_) + ": " + what);
  }

 private:
  Status fail(const char* key, const std::string& what) const {
    return Status::ParseError(doc_.where(JsonDoc::child(pointer_, key)) + " " + what);
  }
  const JsonDoc& doc_;
  const json& object_;
  std::string pointer_;
};

// Accumulates modules in registration order.
class ModelBuilder {
 public:
  explicit ModelBuilder(Model* model) : model_(model) {}

  void linear(const std::string& path, Slot slot, Component comp, int layer, uint64_t in, uint64_t out, bool bias,
              int expert = -1) {
    Module m = make(path, ModuleKind::kLinear, slot, comp, layer, in, out, expert);
    add_param(m, "weight", {out, in});
    if (bias) add_param(m, "bias", {out});
    model_->modules.push_back(std::move(m));
  }

  // A module that is no nn.Linear but holds named parameters (routers that
  // call F.linear, fused experts, attention sinks); PEFT does not adapt it.
  void parameters(const std::string& path, Slot slot, Component comp, int layer, uint64_t in, uint64_t out,
                  const std::vector<std::pair<const char*, std::vector<uint64_t>>>& params) {
    Module m = make(path, ModuleKind::kOther, slot, comp, layer, in, out, -1);
    for (const auto& [leaf, shape] : params) add_param(m, leaf, shape);
    model_->modules.push_back(std::move(m));
  }

  // transformers' Conv1D (gpt2): weight stored [in, out].
  void conv1d(const std::string& path, Slot slot, Component comp, int layer, uint64_t in, uint64_t out) {
    Module m = make(path, ModuleKind::kConv1D, slot, comp, layer, in, out, -1);
    add_param(m, "weight", {in, out});
    add_param(m, "bias", {out});
    model_->modules.push_back(std::move(m));
  }

  void norm(const std::string& path, Slot slot, Component comp, int layer, uint64_t dim, bool bias) {
    Module m = make(path, ModuleKind::kNorm, slot, comp, layer, dim, dim, -1);
    add_param(m, "weight", {dim});
    if (bias) add_param(m, "bias", {dim});
    model_->modules.push_back(std::move(m));
  }

  void embedding(const std::string& path, Slot slot, Component comp, uint64_t count, uint64_t dim) {
    Module m = make(path, ModuleKind::kEmbedding, slot, comp, -1, count, dim, -1);
    add_param(m, "weight", {count, dim});
    model_->modules.push_back(std::move(m));
  }

  // Output projection; shares the token embedding's weight when tied.
  void lm_head(const std::string& path, uint64_t hidden, uint64_t vocab, bool tied, const std::string& embedding_weight) {
    if (!tied) {
      linear(path, Slot::kLmHead, Component::kLmHead, -1, hidden, vocab, false);
      return;
    }
    Module m = make(path, ModuleKind::kLinear, Slot::kLmHead, Component::kEmbedding, -1, hidden, vocab, -1);
    m.tied_to = embedding_weight;
    model_->modules.push_back(std::move(m));
  }

 private:
  static Module make(const std::string& path, ModuleKind kind, Slot slot, Component comp, int layer, uint64_t in,
                     uint64_t out, int expert) {
    Module m;
    m.path = path;
    m.kind = kind;
    m.slot = slot;
    m.component = comp;
    m.layer = layer;
    m.expert = expert;
    m.in_features = in;
    m.out_features = out;
    return m;
  }
  static void add_param(Module& m, const char* leaf, std::vector<uint64_t> shape) {
    Parameter p;
    p.name = m.path + "." + leaf;
    p.numel = 1;
    for (uint64_t d : shape) p.numel *= d;
    p.shape = std::move(shape);
    m.params.push_back(std::move(p));
  }
  Model* model_;
};

// Shape facts shared by the decoder-only families.
struct Dims {
  uint64_t vocab, hidden, layers, heads, kv_heads, head_dim, intermediate, max_positions;
  bool tied;
};

// Defaults a config class gives the shape fields a file may leave out; most
// classes' defaults describe no released model, so their files must say.
struct DimDefaults {
  std::optional<uint64_t> hidden, layers, heads, kv_heads, head_dim, intermediate;
  uint64_t max_positions = 0;
};

// Gemma3TextConfig's defaults: the text_config of google/gemma-3-4b-pt lists
// only hidden_size, intermediate_size, num_hidden_layers and sliding_window
// of the shapes, and takes 8 heads, 4 key/value heads and head_dim 256 from
// here (12B takes head_dim 256; 27B lists every shape).
DimDefaults gemma3_text_defaults() {
  DimDefaults g;
  g.hidden = 2304;
  g.layers = 26;
  g.heads = 8;
  g.kv_heads = 4;
  g.head_dim = 256;
  g.intermediate = 9216;
  g.max_positions = 131072;
  return g;
}

Result<Dims> read_dims(const ConfigReader& c, uint64_t default_vocab, bool default_tied,
                       const DimDefaults& defaults = {}) {
  Dims d{};
  FM_ASSIGN_OR_RETURN(d.vocab, c.positive("vocab_size", default_vocab));
  FM_ASSIGN_OR_RETURN(d.hidden, c.positive("hidden_size", defaults.hidden));
  FM_ASSIGN_OR_RETURN(d.layers, c.positive("num_hidden_layers", defaults.layers));
  FM_ASSIGN_OR_RETURN(d.heads, c.positive("num_attention_heads", defaults.heads));
  FM_ASSIGN_OR_RETURN(d.kv_heads, c.positive("num_key_value_heads", defaults.kv_heads.value_or(d.heads)));
  if (!c.has("head_dim") && !defaults.head_dim && d.hidden % d.heads != 0) {
    return c.error("hidden_size " + std::to_string(d.hidden) + " is not divisible by num_attention_heads " +
                   std::to_string(d.heads) + " and no head_dim is given");
  }
  FM_ASSIGN_OR_RETURN(d.head_dim, c.positive("head_dim", defaults.head_dim.value_or(d.hidden / d.heads)));
  FM_ASSIGN_OR_RETURN(d.intermediate, c.positive("intermediate_size", defaults.intermediate));
  FM_ASSIGN_OR_RETURN(d.max_positions, c.shape("max_position_embeddings", defaults.max_positions));
  FM_ASSIGN_OR_RETURN(d.tied, c.boolean("tie_word_embeddings", default_tied));
  if (d.layers > kMaxLayers) {
    return c.error("num_hidden_layers " + std::to_string(d.layers) + " exceeds " + std::to_string(kMaxLayers) +
                   "; larger than any real model");
  }
  if (d.heads % d.kv_heads != 0) {
    return c.error("num_attention_heads " + std::to_string(d.heads) + " is not a multiple of num_key_value_heads " +
                   std::to_string(d.kv_heads));
  }
  return d;
}

// Options that vary the standard pre-norm decoder layer between families.
struct LayerStyle {
  bool qkv_bias = false;      // bias on q, k, v
  bool o_bias = false;        // bias on o_proj
  bool mlp_bias = false;      // bias on gate/up/down
  bool fused_qkv = false;     // phi3 qkv_proj
  bool fused_gate_up = false; // phi3 gate_up_proj
  enum class QkNorm { kNone, kPerHead, kPerProjection } qk_norm = QkNorm::kNone;
  bool input_norm = true;          // olmo2 has none
  bool post_attn_is_pre_mlp = true;  // llama's "post_attention_layernorm" feeds the MLP
  bool sandwich_norms = false;     // gemma2/3: post-attn + pre/post-feedforward norms
};

void add_attention(ModelBuilder& b, const std::string& lp, int layer, const Dims& d, const LayerStyle& s) {
  const std::string ap = lp + ".self_attn";
  uint64_t q_out = d.heads * d.head_dim, kv_out = d.kv_heads * d.head_dim;
  if (s.fused_qkv) {
    b.linear(ap + ".qkv_proj", Slot::kQKV, Component::kAttention, layer, d.hidden, q_out + 2 * kv_out, s.qkv_bias);
  } else {
    b.linear(ap + ".q_proj", Slot::kQ, Component::kAttention, layer, d.hidden, q_out, s.qkv_bias);
    b.linear(ap + ".k_proj", Slot::kK, Component::kAttention, layer, d.hidden, kv_out, s.qkv_bias);
    b.linear(ap + ".v_proj", Slot::kV, Component::kAttention, layer, d.hidden, kv_out, s.qkv_bias);
  }
  b.linear(ap + ".o_proj", Slot::kO, Component::kAttention, layer, q_out, d.hidden, s.o_bias);
  if (s.qk_norm == LayerStyle::QkNorm::kPerHead) {
    b.norm(ap + ".q_norm", Slot::kQNorm, Component::kAttention, layer, d.head_dim, false);
    b.norm(ap + ".k_norm", Slot::kKNorm, Component::kAttention, layer, d.head_dim, false);
  } else if (s.qk_norm == LayerStyle::QkNorm::kPerProjection) {
    b.norm(ap + ".q_norm", Slot::kQNorm, Component::kAttention, layer, q_out, false);
    b.norm(ap + ".k_norm", Slot::kKNorm, Component::kAttention, layer, kv_out, false);
  }
}

// A gated MLP (gate/up/down) under `prefix`, sized `inter`.
void add_gated_mlp(ModelBuilder& b, const std::string& prefix, int layer, uint64_t hidden, uint64_t inter, bool bias,
                   Component comp, Slot gate, Slot up, Slot down, int expert = -1) {
  b.linear(prefix + ".gate_proj", gate, comp, layer, hidden, inter, bias, expert);
  b.linear(prefix + ".up_proj", up, comp, layer, hidden, inter, bias, expert);
  b.linear(prefix + ".down_proj", down, comp, layer, inter, hidden, bias, expert);
}

void add_layer_norms(ModelBuilder& b, const std::string& lp, int layer, const Dims& d, const LayerStyle& s) {
  if (s.input_norm) b.norm(lp + ".input_layernorm", Slot::kAttnNorm, Component::kNorm, layer, d.hidden, false);
  if (s.sandwich_norms) {
    b.norm(lp + ".post_attention_layernorm", Slot::kPostAttnNorm, Component::kNorm, layer, d.hidden, false);
    b.norm(lp + ".pre_feedforward_layernorm", Slot::kMlpNorm, Component::kNorm, layer, d.hidden, false);
    b.norm(lp + ".post_feedforward_layernorm", Slot::kPostMlpNorm, Component::kNorm, layer, d.hidden, false);
  } else if (s.post_attn_is_pre_mlp) {
    b.norm(lp + ".post_attention_layernorm", Slot::kMlpNorm, Component::kNorm, layer, d.hidden, false);
  } else {  // olmo2: norms on the outputs
    b.norm(lp + ".post_attention_layernorm", Slot::kPostAttnNorm, Component::kNorm, layer, d.hidden, false);
    b.norm(lp + ".post_feedforward_layernorm", Slot::kPostMlpNorm, Component::kNorm, layer, d.hidden, false);
  }
}

// What the feed-forward of layer `i` is.
using MlpBuilder = std::function<Status(ModelBuilder&, const std::string& lp, int layer)>;
// What the attention of layer `i` is, when it is not add_attention's.
using AttentionBuilder = std::function<void(ModelBuilder&, const std::string& lp, int layer)>;

Model start_model(const std::string& model_type, const Dims& d) {
  Model m;
  m.arch.model_type = model_type;
  m.arch.vocab_size = d.vocab;
  m.arch.hidden_size = d.hidden;
  m.arch.num_layers = d.layers;
  m.arch.num_heads = d.heads;
  m.arch.num_kv_heads = d.kv_heads;
  m.arch.head_dim = d.head_dim;
  m.arch.intermediate_size = d.intermediate;
  m.arch.max_position_embeddings = d.max_positions;
  m.arch.tied_embeddings = d.tied;
  m.arch.sliding_window.assign(d.layers, 0);
  return m;
}

// The llama-style decoder shared by most families: model.embed_tokens,
// model.layers.N.{self_attn, mlp, norms}, model.norm, lm_head; `prefix`
// replaces "model" where the decoder sits inside a larger model (gemma3's
// model.language_model).
Result<Model> build_decoder(const std::string& model_type, const Dims& d, const LayerStyle& s, const MlpBuilder& mlp,
                           const AttentionBuilder& attention = nullptr, const std::string& prefix = "model") {
  Model model = start_model(model_type, d);
  ModelBuilder b(&model);
  b.embedding(prefix + ".embed_tokens", Slot::kTokenEmbedding, Component::kEmbedding, d.vocab, d.hidden);
  for (uint64_t i = 0; i < d.layers; ++i) {
    int layer = static_cast<int>(i);
    std::string lp = prefix + ".layers." + std::to_string(i);
    if (attention) {
      attention(b, lp, layer);
    } else {
      add_attention(b, lp, layer, d, s);
    }
    FM_RETURN_IF_ERROR(mlp(b, lp, layer));
    add_layer_norms(b, lp, layer, d, s);
  }
  b.norm(prefix + ".norm", Slot::kFinalNorm, Component::kNorm, -1, d.hidden, false);
  b.lm_head("lm_head", d.hidden, d.vocab, d.tied, prefix + ".embed_tokens.weight");
  return model;
}

MlpBuilder dense_mlp(const Dims& d, bool bias) {
  return [d, bias](ModelBuilder& b, const std::string& lp, int layer) {
    add_gated_mlp(b, lp + ".mlp", layer, d.hidden, d.intermediate, bias, Component::kMlp, Slot::kGate, Slot::kUp,
                  Slot::kDown);
    return Status::Ok();
  };
}

// Window per layer for the families that configure one uniformly.
Status uniform_window(const ConfigReader& c, Model& m) {
  if (!c.has("sliding_window")) return Status::Ok();
  FM_ASSIGN_OR_RETURN(uint64_t w, c.shape("sliding_window"));
  std::fill(m.arch.sliding_window.begin(), m.arch.sliding_window.end(), w);
  return Status::Ok();
}

// qwen2 / qwen3: sliding window only when use_sliding_window, on layers at or
// above max_window_layers; an explicit layer_types list wins.
Status qwen_window(const ConfigReader& c, Model& m) {
  FM_ASSIGN_OR_RETURN(std::vector<std::string> types, c.string_list("layer_types"));
  FM_ASSIGN_OR_RETURN(bool use, c.boolean("use_sliding_window", false));
  FM_ASSIGN_OR_RETURN(uint64_t window, c.shape("sliding_window", 0));
  FM_ASSIGN_OR_RETURN(uint64_t max_window_layers, c.uint("max_window_layers", 0));
  for (uint64_t i = 0; i < m.arch.num_layers; ++i) {
    bool sliding = !types.empty() ? (i < types.size() && types[i] == "sliding_attention")
                                  : (use && i >= max_window_layers);
    m.arch.sliding_window[i] = sliding ? window : 0;
  }
  return Status::Ok();
}

// gemma2 alternates (even layers local); gemma3 uses layer_types or a pattern
// in which every Nth layer is global.
Status gemma_window(const ConfigReader& c, Model& m, uint64_t default_pattern) {
  FM_ASSIGN_OR_RETURN(std::vector<std::string> types, c.string_list("layer_types"));
  FM_ASSIGN_OR_RETURN(uint64_t window, c.shape("sliding_window", 4096));
  FM_ASSIGN_OR_RETURN(uint64_t pattern, c.positive("sliding_window_pattern", default_pattern));
  for (uint64_t i = 0; i < m.arch.num_layers; ++i) {
    bool sliding = !types.empty() ? (i < types.size() && types[i] == "sliding_attention") : ((i + 1) % pattern != 0);
    m.arch.sliding_window[i] = sliding ? window : 0;
  }
  return Status::Ok();
}

Result<Model> build_llama_like_at(const std::string& type, const ConfigReader& c, const std::string& prefix) {
  // transformers defaults per config class where a file omits a field.
  uint64_t default_vocab = 32000;
  bool default_tied = false;
  if (type == "qwen2" || type == "qwen3") default_vocab = 151936;
  if (type == "olmo2") default_vocab = 50304;
  if (type == "phi3") default_vocab = 32064;
  if (type == "gemma" || type == "gemma2") { default_vocab = 256000; default_tied = true; }
  if (type == "gemma3_text") { default_vocab = 262208; default_tied = true; }
  FM_ASSIGN_OR_RETURN(Dims d, read_dims(c, default_vocab, default_tied,
                                       type == "gemma3_text" ? gemma3_text_defaults() : DimDefaults{}));

  LayerStyle s;
  bool mlp_bias = false;
  if (type == "llama") {
    FM_ASSIGN_OR_RETURN(bool attention_bias, c.boolean("attention_bias", false));
    FM_ASSIGN_OR_RETURN(mlp_bias, c.boolean("mlp_bias", false));
    s.qkv_bias = s.o_bias = attention_bias;
  } else if (type == "qwen2") {
    s.qkv_bias = true;
  } else if (type == "qwen3") {
    FM_ASSIGN_OR_RETURN(bool attention_bias, c.boolean("attention_bias", false));
    s.qkv_bias = s.o_bias = attention_bias;
    s.qk_norm = LayerStyle::QkNorm::kPerHead;
  } else if (type == "olmo2") {
    FM_ASSIGN_OR_RETURN(bool attention_bias, c.boolean("attention_bias", false));
    s.qkv_bias = s.o_bias = attention_bias;
    s.qk_norm = LayerStyle::QkNorm::kPerProjection;
    s.input_norm = false;
    s.post_attn_is_pre_mlp = false;
  } else if (type == "phi3") {
    s.fused_qkv = s.fused_gate_up = true;
  } else if (type == "gemma2" || type == "gemma3_text") {
    FM_ASSIGN_OR_RETURN(bool attention_bias, c.boolean("attention_bias", false));
    s.qkv_bias = s.o_bias = attention_bias;
    s.sandwich_norms = true;
    if (type == "gemma3_text") s.qk_norm = LayerStyle::QkNorm::kPerHead;
  } else if (type == "gemma") {
    FM_ASSIGN_OR_RETURN(bool attention_bias, c.boolean("attention_bias", false));
    s.qkv_bias = s.o_bias = attention_bias;
  }

  MlpBuilder mlp = dense_mlp(d, mlp_bias);
  if (s.fused_gate_up) {
    mlp = [d](ModelBuilder& b, const std::string& lp, int layer) {
      b.linear(lp + ".mlp.gate_up_proj", Slot::kGateUp, Component::kMlp, layer, d.hidden, 2 * d.intermediate, false);
      b.linear(lp + ".mlp.down_proj", Slot::kDown, Component::kMlp, layer, d.intermediate, d.hidden, false);
      return Status::Ok();
    };
  }
  FM_ASSIGN_OR_RETURN(Model m, build_decoder(type, d, s, mlp, nullptr, prefix));
  if (type == "qwen2" || type == "qwen3") {
    FM_RETURN_IF_ERROR(qwen_window(c, m));
  } else if (type == "gemma2") {
    FM_RETURN_IF_ERROR(gemma_window(c, m, 2));
  } else if (type == "gemma3_text") {
    FM_RETURN_IF_ERROR(gemma_window(c, m, 6));
  } else if (type == "mistral" || type == "phi3") {
    FM_RETURN_IF_ERROR(uniform_window(c, m));
  }
  return m;
}

Result<Model> build_llama_like(const std::string& type, const ConfigReader& c) {
  return build_llama_like_at(type, c, "model");
}

// The SigLIP vision tower (SiglipVisionModel) under `vp`, with
// SiglipVisionConfig's defaults: a patch-embedding Conv2d with bias, one
// learned position per patch, encoder layers of biased k/v/q/out
// projections, fc1/fc2 and two LayerNorms with bias, the post-layernorm,
// and the attention-pooling head unless vision_use_head is false. Returns
// the tower's width.
Result<uint64_t> add_siglip_vision(ModelBuilder& b, const ConfigReader& v, const std::string& vp) {
  FM_ASSIGN_OR_RETURN(uint64_t hidden, v.positive("hidden_size", 768));
  FM_ASSIGN_OR_RETURN(uint64_t inter, v.positive("intermediate_size", 3072));
  FM_ASSIGN_OR_RETURN(uint64_t layers, v.positive("num_hidden_layers", 12));
  FM_ASSIGN_OR_RETURN(uint64_t heads, v.positive("num_attention_heads", 12));
  FM_ASSIGN_OR_RETURN(uint64_t channels, v.positive("num_channels", 3));
  FM_ASSIGN_OR_RETURN(uint64_t image, v.positive("image_size", 224));
  FM_ASSIGN_OR_RETURN(uint64_t patch, v.positive("patch_size", 16));
  FM_ASSIGN_OR_RETURN(bool use_head, v.boolean("vision_use_head", true));
  if (hidden % heads != 0) {
    return v.error("hidden_size " + std::to_string(hidden) + " is not divisible by num_attention_heads " +
                   std::to_string(heads));
  }
  if (layers > kMaxLayers) {
    return v.error("num_hidden_layers " + std::to_string(layers) + " exceeds " + std::to_string(kMaxLayers) +
                   "; larger than any real model");
  }
  if (patch > image) return v.error("patch_size " + std::to_string(patch) + " exceeds image_size " + std::to_string(image));
  const uint64_t side = image / patch;  // patch <= image <= 2^24: no product below overflows
  if (patch * patch > kMaxShapeValue || channels * patch * patch > kMaxShapeValue || side * side > kMaxShapeValue) {
    return v.error("image_size, patch_size and num_channels describe more patches or patch pixels than any real model");
  }
  const uint64_t positions = side * side;
  const Component kV = Component::kVision;
  b.parameters(vp + ".embeddings.patch_embedding", Slot::kOther, kV, -1, channels * patch * patch, hidden,
               {{"weight", {hidden, channels, patch, patch}}, {"bias", {hidden}}});
  b.embedding(vp + ".embeddings.position_embedding", Slot::kOther, kV, positions, hidden);
  for (uint64_t i = 0; i < layers; ++i) {
    const std::string lp = vp + ".encoder.layers." + std::to_string(i);
    for (const char* proj : {".self_attn.k_proj", ".self_attn.v_proj", ".self_attn.q_proj", ".self_attn.out_proj"}) {
      b.linear(lp + proj, Slot::kOther, kV, -1, hidden, hidden, true);
    }
    b.norm(lp + ".layer_norm1", Slot::kOther, kV, -1, hidden, true);
    b.linear(lp + ".mlp.fc1", Slot::kOther, kV, -1, hidden, inter, true);
    b.linear(lp + ".mlp.fc2", Slot::kOther, kV, -1, inter, hidden, true);
    b.norm(lp + ".layer_norm2", Slot::kOther, kV, -1, hidden, true);
  }
  b.norm(vp + ".post_layernorm", Slot::kOther, kV, -1, hidden, true);
  if (use_head) {  // SiglipMultiheadAttentionPoolingHead: probe, nn.MultiheadAttention, LayerNorm, MLP
    const std::string hp = vp + ".head";
    b.parameters(hp, Slot::kOther, kV, -1, hidden, hidden, {{"probe", {1, 1, hidden}}});
    b.parameters(hp + ".attention", Slot::kOther, kV, -1, hidden, 3 * hidden,
                 {{"in_proj_weight", {3 * hidden, hidden}}, {"in_proj_bias", {3 * hidden}}});
    b.linear(hp + ".attention.out_proj", Slot::kOther, kV, -1, hidden, hidden, true);
    b.norm(hp + ".layernorm", Slot::kOther, kV, -1, hidden, true);
    b.linear(hp + ".mlp.fc1", Slot::kOther, kV, -1, hidden, inter, true);
    b.linear(hp + ".mlp.fc2", Slot::kOther, kV, -1, inter, hidden, true);
  }
  return hidden;
}

// gemma3 (Gemma3ForConditionalGeneration; transformers 4.52+ names): the
// SigLIP vision tower, the multimodal projector (a [vision, text] matrix
// that is no nn.Linear, and an RMSNorm over the vision width), then the
// gemma3_text decoder under model.language_model, lm_head tied to its
// embedding. The count is the whole model's, as num_parameters() gives it.
// The vision modules sit outside the decoder's layer stack (layer -1): the
// tower runs only on pixel_values, so the detailed FLOP count of text
// training walks the decoder alone.
Result<Model> build_gemma3(const ConfigReader& c) {
  FM_ASSIGN_OR_RETURN(ConfigReader text, c.object("text_config"));
  FM_ASSIGN_OR_RETURN(ConfigReader vision, c.object("vision_config"));
  FM_ASSIGN_OR_RETURN(Model decoder, build_llama_like_at("gemma3_text", text, "model.language_model"));
  Model m;
  m.arch = decoder.arch;
  m.arch.model_type = "gemma3";
  ModelBuilder b(&m);
  FM_ASSIGN_OR_RETURN(uint64_t vision_hidden, add_siglip_vision(b, vision, "model.vision_tower.vision_model"));
  const uint64_t text_hidden = decoder.arch.hidden_size;
  b.parameters("model.multi_modal_projector", Slot::kOther, Component::kProjector, -1, vision_hidden, text_hidden,
               {{"mm_input_projection_weight", {vision_hidden, text_hidden}}});
  b.norm("model.multi_modal_projector.mm_soft_emb_norm", Slot::kOther, Component::kProjector, -1, vision_hidden,
         false);
  for (Module& mod : decoder.modules) m.modules.push_back(std::move(mod));
  return m;
}

Result<Model> build_mixtral(const ConfigReader& c) {
  FM_ASSIGN_OR_RETURN(Dims d, read_dims(c, 32000, false));
  FM_ASSIGN_OR_RETURN(uint64_t experts, c.positive("num_local_experts", 8));
  FM_ASSIGN_OR_RETURN(uint64_t top_k, c.positive("num_experts_per_tok", 2));
  if (top_k > experts) return c.error("num_experts_per_tok exceeds num_local_experts");
  if (experts * d.layers > kMaxExpertModules) return c.error("layers x experts is larger than any real model");
  MlpBuilder mlp = [d, experts](ModelBuilder& b, const std::string& lp, int layer) {
    std::string mp = lp + ".block_sparse_moe";
    b.linear(mp + ".gate", Slot::kRouter, Component::kRouter, layer, d.hidden, experts, false);
    for (uint64_t e = 0; e < experts; ++e) {
      std::string ep = mp + ".experts." + std::to_string(e);
      int ei = static_cast<int>(e);
      b.linear(ep + ".w1", Slot::kExpertGate, Component::kExperts, layer, d.hidden, d.intermediate, false, ei);
      b.linear(ep + ".w2", Slot::kExpertDown, Component::kExperts, layer, d.intermediate, d.hidden, false, ei);
      b.linear(ep + ".w3", Slot::kExpertUp, Component::kExperts, layer, d.hidden, d.intermediate, false, ei);
    }
    return Status::Ok();
  };
  FM_ASSIGN_OR_RETURN(Model m, build_decoder("mixtral", d, LayerStyle{}, mlp));
  m.arch.num_experts = experts;
  m.arch.experts_per_token = top_k;
  FM_RETURN_IF_ERROR(uniform_window(c, m));
  return m;
}

// qwen2_moe and qwen3_moe: sparse layers every decoder_sparse_step (minus
// mlp_only_layers), dense MLP elsewhere; qwen2_moe adds a shared expert.
Result<Model> build_qwen_moe(const std::string& type, const ConfigReader& c) {
  bool qwen2 = type == "qwen2_moe";
  FM_ASSIGN_OR_RETURN(Dims d, read_dims(c, 151936, false));
  FM_ASSIGN_OR_RETURN(uint64_t experts, c.positive("num_experts", qwen2 ? 60 : 128));
  FM_ASSIGN_OR_RETURN(uint64_t top_k, c.positive("num_experts_per_tok", qwen2 ? 4 : 8));
  FM_ASSIGN_OR_RETURN(uint64_t moe_inter, c.positive("moe_intermediate_size", qwen2 ? 1408 : 768));
  FM_ASSIGN_OR_RETURN(uint64_t shared_inter, c.shape("shared_expert_intermediate_size", qwen2 ? 5632 : 0));
  FM_ASSIGN_OR_RETURN(uint64_t sparse_step, c.positive("decoder_sparse_step", 1));
  FM_ASSIGN_OR_RETURN(std::vector<uint64_t> mlp_only, c.uint_list("mlp_only_layers"));
  if (top_k > experts) return c.error("num_experts_per_tok exceeds num_experts");
  if (experts * d.layers > kMaxExpertModules) return c.error("layers x experts is larger than any real model");
  std::set<uint64_t> dense_layers(mlp_only.begin(), mlp_only.end());

  LayerStyle s;
  if (qwen2) {
    s.qkv_bias = true;
  } else {
    FM_ASSIGN_OR_RETURN(bool attention_bias, c.boolean("attention_bias", false));
    s.qkv_bias = s.o_bias = attention_bias;
    s.qk_norm = LayerStyle::QkNorm::kPerHead;
  }
  MlpBuilder mlp = [=](ModelBuilder& b, const std::string& lp, int layer) {
    uint64_t i = static_cast<uint64_t>(layer);
    bool sparse = dense_layers.count(i) == 0 && (i + 1) % sparse_step == 0;
    std::string mp = lp + ".mlp";
    if (!sparse) {
      add_gated_mlp(b, mp, layer, d.hidden, d.intermediate, false, Component::kMlp, Slot::kGate, Slot::kUp, Slot::kDown);
      return Status::Ok();
    }
    b.linear(mp + ".gate", Slot::kRouter, Component::kRouter, layer, d.hidden, experts, false);
    for (uint64_t e = 0; e < experts; ++e) {
      add_gated_mlp(b, mp + ".experts." + std::to_string(e), layer, d.hidden, moe_inter, false, Component::kExperts,
                    Slot::kExpertGate, Slot::kExpertUp, Slot::kExpertDown, static_cast<int>(e));
    }
    if (qwen2 && shared_inter > 0) {
      add_gated_mlp(b, mp + ".shared_expert", layer, d.hidden, shared_inter, false, Component::kSharedExperts,
                    Slot::kSharedGate, Slot::kSharedUp, Slot::kSharedDown);
      b.linear(mp + ".shared_expert_gate", Slot::kSharedExpertGate, Component::kSharedExperts, layer, d.hidden, 1,
               false);
    }
    return Status::Ok();
  };
  FM_ASSIGN_OR_RETURN(Model m, build_decoder(type, d, s, mlp));
  m.arch.num_experts = experts;
  m.arch.experts_per_token = top_k;
  FM_RETURN_IF_ERROR(qwen_window(c, m));
  return m;
}

// deepseek_v3 (DeepSeek-V3, R1): multi-head latent attention, and after
// first_k_dense_replace dense layers a MoE of routed experts, a router whose
// e_score_correction_bias is a buffer (not counted) and always-active shared
// experts. transformers does not load the multi-token-prediction layer the
// checkpoint adds (num_nextn_predict_layers), so it is not built either.
struct MlaDims {
  uint64_t q_lora, kv_lora, nope, rope, v;
};

AttentionBuilder mla_attention(const Dims& d, const MlaDims& a, bool bias) {
  return [d, a, bias](ModelBuilder& b, const std::string& lp, int layer) {
    const std::string ap = lp + ".self_attn";
    const uint64_t q_out = d.heads * (a.nope + a.rope);
    if (a.q_lora == 0) {
      b.linear(ap + ".q_proj", Slot::kQ, Component::kAttention, layer, d.hidden, q_out, false);
    } else {
      b.linear(ap + ".q_a_proj", Slot::kQA, Component::kAttention, layer, d.hidden, a.q_lora, bias);
      b.norm(ap + ".q_a_layernorm", Slot::kQANorm, Component::kAttention, layer, a.q_lora, false);
      b.linear(ap + ".q_b_proj", Slot::kQB, Component::kAttention, layer, a.q_lora, q_out, false);
    }
    b.linear(ap + ".kv_a_proj_with_mqa", Slot::kKVA, Component::kAttention, layer, d.hidden, a.kv_lora + a.rope, bias);
    b.norm(ap + ".kv_a_layernorm", Slot::kKVANorm, Component::kAttention, layer, a.kv_lora, false);
    b.linear(ap + ".kv_b_proj", Slot::kKVB, Component::kAttention, layer, a.kv_lora, d.heads * (a.nope + a.v), false);
    b.linear(ap + ".o_proj", Slot::kO, Component::kAttention, layer, d.heads * a.v, d.hidden, bias);
  };
}

struct DeepseekMoe {
  uint64_t experts, top_k, moe_inter, shared, first_dense;
};

Result<DeepseekMoe> read_deepseek_moe(const ConfigReader& c, uint64_t layers) {
  DeepseekMoe e{};
  FM_ASSIGN_OR_RETURN(e.experts, c.positive("n_routed_experts", 256));
  FM_ASSIGN_OR_RETURN(e.top_k, c.positive("num_experts_per_tok", 8));
  FM_ASSIGN_OR_RETURN(e.moe_inter, c.positive("moe_intermediate_size", 2048));
  FM_ASSIGN_OR_RETURN(e.shared, c.shape("n_shared_experts", 1));
  FM_ASSIGN_OR_RETURN(e.first_dense, c.uint("first_k_dense_replace", 3));
  if (e.top_k > e.experts) return c.error("num_experts_per_tok exceeds n_routed_experts");
  if (e.experts * layers > kMaxExpertModules) return c.error("layers x experts is larger than any real model");
  return e;
}

Result<Model> build_deepseek_v3(const ConfigReader& c) {
  FM_ASSIGN_OR_RETURN(Dims d, read_dims(c, 129280, false));
  MlaDims a{};
  FM_ASSIGN_OR_RETURN(a.q_lora, c.shape_or_null("q_lora_rank", 1536));
  FM_ASSIGN_OR_RETURN(a.kv_lora, c.positive("kv_lora_rank", 512));
  FM_ASSIGN_OR_RETURN(a.nope, c.positive("qk_nope_head_dim", 128));
  FM_ASSIGN_OR_RETURN(a.rope, c.positive("qk_rope_head_dim", 64));
  FM_ASSIGN_OR_RETURN(a.v, c.positive("v_head_dim", 128));
  FM_ASSIGN_OR_RETURN(bool bias, c.boolean("attention_bias", false));
  FM_ASSIGN_OR_RETURN(DeepseekMoe e, read_deepseek_moe(c, d.layers));
  MlpBuilder mlp = [d, e](ModelBuilder& b, const std::string& lp, int layer) {
    const std::string mp = lp + ".mlp";
    if (static_cast<uint64_t>(layer) < e.first_dense) {
      add_gated_mlp(b, mp, layer, d.hidden, d.intermediate, false, Component::kMlp, Slot::kGate, Slot::kUp, Slot::kDown);
      return Status::Ok();
    }
    for (uint64_t x = 0; x < e.experts; ++x) {
      add_gated_mlp(b, mp + ".experts." + std::to_string(x), layer, d.hidden, e.moe_inter, false, Component::kExperts,
                    Slot::kExpertGate, Slot::kExpertUp, Slot::kExpertDown, static_cast<int>(x));
    }
    b.parameters(mp + ".gate", Slot::kRouter, Component::kRouter, layer, d.hidden, e.experts,
                 {{"weight", {e.experts, d.hidden}}});
    if (e.shared > 0) {
      add_gated_mlp(b, mp + ".shared_experts", layer, d.hidden, e.moe_inter * e.shared, false,
                    Component::kSharedExperts, Slot::kSharedGate, Slot::kSharedUp, Slot::kSharedDown);
    }
    return Status::Ok();
  };
  d.head_dim = a.nope + a.rope;
  FM_ASSIGN_OR_RETURN(Model m, build_decoder("deepseek_v3", d, LayerStyle{}, mlp, mla_attention(d, a, bias)));
  m.arch.v_head_dim = a.v;
  m.arch.num_experts = e.experts;
  m.arch.experts_per_token = e.top_k;
  return m;
}

// gpt_oss: biased q/k/v/o, a learned sink logit per head, and every layer a
// MoE whose router has a bias and whose experts are fused 3-D parameters
// with biases. Without layer_types, even layers use the sliding window.
Result<Model> build_gpt_oss(const ConfigReader& c) {
  FM_ASSIGN_OR_RETURN(Dims d, read_dims(c, 201088, false));
  FM_ASSIGN_OR_RETURN(uint64_t experts, c.positive("num_local_experts", 128));
  FM_ASSIGN_OR_RETURN(uint64_t top_k, c.positive("num_experts_per_tok", 4));
  FM_ASSIGN_OR_RETURN(bool bias, c.boolean("attention_bias", true));
  if (top_k > experts) return c.error("num_experts_per_tok exceeds num_local_experts");
  if (experts * d.layers > kMaxExpertModules ||
      static_cast<Flop>(experts) * d.hidden * 2 * d.intermediate > kMaxParameters) {
    return c.error("num_local_experts x hidden_size x intermediate_size is larger than any real model");
  }
  LayerStyle s;
  s.qkv_bias = s.o_bias = bias;
  AttentionBuilder attention = [d, s](ModelBuilder& b, const std::string& lp, int layer) {
    // named_parameters lists self_attn's own sinks before its projections.
    b.parameters(lp + ".self_attn", Slot::kAttnSinks, Component::kAttention, layer, d.heads, d.heads,
                 {{"sinks", {d.heads}}});
    add_attention(b, lp, layer, d, s);
  };
  MlpBuilder mlp = [d, experts](ModelBuilder& b, const std::string& lp, int layer) {
    const std::string mp = lp + ".mlp";
    const uint64_t i = d.intermediate;
    b.parameters(mp + ".router", Slot::kRouter, Component::kRouter, layer, d.hidden, experts,
                 {{"weight", {experts, d.hidden}}, {"bias", {experts}}});
    b.parameters(mp + ".experts", Slot::kFusedExpertGateUp, Component::kExperts, layer, d.hidden, 2 * i,
                 {{"gate_up_proj", {experts, d.hidden, 2 * i}}, {"gate_up_proj_bias", {experts, 2 * i}}});
    b.parameters(mp + ".experts", Slot::kFusedExpertDown, Component::kExperts, layer, i, d.hidden,
                 {{"down_proj", {experts, i, d.hidden}}, {"down_proj_bias", {experts, d.hidden}}});
    return Status::Ok();
  };
  FM_ASSIGN_OR_RETURN(Model m, build_decoder("gpt_oss", d, s, mlp, attention));
  m.arch.num_experts = experts;
  m.arch.experts_per_token = top_k;
  FM_ASSIGN_OR_RETURN(std::vector<std::string> types, c.string_list("layer_types"));
  FM_ASSIGN_OR_RETURN(uint64_t window, c.shape("sliding_window", 128));
  for (uint64_t l = 0; l < m.arch.num_layers; ++l) {
    bool sliding = !types.empty() ? (l < types.size() && types[l] == "sliding_attention") : (l % 2 == 0);
    m.arch.sliding_window[l] = sliding ? window : 0;
  }
  return m;
}

Result<Model> build_gpt2(const ConfigReader& c) {
  Dims d{};
  FM_ASSIGN_OR_RETURN(d.vocab, c.positive("vocab_size", 50257));
  FM_ASSIGN_OR_RETURN(d.hidden, c.positive("n_embd", 768));
  FM_ASSIGN_OR_RETURN(d.layers, c.positive("n_layer", 12));
  FM_ASSIGN_OR_RETURN(d.heads, c.positive("n_head", 12));
  FM_ASSIGN_OR_RETURN(d.max_positions, c.positive("n_positions", 1024));
  FM_ASSIGN_OR_RETURN(d.intermediate, c.positive("n_inner", 4 * d.hidden));
  FM_ASSIGN_OR_RETURN(d.tied, c.boolean("tie_word_embeddings", true));
  if (d.hidden % d.heads != 0) return c.error("n_embd is not divisible by n_head");
  if (d.layers > kMaxLayers) return c.error("n_layer is larger than any real model");
  FM_ASSIGN_OR_RETURN(bool cross, c.boolean("add_cross_attention", false));
  if (cross) return Status::Unsupported("gpt2 with add_cross_attention is not supported; pass the checkpoint directory");
  d.kv_heads = d.heads;
  d.head_dim = d.hidden / d.heads;
  Model m = start_model("gpt2", d);
  ModelBuilder b(&m);
  b.embedding("transformer.wte", Slot::kTokenEmbedding, Component::kEmbedding, d.vocab, d.hidden);
  b.embedding("transformer.wpe", Slot::kPositionEmbedding, Component::kPositionEmbedding, d.max_positions, d.hidden);
  for (uint64_t i = 0; i < d.layers; ++i) {
    int layer = static_cast<int>(i);
    std::string lp = "transformer.h." + std::to_string(i);
    b.norm(lp + ".ln_1", Slot::kAttnNorm, Component::kNorm, layer, d.hidden, true);
    b.conv1d(lp + ".attn.c_attn", Slot::kQKV, Component::kAttention, layer, d.hidden, 3 * d.hidden);
    b.conv1d(lp + ".attn.c_proj", Slot::kO, Component::kAttention, layer, d.hidden, d.hidden);
    b.norm(lp + ".ln_2", Slot::kMlpNorm, Component::kNorm, layer, d.hidden, true);
    b.conv1d(lp + ".mlp.c_fc", Slot::kUp, Component::kMlp, layer, d.hidden, d.intermediate);
    b.conv1d(lp + ".mlp.c_proj", Slot::kDown, Component::kMlp, layer, d.intermediate, d.hidden);
  }
  b.norm("transformer.ln_f", Slot::kFinalNorm, Component::kNorm, -1, d.hidden, true);
  b.lm_head("lm_head", d.hidden, d.vocab, d.tied, "transformer.wte.weight");
  return m;
}

Result<Model> build_gpt_neox(const ConfigReader& c) {
  FM_ASSIGN_OR_RETURN(Dims d, read_dims(c, 50432, false));
  d.kv_heads = d.heads;
  FM_ASSIGN_OR_RETURN(bool attention_bias, c.boolean("attention_bias", true));
  FM_ASSIGN_OR_RETURN(bool parallel, c.boolean("use_parallel_residual", true));
  Model m = start_model("gpt_neox", d);
  m.arch.parallel_residual = parallel;
  ModelBuilder b(&m);
  b.embedding("gpt_neox.embed_in", Slot::kTokenEmbedding, Component::kEmbedding, d.vocab, d.hidden);
  for (uint64_t i = 0; i < d.layers; ++i) {
    int layer = static_cast<int>(i);
    std::string lp = "gpt_neox.layers." + std::to_string(i);
    b.norm(lp + ".input_layernorm", Slot::kAttnNorm, Component::kNorm, layer, d.hidden, true);
    b.norm(lp + ".post_attention_layernorm", Slot::kMlpNorm, Component::kNorm, layer, d.hidden, true);
    b.linear(lp + ".attention.query_key_value", Slot::kQKV, Component::kAttention, layer, d.hidden, 3 * d.hidden,
             attention_bias);
    b.linear(lp + ".attention.dense", Slot::kO, Component::kAttention, layer, d.hidden, d.hidden, attention_bias);
    b.linear(lp + ".mlp.dense_h_to_4h", Slot::kUp, Component::kMlp, layer, d.hidden, d.intermediate, true);
    b.linear(lp + ".mlp.dense_4h_to_h", Slot::kDown, Component::kMlp, layer, d.intermediate, d.hidden, true);
  }
  b.norm("gpt_neox.final_layer_norm", Slot::kFinalNorm, Component::kNorm, -1, d.hidden, true);
  b.lm_head("embed_out", d.hidden, d.vocab, d.tied, "gpt_neox.embed_in.weight");
  return m;
}

using FamilyBuilder = std::function<Result<Model>(const std::string& type, const ConfigReader&)>;

const std::map<std::string, FamilyBuilder>& families() {
  static const std::map<std::string, FamilyBuilder> kFamilies = [] {
    std::map<std::string, FamilyBuilder> f;
    for (const char* t : {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "olmo2"}) {
      f[t] = build_llama_like;
    }
    f["gemma3"] = [](const std::string&, const ConfigReader& c) { return build_gemma3(c); };
    f["mixtral"] = [](const std::string&, const ConfigReader& c) { return build_mixtral(c); };
    f["qwen2_moe"] = build_qwen_moe;
    f["qwen3_moe"] = build_qwen_moe;
    f["deepseek_v3"] = [](const std::string&, const ConfigReader& c) { return build_deepseek_v3(c); };
    f["gpt_oss"] = [](const std::string&, const ConfigReader& c) { return build_gpt_oss(c); };
    f["gpt2"] = [](const std::string&, const ConfigReader& c) { return build_gpt2(c); };
    f["gpt_neox"] = [](const std::string&, const ConfigReader& c) { return build_gpt_neox(c); };
    return f;
  }();
  return kFamilies;
}

std::string joined_types() {
  std::string out;
  for (const std::string& t : supported_model_types()) out += (out.empty() ? "" : ", ") + t;
  return out;
}

}  // namespace

const std::vector<std::string>& supported_model_types() {
  static const std::vector<std::string> kTypes = [] {
    std::vector<std::string> t;
    for (const auto& [name, builder] : families()) t.push_back(name);
    return t;
  }();
  return kTypes;
}

std::string transformers5_parameter_name(const std::string& name) {
  // Per-expert leaf -> fused parameter, as transformers 5's conversion mapping merges them.
  static const std::regex kExpert(R"(^(.*)\.(mlp|block_sparse_moe)\.experts\.[0-9]+\.(gate_proj|up_proj|down_proj|w1|w2|w3)\.weight$)");
  static const std::regex kMixtralRouter(R"(^(.*)\.block_sparse_moe\.gate\.weight$)");
  // Most names hold neither marker; they skip the regexes.
  if (name.find(".experts.") == std::string::npos && name.find(".block_sparse_moe.") == std::string::npos) return "";
  std::smatch m;
  if (std::regex_match(name, m, kExpert)) {
    bool down = m[3] == "down_proj" || m[3] == "w2";
    return m[1].str() + ".mlp.experts." + (down ? "down_proj" : "gate_up_proj");
  }
  if (std::regex_match(name, m, kMixtralRouter)) return m[1].str() + ".mlp.gate.weight";
  return "";
}

Result<Model> build_model_from_config(const JsonDoc& doc, const std::string& pointer) {
  const json* found = doc.root.is_object() && !pointer.empty() ? nullptr : &doc.root;
  if (!pointer.empty()) {
    try {
      found = &doc.root.at(json::json_pointer(pointer));
    } catch (const json::exception&) {
      return Status::ParseError(doc.where(pointer) + ": no config object here");
    }
  }
  const json& config = *found;
  const std::string origin = doc.where(pointer);
  if (!config.is_object()) return Status::ParseError(origin + ": a config must be a JSON object");
  if (!config.contains("model_type") || !config.at("model_type").is_string()) {
    return Status::ParseError(doc.where(JsonDoc::child(pointer, "model_type")) +
                              " is missing or not a string (supported: " + joined_types() + ")");
  }
  std::string type = config.at("model_type").get<std::string>();
  auto it = families().find(type);
  if (it == families().end()) {
    return Status::Unsupported(origin + ": model_type '" + type + "' is not supported from a config alone" +
                               ". Supported: " + joined_types() +
                               ". For any other architecture pass the checkpoint directory (config.json plus "
                               "*.safetensors): its tensor headers give the exact counts.");
  }
  ConfigReader reader(doc, config, pointer);
  FM_ASSIGN_OR_RETURN(Model m, it->second(type, reader));
  Flop total = 0;
  for (const Module& mod : m.modules)
    for (const Parameter& p : mod.params) total += p.numel;
  if (total > kMaxParameters) {
    return Status::InvalidArgument(origin + ": the config describes more than 2^60 parameters; larger than any real model");
  }
  m.id = doc.origin;
  return m;
}

}  // namespace flopsmeter
