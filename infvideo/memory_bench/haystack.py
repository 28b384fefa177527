"""Haystacks for the memory bench: frame-token streams with needles at known depths.

A haystack is ``frames`` [T, tokens_per_frame, width] plus where its needles are. Channel layout of
every token: the first ``width − 2`` channels are *content*; the last two are a *time code*
(cos πt, sin πt)·TIME_AMPLITUDE with t ∈ [0, 1] the frame's position in the video. The probes'
key projection ignores the time code and their value projection passes it through untouched, so any
memory's read-out carries the attention-weighted video time (``decode_time``), and any stored token
says which time it stands for. Half a circle (angle πt ∈ [0, π]) keeps t unambiguous; a weighted
mean of codes still decodes to a time between the attended ones.

Background (content channels), ``synthetic_background``: a stationary process with the
autocorrelation of real frame features (high frame-to-frame similarity that decays over seconds and
scenes), per token:

    frame_t = m + slow_t + fast_t + white_t (+ a fixed per-token offset when tokens_per_frame > 1)

* m: a common mean vector (norm MEAN_NORM); real features share a large mean component.
* slow_t: AR(1) with correlation length SLOW_FRAMES (a "scene"), share SLOW_SHARE of the variance.
* fast_t: AR(1) with correlation length FAST_FRAMES (motion), share FAST_SHARE.
* white_t: independent noise (sensor / encoder jitter), the remaining share.

The fluctuation (everything but m) has expected norm 1, so its autocorrelation at lag k frames is
SLOW_SHARE·ρ_s^k + FAST_SHARE·ρ_f^k + white·[k = 0] with ρ = exp(−1/length). AR(1) rather than a
random walk keeps the statistics the same at every depth (a walk's norm grows with video length).

Real background, ``cached_background``: frame tokens from an ``infvideo extract`` token cache.

Needles, ``splice_needles``: K unit directions, orthonormal and orthogonal to the background mean (so
they are distinct from each other and from "the average frame"), added with strength
NEEDLE_STRENGTH × (the background's RMS fluctuation norm) to every token of ``needle_frames``
consecutive frames. Needle 0 starts at frame round(depth·(T − needle_frames)); needle j ≥ 1 at depth
(depth + j/K) mod 1, i.e. the K needles are spaced evenly around the video starting at ``depth``.
Everything is drawn from one ``torch.Generator`` seeded by ``seed``: same seed, same haystack.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

TIME_CHANNELS = 2
TIME_AMPLITUDE = 0.5  # small next to the content so the baselines' similarity merges barely notice it
MEAN_NORM = 1.0
SLOW_FRAMES, SLOW_SHARE = 128.0, 0.6
FAST_FRAMES, FAST_SHARE = 4.0, 0.3
TOKEN_OFFSET_NORM = 0.5
NEEDLE_STRENGTH = 2.0  # needles are salient events, as in the memory demo


@dataclass(frozen=True)
class Haystack:
    frames: Tensor  # [T, tokens_per_frame, width]: content channels then the time code
    directions: Tensor  # [K, width] unit needle directions (zero on the time code)
    starts: tuple[int, ...]  # first frame of each needle; needle 0 is the probed one
    needle_frames: int
    frames_per_chunk: int
    needle_norm: float  # length of the vector added to a needle frame (strength × background fluctuation)

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def pooled(self) -> Tensor:
        """One vector per frame [T, width], the token mean: what the memory-aware Q-former layer feeds
        its memory (``MemoryAttentionMixin.pool_frames``)."""
        return self.frames.mean(dim=1)

    def needle_slice(self, k: int) -> slice:
        return slice(self.starts[k], self.starts[k] + self.needle_frames)

    def needle_time(self, k: int) -> float:
        """Centre of needle ``k`` as a fraction of the video (frame i covers [i, i+1)/T)."""
        return (self.starts[k] + self.needle_frames / 2) / self.num_frames

    def needle_chunks(self, k: int) -> set[int]:
        """The (0-based) chunks needle ``k`` has frames in."""
        first, last = self.starts[k], self.starts[k] + self.needle_frames - 1
        return set(range(first // self.frames_per_chunk, last // self.frames_per_chunk + 1))

    def needle_mask(self) -> Tensor:
        mask = torch.zeros(self.num_frames, dtype=torch.bool)
        for k in range(len(self.starts)):
            mask[self.needle_slice(k)] = True
        return mask


# -- time code ---------------------------------------------------------------------------------
def frame_times(num_frames: int) -> Tensor:
    """Video time of each frame's centre as a fraction of the video: (i + ½)/T."""
    return (torch.arange(num_frames, dtype=torch.float32) + 0.5) / num_frames


