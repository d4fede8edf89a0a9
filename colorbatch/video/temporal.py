"""Temporal consistency: colour that stays put from frame to frame of a clip.

The model colours each frame on its own, and small changes of a frame (noise, grain, a shift of
a pixel) change its guess, so the colour flickers. ``Stabiliser`` keeps, at a reduced size, the
chroma it gave the previous frame; for each new frame it computes dense optical flow on the
luminance (DIS) both ways, brings the previous chroma along the motion onto the new frame, and
where the forward-backward check says the motion is reliable it blends that with the new
prediction (``carry`` of the old, the rest new: an average along each point's trajectory, over
about 1 / (1 - carry) frames); where it is not (occlusions, things appearing) the old colour
counts half as much, so new things take their own colour within a few frames without
flickering. A shot cut (a jump in the luminance histogram, or too little reliable motion)
starts again from the prediction. It holds one frame's state, so a clip of any length runs in bounded memory.
"""

from __future__ import annotations

import numpy as np

from colorbatch.video.flow import DisFlow, opencv, reliable, warp

STATE_SHORT_SIDE = 240  # the state's resolution: chroma is smooth, and flow at this size is a few ms
CARRY = 0.95  # measured with benchmarks/temporal.py; see the README's "Video and film"
KEYFRAME_CARRY = 0.99  # after a keyframe, until the next cut: its colours stay on what they were given to
CUT_DISTANCE = 0.3  # total variation between luminance histograms that marks a shot cut
UNRELIABLE_SHARE = 0.5  # of ``carry`` kept where the motion failed the check (measured, README)
MIN_RELIABLE = 0.2  # a frame with less reliable motion than this is treated as a cut
HISTOGRAM_BINS = 32


def state_shape(height: int, width: int) -> tuple[int, int]:
    scale = min(1.0, STATE_SHORT_SIDE / min(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def luma_histogram(gray: np.ndarray) -> np.ndarray:
    counts = np.bincount(gray.ravel() // (256 // HISTOGRAM_BINS), minlength=HISTOGRAM_BINS)
    return counts / counts.sum()


def is_cut(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether two frames' ``luma_histogram``s are a shot cut apart."""
    return 0.5 * np.abs(after - before).sum() > CUT_DISTANCE


class Stabiliser:
    """One clip's temporal state; ``step`` each frame in order. ``carry`` 0 is per-frame colour."""

    def __init__(self, carry: float = CARRY, keyframe_carry: float = KEYFRAME_CARRY) -> None:
        self.base_carry = self.carry = carry
        self.keyframe_carry = max(carry, keyframe_carry) if carry > 0 else 0.0
        self.flow = DisFlow("fast")
        self.cv2 = opencv()
        self.gray: np.ndarray | None = None
        self.histogram: np.ndarray | None = None
        self.chroma: np.ndarray | None = None
        self.cuts = 0  # shot cuts seen (the first frame not counted)

    def _small(self, plane: np.ndarray, shape: tuple[int, int], interpolation: int) -> np.ndarray:
        if plane.shape[:2] == shape:
            return np.ascontiguousarray(plane, dtype=np.float32)
        return self.cv2.resize(np.ascontiguousarray(plane, dtype=np.float32), (shape[1], shape[0]),
                               interpolation=interpolation)

    def _gray(self, luma: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """8-bit luminance at the state's size: what DIS flow and the cut test see."""
        return np.clip(self._small(luma, shape, self.cv2.INTER_AREA) * 255 + 0.5, 0, 255).astype(np.uint8)

    def step(self, luma: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        """The frame's luminance (H, W) in [0, 1] and the model's chroma for it (h, w, 2) ->
        the chroma to lay onto it, (h', w', 2) at the state's size."""
        shape = state_shape(*luma.shape)
        gray = self._gray(luma, shape)
        predicted = self._small(chroma, shape, self.cv2.INTER_LINEAR)
        histogram = luma_histogram(gray)
        blended = predicted
        if self.chroma is not None and self.carry > 0 and self.gray.shape == gray.shape:
            if is_cut(self.histogram, histogram):
                self._cut()
            else:
                blended = self._blend(gray, predicted)
        self.gray, self.histogram, self.chroma = gray, histogram, blended
        return blended

    def _blend(self, gray: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        backward = self.flow(gray, self.gray)
        forward = self.flow(self.gray, gray)
        trusted = reliable(backward, forward)
        if trusted.mean() < MIN_RELIABLE:
            self._cut()
            return predicted
        trust = self.cv2.blur(trusted.astype(np.float32), (5, 5))
        weight = self.carry * (UNRELIABLE_SHARE + (1.0 - UNRELIABLE_SHARE) * trust)
        carried = warp(self.chroma, backward)
        return predicted + weight[..., None] * (carried - predicted)

    def _cut(self) -> None:
        self.cuts += 1
        self.carry = self.base_carry  # a keyframe's hold ends with its shot

    def seed(self, luma: np.ndarray, chroma: np.ndarray, keyframe: bool = False) -> None:
        """Start from a frame already coloured (a resumed sequence, or a ``keyframe``, whose colour is
        then carried with ``keyframe_carry`` until the next cut): its luminance and chroma."""
        self.carry = self.keyframe_carry if keyframe else self.base_carry
        shape = state_shape(*luma.shape)
        self.gray = self._gray(luma, shape)
        self.histogram = luma_histogram(self.gray)
        self.chroma = self._small(chroma, shape, self.cv2.INTER_AREA)
