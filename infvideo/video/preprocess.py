"""The reference's two frame-preprocessing paths, explicit and after decoding.

Input: uint8 RGB frames [T, H, W, 3] (numpy or torch). Output: float32 [T, 3, size, size],
normalised with the CLIP mean/std both models were trained with.

* ``preprocess_video_llama``: resize straight to size×size (aspect ratio not kept), as the
  reference's Video-LLaMA inputs were (decord resize at decode time; PIL resize in the
  EgoSchema-full / Video-MME scripts), then /255 and CLIP normalisation.
* ``preprocess_videochat2``: VideoChat2's ``GroupScale(size, BICUBIC)`` (short side to ``size``,
  long side ``int(size * long / short)``, torchvision ``Resize`` rounding) then
  ``GroupCenterCrop(size)`` (torchvision offsets ``int(round((H - size) / 2))``), /255, CLIP.

Resampling (``resampler``):
* ``"pil"`` — Pillow's bicubic per frame on uint8 images: exactly what the reference did
  (VideoChat2's transforms and the Video-LLaMA EgoSchema-full/Video-MME scripts resize PIL
  images). The default, because bit parity with the reference is the point of these functions,
  and Pillow is already installed with matplotlib. Not used for decode-time resizing by decord,
  which goes through swscale and differs across FFmpeg builds.
* ``"torch"`` — ``torch.nn.functional.interpolate(mode="bicubic", antialias=True)`` on the whole
  batch, rounded and clamped to 0..255 like a uint8 image: within a few grey levels of Pillow
  (not bit-identical), batched, and usable on GPU tensors. No torchvision anywhere (its wheels
  do not install beside the CPU torch build).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

Resampler = Literal["pil", "torch"]


def preprocess_video_llama(frames: np.ndarray | torch.Tensor, size: int = 224, resampler: Resampler = "pil") -> torch.Tensor:
    """Video-LLaMA path: resize to ``size``×``size`` ignoring aspect, /255, CLIP mean/std."""
    resized = resize_frames(frames, (size, size), resampler)
    return normalise_clip(resized)


def preprocess_videochat2(frames: np.ndarray | torch.Tensor, size: int = 224, resampler: Resampler = "pil") -> torch.Tensor:
    """VideoChat2 path: short side to ``size`` (bicubic), centre crop ``size``, /255, CLIP mean/std."""
    height, width = _frame_size(frames)
    resized = resize_frames(frames, short_side_size(height, width, size), resampler)
    return normalise_clip(centre_crop(resized, size))


PREPROCESSORS = {"video_llama": preprocess_video_llama, "videochat2": preprocess_videochat2}


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) after torchvision ``Resize(size)``: short side ``size``, long side truncated."""
    if width <= height:
        return int(size * height / width), size
    return size, int(size * width / height)


def centre_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """[T, C, H, W] → [T, C, size, size] with torchvision ``CenterCrop``'s offsets."""
    height, width = frames.shape[-2:]
    if height < size or width < size:
        raise ValueError(f"cannot centre-crop {size}×{size} from {height}×{width} frames")
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return frames[..., top : top + size, left : left + size]


def resize_frames(frames: np.ndarray | torch.Tensor, size: tuple[int, int], resampler: Resampler = "pil") -> torch.Tensor:
    """uint8 [T, H, W, 3] → float32 [T, 3, h, w] with values in 0..255 (integers, as a uint8
    image would hold), bicubic with antialiasing."""
    _check_frames(frames)
    if resampler == "pil":
        return _resize_pil(np.asarray(frames.cpu() if isinstance(frames, torch.Tensor) else frames), size)
    if resampler == "torch":
        return _resize_torch(torch.as_tensor(frames), size)
    raise ValueError(f"unknown resampler {resampler!r}; choose 'pil' or 'torch'")


def normalise_clip(frames_0_255: torch.Tensor) -> torch.Tensor:
    """[T, 3, H, W] in 0..255 → (x/255 − CLIP mean) / CLIP std, float32."""
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32, device=frames_0_255.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=torch.float32, device=frames_0_255.device).view(1, 3, 1, 1)
    return (frames_0_255.to(torch.float32) / 255.0 - mean) / std


def _resize_pil(frames: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    from PIL import Image

    height, width = size
    out = np.empty((frames.shape[0], height, width, 3), dtype=np.uint8)
    for t, frame in enumerate(frames):
        out[t] = np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.BICUBIC))
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(torch.float32)


def _resize_torch(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    channels_first = frames.permute(0, 3, 1, 2).to(torch.float32)
    if tuple(channels_first.shape[-2:]) == tuple(size):
        return channels_first
    resized = F.interpolate(channels_first, size=size, mode="bicubic", align_corners=False, antialias=True)
    return resized.round_().clamp_(0, 255)


def _check_frames(frames: np.ndarray | torch.Tensor) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [T, H, W, 3], got shape {tuple(frames.shape)}")
    if frames.dtype not in (np.uint8, torch.uint8):
        raise ValueError(f"expected uint8 frames, got dtype {frames.dtype}")


def _frame_size(frames: np.ndarray | torch.Tensor) -> tuple[int, int]:
    _check_frames(frames)
    return int(frames.shape[1]), int(frames.shape[2])
