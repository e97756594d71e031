#include "flopsmeter/flops.h"

#include <algorithm>
#include <map>

#include "core/strict_fields.h"

namespace flopsmeter {
namespace {

// Accumulates exact products and remembers whether any overflowed.
class Exact {
 public:
  Flop mul(Flop a, Flop b) {
    Flop r = 0;
    if (!checked_mul(a, b, &r)) overflow_ = true;
    return r;
  }
  Flop mul(Flop a, Flop b, Flop c) { return mul(mul(a, b), c); }
  void add(Flop& into, Flop v) {
    if (!checked_add(into, v, &into)) overflow_ = true;
  }
  bool overflow() const { return overflow_; }

 private:
  bool overflow_ = false;
};

// Attention positions (query x key pairs) one head computes per matmul, over
// the workload, for a layer with window `window` (0 = full).
Flop attention_pairs(const Workload& w, uint64_t window, Exact& x) {
  Flop pairs = 0;
  for (const auto& [len, count] : w.sequences) {
    Flop s = len, per_seq;
    if (w.kernel == AttentionKernel::kDense) {
      per_seq = x.mul(s, s);
    } else if (window == 0 || window >= len) {
      per_seq = x.mul(s, s + 1) / 2;  // causal lower triangle with the diagonal
    } else {
      Flop wn = window;
      per_seq = x.mul(wn, wn + 1) / 2;
      x.add(per_seq, x.mul(s - wn, wn));
    }
    x.add(pairs, x.mul(per_seq, count));
  }
  return pairs;
}

// One bucket of costs for a part of the network.
struct Cost {
  Flop forward = 0;
  Flop backward = 0;
  Flop attention_forward = 0;
  Flop attention_backward = 0;
  Flop adapter_forward = 0;
  Flop kernel_recompute = 0;  // flash backward's QK^T
};

class Walker {
 public:
  Walker(const Model& model, const TrainingPlan& plan, const Workload& w) : model_(model), plan_(plan), w_(w) {
    positions_ = w.executed_positions();
    sequences_ = 0;
    for (const auto& [len, count] : w.sequences) sequences_ += count;
    passes_ = w.micro_batches > 0 ? w.micro_batches : sequences_;
    for (const Module& m : model.modules) {
      if (m.layer >= 0) by_layer_[m.layer].push_back(&m);
    }
  }

  Result<DetailedFlops> run() {
    DetailedFlops d;
    d.available = true;
    // Embeddings: lookups execute no matmul; their gradient is a scatter-add.
    // Reentrant checkpointing: transformers/PEFT make the layers' inputs require grad.
    bool rg = w_.gradient_checkpointing && w_.checkpoint_mode == CheckpointMode::kReentrant;
    Cost outside, layers;
    for (const Module& m : model_.modules) {
      if (m.slot == Slot::kTokenEmbedding || m.slot == Slot::kPositionEmbedding) {
        rg = rg || plan_.weight_trains(m);
        if (const Adapter* a = plan_.adapter_on(m.path)) {
          // LoRA on an embedding: A is a lookup, B a matmul of r x dim per token.
          Flop lora = x_.mul(2, a->r * a->out_features, positions_);
          x_.add(outside.forward, lora);
          x_.add(outside.adapter_forward, lora);
          x_.add(outside.backward, x_.mul(2, lora));
          add_dora(*a, false, positions_, outside);
          rg = true;
        }
      }
    }
    Flop recomputed_layers = 0;
    for (uint64_t i = 0; i < model_.arch.num_layers; ++i) {
      const Flop forward_before = layers.forward;
      rg = layer(static_cast<int>(i), rg, layers);
      // A checkpointed layer is run again when its backward runs: always
      // under reentrant checkpointing (its input requires grad), else when
      // its output requires grad.
      if (w_.gradient_checkpointing && (w_.checkpoint_mode == CheckpointMode::kReentrant || rg)) {
        x_.add(recomputed_layers, layers.forward - forward_before);
      }
    }
    for (const Module& m : model_.modules) {
      if (m.slot == Slot::kFinalNorm) rg = rg || norm_trains(&m);
    }
    for (const Module& m : model_.modules) {
      if (m.slot == Slot::kLmHead) linear(m, rg, positions_, outside);
    }
    for (const Cost* c : {&outside, &layers}) {
      x_.add(d.forward, c->forward);
      x_.add(d.backward, c->backward);
      x_.add(d.forward_attention, c->attention_forward);
      x_.add(d.backward_attention, c->attention_backward);
      x_.add(d.adapter_forward, c->adapter_forward);
      x_.add(d.recompute, c->kernel_recompute);
    }
    x_.add(d.recompute, recomputed_layers);
    if (w_.optimizer_steps > 0) d.optimizer = x_.mul(kAdamWFlopPerParam, plan_.params_trainable, w_.optimizer_steps);
    if (x_.overflow()) return Status::Overflow("the detailed FLOP count exceeds 128 bits; check the token count");
    return d;
  }

