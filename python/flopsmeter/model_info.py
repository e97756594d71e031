"""Meter options that describe a PyTorch model as it trains: parameter counts
after the PEFT wrap, the training method, the attention kernel and the
architecture (its config.json, for the detailed formula).

    options = flopsmeter.model_options(model, config_dir="runs/a")
    meter = flopsmeter.Meter("runs/a", options)
"""

import math
import os
import re
import warnings

# Attention implementations (transformers' config._attn_implementation) the
# library knows; others are left out, and the library assumes dense attention,
# the upper bound.
_KNOWN_ATTENTION = frozenset({"eager", "sdpa", "flash_attention_2", "flash_attention_3"})

# A decoder layer's index in a parameter name: model.layers.3.mlp..., transformer.h.3.attn...
_LAYER_INDEX = re.compile(r"\.(\d+)\.")
# Token and position embeddings: embed_tokens, wte, wpe, word_embeddings, ...
_EMBEDDING = re.compile(r"(embed|(^|\.)wte\.|(^|\.)wpe\.)")


def logical_numel(parameter):
    """Elements the parameter stands for, whatever its storage.

    bitsandbytes 4-bit weights (Params4bit) are packed two per uint8 byte and
    carry the logical shape in quant_state; DeepSpeed ZeRO-3 leaves a
    0-element placeholder locally and keeps the full size in ds_numel.
    """
    ds_numel = getattr(parameter, "ds_numel", None)
    if ds_numel is not None:
        return int(ds_numel)
    quant_state = getattr(parameter, "quant_state", None)
    if quant_state is not None and getattr(quant_state, "shape", None) is not None:
        return math.prod(quant_state.shape)
    return parameter.numel()


def _unique_parameters(model):
    """(name, parameter) once per tensor: tied weights share one storage."""
    seen = set()
    for name, parameter in model.named_parameters():
        # ZeRO-3 placeholders and meta tensors have no storage (address 0):
        # only identity tells them apart.
        address = parameter.data_ptr() if parameter.numel() > 0 else 0
        key = (address, parameter.numel()) if address else id(parameter)
        if key in seen:
            continue
        seen.add(key)
        yield name, parameter


def count_parameters(model):
    """(N_total, N_trainable) as the model trains: adapters included, 4-bit
    weights at their logical size, ZeRO-3 partitions at their full size, tied
    weights once (PEFT's "all params" and "trainable params")."""
    total = trainable = 0
    for _, parameter in _unique_parameters(model):
        numel = logical_numel(parameter)
        total += numel
        if parameter.requires_grad:
            trainable += numel
    return total, trainable


def _active_peft_config(model):
    configs = getattr(model, "peft_config", None)
    if not isinstance(configs, dict) or not configs:
        return None
    active = getattr(model, "active_adapter", None)
    return configs.get(active) or next(iter(configs.values()))


def _is_4bit(model):
    if getattr(model, "is_loaded_in_4bit", False):
        return True
    return any(getattr(p, "quant_state", None) is not None for p in model.parameters())


def _lora_options(peft_config, four_bit):
    """The library's method options for a PEFT LoraConfig."""
    targets = peft_config.target_modules
    options = {
        "method": "dora" if getattr(peft_config, "use_dora", False) else ("qlora" if four_bit else "lora"),
        "lora-r": peft_config.r,
        "lora-dropout": getattr(peft_config, "lora_dropout", 0.0),
        "lora-bias": getattr(peft_config, "bias", "none"),
    }
    # PEFT: a string target is a regular expression over full module names,
    # except "all-linear"; a list or set names modules by suffix.
    if isinstance(targets, str) and targets != "all-linear":
        options["lora-target-regex"] = targets
    else:
        options["lora-targets"] = [targets] if isinstance(targets, str) else sorted(targets)
    if getattr(peft_config, "modules_to_save", None):
        options["lora-modules-to-save"] = list(peft_config.modules_to_save)
    layers = getattr(peft_config, "layers_to_transform", None)
    if layers is not None:
        options["lora-layers"] = [layers] if isinstance(layers, int) else list(layers)
    return options


def _frozen_base_options(named_parameters):
    """Method options for a model without adapters whose frozen parameters are
    its first K decoder layers (and maybe its embeddings): "freeze"; any
    other choice of trained parameters: "spectrum" with exactly those names."""
    frozen = {name for name, p in named_parameters if not p.requires_grad}
    layer_of = {name: int(m.group(1)) for name, _ in named_parameters if (m := _LAYER_INDEX.search(name))}
    trained_layers = {layer_of[name] for name, p in named_parameters if p.requires_grad and name in layer_of}
    frozen_layers = min(trained_layers, default=max(layer_of.values(), default=-1) + 1)
    embeddings = {name for name, _ in named_parameters if name not in layer_of and _EMBEDDING.search(name)}
    freeze_embeddings = bool(embeddings) and embeddings <= frozen
    explained = {name for name in layer_of if layer_of[name] < frozen_layers}
    if freeze_embeddings:
        explained |= embeddings
    if frozen == explained:
        return {"method": "freeze", "freeze-layers": frozen_layers, "freeze-embeddings": freeze_embeddings}
    trained = [name for name, p in named_parameters if p.requires_grad]
    return {"method": "spectrum", "spectrum-patterns": [re.escape(name) + "$" for name in trained]}


def method_options(model):
    """The training method as library options ({} when the library cannot
    describe it: the record then uses the counts alone, without the detailed
    formula)."""
    peft_config = _active_peft_config(model)
    if peft_config is not None:
        peft_type = getattr(peft_config, "peft_type", None)
        if str(getattr(peft_type, "value", peft_type)).upper() != "LORA":
            return {}
        return _lora_options(peft_config, _is_4bit(model))
    named = list(_unique_parameters(model))
    if all(p.requires_grad for _, p in named):
        return {"method": "full"}
    return _frozen_base_options(named)


def attention_option(model):
    """{"attention": name} from transformers' config._attn_implementation."""
    name = getattr(getattr(model, "config", None), "_attn_implementation", None)
    if name is None:
        return {}
    if name not in _KNOWN_ATTENTION:
        warnings.warn(f"flopsmeter: attention implementation {name!r} is not one the meter models; "
                      "dense attention (the upper bound) is assumed")
        return {}
    return {"attention": name}


def save_model_config(model, directory):
    """Writes the model's transformers config as DIRECTORY/model_config.json
    (atomically: every rank may write it) and returns the path, or None when
    the model has no config with a model_type."""
    config = getattr(model, "config", None)
    if config is None or not getattr(config, "model_type", None) or not hasattr(config, "to_json_file"):
        return None
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "model_config.json")
    partial = f"{path}.{os.getpid()}.tmp"
    config.to_json_file(partial, use_diff=False)  # every field: the library need not know defaults
    os.replace(partial, path)
    return path


def model_options(model, config_dir=None):
    """Library options describing `model` as it trains: n-total, n-trainable,
    the method (with its LoRA / freeze options), attention, and, with
    config_dir, "model" (its config.json saved there) and model-name."""
    total, trainable = count_parameters(model)
    options = {"n-total": total, "n-trainable": trainable}
    method = method_options(model)
    options.update(method)
    options.update(attention_option(model))
    if getattr(model, "is_gradient_checkpointing", False):
        options["gradient-checkpointing"] = True
    config_path = save_model_config(model, config_dir) if config_dir is not None and method else None
    if config_path is not None:
        options["model"] = config_path
        name = getattr(model.config, "_name_or_path", None) or getattr(model.config, "name_or_path", None)
        if name:
            options["model-name"] = name
    return options
