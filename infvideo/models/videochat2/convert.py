"""Original VideoChat2 (Mistral) checkpoints -> ``InfVideoChat2`` (the procedure: ``checkpoint_io``).

VideoChat2's eval scripts build ``VideoChat2_it_mistral`` and load, in this order
(docs/reference-notes.md, S3):

1. ``umt_l16_qformer.pth`` (stage 1: UMT-L/16 + Q-former), ``load_state_dict(strict=False)``;
2. Mistral-7B-Instruct-v0.2 from its HF folder, wrapped with peft LoRA (r 16, alpha 32, dropout 0)
   on q/k/v/o/gate/up/down and ``lm_head``;
3. ``videochat2_mistral_7b_stage3.pth``, ``strict=False``. Stage 3 trains the ViT, the Q-former, both
   query-token sets, ``mistral_proj`` and the LoRA factors again (its config sets ``freeze_vit=False``,
   ``freeze_qformer=False``, ``use_lora=True``), and the trainer saves every trainable parameter plus
   every buffer, so it overrides everything the umt file gave.

Here the same happens without peft: each ``convert_*`` function is pure (original state dict in,
``(ours, unmatched)`` out, the stage-3 one also returns the LoRA factors), every leftover must be on
the file's declared drop list, every key the file does not provide on an allow-list, and the LoRA
factors are folded into the Mistral weights (``infvideo.models.videochat2.lora.merge_lora``). The rule tables
restate docs/reference-notes.md C2 and C4; the drop lists are INFERRED from the VideoChat2 training code
(``video_chat2/models``, ``tasks/train_it.py`` in OpenGVLab/Ask-Anything), not read from the real
files, which is why a surprise fails loudly instead of being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

from ..checkpoint_io import (
    CheckpointFile,
    FileConversion,
    LoadReport,
    Rule,
    StateDict,
    bert_qformer_rules,
    checkpoint_paths,
    convert_files,
    copy_files,
    find_role,
    integer_at_least,
    load_hf_folder,
    rename,
)
from ..tokenizers import real_bert_tokenizer
from .config import InfVideoChat2Config, VideoChat2Tokenizers
from .lora import lora_factors, merge_lora
from .modeling import InfVideoChat2

UMT_DEPTH = 23  # blocks run (return_index=-2 of 24); the stage-1 file may carry the 24th
LORA_R, LORA_ALPHA = 16, 32  # the stage-3 config's lora_r / lora_alpha (scale 2)
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head")

# -- UMT-L/16 (``vision_encoder.encoder.*``) -> UMTVisionEncoder's VideoMAE host ------------------

_UMT_SRC = r"vision_encoder\.encoder\."
_VIDEOMAE = "vision_encoder.videomae."
_P = r"(weight|bias)"


def _umt_rules(depth: int) -> list[Rule]:
    block = rf"{_UMT_SRC}blocks\.(?!{integer_at_least(depth)}\.)(\d+)\."
    layer = f"{_VIDEOMAE}encoder.layer.\\1."
    return [
        Rule(rf"{_UMT_SRC}patch_embed\.proj\.{_P}", f"{_VIDEOMAE}embeddings.patch_embeddings.projection.\\1"),
        Rule(rf"{block}norm1\.{_P}", f"{layer}layernorm_before.\\2"),
        Rule(rf"{block}norm2\.{_P}", f"{layer}layernorm_after.\\2"),
        Rule(rf"{block}attn\.q_bias", f"{layer}attention.attention.query.bias"),
        Rule(rf"{block}attn\.v_bias", f"{layer}attention.attention.value.bias"),  # UMT has no k bias
        Rule(rf"{block}attn\.proj\.{_P}", f"{layer}attention.output.dense.\\2"),
        Rule(rf"{block}mlp\.fc1\.{_P}", f"{layer}intermediate.dense.\\2"),
        Rule(rf"{block}mlp\.fc2\.{_P}", f"{layer}output.dense.\\2"),
        Rule(r"vision_layernorm\.(weight|bias)", "vision_layernorm.\\1"),
    ]


def _split_qkv(sd: Mapping[str, Tensor], depth: int) -> tuple[StateDict, dict[str, Tensor]]:
    """UMT's fused ``attn.qkv.weight`` [3·width, width] -> query/key/value weights (three row blocks)."""
    fused = re.compile(rf"{_UMT_SRC}blocks\.(\d+)\.attn\.qkv\.weight")
    split: StateDict = {}
    rest: dict[str, Tensor] = {}
    for key, tensor in sd.items():
        match = fused.fullmatch(key)
        if match is None or int(match.group(1)) >= depth:
            rest[key] = tensor
            continue
        if tensor.dim() != 2 or tensor.shape[0] % 3:
            raise ValueError(f"{key}: expected a fused [3·width, width] qkv weight, got shape {list(tensor.shape)}")
        layer = f"{_VIDEOMAE}encoder.layer.{match.group(1)}.attention.attention."
        for name, part in zip(("query", "key", "value"), tensor.chunk(3)):
            split[f"{layer}{name}.weight"] = part.clone()
    return split, rest


