"""The Python package's test model: examples/llama_model.py at a fixed tiny
config (the library's count of its config.json equals the torch count,
86,848), a LoRA wrap built by hand the way PEFT wraps q_proj / v_proj, and
padded batches."""

import json
import os
import sys
import types

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
import llama_model  # noqa: E402  (the example's model, found through the path above)

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


def TinyLlama(attn_implementation="sdpa"):
    """LlamaForCausalLM's structure at CONFIG's sizes (examples/llama_model.py)."""
    return llama_model.TinyLlama(CONFIG, attn_implementation)


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
