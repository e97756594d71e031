#!/usr/bin/env python3
"""Cross-checks flopsmeter's "detailed" FLOP count against matmuls PyTorch executes.

Usage: matmul_crosscheck.py PATH_TO_FLOPSMETER

Small models are built in plain torch with the module structure and names of
Hugging Face transformers' LlamaForCausalLM, Qwen2ForCausalLM and
MixtralForCausalLM (eager attention with an additive causal mask, so the dense
seq x seq products are executed), optionally wrapped the way PEFT wraps
LoRA targets or frozen the way a layer freeze does. A TorchDispatchMode sees
every aten op below autograd and sums 2*m*n*k over aten.mm / addmm / bmm /
baddbmm, separately for the forward pass and for loss.backward(). The
model's config.json is then given to the flopsmeter CLI and its detailed
forward / backward figures (and the attention and adapter shares, and the
PEFT-style trainable / all parameter counts) must equal torch's exactly.

What is deliberately kept out of the comparison, because flopsmeter documents
that it does not count it: elementwise work (norms, softmax, RoPE, SiLU, the
loss) and embedding lookups / their scatter-add gradient. Rotary cos/sin are
formed elementwise here; transformers' LlamaRotaryEmbedding forms its angle
table with a tiny [head_dim/2, 1] @ [1, seq] matmul per forward (head_dim * seq
FLOP per sequence, not per layer) that flopsmeter leaves out.

MoE: every expert has the same shape, so the experts' total work is
(tokens x top_k) x per-token cost however the router spreads tokens; the
comparison is therefore exact for the routing the random router actually
produces (printed per layer), and one case zeroes the router so that the tie
sends every token to the same two experts (the others get none) to show it.
"""

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

# ---------------------------------------------------------------------------
# Counting executed matmul FLOPs

aten = torch.ops.aten
COUNTED = {
    aten.mm: "mm",
    aten.addmm: "addmm",
    aten.bmm: "bmm",
    aten.baddbmm: "baddbmm",
}
# Any other op whose name looks like a matmul means the count would miss work.
SUSPECT = re.compile(r"(mm|matmul|linear|^aten\.mv|addmv|dot|conv|einsum|outer|^aten\.ger|addr$|scaled_dot)")

# Set by LoraLinear around its adapter path so adapter matmuls can be reported
# on their own (flopsmeter's adapter_forward).
CURRENT_TAG = [None]


def matmul_flop(packet, args):
    if packet in (aten.mm,):
        a, b = args[0], args[1]
        m, k = a.shape
        k2, n = b.shape
        assert k == k2
        return 2 * m * k * n
    if packet in (aten.addmm,):
        a, b = args[1], args[2]
        m, k = a.shape
        k2, n = b.shape
        assert k == k2
        return 2 * m * k * n
    if packet in (aten.bmm, aten.baddbmm):
        a, b = (args[0], args[1]) if packet is aten.bmm else (args[1], args[2])
        bs, m, k = a.shape
        bs2, k2, n = b.shape
        assert bs == bs2 and k == k2
        return 2 * bs * m * k * n
    raise AssertionError(packet)


class MatmulCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.total = 0
        self.bmm = 0        # batched matmuls: only attention's QK^T / AV (and their grads) here
        self.tagged = {}    # tag -> FLOP
        self.suspects = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func.overloadpacket
        if packet in COUNTED:
            f = matmul_flop(packet, args)
            self.total += f
            if packet in (aten.bmm, aten.baddbmm):
                self.bmm += f
            tag = CURRENT_TAG[0]
            if tag is not None:
                self.tagged[tag] = self.tagged.get(tag, 0) + f
        else:
            name = str(packet)
            if SUSPECT.search(name):
                self.suspects.add(name)
        return func(*args, **kwargs)


# ---------------------------------------------------------------------------
# Models mirroring transformers' module tree (names matter: flopsmeter's
# config-based walk and the PEFT-style target matching use them)


class RMSNorm(nn.Module):  # LlamaRMSNorm / Qwen2RMSNorm / MixtralRMSNorm
    def __init__(self, hidden, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(seq, head_dim, theta=10000.0):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    pos = torch.arange(seq, dtype=torch.float32)
    freqs = pos[:, None] * inv_freq[None, :]  # elementwise outer product: no matmul
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[None, None], emb.sin()[None, None]


def repeat_kv(x, n_rep):
    b, kv, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kv, n_rep, s, d).reshape(b, kv * n_rep, s, d)