def umt_drops(depth: int = UMT_DEPTH) -> list[str]:
    """UMT keys left unused in either file: the blocks beyond those run (the 24th of UMT-L)."""
    return [rf"{_UMT_SRC}blocks\.{integer_at_least(depth)}\..+"]


# -- Q-former (LAVIS BertLMHeadModel under ``qformer.``) and the query tokens ---------------------

_QFORMER_RULES = [
    *bert_qformer_rules("qformer.bert.", "qformer.", keep_text_path=True),  # InstructBLIP layout: text path kept
    Rule(r"query_tokens", "query_tokens"),
]

# Inferred from video_chat2/models/videochat2_qformer.py (VideoChat2_qformer, the stage-1 model that
# wrote umt_l16_qformer.pth). VideoChat2_it_mistral has none of these modules, so its strict=False
# load ignores them too.
UMT_QFORMER_DROPS = [
    r"qformer\.bert\.embeddings\.position_ids",  # BERT buffer (arange), not a weight
    r"qformer\.cls\..+",  # BertLMHeadModel's MLM/captioning head; the it model sets qformer.cls = None
    r"vision_temp_embed",  # stage-1 learnable temporal embedding [1, T, 1, width]; not in the it model
    r"(?:vision_proj|text_proj|itm_head)\.(?:weight|bias)",  # stage-1 contrastive / matching heads
    r"temp",  # stage-1 contrastive temperature
    # The it model creates extra_query_tokens only AFTER loading this file, so a copy here (if any)
    # is ignored by the original as well; stage 3 provides them.
    r"extra_query_tokens",
    # UMT pre-training's CLIP-distillation parts (its no_weight_decay names clip_pos_embed), in case
    # the stage-1 file still carries them; VideoChat2's vit.py builds none of them.
    r"vision_encoder\.(?:encoder\.)?clip_.+",
]


def convert_umt_qformer(sd: Mapping[str, Tensor], depth: int = UMT_DEPTH) -> tuple[StateDict, list[str]]:
    """``umt_l16_qformer.pth`` -> ``vision_encoder.videomae.*``, ``vision_layernorm.*``, ``qformer.*``
    (InstructBLIP layout, text path included) and ``query_tokens``.

    The fused qkv weight is split into three row blocks; ``q_bias``/``v_bias`` become the query/value
    biases (the key projection has none). Blocks with index >= ``depth`` are left unmatched.
    ``vision_encoder.encoder.pos_embed`` is deliberately NOT matched nor dropped: UMT's table is a
    fixed sinusoid that is no parameter; a stored one would mean a different model.
    """
    ours, rest = _split_qkv(sd, depth)
    renamed, unmatched = rename(rest, [*_umt_rules(depth), *_QFORMER_RULES])
    return {**ours, **renamed}, unmatched


# -- stage 3 (videochat2_mistral_7b_stage3.pth) ----------------------------------------------------

_STAGE3_RULES = [
    Rule(r"extra_query_tokens", "extra_query_tokens"),
    Rule(r"mistral_proj\.(weight|bias)", "mistral_proj.\\1"),
]

