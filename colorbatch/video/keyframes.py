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

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from colorbatch.batch.steering import image_files, video_keyframe_folder
from colorbatch.color import rgb_to_chroma, to_float
from colorbatch.errors import HintError, ImageError
from colorbatch.files.imaging import DEFAULT_MAX_PIXELS, peek_size, read_rgb
from colorbatch.hints import check_aspect, has_colour, reference_from_rgb
from colorbatch.video.temporal import is_cut, luma_histogram

HISTOGRAM_STEP = 4  # cut detection looks at every 4th pixel of every 4th row
FRAME_NUMBER = re.compile(r"[0-9]+")  # ASCII digits only: '²' or '٣' is no frame number


@dataclass
class Key:
    """A keyframe read for its frame: chroma ``(H, W, 2)`` at the frame's size, and its reference."""

    chroma: np.ndarray
    reference: np.ndarray
    colourless: bool = False  # the keyframe has no colour in it (a gray frame saved as a keyframe)


def sequence_keyframes(root: Path, relative: Path, frame_sources: list[Path]) -> dict[int, Path]:
    """Keyframes for a ``--sequence`` clip (its frame files in order), by index in that order.
    ``HintError`` names a keyframe that matches no frame."""
    index = {source.stem: i for i, source in enumerate(frame_sources)}
    found = {}
    for path in image_files(root / relative):
        if path.stem not in index:
            raise HintError(f"{path}: keyframe matches no frame of {relative} (named as a frame file, any extension)")
        found[index[path.stem]] = path
    return found


def video_keyframes(root: Path, relative: Path, single: bool) -> dict[int, Path]:
    """Keyframes for a video, by 0-based frame number: in ``root/<relative without extension>/``, or
    in ``root`` for a one-file run. ``HintError`` names a file that is not named by a frame number."""
    found = {}
    for path in image_files(video_keyframe_folder(root, relative, single)):
        if not FRAME_NUMBER.fullmatch(path.stem):
            raise HintError(f"{path}: not a frame name; a video's keyframe is named by its 0-based frame number in "
                            "ASCII digits (000120.png)")
        found[int(path.stem)] = path
    return found


def read_key(path: Path, shape: tuple[int, int], max_pixels: int = DEFAULT_MAX_PIXELS) -> Key:
    """The keyframe at ``path`` for a frame of ``shape`` (height, width); its size and aspect
    ratio are checked from the header before it is decoded."""
    height, width = shape
    declared = peek_size(path)
    if declared is not None:
        check_aspect(declared, (width, height), path, "keyframe", "frame")
    try:
        rgb = read_rgb(path, max_pixels)
    except ImageError as exc:
        raise HintError(f"{path}: keyframe cannot be read ({exc})") from None
    check_aspect((rgb.shape[1], rgb.shape[0]), (width, height), path, "keyframe", "frame")
    if rgb.shape[:2] != shape:
        rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC))
    colour = to_float(rgb)
    chroma = rgb_to_chroma(colour)
    return Key(chroma, reference_from_rgb(colour[::2, ::2]), not has_colour(chroma))


def colourless_warning(path: Path) -> str:
    return f"{path}: the keyframe has no colour; its shot takes gray colours"


class KeyframeTrack:
    """Follows a clip frame by frame: which keyframe's shot each frame is in."""

    def __init__(self, keys: dict[int, Path], max_pixels: int = DEFAULT_MAX_PIXELS,
                 reference: np.ndarray | None = None) -> None:
        self.keys = keys
        self.max_pixels = max_pixels
        self.run_reference = reference  # --reference: the palette of frames before any keyframe's shot
        self.warnings: dict[str, None] = {}
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
            key = read_key(self.keys[index], luma.shape, self.max_pixels)
            if key.colourless:
                self.warnings[colourless_warning(self.keys[index])] = None
            self.used.add(index)
            self.reference = key.reference
        return key, self.reference if self.reference is not None else self.run_reference

    def check_all_used(self) -> None:
        """``HintError`` for a keyframe numbered past the clip's last frame."""
        unused = sorted(set(self.keys) - self.used)
        if unused:
            raise HintError(f"{self.keys[unused[0]]}: keyframe matches no frame (the clip has fewer frames)")