def time_code(t: Tensor) -> Tensor:
    """[...] times in [0, 1] -> [..., 2] codes."""
    angle = math.pi * t
    return TIME_AMPLITUDE * torch.stack([angle.cos(), angle.sin()], dim=-1)


def decode_time(x: Tensor) -> Tensor:
    """Time in [0, 1] carried by vectors [..., width] (their last two channels). A code mixed with
    others decodes to the angle of the mixture, a circular mean of the attended times."""
    cos, sin = x[..., -2].float(), x[..., -1].float()
    return (torch.atan2(sin, cos) / math.pi).clamp(0.0, 1.0)


def content(x: Tensor) -> Tensor:
    return x[..., :-TIME_CHANNELS]


# -- backgrounds -------------------------------------------------------------------------------
def _ar1(steps: int, shape: tuple[int, ...], length: float, generator: torch.Generator) -> Tensor:
    """Unit-variance stationary AR(1) with correlation exp(−k/length) at lag k: [steps, *shape]."""
    rho = math.exp(-1.0 / length)
    noise = torch.randn(steps, *shape, generator=generator) * math.sqrt(1 - rho * rho)
    out = torch.empty_like(noise)
    state = torch.randn(*shape, generator=generator)  # start in the stationary distribution
    for i in range(steps):
        state = rho * state + noise[i]
        out[i] = state
    return out


def synthetic_background(num_frames: int, tokens_per_frame: int, content_width: int, generator: torch.Generator) -> Tensor:
    """[T, tokens, content_width] background (see the module docstring)."""
    per_channel = 1.0 / math.sqrt(content_width)  # fluctuation norm ≈ 1
    white_share = 1.0 - SLOW_SHARE - FAST_SHARE
    mean = torch.nn.functional.normalize(torch.randn(content_width, generator=generator), dim=0) * MEAN_NORM
    shape = (tokens_per_frame, content_width)
    fluctuation = (
        math.sqrt(SLOW_SHARE) * _ar1(num_frames, shape, SLOW_FRAMES, generator)
        + math.sqrt(FAST_SHARE) * _ar1(num_frames, shape, FAST_FRAMES, generator)
        + math.sqrt(white_share) * torch.randn(num_frames, *shape, generator=generator)
    ) * per_channel
    frames = mean + fluctuation
    if tokens_per_frame > 1:  # tokens of a frame differ by a fixed identity, like Q-former query slots
        offsets = torch.randn(tokens_per_frame, content_width, generator=generator)
        frames = frames + torch.nn.functional.normalize(offsets, dim=-1) * TOKEN_OFFSET_NORM
    return frames