# peft's names for the adapter of an HF module ``name``: mistral_model.base_model.model.<name>.lora_A.default.weight
_LORA_KEY = re.compile(r"mistral_model\.base_model\.model\.(.+)\.lora_[AB](?:\.default)?\.weight")

# Inferred from video_chat2/tasks/train_it.py (the saver keeps parameters with requires_grad and
# every buffer) and videochat2_it_mistral.py: the frozen Mistral base weights are not saved.
STAGE3_DROPS = [
    r"qformer\.bert\.embeddings\.position_ids",  # BERT buffer
    r"qformer\.cls\..+",  # absent in the it model (set to None); harmless if a file has it
    r"mistral_model\..*rotary_emb\.inv_freq",  # RoPE buffer, only persistent in some transformers versions
]


def convert_videochat2_stage3(sd: Mapping[str, Tensor], depth: int = UMT_DEPTH) -> tuple[StateDict, StateDict, list[str]]:
    """``videochat2_mistral_7b_stage3.pth`` -> ``(ours, lora, unmatched)``.

    ``ours``: the vision, Q-former and query-token keys as in ``convert_umt_qformer`` plus
    ``extra_query_tokens`` and ``mistral_proj.*``. ``lora``: the peft LoRA factors under their
    original names (``mistral_model.base_model.model.<HF module>.lora_{A,B}.default.weight``), for
    ``merge_lora``. ``unmatched``: everything else, to be checked against ``stage3_drops``.
    """
    lora = {key: tensor for key, tensor in sd.items() if _LORA_KEY.fullmatch(key)}
    rest = {key: tensor for key, tensor in sd.items() if key not in lora}
    ours, rest = _split_qkv(rest, depth)
    renamed, unmatched = rename(rest, [*_umt_rules(depth), *_QFORMER_RULES, *_STAGE3_RULES])
    return {**ours, **renamed}, lora, unmatched


def _convert_stage3_flat(sd: Mapping[str, Tensor], depth: int = UMT_DEPTH) -> tuple[StateDict, list[str]]:
    """``convert_videochat2_stage3`` as one state (LoRA keys keep their peft names), for the cache."""
    ours, lora, unmatched = convert_videochat2_stage3(sd, depth)
    return {**ours, **lora}, unmatched


def _split_lora(state: Mapping[str, Tensor]) -> tuple[StateDict, StateDict]:
    lora = {key: tensor for key, tensor in state.items() if _LORA_KEY.fullmatch(key)}
    return {key: tensor for key, tensor in state.items() if key not in lora}, lora


def umt_qformer_drops(depth: int = UMT_DEPTH) -> list[str]:
    return [*umt_drops(depth), *UMT_QFORMER_DROPS]


def stage3_drops(depth: int = UMT_DEPTH) -> list[str]:
    return [*umt_drops(depth), *STAGE3_DROPS]


# -- the expected files -----------------------------------------------------------------------

# What each file fills, as regexes matched at the start of OUR keys (see CheckpointFile).
_PROVIDES: dict[str, tuple[str, ...]] = {
    "umt_qformer": (r"vision_encoder\.", r"vision_layernorm\.", r"qformer\.", r"query_tokens$"),
    "stage3": (
        r"vision_encoder\.",
        r"vision_layernorm\.",
        r"qformer\.",
        r"query_tokens$",
        r"extra_query_tokens$",
        r"mistral_proj\.",
    ),
    "llm": (r"language_model\.",),
}


@dataclass(frozen=True)
class VideoChat2CheckpointFile(CheckpointFile):
    """``CheckpointFile`` with VideoChat2's roles (umt_qformer, stage3, llm)."""

    @property
    def provides(self) -> tuple[str, ...]:
        return _PROVIDES[self.role]


