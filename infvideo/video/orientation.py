"""How a stream's stored pictures are meant to be shown: the display matrix phones write for
portrait or upside-down recordings (and front cameras for mirrored ones).

Every backend returns frames as displayed (``apply_rotation=True``, the default) or as stored
(``False``), so the same settings give the same frames whichever backend is installed, and the
metadata's width and height are those of the frames returned. Only quarter turns and mirrors are
applied (an exact reordering of pixels); a matrix with any other angle is snapped to the nearest
quarter turn, as decord does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Orientation:
    """A signed permutation taking stored pixel coordinates (x right, y down) to displayed ones:
    ``x' = xx·x + xy·y``, ``y' = yx·x + yy·y`` (translation aside). Identity = shown as stored."""

    xx: int = 1
    xy: int = 0
    yx: int = 0
    yy: int = 1

    @classmethod
    def from_display_matrix(cls, matrix: Sequence[int] | None) -> Orientation:
        """Read FFmpeg's 3×3 display matrix (row-major int32, 16.16 fixed point in the 2×2 part;
        FFmpeg defines ``x' = m[0]·x + m[3]·y``, ``y' = m[1]·x + m[4]·y``). None = identity."""
        if matrix is None:
            return cls()
        m = [float(v) / 65536.0 for v in matrix]
        columns = (math.hypot(m[0], m[3]), math.hypot(m[1], m[4]))
        if min(columns) == 0:
            return cls()  # degenerate: no usable orientation
        a, c, b, d = m[0] / columns[0], m[3] / columns[0], m[1] / columns[1], m[4] / columns[1]
        snapped = [round(v) for v in (a, c, b, d)]
        exact = all(abs(v - s) < 1e-3 for v, s in zip((a, c, b, d), snapped))
        xx, xy, yx, yy = snapped
        if exact and abs(xx) + abs(xy) == 1 and abs(yx) + abs(yy) == 1 and abs(xx) != abs(yx):
            return cls(xx, xy, yx, yy)
        return cls.quarter_turns(decord_quarter_turns(matrix))

    @classmethod
    def quarter_turns(cls, turns: int) -> Orientation:
        """``turns`` quarter turns counter-clockwise on screen."""
        cos, sin = [(1, 0), (0, 1), (-1, 0), (0, -1)][turns % 4]
        return cls(cos, sin, -sin, cos)

    @property
    def swaps_axes(self) -> bool:
        return self.xx == 0

    def displayed_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of a stored ``width``×``height`` picture once oriented."""
        return (height, width) if self.swaps_axes else (width, height)

    def inverse(self) -> Orientation:
        return Orientation(self.xx, self.yx, self.xy, self.yy)  # a signed permutation's inverse is its transpose

    def then(self, other: Orientation) -> Orientation:
        """This orientation followed by ``other``."""
        first = np.array([[self.xx, self.xy], [self.yx, self.yy]])
        second = np.array([[other.xx, other.xy], [other.yx, other.yy]])
        (xx, xy), (yx, yy) = (second @ first).tolist()
        return Orientation(xx, xy, yx, yy)

    def apply(self, pictures: np.ndarray) -> np.ndarray:
        """Orient ``pictures`` [..., H, W, C] (one frame or a batch); a view when possible."""
        if self == Orientation():
            return pictures
        rows, columns = pictures.ndim - 3, pictures.ndim - 2
        if self.swaps_axes:
            # out[y', x'] = in[y, x] with y' = yx·x, x' = xy·y: rows come from x, columns from y
            out = np.swapaxes(pictures, rows, columns)
            flips = [axis for axis, sign in ((rows, self.yx), (columns, self.xy)) if sign < 0]
        else:
            out = pictures
            flips = [axis for axis, sign in ((rows, self.yy), (columns, self.xx)) if sign < 0]
        return np.flip(out, axis=flips) if flips else out


def decord_quarter_turns(matrix: Sequence[int] | None) -> int:
    """The quarter turns decord 0.6 applies for this matrix: FFmpeg's rotation angle
    (``av_display_rotation_get``) rounded to a multiple of 90°; decord ignores any mirror."""
    if matrix is None:
        return 0
    m = [float(v) / 65536.0 for v in matrix]
    columns = (math.hypot(m[0], m[3]), math.hypot(m[1], m[4]))
    if min(columns) == 0:
        return 0
    degrees = -math.degrees(math.atan2(m[1] / columns[1], m[0] / columns[0]))
    return round(degrees / 90) % 4


def display_matrix_of(frame) -> tuple[int, ...] | None:
    """The display matrix a decoded PyAV frame carries (decoders copy the stream's onto every frame)."""
    for side_data in frame.side_data:
        if "DISPLAYMATRIX" in str(side_data.type).upper():
            values = np.frombuffer(bytes(side_data), dtype=np.int32)
            return tuple(int(v) for v in values[:9]) if values.size >= 9 else None
    return None
