"""The reference's two preprocessing paths: geometry, normalisation, and Pillow/torch agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from infvideo.video.preprocess import (
    CLIP_MEAN,
    CLIP_STD,
    PREPROCESSORS,
    centre_crop,
    preprocess_video_llama,
    preprocess_videochat2,
    resize_frames,
    short_side_size,
)


def smooth_frames(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Natural-image-like frames: coarse noise upsampled bilinearly."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (count, 6, 8, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(c).resize((width, height), Image.Resampling.BILINEAR)) for c in coarse])


def test_constant_frames_normalise_to_the_clip_statistics():
    frames = np.full((2, 40, 60, 3), 255, dtype=np.uint8)
    for name, preprocess in PREPROCESSORS.items():
        for resampler in ("pil", "torch"):
            out = preprocess(frames, size=32, resampler=resampler)
            assert out.shape == (2, 3, 32, 32) and out.dtype == torch.float32, name
            expected = (1 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
            assert torch.allclose(out[0, :, 5, 7], expected, atol=1e-6)


def test_video_llama_resizes_without_keeping_the_aspect_ratio():
    frames = np.zeros((1, 20, 80, 3), dtype=np.uint8)
    frames[:, :, :40] = 255  # left half white
    out = preprocess_video_llama(frames, size=28)
    assert out.shape == (1, 3, 28, 28)
    white = (1 - CLIP_MEAN[0]) / CLIP_STD[0]
    assert out[0, 0, :, :12].min() > white - 1e-4 and out[0, 0, :, 16:].max() < 0  # still split in the middle


def test_videochat2_short_side_and_centre_crop_follow_torchvision():
    assert short_side_size(360, 640, 224) == (224, 398)  # int(224 * 640 / 360) = 398
    assert short_side_size(640, 360, 224) == (398, 224)
    assert short_side_size(17, 33, 32) == (32, 62)
    frames = torch.arange(7 * 10).reshape(1, 1, 7, 10)
    # torchvision CenterCrop offsets: int(round((7 - 4) / 2)) = 2 (half to even), int(round((10 - 4) / 2)) = 3
    assert torch.equal(centre_crop(frames, 4), frames[..., 2:6, 3:7])
    # a bright band on the far left is cropped away; the centre stays
    wide = np.zeros((1, 30, 90, 3), dtype=np.uint8)
    wide[:, :, :20] = 255
    out = preprocess_videochat2(wide, size=30)
    assert out.shape == (1, 3, 30, 30) and out[0, 0].max() < 0


def test_videochat2_with_pil_is_the_reference_pipeline_bit_for_bit():
    frames = smooth_frames(3, 90, 160)
    # VideoChat2: GroupScale(224, BICUBIC) on PIL images, GroupCenterCrop(224), /255, normalise
    size = 32
    reference = []
    for frame in frames:
        image = Image.fromarray(frame)
        image = image.resize((int(size * 160 / 90), size), Image.Resampling.BICUBIC)
        left = int(round((image.width - size) / 2.0))
        reference.append(np.asarray(image.crop((left, 0, left + size, size))))
    expected = (
        torch.from_numpy(np.stack(reference)).permute(0, 3, 1, 2) / 255.0 - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    ) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    assert torch.allclose(preprocess_videochat2(frames, size=size, resampler="pil"), expected, atol=1e-6)


@pytest.mark.parametrize("size", [(224, 224), (224, 398), (32, 32)])
def test_torch_and_pil_resampling_agree_within_two_levels_when_downscaling(size):
    frames = smooth_frames(4, 360, 640)
    pil, batched = resize_frames(frames, size, "pil"), resize_frames(frames, size, "torch")
    assert (pil - batched).abs().max() <= 2 and (pil - batched).abs().mean() < 0.5


def test_inputs_may_be_torch_tensors_and_bad_inputs_are_rejected():
    frames = smooth_frames(2, 48, 64)
    assert torch.equal(preprocess_videochat2(torch.from_numpy(frames), size=32), preprocess_videochat2(frames, size=32))
    with pytest.raises(ValueError, match="uint8"):
        preprocess_video_llama(frames.astype(np.float32))
    with pytest.raises(ValueError, match=r"\[T, H, W, 3\]"):
        preprocess_video_llama(frames[0])
    with pytest.raises(ValueError, match="resampler"):
        preprocess_video_llama(frames, resampler="cv2")
