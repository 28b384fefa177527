"""Merge a peft LoRA adapter from a state dict into a plain transformers model, without peft.

VideoChat2's stage-3 Mistral is LoRA-tuned (r = 16, lora_alpha = 32, dropout 0, on q/k/v/o, gate/up/down
and lm_head; docs/reference-notes.md, S3 and C4). Its checkpoint stores the adapter under peft names such as
``mistral_model.base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight``. At inference
an adapted Linear computes x·Wᵀ + (alpha/r)·x·Aᵀ·Bᵀ (dropout is off), which equals a Linear with weight
W + (alpha/r)·B·A, so the adapter is folded into the base weights once at load time.
"""

from __future__ import annotations

import re
from collections import defaultdict

import torch
from torch import Tensor, nn

# Anything up to the first "base_model.model." is the peft wrapper; the rest is the HF module name.
_LORA_KEY = re.compile(r"^(?:.*?base_model\.model\.)?(?P<module>.+?)\.lora_(?P<part>[AB])(?:\.(?P<adapter>[^.]+))?\.weight$")


def lora_factors(state: dict[str, Tensor], adapter: str = "default") -> dict[str, tuple[Tensor, Tensor]]:
    """{HF module name: (A [r, in], B [out, r])} for the LoRA keys of ``state``; other keys are ignored."""
    parts: dict[str, dict[str, Tensor]] = defaultdict(dict)
    for key, tensor in state.items():
        match = _LORA_KEY.match(key)
        if match is None or (match["adapter"] or adapter) != adapter:
            continue
        parts[match["module"]][match["part"]] = tensor
    unpaired = sorted(name for name, found in parts.items() if len(found) != 2)
    if unpaired:
        raise ValueError(f"LoRA A/B factors without their partner for: {unpaired}")
    return {name: (found["A"], found["B"]) for name, found in parts.items()}


@torch.no_grad()
def merge_lora(state: dict[str, Tensor], base_model: nn.Module, r: int = 16, alpha: float = 32, adapter: str = "default") -> list[str]:
    """Add (alpha/r)·B·A into every adapted Linear of ``base_model``; returns the merged module names.

    The product is formed in float32 and rounded once into the weight's dtype (fp16 weights would
    otherwise lose the small update to repeated rounding).
    """
    scale = alpha / r
    merged = []
    for name, (a, b) in sorted(lora_factors(state, adapter).items()):
        try:
            linear = base_model.get_submodule(name)
        except AttributeError as error:
            raise KeyError(f"LoRA adapter for {name!r}, which the model does not have") from error
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"LoRA adapter for {name!r}, a {type(linear).__name__} rather than a Linear")
        if a.shape != (r, linear.in_features) or b.shape != (linear.out_features, r):
            raise ValueError(
                f"{name}: LoRA shapes A {tuple(a.shape)}, B {tuple(b.shape)} do not fit rank {r} and weight {tuple(linear.weight.shape)}"
            )
        delta = scale * (b.to(linear.weight.device, torch.float32) @ a.to(linear.weight.device, torch.float32))
        linear.weight.copy_((linear.weight.float() + delta).to(linear.weight.dtype))
        merged.append(name)
    return merged