class Attention(nn.Module):  # LlamaAttention / Qwen2Attention / MixtralAttention, eager
    def __init__(self, cfg, qkv_bias):
        super().__init__()
        h, d = cfg["num_attention_heads"], cfg["head_dim"]
        kv = cfg["num_key_value_heads"]
        self.heads, self.kv_heads, self.head_dim = h, kv, d
        self.q_proj = nn.Linear(cfg["hidden_size"], h * d, bias=qkv_bias)
        self.k_proj = nn.Linear(cfg["hidden_size"], kv * d, bias=qkv_bias)
        self.v_proj = nn.Linear(cfg["hidden_size"], kv * d, bias=qkv_bias)
        self.o_proj = nn.Linear(h * d, cfg["hidden_size"], bias=False)

    def forward(self, x, cos, sin, mask):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, self.heads // self.kv_heads)
        v = repeat_kv(v, self.heads // self.kv_heads)
        w = torch.matmul(q, k.transpose(2, 3)) * (self.head_dim ** -0.5)
        w = w + mask  # additive causal mask: the full s x s product is computed
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(w, v)
        o = o.transpose(1, 2).reshape(b, s, self.heads * self.head_dim)
        return self.o_proj(o)


class MLP(nn.Module):  # LlamaMLP / Qwen2MLP
    def __init__(self, cfg):
        super().__init__()
        hid, inter = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(hid, inter, bias=False)
        self.up_proj = nn.Linear(hid, inter, bias=False)
        self.down_proj = nn.Linear(inter, hid, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class MixtralBlockSparseTop2MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hid, inter = cfg["hidden_size"], cfg["intermediate_size"]
        self.w1 = nn.Linear(hid, inter, bias=False)
        self.w2 = nn.Linear(inter, hid, bias=False)
        self.w3 = nn.Linear(hid, inter, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class MixtralSparseMoeBlock(nn.Module):
    """transformers' MixtralSparseMoeBlock.forward, minus jitter (training only, off by default)."""

    def __init__(self, cfg):
        super().__init__()
        self.num_experts = cfg["num_local_experts"]
        self.top_k = cfg["num_experts_per_tok"]
        self.gate = nn.Linear(cfg["hidden_size"], self.num_experts, bias=False)
        self.experts = nn.ModuleList([MixtralBlockSparseTop2MLP(cfg) for _ in range(self.num_experts)])
        self.last_counts = None

    def forward(self, hidden_states):
        b, s, hid = hidden_states.shape
        hidden_states = hidden_states.view(-1, hid)
        router_logits = self.gate(hidden_states)
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
        routing_weights, selected_experts = torch.topk(routing_weights, self.top_k, dim=-1)
        routing_weights = routing_weights / routing_weights.sum(dim=-1, keepdim=True)
        routing_weights = routing_weights.to(hidden_states.dtype)
        final = torch.zeros((b * s, hid), dtype=hidden_states.dtype)
        expert_mask = F.one_hot(selected_experts, num_classes=self.num_experts).permute(2, 1, 0)
        counts = []
        for e in range(self.num_experts):
            idx, top_x = torch.where(expert_mask[e])
            counts.append(int(top_x.shape[0]))
            if top_x.shape[0] == 0:
                continue
            current = hidden_states[None, top_x].reshape(-1, hid)
            out = self.experts[e](current) * routing_weights[top_x, idx, None]
            final = final.index_add(0, top_x, out.to(hidden_states.dtype))
        self.last_counts = counts
        return final.reshape(b, s, hid)


class DecoderLayer(nn.Module):
    def __init__(self, cfg, qkv_bias, moe):
        super().__init__()
        self.self_attn = Attention(cfg, qkv_bias)
        if moe:
            self.block_sparse_moe = MixtralSparseMoeBlock(cfg)
        else:
            self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg["hidden_size"])
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"])
        self.moe = moe

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        h = self.post_attention_layernorm(x)
        return x + (self.block_sparse_moe(h) if self.moe else self.mlp(h))


class DecoderModel(nn.Module):  # LlamaModel / Qwen2Model / MixtralModel
    def __init__(self, cfg, qkv_bias, moe):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(cfg, qkv_bias, moe) for _ in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"])
        self.head_dim = cfg["head_dim"]

    def forward(self, input_ids):
        s = input_ids.shape[1]
        cos, sin = rope_cos_sin(s, self.head_dim)
        mask = torch.full((s, s), torch.finfo(torch.float32).min).triu(1)[None, None]
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)


class CausalLM(nn.Module):  # *ForCausalLM
    def __init__(self, cfg):
        super().__init__()
        qkv_bias = cfg["model_type"] == "qwen2"
        moe = cfg["model_type"] == "mixtral"
        self.model = DecoderModel(cfg, qkv_bias, moe)
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        if cfg["tie_word_embeddings"]:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, input_ids):
        logits = self.lm_head(self.model(input_ids))
        shift = logits[:, :-1, :].reshape(-1, logits.shape[-1])
        labels = input_ids[:, 1:].reshape(-1)
        return F.cross_entropy(shift.float(), labels)


