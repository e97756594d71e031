#include "core/checkpoint_accounting.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/architectures.h"

namespace flopsmeter {
namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

uint64_t numel(const std::vector<uint64_t>& shape) {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

uint64_t dtype_bits(const std::string& dtype) {
  static const std::map<std::string, uint64_t> kBits = {
      {"BOOL", 8}, {"U8", 8}, {"I8", 8}, {"F8_E4M3", 8}, {"F8_E5M2", 8}, {"I16", 16}, {"U16", 16}, {"F16", 16},
      {"BF16", 16}, {"I32", 32}, {"U32", 32}, {"F32", 32}, {"F64", 64}, {"I64", 64}, {"U64", 64}};
  auto it = kBits.find(dtype);
  return it == kBits.end() ? 0 : it->second;
}

// Buffers transformers registers (not parameters) that old checkpoints hold.
bool is_buffer(const std::string& name) {
  return ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias") || ends_with(name, ".attention.bias") ||
         ends_with(name, ".attention.masked_bias") || ends_with(name, "rotary_emb.inv_freq") ||
         ends_with(name, ".position_ids");
}

// How a quantized checkpoint stores a linear's weight.
struct Quantization {
  std::string method;  // "", "bitsandbytes", "gptq", "awq"
  uint64_t bits = 16;
};

Result<Quantization> read_quantization(const JsonDoc* config) {
  Quantization q;
  if (config == nullptr || !JsonDoc::has(config->root, "quantization_config")) return q;
  FM_ASSIGN_OR_RETURN(const nlohmann::json* qc, config->get_object(config->root, "", "quantization_config"));
  FM_ASSIGN_OR_RETURN(q.method, config->get_string(*qc, "/quantization_config", "quant_method", std::string("")));
  if (q.method == "gptq" || q.method == "awq") {
    FM_ASSIGN_OR_RETURN(q.bits, config->get_uint(*qc, "/quantization_config", "bits", uint64_t{4}));
    if (q.bits == 0 || 32 % q.bits != 0) return config->error("/quantization_config/bits", "must divide 32");
  } else if (q.method == "bitsandbytes") {
    FM_ASSIGN_OR_RETURN(bool four, config->get_bool(*qc, "/quantization_config", "load_in_4bit", false));
    q.bits = four ? 4 : 8;
  }
  return q;
}

// The logical parameters of a checkpoint: name -> logical shape, with the
// side tensors of quantized layers folded away.
struct LogicalTensors {
  std::map<std::string, std::vector<uint64_t>> shapes;
  std::vector<std::string> order;
  std::vector<std::string> skipped_buffers;
  size_t side_tensors = 0;
  std::string quantization;  // "" or e.g. "gptq-4bit"
};

Result<LogicalTensors> logical_tensors(const std::vector<StoredTensor>& tensors, const Quantization& q,
                                       const std::string& origin) {
  LogicalTensors out;
  std::map<std::string, const StoredTensor*> by_name;
  for (const StoredTensor& t : tensors) by_name[t.name] = &t;
  auto add = [&](const std::string& name, std::vector<uint64_t> shape) {
    out.shapes[name] = std::move(shape);
    out.order.push_back(name);
  };
  for (const StoredTensor& t : tensors) {
    const std::string& n = t.name;
    if (is_buffer(n)) {
      out.skipped_buffers.push_back(n);
      continue;
    }
    // bitsandbytes 4-bit: packed bytes beside a quant_state blob.
    if (by_name.count(n + ".quant_state.bitsandbytes__nf4") || by_name.count(n + ".quant_state.bitsandbytes__fp4")) {
      uint64_t bytes = numel(t.shape) * dtype_bits(t.dtype) / 8;
      add(n, {2 * bytes});  // two 4-bit values per byte; shape restored from the config when known
      out.quantization = "bnb-4bit";
      continue;
    }
    if (n.find(".quant_state.") != std::string::npos || ends_with(n, ".absmax") || ends_with(n, ".quant_map") ||
        ends_with(n, ".nested_absmax") || ends_with(n, ".nested_quant_map") || ends_with(n, ".SCB") ||
        ends_with(n, ".weight_format")) {
      ++out.side_tensors;
      continue;
    }
    if (ends_with(n, ".qweight")) {
      std::string base = n.substr(0, n.size() - 8);
      if (t.shape.size() != 2 || (q.method != "gptq" && q.method != "awq")) {
        return Status::Unsupported(origin + ": tensor '" + n +
                                   "' is a packed quantized weight but config.json has no gptq/awq quantization_config");
      }
      uint64_t per_int = 32 / q.bits;
      // GPTQ packs along in ([in / per_int, out]); AWQ along out ([in, out / per_int]).
      uint64_t in = q.method == "gptq" ? t.shape[0] * per_int : t.shape[0];
      uint64_t out_features = q.method == "gptq" ? t.shape[1] : t.shape[1] * per_int;
      add(base + ".weight", {out_features, in});
      out.quantization = q.method + "-" + std::to_string(q.bits) + "bit";
      continue;
    }
    if (ends_with(n, ".qzeros") || ends_with(n, ".scales") || ends_with(n, ".g_idx")) {
      ++out.side_tensors;
      continue;
    }
    if (dtype_bits(t.dtype) == 0) return Status::ParseError(origin + ": tensor '" + n + "' has unknown dtype " + t.dtype);
    add(n, t.shape);
  }
  return out;
}

// Finds a config parameter in the checkpoint, allowing the checkpoint to omit
// the top-level prefix ("transformer.h.0..." saved as "h.0...").
const std::vector<uint64_t>* lookup(const LogicalTensors& lt, const std::string& name, std::string* found_as) {
  auto it = lt.shapes.find(name);
  if (it == lt.shapes.end()) {
    size_t dot = name.find('.');
    if (dot != std::string::npos) it = lt.shapes.find(name.substr(dot + 1));
  }
  if (it == lt.shapes.end()) return nullptr;
  *found_as = it->first;
  return &it->second;
}

Component component_from_name(const std::string& n) {
  auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
  if (has("embed_tokens") || has("wte") || has("embed_in") || has("word_embeddings")) return Component::kEmbedding;
  if (has("wpe") || has("position_embeddings")) return Component::kPositionEmbedding;
  if (has("lm_head") || has("embed_out")) return Component::kLmHead;
  if (has("shared_expert")) return Component::kSharedExperts;
  if (has("experts")) return Component::kExperts;
  if (has(".gate.") || has("router")) return Component::kRouter;
  if (has("attn") || has("attention")) return Component::kAttention;
  if (has("mlp") || has("feed_forward") || has("ffn")) return Component::kMlp;
  if (has("norm") || has("ln_")) return Component::kNorm;
  return Component::kOther;
}

Result<Model> from_config(const JsonDoc& config, const LogicalTensors& lt, const std::string& origin) {
  FM_ASSIGN_OR_RETURN(Model model, build_model_from_config(config));
  std::set<std::string> used;
  size_t checked = 0;
  for (Module& m : model.modules) {
    for (Parameter& p : m.params) {
      std::string as;
      const std::vector<uint64_t>* shape = lookup(lt, p.name, &as);
      if (shape == nullptr) {
        return Status::InvalidArgument(origin + ": config.json describes parameter '" + p.name + "' " +
                                       shape_text(p.shape) + " but no checkpoint file holds it");
      }
      bool packed = shape->size() == 1 && p.shape.size() == 2 && lt.quantization == "bnb-4bit";
      bool same = packed ? ((*shape)[0] == p.numel || (*shape)[0] == p.numel + 1) : *shape == p.shape;
      if (!same) {
        return Status::InvalidArgument(origin + ": tensor '" + as + "' has shape " + shape_text(*shape) +
                                       " but config.json implies " + shape_text(p.shape));
      }
      used.insert(as);
      ++checked;
    }
  }
  // A tied head some checkpoints still store: the same tensor, counted once.
  std::vector<std::string> unused;
  for (const std::string& name : lt.order) {
    if (used.count(name)) continue;
    if (model.arch.tied_embeddings && (name == "lm_head.weight" || name == "embed_out.weight")) {
      model.notes.push_back("checkpoint stores '" + name + "' although the head is tied; counted once");
      continue;
    }
    unused.push_back(name);
  }
  model.notes.push_back("all " + std::to_string(checked) + " parameters implied by config.json found in the "
                        "checkpoint with matching shapes");
  if (!unused.empty()) {
    model.notes.push_back(std::to_string(unused.size()) + " checkpoint tensor(s) that " + model.arch.model_type +
                          " does not use are not counted (transformers would ignore them), first: '" + unused[0] + "'");
  }
  return model;
}

Model from_tensors(const JsonDoc* config, const LogicalTensors& lt, const std::string& origin) {
  Model model;
  model.id = origin;
  model.known_architecture = false;
  if (config != nullptr) {
    auto text = [&](const char* key) -> std::string {
      return JsonDoc::has(config->root, key) && config->root.at(key).is_string() ? config->root.at(key).get<std::string>()
                                                                                 : "";
    };
    auto number = [&](const char* key) -> uint64_t {
      return JsonDoc::has(config->root, key) && config->root.at(key).is_number_unsigned()
                 ? config->root.at(key).get<uint64_t>()
                 : 0;
    };
    model.arch.model_type = text("model_type");
    model.arch.hidden_size = number("hidden_size");
    model.arch.num_layers = number("num_hidden_layers");
    model.arch.vocab_size = number("vocab_size");
    model.arch.tied_embeddings = JsonDoc::has(config->root, "tie_word_embeddings") &&
                                 config->root.at("tie_word_embeddings").is_boolean() &&
                                 config->root.at("tie_word_embeddings").get<bool>();
  }
  if (model.arch.model_type.empty()) model.arch.model_type = "unknown";
  bool has_embedding = false;
  for (const std::string& name : lt.order) has_embedding = has_embedding || component_from_name(name) == Component::kEmbedding;
  for (const std::string& name : lt.order) {
    Component c = component_from_name(name);
    if (c == Component::kLmHead && model.arch.tied_embeddings && has_embedding) {
      model.notes.push_back("'" + name + "' is tied to the embedding (tie_word_embeddings); counted once");
      continue;
    }
    Module m;
    m.path = name.substr(0, name.rfind('.'));
    m.component = c;
    Parameter p;
    p.name = name;
    p.shape = lt.shapes.at(name);
    p.numel = numel(p.shape);
    m.params.push_back(p);
    model.modules.push_back(std::move(m));
  }
  model.notes.push_back("model_type '" + model.arch.model_type +
                        "' counted from the checkpoint's tensor headers; the breakdown is by tensor name and the "
                        "detailed FLOP formula is unavailable");
  return model;
}

}  // namespace

Result<Model> model_from_checkpoint(const JsonDoc* config, const std::vector<StoredTensor>& tensors,
                                    const std::string& origin) {
  if (tensors.empty()) return Status::InvalidArgument(origin + ": the checkpoint holds no tensors");
  FM_ASSIGN_OR_RETURN(Quantization q, read_quantization(config));
  FM_ASSIGN_OR_RETURN(LogicalTensors lt, logical_tensors(tensors, q, origin));
  Model model;
  bool supported = false;
  if (config != nullptr && JsonDoc::has(config->root, "model_type") && config->root.at("model_type").is_string()) {
    const std::vector<std::string>& types = supported_model_types();
    supported = std::find(types.begin(), types.end(), config->root.at("model_type").get<std::string>()) != types.end();
  }
  if (supported) {
    FM_ASSIGN_OR_RETURN(model, from_config(*config, lt, origin));
  } else {
    model = from_tensors(config, lt, origin);
  }
  model.id = origin;
  model.quantization = lt.quantization;
  if (!lt.quantization.empty()) {
    model.notes.push_back("quantized checkpoint (" + lt.quantization +
                          "): packed weights counted as the logical parameters they stand for");
  }
  if (!lt.skipped_buffers.empty()) {
    model.notes.push_back(std::to_string(lt.skipped_buffers.size()) + " buffer tensor(s) skipped (not parameters), e.g. '" +
                          lt.skipped_buffers[0] + "'");
  }
  if (lt.side_tensors > 0) {
    model.notes.push_back(std::to_string(lt.side_tensors) + " quantization side tensor(s) (scales, zeros, absmax) skipped");
  }
  return model;
}

}  // namespace flopsmeter
