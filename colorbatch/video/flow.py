"""Dense optical flow between two frames (OpenCV's DIS, the ``video`` extra), the
forward-backward check that says where it can be trusted, and warping along it. Shared by the
temporal consistency of ``colorbatch run`` and by the temporal metrics.
"""

from __future__ import annotations

import functools

import numpy as np

from colorbatch.errors import VideoError

# Sundaram et al. (2010)'s consistency test, as Lai et al. (2018) and Ruder et al. use it: a pixel
# is reliable when going forward then backward lands within this of where it started.
FB_ALPHA = 0.01
FB_BETA = 0.5  # pixels squared


def opencv():
    try:
        import cv2
    except ImportError:
        raise VideoError('optical flow needs OpenCV: pip install "colorbatch[video]"') from None
    return cv2


class DisFlow:
    """DIS optical flow on 8-bit gray frames; ``preset`` trades accuracy for speed."""

    def __init__(self, preset: str = "fast") -> None:
        cv2 = opencv()
        presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                   "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
        self.dis = cv2.DISOpticalFlow_create(presets[preset])

    def __call__(self, frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """For each pixel of ``frame``, the (dx, dy) to where it is in ``reference``: float32 (H, W, 2)."""
        return self.dis.calc(np.ascontiguousarray(frame), np.ascontiguousarray(reference), None)


@functools.lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> np.ndarray:
    """Each pixel's own (x, y), float32 (H, W, 2): a flow plus this is where to sample."""
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return np.stack([grid_x, grid_y], axis=-1)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` (of the reference frame) resampled at ``pixel + flow``: the reference brought
    onto the frame the flow was computed for. Bilinear; borders repeat."""
    cv2 = opencv()
    where = flow + _pixel_grid(*flow.shape[:2])
    return cv2.remap(image, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliable(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Where ``backward`` (frame -> reference) is consistent with ``forward`` (reference ->
    frame): bool (H, W). Occluded and badly matched pixels fail the round trip."""
    returned = warp(forward, backward)
    bx, by, rx, ry = backward[..., 0], backward[..., 1], returned[..., 0], returned[..., 1]
    error = np.square(bx + rx) + np.square(by + ry)
    magnitude = np.square(bx) + np.square(by) + np.square(rx) + np.square(ry)
    return error <= FB_ALPHA * magnitude + FB_BETA
