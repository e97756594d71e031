"""A tiny Llama in plain torch for the Python package's tests: the parameter
names and shapes of transformers' LlamaForCausalLM (so the library's count of
its config.json equals the torch count, 86,848), a transformers-like config
object, and a LoRA wrap built by hand the way PEFT wraps q_proj / v_proj."""

import json
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
    "max_position_embeddings": 128,
    "tie_word_embeddings": False,
    "rms_norm_eps": 1e-6,
    "hidden_act": "silu",
}
PARAMETERS = 86848  # `flopsmeter inspect` of CONFIG
PAD_ID = 0
EOS_ID = 2


class Config:
    """What the meter reads of a transformers PretrainedConfig."""

    def __init__(self, attn_implementation="sdpa", name_or_path="tiny-llama"):
        for key, value in CONFIG.items():
            setattr(self, key, value)
        self._attn_implementation = attn_implementation
        self._name_or_path = name_or_path

    def to_json_file(self, path, use_diff=True):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(CONFIG, f)


class RMSNorm(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


class DecoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        hidden, heads, kv_heads = CONFIG["hidden_size"], CONFIG["num_attention_heads"], CONFIG["num_key_value_heads"]
        self.head_dim = hidden // heads
        self.heads, self.kv_heads = heads, kv_heads
        self.self_attn = nn.Module()
        self.self_attn.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.self_attn.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.self_attn.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.self_attn.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)
        self.mlp = nn.Module()
        self.mlp.gate_proj = nn.Linear(hidden, CONFIG["intermediate_size"], bias=False)
        self.mlp.up_proj = nn.Linear(hidden, CONFIG["intermediate_size"], bias=False)
        self.mlp.down_proj = nn.Linear(CONFIG["intermediate_size"], hidden, bias=False)
        self.input_layernorm = RMSNorm(hidden)
        self.post_attention_layernorm = RMSNorm(hidden)

    def forward(self, x, attention_bias):
        batch, length, _ = x.shape
        h = self.input_layernorm(x)
        attn = self.self_attn
        q = attn.q_proj(h).view(batch, length, self.heads, self.head_dim).transpose(1, 2)
        k = attn.k_proj(h).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
        v = attn.v_proj(h).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
        repeat = self.heads // self.kv_heads
        k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
        scores = q @ k.transpose(-1, -2) / self.head_dim ** 0.5 + attention_bias
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, -1)
        x = x + attn.o_proj(out)
        h = self.post_attention_layernorm(x)
        return x + self.mlp.down_proj(F.silu(self.mlp.gate_proj(h)) * self.mlp.up_proj(h))


class TinyLlama(nn.Module):
    """LlamaForCausalLM's structure at CONFIG's sizes; forward returns the loss."""

    def __init__(self, attn_implementation="sdpa"):
        super().__init__()
        self.config = Config(attn_implementation)
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(CONFIG["vocab_size"], CONFIG["hidden_size"])
        self.model.layers = nn.ModuleList(DecoderLayer() for _ in range(CONFIG["num_hidden_layers"]))
        self.model.norm = RMSNorm(CONFIG["hidden_size"])
        self.lm_head = nn.Linear(CONFIG["hidden_size"], CONFIG["vocab_size"], bias=False)

    def forward(self, input_ids, attention_mask, labels):
        length = input_ids.shape[1]
        causal = torch.full((length, length), float("-inf")).triu(1)
        padding = torch.where(attention_mask[:, None, None, :] > 0, 0.0, float("-inf"))
        bias = (causal + padding).clamp(min=-1e9)
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x, bias)
        logits = self.lm_head(self.model.norm(x))
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=-100)


class LoraLinear(nn.Module):
    """PEFT's lora.Linear: the frozen base layer plus lora_A / lora_B."""

    def __init__(self, base, r):
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.ModuleDict({"default": nn.Linear(base.in_features, r, bias=False)})
        self.lora_B = nn.ModuleDict({"default": nn.Linear(r, base.out_features, bias=False)})

    def forward(self, x):
        return self.base_layer(x) + self.lora_B["default"](self.lora_A["default"](x))


def lora_wrap(model, r=8, targets=("q_proj", "v_proj"), use_dora=False):
    """Freezes the base and adds adapters as PEFT's get_peft_model does; the
    wrapper carries PEFT's peft_config and forwards to the model."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for layer in model.model.layers:
        for name in targets:
            setattr(layer.self_attn, name, LoraLinear(getattr(layer.self_attn, name), r))
    wrapped = PeftLikeModel(model)
    wrapped.peft_config = {"default": types.SimpleNamespace(
        peft_type="LORA", r=r, target_modules=set(targets), lora_dropout=0.0, bias="none", use_dora=use_dora,
        modules_to_save=None, layers_to_transform=None)}
    wrapped.active_adapter = "default"
    return wrapped


class PeftLikeModel(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.base_model = model
        self.config = model.config

    def forward(self, **batch):
        return self.base_model(**batch)


def lora_parameters(r=8):
    """Adapter parameters lora_wrap adds: per layer r * (in + out) for q_proj (64 -> 64) and v_proj (64 -> 32)."""
    return CONFIG["num_hidden_layers"] * r * ((64 + 64) + (64 + 32))


def padded_batches(count, rows=4, length=16, pad_id=PAD_ID, seed=0):
    """Right-padded causal-LM batches whose rows end in a real EOS, then
    pad_id up to `length` (pad_id=EOS_ID: the pad == eos setup)."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        lengths = torch.randint(2, length + 1, (rows,), generator=generator)
        input_ids = torch.randint(3, CONFIG["vocab_size"], (rows, length), generator=generator)
        attention_mask = (torch.arange(length)[None, :] < lengths[:, None]).to(torch.int64)
        input_ids[torch.arange(rows), lengths - 1] = EOS_ID
        input_ids = torch.where(attention_mask > 0, input_ids, torch.full_like(input_ids, pad_id))
        labels = torch.where(attention_mask > 0, input_ids, torch.full_like(input_ids, -100))
        batches.append({"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels})
    return batches


def write_config(directory):
    path = f"{directory}/config.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(CONFIG, f)
    return path
