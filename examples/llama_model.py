"""A small Llama in plain torch: the parameter names and shapes of
transformers' LlamaForCausalLM for any Llama config.json (without biases,
rope scaling or sliding windows), so `flopsmeter inspect` of that config
counts exactly the parameters torch reports. The example fine-tune
(finetune.py) trains it, and the Python package's tests meter it.

Attention is the dense ("eager") kind: every row attends over the padded
length, which is what the meter's detailed formula counts for a dense kernel.
"""

import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class LlamaConfig:
    """What the meter's Hugging Face callback reads of a transformers
    PretrainedConfig: the config.json fields as attributes, the attention
    kernel and the model's name."""

    def __init__(self, fields, attn_implementation="eager", name_or_path="tiny-llama"):
        self._fields = dict(fields)
        for key, value in self._fields.items():
            setattr(self, key, value)
        self._attn_implementation = attn_implementation
        self._name_or_path = name_or_path

    def to_json_file(self, path, use_diff=True):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self._fields, f, indent=2)
            f.write("\n")


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


def rotate(x, positions, theta):
    """Rotary position embedding (rotate_half form, as transformers' Llama)."""
    half = x.shape[-1] // 2
    frequencies = theta ** (-torch.arange(half, dtype=torch.float32) / half)
    angles = positions[:, None].float() * frequencies[None, :]
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    rotated = torch.cat((-x[..., half:], x[..., :half]), -1)
    return x * cos + rotated * sin


class DecoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        hidden = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads", self.heads)
        self.head_dim = config.get("head_dim", hidden // self.heads)
        self.theta = config.get("rope_theta", 10000.0)
        eps = config.get("rms_norm_eps", 1e-6)
        self.self_attn = nn.Module()
        self.self_attn.q_proj = nn.Linear(hidden, self.heads * self.head_dim, bias=False)
        self.self_attn.k_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.self_attn.v_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.self_attn.o_proj = nn.Linear(self.heads * self.head_dim, hidden, bias=False)
        self.mlp = nn.Module()
        self.mlp.gate_proj = nn.Linear(hidden, config["intermediate_size"], bias=False)
        self.mlp.up_proj = nn.Linear(hidden, config["intermediate_size"], bias=False)
        self.mlp.down_proj = nn.Linear(config["intermediate_size"], hidden, bias=False)
        self.input_layernorm = RMSNorm(hidden, eps)
        self.post_attention_layernorm = RMSNorm(hidden, eps)

    def forward(self, x, attention_bias, positions):
        batch, length, _ = x.shape
        h = self.input_layernorm(x)
        attn = self.self_attn
        q = attn.q_proj(h).view(batch, length, self.heads, self.head_dim).transpose(1, 2)
        k = attn.k_proj(h).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
        v = attn.v_proj(h).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = rotate(q, positions, self.theta), rotate(k, positions, self.theta)
        repeat = self.heads // self.kv_heads
        k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + attention_bias
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, -1)
        x = x + attn.o_proj(out)
        h = self.post_attention_layernorm(x)
        return x + self.mlp.down_proj(F.silu(self.mlp.gate_proj(h)) * self.mlp.up_proj(h))


class TinyLlama(nn.Module):
    """LlamaForCausalLM's structure at a config's sizes; forward(input_ids,
    attention_mask, labels) returns the mean next-token loss over labels
    that are not -100."""

    def __init__(self, config, attn_implementation="eager", name_or_path="tiny-llama"):
        super().__init__()
        self.config = LlamaConfig(config, attn_implementation, name_or_path)
        hidden, vocab = config["hidden_size"], config["vocab_size"]
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(vocab, hidden)
        self.model.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config["num_hidden_layers"]))
        self.model.norm = RMSNorm(hidden, config.get("rms_norm_eps", 1e-6))
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        if config.get("tie_word_embeddings", False):
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, input_ids, attention_mask, labels):
        length = input_ids.shape[1]
        causal = torch.full((length, length), float("-inf")).triu(1)
        padding = torch.where(attention_mask[:, None, None, :] > 0, 0.0, float("-inf"))
        bias = (causal + padding).clamp(min=-1e9)
        positions = torch.arange(length)
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x, bias, positions)
        logits = self.lm_head(self.model.norm(x))
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=-100)