 private:
  bool norm_trains(const Module* m) const { return m != nullptr && plan_.weight_trains(*m); }

  const Module* find(int layer, Slot slot) const {
    auto it = by_layer_.find(layer);
    if (it == by_layer_.end()) return nullptr;
    for (const Module* m : it->second)
      if (m->slot == slot) return m;
    return nullptr;
  }

  // DoRA forms the delta weight once per forward pass for the (detached)
  // weight norm, as PEFT does: lora_B(lora_A(eye(in))), 2 r in (in + out).
  // With LoRA dropout PEFT also recomputes the base matmul on the dropped-out
  // input (per token, with its input gradient).
  void add_dora(const Adapter& a, bool rg_in, Flop tokens, Cost& c) {
    if (a.magnitude_params == 0) return;
    Flop per_pass = x_.mul(2, a.r, x_.mul(a.in_features, a.in_features + a.out_features));
    Flop total = x_.mul(per_pass, passes_);
    x_.add(c.forward, total);
    x_.add(c.adapter_forward, total);
    if (plan_.spec.lora.dropout > 0 && !a.on_embedding) {
      Flop base = x_.mul(2, x_.mul(a.in_features, a.out_features), tokens);
      x_.add(c.forward, base);
      x_.add(c.adapter_forward, base);
      if (rg_in) x_.add(c.backward, base);
    }
  }

  // A linear over `tokens` positions; returns whether its output requires grad.
  bool linear(const Module& m, bool rg_in, Flop tokens, Cost& c) {
    Flop w = x_.mul(m.in_features, m.out_features);
    Flop pass = x_.mul(2, w, tokens);
    x_.add(c.forward, pass);
    bool weight = plan_.weight_trains(m);
    const Adapter* a = plan_.adapter_on(m.path);
    bool rg_out = rg_in || weight || plan_.bias_trains(m) || a != nullptr;
    if (rg_in) x_.add(c.backward, pass);   // input gradient
    if (weight) x_.add(c.backward, pass);  // weight gradient
    if (a != nullptr) {
      Flop a_pass = x_.mul(2, x_.mul(a->r, a->in_features), tokens);
      Flop b_pass = x_.mul(2, x_.mul(a->r, a->out_features), tokens);
      x_.add(c.forward, a_pass + b_pass);
      x_.add(c.adapter_forward, a_pass + b_pass);
      // A: weight grad, input grad when the input needs one; B: both always
      // (B's input grad carries A's gradient).
      x_.add(c.backward, a_pass);
      if (rg_in) x_.add(c.backward, a_pass);
      x_.add(c.backward, x_.mul(2, b_pass));
      add_dora(*a, rg_in, tokens, c);
    }
    return rg_out;
  }

  // Scores S = Q K^T run over the query/key width, the output P V over the
  // value width (equal but for MLA).
  void attention(int layer, bool rg_q, bool rg_k, bool rg_v, bool rg_sinks, Cost& c) {
    uint64_t window = static_cast<size_t>(layer) < model_.arch.sliding_window.size()
                          ? model_.arch.sliding_window[static_cast<size_t>(layer)]
                          : 0;
    const Architecture& a = model_.arch;
    Flop pairs = pairs_for_window(window);
    Flop scores = x_.mul(2, x_.mul(a.num_heads, a.head_dim), pairs);
    Flop values = x_.mul(2, x_.mul(a.num_heads, a.v_head_dim > 0 ? a.v_head_dim : a.head_dim), pairs);
    Flop fwd = scores + values;
    x_.add(c.forward, fwd);
    x_.add(c.attention_forward, fwd);
    // dP = dO V^T when scores need a gradient; dV; dQ = dS K; dK = dS^T Q.
    // A fused flash backward computes all four whenever any is needed.
    bool flash = w_.kernel == AttentionKernel::kFlash && (rg_q || rg_k || rg_v || rg_sinks);
    Flop bwd = 0;
    if (flash || rg_q || rg_k || rg_sinks) x_.add(bwd, values);  // dP
    if (flash || rg_v) x_.add(bwd, values);                       // dV
    if (flash || rg_q) x_.add(bwd, scores);                       // dQ
    if (flash || rg_k) x_.add(bwd, scores);                       // dK
    x_.add(c.backward, bwd);
    x_.add(c.attention_backward, bwd);
    if (flash) x_.add(c.kernel_recompute, scores);
  }