# ---------------------------------------------------------------------------
# Training methods, as PEFT / a layer freeze apply them


class LoraLinear(nn.Module):
    """peft.tuners.lora.Linear: base frozen, result = base(x) + B(A(dropout(x))) * scaling."""

    def __init__(self, base, r, alpha=8, dropout=0.05):
        super().__init__()
        self.base_layer = base
        self.lora_dropout = nn.ModuleDict({"default": nn.Dropout(dropout) if dropout > 0 else nn.Identity()})
        self.lora_A = nn.ModuleDict({"default": nn.Linear(base.in_features, r, bias=False)})
        self.lora_B = nn.ModuleDict({"default": nn.Linear(r, base.out_features, bias=False)})
        nn.init.kaiming_uniform_(self.lora_A["default"].weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B["default"].weight)
        self.scaling = alpha / r

    def forward(self, x):
        result = self.base_layer(x)
        prev = CURRENT_TAG[0]
        CURRENT_TAG[0] = "adapter"
        try:
            lora = self.lora_B["default"](self.lora_A["default"](self.lora_dropout["default"](x)))
        finally:
            CURRENT_TAG[0] = prev
        return result + lora * self.scaling


def apply_lora(model, r, targets):
    for p in model.parameters():
        p.requires_grad_(False)
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if targets == ["all-linear"]:
        chosen = [n for n in names if n != "lm_head"]
    else:
        chosen = [n for n in names if any(n == t or n.endswith("." + t) for t in targets)]
    assert chosen, "no LoRA target matched"
    for name in chosen:
        parent_name, _, leaf = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, leaf, LoraLinear(getattr(parent, leaf), r))
    return len(chosen)


def apply_freeze(model, layers, embeddings):
    for name, p in model.named_parameters():
        frozen = any(name.startswith("model.layers.%d." % i) for i in range(layers))
        if embeddings and name.startswith("model.embed_tokens."):
            frozen = True
        p.requires_grad_(not frozen)
    # A tied head is the embedding's Parameter: named_parameters() lists it
    # once (as model.embed_tokens.weight), so it follows the embedding.


# ---------------------------------------------------------------------------
# Configurations (HF field names; the same dict is written as config.json)

CONFIGS = {
    # GQA (4 query heads over 2 kv heads), head_dim != hidden / heads so that
    # q_proj / o_proj are not square, untied head.
    "llama": {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": 101,
        "hidden_size": 32,
        "intermediate_size": 56,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 12,
        "max_position_embeddings": 128,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
        "hidden_act": "silu",
    },
    # q/k/v biases, tied embeddings.
    "qwen2": {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": 97,
        "hidden_size": 48,
        "intermediate_size": 40,
        "num_hidden_layers": 4,
        "num_attention_heads": 6,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "max_position_embeddings": 128,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,
        "use_sliding_window": False,
        "hidden_act": "silu",
    },
    # 4 experts, top-2, multi-query (1 kv head).
    "mixtral": {
        "architectures": ["MixtralForCausalLM"],
        "model_type": "mixtral",
        "vocab_size": 89,
        "hidden_size": 32,
        "intermediate_size": 24,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 8,
        "max_position_embeddings": 128,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "hidden_act": "silu",
    },
}

LORA_R = 4
FREEZE_LAYERS = 2


def build(model_name, seed):
    torch.manual_seed(seed)
    return CausalLM(CONFIGS[model_name])


def numel_unique(params):
    seen, n = set(), 0
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return n


def run_torch(model, batch, seq, seed):
    """Returns (forward counter, backward counter, moe counts per layer)."""
    model.train()
    g = torch.Generator().manual_seed(seed)
    vocab = model.lm_head.out_features if isinstance(model.lm_head, nn.Linear) else model.lm_head.base_layer.out_features
    ids = torch.randint(0, vocab, (batch, seq), generator=g)
    fwd = MatmulCounter()
    with fwd:
        loss = model(ids)
    bwd = MatmulCounter()
    with bwd:
        loss.backward()
    moe = [layer.block_sparse_moe.last_counts for layer in model.model.layers if getattr(layer, "moe", False)]
    return fwd, bwd, moe


def flopsmeter_json(binary, args):
    out = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise RuntimeError("%s %s exited %d: %s" % (binary, " ".join(args), out.returncode, out.stderr.strip()))
    return json.loads(out.stdout)


# ---------------------------------------------------------------------------