VIDEOCHAT2_FILES: tuple[VideoChat2CheckpointFile, ...] = (
    VideoChat2CheckpointFile(
        role="umt_qformer",
        name="umt_l16_qformer.pth",
        holds="VideoChat2 stage 1: UMT-L/16 video encoder (24 blocks; the first 23 are used), vision_layernorm, "
        "BERT-base Q-former with its text path, 32 query tokens",
        published_at="https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/videochat2/umt_l16_qformer.pth "
        "(model zoo of OpenGVLab/Ask-Anything video_chat2/README.md, stage 1)",
        converter="convert_umt_qformer",
    ),
    VideoChat2CheckpointFile(
        role="stage3",
        name="videochat2_mistral_7b_stage3.pth",
        holds="VideoChat2 (Mistral) stage 3: UMT, Q-former, 32 + 64 query tokens, mistral_proj and the "
        "Mistral LoRA factors (r 16, alpha 32)",
        published_at="https://huggingface.co/OpenGVLab/VideoChat2_stage3_Mistral_7B (file videochat2_mistral_7b_stage3.pth)",
        converter="convert_videochat2_stage3",
    ),
    VideoChat2CheckpointFile(
        role="llm",
        name="Mistral-7B-Instruct-v0.2 (HF folder)",
        holds="Mistral-7B-Instruct-v0.2 in HF format (MistralForCausalLM + tokenizer)",
        published_at="https://huggingface.co/mistralai/Mistral-7B-Instruct-v0.2",
        converter="",
    ),
)


def videochat2_file(role: str) -> VideoChat2CheckpointFile:
    """The entry of ``VIDEOCHAT2_FILES`` for ``role`` (umt_qformer, stage3, llm)."""
    return find_role(VIDEOCHAT2_FILES, role, "VideoChat2")


def load_mistral_folder(path: str | Path, dtype: torch.dtype = torch.float16) -> nn.Module:
    """Mistral-7B-Instruct-v0.2 from a local HF-format folder (never downloads)."""
    from transformers import MistralForCausalLM

    return load_hf_folder(MistralForCausalLM, path, "Mistral", videochat2_file("llm").published_at, dtype)


def _check_same_layout(expected: nn.Module, given: nn.Module, source: str) -> None:
    want = {key: tuple(t.shape) for key, t in expected.state_dict().items()}
    have = {key: tuple(t.shape) for key, t in given.state_dict().items()}
    problems = [f"missing {key}" for key in want if key not in have]
    problems += [f"unexpected {key}" for key in have if key not in want]
    problems += [f"{key}: {list(have[key])} vs model {list(shape)}" for key, shape in want.items() if key in have and have[key] != shape]
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ValueError(f"{source} does not fit the model's language_model (config mismatch?):\n  {shown}")


def _check_lora(lora: Mapping[str, Tensor], language_model: nn.Module, r: int) -> None:
    """Before anything is modified: adapters exactly on the LoRA target Linears, with rank ``r`` shapes."""
    factors = lora_factors(dict(lora))  # raises on an A without its B and vice versa
    targets = {
        name for name, module in language_model.named_modules() if isinstance(module, nn.Linear) and name.split(".")[-1] in LORA_TARGETS
    }
    missing, unknown = sorted(targets - set(factors)), sorted(set(factors) - targets)
    if missing or unknown:
        raise ValueError(
            f"{videochat2_file('stage3').name}: the LoRA adapters do not match the targets {list(LORA_TARGETS)} "
            f"of the Mistral model: without adapter {missing[:10]}{' …' if len(missing) > 10 else ''}, "
            f"adapter for unknown module {unknown[:10]}"
        )
    for name, (a, b) in sorted(factors.items()):
        linear = language_model.get_submodule(name)
        if a.shape != (r, linear.in_features) or b.shape != (linear.out_features, r):
            raise ValueError(
                f"{name}: LoRA shapes A {list(a.shape)}, B {list(b.shape)} do not fit rank {r} and weight {list(linear.weight.shape)}"
            )