  // q/k/v projections of layer i; returns whether q, k and v require grad.
  // MLA: q through q_a, its norm and q_b (or one q_proj); k and v from the
  // latent kv_a, its norm and kv_b, with k's rope part straight from kv_a.
  void projections(int i, bool rg_in, bool& rg_q, bool& rg_k, bool& rg_v, Cost& c) {
    if (const Module* qkv = find(i, Slot::kQKV)) {
      rg_q = rg_k = rg_v = linear(*qkv, rg_in, positions_, c);
      return;
    }
    if (const Module* kv_a = find(i, Slot::kKVA)) {
      if (const Module* q_a = find(i, Slot::kQA)) {
        bool rg_latent = linear(*q_a, rg_in, positions_, c) || norm_trains(find(i, Slot::kQANorm));
        rg_q = linear(*find(i, Slot::kQB), rg_latent, positions_, c);
      } else {
        rg_q = linear(*find(i, Slot::kQ), rg_in, positions_, c);
      }
      bool rg_kv_a = linear(*kv_a, rg_in, positions_, c);
      rg_v = linear(*find(i, Slot::kKVB), rg_kv_a || norm_trains(find(i, Slot::kKVANorm)), positions_, c);
      rg_k = rg_v || rg_kv_a;
      return;
    }
    rg_q = linear(*find(i, Slot::kQ), rg_in, positions_, c);
    rg_k = linear(*find(i, Slot::kK), rg_in, positions_, c);
    rg_v = linear(*find(i, Slot::kV), rg_in, positions_, c);
  }

  // Routed experts see top_k of every token; with uniform routing each expert
  // gets positions x k / E. Costs are summed at positions x k and divided by E.
  bool experts(int layer, bool rg_in, Cost& c) {
    // Fused experts (gpt_oss): one module per matrix holds all E experts;
    // the routed positions x k pass through one expert's in x out each.
    if (const Module* gate_up = find(layer, Slot::kFusedExpertGateUp)) {
      Flop routed = x_.mul(positions_, model_.arch.experts_per_token);
      bool rg_hidden = linear(*gate_up, rg_in, routed, c);
      return linear(*find(layer, Slot::kFusedExpertDown), rg_hidden, routed, c);
    }
    auto it = by_layer_.find(layer);
    std::map<int, std::vector<const Module*>> per_expert;
    for (const Module* m : it->second)
      if (m->expert >= 0) per_expert[m->expert].push_back(m);
    if (per_expert.empty()) return false;
    Cost sum;
    bool rg_any = false;
    Flop routed = x_.mul(positions_, model_.arch.experts_per_token);
    for (const auto& [e, mods] : per_expert) {
      rg_any = expert_mlp(mods, rg_in, routed, sum) || rg_any;
    }
    Flop n = per_expert.size();
    auto share = [&](Flop v) { return v / n + (v % n != 0 ? 1 : 0); };
    x_.add(c.forward, share(sum.forward));
    x_.add(c.backward, share(sum.backward));
    x_.add(c.adapter_forward, share(sum.adapter_forward));
    return rg_any;
  }

  bool expert_mlp(const std::vector<const Module*>& mods, bool rg_in, Flop tokens, Cost& c) {
    bool rg_hidden = false;
    const Module* down = nullptr;
    for (const Module* m : mods) {
      if (m->slot == Slot::kExpertDown || m->slot == Slot::kSharedDown) {
        down = m;
      } else {
        rg_hidden = linear(*m, rg_in, tokens, c) || rg_hidden;
      }
    }
    return down != nullptr && linear(*down, rg_hidden, tokens, c);
  }

