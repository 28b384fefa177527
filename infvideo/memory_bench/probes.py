"""Probes: read a memory after the whole stream with queries aimed at each needle, and score it.

Projections (``Projections``): one shared key/value pair, Q-former-like. By default random orthogonal
maps of the content channels (seeded), with head_dim 64 as in the Q-formers (768 = 12 × 64); or any
real layer's ``nn.Linear`` key/value (``Projections.from_linears``). Either way the key sees only the
content channels and the value's last two outputs are the frame's time code passed through (for a
real layer those two of its outputs are given up), so every read-out carries the time it attended.

Queries (``needle_queries``): query k = s·key(u_k + ε), u_k the needle's direction, ε a random content
direction of norm QUERY_NOISE (a question never names the needle exactly); s is set so that a needle
frame scores about SHARPNESS nats above an average frame in each head.

Scores per needle k (``probe_needles``), from the read-out of query k alone:

* retrieval: cosine of the read-out's content with value(needle k's frames, pooled) against the
  distractors: value of every other needle, of the background mean and of DISTRACTORS random non-needle
  frames. rank = 1 + number of distractors at least as close; retrieved = rank 1; margin = cosine with
  the needle − the best distractor's.
* localisation_error: |decoded time of the read-out − the needle's centre| as a fraction of the video.
  The read-out's time code is the attention-weighted (circular) mean time, the same yardstick for every
  memory. density_peak_error (continuous memory only): the same for the peak of the attention density
  over video time, through the memory's own time map (``MemoryTimeline``).
* reconstruction_error: relative L2 (content channels) between the needle's frames and what the memory
  keeps for their times: x̄(t) at their memory time for the continuous memory, else the stored token
  whose time code is closest (so a memory that dropped the needle is scored on what it kept there).
  None where the memory keeps neither (or its time map is not monotone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infvideo.memory import ContinuousMemory, Memory, MemoryTimeline

from .haystack import TIME_CHANNELS, Haystack, content, decode_time, frame_times
from .zoo import stored_tokens

HEAD_DIM = 64
SHARPNESS = 24.0
QUERY_NOISE = 0.3
DISTRACTORS = 16


class _ContentKey(nn.Module):
    """A key projection that ignores the time code."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.linear = linear
        mask = torch.ones(linear.in_features)
        mask[-TIME_CHANNELS:] = 0
        self.register_buffer("mask", mask)

    @property
    def weight(self) -> Tensor:  # ``infvideo.memory.base.project`` casts inputs to this dtype
        return self.linear.weight

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x * self.mask.to(x.dtype))


