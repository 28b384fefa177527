"""UMT-L/16, VideoChat2's video encoder, hosted on transformers' ``VideoMAEModel``.

See docs/reference-notes.md, C4.

UMT is a plain pre-norm ViT over all frames of a chunk at once: a per-frame patch embedding (a Conv3d
with tubelet 1), a fixed 1-D sinusoid table over all L·P tokens (P patches per frame, no CLS token),
joint spatio-temporal attention with q and v biases but no k bias, and no final norm. VideoMAE has the
same blocks and patch embedding, so only the position table is UMT's own: the checkpoint was
pre-trained on 4 frames, and VideoChat2's eval scripts rebuild the table for a chunk of L frames by
linear interpolation in time of the 4-frame table (``position_table`` below). The host is built with
the blocks that are run (23 of the checkpoint's 24, ``return_index=-2``); the last block's weights are
dropped when loading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import VideoMAEConfig, VideoMAEModel


@dataclass
class UMTConfig:
    """Defaults are UMT-L/16 as VideoChat2 (Mistral) runs it."""

    image_size: int = 224
    patch_size: int = 16
    hidden_size: int = 1024
    num_layers: int = 23  # blocks run: the checkpoint has 24, VideoChat2 reads the output of the 23rd
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    layer_norm_eps: float = 1e-6
    num_frames: int = 4  # the frames the scripts build the encoder for; every chunk gets a table for its own length
    checkpoint_frames: int = 4  # the pre-training table that is interpolated in time

    @property
    def tokens_per_frame(self) -> int:
        return (self.image_size // self.patch_size) ** 2


def sinusoid_table(positions: int, width: int) -> Tensor:
    """The transformer sinusoid table [positions, width] in float32, computed in float64 like UMT/VideoMAE:
    angle(p, j) = p / 10000^(2⌊j/2⌋/width), sine on even columns, cosine on odd ones."""
    # Scalar powers and elementwise division, as the reference's per-element formula, so the float64
    # angles (and hence the float32 table) are bit-identical to it.
    denominators = np.array([np.power(10000, 2 * (j // 2) / width) for j in range(width)])
    table = np.arange(positions, dtype=np.float64)[:, None] / denominators[None, :]
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.tensor(table, dtype=torch.float32)


def position_table(frames: int, tokens_per_frame: int, width: int, checkpoint_frames: int = 4) -> Tensor:
    """UMT's position table for a chunk of ``frames`` frames: [frames·tokens_per_frame, width].

    The sinusoid table over ``checkpoint_frames·tokens_per_frame`` positions is linearly interpolated
    along time to ``frames`` frames (``F.interpolate(mode="linear")``, half-pixel centres: output frame
    t reads the checkpoint time (t + ½)·checkpoint_frames/frames − ½, clamped to the table), exactly as
    the VideoChat2 eval scripts' ``get_sinusoid_encoding_table``. A single frame uses the plain
    per-image table, as the encoder does for T = 1 (``use_image``). The scripts' bicubic spatial
    resize (only for inputs other than 224 px) is not reproduced: here the table is built for the
    configured patch grid directly.
    """
    if frames < 1:
        raise ValueError(f"a chunk needs at least one frame, got {frames}")
    if frames == 1:
        return sinusoid_table(tokens_per_frame, width)
    base = sinusoid_table(checkpoint_frames * tokens_per_frame, width)
    if frames == checkpoint_frames:
        return base
    # [T·P, C] -> [P, C, T]: interpolate every (token, channel) series along time, then back to [T'·P, C].
    series = base.view(checkpoint_frames, tokens_per_frame, width).permute(1, 2, 0)
    resampled = F.interpolate(series, size=frames, mode="linear")
    return resampled.permute(2, 0, 1).reshape(frames * tokens_per_frame, width)


class UMTVisionEncoder(nn.Module):
    """Frames [batch, L, 3, H, W] -> per-frame patch tokens [batch, L, tokens_per_frame, hidden]."""

    def __init__(self, config: UMTConfig) -> None:
        super().__init__()
        self.config = config
        self.videomae = VideoMAEModel(
            VideoMAEConfig(
                image_size=config.image_size,
                patch_size=config.patch_size,
                num_frames=config.num_frames,
                tubelet_size=1,
                hidden_size=config.hidden_size,
                num_hidden_layers=config.num_layers,
                num_attention_heads=config.num_attention_heads,
                intermediate_size=config.intermediate_size,
                hidden_act="gelu",  # exact (erf) GELU, as nn.GELU in UMT
                layer_norm_eps=config.layer_norm_eps,  # VideoMAE's default is 1e-12
                qv_bias=True,  # UMT's q_bias and v_bias; the key projection has no bias
                use_mean_pooling=True,  # i.e. no final LayerNorm inside (UMT's with_ln=False)
                hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0,
            )
        )
        self._tables: dict[tuple[int, torch.device], Tensor] = {}

    @property
    def tokens_per_frame(self) -> int:
        return self.config.tokens_per_frame

    @property
    def width(self) -> int:
        return self.config.hidden_size

    def position_table(self, frames: int, device: torch.device) -> Tensor:
        """The table for chunks of ``frames`` frames, built once per length and device."""
        key = (frames, device)
        if key not in self._tables:
            table = position_table(frames, self.tokens_per_frame, self.width, self.config.checkpoint_frames)
            self._tables[key] = table.unsqueeze(0).to(device)
        return self._tables[key]

    def forward(self, frames: Tensor) -> Tensor:
        if frames.dim() != 5:
            raise ValueError(f"expected frames [batch, L, 3, H, W], got shape {tuple(frames.shape)}")
        batch, length = frames.shape[:2]
        projection = self.videomae.embeddings.patch_embeddings.projection.weight
        # The host adds embeddings.position_embeddings (a plain tensor attribute) to the patch tokens:
        # swap in the table for this chunk's length.
        self.videomae.embeddings.position_embeddings = self.position_table(length, projection.device)
        tokens = self.videomae(pixel_values=frames.to(projection.dtype)).last_hidden_state
        return tokens.view(batch, length, self.tokens_per_frame, self.width)