def main():
    if len(sys.argv) != 2:
        print("usage: %s PATH_TO_FLOPSMETER" % sys.argv[0], file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    if not os.access(binary, os.X_OK):
        print("flopsmeter binary not executable: %s" % binary, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    start = time.time()
    passed, failed = 0, 0
    tmp = tempfile.mkdtemp(prefix="fm_torch_")

    def check(label, pairs, extra=""):
        nonlocal passed, failed
        bad = [(k, t, f) for k, t, f in pairs if str(t) != str(f)]
        if bad:
            failed += 1
            for k, t, f in bad:
                print("FAIL %s: %s torch=%s flopsmeter=%s" % (label, k, t, f))
        else:
            passed += 1
            print("ok %s %s" % (label, extra))

    config_paths = {}
    for name, cfg in CONFIGS.items():
        path = os.path.join(tmp, name, "config.json")
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        config_paths[name] = path
        # Parameter count as transformers' num_parameters(): tied weights once.
        model = build(name, 0)
        inspect = flopsmeter_json(binary, ["inspect", path, "--json"])
        check("%s inspect" % name, [("params_total", numel_unique(model.parameters()),
                                      inspect["model"]["params_total"])],
              "params_total=%d" % numel_unique(model.parameters()))

    # (model, method, seq, batch, variant)
    cases = []
    for name in CONFIGS:
        for method in ("full", "lora", "freeze"):
            for seq in (16, 64):
                cases.append((name, method, seq, 1, ""))
    for name in CONFIGS:
        cases.append((name, "lora-all-linear", 16, 1, ""))
    cases.append(("llama", "full", 16, 2, ""))
    cases.append(("qwen2", "freeze", 16, 2, ""))
    cases.append(("mixtral", "full", 16, 1, "zero-router"))
    cases.append(("mixtral", "lora", 16, 1, "zero-router"))

    for i, (name, method, seq, batch, variant) in enumerate(cases):
        model = build(name, 1000 + i)
        args = ["estimate", "--model", config_paths[name], "--samples", str(batch), "--seq-len", str(seq), "--json"]
        if variant == "zero-router":
            with torch.no_grad():
                for layer in model.model.layers:
                    layer.block_sparse_moe.gate.weight.zero_()
        if method == "full":
            args += ["--method", "full"]
        elif method == "lora":
            apply_lora(model, LORA_R, ["q_proj", "v_proj"])
            args += ["--method", "lora", "--lora-r", str(LORA_R), "--lora-targets", "q_proj,v_proj"]
        elif method == "lora-all-linear":
            apply_lora(model, LORA_R, ["all-linear"])
            args += ["--method", "lora", "--lora-r", str(LORA_R), "--lora-targets", "all-linear"]
        elif method == "freeze":
            apply_freeze(model, FREEZE_LAYERS, True)
            args += ["--method", "freeze", "--freeze-layers", str(FREEZE_LAYERS), "--freeze-embeddings"]
        fwd, bwd, moe = run_torch(model, batch, seq, 7 + i)
        label = "%s %s seq=%d" % (name, method, seq) + (" batch=%d" % batch if batch != 1 else "") + \
            (" (%s)" % variant if variant else "")
        if fwd.suspects or bwd.suspects:
            failed += 1
            print("FAIL %s: uncounted matmul-like ops dispatched: %s" % (label, sorted(fwd.suspects | bwd.suspects)))
            continue
        for counts in moe:
            assert sum(counts) == batch * seq * CONFIGS[name]["num_experts_per_tok"], counts
        try:
            j = flopsmeter_json(binary, args)
        except RuntimeError as e:
            failed += 1
            print("FAIL %s: %s" % (label, e))
            continue
        m = j["methods"][0]
        d = m["formulas"]["detailed"]
        trainable = numel_unique(p for p in model.parameters() if p.requires_grad)
        everything = numel_unique(model.parameters())
        extra = "forward=%d backward=%d (attention %d/%d, adapter %d) trainable=%d all=%d" % (
            fwd.total, bwd.total, fwd.bmm, bwd.bmm, fwd.tagged.get("adapter", 0), trainable, everything)
        if moe:
            extra += " tokens/expert=" + "/".join(",".join(str(c) for c in counts) for counts in moe)
        check(label, [
            ("forward", fwd.total, d["forward"]),
            ("backward", bwd.total, d["backward"]),
            ("forward_attention", fwd.bmm, d["forward_attention"]),
            ("backward_attention", bwd.bmm, d["backward_attention"]),
            ("adapter_forward", fwd.tagged.get("adapter", 0), d["adapter_forward"]),
            ("params_trainable", trainable, m["params_trainable"]),
            ("params_all", everything, m["params_all"]),
        ], extra)

    print("runtime %.1f s" % (time.time() - start))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