  bool layer(int i, bool rg_x, Cost& c) {
    bool rg_attn_in = rg_x || norm_trains(find(i, Slot::kAttnNorm));
    bool rg_q = false, rg_k = false, rg_v = false;
    projections(i, rg_attn_in, rg_q, rg_k, rg_v, c);
    rg_q = rg_q || norm_trains(find(i, Slot::kQNorm));
    rg_k = rg_k || norm_trains(find(i, Slot::kKNorm));
    // A trained sink logit (gpt_oss) enters the softmax beside the scores.
    bool rg_sinks = norm_trains(find(i, Slot::kAttnSinks));
    attention(i, rg_q, rg_k, rg_v, rg_sinks, c);
    bool rg_o = linear(*find(i, Slot::kO), rg_q || rg_k || rg_v || rg_sinks, positions_, c);
    rg_o = rg_o || norm_trains(find(i, Slot::kPostAttnNorm));
    bool rg_x1 = rg_x || rg_o;
    // gpt_neox's parallel residual feeds the MLP from the layer input.
    bool parallel = model_.arch.parallel_residual;
    bool rg_mlp_in = (parallel ? rg_x : rg_x1) || norm_trains(find(i, Slot::kMlpNorm));
    bool rg_m = false;
    if (const Module* router = find(i, Slot::kRouter)) {
      rg_m = linear(*router, rg_mlp_in, positions_, c);
      rg_m = experts(i, rg_mlp_in, c) || rg_m;
      std::vector<const Module*> shared;
      for (Slot s : {Slot::kSharedGate, Slot::kSharedUp, Slot::kSharedDown})
        if (const Module* m = find(i, s)) shared.push_back(m);
      if (!shared.empty()) rg_m = expert_mlp(shared, rg_mlp_in, positions_, c) || rg_m;
      if (const Module* g = find(i, Slot::kSharedExpertGate)) rg_m = linear(*g, rg_mlp_in, positions_, c) || rg_m;
    } else {
      bool rg_h = false;
      for (Slot s : {Slot::kGateUp, Slot::kGate, Slot::kUp})
        if (const Module* m = find(i, s)) rg_h = linear(*m, rg_mlp_in, positions_, c) || rg_h;
      rg_m = linear(*find(i, Slot::kDown), rg_h, positions_, c);
    }
    rg_m = rg_m || norm_trains(find(i, Slot::kPostMlpNorm));
    return rg_x1 || rg_m;
  }

  // Layers share one or two distinct windows; walking the sequence lengths
  // once per window, not once per layer, keeps a recompute O(lengths) with
  // varlen batches of thousands of distinct lengths (bench/meter_bench).
  Flop pairs_for_window(uint64_t window) {
    auto [it, inserted] = pairs_by_window_.try_emplace(window, 0);
    if (inserted) it->second = attention_pairs(w_, window, x_);
    return it->second;
  }