def load_videochat2_weights(
    model: nn.Module,
    umt_qformer: str | Path,
    stage3: str | Path,
    mistral_folder: str | Path | nn.Module | None = None,
    cache_dir: str | Path | None = None,
    *,
    llm_dtype: torch.dtype | None = None,
    lora_r: int = LORA_R,
    lora_alpha: float = LORA_ALPHA,
) -> dict[str, LoadReport]:
    """Load VideoChat2 (Mistral) into ``model`` (an ``InfVideoChat2`` or the same layout), as the eval
    scripts do: umt file, then the stage-3 file over it, LoRA merged into the Mistral weights.

    ``mistral_folder``: an HF folder of Mistral-7B-Instruct-v0.2 (loaded with ``load_mistral_folder``
    in ``llm_dtype``, default the model's current LLM dtype), or an already-loaded
    ``MistralForCausalLM``; either replaces ``model.language_model`` after a layout check (so the
    model's own LLM may be built on the meta device). ``None`` keeps ``model.language_model`` as it is
    and assumes it already holds the base weights. The LoRA delta is merged IN PLACE into that module.

    Everything is checked before the model is modified (files present, leftovers on the drop lists,
    LoRA pairs/targets/shapes, LLM layout, and a dry run of both loads: shapes, and each file filling
    exactly what it provides, ``VideoChat2CheckpointFile.provides``); every key outside
    ``language_model`` must come from one of the files. Returns one report per file and "lora",
    whose ``loaded`` lists the merged ``language_model.*.weight`` keys.
    """
    depth = len(model.vision_encoder.videomae.encoder.layer)
    conversions = [
        FileConversion(
            videochat2_file("umt_qformer"), Path(umt_qformer), partial(convert_umt_qformer, depth=depth), umt_qformer_drops(depth)
        ),
        FileConversion(videochat2_file("stage3"), Path(stage3), partial(_convert_stage3_flat, depth=depth), stage3_drops(depth)),
    ]
    if isinstance(mistral_folder, (str, Path)) and not (Path(mistral_folder) / "config.json").is_file():
        load_mistral_folder(mistral_folder)  # raises naming the folder and where it is published
    states = convert_files(conversions, cache_dir)
    states["stage3"], lora = _split_lora(states["stage3"])  # the LoRA factors go into Mistral, not the model

    language_model = model.language_model
    if mistral_folder is not None:
        if isinstance(mistral_folder, nn.Module):
            language_model, source = mistral_folder, "the given language model"
        else:
            dtype = llm_dtype or next(model.language_model.parameters()).dtype
            language_model, source = load_mistral_folder(mistral_folder, dtype), f"Mistral folder {str(mistral_folder)!r}"
        _check_same_layout(model.language_model, language_model, source)
    _check_lora(lora, language_model, lora_r)

    reports = copy_files(model, states, VIDEOCHAT2_FILES)
    if language_model is not model.language_model:
        model.language_model = language_model
    merged = merge_lora(lora, model.language_model, r=lora_r, alpha=lora_alpha)
    reports["lora"] = LoadReport(loaded=[f"language_model.{name}.weight" for name in merged])
    return reports


def load_videochat2(
    config: InfVideoChat2Config,
    dtype: torch.dtype = torch.float16,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
    qformer_tokenizer=None,
) -> InfVideoChat2:
    """∞-VideoChat2 with real weights from the files ``config.checkpoints`` names (all checked present
    first): Mistral and its tokenizer from the HF folder, UMT + Q-former from ``umt_l16_qformer.pth``
    overridden by the stage-3 file, whose LoRA is merged into Mistral. The Q-former tokenizer is
    bert-base-uncased + "[DEC]" (built offline from the vocabulary the MiniLM package ships)."""
    from transformers import AutoTokenizer

    paths = checkpoint_paths(config.checkpoints, VIDEOCHAT2_FILES)
    language_model = load_mistral_folder(paths["llm"], dtype)
    tokenizers = VideoChat2Tokenizers(
        qformer=qformer_tokenizer if qformer_tokenizer is not None else real_bert_tokenizer(),
        llm=AutoTokenizer.from_pretrained(str(paths["llm"]), local_files_only=True),
    )
    model = InfVideoChat2(config, tokenizers, language_model=language_model)
    load_videochat2_weights(model, paths["umt_qformer"], paths["stage3"], cache_dir=cache_dir)
    return model.to(device).eval()