def cached_videos(folder: str | Path) -> list[Tensor]:
    """Every video in a token cache (``infvideo extract`` output, ``TokenCache`` layout), in sorted
    file order: a list of [frames, tokens, width] tensors. ``folder`` is the cache root or one of its
    signature folders. Files are read back through ``TokenCache.load`` from the key stored in their
    metadata, so the file format has one home."""
    from safetensors import safe_open

    from infvideo.eval.token_cache import TokenCache

    root = Path(folder)
    files = sorted(root.rglob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{root}: no cached frame tokens (*.safetensors); run `infvideo extract` first")
    videos = []
    for path in files:
        signature = json.loads((path.parent / "signature.json").read_text())
        cache = TokenCache(path.parent.parent, signature)
        with safe_open(str(path), framework="pt") as handle:
            key = json.loads(handle.metadata()["key"])
        if cache.path(key) != path:
            raise ValueError(f"{path}: does not match its signature.json and key (not a TokenCache file?)")
        chunks = cache.load(key)
        videos.append(torch.cat([c if c.dim() == 3 else c.unsqueeze(1) for c in chunks], dim=0))
    return videos


def cached_background(folder: str | Path, num_frames: int, tokens_per_frame: int, content_width: int, generator: torch.Generator) -> Tensor:
    """[T, tokens, content_width] real frame tokens from a token cache.

    Frames: the cached videos concatenated in sorted order (the first video alone when it is long
    enough), tiled when all of them together are shorter than T. Tokens: a cached frame's P tokens are
    averaged in P/tokens_per_frame consecutive groups (P must be a multiple). Width: cached width D is
    kept when D equals the content width, else mapped by a seeded random projection with orthonormal
    columns (D -> content_width), which keeps the geometry within its span; scale does not matter,
    as needle strength is measured against the result's own fluctuation."""
    videos = cached_videos(folder)
    if sum(video.shape[0] for video in videos) == 0:
        raise ValueError(f"{folder}: the cached videos have no frames")
    stream, total = [], 0
    while total < num_frames:
        for video in videos:
            stream.append(video)
            total += video.shape[0]
            if total >= num_frames:
                break
    frames = torch.cat(stream, dim=0)[:num_frames].float()
    cached_tokens, width = frames.shape[1], frames.shape[2]
    if cached_tokens % tokens_per_frame:
        raise ValueError(f"cached frames have {cached_tokens} tokens, not a multiple of tokens_per_frame={tokens_per_frame}")
    frames = frames.reshape(num_frames, tokens_per_frame, cached_tokens // tokens_per_frame, width).mean(2)
    if width != content_width:
        basis = torch.linalg.qr(torch.randn(width, content_width, generator=generator))[0]  # [D, c]
        frames = frames @ basis
    return frames


# -- needles -----------------------------------------------------------------------------------
def needle_starts(num_frames: int, needles: int, needle_frames: int, depth: float) -> tuple[int, ...]:
    """First frame of each needle: needle 0 at ``depth``, the rest evenly around the video."""
    if not 1 <= needle_frames <= 8:
        raise ValueError(f"needle_frames must lie in [1, 8], got {needle_frames}")
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must lie in [0, 1], got {depth}")
    if needles < 1:
        raise ValueError(f"needles must be >= 1, got {needles}")
    span = num_frames - needle_frames
    depths = [(depth + j / needles) % 1.0 if j else depth for j in range(needles)]
    starts = tuple(round(d * span) for d in depths)
    ordered = sorted(starts)
    if span < 0 or any(b - a < needle_frames for a, b in zip(ordered, ordered[1:])):
        raise ValueError(f"{needles} needles of {needle_frames} frames do not fit apart in {num_frames} frames")
    return starts


def splice_needles(
    background: Tensor, starts: tuple[int, ...], needle_frames: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, float]:
    """Add the needles to ``background`` [T, tokens, c]. Returns (frames, directions [K, c], the
    norm of what a needle adds to each of its tokens)."""
    mean = background.mean(dim=(0, 1))
    fluctuation = (background.mean(dim=1) - mean).norm(dim=-1).pow(2).mean().sqrt()
    # Directions orthonormal and orthogonal to the mean: QR with the mean as the first column.
    raw = torch.randn(background.shape[-1], len(starts), generator=generator)
    q = torch.linalg.qr(torch.cat([mean[:, None], raw], dim=1))[0]
    directions = q[:, 1:].T.contiguous()
    norm = NEEDLE_STRENGTH * float(fluctuation)
    frames = background.clone()
    for start, direction in zip(starts, directions):
        frames[start : start + needle_frames] += norm * direction
    return frames, directions, norm


def build_haystack(
    chunks: int,
    frames_per_chunk: int,
    depth: float,
    needles: int,
    needle_frames: int,
    width: int,
    tokens_per_frame: int,
    seed: int,
    source: str = "synthetic",
) -> Haystack:
    if width <= TIME_CHANNELS + needles:
        raise ValueError(f"width {width} leaves too few content channels for {needles} needles")
    num_frames = chunks * frames_per_chunk
    content_width = width - TIME_CHANNELS
    starts = needle_starts(num_frames, needles, needle_frames, depth)
    generator = torch.Generator().manual_seed(seed)
    if source == "synthetic":
        background = synthetic_background(num_frames, tokens_per_frame, content_width, generator)
    else:
        background = cached_background(source, num_frames, tokens_per_frame, content_width, generator)
    frames, directions, norm = splice_needles(background, starts, needle_frames, generator)
    code = time_code(frame_times(num_frames))[:, None, :].expand(-1, tokens_per_frame, -1)
    frames = torch.cat([frames, code], dim=-1)
    directions = torch.cat([directions, directions.new_zeros(needles, TIME_CHANNELS)], dim=-1)
    return Haystack(frames.contiguous(), directions, starts, needle_frames, frames_per_chunk, norm)