  const Model& model_;
  const TrainingPlan& plan_;
  const Workload& w_;
  Exact x_;
  Flop positions_ = 0;
  Flop sequences_ = 0;
  Flop passes_ = 0;
  std::map<int, std::vector<const Module*>> by_layer_;
  std::map<uint64_t, Flop> pairs_by_window_;
};

}  // namespace

const char* attention_kernel_name(AttentionKernel k) { return k == AttentionKernel::kDense ? "dense" : "flash"; }

Result<AttentionKernel> parse_attention_kernel(const std::string& name) {
  for (const char* dense : {"dense", "eager", "sdpa", "math"})
    if (name == dense) return AttentionKernel::kDense;
  for (const char* flash : {"flash", "flash_attention_2", "flash_attention_3"})
    if (name == flash) return AttentionKernel::kFlash;
  return Status::InvalidArgument("unknown attention kernel '" + printable(name) +
                                 "'; expected dense (eager, sdpa, math) or flash (flash_attention_2, flash_attention_3)");
}

const char* checkpoint_mode_name(CheckpointMode m) {
  return m == CheckpointMode::kReentrant ? "reentrant" : "non-reentrant";
}

Result<CheckpointMode> parse_checkpoint_mode(const std::string& name) {
  if (name == "reentrant") return CheckpointMode::kReentrant;
  if (name == "non-reentrant") return CheckpointMode::kNonReentrant;
  return Status::InvalidArgument("unknown checkpoint mode '" + printable(name) +
                                 "'; expected reentrant (use_reentrant=True, transformers' default) or non-reentrant");
}

Flop Workload::executed_positions() const {
  Flop n = 0;
  for (const auto& [len, count] : sequences) n += static_cast<Flop>(len) * count;
  return n;
}

Result<FlopsEstimate> estimate_flops(const Model& model, const TrainingPlan& plan, const Workload& workload) {
  if (workload.tokens == 0 && workload.sequences.empty()) {
    return Status::InvalidArgument("the workload has no tokens; give option \"tokens\", option \"samples\" with option \"seq-len\", or a dataset");
  }
  FlopsEstimate e;
  e.tokens = workload.tokens;
  Exact x;
  Flop n_total = plan.params_all, n_trainable = plan.params_trainable;
  e.eu_6nd = x.mul(6, n_total, e.tokens);
  Flop four_n = x.mul(4, n_total), two_t = x.mul(2, n_trainable), sum = 0;
  x.add(sum, four_n);
  x.add(sum, two_t);
  e.peft_aware = x.mul(sum, e.tokens);
  if (x.overflow()) return Status::Overflow("6ND exceeds 128 bits; check the token count");

  if (!model.known_architecture) {
    e.detailed.unavailable_reason = "model_type '" + model.arch.model_type +
                                    "' has no architecture description here; the detailed count needs one";
    return e;
  }
  if (workload.sequences.empty()) {
    e.detailed.unavailable_reason = "sequence lengths unknown; give option \"seq-len\"";
    return e;
  }
  FM_ASSIGN_OR_RETURN(e.detailed, Walker(model, plan, workload).run());
  DetailedFlops& d = e.detailed;
  d.assumptions.push_back(std::string("attention kernel: ") + attention_kernel_name(workload.kernel) +
                          (workload.kernel == AttentionKernel::kDense
                               ? " (eager/math SDPA: the full seq^2 of QK^T and AV is executed under the causal mask)"
                               : " (flash-style: masked blocks and tokens outside a sliding window are skipped; the "
                                 "backward's QK^T re-formation is counted as recomputation)"));
  d.assumptions.push_back("matmul FLOPs only (2 per multiply-add); elementwise work (norms, softmax, activations) "
                          "and embedding lookups are not counted");
  if (model.arch.num_experts > 0) {
    d.assumptions.push_back("MoE: every token is routed to exactly top_k = " +
                            std::to_string(model.arch.experts_per_token) +
                            " experts (no capacity dropping), spread evenly across experts");
  }
  if (workload.gradient_checkpointing && workload.checkpoint_mode == CheckpointMode::kReentrant) {
    d.assumptions.push_back("gradient checkpointing (reentrant, transformers' default): every decoder layer's forward "
                            "is recomputed once in backward (reported as recompute), and layer inputs require grad as "
                            "transformers/PEFT arrange");
  } else if (workload.gradient_checkpointing) {
    d.assumptions.push_back("gradient checkpointing (non-reentrant, use_reentrant=False): a decoder layer's forward is "
                            "recomputed once in backward (reported as recompute) when its backward runs; frozen layers "
                            "below everything that trains run neither");
  }
  if (!plan.adapters.empty() && plan.adapters.front().magnitude_params > 0) {
    d.assumptions.push_back(
        "DoRA: the delta weight lora_B(lora_A(eye(in))) is formed once per forward pass for the (detached) weight "
        "norm; the base output is reused unless LoRA dropout is set (then the base matmul is redone). Passes: " +
        (workload.micro_batches > 0 ? std::to_string(workload.micro_batches)
                                    : std::string("one per sequence (micro-batch size unknown: an upper bound)")));
  }
  if (workload.optimizer_steps == 0) {
    d.assumptions.push_back("optimizer step not counted (number of optimizer steps unknown)");
  } else {
    d.assumptions.push_back("optimizer: AdamW, " + std::to_string(kAdamWFlopPerParam) +
                            " FLOP per trainable parameter per step, " + std::to_string(workload.optimizer_steps) +
                            " steps");
  }
  return e;
}

}  // namespace flopsmeter
