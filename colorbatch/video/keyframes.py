"""Keyframes: colour frames that set the colour of their shot (videos and ``--sequence`` clips).

A keyframe is a colour image named as the frame it stands for: for ``--sequence``, the frame file's
own name in a folder mirroring INPUT (``keys/shot1/frame_0120.png`` for ``in/shot1/frame_0120.jpg``,
any image extension); for a video, its 0-based frame number (``000120.png``) in
``KEYS/<the video's path under INPUT, without extension>/``, or in ``KEYS`` itself when INPUT is the
video. At its frame the output takes the keyframe's chroma on the frame's own luminance; the
temporal state (``temporal.Stabiliser``) carries that colour along the motion, and every frame up
to the next shot cut gets the keyframe's colour distribution as its reference, so what the
keyframe did not show takes the model's colours in the keyframe's palette. A keyframe's colour
reaches the frames after it, not those before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from colorbatch.color import rgb_to_chroma, to_float
from colorbatch.discover import is_image_path
from colorbatch.errors import HintError, ImageError
from colorbatch.hints import ASPECT_TOLERANCE, reference_from_rgb
from colorbatch.imaging import read_rgb
from colorbatch.video.temporal import is_cut, luma_histogram

HISTOGRAM_STEP = 4  # cut detection looks at every 4th pixel of every 4th row


@dataclass
class Key:
    """A keyframe read for its frame: chroma ``(H, W, 2)`` at the frame's size, and its reference."""

    chroma: np.ndarray
    reference: np.ndarray


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))


def sequence_keyframes(root: Path, relative: Path, frame_sources: list[Path]) -> dict[int, Path]:
    """Keyframes for a ``--sequence`` clip (its frame files in order), by index in that order.
    ``HintError`` names a keyframe that matches no frame."""
    index = {source.stem: i for i, source in enumerate(frame_sources)}
    found = {}
    for path in _image_files(root / relative):
        if path.stem not in index:
            raise HintError(f"{path}: keyframe matches no frame of {relative} (named as a frame file, any extension)")
        found[index[path.stem]] = path
    return found


def video_keyframes(root: Path, relative: Path, single: bool) -> dict[int, Path]:
    """Keyframes for a video, by 0-based frame number: in ``root/<relative without extension>/``, or
    in ``root`` for a one-file run. ``HintError`` names a file that is not named by a frame number."""
    folder = root / relative.with_suffix("")
    if single and not folder.is_dir():
        folder = root
    found = {}
    for path in _image_files(folder):
        if not path.stem.isdigit():
            raise HintError(f"{path}: a video's keyframe is named by its 0-based frame number (000120.png)")
        found[int(path.stem)] = path
    return found


def read_key(path: Path, shape: tuple[int, int]) -> Key:
    """The keyframe at ``path`` for a frame of ``shape`` (height, width)."""
    try:
        rgb = read_rgb(path)
    except ImageError as exc:
        raise HintError(f"{path}: keyframe cannot be read ({exc})") from None
    height, width = shape
    if abs(rgb.shape[1] / rgb.shape[0] - width / height) > ASPECT_TOLERANCE * (width / height):
        raise HintError(f"{path}: keyframe is {rgb.shape[1]}x{rgb.shape[0]}, another aspect ratio than its frame "
                        f"({width}x{height})")
    if rgb.shape[:2] != shape:
        rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC))
    colour = to_float(rgb)
    return Key(rgb_to_chroma(colour), reference_from_rgb(colour[::2, ::2]))


class KeyframeTrack:
    """Follows a clip frame by frame: which keyframe's shot each frame is in."""

    def __init__(self, keys: dict[int, Path]) -> None:
        self.keys = keys
        self.used: set[int] = set()
        self.reference: np.ndarray | None = None
        self.histogram: np.ndarray | None = None

    def frame(self, index: int, luma: np.ndarray) -> tuple[Key | None, np.ndarray | None]:
        """The keyframe of frame ``index`` (or None) and the reference it runs with (or None)."""
        gray = np.clip(luma[::HISTOGRAM_STEP, ::HISTOGRAM_STEP] * 255 + 0.5, 0, 255).astype(np.uint8)
        histogram = luma_histogram(gray)
        if self.histogram is not None and is_cut(self.histogram, histogram):
            self.reference = None  # a cut ends the keyframe's shot
        self.histogram = histogram
        key = None
        if index in self.keys:
            key = read_key(self.keys[index], luma.shape)
            self.used.add(index)
            self.reference = key.reference
        return key, self.reference

    def check_all_used(self) -> None:
        """``HintError`` for a keyframe numbered past the clip's last frame."""
        unused = sorted(set(self.keys) - self.used)
        if unused:
            raise HintError(f"{self.keys[unused[0]]}: keyframe matches no frame (the clip has fewer frames)")