class _TimedValue(_ContentKey):
    """A value projection of the content whose last two outputs are the input's time code."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.linear(x * self.mask.to(x.dtype))
        return torch.cat([out[..., :-TIME_CHANNELS], x[..., -TIME_CHANNELS:].to(out.dtype)], dim=-1)


@dataclass
class Projections:
    key: nn.Module
    value: nn.Module
    num_heads: int

    @classmethod
    def from_linears(cls, key: nn.Linear, value: nn.Linear, num_heads: int) -> Projections:
        """A real layer's key/value projections: the haystack's width is their input width (the frame
        features the layer's memory stores), queries and read-outs live in their output width."""
        if key.in_features != value.in_features or key.out_features != value.out_features:
            raise ValueError("key and value projections must share their input and output widths")
        if key.out_features % num_heads:
            raise ValueError(f"{key.out_features} output features do not split into {num_heads} heads")
        return cls(_ContentKey(key).eval(), _TimedValue(value).eval(), num_heads)

    @classmethod
    def random_orthogonal(cls, width: int, seed: int) -> Projections:
        generator = torch.Generator().manual_seed(seed + 7919)  # not the haystack's stream
        content_width = width - TIME_CHANNELS
        layers = []
        for _ in range(2):
            layer = nn.Linear(width, width, bias=False)
            weight = torch.zeros(width, width)
            weight[:content_width, :content_width] = torch.linalg.qr(torch.randn(content_width, content_width, generator=generator))[0]
            with torch.no_grad():
                layer.weight.copy_(weight)
            layers.append(layer)
        heads = width // HEAD_DIM if width % HEAD_DIM == 0 and width >= HEAD_DIM else 1
        return cls.from_linears(layers[0], layers[1], heads)

    def values(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.value(x)


def needle_queries(haystack: Haystack, projections: Projections, generator: torch.Generator) -> Tensor:
    """One query per needle: [1, K, width_out]. Each is scaled so that, in every head on average, a
    frame of its needle scores SHARPNESS nats above the average background frame — calibrated on the
    projections themselves, so a real layer (not norm-preserving, with biases) is probed as sharply
    as the random orthogonal one."""
    directions = haystack.directions
    noise = torch.randn(directions.shape, generator=generator)
    noise[:, -TIME_CHANNELS:] = 0
    noise = F.normalize(noise, dim=-1) * QUERY_NOISE
    pooled = haystack.pooled
    needles = torch.stack([pooled[haystack.needle_slice(k)].mean(0) for k in range(len(haystack.starts))])
    background = pooled[~haystack.needle_mask()].mean(0, keepdim=True)
    with torch.no_grad():
        queries = projections.key(directions + noise)  # [K, out]
        gap = projections.key(needles) - projections.key(background)  # [K, out]
        heads, head_dim = projections.num_heads, queries.shape[-1] // projections.num_heads
        per_head = (queries * gap).view(len(queries), heads, head_dim).sum(-1) / math.sqrt(head_dim)
        scale = SHARPNESS / per_head.mean(-1).clamp(min=1e-6)
        return (scale.unsqueeze(-1) * queries).unsqueeze(0)


@dataclass(frozen=True)
class Candidates:
    needles: Tensor  # [K, c] value content of each needle's frames (pooled, averaged)
    distractors: Tensor  # [D, c] background mean and random non-needle frames


def candidate_values(haystack: Haystack, projections: Projections, generator: torch.Generator) -> Candidates:
    pooled = haystack.pooled
    needles = torch.stack([pooled[haystack.needle_slice(k)].mean(0) for k in range(len(haystack.starts))])
    background = torch.nonzero(~haystack.needle_mask()).squeeze(-1)
    picks = background[torch.randperm(background.numel(), generator=generator)[:DISTRACTORS]]
    distractors = torch.cat([pooled[background].mean(0, keepdim=True), pooled[picks]])
    return Candidates(content(projections.values(needles)), content(projections.values(distractors)))


def retrieval_scores(readout: Tensor, k: int, candidates: Candidates) -> dict:
    """Rank/margin of needle ``k`` for one read-out [width] (content channels are compared)."""
    others = torch.cat([candidates.needles[:k], candidates.needles[k + 1 :], candidates.distractors])
    x = content(readout).float()
    target = float(F.cosine_similarity(x, candidates.needles[k], dim=-1))
    rivals = F.cosine_similarity(x[None], others, dim=-1)
    rank = 1 + int((rivals >= target).sum())
    return {"retrieved": rank == 1, "rank": rank, "margin": target - float(rivals.max()), "cosine": target}


def localisation_error(readout: Tensor, true_time: float) -> float:
    return abs(float(decode_time(readout)) - true_time)


def density_peak_time(memory: ContinuousMemory, timeline: MemoryTimeline, num_frames: int, chunks: int) -> float:
    """Video time (fraction) of the peak of the last read's density, one bin per frame."""
    edges = torch.linspace(0, chunks, num_frames + 1)
    density = timeline.density_over_video_time(edges, points=max(4096, 4 * num_frames))[0]
    return (int(density.argmax()) + 0.5) / num_frames


def reconstruction_error(memory: Memory, haystack: Haystack, k: int, timeline: MemoryTimeline | None) -> float | None:
    target = content(haystack.pooled[haystack.needle_slice(k)])
    times = frame_times(haystack.num_frames)[haystack.needle_slice(k)]
    if isinstance(memory, ContinuousMemory):
        if timeline is None:
            return None
        chunks = haystack.num_frames / haystack.frames_per_chunk
        try:
            memory_time = timeline.to_memory_time(times.double() * chunks)
        except ValueError:  # non-monotone time map (reference-compat sticky)
            return None
        kept = content(memory.reconstruct(memory_time.float())[0])
    else:
        tokens = stored_tokens(memory)
        if tokens is None:
            return None
        nearest = (decode_time(tokens)[None, :] - times[:, None]).abs().argmin(dim=1)
        kept = content(tokens[nearest])
    return float((kept.float() - target).norm() / target.norm())


def probe_needles(
    memory: Memory,
    haystack: Haystack,
    projections: Projections,
    queries: Tensor,
    candidates: Candidates,
    timeline: MemoryTimeline | None = None,
) -> list[dict]:
    """Scores for every needle, each from a read with its own query alone (so the continuous memory's
    density is that query's). Call after the whole stream; reading changes no token memory, and for
    the continuous memory only what the next update would sample from."""
    results = []
    chunks = haystack.num_frames // haystack.frames_per_chunk
    for k in range(queries.shape[1]):
        readout = memory.read(queries[:, k : k + 1], projections.key, projections.value, projections.num_heads)[0, 0]
        true_time = haystack.needle_time(k)
        scores = retrieval_scores(readout, k, candidates)
        scores["localisation_error"] = localisation_error(readout, true_time)
        scores["density_peak_error"] = None
        if isinstance(memory, ContinuousMemory) and timeline is not None:
            peak = density_peak_time(memory, timeline, haystack.num_frames, chunks)
            scores["density_peak_error"] = abs(peak - true_time)
        scores["reconstruction_error"] = reconstruction_error(memory, haystack, k, timeline)
        results.append(scores)
    return results


def layer_projections(config_path: str) -> tuple[Projections, str, int]:
    """The key/value projections of the first memory layer of the model a run config builds (the
    tiny preset's random weights, or the real checkpoints of a full one), a label for the cells'
    keys, and the layer's input width. Building the model is the only way to get at its weights as
    they load, so this costs one model load per ``memory-bench`` run."""
    from infvideo.errors import UserError
    from infvideo.eval.backends import build_backend
    from infvideo.eval.config import config_hash, load_config
    from infvideo.eval.validation import validate_config
    from infvideo.models.memory_attention import memory_layers

    config = load_config(config_path)
    validate_config(config, data=False)
    if config.model.alpha >= 1:
        config.model.alpha = 0.5  # No LTM builds no memory layers; the projections do not depend on alpha
    layer = next(iter(memory_layers(build_backend(config).model)), None)
    if layer is None:
        raise UserError(f"{config_path}: the model has no memory layer to take key/value projections from")
    label = f"{config.model.name}/{config.model.preset}/{config_hash(config)}"
    return Projections.from_linears(layer.key, layer.value, layer.num_attention_heads), label, layer.key.in_features
